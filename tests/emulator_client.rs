//! The library client against the emulator: both operations, both token kinds, and how the
//! client's retry rules meet the emulator's injected faults.
#![cfg(feature = "emulator")]

mod support;

use std::time::Duration;

use graph_meetings::{
    emulator::{Emulator, Fault, DEMO_USER_ID},
    types, ApiVersion, Client, ClientCredentials, Error, ErrorKind, InvalidRequest, Outcome,
    RetryPolicy, User,
};
use serde_json::{json, Value};
use support::as_app;

/// Retries without real waiting: tiny backoff, Retry-After of 0 in the faults.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(3)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
}

/// A client that gives each attempt 1 s and never retries.
fn impatient(emu: &Emulator) -> Client {
    Client::builder()
        .base_url(emu.base_url())
        .static_token("t")
        .timeout(Duration::from_secs(1))
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn delegated(emu: &Emulator) -> Client {
    Client::builder()
        .base_url(emu.base_url())
        .static_token("delegated-token-of-the-demo-user")
        .retry(quick_retries())
        .build()
        .unwrap()
}

fn request(external_id: &str) -> types::CreateOrGetRequest {
    types::CreateOrGetRequest {
        external_id: external_id.into(),
        subject: Some("Weekly sync".into()),
        ..Default::default()
    }
}

/// A createOrGet whose one attendee has `role` set through its field and also in its `extra`.
fn clashing_attendee(top_level_extra: bool) -> types::CreateOrGetRequest {
    let mut attendee = types::MeetingParticipantInfo {
        upn: Some("adele@contoso.com".into()),
        role: Some(types::KnownOnlineMeetingRole::Presenter.into()),
        ..Default::default()
    };
    attendee.extra.insert("role".into(), json!("attendee"));
    let mut asked = request("clash");
    asked.participants = Some(types::MeetingParticipants {
        attendees: Some(vec![attendee]),
        ..Default::default()
    });
    if top_level_extra {
        asked.extra.insert("futureProperty".into(), json!(true));
    }
    asked
}

#[tokio::test]
async fn a_nested_field_set_twice_is_refused_and_no_meeting_is_made() {
    // With the request's own `extra` set, the client reads the request back and refuses the
    // clash itself; without it, the body names `role` twice and Graph refuses that (400), as
    // the emulator does. Never a meeting, never one value quietly chosen over the other.
    let emu = Emulator::start().await.unwrap();
    let c = delegated(&emu);
    let err = c
        .create_or_get(&User::Me, clashing_attendee(true))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(InvalidRequest::InvalidField { reason }) if reason.contains("\"role\"")),
        "{err:?}"
    );
    assert_eq!(emu.graph_requests(), 0);
    let err = c
        .create_or_get(&User::Me, clashing_attendee(false))
        .await
        .unwrap_err();
    assert_eq!(err.graph().map(|g| g.status), Some(400), "{err:?}");
    assert!(
        err.to_string().contains("duplicate property names"),
        "{err}"
    );
    assert_eq!(emu.meeting_count(), 0);
}

#[tokio::test]
async fn create_or_get_tells_created_from_existing() {
    let emu = Emulator::start().await.unwrap();
    let client = delegated(&emu);
    let first = client
        .create_or_get(&User::Me, request("weekly"))
        .await
        .unwrap();
    assert_eq!(first.outcome, Outcome::Created);
    assert_eq!(first.status.as_u16(), 201);
    assert!(first.request_id.is_some());
    let meeting = &first.meeting;
    assert!(meeting.id.is_some() && meeting.join_web_url.is_some());
    assert!(meeting.creation_date_time.is_some());
    assert_eq!(meeting.subject.as_deref(), Some("Weekly sync"));
    assert_eq!(
        *meeting.end_date_time.unwrap() - *meeting.start_date_time.unwrap(),
        chrono::Duration::hours(1)
    );
    // Properties the typed model does not name are kept.
    assert!(meeting.extra.contains_key("@odata.context"));
    let raw: Value = serde_json::from_slice(&first.raw).unwrap();
    assert!(raw["broadcastSettings"].is_null());

    let second = client
        .create_or_get(&User::Me, request("weekly"))
        .await
        .unwrap();
    assert_eq!(second.outcome, Outcome::Existing);
    assert_eq!(second.meeting.id, first.meeting.id);
    assert_eq!(emu.meeting_count(), 1);
    // What a service stores and shows, without unwrapping.
    assert_eq!(Some(second.meeting_id()), first.meeting.id.as_deref());
    assert!(!first.meeting_id().is_empty());
    assert_eq!(first.join_web_url(), first.meeting.join_web_url.as_deref());
    assert!(first
        .join_web_url()
        .is_some_and(|u| u.starts_with("https://")));
    // Debug gives the body's length, not the body a second time beside the meeting.
    let printed = format!("{first:?}");
    assert!(
        printed.contains(&format!("raw_len: {}", first.raw.len())),
        "{printed}"
    );
    assert_eq!(printed.matches(first.meeting_id()).count(), 1, "{printed}");
    assert!(
        printed.starts_with("CreateOrGetResponse { outcome: Created, status: 201"),
        "{printed}"
    );
}

#[tokio::test]
async fn create_with_passcode_and_language() {
    let emu = Emulator::start().await.unwrap();
    let client = delegated(&emu);
    let meeting = types::OnlineMeeting {
        subject: Some("Interview".into()),
        join_meeting_id_settings: Some(types::JoinMeetingIdSettings {
            is_passcode_required: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = client
        .create_in_language(&User::Me, meeting.clone(), Some("pt-BR"))
        .await
        .unwrap();
    assert_eq!(created.status.as_u16(), 201);
    let settings = created.meeting.join_meeting_id_settings.unwrap();
    assert!(settings.passcode.is_some_and(|p| !p.is_empty()));
    let info = created.meeting.join_information.unwrap().content.unwrap();
    assert!(info.contains("Participar"), "{info}");

    let again = client.create(&User::Me, meeting).await.unwrap();
    assert_ne!(again.meeting.id, created.meeting.id);
    assert_eq!(Some(again.meeting_id()), again.meeting.id.as_deref());
    assert_eq!(again.join_web_url(), again.meeting.join_web_url.as_deref());
    assert_eq!(emu.meeting_count(), 2);
}

#[tokio::test]
async fn time_rules_and_chat_info_are_refused_before_anything_is_sent() {
    let emu = Emulator::start().await.unwrap();
    let client = delegated(&emu);
    let start = chrono::Utc::now();
    let mut backwards = request("t");
    backwards.start_date_time = Some(start.into());
    backwards.end_date_time = Some((start - chrono::Duration::minutes(1)).into());
    let err = client
        .create_or_get(&User::Me, backwards)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidRequest(InvalidRequest::EndBeforeStart { .. })
    ));

    let mut chat = request("c");
    chat.chat_info = Some(types::ChatInfo {
        thread_id: Some("19:abc@thread.tacv2".into()),
        ..Default::default()
    });
    let err = client
        .create_or_get(&User::Me, chat.clone())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidRequest(InvalidRequest::ChatInfoRequiresBeta)
    ));
    assert_eq!(emu.graph_requests(), 0);

    let beta = Client::builder()
        .base_url(emu.base_url())
        .api_version(ApiVersion::Beta)
        .static_token("t")
        .build()
        .unwrap();
    let answer = beta.create_or_get(&User::Me, chat).await.unwrap();
    assert_eq!(
        answer.meeting.chat_info.unwrap().thread_id.as_deref(),
        Some("19:abc@thread.tacv2")
    );
}

#[tokio::test]
async fn client_credentials_get_one_cached_token_and_act_for_a_user() {
    let emu = Emulator::start().await.unwrap();
    let credentials = ClientCredentials::builder("contoso.example", "app-id", "app-secret")
        .authority_host(emu.authority_host())
        .build()
        .unwrap();
    let client = Client::builder()
        .base_url(emu.base_url())
        .token_provider(credentials)
        .retry(quick_retries())
        .build()
        .unwrap();
    let user = User::id(DEMO_USER_ID).unwrap();
    let first = client.create_or_get(&user, request("app")).await.unwrap();
    assert_eq!(first.outcome, Outcome::Created);
    let second = client.create_or_get(&user, request("app")).await.unwrap();
    assert_eq!(second.outcome, Outcome::Existing);
    assert_eq!(emu.token_requests(), 1, "the token is cached");

    // /me with an application token is refused by the library, before sending.
    let err = client
        .create_or_get(&User::Me, request("app"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidRequest(InvalidRequest::AppTokenForMe)
    ));
    assert_eq!(emu.graph_requests(), 2);

    // A revoked token is answered 401; the client fetches a fresh one and goes on.
    emu.revoke_tokens();
    let third = client
        .create(&user, types::OnlineMeeting::default())
        .await
        .unwrap();
    assert_eq!(third.status.as_u16(), 201);
    assert_eq!(emu.token_requests(), 2);
}

#[tokio::test]
async fn an_application_token_on_me_gets_graphs_refusal() {
    let emu = Emulator::start().await.unwrap();
    let credentials = ClientCredentials::builder("contoso.example", "app-id", "app-secret")
        .authority_host(emu.authority_host())
        .build()
        .unwrap();
    let token = graph_meetings::TokenProvider::token(&credentials)
        .await
        .unwrap();
    // Handed over as a plain token, the library cannot know its kind: Graph says no.
    let client = Client::builder()
        .base_url(emu.base_url())
        .static_token(token.secret().expose())
        .build()
        .unwrap();
    let err = client
        .create_or_get(&User::Me, request("x"))
        .await
        .unwrap_err();
    let graph = err.graph().expect("Graph's error");
    assert_eq!(graph.status, 400);
    assert_eq!(graph.code.as_deref(), Some("BadRequest"));
    assert!(graph.message.as_deref().unwrap().contains("delegated"));
    assert!(graph.request_id.is_some());
}

#[tokio::test]
async fn a_wrong_secret_is_an_authentication_error() {
    let emu = Emulator::builder()
        .client_secret("right")
        .start()
        .await
        .unwrap();
    let credentials = ClientCredentials::builder("contoso.example", "app-id", "wrong")
        .authority_host(emu.authority_host())
        .build()
        .unwrap();
    let client = Client::builder()
        .base_url(emu.base_url())
        .token_provider(credentials)
        .build()
        .unwrap();
    let err = client
        .create_or_get(&User::id(DEMO_USER_ID).unwrap(), request("x"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Authentication(_)), "{err:?}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(
        !text.contains("wrong"),
        "the secret is never printed: {text}"
    );
    assert_eq!(emu.graph_requests(), 0);
}

#[tokio::test]
async fn create_or_get_survives_every_fault_without_a_duplicate() {
    let emu = Emulator::start().await.unwrap();
    let client = delegated(&emu);
    let faults = [
        Fault::throttle(Duration::ZERO),
        Fault::status(503),
        Fault::status(504),
        Fault::Drop,
        Fault::ApplyThenStatus(504),
        Fault::ApplyThenDrop,
        Fault::TruncatedBody,
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let before = emu.graph_requests();
        emu.faults().push(fault.clone());
        let external_id = format!("fault-{i}");
        let answer = client.create_or_get(&User::Me, request(&external_id)).await;
        let answer = answer.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(emu.graph_requests() - before, 2, "{fault:?}: one retry");
        let acted_first = matches!(
            fault,
            Fault::ApplyThenStatus(_) | Fault::ApplyThenDrop | Fault::TruncatedBody
        );
        let expected = if acted_first {
            Outcome::Existing
        } else {
            Outcome::Created
        };
        assert_eq!(answer.outcome, expected, "{fault:?}");
        assert_eq!(emu.meeting_count(), i + 1, "{fault:?}: one meeting");
    }
}

#[tokio::test]
async fn create_is_retried_only_when_the_service_did_not_act() {
    let emu = Emulator::start().await.unwrap();
    let client = delegated(&emu);
    let meeting = types::OnlineMeeting::default;

    // 429, and 503 with Retry-After: the service said it did not act, so it is retried.
    emu.faults().push(Fault::throttle(Duration::ZERO));
    emu.faults().push(Fault::Status {
        status: 503,
        retry_after: Some(Duration::ZERO),
    });
    let answer = client.create(&User::Me, meeting()).await.unwrap();
    assert_eq!(answer.status.as_u16(), 201);
    assert_eq!(emu.graph_requests(), 3);
    assert_eq!(emu.meeting_count(), 1);

    // Ambiguous answers end in OutcomeUnknown, whether or not the meeting was made.
    for (fault, made) in [
        (Fault::status(504), false),
        (Fault::ApplyThenStatus(504), true),
        (Fault::ApplyThenDrop, true),
        (Fault::TruncatedBody, true),
        (Fault::Drop, false),
    ] {
        let before = (emu.graph_requests(), emu.meeting_count());
        emu.faults().push(fault.clone());
        let err = client.create(&User::Me, meeting()).await.unwrap_err();
        assert!(
            matches!(err, Error::OutcomeUnknown { .. }),
            "{fault:?}: {err:?}"
        );
        assert_eq!(emu.graph_requests() - before.0, 1, "{fault:?}: not retried");
        assert_eq!(
            emu.meeting_count() - before.1,
            usize::from(made),
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn a_delay_longer_than_the_timeout_is_a_timeout() {
    let emu = Emulator::start().await.unwrap();
    let client = impatient(&emu);
    emu.faults().push(Fault::Delay(Duration::from_secs(5)));
    let err = client
        .create_or_get(&User::Me, request("slow"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    // The emulator still answers the next request (sent with the default timeout: how fast a
    // healthy answer comes is not what this test is about).
    let patient = Client::builder()
        .base_url(emu.base_url())
        .static_token("t")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let answer = patient
        .create_or_get(&User::Me, request("next"))
        .await
        .unwrap();
    assert_eq!(answer.outcome, Outcome::Created);
}

#[tokio::test]
async fn a_slow_answer_to_a_create_that_was_made_is_an_unknown_outcome_with_the_meeting() {
    // ApplyThenDelay makes the meeting, then keeps the answer back past the caller's timeout:
    // the classic unknown outcome. Delay holds the request back instead: nothing is made.
    let emu = Emulator::start().await.unwrap();
    let client = impatient(&emu);
    // Delays well past the client's timeout (1 s; a loaded machine's stall is not to decide
    // which comes first), and a wait past them below: had the emulator carried on after the
    // caller left, its meeting would be there by then.
    for (fault, made) in [
        (Fault::ApplyThenDelay(Duration::from_secs(3)), 1),
        (Fault::Delay(Duration::from_secs(3)), 0),
    ] {
        let before = emu.meeting_count();
        emu.faults().push(fault.clone());
        let err = client
            .create(&User::Me, types::OnlineMeeting::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{fault:?}: {err:?}");
        assert_eq!(emu.faults().pending(), 0, "{fault:?} met the request");
        // The emulator's handler is dropped with the connection; what it did is what stays.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(emu.meeting_count() - before, made, "{fault:?}");
    }
}

#[tokio::test]
async fn throttling_past_the_retries_is_graphs_error_with_retry_after() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder()
        .base_url(emu.base_url())
        .static_token("t")
        .retry(RetryPolicy::default().with_max_retries(1))
        .build()
        .unwrap();
    emu.faults().throttle(2, Duration::ZERO);
    let err = client
        .create_or_get(&User::Me, request("busy"))
        .await
        .unwrap_err();
    let graph = err.graph().expect("Graph's error");
    assert_eq!(graph.status, 429);
    assert_eq!(graph.code.as_deref(), Some("TooManyRequests"));
    assert_eq!(graph.retry_after, Some(Duration::ZERO));
    assert_eq!(graph.attempts, 2);
    assert_eq!(emu.meeting_count(), 0);
}

#[tokio::test]
async fn a_test_can_read_what_the_client_sent_without_the_token() {
    let emu = Emulator::start().await.unwrap();
    let client = Client::builder()
        .base_url(emu.base_url())
        .static_token("delegated-token-canary")
        .retry(quick_retries())
        .build()
        .unwrap();
    emu.faults().throttle(1, Duration::ZERO);
    client
        .create_or_get(&User::Me, request("seen"))
        .await
        .unwrap();
    let received = emu.received();
    assert_eq!(received.len(), 2, "{received:?}");
    for r in &received {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1.0/me/onlineMeetings/createOrGet");
        assert_eq!(r.header("Authorization"), Some("Bearer ***"));
    }
    // The retry: the same client-request-id, and which retry it is.
    assert_eq!(
        received[0].header("client-request-id"),
        received[1].header("client-request-id")
    );
    assert_eq!(received[0].header("retry-attempt"), None);
    assert_eq!(received[1].header("retry-attempt"), Some("1"));
    assert!(!format!("{received:?}").contains("canary"));
    // And the body, each attempt's the same: what the caller asked for, the times the client
    // filled in (Graph's default: start now, one hour).
    for r in &received {
        let body: Value = serde_json::from_str(&r.body).expect("the body as JSON");
        assert_eq!(body["externalId"], "seen");
        assert_eq!(body["subject"], "Weekly sync");
        assert!(body["startDateTime"].is_string() && body["endDateTime"].is_string());
    }
    assert_eq!(received[0].body, received[1].body);
}

#[tokio::test]
async fn a_token_endpoint_that_fails_for_a_while_is_waited_out() {
    // The token endpoint's own fault queue: busy twice (once with Retry-After 0, once a
    // dropped connection), then a token. Nothing reached Graph until then, and each new try
    // came a second or more after the last: an endpoint in trouble is not asked over and over.
    let emu = Emulator::start().await.unwrap();
    emu.token_faults().throttle(1, Duration::ZERO);
    emu.token_faults().push(Fault::Drop);
    let client = as_app(&emu, quick_retries());
    let user = User::id(DEMO_USER_ID).unwrap();
    let started = std::time::Instant::now();
    let made = client
        .create(&user, types::OnlineMeeting::default())
        .await
        .unwrap();
    assert_eq!(made.attempts, 1, "one request reached Graph");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "a second between tries"
    );
    assert_eq!(emu.token_requests(), 3);
    assert_eq!(emu.graph_requests(), 1);

    // A failure that lasts past the retries is the caller's to see, as Unreachable.
    let emu = Emulator::start().await.unwrap();
    emu.token_faults().push_n(10, Fault::status(503));
    let one_retry = RetryPolicy::default()
        .with_max_retries(1)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5));
    let client = as_app(&emu, one_retry);
    let err = client.create_or_get(&user, request("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert_eq!(emu.token_requests(), 2, "the first try and one retry");
    assert_eq!(emu.graph_requests(), 0);
}

#[tokio::test]
async fn a_later_member_of_an_evolvable_enum_comes_back_as_itself() {
    // Graph answers `unknownFutureValue` for it unless asked: the client asks on every request.
    let emu = Emulator::start().await.unwrap();
    let attendee = types::MeetingParticipantInfo {
        upn: Some("ann@contoso.example".into()),
        role: Some(types::Open::Known(
            types::KnownOnlineMeetingRole::Coorganizer,
        )),
        ..Default::default()
    };
    let asked = types::CreateOrGetRequest {
        participants: Some(types::MeetingParticipants {
            attendees: Some(vec![attendee]),
            ..Default::default()
        }),
        ..request("evolvable")
    };
    let answer = delegated(&emu)
        .create_or_get(&User::Me, asked)
        .await
        .unwrap();
    let attendees = answer.meeting.participants.unwrap().attendees.unwrap();
    assert_eq!(
        attendees[0].role,
        Some(types::Open::Known(
            types::KnownOnlineMeetingRole::Coorganizer
        ))
    );
    assert_eq!(
        emu.received()[0].header("Prefer"),
        Some("include-unknown-enum-members")
    );
}
