//! The core client against a loopback stand-in for Graph: what goes on the wire, what comes
//! back, and how each kind of answer is reported.

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use graph_meetings::{
    times::FixedClock, types, ApiVersion, AuthError, Client, Error, ErrorKind, InvalidRequest,
    Outcome, RetryPolicy, User,
};
use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

const SEED_RESPONSE: &str = include_str!("fixtures/seed_create_or_get_response.json");

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn client(server: &MockServer, version: ApiVersion) -> Client {
    Client::builder()
        .base_url(server.uri())
        .api_version(version)
        .static_token("test-token")
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

async fn answering(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_json(body)
                .insert_header("request-id", "rid-1"),
        )
        .mount(&server)
        .await;
    server
}

async fn sent(server: &MockServer) -> Vec<wiremock::Request> {
    // `None` means recording is off, which would make every "nothing was sent" check vacuous.
    server
        .received_requests()
        .await
        .expect("the mock server records requests")
}

/// Answers with `template`, echoing the request's `client-request-id` as Graph does (an answer
/// echoing another is another request's).
struct Echoing(ResponseTemplate);

impl wiremock::Respond for Echoing {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let id = request.headers.get("client-request-id").unwrap().clone();
        self.0.clone().insert_header("client-request-id", id)
    }
}

/// The `client-request-id` of the one request `server` received.
async fn the_request_id(server: &MockServer) -> String {
    let sent = sent(server).await;
    assert_eq!(sent.len(), 1);
    sent[0].headers["client-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn cog(external_id: &str) -> types::CreateOrGetRequest {
    types::CreateOrGetRequest {
        external_id: external_id.into(),
        ..Default::default()
    }
}

/// The request of the first createOrGet example, as typed values.
fn seed_create_or_get() -> types::CreateOrGetRequest {
    serde_json::from_value(json!({
        "startDateTime": "2020-02-06T01:49:21.3524945+00:00",
        "endDateTime": "2020-02-06T02:19:21.3524945+00:00",
        "subject": "Create a meeting with customId provided",
        "externalId": "7eb8263f-d0e0-4149-bb1c-1f0476083c56",
        "participants": { "attendees": [ {
            "identity": { "user": { "id": "1f35f2e6-9cab-44ad-8d5a-b74c14720000" } },
            "role": "presenter",
            "upn": "test1@contoso.com"
        } ] }
    }))
    .unwrap()
}

/// Compares a JSON body with what was expected; date-time strings compare as instants.
fn assert_same_json(actual: &Value, expected: &Value) {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) if DateTime::parse_from_rfc3339(e).is_ok() => {
            assert_eq!(at(a), at(e), "instant {a} vs {e}");
            assert!(a.ends_with('Z'), "times go out as UTC: {a}");
        }
        (Value::Object(a), Value::Object(e)) => {
            let mut ak: Vec<_> = a.keys().collect();
            let mut ek: Vec<_> = e.keys().collect();
            ak.sort();
            ek.sort();
            assert_eq!(ak, ek, "fields");
            for (k, v) in e {
                assert_same_json(&a[k], v);
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len());
            a.iter().zip(e).for_each(|(a, e)| assert_same_json(a, e));
        }
        _ => assert_eq!(actual, expected),
    }
}

#[tokio::test]
async fn seed_create_or_get_example_goes_out_as_documented_and_its_answer_decodes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/beta/me/onlineMeetings/createOrGet"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(SEED_RESPONSE, "application/json")
                .insert_header("request-id", "abc-123"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server, ApiVersion::Beta)
        .create_or_get(&User::Me, seed_create_or_get())
        .await
        .unwrap();

    let request = &sent(&server).await[0];
    let expected = json!({
        "startDateTime": "2020-02-06T01:49:21.3524945+00:00",
        "endDateTime": "2020-02-06T02:19:21.3524945+00:00",
        "subject": "Create a meeting with customId provided",
        "externalId": "7eb8263f-d0e0-4149-bb1c-1f0476083c56",
        "participants": { "attendees": [ {
            "identity": { "user": { "id": "1f35f2e6-9cab-44ad-8d5a-b74c14720000" } },
            "role": "presenter",
            "upn": "test1@contoso.com"
        } ] }
    });
    assert_same_json(&serde_json::from_slice(&request.body).unwrap(), &expected);

    assert_eq!(answer.outcome, Outcome::Existing);
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(answer.request_id.as_deref(), Some("abc-123"));
    let m = &answer.meeting;
    assert_eq!(
        m.external_id.as_deref(),
        Some("7eb8263f-d0e0-4149-bb1c-1f0476083c56")
    );
    assert_eq!(
        m.start_date_time,
        Some(at("2020-09-11T06:30:18.0615989Z").into())
    );
    assert_eq!(m.is_entry_exit_announced, Some(true));
    let attendee = &m.participants.as_ref().unwrap().attendees.as_ref().unwrap()[0];
    assert_eq!(attendee.upn.as_deref(), Some("test1@contoso.com"));
    assert_eq!(attendee.role, None, "role: null");
    let organizer = m.participants.as_ref().unwrap().organizer.as_ref().unwrap();
    assert_eq!(
        organizer.role,
        Some(types::OnlineMeetingRole::Known(
            types::KnownOnlineMeetingRole::Presenter
        ))
    );
    let lobby = m.lobby_bypass_settings.as_ref().unwrap();
    assert_eq!(
        lobby.scope,
        Some(types::LobbyBypassScope::Known(
            types::KnownLobbyBypassScope::Organization
        ))
    );
    let audio = m.audio_conferencing.as_ref().unwrap();
    assert_eq!(audio.toll_number.as_deref(), Some("+1 206-485-3005"));
    assert_eq!(audio.toll_free_number, None);
    assert_eq!(
        m.chat_info.as_ref().unwrap().message_id.as_deref(),
        Some("0")
    );
    assert_eq!(m.auto_admitted_users.as_deref(), Some("EveryoneInCompany"));
    // The raw body is the body as received.
    assert_eq!(answer.raw, SEED_RESPONSE.as_bytes());
}

#[tokio::test]
async fn seed_channel_example_carries_chat_info_on_beta() {
    let server = answering(201, json!({"id": "m1"})).await;
    let mut request = seed_create_or_get();
    request.chat_info = Some(types::ChatInfo {
        thread_id: Some("19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2".into()),
        ..Default::default()
    });
    let answer = client(&server, ApiVersion::Beta)
        .create_or_get(&User::Me, request)
        .await
        .unwrap();
    assert_eq!(answer.outcome, Outcome::Created);
    let body: Value = serde_json::from_slice(&sent(&server).await[0].body).unwrap();
    assert_eq!(
        body["chatInfo"],
        json!({"threadId": "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"})
    );
}

#[tokio::test]
async fn chat_info_on_v1_is_refused_before_sending() {
    let server = answering(201, json!({})).await;
    let mut request = seed_create_or_get();
    request.chat_info = Some(types::ChatInfo {
        thread_id: Some("19:x@thread.tacv2".into()),
        ..Default::default()
    });
    let err = client(&server, ApiVersion::V1)
        .create_or_get(&User::Me, request)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidRequest(InvalidRequest::ChatInfoRequiresBeta)
        ),
        "{err}"
    );
    assert!(err.to_string().contains("beta"));
    assert!(sent(&server).await.is_empty());
}

#[tokio::test]
async fn seed_create_examples_keep_their_instants_passcode_and_language() {
    let server = answering(201, json!({"id": "m1", "subject": "User meeting"})).await;
    let c = client(&server, ApiVersion::V1);
    for passcode in [Some(true), Some(false), None] {
        let meeting = types::OnlineMeeting {
            start_date_time: Some(at("2019-07-12T14:30:34.2444915-07:00").into()),
            end_date_time: Some(at("2019-07-12T15:00:34.2464912-07:00").into()),
            subject: Some("User meeting".into()),
            join_meeting_id_settings: passcode.map(|p| types::JoinMeetingIdSettings {
                is_passcode_required: Some(p),
                ..Default::default()
            }),
            ..Default::default()
        };
        let answer = c
            .create_in_language(&User::Me, meeting, Some("pt-PT"))
            .await
            .unwrap();
        assert_eq!(answer.status.as_u16(), 201);
        assert_eq!(answer.request_id.as_deref(), Some("rid-1"));
    }
    let requests = sent(&server).await;
    assert_eq!(requests.len(), 3);
    for (request, passcode) in requests.iter().zip([Some(true), Some(false), None]) {
        assert_eq!(request.url.path(), "/v1.0/me/onlineMeetings");
        assert_eq!(request.headers.get("accept-language").unwrap(), "pt-PT");
        let mut expected = json!({
            "startDateTime": "2019-07-12T14:30:34.2444915-07:00",
            "endDateTime": "2019-07-12T15:00:34.2464912-07:00",
            "subject": "User meeting"
        });
        if let Some(p) = passcode {
            expected["joinMeetingIdSettings"] = json!({"isPasscodeRequired": p});
        }
        assert_same_json(&serde_json::from_slice(&request.body).unwrap(), &expected);
    }
}

#[tokio::test]
async fn every_request_carries_bearer_json_and_a_fresh_client_request_id() {
    let server = answering(201, json!({"id": "m"})).await;
    let c = client(&server, ApiVersion::V1);
    for id in ["a", "b"] {
        c.create_or_get(&User::Me, cog(id)).await.unwrap();
    }
    let requests = sent(&server).await;
    let mut ids = Vec::new();
    for r in &requests {
        assert_eq!(r.headers.get("authorization").unwrap(), "Bearer test-token");
        assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
        assert!(
            r.headers.get("api-version").is_none(),
            "the generator's api-version header is removed"
        );
        assert!(
            r.headers.get("retry-attempt").is_none(),
            "first attempts are not retries"
        );
        let id = r
            .headers
            .get("client-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let parsed = uuid::Uuid::parse_str(&id).unwrap_or_else(|e| panic!("GUID {id}: {e}"));
        assert_eq!(parsed.get_version_num(), 4, "a random GUID: {id}");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn time_rules_are_applied_before_sending() {
    let server = answering(201, json!({"id": "m"})).await;
    let now = at("2026-11-23T10:00:00.123456789Z");
    let c = Client::builder()
        .base_url(server.uri())
        .static_token("t")
        .clock(Arc::new(FixedClock(now)))
        .build()
        .unwrap();
    let req = |start: Option<&str>, end: Option<&str>| types::CreateOrGetRequest {
        external_id: "x".into(),
        start_date_time: start.map(|s| at(s).into()),
        end_date_time: end.map(|e| at(e).into()),
        ..Default::default()
    };

    c.create_or_get(&User::Me, req(None, None)).await.unwrap();
    c.create_or_get(&User::Me, req(Some("2020-01-01T08:00:00-07:00"), None))
        .await
        .unwrap();
    c.create_or_get(
        &User::Me,
        req(Some("2020-01-01T15:00:00Z"), Some("2020-01-01T15:00:00Z")),
    )
    .await
    .unwrap();
    let bodies: Vec<Value> = sent(&server)
        .await
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let times = |b: &Value| {
        (
            at(b["startDateTime"].as_str().unwrap()),
            at(b["endDateTime"].as_str().unwrap()),
        )
    };
    // The clock's nanoseconds taken to the nearest of Graph's 100 ns ticks (…456789 to
    // …4568).
    let tick = at("2026-11-23T10:00:00.1234568Z");
    assert_eq!(times(&bodies[0]), (tick, tick + Duration::hours(1)));
    assert_eq!(
        times(&bodies[1]),
        (at("2020-01-01T15:00:00Z"), at("2020-01-01T16:00:00Z"))
    );
    assert_eq!(
        times(&bodies[2]),
        (at("2020-01-01T15:00:00Z"), at("2020-01-01T15:00:00Z"))
    );
    assert_eq!(
        bodies[0]["startDateTime"], "2026-11-23T10:00:00.1234568Z",
        "sub-second precision kept, to the tick, in .NET's seven digits"
    );

    let end_only = c
        .create_or_get(&User::Me, req(None, Some("2020-01-01T15:00:00Z")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            end_only,
            Error::InvalidRequest(InvalidRequest::EndWithoutStart { .. })
        ),
        "{end_only}"
    );
    let reversed = c
        .create(
            &User::Me,
            types::OnlineMeeting {
                start_date_time: Some(at("2020-01-01T15:00:00Z").into()),
                end_date_time: Some(at("2020-01-01T14:59:59.9999999Z").into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            reversed,
            Error::InvalidRequest(InvalidRequest::EndBeforeStart { .. })
        ),
        "{reversed}"
    );
    // The instants as a request carries them, not chrono's `2020-01-01 15:00:00 UTC`.
    assert!(
        reversed.to_string().contains(
            "endDateTime (2020-01-01T14:59:59.9999999Z) is earlier than startDateTime \
             (2020-01-01T15:00:00Z)"
        ),
        "{reversed}"
    );
    assert_eq!(
        sent(&server).await.len(),
        3,
        "refused requests are not sent"
    );
}

#[tokio::test]
async fn a_creates_expiry_is_an_instant_like_its_start_and_end() {
    let server = answering(201, json!({"id": "m"})).await;
    let c = client(&server, ApiVersion::V1);
    let expiring = |at: DateTime<Utc>| types::OnlineMeeting {
        start_date_time: Some(self::at("2027-01-15T07:00:00Z").into()),
        expiry_date_time: Some(at.into()),
        ..Default::default()
    };
    // Nanoseconds go out at Graph's 100 ns, as the start's and end's do.
    let precise = at("2027-01-15T08:00:00.123456789Z");
    c.create(&User::Me, expiring(precise)).await.unwrap();
    let body: Value = serde_json::from_slice(&sent(&server).await[0].body).unwrap();
    assert_eq!(body["expiryDateTime"], "2027-01-15T08:00:00.1234568Z");
    // A leap second or a year Graph cannot hold is refused, nothing sent.
    let leap = at("2016-12-31T23:59:60Z");
    let far = DateTime::<Utc>::from_timestamp(300_000_000_000, 0).unwrap();
    for refused in [leap, far] {
        let err = c.create(&User::Me, expiring(refused)).await.unwrap_err();
        assert!(
            matches!(
                &err,
                Error::InvalidRequest(
                    InvalidRequest::LeapSecond { field, .. } | InvalidRequest::OutOfRange { field, .. }
                ) if *field == "expiryDateTime"
            ),
            "{err:?}"
        );
    }
    assert_eq!(
        sent(&server).await.len(),
        1,
        "refused requests are not sent"
    );
}

#[tokio::test]
async fn empty_external_id_is_refused() {
    let server = answering(201, json!({})).await;
    let err = client(&server, ApiVersion::V1)
        .create_or_get(&User::Me, cog("  "))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidRequest(InvalidRequest::MissingExternalId)
    ));
    assert!(sent(&server).await.is_empty());
}

#[tokio::test]
async fn hostile_user_ids_reach_the_service_as_one_segment_or_not_at_all() {
    let server = answering(201, json!({"id": "m"})).await;
    let c = client(&server, ApiVersion::V1);
    let cases = [
        ("a#b", "a%23b"),
        (
            "guest_x.com#EXT#@contoso.com",
            "guest_x.com%23EXT%23@contoso.com",
        ),
        ("test1@contoso.com", "test1@contoso.com"),
        ("a b", "a%20b"),
        ("josé@contoso.com", "jos%C3%A9@contoso.com"),
        ("...", "..."),
    ];
    for (id, _) in cases {
        let request = cog("x");
        c.create_or_get(&User::id(id).unwrap(), request)
            .await
            .unwrap();
    }
    let paths: Vec<String> = sent(&server)
        .await
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths.len(), cases.len());
    for ((id, segment), path) in cases.iter().zip(&paths) {
        assert_eq!(
            path,
            &format!("/v1.0/users/{segment}/onlineMeetings/createOrGet"),
            "{id}"
        );
    }
    for refused in [
        "",
        ".",
        "..",
        "a\r\nb",
        "..\\me",
        "x\\..\\..\\..\\beta\\me",
        "a\\b",
        "a/b",
        "../../me",
        "a?b",
        "%2e%2e",
        "alex\u{202e}@contoso.com",
    ] {
        assert!(
            matches!(User::id(refused), Err(InvalidRequest::InvalidUserId { .. })),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn unknown_properties_unknown_enum_values_and_nulls_are_kept() {
    let body = json!({
        "id": "m1",
        "allowedPresenters": "everyoneInTheGalaxy",
        "allowMeetingChat": "enabled",
        "lobbyBypassSettings": { "scope": "brandNewScope", "isDialInBypassEnabled": null, "futureFlag": 1 },
        "audioConferencing": { "tollFreeNumbers": [null, "+1 800"], "tollNumbers": null },
        "participants": { "attendees": [ { "upn": "a@b", "role": "superPresenter" }, { "role": null } ], "organizer": null },
        "brandNewProperty": { "nested": [1, 2, 3] },
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#onlineMeetings/$entity"
    });
    let server = answering(201, body.clone()).await;
    let answer = client(&server, ApiVersion::V1)
        .create_or_get(&User::Me, cog("x"))
        .await
        .unwrap();
    let m = &answer.meeting;
    assert_eq!(
        m.allowed_presenters,
        Some(types::OnlineMeetingPresenters::Other(
            "everyoneInTheGalaxy".into()
        ))
    );
    assert_eq!(
        m.allow_meeting_chat,
        Some(types::MeetingChatMode::Known(
            types::KnownMeetingChatMode::Enabled
        ))
    );
    let lobby = m.lobby_bypass_settings.as_ref().unwrap();
    assert_eq!(
        lobby.scope,
        Some(types::LobbyBypassScope::Other("brandNewScope".into()))
    );
    assert_eq!(lobby.extra["futureFlag"], json!(1));
    assert_eq!(
        m.audio_conferencing.as_ref().unwrap().toll_free_numbers,
        Some(vec![None, Some("+1 800".into())])
    );
    let attendees = m.participants.as_ref().unwrap().attendees.as_ref().unwrap();
    assert_eq!(
        attendees[0].role,
        Some(types::OnlineMeetingRole::Other("superPresenter".into()))
    );
    assert_eq!(m.extra["brandNewProperty"], json!({"nested": [1, 2, 3]}));
    assert!(m.extra.contains_key("@odata.context"));
    // Serialising the typed meeting keeps unknown properties and values.
    let again = serde_json::to_value(m).unwrap();
    assert_eq!(again["allowedPresenters"], "everyoneInTheGalaxy");
    assert_eq!(again["brandNewProperty"], body["brandNewProperty"]);
    // And the raw body keeps the nulls too.
    assert_eq!(serde_json::from_slice::<Value>(&answer.raw).unwrap(), body);
}

#[tokio::test]
async fn graph_errors_keep_code_message_and_ids() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Echoing(
            ResponseTemplate::new(403)
                .insert_header("request-id", "req-9")
                .set_body_json(json!({"error": {
                    "code": "Forbidden",
                    "message": "Application access policy not found.",
                    "innerError": {"request-id": "req-9", "date": "2026-11-23T10:00:00", "client-request-id": "echoed"}
                }})),
        ))
        .mount(&server)
        .await;
    let err = client(&server, ApiVersion::V1)
        .create_or_get(&User::id("u1").unwrap(), cog("x"))
        .await
        .unwrap_err();
    let Error::Graph(g) = &err else {
        panic!("expected a Graph error, got {err:?}")
    };
    assert_eq!(g.status, 403);
    assert_eq!(g.code.as_deref(), Some("Forbidden"));
    assert_eq!(
        g.message.as_deref(),
        Some("Application access policy not found.")
    );
    assert_eq!(g.request_id.as_deref(), Some("req-9"));
    // The call's own, which Graph echoed.
    let ours = the_request_id(&server).await;
    assert_eq!(g.client_request_id.as_deref(), Some(ours.as_str()));
    assert_eq!(g.date.as_deref(), Some("2026-11-23T10:00:00"));
    assert_eq!(g.attempts, 1);
    let text = err.to_string();
    assert!(
        text.contains("403") && text.contains("Forbidden") && text.contains("req-9"),
        "{text}"
    );
}

#[tokio::test]
async fn malformed_answers_are_errors_with_status_and_excerpt() {
    let cases: [(u16, &str, &str); 4] = [
        (201, "<html>oops</html>", "decode"),
        (200, r#"{"id": 5}"#, "decode"),
        (400, "<html>bad gateway-ish</html>", "graph"),
        (404, "", "graph"),
    ];
    for (status, body, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_raw(body, "text/html")
                    .insert_header("request-id", "rid-bad"),
            )
            .mount(&server)
            .await;
        let err = client(&server, ApiVersion::V1)
            .create_or_get(&User::Me, cog("x"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err}");
        // Made or found a meeting, or not: the answer's ID is what support traces it by.
        assert_eq!(err.request_id(), Some("rid-bad"), "{err:?}");
        match (kind, &err) {
            ("decode", Error::Decode { body: kept, .. }) => {
                // The whole answer is kept (a meeting may be in it); the message quotes its start.
                assert_eq!(kept.as_bytes(), body.as_bytes());
                assert!(
                    err.to_string().contains(&format!("{:?}", kept.excerpt())),
                    "{err}"
                );
                assert_eq!(err.body(), Some(kept));
                let sent = server.received_requests().await.unwrap();
                let sent = sent.last().unwrap().headers.get("client-request-id");
                assert_eq!(err.client_request_id(), sent.map(|v| v.to_str().unwrap()));
            }
            ("graph", Error::Graph(g)) => assert_eq!(g.code, None),
            _ => panic!("{status} {body:?}: unexpected {err:?}"),
        }
    }
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let big = format!(r#"{{"id": "{}"}}"#, "x".repeat(100_000));
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_raw(big, "application/json")
                .insert_header("request-id", "rid-big"),
        )
        .mount(&server)
        .await;
    let c = Client::builder()
        .base_url(server.uri())
        .static_token("t")
        .max_response_bytes(graph_meetings::MIN_RESPONSE_BYTES)
        .build()
        .unwrap();
    let err = c.create_or_get(&User::Me, cog("x")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::ResponseTooLarge {
                status: 201,
                limit: graph_meetings::MIN_RESPONSE_BYTES,
                ..
            }
        ),
        "{err:?}"
    );
    // The answer was not kept, but its headers were read: both IDs lead support to the meeting.
    assert_eq!(err.request_id(), Some("rid-big"));
    let received = server.received_requests().await.unwrap();
    let sent = received[0].headers.get("client-request-id").unwrap();
    assert_eq!(err.client_request_id(), Some(sent.to_str().unwrap()));
}

#[tokio::test]
async fn a_body_that_arrives_in_pieces_is_read_whole() {
    let body = support::meeting("x").to_string();
    let (a, rest) = body.split_at(10);
    let (b, c) = rest.split_at(rest.len() / 2);
    let pieces = vec![a.to_owned(), b.to_owned(), c.to_owned()];
    let server = support::Script::start(move |_| support::Act::InPieces(201, pieces.clone())).await;
    let c = Client::builder()
        .base_url(&server.url)
        .static_token("t")
        .build()
        .unwrap();
    let answer = c.create_or_get(&User::Me, cog("x")).await.unwrap();
    assert_eq!(answer.raw, body.as_bytes());
    assert_eq!(answer.meeting.id.as_deref(), Some("meeting-x"));
    assert_eq!(answer.outcome, Outcome::Created);
}

#[tokio::test]
async fn a_body_of_exactly_the_cap_is_read_however_it_arrives_and_one_byte_more_is_not() {
    let limit = graph_meetings::MIN_RESPONSE_BYTES;
    // A meeting padded to `len` bytes.
    let sized = |len: usize| {
        let mut meeting = support::meeting("x");
        meeting["pad"] = json!("");
        let pad = len - meeting.to_string().len();
        meeting["pad"] = json!("p".repeat(pad));
        let body = meeting.to_string();
        assert_eq!(body.len(), len);
        body
    };
    for len in [limit, limit + 1] {
        let body = sized(len);
        let (a, rest) = body.split_at(100);
        let (b, c) = rest.split_at(rest.len() / 2);
        let ways = [
            (
                "with Content-Length",
                support::Act::Respond(201, vec![], body.clone()),
            ),
            (
                "in one chunk",
                support::Act::InPieces(201, vec![body.clone()]),
            ),
            (
                "in three chunks",
                support::Act::InPieces(201, vec![a.to_owned(), b.to_owned(), c.to_owned()]),
            ),
        ];
        for (way, act) in ways {
            let server = support::Script::start(move |_| act.clone()).await;
            let c = Client::builder()
                .base_url(&server.url)
                .static_token("t")
                .max_response_bytes(limit)
                .retry(RetryPolicy::none())
                .build()
                .unwrap();
            let result = c.create_or_get(&User::Me, cog("x")).await;
            match (len == limit, result) {
                (true, Ok(answer)) => assert_eq!(answer.raw, body.as_bytes(), "{way}"),
                (false, Err(Error::ResponseTooLarge { status: 201, .. })) => {}
                (_, other) => panic!("{len} bytes {way}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_streamed_body_without_length_is_cut_off_at_the_cap() {
    // 200 MiB promised in chunks: refused after the cap, not buffered.
    let server = support::Script::start(|_| support::Act::Chunked(201, 200 * 1024 * 1024)).await;
    let c = Client::builder()
        .base_url(&server.url)
        .static_token("t")
        .build()
        .unwrap();
    let err = c.create_or_get(&User::Me, cog("x")).await.unwrap_err();
    assert!(
        matches!(err, Error::ResponseTooLarge { status: 201, limit, .. } if limit == graph_meetings::DEFAULT_MAX_RESPONSE_BYTES),
        "{err:?}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = answering(201, json!({"id": "m"})).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "location",
            format!("{}/v1.0/me/onlineMeetings", elsewhere.uri()),
        ))
        .mount(&server)
        .await;
    let err = client(&server, ApiVersion::V1)
        .create(&User::Me, types::OnlineMeeting::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(307), "{err}");
    assert!(
        sent(&elsewhere).await.is_empty(),
        "nothing, credentials least of all, reached the other origin"
    );
}

#[tokio::test]
async fn an_undeclared_success_status_from_create_is_an_unknown_outcome_that_keeps_the_body() {
    // create declares 201 only. A 200 is not a meeting this client can vouch for, but the
    // service did act: the caller must not take it for a failure that is safe to repeat, and
    // the error keeps what Graph said, the start of the body included, for support cases.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Echoing(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "meeting-200"}))
                .insert_header("request-id", "rid-200"),
        ))
        .mount(&server)
        .await;
    let err = client(&server, ApiVersion::V1)
        .create(&User::Me, types::OnlineMeeting::default())
        .await
        .unwrap_err();
    let Error::OutcomeUnknown {
        graph, attempts: 1, ..
    } = &err
    else {
        panic!("expected an unknown outcome, got {err:?}")
    };
    // A 200 is no error of Graph's: a caller logging `graph()` as a refusal must not see one.
    assert!(graph.is_none(), "{err:?}");
    assert_eq!(err.status(), Some(200));
    assert_eq!(err.request_id(), Some("rid-200"));
    let ours = the_request_id(&server).await;
    assert_eq!(err.client_request_id(), Some(ours.as_str()));
    let body = err.body().expect("the body is kept");
    assert!(body.excerpt().contains("meeting-200"), "{err:?}");
    // Where the meeting that was made can be found.
    assert_eq!(body.meeting_id().as_deref(), Some("meeting-200"));
    assert_eq!(body.join_web_url(), None);
    assert_eq!(sent(&server).await.len(), 1);
}

#[tokio::test]
async fn an_undeclared_success_status_from_create_or_get_is_an_unusable_answer() {
    // createOrGet is keyed, so repeating it is safe: an answer it cannot use (no error of
    // Graph's), its body kept, with the client's own client-request-id.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("request-id", "rid-202")
                .set_body_raw(r#"{"id":"m-202"}"#, "application/json"),
        )
        .mount(&server)
        .await;
    let err = client(&server, ApiVersion::V1)
        .create_or_get(&User::Me, cog("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { status: 202, .. }), "{err:?}");
    assert!(err.graph().is_none(), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Graph);
    assert!(!err.is_transient());
    assert_eq!(err.request_id(), Some("rid-202"));
    assert_eq!(
        err.body().and_then(|b| b.meeting_id()).as_deref(),
        Some("m-202")
    );
    let requests = sent(&server).await;
    let sent_id = requests[0]
        .headers
        .get("client-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(err.client_request_id(), Some(sent_id));
}

#[tokio::test]
async fn a_content_length_far_beyond_the_body_reserves_no_memory_for_it() {
    // The header promises a petabyte, the cap allows it, and small pieces arrive one at a
    // time before the connection closes: a cut-off body, not an attempt to allocate what was
    // promised. (The buffer is sized once a second piece arrives; several pieces, each after
    // a pause, make sure one does.)
    let pieces: Vec<String> = ["{", "\"id\"", ":", "\"m\"", ","].map(String::from).into();
    let server = support::Script::start(move |_| {
        support::Act::Promise(201, 1_000_000_000_000_000, pieces.clone())
    })
    .await;
    let c = Client::builder()
        .base_url(&server.url)
        .static_token("t")
        .max_response_bytes(usize::MAX)
        .build()
        .unwrap();
    let err = c
        .create(&User::Me, types::OnlineMeeting::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::OutcomeUnknown { attempts: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn plain_http_roots_are_refused_unless_loopback() {
    for bad in [
        "http://graph.microsoft.com",
        "http://10.1.2.3:8080",
        "http://example.com",
    ] {
        let err = Client::builder()
            .base_url(bad)
            .static_token("t")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{bad}");
    }
    for ok in [
        "http://127.0.0.1:1",
        "http://[::1]:1",
        "http://localhost:1",
        "https://graph.microsoft.com",
    ] {
        assert!(
            Client::builder()
                .base_url(ok)
                .static_token("t")
                .build()
                .is_ok(),
            "{ok}"
        );
    }
    let c = Client::builder()
        .static_token("t")
        .api_version(ApiVersion::Beta)
        .build()
        .unwrap();
    assert_eq!(c.base_url(), "https://graph.microsoft.com/beta");
    let c = Client::builder()
        .static_token("t")
        .cloud(graph_meetings::Cloud::China)
        .build()
        .unwrap();
    assert_eq!(c.base_url(), "https://microsoftgraph.chinacloudapi.cn/v1.0");
}

#[test]
fn a_client_needs_a_token_provider() {
    assert!(matches!(Client::builder().build(), Err(Error::Config(_))));
}

#[test]
fn a_static_token_that_cannot_be_sent_is_refused_when_the_client_is_built() {
    // An unset variable read with `unwrap_or_default()` would go out as `Bearer ` and come
    // back as a 401 that says nothing of the cause; a line break pasted inside a token would
    // fail every call.
    for (token, reason) in [
        ("", "empty"),
        ("  \n", "empty"),
        ("Bearer ", "empty"),
        ("\"\"", "empty"),
        ("eyJ0\neyJ1", "cannot be sent in a header"),
    ] {
        let err = Client::builder().static_token(token).build().unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains(reason)),
            "{token:?}: {err:?}"
        );
    }
}

#[test]
fn a_root_with_the_version_in_it_is_refused_not_doubled() {
    // `/v1.0/v1.0/...` (or `/v1.0/beta/...`) would only come back from Graph as a 4xx.
    for bad in [
        "https://graph.microsoft.com/v1.0",
        "https://graph.microsoft.com/beta/",
        "http://127.0.0.1:1/graph/v1.0",
        // Graph's paths are case-insensitive.
        "http://127.0.0.1:1/V1.0",
        "https://graph.microsoft.com/Beta",
        // A request's URL pasted as the root: every call would go somewhere else.
        "https://graph.microsoft.com/v1.0/me",
        "http://127.0.0.1:1/beta/users/x/onlineMeetings",
    ] {
        let err = root_error(bad);
        assert!(
            matches!(&err, Error::Config(m) if m.contains("api_version")),
            "{bad}: {err:?}"
        );
    }
    // A root under a path of its own is fine (a gateway, say).
    let c = Client::builder()
        .base_url("http://127.0.0.1:1/graph")
        .static_token("t")
        .build()
        .unwrap();
    assert_eq!(c.base_url(), "http://127.0.0.1:1/graph/v1.0");
}

#[test]
fn a_user_agent_that_cannot_be_sent_is_named() {
    let err = Client::builder()
        .static_token("t")
        .user_agent("svc/1.0\r\nX-Injected: 1")
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("user_agent") && !m.contains('\n')),
        "{err:?}"
    );
}

#[test]
fn a_response_cap_too_small_for_any_meeting_is_refused() {
    // Every create would make a meeting and then report an unknown outcome.
    for limit in [0, 1_024, graph_meetings::MIN_RESPONSE_BYTES - 1] {
        let err = Client::builder()
            .static_token("t")
            .max_response_bytes(limit)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{limit}");
    }
    assert!(Client::builder()
        .static_token("t")
        .max_response_bytes(graph_meetings::MIN_RESPONSE_BYTES)
        .build()
        .is_ok());
}

#[tokio::test]
async fn known_properties_smuggled_through_extra_are_checked_and_sent_once() {
    let server = answering(201, json!({"id": "m"})).await;
    let c = client(&server, ApiVersion::V1);
    let mut request = cog("typed");
    request.start_date_time = Some(at("2020-01-01T10:00:00Z").into());
    request
        .extra
        .insert("endDateTime".into(), json!("1999-01-01T00:00:00Z"));
    let err = c.create_or_get(&User::Me, request).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidRequest(InvalidRequest::EndBeforeStart { .. })
        ),
        "{err:?}"
    );
    assert!(sent(&server).await.is_empty());

    // Left at its default, the field takes the value from extra: it is sent once, checked.
    let mut request = cog("");
    request
        .extra
        .insert("externalId".into(), json!("from-extra"));
    request
        .extra
        .insert("futureProperty".into(), json!({"on": true}));
    c.create_or_get(&User::Me, request).await.unwrap();
    let body = String::from_utf8(sent(&server).await[0].body.clone()).unwrap();
    assert_eq!(body.matches("\"externalId\"").count(), 1, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["externalId"], "from-extra");
    assert_eq!(body["futureProperty"], json!({"on": true}));

    // Set in both places to different values (the idempotency key, say): which was meant
    // cannot be told, so nothing is sent. The same value in both is no conflict.
    for (name, value) in [
        ("externalId", json!("from-extra")),
        ("subject", Value::Null),
        ("subject", json!("other")),
    ] {
        let mut request = cog("typed");
        request.subject = Some("typed subject".into());
        request.extra.insert(name.into(), value);
        let err = c.create_or_get(&User::Me, request).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(InvalidRequest::InvalidField { reason })
                if reason.contains(name) && reason.contains("both")),
            "{name}: {err:?}"
        );
    }
    assert_eq!(
        sent(&server).await.len(),
        1,
        "only the settled request went out"
    );
    let mut request = cog("typed");
    request.extra.insert("externalId".into(), json!("typed"));
    c.create_or_get(&User::Me, request).await.unwrap();
    // The same instant, written another way, is the same value.
    let mut request = cog("typed");
    request.start_date_time = Some(at("2020-01-01T10:00:00Z").into());
    request
        .extra
        .insert("startDateTime".into(), json!("2020-01-01T11:00:00+01:00"));
    c.create_or_get(&User::Me, request).await.unwrap();

    // Spelt in another case, a checked property would go out unchecked beside its field:
    // refused, for create too. Another property in another case is only unknown. Unicode's
    // case mappings count too (a dotless `ı` and a long `ſ` upper-case to `I` and `S`).
    for name in [
        "EndDateTime",
        "startdatetime",
        "EXTERNALID",
        "chatinfo",
        "endDateT\u{131}me",
        "\u{17f}tartDateTime",
        "external\u{131}d",
    ] {
        let mut request = cog("typed");
        request
            .extra
            .insert(name.into(), json!("1999-01-01T00:00:00Z"));
        let err = c.create_or_get(&User::Me, request).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(InvalidRequest::InvalidField { reason })
                if reason.contains(name) && reason.contains("only in case")),
            "{name}: {err:?}"
        );
    }
    let mut meeting = types::OnlineMeeting::default();
    meeting.extra.insert("endDATETIME".into(), json!("x"));
    let err = c.create(&User::Me, meeting).await.unwrap_err();
    assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
    let before = sent(&server).await.len();
    let mut request = cog("typed");
    request.extra.insert("Subject".into(), json!("s"));
    c.create_or_get(&User::Me, request).await.unwrap();
    assert_eq!(sent(&server).await.len(), before + 1);

    let mut request = cog("typed");
    request
        .extra
        .insert("startDateTime".into(), json!("not a time"));
    let err = c.create_or_get(&User::Me, request).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidRequest(InvalidRequest::InvalidField { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreadable_error_body_keeps_the_response_ids() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Echoing(
            ResponseTemplate::new(400)
                .insert_header("request-id", "rid-42")
                .set_body_raw("<html>proxy error</html>", "text/html"),
        ))
        .mount(&server)
        .await;
    let err = client(&server, ApiVersion::V1)
        .create_or_get(&User::Me, cog("x"))
        .await
        .unwrap_err();
    let g = err.graph().expect("a Graph error");
    let ours = the_request_id(&server).await;
    assert_eq!(
        (
            g.status,
            g.request_id.as_deref(),
            g.client_request_id.as_deref()
        ),
        (400, Some("rid-42"), Some(ours.as_str()))
    );
    assert!(g.message.as_deref().unwrap().contains("proxy error"));
}

#[tokio::test]
async fn an_error_body_of_another_shape_still_gives_graphs_code_and_message() {
    // Graph's error with a field of a type the description does not expect: the typed body
    // is not had, but the code and message a caller sorts errors by are.
    let body = json!({"error": {"code": "BadRequest", "message": "m",
        "innerError": {"request-id": 5}}});
    let server = answering(400, body).await;
    let err = client(&server, ApiVersion::V1)
        .create_or_get(&User::Me, cog("x"))
        .await
        .unwrap_err();
    let g = err.graph().expect("a Graph error");
    assert_eq!(
        (g.status, g.code.as_deref(), g.message.as_deref()),
        (400, Some("BadRequest"), Some("m"))
    );
    assert_eq!(err.kind(), ErrorKind::Graph);
}

#[tokio::test]
async fn create_answered_2xx_with_an_unusable_body_says_the_meeting_may_exist() {
    let limit = graph_meetings::MIN_RESPONSE_BYTES;
    for body in [
        "<html>not json</html>".to_string(),
        format!(r#"{{"id": "{}"}}"#, "x".repeat(limit)),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(201)
                    .set_body_raw(body.clone(), "application/json")
                    .insert_header("request-id", "req-201"),
            )
            .mount(&server)
            .await;
        let c = Client::builder()
            .base_url(server.uri())
            .static_token("t")
            .max_response_bytes(limit)
            .build()
            .unwrap();
        let err = c
            .create(&User::Me, types::OnlineMeeting::default())
            .await
            .unwrap_err();
        let Error::OutcomeUnknown {
            reason,
            attempts: 1,
            graph: None,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(
            reason.contains("201") && reason.contains("created"),
            "{reason}"
        );
        // What the answer did say is kept: its status, and its request-id to trace the meeting
        // (but no "Graph's error": the 201 made a meeting).
        assert_eq!(err.status(), Some(201));
        assert_eq!(err.request_id(), Some("req-201"));
        // createOrGet can simply be repeated, so there it stays a plain error.
        let err = c.create_or_get(&User::Me, cog("x")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Decode { status: 201, .. } | Error::ResponseTooLarge { status: 201, .. }
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn localhost_reaches_the_loopback_server_on_the_urls_port() {
    let server = support::Script::start(|_| support::json(201, support::meeting("x"))).await;
    let port = server.url.rsplit(':').next().unwrap();
    let c = Client::builder()
        .base_url(format!("http://localhost:{port}"))
        .static_token("t")
        .build()
        .unwrap();
    c.create_or_get(&User::Me, cog("x")).await.unwrap();
    assert_eq!(server.count(), 1);
}

#[test]
fn a_password_in_a_configured_root_stays_out_of_a_builders_debug() {
    // `build()` refuses such a root; until then the builder holds it, and may be logged.
    let root = "https://app-user:hunter2@127.0.0.1:8443";
    let client = Client::builder().static_token("t").base_url(root);
    let credentials =
        graph_meetings::ClientCredentials::builder("contoso.example", "app", "s3cret")
            .authority_host(root);
    for shown in [format!("{client:?}"), format!("{credentials:?}")] {
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert!(
            shown.contains("***@127.0.0.1:8443"),
            "the host is shown: {shown}"
        );
    }
    assert!(client.build().is_err());
}

#[test]
fn a_proxy_password_stays_out_of_debug_output_and_errors() {
    let with_password = "http://proxy-user:hunter2@127.0.0.1:3128";
    // Without a scheme too: reqwest reads it as http://.
    for proxy in [with_password, "proxy-user:hunter2@127.0.0.1:3128"] {
        let builder = Client::builder().static_token("t").https_proxy(proxy);
        let shown = format!("{builder:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("***@127.0.0.1:3128"),
            "the proxy itself is shown: {shown}"
        );
    }
    let builder = Client::builder()
        .static_token("t")
        .https_proxy(with_password);
    let client = builder.build().unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains("hunter2"), "{shown}");

    let credentials =
        graph_meetings::ClientCredentials::builder("contoso.example", "app", "s3cret")
            .https_proxy(with_password)
            .build()
            .unwrap();
    assert!(!format!("{credentials:?}").contains("hunter2"));

    for bad in [
        "http://proxy-user:hunter2@[::1",
        "hunter2@@::",
        "proxy-user:hunter2@127.0.0.1:99999",
    ] {
        let err = Client::builder()
            .static_token("t")
            .https_proxy(bad)
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }
}

/// `proxy` given to the client and to client credentials: both refuse it as configuration.
fn refused_as_proxy(proxy: &str) -> [graph_meetings::Error; 2] {
    let client = Client::builder()
        .static_token("t")
        .https_proxy(proxy)
        .build()
        .unwrap_err();
    let credentials = graph_meetings::ClientCredentials::builder("contoso.example", "app", "s")
        .https_proxy(proxy)
        .build()
        .unwrap_err();
    for err in [&client, &credentials] {
        assert!(
            matches!(err, graph_meetings::Error::Config(_)),
            "{proxy}: {err:?}"
        );
    }
    [client, credentials]
}

#[test]
fn a_proxy_of_a_scheme_the_client_does_not_speak_is_refused_not_gone_around() {
    // reqwest would take these and then connect straight to Graph, past the proxy asked for.
    for (proxy, scheme) in [
        ("htp://proxy-user:hunter2@127.0.0.1:3128", "htp"),
        ("ftp://127.0.0.1:3128", "ftp"),
        ("socks5://127.0.0.1:1080", "socks5"),
    ] {
        let [err, _] = refused_as_proxy(proxy);
        let message = err.to_string();
        assert!(message.contains(&format!("scheme {scheme:?}")), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    // A host the URL parser takes and the connector's stricter reading does not: no proxy
    // would be set at all, and requests would go straight out.
    for proxy in [
        "http://loc\"alhost:3128",
        "http://local{host}:3128",
        "http://local`host:3128",
        "proxy-user:hunter2@local{host}:3128",
    ] {
        let [err, _] = refused_as_proxy(proxy);
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    // What reqwest tunnels through: http and https proxies, and a bare host read as http.
    for proxy in [
        "http://127.0.0.1:3128",
        "HTTPS://127.0.0.1:3128",
        "127.0.0.1:3128",
        "localhost:3128",
    ] {
        Client::builder()
            .static_token("t")
            .https_proxy(proxy)
            .build()
            .unwrap_or_else(|e| panic!("{proxy}: {e}"));
    }
}

#[tokio::test]
async fn a_connection_refused_says_so_in_the_error() {
    // Port 1 on loopback: nothing listens, so the connection is refused at once. reqwest's own
    // words ("error sending request for url …") do not say why; the error must.
    let client = Client::builder()
        .base_url("http://127.0.0.1:1")
        .static_token("t")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let request = types::CreateOrGetRequest {
        external_id: "refused".into(),
        ..Default::default()
    };
    let err = client
        .create_or_get(&User::id("u1").unwrap(), request)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(
        err.is_transient(),
        "a refused connection may be accepted later"
    );
    let text = err.to_string();
    assert!(text.contains("could not connect"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    // The message is whole, so a reporter walking sources (anyhow's `{:#}`) prints the cause
    // once; the cause itself stays reachable, and a copy of the error says the same.
    assert!(std::error::Error::source(&err).is_none(), "{err:?}");
    let Error::Transport { cause, .. } = &err else {
        unreachable!()
    };
    assert!(
        cause.downcast_ref::<reqwest::Error>().is_some(),
        "{cause:?}"
    );
    assert_eq!(err.clone().to_string(), text);
}

#[tokio::test]
async fn a_create_whose_connection_is_never_made_is_a_plain_transport_failure() {
    // A listener that accepts and never answers the TLS handshake: the connect limit fires
    // before anything of the request left, so create's failure is safe to repeat (not an
    // unknown outcome). (The command's client, with a layer around the connector, is checked
    // in tests/cli_requests.rs.)
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let client = Client::builder()
        .base_url(base)
        .static_token("t")
        .connect_timeout(std::time::Duration::from_millis(200))
        .timeout(std::time::Duration::from_secs(30))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .create(&User::Me, types::OnlineMeeting::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("could not connect"), "{err}");
    drop(listener);
}

#[test]
fn wrapped_errors_are_told_once_down_a_chain_of_sources() {
    for err in [
        Error::from(InvalidRequest::MissingExternalId),
        Error::from(AuthError::Transport("endpoint gone".into())),
    ] {
        let mut chain = vec![err.to_string()];
        let mut next = std::error::Error::source(&err);
        while let Some(e) = next {
            chain.push(e.to_string());
            next = e.source();
        }
        assert_eq!(chain.len(), 1, "{chain:?}");
    }
}

#[tokio::test]
async fn https_to_a_plain_http_port_says_the_tls_handshake_failed() {
    // A plain-http server on loopback, addressed with https: the connection is made and the
    // handshake is what fails, which "could not connect" alone would hide.
    let server = answering(201, json!({"id": "m"})).await;
    let root = server.uri().replace("http://", "https://");
    let client = Client::builder()
        .base_url(root)
        .static_token("t")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .create(&User::Me, types::OnlineMeeting::default())
        .await
        .unwrap_err();
    // Nothing was delivered: a plain transport failure, not an unknown outcome.
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("the TLS handshake failed"), "{text}");
}

#[test]
fn a_root_without_its_scheme_is_refused_with_the_fix() {
    // `127.0.0.1:8080` is no URL, and `localhost:8080` parses as one of scheme `localhost`.
    for bad in ["127.0.0.1:8080", "localhost:8080"] {
        let err = root_error(bad);
        assert!(
            matches!(&err, Error::Config(m) if m.contains("give the scheme too")),
            "{bad}: {err:?}"
        );
    }
    // `user:pass@host` parses as a URL of scheme `user`: its password stays out of the message.
    let err = root_error("user:hunter2@graph.example");
    assert!(
        matches!(&err, Error::Config(m) if m.contains("give the scheme too") && !m.contains("hunter2")),
        "{err:?}"
    );
    let err = root_error("ftp://127.0.0.1");
    assert!(
        matches!(&err, Error::Config(m) if m.contains("unsupported scheme") && !m.contains("too")),
        "{err:?}"
    );
}

/// Why a client with Graph root `root` cannot be built.
fn root_error(root: &str) -> Error {
    Client::builder()
        .base_url(root)
        .static_token("t")
        .build()
        .unwrap_err()
}

/// A server that repeats the request's `Authorization` header in its answer, as a misconfigured
/// proxy or a debugging endpoint might: in its `request-id` and `client-request-id` headers, and
/// in the body, `{auth}` as sent, `{escaped}` as a JSON writer may escape it (`+` as .NET
/// writes it, `/` as PHP does).
/// The token the echoing tests look for (with the characters JSON writers escape), and a
/// client of `server` that sends it (no retries).
const CANARY: &str = "EwB0A8l6+canary/token==";

fn canary_client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.uri())
        .static_token(CANARY)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// The `Authorization` header `request` carried, as text.
fn authorization(request: &wiremock::Request) -> &str {
    request.headers["authorization"].to_str().unwrap()
}

async fn echoing(status: u16, content_type: &str, template: &'static str) -> MockServer {
    struct Echo(u16, String, &'static str);
    impl wiremock::Respond for Echo {
        fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
            let auth = authorization(request);
            let escaped = auth.replace('+', "\\u002B").replace('/', "\\/");
            // As a URL or a form would quote it: `+`, `/` and `=` as `%2B`, `%2F`, `%3D`.
            let token = auth.strip_prefix("Bearer ").unwrap();
            let percent: String = token
                .bytes()
                .map(|b| match b.is_ascii_alphanumeric() || b == b'-' {
                    true => (b as char).to_string(),
                    false => format!("%{b:02X}"),
                })
                .collect();
            let body = self
                .2
                .replace("{auth}", auth)
                .replace("{escaped}", &escaped)
                .replace("{percent}", &format!("Bearer {percent}"));
            // The client-request-id echoed as sent: an answer echoing another is another
            // request's, and none of it is read (see the foreign test below).
            let id = request.headers.get("client-request-id").unwrap();
            ResponseTemplate::new(self.0)
                .insert_header("request-id", auth)
                .insert_header("client-request-id", id.clone())
                .set_body_raw(body, &self.1)
        }
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Echo(status, content_type.into(), template))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_answer_repeating_the_token_never_puts_it_in_an_error() {
    // CANARY: an opaque token with the characters JSON writers escape.
    let cases: [(u16, &str, &'static str); 9] = [
        // Quoted in a URL: the token percent-encoded.
        (
            400,
            "text/plain",
            "See https://proxy.test/login?authorization={percent}",
        ),
        (
            503,
            "application/json",
            r#"{"error":{"code":"Unavailable","message":"{percent}"}}"#,
        ),
        (400, "text/plain", "You sent Authorization: {auth}"),
        (
            403,
            "application/json",
            r#"{"error":{"code":"Forbidden {auth}","message":"no: {auth}"}}"#,
        ),
        (
            403,
            "application/json",
            r#"{"error":{"code":"Forbidden","message":"no: {escaped}","innerError":{"{escaped}":1}}}"#,
        ),
        (201, "text/html", "<html>{auth}</html>"),
        (201, "application/json", r#"{"id": 7, "subject": "{auth}"}"#),
        // Decodes, but no meeting in it.
        (201, "application/json", r#"{"subject": "{escaped}"}"#),
        (
            200,
            "application/json",
            r#"{"error": {"message": "{escaped}"}}"#,
        ),
    ];
    for (status, content_type, template) in cases {
        for create in [false, true] {
            let server = echoing(status, content_type, template).await;
            let client = canary_client(&server);
            let err = match create {
                true => client
                    .create(&User::Me, types::OnlineMeeting::default())
                    .await
                    .unwrap_err(),
                false => client.create_or_get(&User::Me, cog("x")).await.unwrap_err(),
            };
            let printed = format!("{err} {err:?} {err:#?}");
            assert!(
                !printed.contains("canary"),
                "{status} {template}: {printed}"
            );
            // What was kept of the answer is there, with the token blanked.
            if let Some(body) = err.body() {
                let text = String::from_utf8_lossy(body.as_bytes());
                assert!(!text.contains("canary"), "{text}");
                assert!(text.contains("Bearer ***"), "{text}");
            } else {
                assert!(printed.contains("Bearer ***"), "{printed}");
            }
        }
    }
}

#[tokio::test]
async fn another_requests_answer_echoing_the_token_in_its_client_request_id_has_it_blanked() {
    struct Foreign;
    impl wiremock::Respond for Foreign {
        fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
            let auth = authorization(request);
            ResponseTemplate::new(201)
                .insert_header(
                    "client-request-id",
                    format!("11111111-1111-1111-1111-111111111111, {auth}"),
                )
                .set_body_raw(r#"{"id": "m"}"#, "application/json")
        }
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Foreign)
        .mount(&server)
        .await;
    let client = canary_client(&server);
    for err in [
        client
            .create(&User::Me, types::OnlineMeeting::default())
            .await
            .unwrap_err(),
        client.create_or_get(&User::Me, cog("x")).await.unwrap_err(),
    ] {
        let printed = format!("{err} {err:?} {err:#?}");
        assert!(!printed.contains("canary"), "{printed}");
        assert!(printed.contains("Bearer ***"), "{printed}");
    }
}

#[tokio::test]
async fn a_meeting_whose_answer_repeats_the_token_in_its_headers_has_it_blanked() {
    let server = echoing(201, "application/json", r#"{"id": "m"}"#).await;
    let answer = canary_client(&server)
        .create_or_get(&User::Me, cog("x"))
        .await
        .unwrap();
    assert_eq!(answer.request_id.as_deref(), Some("Bearer ***"));
}

#[tokio::test]
async fn a_success_without_a_meeting_is_not_taken_for_one() {
    let gateway = json!({"error": {"code": "ServiceUnavailable", "message": "try later"}});
    for body in [
        json!({}),
        json!({"@odata.context": "x"}),
        gateway,
        json!({"id": ""}),
        json!({"id": " \t"}),
    ] {
        // createOrGet: an unusable answer, with its status and body kept.
        let server = answering(200, body.clone()).await;
        let err = client(&server, ApiVersion::V1)
            .create_or_get(&User::Me, cog("x"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::Graph);
        assert!(err.to_string().contains("no meeting (no id)"), "{err}");
        assert_eq!(err.body().unwrap().as_bytes(), body.to_string().as_bytes());

        // create: the 201 says a meeting was made, so the outcome is unknown, body kept.
        let server = answering(201, body.clone()).await;
        let err = client(&server, ApiVersion::V1)
            .create(&User::Me, types::OnlineMeeting::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err:?}");
        assert_eq!(err.body().unwrap().as_bytes(), body.to_string().as_bytes());
        assert_eq!(err.request_id(), Some("rid-1"));
    }
}

#[tokio::test]
async fn create_or_get_refuses_another_external_ids_meeting() {
    let other = json!({"id": "m-1", "externalId": "someone-else", "joinWebUrl": "https://j"});
    let server = answering(200, other.clone()).await;
    let err = client(&server, ApiVersion::V1)
        .create_or_get(&User::Me, cog("mine"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { status: 200, .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(r#"externalId "someone-else", not of "mine""#),
        "{text}"
    );
    assert_eq!(err.body().unwrap().as_bytes(), other.to_string().as_bytes());

    // The same externalId, or none in the answer, is the meeting asked for; so is one that
    // differs only in case or surrounding spaces (should Graph normalise the key).
    for answered in [json!("mine"), json!("MINE"), json!(" mine "), Value::Null] {
        let mut meeting = json!({"id": "m-1"});
        if !answered.is_null() {
            meeting["externalId"] = answered;
        }
        let server = answering(201, meeting).await;
        let got = client(&server, ApiVersion::V1)
            .create_or_get(&User::Me, cog("mine"))
            .await
            .unwrap();
        assert_eq!(got.meeting.id.as_deref(), Some("m-1"));
    }
    // create asks for no externalId, so any in the answer is the meeting's own.
    let server = answering(201, other).await;
    let got = client(&server, ApiVersion::V1)
        .create(&User::Me, types::OnlineMeeting::default())
        .await
        .unwrap();
    assert_eq!(got.meeting.external_id.as_deref(), Some("someone-else"));
}

#[tokio::test]
async fn a_see_other_after_create_is_an_unknown_outcome() {
    // 303 answers a request that was carried out: create may have made a meeting. createOrGet
    // can be repeated, so it is Graph's error like any other redirect; neither is followed.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(303).insert_header("location", "http://127.0.0.1:9/x"))
        .mount(&server)
        .await;
    let c = client(&server, ApiVersion::V1);
    let err = c
        .create(&User::Me, types::OnlineMeeting::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err:?}");
    assert_eq!(err.status(), Some(303));
    // Why it was not followed is kept with it.
    let message = err.graph().and_then(|g| g.message.as_deref());
    assert!(
        message.is_some_and(|m| m.contains("not followed")),
        "{err:?}"
    );
    let err = c.create_or_get(&User::Me, cog("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Graph, "{err:?}");
    assert_eq!(sent(&server).await.len(), 2, "no redirect was followed");
}

#[test]
fn a_service_can_stand_in_for_graphs_throttling_in_its_own_tests() {
    // What a service's test double returns to see how it handles a 429 with Retry-After.
    let mut throttled = graph_meetings::GraphError::new(429);
    throttled.code = Some("TooManyRequests".into());
    throttled.retry_after = Some(std::time::Duration::from_secs(30));
    let err = Error::Graph(Box::new(throttled));
    assert_eq!(err.kind(), ErrorKind::Graph);
    assert!(err.is_transient());
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.attempts(), Some(1));
    let graph = err.graph().expect("Graph's error");
    assert_eq!(graph.retry_after, Some(std::time::Duration::from_secs(30)));
    assert!(
        err.to_string()
            .starts_with("Graph answered HTTP 429 TooManyRequests: no message"),
        "{err}"
    );
    let forbidden = Error::Graph(Box::new(graph_meetings::GraphError::new(403)));
    assert!(!forbidden.is_transient());
}

#[tokio::test]
async fn a_services_text_as_long_as_the_cap_is_cut_short_in_messages_and_kept_whole_in_fields() {
    // A broken or hostile service must not make one failed call write megabytes into a log.
    let message = "m".repeat(3 << 20);
    let server = answering(
        400,
        json!({"error": {"code": "BadRequest", "message": message}}),
    )
    .await;
    let err = client(&server, ApiVersion::V1)
        .create_or_get(&User::Me, seed_create_or_get())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.len() < 4096, "{} bytes", text.len());
    assert!(
        text.contains("characters left out") && text.contains("rid-1"),
        "{text}"
    );
    assert_eq!(
        err.graph().unwrap().message.as_deref(),
        Some(message.as_str())
    );

    // serde quotes the value it could not read: its position, at the end, stays.
    let broadcast_as = |value: String| async move {
        let mut meeting = serde_json::from_str::<Value>(include_str!(
            "fixtures/seed_create_or_get_response.json"
        ))
        .unwrap();
        meeting["isBroadcast"] = json!(value);
        let server = answering(201, meeting).await;
        client(&server, ApiVersion::V1)
            .create_or_get(&User::Me, seed_create_or_get())
            .await
            .unwrap_err()
    };
    let err = broadcast_as("b".repeat(2 << 20)).await;
    let text = err.to_string();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(text.len() < 4096, "{} bytes", text.len());
    assert!(text.contains("at line 1 column"), "{text}");

    // The token, where serde's quote would be cut across it, is blanked before the cut.
    let prefix = "invalid type: string \"".len();
    let astride = format!(
        "{}test-token{}",
        "x".repeat(768 - 4 - prefix),
        "y".repeat(5000)
    );
    let text = broadcast_as(astride).await.to_string();
    assert!(text.contains("characters left out"), "{text}");
    assert!(!text.contains("xtest"), "{text}");

    // So is it where an answer for another externalId is quoted.
    let prefix = "the answer is the meeting of externalId \"".len();
    let mut other =
        serde_json::from_str::<Value>(include_str!("fixtures/seed_create_or_get_response.json"))
            .unwrap();
    other["externalId"] = json!(format!(
        "{}test-token{}",
        "x".repeat(768 - 4 - prefix),
        "y".repeat(5000)
    ));
    let server = answering(200, other).await;
    let err = client(&server, ApiVersion::V1)
        .create_or_get(&User::Me, seed_create_or_get())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("not of"), "{text}");
    assert!(text.contains("characters left out"), "{text}");
    assert!(!text.contains("xtest"), "{text}");
}
