// What both JavaScript checks share: the emulator's URL (loopback only), assertions, a runner
// that prints one line per check, fault injection and the client-credentials grant.

// The emulator's conventions (src/emulator/directory.rs and tokens.rs): a bearer token that
// the token endpoint did not issue is a delegated token of this user.
export const DEMO_USER_ID = "6b1d4c8e-3a2f-4d7e-9c5b-8e2a1f0d3c4b";
export const DEMO_USER_UPN = "organizer@contoso.example";
export const HOUR_MS = 3600 * 1000;
export const RUN = Math.random().toString(16).slice(2, 10);

export function isLoopback(hostname) {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Throws before an SDK request (a URL string, URL or Request) could leave loopback. */
export function refuseUnlessLoopback(request) {
  const url = new URL(typeof request === "string" || request instanceof URL ? request : request.url);
  if (!isLoopback(url.hostname)) throw new Error(`refusing to send a request to ${url.hostname}`);
}

/** GRAPH_EMULATOR_URL without a trailing slash; exits unless it is http on loopback. */
export function emulatorRoot() {
  const root = (process.env.GRAPH_EMULATOR_URL ?? "").replace(/\/+$/, "");
  let ok = false;
  try {
    const url = new URL(root);
    ok = url.protocol === "http:" && isLoopback(url.hostname);
  } catch {
    ok = false;
  }
  if (!ok) {
    console.error(`GRAPH_EMULATOR_URL must be http://127.0.0.1:PORT (got ${JSON.stringify(root)})`);
    process.exit(2);
  }
  return root;
}

export class Failed extends Error {}

export function expect(condition, what) {
  if (!condition) throw new Failed(what);
}

export function equal(actual, expected, what) {
  if (actual !== expected) {
    throw new Failed(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/** Decodes a `data:text/html,` joinInformation content. */
export function joinHtml(content) {
  return decodeURIComponent(String(content).slice("data:text/html,".length).replace(/\+/g, " "));
}

/** Runs checks one by one, printing `ok   LABEL: name` or `FAIL LABEL: name: why`. */
export class Runner {
  constructor(label) {
    this.label = label;
    this.passed = 0;
    this.failed = 0;
  }

  async check(name, body) {
    let timer;
    try {
      await Promise.race([
        body(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Failed("timed out after 60 s")), 60_000);
        }),
      ]);
      this.passed += 1;
      console.log(`ok   ${this.label}: ${name}`);
    } catch (error) {
      this.failed += 1;
      const what = error instanceof Failed ? error.message : `${error?.constructor?.name ?? typeof error}: ${error?.message ?? JSON.stringify(error)}`;
      console.log(`FAIL ${this.label}: ${name}: ${what}`);
      if (!(error instanceof Failed)) console.error(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Prints the tally and exits: non-zero when a check failed or none ran. */
  finish() {
    console.log(`${this.label}: ${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed > 0 || this.passed === 0 ? 1 : 0);
  }
}

/** Queues a fault through the emulator's admin endpoint. */
export async function inject(root, fault) {
  const response = await fetch(`${root}/_emulator/faults`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(fault),
  });
  if (!response.ok) throw new Error(`fault injection: ${response.status} ${await response.text()}`);
}

/**
 * The client-credentials grant against the emulator's token endpoint (`/{tenant}/oauth2/v2.0/token`),
 * caching the token. @azure/identity and MSAL refuse an authority that is not https.
 */
export class EmulatorClientSecret {
  constructor(root, tenant, clientId, secret) {
    this.url = `${root}/${tenant}/oauth2/v2.0/token`;
    this.form = { grant_type: "client_credentials", client_id: clientId, client_secret: secret };
    this.requests = 0;
  }

  async token(scope = "https://graph.microsoft.com/.default") {
    if (this.cached) return this.cached;
    if (!isLoopback(new URL(this.url).hostname)) throw new Error("refusing a non-loopback token endpoint");
    this.requests += 1;
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...this.form, scope }),
    });
    if (!response.ok) throw new Error(`token endpoint: ${response.status} ${await response.text()}`);
    this.cached = (await response.json()).access_token;
    return this.cached;
  }
}
