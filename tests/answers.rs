//! Any answer at all, through both operations: a seeded stream of statuses and bodies, most of
//! the bodies near misses of the seeds' meeting (a value of the wrong type, a property nobody
//! knows, a body cut short or with a byte changed, nesting deeper than any decoder goes, an
//! error body of the wrong shape). What the caller gets must follow from the answer alone:
//!
//! - a meeting only from a 200 or 201 (create: 201) whose body decodes, and then exactly that
//!   meeting, that body as `raw`, and created or existing as the status says;
//! - after any other 2xx, or a 201 whose body cannot be used, create says the outcome is
//!   unknown (a meeting may exist), never an error a caller would repeat; so does every status
//!   the service may have acted on;
//! - every error keeps the answer's status, its `request-id` and the `client-request-id` sent;
//! - one request per call, and no panic.

mod support;

use std::sync::{Arc, Mutex};

use graph_meetings::{types, AuthError, Client, Error, Outcome, RetryPolicy, User};
use serde_json::{json, Map, Value};
use support::{Act, Script};

/// Cases per operation. Each is one loopback round trip.
const CASES: usize = 600;

const SEED: &str = include_str!("fixtures/seed_create_or_get_response.json");

/// Statuses a client can meet: Graph's own, a proxy's, and some no one should send.
const STATUSES: [u16; 30] = [
    200, 201, 200, 201, 200, 201, 202, 203, 204, 206, 301, 302, 307, 400, 401, 403, 404, 408, 409,
    413, 429, 500, 501, 502, 503, 504, 505, 507, 599, 600,
];

/// One answer.
#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    body: String,
    /// `Retry-After`, readable (seconds) or not.
    retry_after: Option<String>,
    request_id: String,
}

impl Answer {
    fn readable_retry_after(&self) -> bool {
        self.retry_after
            .as_deref()
            .is_some_and(|v| v.parse::<u64>().is_ok())
    }

    /// The case, for a failure's message: the body's start only, as some are megabytes.
    fn describe(&self, i: usize) -> String {
        let start: String = self.body.chars().take(160).collect();
        format!(
            "case {i}: HTTP {} ({} bytes) {start:?}",
            self.status,
            self.body.len()
        )
    }

    /// The meeting in the body, as the crate's own types read it.
    fn meeting(&self) -> Option<types::OnlineMeeting> {
        serde_json::from_str(&self.body).ok()
    }
}

fn answers(seed: u64) -> Vec<Answer> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let meeting: Value = serde_json::from_str(SEED).expect("the seeds' meeting is JSON");
    (0..CASES)
        .map(|i| Answer {
            status: STATUSES[rng.usize(..STATUSES.len())],
            body: body(&mut rng, &meeting),
            retry_after: match rng.u8(..4) {
                0 => Some(rng.u8(..3).to_string()),
                1 => Some("soon".into()),
                _ => None,
            },
            request_id: format!("rid-{i}-{:x}", rng.u64(..)),
        })
        .collect()
}

fn body(rng: &mut fastrand::Rng, meeting: &Value) -> String {
    // ASCII (checked below), so it can be cut and changed at any byte.
    let text = meeting.to_string();
    match rng.u8(..10) {
        0 => text,
        1 | 2 => {
            // A value somewhere replaced by one of any type.
            let mut changed = meeting.clone();
            let replacement = value(rng, 3);
            *pick(rng, &mut changed) = replacement;
            changed.to_string()
        }
        3 => {
            // A property no version of the spec has, on some object.
            let mut changed = meeting.clone();
            let key = format!("new{}", rng.u16(..));
            let extra = value(rng, 3);
            if let Value::Object(map) = pick_object(rng, &mut changed) {
                map.insert(key, extra);
            }
            changed.to_string()
        }
        4 => text[..rng.usize(..text.len())].to_owned(),
        5 => {
            let mut bytes = text.into_bytes();
            let at = rng.usize(..bytes.len());
            bytes[at] = rng.u8(0x20..0x7f);
            String::from_utf8(bytes).expect("ASCII in ASCII")
        }
        6 => {
            let depth = [64, 127, 128, 129, 1_000, 100_000][rng.usize(..6)];
            let (open, close) = if rng.bool() {
                ("[", "]")
            } else {
                ("{\"a\":", "}")
            };
            format!(
                "{{\"id\":\"x\",\"extra\":{}1{}}}",
                open.repeat(depth),
                close.repeat(depth)
            )
        }
        7 => {
            // Graph's error shape, its text sometimes out to forge a log line or recolour a
            // terminal, sometimes not text at all.
            let hostile = [
                "line one\nforged: line two",
                "\u{1b}[31mred\u{1b}[0m",
                "tab\there\r",
            ];
            let mut text = || match rng.bool() {
                true => Value::from(hostile[rng.usize(..hostile.len())]),
                false => value(rng, 1),
            };
            let mut error = json!({"error": {"code": text(), "message": text()}});
            if rng.bool() {
                error["error"]["innerError"] =
                    json!({"date": value(rng, 1), "request-id": value(rng, 1)});
            }
            error.to_string()
        }
        8 => [
            "",
            "null",
            "[]",
            "{}",
            "\"meeting\"",
            "17",
            "<html>busy</html>",
            "{",
        ][rng.usize(..8)]
        .to_owned(),
        _ => value(rng, 4).to_string(),
    }
}

/// Any JSON value, nested up to `depth`.
fn value(rng: &mut fastrand::Rng, depth: u32) -> Value {
    match rng.u8(..if depth == 0 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.bool()),
        2 => json!(rng.i64(..)),
        3 => json!([1e308, -0.0, 0.5, 1e-300][rng.usize(..4)]),
        4 => {
            let samples = [
                "",
                "x",
                "é\u{202e}\u{0}\n",
                "2020-02-06T01:49:21Z",
                "presenter",
                "\\u",
            ];
            Value::String(samples[rng.usize(..samples.len())].into())
        }
        5 => Value::String("y".repeat(rng.usize(..20_000))),
        6 => Value::Array((0..rng.usize(..4)).map(|_| value(rng, depth - 1)).collect()),
        _ => Value::Object(
            (0..rng.usize(..4))
                .map(|i| (format!("k{i}"), value(rng, depth - 1)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// Some value inside `root` (possibly `root` itself).
fn pick<'v>(rng: &mut fastrand::Rng, root: &'v mut Value) -> &'v mut Value {
    let mut at = root;
    loop {
        let len = match &*at {
            Value::Object(map) => map.len(),
            Value::Array(items) => items.len(),
            _ => 0,
        };
        if len == 0 || rng.u8(..4) == 0 {
            return at;
        }
        let i = rng.usize(..len);
        at = match at {
            Value::Object(map) => map.values_mut().nth(i).expect("in range"),
            Value::Array(items) => &mut items[i],
            _ => unreachable!("only containers have a length"),
        };
    }
}

/// Some object inside `root` (the root, when the walk ends elsewhere).
fn pick_object<'v>(rng: &mut fastrand::Rng, root: &'v mut Value) -> &'v mut Value {
    let path = {
        // Find a path first: a borrow that may end on a non-object cannot be handed back.
        let mut path = Vec::new();
        let mut at = &*root;
        while let Some(next) = match at {
            Value::Object(map) if !map.is_empty() && rng.bool() => {
                let i = rng.usize(..map.len());
                map.values()
                    .nth(i)
                    .filter(|v| v.is_object())
                    .map(|v| (i, v))
            }
            _ => None,
        } {
            path.push(next.0);
            at = next.1;
        }
        path
    };
    path.into_iter().fold(root, |at, i| {
        at.as_object_mut()
            .and_then(|map| map.values_mut().nth(i))
            .expect("the path was found in this value")
    })
}

/// A loopback server answering each request with the current answer, echoing the request's
/// `client-request-id` as Graph does.
async fn server() -> (Script, Arc<Mutex<Option<Answer>>>) {
    let current: Arc<Mutex<Option<Answer>>> = Arc::default();
    let answer = current.clone();
    let script = Script::start(move |seen| {
        let a = answer.lock().unwrap().clone().expect("an answer is set");
        let mut headers = vec![("request-id", a.request_id)];
        if let Some(echo) = seen.header("client-request-id") {
            headers.push(("client-request-id", echo.to_owned()));
        }
        if let Some(retry_after) = a.retry_after {
            headers.push(("retry-after", retry_after));
        }
        Act::Respond(a.status, headers, a.body)
    })
    .await;
    (script, current)
}

fn client(server: &Script) -> Client {
    Client::builder()
        .base_url(&server.url)
        .static_token("t")
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// What every error that had an answer keeps of it.
fn assert_keeps_the_answer(err: &Error, answer: &Answer, sent: Option<&str>, case: &str) {
    assert_eq!(err.status(), Some(answer.status), "{case}: {err:?}");
    assert_eq!(
        err.request_id(),
        Some(answer.request_id.as_str()),
        "{case}: {err:?}"
    );
    assert_eq!(err.client_request_id(), sent, "{case}: {err:?}");
    assert_eq!(err.attempts(), Some(1), "{case}: {err:?}");
    // Messages are for people and logs: one line, and nothing a terminal would act on,
    // whatever the body held.
    assert!(
        !err.to_string().chars().any(char::is_control),
        "{case}: {err}"
    );
}

#[tokio::test]
async fn create_or_get_gives_a_meeting_only_from_a_200_or_201_that_decodes() {
    let (server, current) = server().await;
    let client = client(&server);
    for (i, answer) in answers(1).into_iter().enumerate() {
        *current.lock().unwrap() = Some(answer.clone());
        let case = answer.describe(i);
        let result = client
            .create_or_get(
                &User::Me,
                types::CreateOrGetRequest {
                    external_id: format!("e{i}"),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(server.count(), i + 1, "{case}: one request per call");
        let sent = server.seen()[i]
            .header("client-request-id")
            .map(str::to_owned);
        let decoded = answer.meeting();
        match (answer.status, result) {
            (200 | 201, Ok(got)) => {
                let expected = decoded.unwrap_or_else(|| {
                    panic!("{case}: a meeting from a body that does not decode")
                });
                assert_eq!(*got.meeting, expected, "{case}");
                assert_eq!(got.raw, answer.body.as_bytes(), "{case}");
                let outcome = if answer.status == 201 {
                    Outcome::Created
                } else {
                    Outcome::Existing
                };
                assert_eq!(got.outcome, outcome, "{case}");
                assert_eq!(
                    got.request_id.as_deref(),
                    Some(answer.request_id.as_str()),
                    "{case}"
                );
                assert_eq!(
                    Some(got.client_request_id.as_str()),
                    sent.as_deref(),
                    "{case}"
                );
                assert_eq!(got.attempts, 1, "{case}");
            }
            (status, Ok(got)) => panic!("{case}: HTTP {status} gave a meeting: {got:?}"),
            (status, Err(err)) => {
                assert_keeps_the_answer(&err, &answer, sent.as_deref(), &case);
                match status {
                    200 | 201 => {
                        assert!(
                            decoded.is_none(),
                            "{case}: a decodable meeting was refused: {err:?}"
                        );
                        assert!(matches!(err, Error::Decode { .. }), "{case}: {err:?}");
                    }
                    401 => assert!(
                        matches!(err, Error::Authentication(AuthError::Rejected(_))),
                        "{case}: {err:?}"
                    ),
                    _ => assert!(matches!(err, Error::Graph(_)), "{case}: {err:?}"),
                }
            }
        }
    }
}

#[tokio::test]
async fn create_never_turns_an_answer_it_may_have_acted_on_into_a_plain_error() {
    let (server, current) = server().await;
    let client = client(&server);
    for (i, answer) in answers(2).into_iter().enumerate() {
        *current.lock().unwrap() = Some(answer.clone());
        let case = answer.describe(i);
        let result = client
            .create(
                &User::Me,
                types::OnlineMeeting {
                    subject: Some(format!("s{i}")),
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(server.count(), i + 1, "{case}: one request per call");
        let sent = server.seen()[i]
            .header("client-request-id")
            .map(str::to_owned);
        let decoded = answer.meeting();
        // Where the service may have made the meeting, as README's table states it: any 2xx
        // but a usable 201, 408, and every 5xx and beyond but 501, 505 and a 503 that says
        // when to come back.
        let may_have_acted = match answer.status {
            201 => decoded.is_none(),
            200..=299 | 408 => true,
            501 | 505 => false,
            503 => !answer.readable_retry_after(),
            500.. => true,
            _ => false,
        };
        match result {
            Ok(got) => {
                assert_eq!(answer.status, 201, "{case}: a meeting from another status");
                let expected = decoded.unwrap_or_else(|| {
                    panic!("{case}: a meeting from a body that does not decode")
                });
                assert_eq!(*got.meeting, expected, "{case}");
                assert_eq!(got.raw, answer.body.as_bytes(), "{case}");
                assert_eq!(
                    got.request_id.as_deref(),
                    Some(answer.request_id.as_str()),
                    "{case}"
                );
            }
            Err(err) => {
                assert_keeps_the_answer(&err, &answer, sent.as_deref(), &case);
                if may_have_acted {
                    assert!(
                        matches!(err, Error::OutcomeUnknown { .. }),
                        "{case}: {err:?}"
                    );
                } else if answer.status == 401 {
                    assert!(
                        matches!(err, Error::Authentication(AuthError::Rejected(_))),
                        "{case}: {err:?}"
                    );
                } else {
                    assert!(matches!(err, Error::Graph(_)), "{case}: {err:?}");
                }
            }
        }
    }
}

#[test]
fn the_stream_covers_what_it_is_meant_to() {
    // A generator that drifted into producing only junk (or only the seed) would leave the
    // checks above with nothing to check: each kind must be there, and in numbers.
    assert!(
        SEED.is_ascii(),
        "the cuts and byte changes above assume ASCII"
    );
    let all = answers(1);
    let ok = |s: u16| {
        all.iter()
            .filter(|a| a.status == s && a.meeting().is_some())
            .count()
    };
    let bad = |s: u16| {
        all.iter()
            .filter(|a| a.status == s && a.meeting().is_none())
            .count()
    };
    for status in [200, 201] {
        assert!(ok(status) >= 20, "{status} decodable: {}", ok(status));
        assert!(bad(status) >= 20, "{status} undecodable: {}", bad(status));
    }
    let seed = serde_json::from_str::<Value>(SEED).unwrap().to_string();
    let changed_but_decodable = all
        .iter()
        .filter(|a| a.body != seed)
        .filter(|a| a.meeting().is_some())
        .count();
    assert!(changed_but_decodable >= 40, "{changed_but_decodable}");
}
