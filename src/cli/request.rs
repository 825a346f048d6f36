//! The request the command sends: `--body` first, then each flag overriding its field. The
//! time rules are left to the library, which refuses before sending.

use std::{
    io::{self, IsTerminal, Read},
    path::Path,
};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{
    args::{CreateArgs, CreateOrGetArgs, MeetingArgs},
    failure::Failure,
    json::{self, BodyText},
};
use crate::types;

/// A start or end, when known.
type Instant = Option<types::Timestamp>;

/// Largest `--body` read.
const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// The createOrGet body.
pub(super) fn create_or_get(
    args: &CreateOrGetArgs,
    now: DateTime<Utc>,
) -> Result<types::CreateOrGetRequest, Failure> {
    let mut fields = read_body(args.meeting.body.as_deref())?;
    if let Some(id) = &args.external_id {
        // The one field the flags do not simply override: the key decides which meeting
        // createOrGet returns, and a script that passes both meant one of them.
        let flag = Value::String(id.clone());
        let given = |body: &&Value| !body.is_null() && **body != flag;
        if let Some(body) = fields.get("externalId").filter(given) {
            return Err(Failure::Usage(format!(
                "--external-id {flag} and the body's externalId {body} differ: the key decides \
                 which meeting create-or-get returns, so give it once (or the same in both)"
            )));
        }
        fields.insert("externalId".into(), flag);
    }
    if !fields.contains_key("externalId") {
        return Err(Failure::Usage(
            "externalId is required: pass --external-id ID (or \"externalId\" in --body)".into(),
        ));
    }
    let mut request: types::CreateOrGetRequest = typed(fields)?;
    if request.external_id.trim().is_empty() {
        return Err(Failure::Usage(
            "externalId must not be empty or only spaces".into(),
        ));
    }
    let m = &args.meeting;
    request.subject = m.subject.clone().or(request.subject);
    (request.start_date_time, request.end_date_time) =
        times(m, request.start_date_time, request.end_date_time, now)?;
    if !m.attendee.is_empty() {
        request.participants.get_or_insert_default().attendees = Some(attendees(&m.attendee)?);
    }
    if let Some(thread) = &args.chat_thread {
        let thread = one_word("--chat-thread", thread, "a Teams thread ID")?;
        request.chat_info.get_or_insert_default().thread_id = Some(thread);
    }
    Ok(request)
}

/// The create body.
pub(super) fn create(
    args: &CreateArgs,
    now: DateTime<Utc>,
) -> Result<types::OnlineMeeting, Failure> {
    let mut meeting: types::OnlineMeeting = typed(read_body(args.meeting.body.as_deref())?)?;
    let m = &args.meeting;
    meeting.subject = m.subject.clone().or(meeting.subject);
    (meeting.start_date_time, meeting.end_date_time) =
        times(m, meeting.start_date_time, meeting.end_date_time, now)?;
    if !m.attendee.is_empty() {
        meeting.participants.get_or_insert_default().attendees = Some(attendees(&m.attendee)?);
    }
    if args.passcode_required {
        meeting
            .join_meeting_id_settings
            .get_or_insert_default()
            .is_passcode_required = Some(true);
    }
    Ok(meeting)
}

/// Start and end after the flags: `--duration` counts from the start, the flag's or the
/// body's (now when there is none), and replaces the body's end.
fn times(
    m: &MeetingArgs,
    start: Instant,
    end: Instant,
    now: DateTime<Utc>,
) -> Result<(Instant, Instant), Failure> {
    let start = m.start.map(Into::into).or(start);
    let end = m.end.map(Into::into).or(end);
    let Some(length) = m.duration else {
        return Ok((start, end));
    };
    let start = start.unwrap_or(now.into());
    let end = start.checked_add_signed(length).ok_or_else(|| {
        Failure::Usage("--duration takes the end past the representable range".into())
    })?;
    Ok((Some(start), Some(end.into())))
}

fn attendees(upns: &[String]) -> Result<Vec<types::MeetingParticipantInfo>, Failure> {
    upns.iter()
        .map(|upn| {
            Ok(types::MeetingParticipantInfo {
                upn: Some(one_word("--attendee", upn, "a user principal name")?),
                ..Default::default()
            })
        })
        .collect()
}

/// A flag's value that names one thing (a UPN, a thread ID): none has spaces, control or
/// invisible formatting characters, so one that does (an empty shell variable, two lines pasted,
/// a right-to-left override copied along) is refused before anything is sent rather than sent
/// as a participant or a chat no one can find.
fn one_word(flag: &str, value: &str, what: &str) -> Result<String, Failure> {
    if value.is_empty() {
        return Err(Failure::Usage(format!("{flag} is empty: give {what}")));
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || crate::user::invisible(c))
    {
        return Err(Failure::Usage(format!(
            "{flag} {value:?} has spaces, control or invisible formatting characters, which {what} does not have"
        )));
    }
    Ok(value.to_owned())
}

/// The body as the request type. A misfit names where it is (`startDateTime`,
/// `participants.attendees[0].upn`): from a `Value`, serde_json's error says only what is
/// wrong, e.g. "premature end of input" for an instant without its offset.
fn typed<T: serde::de::DeserializeOwned>(fields: Map<String, Value>) -> Result<T, Failure> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let error = e.into_inner();
        Failure::Usage(if path == "." {
            format!("the request body does not fit: {error}")
        } else {
            format!("the request body does not fit at {path}: {error}")
        })
    })
}

/// The `--body` object, or an empty one.
fn read_body(path: Option<&Path>) -> Result<Map<String, Value>, Failure> {
    let Some(path) = path else {
        return Ok(Map::new());
    };
    let stdin = path.as_os_str() == "-";
    // Quoted, as the command echoes every value it was given: a path with a line break in it
    // must not forge a line of its own on stderr.
    let name = match stdin {
        true => "-".to_owned(),
        false => format!("{:?}", path.display().to_string()),
    };
    let mut text = Vec::new();
    let read = if stdin {
        if io::stdin().is_terminal() {
            // Not a hang: the command waits for what is typed.
            let end = if cfg!(windows) {
                "Ctrl-Z, Enter"
            } else {
                "Ctrl-D"
            };
            super::terminal::stderr(&format!(
                "reading the request body from stdin; end it with {end}\n"
            ));
        }
        io::stdin()
            .lock()
            .take(MAX_BODY_BYTES + 1)
            .read_to_end(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_BODY_BYTES + 1).read_to_end(&mut text))
    };
    read.map_err(|e| Failure::Usage(format!("cannot read --body {name}: {e}")))?;
    if text.len() as u64 > MAX_BODY_BYTES {
        return Err(Failure::Usage(format!(
            "--body {name} is larger than 1 MiB"
        )));
    }
    match json::parse(&text) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(Failure::Usage(format!(
            "--body {name} must hold a JSON object"
        ))),
        Err(BodyText::Invalid(e)) => Err(Failure::Usage(format!(
            "--body {name} is not valid JSON: {e}"
        ))),
        Err(BodyText::RepeatedKey(e)) => Err(Failure::Usage(format!(
            "--body {name} names a key twice, and which one was meant cannot be told: {e}"
        ))),
        Err(BodyText::Utf16) => Err(Failure::Usage(format!(
            "--body {name} is UTF-16 (as PowerShell's `>` writes); save it as UTF-8"
        ))),
    }
}
