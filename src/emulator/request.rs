//! What a caller asked for: the request body checked as Graph checks it, with the documented
//! time rules applied.
//!
//! createOrGet is an OData action, so a parameter it does not declare is refused; that is how
//! `chatInfo` is refused on v1.0. create takes an `onlineMeeting` and keeps whatever it is given
//! except the properties only the service may set.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::graph_error::GraphFailure;
use crate::{times, ApiVersion};

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

/// Properties of an onlineMeeting that only the service sets; a value sent for one is ignored.
const READ_ONLY: &[&str] = &[
    "id",
    "creationDateTime",
    "joinWebUrl",
    "joinUrl",
    "videoTeleconferenceId",
    "audioConferencing",
    "joinInformation",
    "meetingCode",
];

/// Checks `body` for `operation` on `version`, resolving start and end against `now`.
pub(super) fn parse(
    operation: Operation,
    version: ApiVersion,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Asked, GraphFailure> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        GraphFailure::bad_request(format!(
            "Invalid request body: the JSON could not be read ({e})."
        ))
    })?;
    let Value::Object(mut fields) = value else {
        return Err(GraphFailure::bad_request(
            "Invalid request body: a JSON object is expected.",
        ));
    };
    // Instance annotations (`@odata.type`, ...) describe the payload; they are not properties.
    fields.retain(|name, _| !name.starts_with('@'));
    fields.retain(|_, value| !value.is_null());

    let external_id = match operation {
        Operation::CreateOrGet => {
            let allowed: &[&str] = match version {
                ApiVersion::V1 => &[
                    "externalId",
                    "subject",
                    "startDateTime",
                    "endDateTime",
                    "participants",
                ],
                ApiVersion::Beta => &[
                    "externalId",
                    "subject",
                    "startDateTime",
                    "endDateTime",
                    "participants",
                    "chatInfo",
                ],
            };
            if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(GraphFailure::bad_request(format!(
                    "The parameter '{unknown}' in the request payload is not a valid parameter for the operation 'createOrGet'."
                )));
            }
            match fields.get("externalId") {
                Some(Value::String(id)) if !id.trim().is_empty() => Some(id.clone()),
                Some(Value::String(_)) | None => {
                    return Err(GraphFailure::bad_request(
                        "The parameter 'externalId' is required and must not be empty.",
                    ))
                }
                Some(_) => return Err(type_error("externalId", "Edm.String")),
            }
        }
        Operation::Create => {
            fields.retain(|name, _| !READ_ONLY.contains(&name.as_str()));
            fields
                .get("externalId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
    };

    check_kind(&fields, "subject", "Edm.String", Value::is_string)?;
    check_kind(&fields, "externalId", "Edm.String", Value::is_string)?;
    check_kind(
        &fields,
        "participants",
        "microsoft.graph.meetingParticipants",
        Value::is_object,
    )?;
    check_kind(
        &fields,
        "chatInfo",
        "microsoft.graph.chatInfo",
        Value::is_object,
    )?;
    check_kind(
        &fields,
        "joinMeetingIdSettings",
        "microsoft.graph.joinMeetingIdSettings",
        Value::is_object,
    )?;
    if let Some(attendees) = fields.get("participants").and_then(|p| p.get("attendees")) {
        let valid = attendees.is_null()
            || attendees
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_object));
        if !valid {
            return Err(type_error(
                "attendees",
                "Collection(microsoft.graph.meetingParticipantInfo)",
            ));
        }
    }
    if let Some(required) = fields
        .get("joinMeetingIdSettings")
        .and_then(|s| s.get("isPasscodeRequired"))
    {
        if !required.is_boolean() && !required.is_null() {
            return Err(type_error("isPasscodeRequired", "Edm.Boolean"));
        }
    }

    let start = instant(&fields, "startDateTime")?;
    let end = instant(&fields, "endDateTime")?;
    let (start, end) = times::resolve(start, end, now).map_err(|rule| {
        use crate::InvalidRequest as R;
        GraphFailure::bad_request(match rule {
            R::EndWithoutStart { .. } => {
                "endDateTime cannot be specified without startDateTime.".to_owned()
            }
            R::EndBeforeStart { .. } => {
                "endDateTime cannot be earlier than startDateTime.".to_owned()
            }
            other => other.to_string(),
        })
    })?;
    // Edm.DateTimeOffset ends with the year 9999.
    if start.year() > 9999 || end.year() > 9999 {
        return Err(GraphFailure::bad_request(
            "The DateTimeOffset value is out of range: startDateTime and endDateTime must be before the year 10000.",
        ));
    }
    fields.insert("startDateTime".into(), Value::String(graph_time(start)));
    fields.insert("endDateTime".into(), Value::String(graph_time(end)));
    Ok(Asked {
        fields,
        external_id,
    })
}

fn check_kind(
    fields: &Map<String, Value>,
    name: &str,
    expected: &str,
    is: fn(&Value) -> bool,
) -> Result<(), GraphFailure> {
    match fields.get(name) {
        Some(value) if !is(value) => Err(type_error(name, expected)),
        _ => Ok(()),
    }
}

fn type_error(name: &str, expected: &str) -> GraphFailure {
    GraphFailure::bad_request(format!(
        "Cannot convert the value of '{name}' to the expected type '{expected}'."
    ))
}

/// An `Edm.DateTimeOffset`: RFC 3339 with any offset, or without one (read as UTC, as Graph
/// does).
fn instant(fields: &Map<String, Value>, name: &str) -> Result<Option<DateTime<Utc>>, GraphFailure> {
    let Some(value) = fields.get(name) else {
        return Ok(None);
    };
    let literal = value
        .as_str()
        .ok_or_else(|| type_error(name, "Edm.DateTimeOffset"))?;
    DateTime::parse_from_rfc3339(literal)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(literal, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
        })
        .map(Some)
        .map_err(|_| {
            GraphFailure::bad_request(format!(
                "Cannot convert the literal '{}' to the expected type 'Edm.DateTimeOffset'.",
                literal.chars().take(64).collect::<String>()
            ))
        })
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
        ] {
            let err = parse_json(Operation::CreateOrGet, ApiVersion::V1, body).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
        }
        let naive = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r#"{"startDateTime":"2020-01-01T10:00:00"}"#,
        )
        .unwrap();
        assert_eq!(
            naive.fields["startDateTime"],
            "2020-01-01T10:00:00.0000000Z"
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
    fn create_drops_read_only_properties_and_keeps_the_rest() {
        let asked = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r#"{"id":"mine","joinWebUrl":"https://evil.example","subject":"s","futureProperty":{"a":1},
                "joinMeetingIdSettings":{"isPasscodeRequired":true}}"#,
        )
        .unwrap();
        assert!(!asked.fields.contains_key("id"));
        assert!(!asked.fields.contains_key("joinWebUrl"));
        assert_eq!(asked.fields["futureProperty"]["a"], 1);
        let err = parse_json(
            Operation::Create,
            ApiVersion::V1,
            r#"{"joinMeetingIdSettings":{"isPasscodeRequired":"yes"}}"#,
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
    }
}
