//! The emulator's own rules, on the wire: paths, tokens, bodies, time rules, keying, headers,
//! languages, the token endpoint, the admin endpoints and the injected faults.
#![cfg(feature = "emulator")]

mod support;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use graph_meetings::{
    emulator::{
        Emulator, Fault, DEMO_TENANT_DOMAIN, DEMO_TENANT_ID, DEMO_USER_ID, DEMO_USER_UPN,
        MAX_REQUEST_BYTES,
    },
    times::FixedClock,
};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use support::{answer, http, post_delegated};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// POSTs `body` as JSON with a delegated token.
async fn post(emu: &Emulator, path: &str, body: Value) -> Response {
    post_delegated(&format!("{}{path}", emu.base_url()), &body).await
}

/// Asserts Graph's error shape and returns (status, code, message).
async fn graph_error(response: Response) -> (StatusCode, String, String) {
    let (status, request_id, body) = answer(response).await;
    let error = &body["error"];
    assert_eq!(
        error["innerError"]["request-id"],
        request_id.as_str(),
        "{body}"
    );
    assert!(error["innerError"]["date"].is_string(), "{body}");
    assert!(
        error["innerError"]["client-request-id"].is_string(),
        "{body}"
    );
    (
        status,
        error["code"].as_str().unwrap().to_owned(),
        error["message"].as_str().unwrap().to_owned(),
    )
}

/// A token request's form fields.
type Form<'a> = &'a [(&'a str, &'a str)];

async fn app_token(emu: &Emulator, tenant: &str) -> String {
    app_token_for(emu, tenant, "https://graph.microsoft.com/.default").await
}

async fn token_response(emu: &Emulator, tenant: &str, scope: &str) -> Response {
    http()
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emu.authority_host()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "secret"),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
}

async fn app_token_for(emu: &Emulator, tenant: &str, scope: &str) -> String {
    let response = token_response(emu, tenant, scope).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_for_another_resource_is_refused_as_graph_refuses_it() {
    let emu = Emulator::start().await.unwrap();
    let create_or_get = |token: String| {
        let url = format!(
            "{}/v1.0/users/alex@contoso.example/onlineMeetings/createOrGet",
            emu.base_url()
        );
        async move {
            http()
                .post(url)
                .bearer_auth(token)
                .json(&json!({"externalId": "aud"}))
                .send()
                .await
                .unwrap()
        }
    };
    // Issued, as the identity platform issues it, but for Azure Resource Manager.
    let arm = app_token_for(
        &emu,
        DEMO_TENANT_DOMAIN,
        "https://management.azure.com/.default",
    )
    .await;
    let refused = create_or_get(arm).await;
    let (status, _, body) = answer(refused).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body["error"]["code"], "InvalidAuthenticationToken",
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid audience"),
        "{body}"
    );
    assert_eq!(emu.meeting_count(), 0);
    // Graph named by its application ID, or by its URL with a trailing slash: Graph's.
    for scope in [
        "00000003-0000-0000-c000-000000000000/.default",
        "https://graph.microsoft.com//.default",
    ] {
        let token = app_token_for(&emu, DEMO_TENANT_DOMAIN, scope).await;
        assert!(create_or_get(token).await.status().is_success(), "{scope}");
    }
    // Two resources in one request: the identity platform refuses it (AADSTS70011).
    let both = token_response(
        &emu,
        DEMO_TENANT_DOMAIN,
        "https://graph.microsoft.com/.default https://management.azure.com/.default",
    )
    .await;
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    let body: Value = both.json().await.unwrap();
    assert_eq!(body["error"], "invalid_scope", "{body}");
    assert_eq!(body["error_codes"][0], 70011, "{body}");
}

#[tokio::test]
async fn create_or_get_makes_then_finds_one_meeting_with_graphs_fields() {
    let emu = Emulator::start().await.unwrap();
    let body = json!({"externalId": "ext-1", "subject": "Sync",
        "startDateTime": "2019-07-12T14:30:34.2444915-07:00"});
    let first = post(&emu, "/v1.0/me/onlineMeetings/createOrGet", body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    for field in [
        "id",
        "creationDateTime",
        "joinWebUrl",
        "videoTeleconferenceId",
    ] {
        assert!(
            first[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {first}"
        );
    }
    assert_eq!(first["startDateTime"], "2019-07-12T21:30:34.2444915Z");
    assert_eq!(first["endDateTime"], "2019-07-12T22:30:34.2444915Z");
    assert_eq!(first["externalId"], "ext-1");
    assert_eq!(
        first["participants"]["organizer"]["identity"]["user"]["id"],
        DEMO_USER_ID
    );
    assert_eq!(first["participants"]["organizer"]["upn"], DEMO_USER_UPN);
    assert!(first["audioConferencing"]["conferenceId"].is_string());
    assert!(first["joinMeetingIdSettings"]["joinMeetingId"].is_string());
    assert!(first["chatInfo"]["threadId"].is_string());

    let second = post(&emu, "/v1.0/me/onlineMeetings/createOrGet", body).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["joinWebUrl"], first["joinWebUrl"]);
    assert_eq!(emu.meeting_count(), 1);
    assert_eq!(emu.graph_requests(), 2);
}

#[tokio::test]
async fn create_always_makes_a_new_meeting_and_passcodes_only_when_asked() {
    let emu = Emulator::start().await.unwrap();
    let with = post(
        &emu,
        "/v1.0/me/onlineMeetings",
        json!({"subject": "s",
        "joinMeetingIdSettings": {"isPasscodeRequired": true}}),
    )
    .await;
    assert_eq!(with.status(), StatusCode::CREATED);
    let with: Value = with.json().await.unwrap();
    assert!(with["joinMeetingIdSettings"]["passcode"]
        .as_str()
        .is_some_and(|p| !p.is_empty()));
    assert_eq!(with["joinMeetingIdSettings"]["isPasscodeRequired"], true);

    let without = post(&emu, "/v1.0/me/onlineMeetings", json!({"subject": "s"})).await;
    assert_eq!(without.status(), StatusCode::CREATED);
    let without: Value = without.json().await.unwrap();
    assert!(without["joinMeetingIdSettings"]["passcode"].is_null());
    assert_ne!(with["id"], without["id"]);
    assert_eq!(emu.meeting_count(), 2);
}

#[tokio::test]
async fn time_rules_default_from_the_clock_and_refuse_what_the_docs_refuse() {
    let now = at("2020-02-06T01:49:21.3524945Z");
    let emu = Emulator::builder()
        .clock(Arc::new(FixedClock(now)))
        .start()
        .await
        .unwrap();
    let neither: Value = post(
        &emu,
        "/v1.0/me/onlineMeetings/createOrGet",
        json!({"externalId": "a"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(neither["startDateTime"], "2020-02-06T01:49:21.3524945Z");
    assert_eq!(neither["endDateTime"], "2020-02-06T02:49:21.3524945Z");
    assert_eq!(neither["creationDateTime"], "2020-02-06T01:49:21.3524945Z");

    let equal = post(
        &emu,
        "/v1.0/me/onlineMeetings",
        json!({
        "startDateTime": "2020-01-01T00:00:00Z", "endDateTime": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(equal.status(), StatusCode::CREATED);

    for (path, body, needle) in [
        (
            "/v1.0/me/onlineMeetings/createOrGet",
            json!({"externalId": "b", "endDateTime": "2020-01-01T00:00:00Z"}),
            "without startDateTime",
        ),
        (
            "/v1.0/me/onlineMeetings",
            json!({"endDateTime": "2020-01-01T00:00:00Z"}),
            "without startDateTime",
        ),
        (
            "/beta/me/onlineMeetings/createOrGet",
            json!({"externalId": "c", "startDateTime": "2020-01-01T00:00:00.0000001Z", "endDateTime": "2020-01-01T00:00:00Z"}),
            "earlier than startDateTime",
        ),
        (
            "/v1.0/me/onlineMeetings",
            json!({"startDateTime": "not a time"}),
            "Edm.DateTimeOffset",
        ),
    ] {
        let (status, code, message) = graph_error(post(&emu, path, body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(code, "BadRequest");
        assert!(message.contains(needle), "{message}");
    }
    assert_eq!(emu.meeting_count(), 2);
}

#[tokio::test]
async fn external_id_is_required_and_chat_info_is_beta_only() {
    let emu = Emulator::start().await.unwrap();
    for body in [
        json!({}),
        json!({"externalId": ""}),
        json!({"externalId": 5}),
    ] {
        let (status, _, message) =
            graph_error(post(&emu, "/v1.0/me/onlineMeetings/createOrGet", body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("externalId"), "{message}");
    }
    let chat = json!({"externalId": "x", "chatInfo": {"threadId": "19:abc@thread.tacv2"}});
    let (status, _, message) =
        graph_error(post(&emu, "/v1.0/me/onlineMeetings/createOrGet", chat.clone()).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("chatInfo"), "{message}");
    // A null is "not given", on v1.0 too (Microsoft's SDK samples send one).
    let null = json!({"externalId": "n", "chatInfo": null});
    let v1 = post(&emu, "/v1.0/me/onlineMeetings/createOrGet", null).await;
    assert_eq!(v1.status(), StatusCode::CREATED);
    assert_eq!(emu.meeting_count(), 1);

    let beta = post(&emu, "/beta/me/onlineMeetings/createOrGet", chat).await;
    assert_eq!(beta.status(), StatusCode::CREATED);
    let beta: Value = beta.json().await.unwrap();
    assert_eq!(beta["chatInfo"]["threadId"], "19:abc@thread.tacv2");
    assert_eq!(beta["joinUrl"], beta["joinWebUrl"]);
    // Another meeting in the same thread is another meeting: its own ID and join URL.
    let other = json!({"externalId": "y", "chatInfo": {"threadId": "19:abc@thread.tacv2"}});
    let other = post(&emu, "/beta/me/onlineMeetings/createOrGet", other).await;
    assert_eq!(other.status(), StatusCode::CREATED);
    let other: Value = other.json().await.unwrap();
    assert_ne!(other["id"], beta["id"]);
    assert_ne!(other["joinWebUrl"], beta["joinWebUrl"]);
    assert_eq!(emu.meeting_count(), 3);
}

#[tokio::test]
async fn a_meeting_is_keyed_by_tenant_user_and_external_id() {
    let emu = Emulator::start().await.unwrap();
    let body = json!({"externalId": "same"});
    let created = |r: &Response| r.status() == StatusCode::CREATED;

    // The demo user by /me, by UPN and by object ID: one user, one meeting.
    let me = post(&emu, "/v1.0/me/onlineMeetings/createOrGet", body.clone()).await;
    assert!(created(&me));
    for path in [
        format!("/v1.0/users/{DEMO_USER_UPN}/onlineMeetings/createOrGet"),
        format!(
            "/v1.0/users/{}/onlineMeetings/createOrGet",
            DEMO_USER_ID.to_uppercase()
        ),
    ] {
        assert_eq!(
            post(&emu, &path, body.clone()).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // Another user of the same tenant, as an application acts for one: another meeting; a UPN
    // and its own object ID agree. (The demo user's delegated token cannot act for alex.)
    let app = app_token(&emu, DEMO_TENANT_ID).await;
    let as_app = |path: String| {
        http()
            .post(format!("{}{path}", emu.base_url()))
            .bearer_auth(&app)
            .json(&body)
            .send()
    };
    let delegated = post(
        &emu,
        "/v1.0/users/alex%40contoso.example/onlineMeetings/createOrGet",
        body.clone(),
    )
    .await;
    assert_eq!(delegated.status(), StatusCode::FORBIDDEN);
    let alex = as_app("/v1.0/users/alex%40contoso.example/onlineMeetings/createOrGet".into())
        .await
        .unwrap();
    assert!(created(&alex));
    let alex: Value = alex.json().await.unwrap();
    let alex_id = alex["participants"]["organizer"]["identity"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_id = as_app(format!("/v1.0/users/{alex_id}/onlineMeetings/createOrGet"))
        .await
        .unwrap();
    assert_eq!(by_id.status(), StatusCode::OK);

    // Application tokens: the demo tenant asked for by its domain or its ID is the same tenant
    // (alex's meeting exists); another tenant gets a meeting of its own.
    for (tenant, expected) in [
        (DEMO_TENANT_DOMAIN, StatusCode::OK),
        (DEMO_TENANT_ID, StatusCode::OK),
        ("fabrikam.example", StatusCode::CREATED),
    ] {
        let token = app_token(&emu, tenant).await;
        let response = http()
            .post(format!(
                "{}/v1.0/users/alex@contoso.example/onlineMeetings/createOrGet",
                emu.base_url()
            ))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{tenant}");
    }
    assert_eq!(emu.meeting_count(), 3);
    let demo_tenant = alex["participants"]["organizer"]["identity"]["user"]["tenantId"].clone();
    assert_eq!(demo_tenant, DEMO_TENANT_ID);
}

#[tokio::test]
async fn concurrent_create_or_get_with_one_key_makes_one_meeting() {
    let emu = Emulator::start().await.unwrap();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let url = format!("{}/v1.0/me/onlineMeetings/createOrGet", emu.base_url());
            tokio::spawn(async move {
                http()
                    .post(url)
                    .bearer_auth("t")
                    .json(&json!({"externalId": "race"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(emu.meeting_count(), 1);
}

#[tokio::test]
async fn tokens_are_required_and_application_tokens_have_no_me() {
    let emu = Emulator::start().await.unwrap();
    let url = format!("{}/v1.0/me/onlineMeetings", emu.base_url());
    let body = json!({"subject": "s"});
    let none = http().post(&url).json(&body).send().await.unwrap();
    let (status, code, message) = graph_error(none).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken")
    );
    assert!(message.contains("empty"), "{message}");
    let basic = http()
        .post(&url)
        .basic_auth("u", Some("p"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);

    let token = app_token(&emu, "contoso.example").await;
    let me = http()
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, code, message) = graph_error(me).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "BadRequest")
    );
    assert!(message.contains("delegated"), "{message}");

    let user = format!(
        "{}/v1.0/users/{DEMO_USER_ID}/onlineMeetings",
        emu.base_url()
    );
    let ok = http()
        .post(&user)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);

    emu.revoke_tokens();
    let revoked = http()
        .post(&user)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, _, message) = graph_error(revoked).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.contains("expired"), "{message}");
    let fresh = app_token(&emu, "contoso.example").await;
    let ok = http()
        .post(&user)
        .bearer_auth(&fresh)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(emu.token_requests(), 2);
    assert_eq!(emu.meeting_count(), 2);
}

#[tokio::test]
async fn the_token_endpoint_refuses_like_the_identity_platform() {
    let emu = Emulator::builder()
        .client_secret("right")
        .start()
        .await
        .unwrap();
    let url = format!("{}/contoso.example/oauth2/v2.0/token", emu.authority_host());
    let scope = "https://graph.microsoft.com/.default";
    let cases: [(Form, StatusCode, &str, &str); 5] = [
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "a"),
                ("client_secret", "wrong"),
                ("scope", scope),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", "a"),
                ("client_secret", "right"),
                ("scope", scope),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "a"),
                ("client_secret", "right"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "a"),
                ("client_secret", "right"),
                ("scope", "User.Read"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "a"),
                ("scope", scope),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000216",
        ),
    ];
    for (form, status, error, code) in cases {
        let response = http().post(&url).form(form).send().await.unwrap();
        assert_eq!(response.status(), status, "{form:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(code),
            "{body}"
        );
        assert_eq!(format!("AADSTS{}", body["error_codes"][0]), code);
    }
    let ok = http()
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "a"),
            ("client_secret", "right"),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let not_form = http()
        .post(&url)
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_form.status(), StatusCode::BAD_REQUEST);
    let bad_tenant = http()
        .post(format!("{}/a%20b/oauth2/v2.0/token", emu.authority_host()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_tenant.status(), StatusCode::BAD_REQUEST);
    let get = http().get(&url).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(emu.token_requests(), 8);
}

#[tokio::test]
async fn request_ids_are_sent_and_client_request_id_is_echoed() {
    let emu = Emulator::start().await.unwrap();
    let url = format!("{}/v1.0/me/onlineMeetings", emu.base_url());
    let echoed = http()
        .post(&url)
        .bearer_auth("t")
        .header("client-request-id", "c0ffee00-0000-4000-8000-000000000001")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        echoed.headers()["client-request-id"],
        "c0ffee00-0000-4000-8000-000000000001"
    );
    let request_id = echoed.headers()["request-id"].to_str().unwrap().to_owned();
    assert_eq!(request_id.len(), 36);
    assert!(echoed.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));

    let own = http()
        .post(&url)
        .bearer_auth("t")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.headers()["client-request-id"],
        own.headers()["request-id"]
    );
    assert_ne!(own.headers()["request-id"].to_str().unwrap(), request_id);
}

#[tokio::test]
async fn join_information_follows_accept_language() {
    let emu = Emulator::start().await.unwrap();
    let url = format!("{}/v1.0/me/onlineMeetings", emu.base_url());
    for (language, phrase) in [
        (None, "Join Microsoft Teams Meeting"),
        (Some("pt-BR"), "Participar da reunião do Microsoft Teams"),
        (Some("ja-JP"), "Microsoft Teams 会議に参加"),
        (Some("zh-CN"), "加入 Microsoft Teams 会议"),
        (Some("tlh, xx;q=0.5"), "Join Microsoft Teams Meeting"),
    ] {
        let mut request = http().post(&url).bearer_auth("t").json(&json!({}));
        if let Some(language) = language {
            request = request.header("Accept-Language", language);
        }
        let meeting: Value = request.send().await.unwrap().json().await.unwrap();
        let html = decode_join_information(&meeting);
        assert!(html.contains(phrase), "{language:?}: {html}");
    }

    // A stored meeting is returned with its invitation in the asking request's language.
    let cog = format!("{}/v1.0/me/onlineMeetings/createOrGet", emu.base_url());
    let body = json!({"externalId": "lang"});
    http()
        .post(&cog)
        .bearer_auth("t")
        .json(&body)
        .send()
        .await
        .unwrap();
    let again: Value = http()
        .post(&cog)
        .bearer_auth("t")
        .header("Accept-Language", "ja")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(decode_join_information(&again).contains("会議"));
}

fn decode_join_information(meeting: &Value) -> String {
    let content = meeting["joinInformation"]["content"].as_str().unwrap();
    let encoded = content.strip_prefix("data:text/html,").unwrap();
    url::form_urlencoded::parse(format!("h={encoded}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .collect()
}

#[tokio::test]
async fn a_body_far_over_the_cap_is_answered_413_while_the_client_is_still_sending() {
    // Refused as soon as it is known to be too large, but the rest is read (and dropped) first:
    // closing on unread data would fail the client's next write, and it would never see the 413.
    let emu = Emulator::start().await.unwrap();
    let url = format!("{}/v1.0/me/onlineMeetings/createOrGet", emu.base_url());
    let big = format!(
        r#"{{"externalId":"x","subject":"{}"}}"#,
        "a".repeat(8 * MAX_REQUEST_BYTES)
    );
    // Declared up front, and streamed in pieces with no length. Declared under `Expect:
    // 100-continue` too, with the body sent without waiting, as hyper's client and curl (after
    // a second) do: a client that does wait gets a `100 Continue` first, since reading the body
    // is what answers it in hyper. Three times, as a connection closed on unread data fails the
    // client's write only most of the time.
    let declared = |expect: bool| {
        let request = http()
            .post(&url)
            .bearer_auth("t")
            .header("Content-Type", "application/json")
            .body(big.clone());
        match expect {
            true => request.header("Expect", "100-continue"),
            false => request,
        }
    };
    let mut requests = vec![declared(false)];
    requests.extend((0..3).map(|_| declared(true)));
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let streamed = http()
        .post(&url)
        .bearer_auth("t")
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )));
    requests.push(streamed);
    for request in requests {
        let response = request.send().await.expect("an answer, not a broken pipe");
        assert_eq!(graph_error(response).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert_eq!(emu.meeting_count(), 0);
}

#[tokio::test]
async fn malformed_requests_get_graph_errors_never_a_dropped_connection() {
    let emu = Emulator::start().await.unwrap();
    let url = format!("{}/v1.0/me/onlineMeetings/createOrGet", emu.base_url());
    let mut bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"text\"".to_vec(),
        b"{\"externalId\": \"\\ud800\"}".to_vec(),
        vec![0xff, 0xfe, 0x00],
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        br#"{"externalId":"x","participants":{"attendees":[1,2]}}"#.to_vec(),
        br#"{"externalId":"x","startDateTime":"9999-12-31T23:59:59Z"}"#.to_vec(),
        br#"{"externalId":"x","startDateTime":"+262143-12-31T23:59:59Z"}"#.to_vec(),
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    bodies.extend((0..50).map(|_| (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect()));
    for body in bodies {
        let response = http()
            .post(&url)
            .bearer_auth("t")
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer for {body:?}: {e}"));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
        graph_error(response).await;
    }

    let no_type = http()
        .post(&url)
        .bearer_auth("t")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        graph_error(no_type).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let huge = format!(
        r#"{{"externalId":"x","subject":"{}"}}"#,
        "a".repeat(MAX_REQUEST_BYTES)
    );
    let too_large = http()
        .post(&url)
        .bearer_auth("t")
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(
        graph_error(too_large).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    for (method, path, status) in [
        (
            "GET",
            "/v1.0/me/onlineMeetings",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        ("POST", "/v2.0/me/onlineMeetings", StatusCode::BAD_REQUEST),
        ("POST", "/v1.0/me/events", StatusCode::NOT_FOUND),
        (
            "POST",
            "/v1.0/users/not-a-user/onlineMeetings",
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/v1.0/users/%ff%fe/onlineMeetings",
            StatusCode::BAD_REQUEST,
        ),
        ("POST", "/", StatusCode::NOT_FOUND),
    ] {
        let response = http()
            .request(method.parse().unwrap(), format!("{}{path}", emu.base_url()))
            .bearer_auth("t")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(graph_error(response).await.0, status, "{method} {path}");
    }
    assert_eq!(emu.meeting_count(), 0);
}

#[tokio::test]
async fn status_faults_answer_without_acting() {
    let emu = Emulator::start().await.unwrap();
    emu.faults().throttle(2, Duration::from_millis(1500));
    emu.faults().push(Fault::status(503));
    emu.faults().push(Fault::Status {
        status: 504,
        retry_after: Some(Duration::from_secs(3)),
    });
    let path = "/v1.0/me/onlineMeetings/createOrGet";
    let body = json!({"externalId": "f"});
    for (status, retry_after) in [
        (429, Some("2")),
        (429, Some("2")),
        (503, None),
        (504, Some("3")),
    ] {
        let response = post(&emu, path, body.clone()).await;
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            retry_after
        );
        let (_, code, _) = graph_error(response).await;
        assert!(!code.is_empty());
    }
    assert_eq!(emu.meeting_count(), 0);
    assert_eq!(emu.faults().pending(), 0);
    assert_eq!(post(&emu, path, body).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn drop_and_apply_then_fail_faults() {
    let emu = Emulator::start().await.unwrap();
    let path = "/v1.0/me/onlineMeetings/createOrGet";
    let send = |external_id: &str| {
        http()
            .post(format!("{}{path}", emu.base_url()))
            .bearer_auth("t")
            .json(&json!({"externalId": external_id}))
            .send()
    };

    emu.faults().push(Fault::Drop);
    assert!(
        send("a").await.is_err(),
        "a dropped connection has no answer"
    );
    assert_eq!(emu.meeting_count(), 0, "dropped before acting");

    emu.faults().push(Fault::ApplyThenDrop);
    assert!(send("b").await.is_err());
    assert_eq!(emu.meeting_count(), 1, "acted, then dropped");
    assert_eq!(send("b").await.unwrap().status(), StatusCode::OK);

    emu.faults().push(Fault::ApplyThenStatus(504));
    assert_eq!(
        send("c").await.unwrap().status(),
        StatusCode::GATEWAY_TIMEOUT
    );
    assert_eq!(emu.meeting_count(), 2);
    assert_eq!(send("c").await.unwrap().status(), StatusCode::OK);

    emu.faults().push(Fault::TruncatedBody);
    let truncated = send("d").await.unwrap();
    assert_eq!(truncated.status(), StatusCode::CREATED);
    assert!(truncated.bytes().await.is_err(), "the body is cut off");
    assert_eq!(emu.meeting_count(), 3);

    emu.faults().push(Fault::Delay(Duration::from_millis(50)));
    assert_eq!(send("e").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(emu.meeting_count(), 4);
    assert_eq!(emu.graph_requests(), 7);
}

#[tokio::test]
async fn the_admin_endpoints_refuse_what_a_browser_sends_for_another_site() {
    let emu = Emulator::start().await.unwrap();
    let admin = |path: &str| format!("{}/_emulator/{path}", emu.base_url());
    let port = url::Url::parse(&emu.base_url()).unwrap().port().unwrap();
    let fault = r#"{"fault": "status", "status": 500, "count": 100}"#;
    let send = |path: &str, headers: &[(&str, String)], content_type: Option<&str>| {
        let mut request = http().post(admin(path)).body(fault);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move { request.send().await.unwrap().status() }
    };
    let json = Some("application/json");
    // A web page's plain-text form POST, cross-site or not, and a body without a type.
    assert_eq!(
        send("faults", &[], Some("text/plain")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        send("faults", &[], None).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    for refused in [
        vec![("origin", "http://evil.example".to_string())],
        vec![("origin", "null".to_string())],
        vec![("host", format!("evil.example:{port}"))],
        vec![("host", format!("127.0.0.1.evil.example:{port}"))],
        vec![("host", "[::1]evil.example".to_string())],
        vec![("host", format!("localhost:{port}:evil"))],
        vec![("host", "localhost:".to_string())],
    ] {
        assert_eq!(
            send("faults", &refused, json).await,
            StatusCode::FORBIDDEN,
            "{refused:?}"
        );
        assert_eq!(
            send("revoke-tokens", &refused, None).await,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        emu.faults().pending(),
        0,
        "no refused request queued a fault"
    );
    // The machine's own clients, under any loopback name, and their own pages.
    for (allowed, content_type) in [
        (vec![("host", format!("localhost:{port}"))], json),
        (vec![("host", format!("[::1]:{port}"))], json),
        (vec![("origin", format!("http://127.0.0.1:{port}"))], json),
        (vec![], Some("Application/JSON; charset=utf-8")),
    ] {
        let status = send("faults", &allowed, content_type).await;
        assert_eq!(status, StatusCode::OK, "{allowed:?} {content_type:?}");
    }
    assert_eq!(emu.faults().pending(), 400);
}

#[tokio::test]
async fn the_admin_endpoints_drive_faults_and_show_counters() {
    let emu = Emulator::start().await.unwrap();
    let admin = |path: &str| format!("{}/_emulator/{path}", emu.base_url());
    let queued: Value = http()
        .post(admin("faults"))
        .json(&json!({"fault": "throttle", "retryAfterSeconds": 7, "count": 2}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(queued["pending"], 2);
    let throttled = post(&emu, "/v1.0/me/onlineMeetings", json!({})).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers()["retry-after"], "7");

    for bad in [
        json!({"fault": "meteor"}),
        json!({"fault": "status"}),
        json!({"fault": "status", "status": 200}),
        json!({"fault": "delay"}),
        json!({"fault": "drop", "count": 0}),
        json!({"fault": "drop", "extra": true}),
    ] {
        let response = http()
            .post(admin("faults"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    for good in [
        json!({"fault": "status", "status": 503, "retryAfterSeconds": 1}),
        json!({"fault": "drop"}),
        json!({"fault": "delay", "delayMs": 10}),
        json!({"fault": "applyThenStatus", "status": 504}),
        json!({"fault": "applyThenDrop"}),
        json!({"fault": "truncatedBody"}),
    ] {
        let response = http()
            .post(admin("faults"))
            .json(&good)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{good}");
    }
    assert_eq!(emu.faults().pending(), 7);
    let cleared = http().delete(admin("faults")).send().await.unwrap();
    assert_eq!(cleared.status(), StatusCode::OK);
    assert_eq!(emu.faults().pending(), 0);

    let created = post(&emu, "/v1.0/me/onlineMeetings", json!({})).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let token = app_token(&emu, "contoso.example").await;
    let revoked = http().post(admin("revoke-tokens")).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let refused = http()
        .post(format!(
            "{}/v1.0/users/{DEMO_USER_ID}/onlineMeetings",
            emu.base_url()
        ))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let stats: Value = http()
        .get(admin("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"meetings": 1, "graphRequests": 3, "tokenRequests": 1, "pendingFaults": 0})
    );
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let emu = Emulator::start().await.unwrap();
    let url = format!("{}/v1.0/me/onlineMeetings", emu.base_url());
    emu.shutdown();
    let result = http()
        .post(&url)
        .bearer_auth("t")
        .json(&json!({}))
        .send()
        .await;
    assert!(result.is_err_and(|e| e.is_connect()));
}

#[tokio::test]
async fn dropping_the_emulator_frees_its_port_at_once() {
    // A test may stop "Graph" and start it again on the same address, as an outage ends.
    let mut emu = Emulator::start().await.unwrap();
    for _ in 0..5 {
        let port = emu.addr().port();
        let url = format!("{}/v1.0/me/onlineMeetings", emu.base_url());
        let made = http().post(&url).bearer_auth("t").json(&json!({})).send();
        assert_eq!(made.await.unwrap().status(), StatusCode::CREATED);
        drop(emu);
        emu = Emulator::builder()
            .port(port)
            .start()
            .await
            .expect("the port of the dropped emulator is free");
    }
}

#[tokio::test]
async fn a_fault_status_that_is_no_error_is_sent_as_500() {
    // Graph's error body under a 101, a 204 or a 302 is no HTTP a client could read.
    let emu = Emulator::start().await.unwrap();
    let path = "/v1.0/me/onlineMeetings/createOrGet";
    for status in [101, 204, 302] {
        emu.faults().push(Fault::status(status));
        let response = post(&emu, path, json!({"externalId": "s"})).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{status}"
        );
        assert!(!graph_error(response).await.1.is_empty());
    }
    assert_eq!(emu.meeting_count(), 0);
    emu.faults().push(Fault::ApplyThenStatus(204));
    let response = post(&emu, path, json!({"externalId": "s"})).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(emu.meeting_count(), 1);
    emu.token_faults().push(Fault::status(204));
    let refused = token_response(
        &emu,
        "contoso.example",
        "https://graph.microsoft.com/.default",
    );
    assert_eq!(refused.await.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// One HTTP/1.1 response read off a raw connection: status, lower-cased headers and body;
/// `None` when the server closed the connection instead of answering.
async fn read_raw_response(
    stream: &mut tokio::net::TcpStream,
) -> Option<(u16, std::collections::HashMap<String, String>, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    let read = async {
        let head_end = loop {
            if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: std::collections::HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers.get("content-length")?.parse().ok()?;
        let mut body = data[head_end + 4..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Some((status, headers, body))
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()
        .flatten()
}

/// A keep-alive connection stays usable after a refusal: the emulator reads the whole request
/// before answering, even when it refuses it unread (a missing token, `/me` with an
/// application token, a queued fault), as SDKs' HTTP clients pool connections and send the
/// next request on the same one. A request it will not read (a body over the cap) is answered
/// with `Connection: close`, so no client reuses a connection the emulator then closes.
#[tokio::test]
async fn a_refusal_leaves_the_connection_usable_or_says_it_closes() {
    use tokio::io::AsyncWriteExt;
    let emu = Emulator::start().await.unwrap();
    let token = app_token(&emu, "contoso.example").await;
    let body = json!({"externalId": "keep-alive"}).to_string();
    let request = |auth: Option<&str>| {
        let auth = auth.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        format!(
            "POST /v1.0/me/onlineMeetings/createOrGet HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n{auth}\r\n",
            body.len()
        )
    };
    for (refused, status) in [
        (None, 401),
        (Some(token.as_str()), 400),
        (Some("delegated"), 429),
    ] {
        if status == 429 {
            emu.faults().push(Fault::throttle(Duration::from_secs(1)));
        }
        let mut stream = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
        // The head first and the body a little later, as a client that streams its body does.
        stream.write_all(request(refused).as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.write_all(body.as_bytes()).await.unwrap();
        let (first, headers, _) = read_raw_response(&mut stream)
            .await
            .unwrap_or_else(|| panic!("no answer for the {status} request"));
        assert_eq!(first, status);
        assert_ne!(
            headers.get("connection").map(String::as_str),
            Some("close"),
            "{status}"
        );
        // The same connection carries the next request.
        let next = format!("{}{body}", request(Some("delegated")));
        let sent = stream.write_all(next.as_bytes()).await;
        assert!(
            sent.is_ok(),
            "the connection closed after the {status} answer: {sent:?}"
        );
        let (second, _, answer) = read_raw_response(&mut stream)
            .await
            .unwrap_or_else(|| panic!("the connection closed after the {status} answer"));
        assert!(second == 201 || second == 200, "{second}");
        let meeting: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(meeting["externalId"], "keep-alive");
    }

    // Over the cap: refused without keeping the body (here none follows the head), and the
    // answer says the connection closes.
    let mut stream = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    let head = format!(
        "POST /v1.0/me/onlineMeetings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Authorization: Bearer delegated\r\nContent-Length: {}\r\n\r\n",
        MAX_REQUEST_BYTES + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (status, headers, _) = read_raw_response(&mut stream).await.unwrap();
    assert_eq!(status, 413);
    assert_eq!(headers.get("connection").map(String::as_str), Some("close"));
}
