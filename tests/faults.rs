//! Fault injection on loopback: which failures are retried for which operation, how long the
//! client waits, and that no fault ever turns one meeting into two.

mod support;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use graph_meetings::{types, Client, Error, Outcome, RetryPolicy, User};
use serde_json::json;
use support::{first_then, json, meeting, nth, Act, Script, Seen};

fn quick() -> RetryPolicy {
    RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(20))
}

fn client(server: &Script, policy: RetryPolicy) -> Client {
    Client::builder()
        .base_url(&server.url)
        .static_token("t")
        .retry(policy)
        .build()
        .unwrap()
}

/// A client with quick retries whose attempts time out after 2 s.
fn impatient(url: &str) -> Client {
    impatient_with(url, quick())
}

/// A client whose attempts time out after 2 s: long enough that a loaded machine's stall (a
/// starved test thread) is not what ends them, short enough to wait out in a test.
fn impatient_with(url: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .base_url(url)
        .static_token("t")
        .retry(retry)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

fn cog(id: &str) -> types::CreateOrGetRequest {
    types::CreateOrGetRequest {
        external_id: id.into(),
        ..Default::default()
    }
}

fn meeting_request() -> types::OnlineMeeting {
    types::OnlineMeeting {
        subject: Some("standup".into()),
        ..Default::default()
    }
}

/// create against `server`, which must end as an unknown outcome after exactly one request
/// (`case` names it in failures): the error, for what else a test checks of it.
async fn create_is_unknown_after_one_request(server: &Script, case: &str) -> Error {
    let err = client(server, quick())
        .create(&User::Me, meeting_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::OutcomeUnknown { attempts: 1, .. }),
        "{case}: {err:?}"
    );
    assert_eq!(server.count(), 1, "{case}");
    err
}

/// A stand-in that really stores meetings by externalId and can fail after storing.
#[derive(Clone, Default)]
struct Store(Arc<Mutex<HashMap<String, serde_json::Value>>>);

impl Store {
    /// createOrGet semantics; `fail_after_apply` answers the n-th request (0-based) with `fault`
    /// after the meeting was stored.
    fn answer(&self, seen: &Seen) -> (u16, serde_json::Value) {
        let id = seen.json()["externalId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut meetings = self.0.lock().unwrap();
        match meetings.get(&id) {
            Some(m) => (200, m.clone()),
            None => {
                let m = meeting(&id);
                meetings.insert(id, m.clone());
                (201, m)
            }
        }
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[tokio::test]
async fn throttled_with_retry_after_waits_that_long_then_succeeds() {
    let server = first_then(
        || {
            let body = json!({"error": {"code": "TooManyRequests"}}).to_string();
            Act::Respond(429, vec![("retry-after", "2".into())], body)
        },
        201,
    )
    .await;
    let answer = client(&server, quick())
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap();
    assert_eq!(answer.outcome, Outcome::Created);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(1990),
        "waited {gap:?}, asked for 2 s"
    );
    assert_eq!(seen[0].header("retry-attempt"), None);
    assert_eq!(seen[1].header("retry-attempt"), Some("1"));
    assert_eq!(
        seen[0].header("client-request-id"),
        seen[1].header("client-request-id")
    );
    assert_eq!(seen[0].body, seen[1].body, "the same body is replayed");
}

#[tokio::test]
async fn retry_after_as_a_date_uses_the_whole_duration() {
    // 90 s ahead: over a 60 s cap on one wait, so the client gives up at once and reports it.
    let when = (Utc::now() + chrono::Duration::seconds(90))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let server =
        Script::start(move |_| Act::Respond(429, vec![("retry-after", when.clone())], "{}".into()))
            .await;
    let policy = quick().with_limits(Duration::from_secs(60), Duration::from_secs(300));
    let err = client(&server, policy)
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap_err();
    let Error::Graph(g) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((g.status, g.attempts), (429, 1));
    let asked = g.retry_after.unwrap();
    assert!(
        asked > Duration::from_secs(85) && asked <= Duration::from_secs(90),
        "{asked:?}"
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn retry_after_in_the_past_or_garbage_still_retries() {
    for value in ["Wed, 21 Oct 2015 07:28:00 GMT", "in a bit", ""] {
        let v = value.to_string();
        let server = first_then(
            move || Act::Respond(503, vec![("retry-after", v.clone())], "{}".into()),
            200,
        )
        .await;
        let answer = client(&server, quick())
            .create_or_get(&User::Me, cog("a"))
            .await
            .unwrap();
        assert_eq!(answer.outcome, Outcome::Existing, "{value}");
        assert_eq!(server.count(), 2, "{value}");
    }
}

#[tokio::test]
async fn a_503_to_create_whose_retry_after_cannot_be_read_is_an_unknown_outcome() {
    // Only a readable Retry-After says "throttled, not acted on"; without one, a 503 may
    // follow a meeting that was made.
    for value in ["in a bit", "", "-1"] {
        let v = value.to_string();
        let server = Script::start(move |_| {
            Act::Respond(503, vec![("retry-after", v.clone())], "{}".into())
        })
        .await;
        let err = create_is_unknown_after_one_request(&server, &format!("{value:?}")).await;
        // The 503 is Graph's error to this call, kept as one.
        assert_eq!(err.graph().map(|g| g.status), Some(503), "{err:?}");
        assert_eq!(err.status(), Some(503), "{err:?}");
    }
}

#[tokio::test]
async fn a_retry_after_too_long_to_count_ends_the_retries() {
    // More seconds than fit in 64 bits: longer than any policy's wait, not "no Retry-After"
    // (which would retry after a short backoff, against the service's request).
    let server = Script::start(|_| {
        Act::Respond(
            429,
            vec![("retry-after", "99999999999999999999".into())],
            "{}".into(),
        )
    })
    .await;
    let err = client(&server, quick())
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap_err();
    let Error::Graph(g) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((g.status, g.attempts), (429, 1));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn persistent_503_stops_at_the_limit_with_the_last_error_and_attempts() {
    let server = Script::start(|_| {
        json(503, json!({"error": {"code": "ServiceUnavailable", "message": "try later", "innerError": {"request-id": "r"}}}))
    })
    .await;
    let err = client(&server, quick().with_max_retries(3))
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap_err();
    let Error::Graph(g) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (g.status, g.attempts, g.code.as_deref()),
        (503, 4, Some("ServiceUnavailable"))
    );
    let attempts: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.header("retry-attempt").map(str::to_owned))
        .collect();
    assert_eq!(
        attempts,
        [None, Some("1".into()), Some("2".into()), Some("3".into())]
    );
    // Retries off: one request.
    let server = Script::start(|_| json(503, json!({}))).await;
    client(&server, RetryPolicy::none())
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap_err();
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn create_or_get_answered_504_after_the_meeting_was_made_is_retried_into_one_meeting() {
    let store = Store::default();
    let calls = Arc::new(Mutex::new(0));
    let s = store.clone();
    let server = Script::start(move |seen| {
        let (status, body) = s.answer(seen);
        match nth(&calls) {
            0 => json(504, json!({"error": {"code": "GatewayTimeout"}})),
            _ => json(status, body),
        }
    })
    .await;
    let answer = client(&server, quick())
        .create_or_get(&User::Me, cog("ext-504"))
        .await
        .unwrap();
    assert_eq!(
        answer.outcome,
        Outcome::Existing,
        "the retry found the meeting the first attempt made"
    );
    assert_eq!(
        answer.attempts, 2,
        "the answer says it came after a retry, so `Existing` can be read for what it is"
    );
    assert_eq!(store.len(), 1);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn create_answered_504_after_the_meeting_was_made_is_sent_once_and_outcome_unknown() {
    let made = Arc::new(Mutex::new(0));
    let m = made.clone();
    let server = Script::start(move |_| {
        *m.lock().unwrap() += 1;
        json(
            504,
            json!({"error": {"code": "GatewayTimeout", "message": "upstream"}}),
        )
    })
    .await;
    let err = client(&server, quick())
        .create(&User::Me, meeting_request())
        .await
        .unwrap_err();
    let Error::OutcomeUnknown {
        graph, attempts, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*attempts, graph.as_ref().map(|g| g.status)),
        (1, Some(504))
    );
    assert!(
        err.to_string().contains("create_or_get"),
        "tells the caller what to do: {err}"
    );
    assert_eq!(*made.lock().unwrap(), 1);
}

#[tokio::test]
async fn an_unknown_outcome_names_the_client_request_id_that_was_sent() {
    // A timeout: no answer, so no request-id. The ID the client sent is what support can
    // look the request up by.
    let server = Script::start(|_| Act::Delay(Duration::from_secs(30), Box::new(Act::Drop))).await;
    let err = impatient(&server.url)
        .create(&User::Me, meeting_request())
        .await
        .unwrap_err();
    let Error::OutcomeUnknown {
        client_request_id, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    let sent = server.seen()[0]
        .header("client-request-id")
        .unwrap()
        .to_owned();
    assert_eq!(client_request_id, &sent);
    assert!(err.to_string().contains(&sent), "{err}");
}

#[tokio::test]
async fn create_answered_5xx_or_303_with_an_unreadable_body_is_an_unknown_outcome() {
    // Over the cap, or cut off: the status said the service may have acted (a 303 See Other
    // points at the result of a request carried out), so the body's fate must not turn that
    // into an error that looks safe to repeat.
    let acts: [(u16, fn() -> Act); 4] = [
        (502, || {
            Act::Respond(
                502,
                vec![("content-type", "text/html".into())],
                "x".repeat(graph_meetings::MIN_RESPONSE_BYTES + 1),
            )
        }),
        (500, || Act::Truncate(500, 1_000, "{\"error\"".into())),
        (303, || {
            Act::Respond(
                303,
                vec![("location", "/elsewhere".into())],
                "x".repeat(graph_meetings::MIN_RESPONSE_BYTES + 1),
            )
        }),
        (303, || Act::Truncate(303, 1_000, "{\"id\":".into())),
    ];
    for (status, act) in acts {
        let server = Script::start(move |_| act()).await;
        let err = Client::builder()
            .base_url(&server.url)
            .static_token("t")
            .retry(quick())
            .max_response_bytes(graph_meetings::MIN_RESPONSE_BYTES)
            .build()
            .unwrap()
            .create(&User::Me, meeting_request())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::OutcomeUnknown { attempts: 1, .. }),
            "{err:?}"
        );
        // The status came before the body was lost: it stays with the unknown outcome.
        assert_eq!(err.status(), Some(status), "{err:?}");
        assert_eq!(server.count(), 1);
    }
}

#[tokio::test]
async fn an_unknown_outcome_keeps_the_body_whether_it_came_whole_or_cut_off() {
    // What was read of the answer is kept with create's unknown outcome: a gateway's page may
    // quote what the service said, the meeting's `id` among it. And a 303 says where.
    let body = r#"<html>502 from the gateway; upstream answered {"id":"m-1"}</html>"#;
    let location = support::TRUNCATED_REDIRECT_TO;
    for (status, headers) in [
        (502u16, vec![("content-type", "text/html".to_owned())]),
        (303, vec![("location", location.to_owned())]),
    ] {
        let cut = Script::start(move |_| Act::Truncate(status, body.len() + 10, body.into())).await;
        let whole =
            Script::start(move |_| Act::Respond(status, headers.clone(), body.into())).await;
        for (how, server) in [("cut off", &cut), ("whole", &whole)] {
            let err = client(server, RetryPolicy::none())
                .create(&User::Me, meeting_request())
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::OutcomeUnknown { attempts: 1, .. }),
                "{how} {status}: {err:?}"
            );
            assert_eq!(
                err.body().map(|b| b.as_bytes()),
                Some(body.as_bytes()),
                "{how} {status}: {err:?}"
            );
            // Whole or cut off, a 303 says where it points.
            if status == 303 {
                let message = err.graph().and_then(|g| g.message.clone());
                assert!(
                    message.as_deref().is_some_and(|m| m.contains(location)),
                    "{err:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_client_error_with_a_cut_off_body_is_final_for_both_operations() {
    // 400 says the service did not act: neither a retry nor an unknown outcome, whatever
    // happened to its body, and the status is kept (Graph's error, not a transport failure).
    for create in [false, true] {
        let server = Script::start(|_| Act::Truncate(400, 1_000, "{\"error\"".into())).await;
        let c = client(&server, quick());
        let err = match create {
            true => c.create(&User::Me, meeting_request()).await.unwrap_err(),
            false => c.create_or_get(&User::Me, cog("a")).await.unwrap_err(),
        };
        assert_eq!(err.graph().map(|g| g.status), Some(400), "{err:?}");
        assert!(matches!(err, Error::Graph(_)), "{err:?}");
        assert_eq!(server.count(), 1, "create: {create}");
    }
}

#[tokio::test]
async fn a_transient_error_with_a_cut_off_body_is_still_graphs_once_retries_are_spent() {
    // createOrGet retries a 503 however its body ends; when the retries run out, the last
    // answer's status is what the caller gets (Graph's error), not a lost connection.
    let server = Script::start(|_| Act::Truncate(503, 1_000, "{\"error\"".into())).await;
    let err = client(&server, quick().with_max_retries(2))
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Graph(_)), "{err:?}");
    assert_eq!(err.graph().map(|g| g.status), Some(503), "{err:?}");
    assert_eq!(err.attempts(), Some(3), "{err:?}");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn create_is_retried_when_the_service_says_it_did_not_act() {
    for (status, retry_after) in [(429, None), (429, Some("0")), (503, Some("0"))] {
        let calls = Arc::new(Mutex::new(0));
        let server = Script::start(move |_| match nth(&calls) {
            0 => Act::Respond(
                status,
                retry_after
                    .map(|v| ("retry-after", v.to_string()))
                    .into_iter()
                    .collect(),
                "{}".into(),
            ),
            _ => json(201, meeting("new")),
        })
        .await;
        let answer = client(&server, quick())
            .create(&User::Me, meeting_request())
            .await
            .unwrap();
        assert_eq!(answer.status.as_u16(), 201, "{status}");
        assert_eq!(server.count(), 2, "{status}");
    }
}

#[tokio::test]
async fn create_is_not_retried_on_ambiguous_statuses() {
    // The usual server errors, others Graph documents (507, 509), the rest of the class, and a
    // status past every class (a proxy's): none says the meeting was not made.
    for status in [500, 502, 503, 504, 507, 509, 599, 600] {
        let server = Script::start(move |_| json(status, json!({}))).await;
        create_is_unknown_after_one_request(&server, &status.to_string()).await;
    }
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_create_or_get_only() {
    let server = first_then(|| Act::Drop, 201).await;
    client(&server, quick())
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap();
    assert_eq!(server.count(), 2);

    let server = Script::start(|_| Act::Drop).await;
    create_is_unknown_after_one_request(&server, "dropped").await;
}

#[tokio::test]
async fn headers_that_never_arrive_time_out() {
    let stall = || Act::Delay(Duration::from_secs(30), Box::new(json(201, meeting("a"))));
    let server = first_then(stall, 200).await;
    let answer = impatient(&server.url)
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap();
    assert_eq!(answer.outcome, Outcome::Existing);

    let server =
        Script::start(|_| Act::Delay(Duration::from_secs(30), Box::new(json(201, meeting("a")))))
            .await;
    let err = impatient(&server.url)
        .create(&User::Me, meeting_request())
        .await
        .unwrap_err();
    let Error::OutcomeUnknown { reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("timed out"), "{reason}");
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_truncated_body_is_retried_for_create_or_get_and_unknown_for_create() {
    let server = first_then(|| Act::Truncate(201, 1000, r#"{"id": "m"#.into()), 200).await;
    let answer = client(&server, quick())
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap();
    assert_eq!(answer.outcome, Outcome::Existing);
    assert_eq!(server.count(), 2);

    // Out of retries, the error still says what came: the status and the request-id.
    let server = Script::start(|_| Act::Truncate(201, 1000, r#"{"id": "m"#.into())).await;
    let err = client(&server, RetryPolicy::none())
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.status(), Some(201), "{err:?}");
    assert_eq!(err.request_id(), Some("rid-cut"), "{err:?}");
    assert!(
        err.to_string()
            .contains("(HTTP 201 came, its body cut off; request-id rid-cut)"),
        "{err}"
    );

    let server = Script::start(|_| Act::Truncate(201, 1000, r#"{"id": "m"#.into())).await;
    let err = create_is_unknown_after_one_request(&server, "truncated 201").await;
    assert_eq!(err.status(), Some(201), "the meeting was made: {err:?}");
    assert_eq!(err.request_id(), Some("rid-cut"), "{err:?}");
    // What came of the body is kept: the meeting's id may be in it.
    assert_eq!(
        err.body().map(|b| b.as_bytes()),
        Some(&br#"{"id": "m"#[..]),
        "{err:?}"
    );

    // Cut off inside an echoed token: all of it but its last characters is not kept.
    let token = "EwB0A8l6secretTokenValue1234567890";
    let echo = format!(
        r#"{{"id": "m", "echo": "Bearer {}"#,
        &token[..token.len() - 1]
    );
    let server = Script::start(move |_| Act::Truncate(201, 1000, echo.clone())).await;
    let err = Client::builder()
        .base_url(&server.url)
        .static_token(token)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
        .create(&User::Me, meeting_request())
        .await
        .unwrap_err();
    let kept = err.body().map(|b| b.as_bytes()).unwrap_or_default();
    assert_eq!(kept, br#"{"id": "m", "echo": "Bearer ***"#, "{err:?}");
    assert!(!format!("{err:?}").contains("EwB0A8l6"), "{err:?}");
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for status in [400, 401, 403, 404, 409] {
        for create in [false, true] {
            let server = Script::start(move |_| {
                json(status, json!({"error": {"code": "Nope", "message": "no"}}))
            })
            .await;
            let c = client(&server, quick());
            let err = if create {
                c.create(&User::Me, meeting_request()).await.unwrap_err()
            } else {
                c.create_or_get(&User::Me, cog("a")).await.unwrap_err()
            };
            assert_eq!(err.status(), Some(status), "{err:?}");
            assert_eq!(err.graph().and_then(|g| g.code.as_deref()), Some("Nope"));
            assert_eq!(server.count(), 1, "{status} create={create}");
        }
    }
}

/// A whole-attempt timeout shorter than the connect timeout (`--timeout 5`, say), against a
/// server whose TLS handshake never finishes: nothing was sent, so create is retried and ends
/// as a connect failure, not as an unknown outcome "after the request was sent".
#[tokio::test]
async fn a_handshake_outlasting_a_short_timeout_is_a_connect_failure() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(Mutex::new(Vec::new()));
    let held = connections.clone();
    tokio::spawn(async move {
        // Accepted and kept open, never answered: the client's ClientHello waits for ever.
        while let Ok((stream, _)) = listener.accept().await {
            held.lock().unwrap().push(stream);
        }
    });
    // Connecting gets 1.8 s of the 2; one retry shows that create was retried.
    let url = format!("https://127.0.0.1:{port}");
    let err = impatient_with(&url, quick().with_max_retries(1))
        .create(&User::Me, meeting_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport { attempts: 2, .. }),
        "nothing was sent, so not ambiguous: {err:?}"
    );
    assert!(err.to_string().contains("could not connect"), "{err}");
    assert_eq!(connections.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_for_both_operations() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .static_token("t")
        .retry(quick())
        .build()
        .unwrap();
    let err = c.create(&User::Me, meeting_request()).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { attempts: 4, .. }),
        "nothing was sent, so not ambiguous: {err:?}"
    );
    let err = c.create_or_get(&User::Me, cog("a")).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { attempts: 4, .. }),
        "{err:?}"
    );
    // Nothing answered, yet the call has an ID to quote: the GUID it sent.
    let id = err
        .client_request_id()
        .expect("a transport failure keeps the ID it sent");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn retry_after_dates_use_the_wall_clock_not_the_meeting_clock() {
    let calls = Arc::new(Mutex::new(0));
    let server = Script::start(move |_| match nth(&calls) {
        0 => {
            let when =
                (Utc::now() + chrono::Duration::seconds(1)).format("%a, %d %b %Y %H:%M:%S GMT");
            Act::Respond(429, vec![("retry-after", when.to_string())], "{}".into())
        }
        _ => json(201, meeting("a")),
    })
    .await;
    // The time rules run on a clock years behind; the Retry-After date is still ~1 s away.
    let past = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let client = Client::builder()
        .base_url(&server.url)
        .static_token("t")
        .clock(Arc::new(graph_meetings::times::FixedClock(past)))
        .retry(quick())
        .build()
        .unwrap();
    client.create_or_get(&User::Me, cog("a")).await.unwrap();
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn create_or_get_is_retried_on_408_500_and_502() {
    for status in [408, 500, 502] {
        let server = first_then(move || json(status, json!({})), 200).await;
        let answer = client(&server, quick())
            .create_or_get(&User::Me, cog("a"))
            .await
            .unwrap();
        assert_eq!(answer.outcome, Outcome::Existing, "{status}");
        assert_eq!(server.count(), 2, "{status}");
    }
}

#[tokio::test]
async fn an_answer_echoing_another_requests_id_is_not_taken_for_this_one() {
    // A proxy that replays answers, or a connection out of step, hands a call the answer to
    // another request: its echoed client-request-id says so. create cannot tell what became of
    // its own request: an unknown outcome after one request, whatever the status (not a 401
    // to refresh and resend after, nor a 429 or 503 to retry), without the body (a meeting in
    // it is another call's).
    const OTHER: &str = "11111111-1111-1111-1111-111111111111";
    for status in [201, 200, 400, 409, 401, 429, 503] {
        let server = Script::start(move |_| {
            let body = match status {
                200 | 201 => meeting("someone-elses"),
                _ => json!({"error": {"code": "BadRequest", "message": "no"}}),
            };
            Act::Respond(
                status,
                vec![
                    ("client-request-id", OTHER.into()),
                    ("request-id", "rid-other".into()),
                    ("retry-after", "0".into()),
                ],
                body.to_string(),
            )
        })
        .await;
        let err = create_is_unknown_after_one_request(&server, &status.to_string()).await;
        assert_eq!(err.status(), Some(status), "{err:?}");
        assert_eq!(err.request_id(), Some("rid-other"), "{err:?}");
        // Another request's error is not Graph's answer to this one, nor is a 2xx.
        assert!(err.graph().is_none(), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(OTHER) && !text.contains("was created"),
            "{text}"
        );
        assert!(err.body().is_none(), "{err:?}");
        // The call's own ID, the one a support case can trace, stays the error's.
        let sent = server.seen()[0]
            .header("client-request-id")
            .unwrap()
            .to_owned();
        assert_eq!(err.client_request_id(), Some(sent.as_str()), "{err:?}");
    }

    // createOrGet asks again, and takes the answer that is its own.
    let calls = Arc::new(Mutex::new(0));
    let server = Script::start(move |seen: &Seen| {
        let echoed = match nth(&calls) {
            0 => OTHER.to_owned(),
            _ => seen.header("client-request-id").unwrap().to_owned(),
        };
        Act::Respond(
            201,
            vec![("client-request-id", echoed)],
            meeting("a").to_string(),
        )
    })
    .await;
    let answer = client(&server, quick())
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap();
    assert_eq!(answer.attempts, 2);
    // When every answer is another's, no meeting is taken from them.
    let server = Script::start(|_| {
        Act::Respond(
            201,
            vec![("client-request-id", OTHER.into())],
            meeting("a").to_string(),
        )
    })
    .await;
    let err = client(&server, quick())
        .create_or_get(&User::Me, cog("a"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("another request"), "{err}");
    assert!(
        err.body().is_some_and(|b| b.as_bytes().is_empty()),
        "{err:?}"
    );

    // Nothing of another's answer is read: not a body over the cap, not a header's length.
    let server = Script::start(|_| {
        Act::Respond(
            201,
            vec![(
                "client-request-id",
                format!("{OTHER}{}", "x".repeat(50_000)),
            )],
            "x".repeat(graph_meetings::MIN_RESPONSE_BYTES + 1),
        )
    })
    .await;
    let c = Client::builder()
        .base_url(&server.url)
        .static_token("t")
        .retry(quick())
        .max_response_bytes(graph_meetings::MIN_RESPONSE_BYTES)
        .build()
        .unwrap();
    let err = c.create_or_get(&User::Me, cog("a")).await.unwrap_err();
    assert!(matches!(err, Error::Decode { status: 201, .. }), "{err:?}");
    let err = c.create(&User::Me, meeting_request()).await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert!(err.to_string().len() < 2_000, "{}", err.to_string().len());
}

#[tokio::test]
async fn every_echoed_client_request_id_counts_whatever_its_order_case_or_braces() {
    const OTHER: &str = "11111111-1111-1111-1111-111111111111";
    type Echo = fn(&str) -> Vec<(&'static str, String)>;
    let foreign: [Echo; 3] = [
        |ours| {
            vec![
                ("client-request-id", OTHER.into()),
                ("client-request-id", ours.into()),
            ]
        },
        |ours| {
            vec![
                ("client-request-id", ours.into()),
                ("client-request-id", OTHER.into()),
            ]
        },
        |ours| vec![("client-request-id", format!("{ours}, {OTHER}"))],
    ];
    for (case, echo) in foreign.into_iter().enumerate() {
        let server = Script::start(move |seen: &Seen| {
            let ours = seen.header("client-request-id").unwrap().to_owned();
            Act::Respond(201, echo(&ours), meeting("a").to_string())
        })
        .await;
        create_is_unknown_after_one_request(&server, &format!("foreign {case}")).await;
    }
    let own: [Echo; 5] = [
        |ours| vec![("client-request-id", format!("{ours}, {ours}"))],
        // Empty list elements are none, as HTTP reads lists.
        |ours| vec![("client-request-id", format!("{ours},"))],
        |_| vec![("client-request-id", " , ".into())],
        |ours| vec![("client-request-id", format!("{{{ours}}}"))],
        |ours| vec![("client-request-id", ours.to_ascii_uppercase())],
    ];
    for (case, echo) in own.into_iter().enumerate() {
        let server = Script::start(move |seen: &Seen| {
            let ours = seen.header("client-request-id").unwrap().to_owned();
            Act::Respond(201, echo(&ours), meeting("a").to_string())
        })
        .await;
        let answer = client(&server, quick())
            .create(&User::Me, meeting_request())
            .await;
        assert!(answer.is_ok(), "own {case}: {answer:?}");
    }
}

#[tokio::test]
async fn create_answered_with_a_final_1xx_or_a_304_is_an_unknown_outcome() {
    // Neither answers a POST: the request was received, and nothing says it was not carried
    // out. createOrGet may be repeated, so for it they stay Graph's error.
    for status in [101, 304] {
        let server = Script::start(move |_| Act::Respond(status, vec![], String::new())).await;
        let err = create_is_unknown_after_one_request(&server, &status.to_string()).await;
        assert_eq!(err.status(), Some(status), "{err:?}");
        let err = client(&server, quick())
            .create_or_get(&User::Me, cog("a"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Graph(_)), "{status}: {err:?}");
        assert!(!err.to_string().contains("redirect"), "{err}");
        assert_eq!(server.count(), 2, "{status}: neither was retried");
    }
}
