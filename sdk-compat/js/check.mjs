// Microsoft Graph JavaScript client library (@microsoft/microsoft-graph-client) against the
// emulator whose root URL is in GRAPH_EMULATOR_URL (e.g. http://127.0.0.1:PORT).
//
// Every check asserts on what the SDK decoded (the parsed body, or its GraphError), prints one
// line, and the script exits non-zero when any check fails. Nothing is started here, and the
// middleware below refuses any request that is not for a loopback address before it is sent.
//
// The SDK's own AuthenticationHandler sends a token only to https Graph hosts (and https
// `customHosts`): to a plain-http emulator it sends none, so the client here is built with
// `Client.initWithMiddleware` and a bearer middleware of its own in front of the SDK's retry,
// redirect, telemetry and HTTP handlers. The first check shows the default behaviour.

import { createRequire } from "node:module";
import {
  AuthenticationHandlerOptions,
  Client,
  GraphError,
  HTTPMessageHandler,
  RedirectHandler,
  RetryHandler,
  TelemetryHandler,
} from "@microsoft/microsoft-graph-client";
import {
  DEMO_USER_ID,
  DEMO_USER_UPN,
  EmulatorClientSecret,
  Failed,
  HOUR_MS,
  RUN,
  Runner,
  emulatorRoot,
  equal,
  expect,
  inject,
  joinHtml,
  refuseUnlessLoopback,
} from "./common.mjs";

const require = createRequire(import.meta.url);
const sdkVersion = require("@microsoft/microsoft-graph-client/package.json").version;
const root = emulatorRoot();

/** Statuses of the responses the SDK received, in order. */
const wire = { statuses: [], last() { return this.statuses.at(-1); } };

/**
 * Stands in for the SDK's AuthenticationHandler on plain http: asks the authentication provider
 * for a token (or the one a request's AuthenticationHandlerOptions names) and sends it.
 */
class LoopbackBearerHandler {
  constructor(authenticationProvider) {
    this.authenticationProvider = authenticationProvider;
  }

  async execute(context) {
    const options = context.middlewareControl?.getMiddlewareOptions(AuthenticationHandlerOptions);
    const provider = options?.authenticationProvider ?? this.authenticationProvider;
    const token = await provider.getAccessToken(options?.authenticationProviderOptions);
    context.options ??= {};
    if (context.options.headers instanceof Headers) {
      context.options.headers.set("Authorization", `Bearer ${token}`);
    } else {
      context.options.headers = { ...(context.options.headers ?? {}), Authorization: `Bearer ${token}` };
    }
    await this.nextMiddleware.execute(context);
  }

  setNext(next) {
    this.nextMiddleware = next;
  }
}

/**
 * Just above the SDK's HTTPMessageHandler, so every attempt (retries and redirects too) passes:
 * refuses any request that is not for a loopback address, and records each status.
 */
class WireHandler {
  async execute(context) {
    refuseUnlessLoopback(context.request);
    await this.nextMiddleware.execute(context);
    wire.statuses.push(context.response?.status);
  }

  setNext(next) {
    this.nextMiddleware = next;
  }
}

/** Any bearer token the token endpoint did not issue is the demo user's delegated token. */
const delegated = { getAccessToken: async () => "any-delegated-token" };

/** An authentication provider (the SDK's interface) for an application token. */
class ClientSecretProvider {
  constructor(grant) {
    this.grant = grant;
  }

  getAccessToken() {
    return this.grant.token();
  }
}

function graphClient(authenticationProvider) {
  return Client.initWithMiddleware({
    baseUrl: `${root}/`,
    defaultVersion: "v1.0",
    middleware: [
      new LoopbackBearerHandler(authenticationProvider),
      new RetryHandler(),
      new RedirectHandler(),
      new TelemetryHandler(),
      new WireHandler(),
      new HTTPMessageHandler(),
    ],
  });
}

function instant(value, what) {
  expect(typeof value === "string", `${what} is a string`);
  expect(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value), `${what} is UTC ISO 8601: ${value}`);
  const ms = new Date(value).getTime();
  expect(Number.isFinite(ms), `${what} parses as a Date: ${value}`);
  return ms;
}

/** What every meeting the emulator returns must decode to. */
function checkMeeting(m, externalId) {
  expect(m !== null && typeof m === "object", "the body decoded as an object");
  expect(typeof m.id === "string" && m.id.length > 0, "id is set");
  expect(String(m["@odata.context"]).endsWith("/onlineMeetings/$entity"), "@odata.context names an onlineMeetings entity");
  instant(m.creationDateTime, "creationDateTime");
  const start = instant(m.startDateTime, "startDateTime");
  const end = instant(m.endDateTime, "endDateTime");
  expect(end >= start, "endDateTime is not before startDateTime");
  expect(typeof m.joinWebUrl === "string" && m.joinWebUrl.startsWith("https://"), "joinWebUrl is an https URL");
  equal(m.externalId, externalId, "externalId");
  expect(typeof m.joinMeetingIdSettings?.joinMeetingId === "string", "joinMeetingIdSettings.joinMeetingId");
  expect(typeof m.audioConferencing?.conferenceId === "string", "audioConferencing.conferenceId");
  expect(String(m.chatInfo?.threadId).startsWith("19:"), "chatInfo.threadId");
  equal(m.joinInformation?.contentType, "html", "joinInformation.contentType");
  expect(String(m.joinInformation?.content).startsWith("data:text/html,"), "joinInformation.content is a data URL");
  equal(m.participants?.organizer?.role, "presenter", "participants.organizer.role");
  return { start, end };
}

/** Runs `call`, which must fail with the SDK's GraphError, and returns the error. */
async function graphError(call) {
  let result;
  try {
    result = await call;
  } catch (error) {
    if (!(error instanceof GraphError)) throw error;
    equal(error.statusCode, wire.last(), "GraphError.statusCode vs the status on the wire");
    expect(typeof error.code === "string" && error.code.length > 0, "GraphError.code is decoded");
    expect(typeof error.requestId === "string", "GraphError.requestId is decoded from innerError");
    equal(error.requestId, error.headers?.get("request-id"), "GraphError.requestId vs the request-id header");
    expect(error.date instanceof Date && Number.isFinite(error.date.getTime()), "GraphError.date is a valid Date");
    const body = JSON.parse(error.body);
    equal(body.code, error.code, "GraphError.body.code");
    return error;
  }
  throw new Failed(`expected a GraphError, got a result: ${JSON.stringify(result).slice(0, 80)}`);
}

const run = new Runner("js");
const check = run.check.bind(run);

console.log(`js SDK: @microsoft/microsoft-graph-client ${sdkVersion}; Node ${process.version}`);

const graph = graphClient(delegated);
const grant = new EmulatorClientSecret(root, "contoso.example", "sdk-check-app", "any-secret");
const app = new ClientSecretProvider(grant);
const appGraph = graphClient(app);

await check("Client.init (default middleware) sends no token to a plain-http host: 401 GraphError InvalidAuthenticationToken", async () => {
  const defaults = Client.init({
    authProvider: (done) => done(null, "any-delegated-token"),
    baseUrl: `${root}/`,
    defaultVersion: "v1.0",
    customHosts: new Set(["127.0.0.1"]),
  });
  let error;
  try {
    await defaults.api("/me/onlineMeetings/createOrGet").post({ externalId: `js-default-${RUN}` });
  } catch (e) {
    error = e;
  }
  expect(error instanceof GraphError, `a GraphError (got ${error?.constructor?.name})`);
  equal(error.statusCode, 401, "statusCode");
  equal(error.code, "InvalidAuthenticationToken", "code");
  equal(error.requestId, error.headers?.get("request-id"), "requestId vs the request-id header");
});

const v1External = `js-v1-${RUN}`;
const firstV1 = {};
const start = "2031-07-12T14:30:34.2444915-07:00";

await check("v1.0 POST /me/onlineMeetings/createOrGet: 201 Created", async () => {
  const m = await graph.api("/me/onlineMeetings/createOrGet").post({ externalId: v1External, subject: "SDK check", startDateTime: start });
  equal(wire.last(), 201, "status");
  const t = checkMeeting(m, v1External);
  equal(m.subject, "SDK check", "subject");
  equal(t.start, new Date(start).getTime(), "startDateTime (same instant as sent with -07:00, to the millisecond)");
  equal(m.startDateTime, "2031-07-12T21:30:34.2444915Z", "startDateTime in UTC with seven fractional digits");
  equal(t.end - t.start, HOUR_MS, "endDateTime - startDateTime (start only: one hour)");
  equal(m.participants.organizer.identity.user.id, DEMO_USER_ID, "organizer id (the delegated user)");
  equal(m.participants.organizer.upn, DEMO_USER_UPN, "organizer upn");
  Object.assign(firstV1, m);
});

await check("v1.0 POST /me/onlineMeetings/createOrGet again: 200 OK, same meeting", async () => {
  const m = await graph.api("/me/onlineMeetings/createOrGet").post({ externalId: v1External, subject: "SDK check", startDateTime: start });
  equal(wire.last(), 200, "status");
  checkMeeting(m, v1External);
  equal(m.id, firstV1.id, "id");
  equal(m.joinWebUrl, firstV1.joinWebUrl, "joinWebUrl");
});

const betaExternal = `js-beta-${RUN}`;
const thread = `19:jscheck${RUN}@thread.tacv2`;
const firstBeta = {};

await check("beta POST /me/onlineMeetings/createOrGet with chatInfo: 201 Created", async () => {
  const m = await graph.api("/me/onlineMeetings/createOrGet").version("beta").post({ externalId: betaExternal, chatInfo: { threadId: thread } });
  equal(wire.last(), 201, "status");
  const t = checkMeeting(m, betaExternal);
  equal(m.chatInfo.threadId, thread, "chatInfo.threadId");
  equal(t.end - t.start, HOUR_MS, "endDateTime - startDateTime (neither given: one hour)");
  expect(Math.abs(t.start - Date.now()) < 5 * 60 * 1000, "startDateTime defaults to now");
  equal(m.joinUrl, m.joinWebUrl, "joinUrl (beta) equals joinWebUrl");
  Object.assign(firstBeta, m);
});

await check("beta POST /me/onlineMeetings/createOrGet with chatInfo again: 200 OK, same meeting", async () => {
  const m = await graph.api("/me/onlineMeetings/createOrGet").version("beta").post({ externalId: betaExternal, chatInfo: { threadId: thread } });
  equal(wire.last(), 200, "status");
  checkMeeting(m, betaExternal);
  equal(m.id, firstBeta.id, "id");
  equal(m.chatInfo.threadId, thread, "chatInfo.threadId");
});

await check("v1.0 POST /me/onlineMeetings (create) with isPasscodeRequired and Accept-Language fr-FR: 201, passcode, French joinInformation", async () => {
  const m = await graph
    .api("/me/onlineMeetings")
    .header("Accept-Language", "fr-FR")
    .post({
      subject: "Passcode",
      startDateTime: "2031-01-02T09:00:00Z",
      endDateTime: "2031-01-02T09:45:00Z",
      joinMeetingIdSettings: { isPasscodeRequired: true },
      participants: { attendees: [{ upn: "ann@contoso.example" }] },
    });
  equal(wire.last(), 201, "status");
  const t = checkMeeting(m, null);
  equal(m.joinMeetingIdSettings.isPasscodeRequired, true, "joinMeetingIdSettings.isPasscodeRequired");
  expect(typeof m.joinMeetingIdSettings.passcode === "string" && m.joinMeetingIdSettings.passcode.length > 0, "joinMeetingIdSettings.passcode");
  equal(t.end - t.start, 45 * 60 * 1000, "duration");
  equal(m.participants.attendees.map((a) => a.upn).join(","), "ann@contoso.example", "participants.attendees[].upn");
  const html = joinHtml(m.joinInformation.content);
  expect(html.includes("Rejoindre la réunion Microsoft Teams"), `joinInformation in French: ${html.slice(0, 120)}`);
  expect(html.includes(m.joinMeetingIdSettings.passcode), "joinInformation shows the passcode");
});

const userExternal = `js-app-${RUN}`;

await check("v1.0 POST /users/{upn}/onlineMeetings/createOrGet with an application token from /{tenant}/oauth2/v2.0/token: 201 then 200", async () => {
  const path = `/users/${encodeURIComponent("alex@contoso.example")}/onlineMeetings/createOrGet`;
  const m1 = await appGraph.api(path).post({ externalId: userExternal });
  equal(wire.last(), 201, "first status");
  checkMeeting(m1, userExternal);
  const m2 = await appGraph.api(path).post({ externalId: userExternal });
  equal(wire.last(), 200, "second status");
  equal(m2.id, m1.id, "id");
  equal(m1.participants.organizer.upn, "alex@contoso.example", "organizer upn");
  equal(grant.requests, 1, "token requests");
});

await check("beta POST /users/{objectId}/onlineMeetings/createOrGet, application token per request (AuthenticationHandlerOptions): 201", async () => {
  const id = crypto.randomUUID();
  const m = await graph
    .api(`/users/${id}/onlineMeetings/createOrGet`)
    .version("beta")
    .middlewareOptions([new AuthenticationHandlerOptions(app)])
    .post({ externalId: userExternal });
  equal(wire.last(), 201, "status (a new user, so a new meeting)");
  checkMeeting(m, userExternal);
  equal(m.participants.organizer.identity.user.id, id, "organizer id");
});

await check("v1.0 /me with an application token: 400 GraphError", async () => {
  const error = await graphError(appGraph.api("/me/onlineMeetings/createOrGet").post({ externalId: userExternal }));
  equal(error.statusCode, 400, "statusCode");
  equal(error.code, "BadRequest", "code");
  expect(error.message.includes("delegated"), `message: ${error.message}`);
});

await check("v1.0 createOrGet throttled once (429, Retry-After: 1): the SDK's RetryHandler retries after 1 s, then 201", async () => {
  await inject(root, { fault: "throttle", retryAfterSeconds: 1, count: 1 });
  const before = wire.statuses.length;
  const started = Date.now();
  const externalId = `js-throttle-${RUN}`;
  const m = await graph.api("/me/onlineMeetings/createOrGet").post({ externalId });
  equal(wire.statuses.slice(before).join(","), "429,201", "statuses on the wire");
  expect(Date.now() - started >= 1000, "the retry waited for Retry-After");
  checkMeeting(m, externalId);
  const stats = await (await fetch(`${root}/_emulator/stats`)).json();
  equal(stats.pendingFaults, 0, "the throttle was consumed");
});

await check("v1.0 create with endDateTime and no startDateTime: 400 GraphError BadRequest", async () => {
  const error = await graphError(graph.api("/me/onlineMeetings").post({ endDateTime: "2031-01-01T00:00:00Z" }));
  equal(error.statusCode, 400, "statusCode");
  equal(error.code, "BadRequest", "code");
  equal(error.message, "endDateTime cannot be specified without startDateTime.", "message");
});

await check("beta createOrGet with endDateTime before startDateTime: 400 GraphError BadRequest", async () => {
  const error = await graphError(
    graph
      .api("/me/onlineMeetings/createOrGet")
      .version("beta")
      .post({ externalId: `js-rule-${RUN}`, startDateTime: "2031-01-01T10:00:00Z", endDateTime: "2031-01-01T09:00:00Z" }),
  );
  equal(error.statusCode, 400, "statusCode");
  equal(error.code, "BadRequest", "code");
  equal(error.message, "endDateTime cannot be earlier than startDateTime.", "message");
});

run.finish();
