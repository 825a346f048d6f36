//! What a caller asked for: the request body checked as Graph checks it (see `rules`: what the
//! spec declares, closed), with the documented time rules applied.
//!
//! createOrGet is an OData action, so a parameter it does not declare is refused; that is how
//! `chatInfo` is refused on v1.0. create takes an `onlineMeeting`, which is not an open type:
//! an undeclared property is refused, and the properties only the service sets are dropped.

use chrono::{DateTime, Datelike, Utc};
use serde_json::{Map, Value};

use super::{
    body::{self, MAX_REQUEST_VALUES},
    graph_error::GraphFailure,
    rules,
};
use crate::ApiVersion;

/// The two operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    Create,
    CreateOrGet,
}

/// A checked request.
#[derive(Debug, Clone)]
pub(super) struct Asked {
    /// The properties the caller set, times included as explicit UTC values.
    pub fields: Map<String, Value>,
    /// createOrGet's key.
    pub external_id: Option<String>,
}

/// Checks `body` for `operation` on `version`, resolving start and end against `now`.
pub(super) fn parse(
    operation: Operation,
    version: ApiVersion,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Asked, GraphFailure> {
    let rules = rules::get().map_err(|why| {
        GraphFailure::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            format!("The emulator could not read its spec: {why}"),
        )
    })?;
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        GraphFailure::bad_request(format!(
            "Invalid request body: the JSON could not be read ({e})."
        ))
    })?;
    // OData's reader refuses a name given twice in one object, where serde_json keeps the last.
    if let Err(found) = crate::json::repeated_key(body) {
        return Err(GraphFailure::bad_request(format!(
            "Multiple properties with the name '{}' were detected in an entry or a complex \
             value. In OData, duplicate property names are not allowed.",
            found.key
        )));
    }
    if body::values(&value) > MAX_REQUEST_VALUES {
        return Err(GraphFailure::too_large(format!(
            "The request body has more than {MAX_REQUEST_VALUES} JSON values."
        )));
    }
    let Value::Object(mut fields) = value else {
        return Err(GraphFailure::bad_request(
            "Invalid request body: a JSON object is expected.",
        ));
    };
    rules.check(operation, version, &mut fields)?;

    let external_id = fields
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if operation == Operation::CreateOrGet
        && external_id.as_deref().is_none_or(|id| id.trim().is_empty())
    {
        return Err(GraphFailure::bad_request(
            "The parameter 'externalId' is required and must not be empty.",
        ));
    }

    let start = instant(&fields, "startDateTime");
    let end = instant(&fields, "endDateTime");
    let (start, end) = meeting_times(start, end, now).map_err(GraphFailure::bad_request)?;
    fields.insert("startDateTime".into(), Value::String(graph_time(start)));
    fields.insert("endDateTime".into(), Value::String(graph_time(end)));
    // A create's other instant is kept as Graph keeps every one: in ticks, as UTC.
    if let Some(expiry) = instant(&fields, "expiryDateTime") {
        fields.insert("expiryDateTime".into(), Value::String(graph_time(expiry)));
    }
    Ok(Asked {
        fields,
        external_id,
    })
}

/// The time rules of Graph's createOrGet pages, applied by the emulator to both operations as
/// the client does. Written here from the pages rather than calling the client's own
/// (`crate::times`): tests against the emulator then check the client's rules instead of
/// agreeing with them by construction. (Literals outside the years 1 to 9999, or in a leap
/// second, were refused as literals by `rules`.)
fn meeting_times(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), &'static str> {
    let an_hour_after = |start: DateTime<Utc>| {
        start
            .checked_add_signed(chrono::Duration::hours(1))
            // Edm.DateTimeOffset ends with the year 9999.
            .filter(|end| end.year() <= 9999)
            .ok_or("The DateTimeOffset value is out of range: startDateTime and endDateTime must be before the year 10000.")
    };
    match (start, end) {
        (None, None) => Ok((now, an_hour_after(now)?)),
        (Some(start), None) => Ok((start, an_hour_after(start)?)),
        (None, Some(_)) => Err("endDateTime cannot be specified without startDateTime."),
        (Some(start), Some(end)) if end < start => {
            Err("endDateTime cannot be earlier than startDateTime.")
        }
        (Some(start), Some(end)) => Ok((start, end)),
    }
}

/// A start or end the rules have already checked, as UTC, in Graph's 100 ns ticks
/// (`rules::instant` rounds them as Graph does): the time rules compare what Graph keeps.
/// Not through the client's code, for the reason `meeting_times` gives.
fn instant(fields: &Map<String, Value>, name: &str) -> Option<DateTime<Utc>> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .and_then(rules::instant)
}

/// UTC with seven fractional digits, as Graph writes times.
pub(super) fn graph_time(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2020-02-06T01:49:21.3524945Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn parse_json(op: Operation, version: ApiVersion, body: &str) -> Result<Asked, GraphFailure> {
        parse(op, version, body.as_bytes(), now())
    }

    #[test]
    fn a_property_named_twice_is_refused_as_odata_refuses_it() {
        for body in [
            r#"{"externalId":"x","subject":"a","subject":"b"}"#,
            r#"{"externalId":"x","participants":{"attendees":[{"upn":"a@contoso.com","role":"presenter","role":"attendee"}]}}"#,
        ] {
            let err = parse_json(Operation::CreateOrGet, ApiVersion::V1, body).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST, "{body}");
            assert!(
                format!("{err:?}").contains("duplicate property names are not allowed"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn a_body_of_too_many_values_is_refused_before_it_grows() {
        // A megabyte of empty attendees would be a third of a million objects.
        let body = |n: usize| {
            let attendees = vec!["{}"; n].join(",");
            format!(r#"{{"externalId":"x","participants":{{"attendees":[{attendees}]}}}}"#)
        };
        // The object, externalId's string, participants and its array: four values besides.
        let most = MAX_REQUEST_VALUES - 4;
        assert!(parse_json(Operation::CreateOrGet, ApiVersion::V1, &body(most)).is_ok());
        let Err(refused) = parse_json(Operation::CreateOrGet, ApiVersion::V1, &body(most + 1))
        else {
            panic!("one value too many, and accepted")
        };
        assert_eq!(refused.status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn time_rules_as_documented() {
        let asked = parse_json(
            Operation::CreateOrGet,
            ApiVersion::V1,
            r#"{"externalId":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            asked.fields["startDateTime"],
            "2020-02-06T01:49:21.3524945Z"
        );
        assert_eq!(asked.fields["endDateTime"], "2020-02-06T02:49:21.3524945Z");

        let asked = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r#"{"startDateTime":"2019-07-12T14:30:34.2444915-07:00"}"#,
        )
        .unwrap();
        assert_eq!(
            asked.fields["startDateTime"],
            "2019-07-12T21:30:34.2444915Z"
        );
        assert_eq!(asked.fields["endDateTime"], "2019-07-12T22:30:34.2444915Z");

        for body in [
            r#"{"externalId":"x","endDateTime":"2020-01-01T00:00:00Z"}"#,
            r#"{"externalId":"x","startDateTime":"2020-01-01T00:00:01Z","endDateTime":"2020-01-01T00:00:00Z"}"#,
            r#"{"externalId":"x","startDateTime":"yesterday"}"#,
            r#"{"externalId":"x","startDateTime":5}"#,
            // Past the year 9999 once the hour is added, before the year 1, a leap second.
            r#"{"externalId":"x","startDateTime":"9999-12-31T23:30:00Z"}"#,
            r#"{"externalId":"x","startDateTime":"0000-06-01T00:00:00Z"}"#,
            r#"{"externalId":"x","startDateTime":"2016-12-31T23:59:60Z"}"#,
            // An offset past .NET's ±14:00.
            r#"{"externalId":"x","startDateTime":"2020-01-01T10:00:00+14:01"}"#,
            r#"{"externalId":"x","startDateTime":"2020-01-01T10:00:00-23:59"}"#,
        ] {
            let err = parse_json(Operation::CreateOrGet, ApiVersion::V1, body).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
        }
        // Digits past the seventh round to the nearest 100 ns tick, a half to the even one,
        // as .NET's reader does: an end within a tick of its start can hold the same tick...
        let asked = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r#"{"startDateTime":"2020-01-01T00:00:00.00000004Z","endDateTime":"2020-01-01T00:00:00.00000001Z"}"#,
        )
        .unwrap();
        assert_eq!(
            asked.fields["startDateTime"],
            "2020-01-01T00:00:00.0000000Z"
        );
        assert_eq!(asked.fields["endDateTime"], "2020-01-01T00:00:00.0000000Z");
        // ...or the one before it, which is refused.
        let err = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r#"{"startDateTime":"2020-01-01T00:00:00.00000009Z","endDateTime":"2020-01-01T00:00:00.00000001Z"}"#,
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        for (written, held) in [
            (
                "2020-01-01T00:00:00.00000005Z",
                "2020-01-01T00:00:00.0000000Z",
            ),
            (
                "2020-01-01T00:00:00.00000015Z",
                "2020-01-01T00:00:00.0000002Z",
            ),
            (
                "2020-01-01T00:00:00.000000050000001Z",
                "2020-01-01T00:00:00.0000001Z",
            ),
            (
                "2020-01-01T00:00:00.99999996Z",
                "2020-01-01T00:00:01.0000000Z",
            ),
            // OData pads a time written without seconds.
            ("2020-01-01T10:00Z", "2020-01-01T10:00:00.0000000Z"),
            ("2020-01-01T10:00+01:00", "2020-01-01T09:00:00.0000000Z"),
        ] {
            let body = format!(r#"{{"startDateTime":"{written}"}}"#);
            let asked = parse_json(Operation::Create, ApiVersion::V1, &body).unwrap();
            assert_eq!(asked.fields["startDateTime"], held, "{written}");
            // And a create's expiry, the same way.
            let body = format!(r#"{{"expiryDateTime":"{written}"}}"#);
            let asked = parse_json(Operation::Create, ApiVersion::V1, &body).unwrap();
            assert_eq!(asked.fields["expiryDateTime"], held, "{written}");
        }
        // .NET's reader wants the `T`, and a year from 1 as written, whatever the offset.
        for written in [
            "2020-01-01 10:00:00Z",
            "2020-01-01t10:00:00Z",
            "0000-12-31T23:30:00-01:00",
            "2020-01-01T10:0é:00Z",
        ] {
            let body = format!(r#"{{"startDateTime":"{written}"}}"#);
            let err = parse_json(Operation::Create, ApiVersion::V1, &body).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{written}");
        }
        // The widest offsets .NET takes.
        for body in [
            r#"{"externalId":"x","startDateTime":"2020-01-01T10:00:00+14:00"}"#,
            r#"{"externalId":"x","startDateTime":"2020-01-01T10:00:00-14:00"}"#,
        ] {
            parse_json(Operation::CreateOrGet, ApiVersion::V1, body).unwrap();
        }
        // Without an offset, the zone meant is not guessed.
        let naive = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r#"{"startDateTime":"2020-01-01T10:00:00"}"#,
        )
        .unwrap_err();
        assert_eq!(naive.status, StatusCode::BAD_REQUEST);
        assert!(
            naive.message.contains("time zone information is missing"),
            "{}",
            naive.message
        );
    }

    #[test]
    fn create_or_get_parameters_are_checked() {
        for body in [
            r#"{}"#,
            r#"{"externalId":""}"#,
            r#"{"externalId":null}"#,
            r#"{"externalId":7}"#,
            r#"{"externalId":"x","surprise":1}"#,
            r#"{"externalId":"x","chatInfo":{"threadId":"19:a@thread.v2"}}"#,
            r#"{"externalId":"x","subject":["no"]}"#,
            r#"{"externalId":"x","participants":{"attendees":{"upn":"a"}}}"#,
            r#"[1]"#,
            r#"{"externalId":"x""#,
            "",
        ] {
            let err = parse_json(Operation::CreateOrGet, ApiVersion::V1, body).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
        }
        let beta = parse_json(
            Operation::CreateOrGet,
            ApiVersion::Beta,
            r#"{"externalId":"x","chatInfo":{"threadId":"19:a@thread.v2"},"@odata.type":"x.y"}"#,
        )
        .unwrap();
        assert_eq!(beta.external_id.as_deref(), Some("x"));
        assert!(!beta.fields.contains_key("@odata.type"));
    }

    #[test]
    fn create_drops_read_only_properties_and_refuses_undeclared_ones() {
        let asked = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r#"{"id":"mine","joinWebUrl":"https://evil.example","subject":"s",
                "joinMeetingIdSettings":{"isPasscodeRequired":true}}"#,
        )
        .unwrap();
        assert!(!asked.fields.contains_key("id"));
        assert!(!asked.fields.contains_key("joinWebUrl"));
        assert_eq!(asked.fields["subject"], "s");

        let message = |body: &str| {
            let err = parse_json(Operation::Create, ApiVersion::V1, body).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err.code, "BadRequest", "{body}");
            err.message
        };
        let typo = message(r#"{"subjet":"typo"}"#);
        assert!(
            typo.contains("'subjet' does not exist on type 'microsoft.graph.onlineMeeting'"),
            "{typo}"
        );
        let nested = message(r#"{"participants":{"attendees":[{"upn":"a@b.c","rol":"x"}]}}"#);
        assert!(nested.contains("participants.attendees[0].rol"), "{nested}");
        assert!(
            nested.contains("microsoft.graph.meetingParticipantInfo"),
            "{nested}"
        );
        let passcode = message(r#"{"joinMeetingIdSettings":{"isPasscodeRequired":"yes"}}"#);
        assert!(
            passcode.contains("'joinMeetingIdSettings.isPasscodeRequired'")
                && passcode.contains("Edm.Boolean"),
            "{passcode}"
        );
    }

    #[test]
    fn values_are_checked_against_their_types_and_enums() {
        for (body, path, expected) in [
            (
                r#"{"participants":{"attendees":[{"role":"bogusRole"}]}}"#,
                "participants.attendees[0].role",
                "microsoft.graph.onlineMeetingRole",
            ),
            (
                r#"{"allowedPresenters":"nobody"}"#,
                "allowedPresenters",
                "microsoft.graph.onlineMeetingPresenters",
            ),
            (
                r#"{"lobbyBypassSettings":{"scope":"zzz"}}"#,
                "lobbyBypassSettings.scope",
                "microsoft.graph.lobbyBypassScope",
            ),
            (
                r#"{"participants":{"attendees":[{"upn":5}]}}"#,
                "participants.attendees[0].upn",
                "Edm.String",
            ),
            (
                r#"{"participants":{"organizer":5}}"#,
                "participants.organizer",
                "microsoft.graph.meetingParticipantInfo",
            ),
            (
                r#"{"chatInfo":{"threadId":5}}"#,
                "chatInfo.threadId",
                "Edm.String",
            ),
            (
                r#"{"participants":{"attendees":{"upn":"a"}}}"#,
                "participants.attendees",
                "Collection(microsoft.graph.meetingParticipantInfo)",
            ),
            (
                r#"{"participants":{"attendees":[null]}}"#,
                "participants.attendees[0]",
                "microsoft.graph.meetingParticipantInfo[Nullable=False]",
            ),
            (
                r#"{"expiryDateTime":"soon"}"#,
                "expiryDateTime",
                "Edm.DateTimeOffset",
            ),
            (r#"{"isBroadcast":"no"}"#, "isBroadcast", "Edm.Boolean"),
        ] {
            let err = parse_json(Operation::Create, ApiVersion::V1, body).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
            assert!(
                err.message.contains(&format!("'{path}'")) && err.message.contains(expected),
                "{body}: {}",
                err.message
            );
        }
        // The same types through createOrGet's parameters.
        let err = parse_json(
            Operation::CreateOrGet,
            ApiVersion::Beta,
            r#"{"externalId":"x","participants":{"attendees":[{"role":"boss"}]}}"#,
        )
        .unwrap_err();
        assert!(
            err.message.contains("participants.attendees[0].role"),
            "{}",
            err.message
        );
        // Known members, nulls where the spec allows them, and nested objects all pass.
        let asked = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r#"{"allowedPresenters":"organizer","lobbyBypassSettings":{"scope":"everyone","isDialInBypassEnabled":null},
                "participants":{"organizer":null,"attendees":[{"role":"coorganizer","identity":{"user":{"id":"u"}}}]},
                "subject":null,"expiryDateTime":"2030-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(asked.fields["allowedPresenters"], "organizer");
        assert!(!asked.fields.contains_key("subject"), "a null is not given");
    }

    #[test]
    fn annotations_are_accepted_anywhere_and_dropped() {
        // What Kiota's serializers send: `@odata.type` on the entity and on complex values.
        let asked = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r##"{"@odata.type":"#microsoft.graph.onlineMeeting","subject":"s","subject@odata.type":"#String",
                "joinMeetingIdSettings":{"@odata.type":"#microsoft.graph.joinMeetingIdSettings","isPasscodeRequired":true},
                "participants":{"attendees":[{"@odata.type":"#microsoft.graph.meetingParticipantInfo","upn":"a@b.c"}]}}"##,
        )
        .unwrap();
        assert_eq!(
            asked.fields["joinMeetingIdSettings"]["isPasscodeRequired"],
            true
        );
        assert_eq!(asked.fields["participants"]["attendees"][0]["upn"], "a@b.c");
        let text = Value::Object(asked.fields).to_string();
        assert!(!text.contains("odata"), "annotations are not kept: {text}");
    }
}
