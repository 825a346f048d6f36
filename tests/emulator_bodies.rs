//! Request bodies on the wire, as Graph checks them: `onlineMeeting` and createOrGet's
//! parameters are closed, so an undeclared property, an enum value Graph does not know or a
//! value of the wrong type is a 400 naming where it is, and nothing is made; what the SDKs send
//! (annotations, nulls) and what the emulator itself answers still pass.
#![cfg(feature = "emulator")]

mod support;

use graph_meetings::emulator::Emulator;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{answer, post_delegated};

const CREATE: &str = "/v1.0/me/onlineMeetings";
const CREATE_OR_GET: &str = "/beta/me/onlineMeetings/createOrGet";

/// POSTs `body` with a delegated token; (status, body).
async fn post(emu: &Emulator, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = post_delegated(&format!("{}{path}", emu.base_url()), body).await;
    let (status, request_id, body) = answer(response).await;
    if !status.is_success() {
        assert_eq!(
            body["error"]["innerError"]["request-id"],
            request_id.as_str()
        );
    }
    (status, body)
}

/// Every key in `value`, at any depth.
fn keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.clone()).chain(keys(v)))
            .collect(),
        Value::Array(items) => items.iter().flat_map(keys).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn what_graph_refuses_is_a_400_naming_the_property_and_makes_nothing() {
    let emu = Emulator::start().await.unwrap();
    let attendee = |fields: Value| json!({"participants": {"attendees": [fields]}});
    // (path, body, what the message must contain)
    let refused = [
        (
            CREATE,
            json!({"subjet": "typo"}),
            vec!["'subjet' does not exist", "microsoft.graph.onlineMeeting"],
        ),
        (
            CREATE,
            attendee(json!({"upn": "a@contoso.example", "role": "bogusRole"})),
            vec![
                "'bogusRole'",
                "participants.attendees[0].role",
                "microsoft.graph.onlineMeetingRole",
            ],
        ),
        (
            CREATE,
            json!({"allowedPresenters": "nobody"}),
            vec![
                "'nobody'",
                "'allowedPresenters'",
                "microsoft.graph.onlineMeetingPresenters",
            ],
        ),
        (
            CREATE,
            json!({"lobbyBypassSettings": {"scope": "zzz"}}),
            vec!["'zzz'", "lobbyBypassSettings.scope"],
        ),
        (
            CREATE,
            attendee(json!({"upn": 5})),
            vec!["participants.attendees[0].upn", "Edm.String"],
        ),
        (
            CREATE,
            json!({"participants": {"organizer": 5}}),
            vec![
                "participants.organizer",
                "microsoft.graph.meetingParticipantInfo",
            ],
        ),
        (
            CREATE,
            json!({"chatInfo": {"threadId": 5}}),
            vec!["chatInfo.threadId", "Edm.String"],
        ),
        (
            CREATE,
            attendee(json!({"identity": {"user": {"id": "u", "nickname": "n"}}})),
            vec![
                "'nickname' does not exist",
                "participants.attendees[0].identity.user.nickname",
            ],
        ),
        (
            CREATE_OR_GET,
            json!({"externalId": "e", "chatInfo": {"threadId": 5}}),
            vec!["chatInfo.threadId"],
        ),
        (
            CREATE_OR_GET,
            json!({"externalId": "e", "subjet": "typo"}),
            vec!["'subjet'", "not a valid parameter"],
        ),
        (
            CREATE_OR_GET,
            json!({"externalId": "e", "participants": {"attendees": [{"role": "boss"}]}}),
            vec!["'boss'", "participants.attendees[0].role"],
        ),
    ];
    for (path, body, needles) in refused {
        let (status, answer) = post(&emu, path, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "BadRequest", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        for needle in needles {
            assert!(message.contains(needle), "{body}: {message}");
        }
    }
    assert_eq!(emu.meeting_count(), 0, "a refused body makes no meeting");

    // The same properties with values Graph takes.
    let fine = json!({"subject": "typo fixed", "allowedPresenters": "organizer",
        "lobbyBypassSettings": {"scope": "everyone"},
        "participants": {"attendees": [{"upn": "ann@contoso.example", "role": "coorganizer"}]}});
    let (status, meeting) = post(&emu, CREATE, &fine).await;
    assert_eq!(status, StatusCode::CREATED, "{meeting}");
    assert_eq!(meeting["allowedPresenters"], "organizer");
    assert_eq!(meeting["lobbyBypassSettings"]["scope"], "everyone");
    // An evolvable enumeration's later member, to a request that did not ask for those.
    assert_eq!(
        meeting["participants"]["attendees"][0]["role"],
        "unknownFutureValue"
    );
}

#[tokio::test]
async fn later_enum_members_are_answered_as_they_are_only_to_a_request_that_asks() {
    let emu = Emulator::start().await.unwrap();
    let body = json!({"externalId": "evolvable", "participants": {"attendees": [
        {"upn": "ann@contoso.example", "role": "coorganizer"},
        {"upn": "bob@contoso.example", "role": "presenter"},
        {"upn": "cy@contoso.example", "role": "producer"}]}});
    let url = format!("{}{CREATE_OR_GET}", emu.base_url());
    let send = |prefer: Option<&'static str>| {
        let mut request = support::http()
            .post(&url)
            .bearer_auth("delegated-demo-token")
            .json(&body);
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        async move {
            let response = request.send().await.unwrap();
            let applied = response.headers().get("preference-applied").cloned();
            let (status, _, body) = answer(response).await;
            (status, applied, body)
        }
    };
    let shown = |meeting: &Value| {
        let roles = &meeting["participants"]["attendees"];
        [0, 1, 2].map(|i| roles[i]["role"].clone())
    };
    let (status, applied, plain) = send(None).await;
    assert_eq!(applied, None);
    assert_eq!(status, StatusCode::CREATED, "{plain}");
    assert_eq!(
        shown(&plain),
        ["unknownFutureValue", "presenter", "unknownFutureValue"]
    );
    // The same stored meeting, shown whole: the preference among others, in any case.
    for prefer in [
        "include-unknown-enum-members",
        "odata.maxpagesize=10, Include-Unknown-Enum-Members",
    ] {
        let (status, applied, full) = send(Some(prefer)).await;
        assert_eq!(status, StatusCode::OK, "{full}");
        assert_eq!(applied.unwrap(), "include-unknown-enum-members");
        assert_eq!(shown(&full), ["coorganizer", "presenter", "producer"]);
    }
    let (_, _, plain) = send(Some("return=minimal")).await;
    assert_eq!(shown(&plain)[0], "unknownFutureValue");
}

#[tokio::test]
async fn annotations_and_nulls_as_the_sdks_send_them_are_accepted_and_not_echoed() {
    let emu = Emulator::start().await.unwrap();
    let body = json!({
        "@odata.type": "#microsoft.graph.onlineMeeting",
        "subject": "From an SDK",
        "startDateTime": "2031-01-02T09:00:00.000Z",
        "endDateTime": "2031-01-02T09:45:00+00:00",
        "externalId": null,
        "joinMeetingIdSettings": {"@odata.type": "#microsoft.graph.joinMeetingIdSettings", "isPasscodeRequired": true},
        "participants": {
            "@odata.type": "#microsoft.graph.meetingParticipants",
            "attendees": [{"@odata.type": "#microsoft.graph.meetingParticipantInfo", "upn": "ann@contoso.example", "role": null}],
            "producers": null,
        },
    });
    let (status, meeting) = post(&emu, CREATE, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{meeting}");
    assert_eq!(meeting["subject"], "From an SDK");
    assert_eq!(meeting["joinMeetingIdSettings"]["isPasscodeRequired"], true);
    assert_eq!(
        meeting["participants"]["attendees"][0]["upn"],
        "ann@contoso.example"
    );
    let annotations: Vec<String> = keys(&meeting)
        .into_iter()
        .filter(|k| k.contains("@odata.type"))
        .collect();
    assert!(annotations.is_empty(), "{annotations:?} in {meeting}");
}

#[tokio::test]
async fn a_meeting_the_emulator_answered_can_be_posted_back_to_create() {
    let emu = Emulator::start().await.unwrap();
    for (made, version) in [(2, "v1.0"), (4, "beta")] {
        let create = format!("/{version}/me/onlineMeetings");
        let first = json!({"subject": "Copy me", "startDateTime": "2031-03-01T10:00:00Z",
            "participants": {"attendees": [{"upn": "ann@contoso.example"}]}});
        let (status, answered) = post(&emu, &create, &first).await;
        assert_eq!(status, StatusCode::CREATED, "{answered}");

        let (status, copy) = post(&emu, &create, &answered).await;
        assert_eq!(status, StatusCode::CREATED, "{version}: {copy}");
        assert_eq!(copy["subject"], "Copy me");
        assert_eq!(copy["startDateTime"], answered["startDateTime"]);
        assert_eq!(
            copy["participants"]["attendees"][0]["upn"],
            "ann@contoso.example"
        );
        assert_eq!(
            emu.meeting_count(),
            made,
            "{version}: create makes one each time"
        );
    }
}

#[tokio::test]
async fn a_meeting_asked_to_be_a_live_event_is_made_as_a_plain_meeting() {
    // Graph's create page: this API does not create a Teams live event.
    let emu = Emulator::start().await.unwrap();
    let body = json!({"subject": "Town hall", "isBroadcast": true});
    let (status, answered) = post(&emu, CREATE, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answered}");
    assert_eq!(answered["isBroadcast"], false, "{answered}");
    assert_eq!(answered["subject"], "Town hall");
}
