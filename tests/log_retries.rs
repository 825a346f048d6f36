//! Waiting is visible: one `tracing` event per retry, with its call's client-request-id, the
//! reason and the delay.

mod support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use graph_meetings::{types, Client, RetryPolicy, User};
use serde_json::json;
use support::{json, meeting, nth, Act, Captured, Script};

fn client(url: &str, policy: RetryPolicy) -> Client {
    Client::builder()
        .base_url(url)
        .static_token("t")
        .retry(policy)
        .build()
        .unwrap()
}

fn keyed(external_id: &str) -> types::CreateOrGetRequest {
    types::CreateOrGetRequest {
        external_id: external_id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_retry_is_announced_with_its_reason_and_delay() {
    let captured = Captured::install();
    let calls = Arc::new(Mutex::new(0));
    let server = Script::start(move |_| match nth(&calls) {
        0 => Act::Respond(429, vec![("retry-after", "1".into())], "{}".into()),
        1 => json(502, json!({})),
        _ => json(201, meeting("a")),
    })
    .await;
    let policy =
        RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(20));
    let answer = client(&server.url, policy)
        .create_or_get(&User::Me, keyed("a"))
        .await
        .unwrap();
    let logs = captured.text();
    let retries: Vec<&str> = logs.lines().filter(|l| l.contains("retrying")).collect();
    assert_eq!(retries.len(), 2, "logs: {logs}");
    // Each names its call, so that concurrent calls' retries can be told apart.
    let named = format!("client_request_id=\"{}\"", answer.client_request_id);
    assert!(
        retries.iter().all(|l| l.contains(&named)),
        "{named}: {logs}"
    );
    assert!(
        retries[0].contains("429") && retries[0].contains("delay_ms=1000"),
        "{}",
        retries[0]
    );
    assert!(retries[1].contains("502"), "{}", retries[1]);
}

#[tokio::test]
async fn a_call_dropped_after_sending_has_left_its_client_request_id_in_the_log() {
    // A caller's own timeout around create drops the future: no error says which request
    // went out, so the debug event is where it can be found.
    let captured = Captured::install();
    let server =
        Script::start(|_| Act::Delay(Duration::from_secs(5), Box::new(json(201, meeting("late")))))
            .await;
    let client = client(&server.url, RetryPolicy::default());
    // Dropped once the request has reached the server (whatever this machine's speed).
    let call = client.create(&User::Me, types::OnlineMeeting::default());
    let arrived = async {
        while server.count() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        _ = call => panic!("the caller was to give up first"),
        _ = arrived => {}
    }
    let seen = server.seen();
    let sent = seen[0].header("client-request-id").expect("one was sent");
    let logs = captured.text();
    assert!(
        logs.lines()
            .any(|l| l.contains("sending") && l.contains(sent)),
        "{sent} not in: {logs}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_wait_past_a_limit_of_the_policy_ends_the_retries_and_the_log_says_which() {
    // The error alone reads like any unretried 429; the log names the wait and the limit.
    let captured = Captured::install();
    let server =
        Script::start(|_| Act::Respond(429, vec![("retry-after", "181".into())], "{}".into()))
            .await;
    let err = client(&server.url, RetryPolicy::default())
        .create_or_get(&User::Me, keyed("a"))
        .await
        .unwrap_err();
    assert_eq!((server.count(), err.attempts()), (1, Some(1)));
    let named = format!("client_request_id=\"{}\"", err.client_request_id().unwrap());
    let logs = captured.text();
    let ended: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("not tried again"))
        .collect();
    assert_eq!(ended.len(), 1, "logs: {logs}");
    for said in [named.as_str(), "429", "181s", "max_wait of 180s"] {
        assert!(ended[0].contains(said), "{said}: {}", ended[0]);
    }
    // A policy without retries was asked for: nothing to warn about.
    client(&server.url, RetryPolicy::none())
        .create_or_get(&User::Me, keyed("b"))
        .await
        .unwrap_err();
    assert_eq!(server.count(), 2);
    let logs = captured.text();
    assert_eq!(logs.matches("not tried again").count(), 1, "logs: {logs}");
}
