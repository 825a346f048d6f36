//! What the operations return.

use bytes::Bytes;
use reqwest::StatusCode;

use super::call::Answer;
use crate::types::OnlineMeeting;

/// Whether createOrGet made the meeting or found it, as the answer that came back says.
///
/// After a retry (`attempts > 1` on the response) an [`Existing`](Outcome::Existing) meeting
/// may be one an earlier attempt of the same call created before its answer was lost: the
/// service cannot tell the two apart, and neither can the client. Callers that act once per
/// new meeting (sending invitations, say) should key that on the externalId, not on
/// `Created` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 201 Created: the attempt that was answered made the meeting.
    Created,
    /// 200 OK: a meeting with this externalId existed when the answered attempt arrived.
    Existing,
}

impl Outcome {
    /// `"created"` or `"existing"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Existing => "existing",
        }
    }
}

/// `created` or `existing`, as [`as_str`](Outcome::as_str).
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to createOrGet.
///
/// `Debug` prints the meeting whole, its join link and passcode included (they let people
/// into the meeting: log `meeting_id()` and the IDs rather than the answer), and `raw` as its
/// length only.
#[derive(Clone)]
#[non_exhaustive]
pub struct CreateOrGetResponse {
    /// Created (201) or existing (200).
    pub outcome: Outcome,
    /// The meeting, typed; properties this crate does not know are in `extra`. Boxed: a
    /// meeting is about 1.4 KB, and an answer is moved through every layer that returns it.
    pub meeting: Box<OnlineMeeting>,
    /// HTTP status (200 or 201).
    pub status: StatusCode,
    /// Graph's `request-id`, for support cases.
    pub request_id: Option<String>,
    /// The `client-request-id` this client sent.
    pub client_request_id: String,
    /// The body exactly as received, nulls and all.
    pub raw: Bytes,
    /// Attempts made, retries included: requests sent, and connections that could not be made
    /// (nothing sent on those). Above 1, see [`Outcome`] on what `Existing` may mean.
    pub attempts: u32,
}

/// The answer to create.
///
/// `Debug` prints as [`CreateOrGetResponse`]'s does: the meeting whole, passcode included,
/// and `raw` as its length.
#[derive(Clone)]
#[non_exhaustive]
pub struct MeetingResponse {
    /// The meeting, typed; properties this crate does not know are in `extra`. Boxed: a
    /// meeting is about 1.4 KB, and an answer is moved through every layer that returns it.
    pub meeting: Box<OnlineMeeting>,
    /// HTTP status (201).
    pub status: StatusCode,
    /// Graph's `request-id`, for support cases.
    pub request_id: Option<String>,
    /// The `client-request-id` this client sent.
    pub client_request_id: String,
    /// The body exactly as received, nulls and all.
    pub raw: Bytes,
    /// Attempts made, retries included: requests sent, and connections that could not be made
    /// (nothing sent on those). Create is retried only when the service did not act.
    pub attempts: u32,
}

/// What both answers hold, read and printed the same way (`$first`: the fields one has
/// before the rest).
macro_rules! answer_common {
    ($answer:ident $(, $first:ident)*) => {
        impl $answer {
            /// The meeting's `id`, to read or update it by later. An answer without one is
            /// an error, never a response, so this is empty only if the caller cleared it.
            pub fn meeting_id(&self) -> &str {
                self.meeting.id.as_deref().unwrap_or_default()
            }

            /// The link that joins the meeting, when Graph gave one.
            pub fn join_web_url(&self) -> Option<&str> {
                self.meeting.join_web_url.as_deref()
            }
        }

        impl std::fmt::Debug for $answer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut out = f.debug_struct(stringify!($answer));
                $(out.field(stringify!($first), &self.$first);)*
                out.field("status", &self.status)
                    .field("request_id", &self.request_id)
                    .field("client_request_id", &self.client_request_id)
                    .field("attempts", &self.attempts)
                    .field("raw_len", &self.raw.len())
                    .field("meeting", &self.meeting)
                    .finish()
            }
        }
    };
}

answer_common!(CreateOrGetResponse, outcome);
answer_common!(MeetingResponse);

/// `meeting` as a body would carry it, for an answer built by hand: each name once (its own
/// type reads a name twice as an error), a field winning over the same name in `extra`.
fn written(meeting: &OnlineMeeting) -> Bytes {
    let fields = OnlineMeeting {
        extra: Default::default(),
        ..meeting.clone()
    };
    let Ok(serde_json::Value::Object(mut body)) = serde_json::to_value(&fields) else {
        return Bytes::new();
    };
    for (name, value) in &meeting.extra {
        body.entry(name.clone()).or_insert_with(|| value.clone());
    }
    serde_json::to_vec(&body).unwrap_or_default().into()
}

impl CreateOrGetResponse {
    /// An answer built by hand, for a stand-in of the client in a caller's own tests: the
    /// outcome's status (201 or 200), `meeting` as its body (`raw` is its JSON), one attempt,
    /// and no request IDs (`client_request_id` empty). The client itself never answers
    /// without a meeting `id`; a stand-in should not either.
    ///
    /// ```
    /// use graph_meetings::{types, CreateOrGetResponse, Outcome};
    ///
    /// let meeting = types::OnlineMeeting { id: Some("m-1".into()), ..Default::default() };
    /// let stand_in = CreateOrGetResponse::new(Outcome::Existing, meeting);
    /// assert_eq!((stand_in.meeting_id(), stand_in.status.as_u16()), ("m-1", 200));
    /// ```
    pub fn new(outcome: Outcome, meeting: OnlineMeeting) -> Self {
        Self {
            outcome,
            status: match outcome {
                Outcome::Created => StatusCode::CREATED,
                Outcome::Existing => StatusCode::OK,
            },
            raw: written(&meeting),
            meeting: Box::new(meeting),
            request_id: None,
            client_request_id: String::new(),
            attempts: 1,
        }
    }
}

impl MeetingResponse {
    /// An answer built by hand, as [`CreateOrGetResponse::new`] builds one: 201, `meeting` as
    /// its body, one attempt, no request IDs.
    pub fn new(meeting: OnlineMeeting) -> Self {
        Self {
            status: StatusCode::CREATED,
            raw: written(&meeting),
            meeting: Box::new(meeting),
            request_id: None,
            client_request_id: String::new(),
            attempts: 1,
        }
    }
}

impl From<Answer> for CreateOrGetResponse {
    fn from(a: Answer) -> Self {
        let outcome = if a.status == StatusCode::CREATED {
            Outcome::Created
        } else {
            Outcome::Existing
        };
        Self {
            outcome,
            meeting: a.meeting,
            status: a.status,
            request_id: a.request_id,
            client_request_id: a.client_request_id,
            raw: a.raw,
            attempts: a.attempts,
        }
    }
}

impl From<Answer> for MeetingResponse {
    fn from(a: Answer) -> Self {
        Self {
            meeting: a.meeting,
            status: a.status,
            request_id: a.request_id,
            client_request_id: a.client_request_id,
            raw: a.raw,
            attempts: a.attempts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn an_answer_built_by_hand_reads_like_one_from_graph() {
        let meeting = crate::types::OnlineMeeting {
            id: Some("m-1".into()),
            join_web_url: Some("https://teams.test/j".into()),
            ..Default::default()
        };
        let existing = super::CreateOrGetResponse::new(Outcome::Existing, meeting.clone());
        assert_eq!((existing.status.as_u16(), existing.attempts), (200, 1));
        assert_eq!(existing.meeting_id(), "m-1");
        assert_eq!(existing.join_web_url(), Some("https://teams.test/j"));
        let raw: crate::types::OnlineMeeting = serde_json::from_slice(&existing.raw).unwrap();
        assert_eq!(raw, meeting);
        let created = super::CreateOrGetResponse::new(Outcome::Created, meeting.clone());
        assert_eq!(created.status.as_u16(), 201);
        let made = super::MeetingResponse::new(meeting.clone());
        assert_eq!((made.status.as_u16(), made.meeting_id()), (201, "m-1"));
        assert_eq!(made.raw, existing.raw);
        // A name both a field and in `extra`: once in `raw`, as the field says, so that `raw`
        // reads back (the type refuses a name twice).
        let mut clashing = meeting.clone();
        clashing.extra.insert("id".into(), serde_json::json!("m-2"));
        clashing
            .extra
            .insert("futureThing".into(), serde_json::json!(1));
        let answer = super::CreateOrGetResponse::new(Outcome::Created, clashing);
        let raw: crate::types::OnlineMeeting = serde_json::from_slice(&answer.raw).unwrap();
        assert_eq!(raw.id.as_deref(), Some("m-1"));
        assert_eq!(raw.extra.get("futureThing"), Some(&serde_json::json!(1)));
    }

    #[test]
    fn outcomes_print_as_the_command_writes_them() {
        assert_eq!(Outcome::Created.to_string(), "created");
        assert_eq!(format!("{}", Outcome::Existing), Outcome::Existing.as_str());
    }
}
