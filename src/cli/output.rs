//! What the request commands print on stdout: one JSON object for scripts, or a short summary
//! for people.
//!
//! The JSON's `meeting` is the body exactly as the service sent it, laid out anew but not
//! re-typed or re-read, so nulls, unknown properties, unknown enum values and numbers past
//! what an `f64` holds all survive.

use chrono::Local;
use serde_json::{json, Value};

use super::{args::Output, terminal::printable, verbatim};
use crate::types::OnlineMeeting;

/// An answer of either operation, as the command reports it.
pub(super) struct Answer<'a> {
    /// `"created"` or `"existing"`.
    pub outcome: &'static str,
    pub status: u16,
    pub request_id: Option<&'a str>,
    pub client_request_id: &'a str,
    pub meeting: &'a OnlineMeeting,
    pub raw: &'a [u8],
    /// Requests sent, retries included.
    pub attempts: u32,
}

/// The text for stdout.
pub(super) fn render(answer: &Answer<'_>, output: Output) -> String {
    match output {
        Output::Json => json_object(answer),
        Output::Summary => summary(answer),
    }
}

fn json_object(answer: &Answer<'_>) -> String {
    let head = json!({
        "outcome": answer.outcome,
        "status": answer.status,
        "requestId": answer.request_id,
        "clientRequestId": answer.client_request_id,
        "attempts": answer.attempts,
    });
    // The body as sent; the decoded meeting only if the body was not one object (which the
    // decoder would have refused, so in principle never).
    let meeting = verbatim::object(answer.raw, 1).unwrap_or_else(|| {
        let value = serde_json::to_value(answer.meeting).unwrap_or(Value::Null);
        format!("{value:#}").replace('\n', "\n  ")
    });
    let head = format!("{head:#}");
    let head = head.strip_suffix("\n}").unwrap_or(&head);
    format!("{head},\n  \"meeting\": {meeting}\n}}\n")
}

fn summary(answer: &Answer<'_>) -> String {
    let m = answer.meeting;
    let subject = m
        .subject
        .as_deref()
        .map_or("(no subject)".into(), printable);
    let mut text = match answer.outcome {
        // After a retry the meeting found may be the one an earlier attempt made.
        "existing" if answer.attempts > 1 => format!(
            "existing: {subject} (found after {} attempts: an earlier attempt of this command \
             may have made it; either way there is one meeting with this externalId)\n",
            answer.attempts
        ),
        "existing" => format!(
            "existing: {subject} (a meeting with this externalId already existed; nothing new was made)\n"
        ),
        _ => format!("created: {subject}\n"),
    };
    let mut row = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            text += &format!("  {name:<10} {}\n", printable(&value));
        }
    };
    row("start", m.start_date_time.map(local));
    row("end", m.end_date_time.map(local));
    row("join", m.join_web_url.clone());
    let settings = m.join_meeting_id_settings.as_ref();
    row(
        "meeting ID",
        settings.and_then(|s| s.join_meeting_id.clone()),
    );
    row("passcode", settings.and_then(|s| s.passcode.clone()));
    row("id", m.id.clone());
    row("request-id", answer.request_id.map(str::to_owned));
    text
}

/// An instant in the local zone, with its offset so it is unambiguous.
fn local(t: crate::Timestamp) -> String {
    t.with_timezone(&Local)
        .format("%a %Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_every_property_as_sent() {
        let raw = br#"{"id":"m1","futureThing":{"x":[1,null]},"allowedPresenters":"someNewValue","subject":null}"#;
        let meeting: OnlineMeeting = serde_json::from_slice(raw).unwrap();
        let answer = Answer {
            outcome: "existing",
            status: 200,
            request_id: None,
            client_request_id: "c",
            meeting: &meeting,
            raw,
            attempts: 1,
        };
        let printed: Value = serde_json::from_str(&render(&answer, Output::Json)).unwrap();
        assert_eq!(printed["outcome"], "existing");
        assert_eq!(printed["status"], 200);
        assert!(printed["requestId"].is_null());
        assert_eq!(
            printed["meeting"],
            serde_json::from_slice::<Value>(raw).unwrap()
        );

        // Numbers an f64 does not hold are printed as sent, and the document is serde_json's
        // layout throughout.
        let raw = br#"{"id":"m1","big":12345678901234567890123,"tiny":1.00000000000000000001}"#;
        let meeting: OnlineMeeting = serde_json::from_slice(raw).unwrap();
        let printed = render(
            &Answer {
                raw,
                meeting: &meeting,
                ..answer
            },
            Output::Json,
        );
        assert_eq!(
            printed,
            "{\n  \"outcome\": \"existing\",\n  \"status\": 200,\n  \"requestId\": null,\n  \
             \"clientRequestId\": \"c\",\n  \"attempts\": 1,\n  \"meeting\": {\n    \"id\": \"m1\",\n    \
             \"big\": 12345678901234567890123,\n    \"tiny\": 1.00000000000000000001\n  }\n}\n"
        );
    }

    #[test]
    fn summary_is_short_and_printable() {
        let meeting = OnlineMeeting {
            subject: Some("Sync\u{1b}[2J".into()),
            join_web_url: Some("https://teams.example/x".into()),
            ..Default::default()
        };
        let answer = Answer {
            outcome: "created",
            status: 201,
            request_id: Some("r"),
            client_request_id: "c",
            meeting: &meeting,
            raw: b"{}",
            attempts: 1,
        };
        let text = render(&answer, Output::Summary);
        assert!(text.starts_with("created: Sync [2J\n"), "{text}");
        assert!(text.contains("join       https://teams.example/x"));
        assert!(!text.contains("passcode"));
    }

    #[test]
    fn an_existing_meeting_found_after_a_retry_does_not_claim_nothing_was_made() {
        let meeting = OnlineMeeting::default();
        let mut answer = Answer {
            outcome: "existing",
            status: 200,
            request_id: None,
            client_request_id: "c",
            meeting: &meeting,
            raw: b"{}",
            attempts: 1,
        };
        let once = render(&answer, Output::Summary);
        assert!(once.contains("nothing new was made"), "{once}");
        answer.attempts = 3;
        let retried = render(&answer, Output::Summary);
        assert!(!retried.contains("nothing new was made"), "{retried}");
        assert!(retried.contains("after 3 attempts"), "{retried}");
        let printed: Value = serde_json::from_str(&render(&answer, Output::Json)).unwrap();
        assert_eq!(printed["attempts"], 3);
    }
}
