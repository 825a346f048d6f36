//! A new meeting as Graph returns it: what the caller asked for plus everything the service
//! fills in (IDs, join URLs, dial-in, passcode, organizer, chat thread), in Graph's property
//! order, with the nulls and the properties this crate's types do not name that the real
//! service sends too.

use base64::Engine;
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use super::{directory::UserRef, join_info, request::graph_time, request::Asked};
use crate::ApiVersion;

/// What a URL component keeps as is (RFC 3986 unreserved characters).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where and for whom a meeting is made.
pub(super) struct Origin<'a> {
    /// The emulator's root URL, for `@odata.context`.
    pub root: &'a str,
    pub version: ApiVersion,
    pub tenant: &'a str,
    pub organizer: &'a UserRef,
    pub now: DateTime<Utc>,
}

/// A stored meeting as `origin`'s version shows it: `@odata.context` names that version, and
/// the beta-only `joinUrl` is there on beta alone (right after the times, where `build` puts
/// it). A meeting made on one version and fetched on the other looks as if made on the second.
pub(super) fn fit_version(meeting: Value, origin: &Origin<'_>) -> Value {
    let context = odata_context(origin);
    let Value::Object(stored) = meeting else {
        return meeting;
    };
    // Fetched on the version it was made on (the usual case): nothing to change.
    if stored.get("@odata.context").and_then(Value::as_str) == Some(context.as_str()) {
        return Value::Object(stored);
    }
    let join_url = stored.get("joinWebUrl").cloned();
    let mut fitted = Map::new();
    for (name, value) in stored {
        match name.as_str() {
            "@odata.context" => {
                fitted.insert(name, json!(context));
            }
            "joinUrl" => {}
            "endDateTime" => {
                fitted.insert(name, value);
                if let (ApiVersion::Beta, Some(url)) = (origin.version, &join_url) {
                    fitted.insert("joinUrl".into(), url.clone());
                }
            }
            _ => {
                fitted.insert(name, value);
            }
        }
    }
    Value::Object(fitted)
}

fn odata_context(origin: &Origin<'_>) -> String {
    format!(
        "{}/{}/$metadata#users('{}')/onlineMeetings/$entity",
        origin.root, origin.version, origin.organizer.id
    )
}

/// The meeting for `asked`, its `joinInformation` in the language `accept_language` picks.
pub(super) fn build(asked: &Asked, origin: &Origin<'_>, accept_language: Option<&str>) -> Value {
    let organizer = origin.organizer;
    let given_chat = asked.fields.get("chatInfo");
    let thread_id = given_chat
        .and_then(|c| c.get("threadId"))
        .and_then(Value::as_str)
        .map_or_else(new_thread_id, str::to_owned);
    let message_id = given_chat
        .and_then(|c| c.get("messageId"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            // A meeting in a channel thread starts a reply chain; a private one has message 0.
            // Teams numbers messages by the millisecond; two meetings made in one must still
            // differ, so the emulator draws thirteen digits instead.
            if given_chat.is_some() {
                digits(13)
            } else {
                "0".to_owned()
            }
        });
    let reply_chain = given_chat
        .and_then(|c| c.get("replyChainMessageId"))
        .cloned()
        .unwrap_or(Value::Null);
    let context = json!({"Tid": origin.tenant, "Oid": organizer.id}).to_string();
    let join_url = format!(
        "https://teams.microsoft.com/l/meetup-join/{}/{}?context={}",
        utf8_percent_encode(&thread_id, COMPONENT),
        utf8_percent_encode(&message_id, COMPONENT),
        utf8_percent_encode(&context, COMPONENT),
    );
    // Each meeting its own ID (Graph's notes: "different meeting instances ... each with its
    // own unique ID"): a thread made for this meeting is its own, while one the caller named
    // can hold many meetings, so the ID then gets a part drawn for this one.
    let own_thread = given_chat.and_then(|c| c.get("threadId")).is_none();
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(match own_thread {
        true => format!("1*{}*0**{thread_id}", organizer.id),
        false => format!("1*{}*0**{thread_id}*{}", organizer.id, digits(12)),
    });
    let passcode_required = asked
        .fields
        .get("joinMeetingIdSettings")
        .and_then(|s| s.get("isPasscodeRequired"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let conference_id = digits(9);

    let mut meeting = Map::new();
    let mut set = |name: &str, value: Value| {
        meeting.insert(name.to_owned(), value);
    };
    set("@odata.context", json!(odata_context(origin)));
    set("id", json!(id));
    set("creationDateTime", json!(graph_time(origin.now)));
    // Both are always set by the time rules; `get` keeps a slip from becoming a panic.
    let field = |name: &str| asked.fields.get(name).cloned().unwrap_or(Value::Null);
    set("startDateTime", field("startDateTime"));
    set("endDateTime", field("endDateTime"));
    if origin.version == ApiVersion::Beta {
        // Deprecated on beta, still sent.
        set("joinUrl", json!(join_url));
    }
    set("joinWebUrl", json!(join_url));
    set("subject", Value::Null);
    set("isBroadcast", json!(false));
    set("autoAdmittedUsers", json!("EveryoneInCompany"));
    set("outerMeetingAutoAdmittedUsers", Value::Null);
    set("isEntryExitAnnounced", json!(true));
    set("allowedPresenters", json!("everyone"));
    set("allowMeetingChat", json!("enabled"));
    set("shareMeetingChatHistoryDefault", json!("none"));
    set("allowTeamworkReactions", json!(true));
    set("allowAttendeeToEnableMic", json!(true));
    set("allowAttendeeToEnableCamera", json!(true));
    set("recordAutomatically", json!(false));
    set("videoTeleconferenceId", json!(digits(10)));
    set("externalId", json!(asked.external_id));
    set("broadcastSettings", Value::Null);
    set(
        "joinMeetingIdSettings",
        json!({
            "isPasscodeRequired": passcode_required,
            "joinMeetingId": digits(12),
            "passcode": passcode_required.then(passcode),
        }),
    );
    set(
        "audioConferencing",
        json!({
            "conferenceId": conference_id,
            "tollNumber": "+1 206-555-0100",
            "tollFreeNumber": null,
            "tollNumbers": ["+12065550100"],
            "tollFreeNumbers": [],
            "dialinUrl": format!(
                "https://dialin.teams.microsoft.com/{}?id={conference_id}",
                uuid::Uuid::new_v4()
            ),
        }),
    );
    set(
        "participants",
        participants(asked.fields.get("participants"), organizer, origin.tenant),
    );
    set(
        "lobbyBypassSettings",
        json!({"scope": "organization", "isDialInBypassEnabled": false}),
    );
    set(
        "chatInfo",
        json!({
            "threadId": thread_id,
            "messageId": message_id,
            "replyChainMessageId": reply_chain,
        }),
    );
    // What the caller set wins over the defaults; what the service fills in wins over the caller.
    // `isBroadcast` among the latter: Graph's create page says this API makes no live event.
    for (name, value) in &asked.fields {
        let service_owned = matches!(
            name.as_str(),
            "participants" | "joinMeetingIdSettings" | "chatInfo" | "externalId" | "isBroadcast"
        );
        if !service_owned {
            meeting.insert(name.clone(), value.clone());
        }
    }
    let mut meeting = Value::Object(meeting);
    let info = join_info::render(&meeting, accept_language);
    meeting["joinInformation"] = info;
    meeting
}

/// The caller's participants with the organizer set to the acting user, attendees' missing
/// roles as null and their identities looked up from their UPNs.
fn participants(given: Option<&Value>, organizer: &UserRef, tenant: &str) -> Value {
    let list = |name: &str| {
        given
            .and_then(|p| p.get(name))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let attendees: Vec<Value> = list("attendees")
        .into_iter()
        .map(|mut attendee| {
            let upn = attendee.get("upn").and_then(Value::as_str).map(str::to_owned);
            if let Value::Object(fields) = &mut attendee {
                fields.entry("role").or_insert(Value::Null);
                if !fields.contains_key("identity") {
                    if let Some(user) = upn.as_deref().and_then(UserRef::resolve) {
                        fields.insert(
                            "identity".into(),
                            json!({"user": {"id": user.id, "displayName": null, "tenantId": tenant}}),
                        );
                    }
                }
            }
            attendee
        })
        .collect();
    json!({
        "organizer": {
            "upn": organizer.upn,
            "role": "presenter",
            "identity": {
                "user": {
                    "id": organizer.id,
                    "displayName": null,
                    "tenantId": tenant,
                    "identityProvider": "AAD",
                }
            }
        },
        "attendees": attendees,
        "producers": list("producers"),
        "contributors": list("contributors"),
    })
}

fn new_thread_id() -> String {
    let seed = uuid::Uuid::new_v4().to_string();
    format!(
        "19:meeting_{}@thread.v2",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(seed)
    )
}

fn digits(n: usize) -> String {
    let first = char::from(b'1' + fastrand::u8(..9));
    std::iter::once(first)
        .chain((1..n).map(|_| char::from(b'0' + fastrand::u8(..10))))
        .collect()
}

fn passcode() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    (0..6)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::request::{parse, Operation};

    fn origin<'a>(organizer: &'a UserRef, version: ApiVersion) -> Origin<'a> {
        Origin {
            root: "http://127.0.0.1:1",
            version,
            tenant: "t-1",
            organizer,
            now: Utc::now(),
        }
    }

    #[test]
    fn the_service_fills_in_what_graph_fills_in() {
        let organizer = UserRef::demo();
        let asked = parse(
            Operation::Create,
            ApiVersion::V1,
            br#"{"subject":"s","joinMeetingIdSettings":{"isPasscodeRequired":true},
                 "participants":{"attendees":[{"upn":"ann@contoso.example"}]},"allowedPresenters":"organizer"}"#,
            Utc::now(),
        )
        .unwrap();
        let m = build(&asked, &origin(&organizer, ApiVersion::V1), None);
        for field in [
            "id",
            "creationDateTime",
            "joinWebUrl",
            "videoTeleconferenceId",
        ] {
            assert!(m[field].as_str().is_some_and(|s| !s.is_empty()), "{field}");
        }
        assert!(m.get("joinUrl").is_none(), "joinUrl is beta only");
        assert_eq!(m["subject"], "s");
        assert_eq!(m["allowedPresenters"], "organizer");
        assert_eq!(
            m["joinMeetingIdSettings"]["passcode"]
                .as_str()
                .unwrap()
                .len(),
            6
        );
        assert_eq!(
            m["participants"]["organizer"]["identity"]["user"]["id"],
            organizer.id
        );
        let ann = &m["participants"]["attendees"][0];
        assert!(ann["role"].is_null());
        assert!(ann["identity"]["user"]["id"].is_string());
        assert!(m["chatInfo"]["threadId"]
            .as_str()
            .unwrap()
            .starts_with("19:meeting_"));
        assert_eq!(m["joinInformation"]["contentType"], "html");
        let typed: crate::types::OnlineMeeting = serde_json::from_value(m).unwrap();
        assert!(typed.extra.contains_key("@odata.context"));
    }

    #[test]
    fn a_channel_thread_is_kept_and_no_passcode_unless_asked() {
        let organizer = UserRef::demo();
        let asked = parse(
            Operation::CreateOrGet,
            ApiVersion::Beta,
            br#"{"externalId":"e","chatInfo":{"threadId":"19:abc@thread.tacv2"}}"#,
            Utc::now(),
        )
        .unwrap();
        let m = build(&asked, &origin(&organizer, ApiVersion::Beta), Some("ja"));
        assert_eq!(m["chatInfo"]["threadId"], "19:abc@thread.tacv2");
        assert_ne!(m["chatInfo"]["messageId"], "0");
        assert!(m["joinWebUrl"]
            .as_str()
            .unwrap()
            .contains("19%3Aabc%40thread.tacv2"));
        assert_eq!(m["joinUrl"], m["joinWebUrl"]);
        assert!(m["joinMeetingIdSettings"]["passcode"].is_null());
        assert_eq!(m["externalId"], "e");
    }

    #[test]
    fn a_stored_meeting_shows_as_the_version_it_is_fetched_on() {
        let organizer = UserRef::demo();
        let asked = parse(
            Operation::CreateOrGet,
            ApiVersion::Beta,
            br#"{"externalId":"e"}"#,
            Utc::now(),
        )
        .unwrap();
        let beta = build(&asked, &origin(&organizer, ApiVersion::Beta), None);
        let names = |m: &Value| m.as_object().unwrap().keys().cloned().collect::<Vec<_>>();

        let v1 = fit_version(beta.clone(), &origin(&organizer, ApiVersion::V1));
        assert!(v1.get("joinUrl").is_none(), "joinUrl is beta only");
        let context = v1["@odata.context"].as_str().unwrap();
        assert!(context.contains("/v1.0/$metadata"), "{context}");
        assert_eq!(v1["joinWebUrl"], beta["joinWebUrl"]);

        // And back: the same meeting, the same properties in the same order.
        let again = fit_version(v1, &origin(&organizer, ApiVersion::Beta));
        assert_eq!(names(&again), names(&beta));
        assert_eq!(again, beta);
    }
}
