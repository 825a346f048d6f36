//! The command against a scripted stand-in (wiremock), for answers the emulator never gives:
//! properties and enum values from a newer Graph, a gateway's HTML error page, a long
//! Retry-After, a body over the size cap, a 403 for a missing access policy.
#![cfg(feature = "cli")]

use std::{process::Stdio, time::Duration};

use serde_json::{json, Value};
use wiremock::{
    matchers::{header, header_exists, method, path, path_regex},
    Mock, MockServer, ResponseTemplate,
};

const BIN: &str = env!("CARGO_BIN_EXE_graph-meetings");
const CREATE_OR_GET: &str = "/v1.0/me/onlineMeetings/createOrGet";

async fn run(server: &MockServer, args: &[&str]) -> (i32, String, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(BIN)
            .args(args)
            .args(["--base-url", &server.uri()])
            .env("GRAPH_TOKEN", "stand-in-token")
            .env("TZ", "UTC")
            .env_remove("GRAPH_BASE_URL")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the command finishes")
    .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn every_property_of_a_newer_graph_reaches_the_json_output() {
    let server = MockServer::start().await;
    let meeting = json!({
        "id": "m-1",
        "subject": null,
        "startDateTime": "2030-01-01T10:00:00Z",
        "endDateTime": "2030-01-01T11:00:00Z",
        "allowedPresenters": "aBrandNewRole",
        "lobbyBypassSettings": {"scope": "somethingNew", "isDialInBypassEnabled": null},
        "someFutureProperty": {"nested": [1, null, "x"], "flag": true},
        "joinWebUrl": "https://teams.example/l/meetup-join/1",
    });
    Mock::given(method("POST"))
        .and(path(CREATE_OR_GET))
        .and(header("authorization", "Bearer stand-in-token"))
        .and(header_exists("client-request-id"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("request-id", "rid-from-graph")
                .set_body_json(&meeting),
        )
        .expect(2)
        .mount(&server)
        .await;

    let (code, stdout, stderr) = run(&server, &["create-or-get", "--external-id", "x"]).await;
    assert_eq!(code, 0, "{stderr}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["outcome"], "existing");
    assert_eq!(printed["status"], 200);
    assert_eq!(printed["requestId"], "rid-from-graph");
    assert_eq!(
        printed["meeting"], meeting,
        "every property, exactly as sent"
    );

    let (code, stdout, _) = run(
        &server,
        &["create-or-get", "--external-id", "x", "--output", "summary"],
    )
    .await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("existing: (no subject)"), "{stdout}");
    assert!(
        stdout.contains("start      Tue 2030-01-01 10:00:00 +00:00"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_gateways_html_page_is_a_graph_failure_with_its_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_OR_GET))
        .respond_with(
            ResponseTemplate::new(502).set_body_string("<html><body>Bad Gateway</body></html>"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (code, stdout, stderr) = run(
        &server,
        &["create-or-get", "--external-id", "x", "--retries", "0"],
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "graph", "{doc}");
    assert_eq!(doc["error"]["status"], 502, "{doc}");
    assert!(stderr.contains("status: 502"), "{stderr}");
    assert!(stderr.contains("Bad Gateway"), "{stderr}");
}

#[tokio::test]
async fn a_missing_access_policy_is_graphs_403() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/v1\.0/users/alex(@|%40)contoso\.example/onlineMeetings$",
        ))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("request-id", "rid-403")
                .set_body_json(json!({"error": {
                    "code": "Forbidden",
                    "message": "Application does not have permission to Create online meeting on behalf of this user.",
                    "innerError": {"date": "2030-01-01T00:00:00", "request-id": "rid-403", "client-request-id": "c"}
                }})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (code, _, stderr) = run(&server, &["create", "--user", "alex@contoso.example"]).await;
    assert_eq!(code, 4, "{stderr}");
    for needle in [
        "code: Forbidden",
        "message: Application does not have permission",
        "request-id: rid-403",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
}

#[tokio::test]
async fn a_retry_after_longer_than_the_policy_allows_is_not_waited_for() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_OR_GET))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "600")
                .set_body_json(
                    json!({"error": {"code": "TooManyRequests", "message": "Slow down."}}),
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (code, _, stderr) = run(&server, &["create-or-get", "--external-id", "x"]).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("retry-after: 600 s"), "{stderr}");
    assert!(stderr.contains("code: TooManyRequests"), "{stderr}");
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_not_buffered() {
    let server = MockServer::start().await;
    let huge = format!(
        r#"{{"id":"m","subject":"{}"}}"#,
        "a".repeat(5 * 1024 * 1024)
    );
    Mock::given(method("POST"))
        .and(path("/v1.0/me/onlineMeetings"))
        .respond_with(ResponseTemplate::new(201).set_body_raw(huge, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let (code, stdout, stderr) = run(&server, &["create"]).await;
    // The service answered 201: a meeting exists even though its answer was refused, so this
    // is create's "outcome unknown" (6), not a plain Graph error that is safe to repeat.
    assert_eq!(code, 6, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["outcome"], "unknown", "{doc}");
    // The 201 is kept, on both streams: the meeting was made.
    assert_eq!(doc["error"]["status"], 201, "{doc}");
    assert!(stderr.contains("status: 201"), "{stderr}");
    assert!(
        stderr.contains("exceeds the limit") && stderr.contains("was created"),
        "{stderr}"
    );
}
