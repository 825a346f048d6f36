//! Why the command failed, its exit status, and what it says on stderr. Nothing here prints a
//! token or a secret: the library's errors never hold one.

use std::process::ExitCode;

use super::terminal;
use crate::{AuthError, Error, ErrorKind, InvalidRequest};

/// A failure of the command.
#[derive(Debug)]
pub(super) enum Failure {
    /// Bad input; nothing was sent.
    Usage(String),
    /// No usable credentials.
    Credentials(String),
    /// The library's error.
    Library(Error),
    /// Anything else (the emulator could not listen, ...).
    Other(String),
    /// The answer could not be written to stdout: the request itself succeeded. After `create`
    /// (`create: true`) a meeting was made, and repeating the command would make another.
    Unprinted { create: bool, message: String },
    /// A signal stopped the command while it worked; `client_request_id` is the request it
    /// had sent by then, if any.
    Interrupted {
        signal: &'static str,
        create: bool,
        client_request_id: Option<String>,
    },
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Library(e)
    }
}

impl From<InvalidRequest> for Failure {
    fn from(e: InvalidRequest) -> Self {
        Failure::Library(e.into())
    }
}

/// A wait in whole seconds, rounded up (a script that sleeps for it must not come back before
/// the time the service gave), and at most 2^53 - 1, which every JSON reader holds exactly (a
/// longer wait means no retry at all).
fn whole_seconds(wait: std::time::Duration) -> u64 {
    const EXACT_IN_JSON: u64 = (1 << 53) - 1;
    let up = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0));
    up.min(EXACT_IN_JSON)
}

impl Failure {
    /// The exit status, as listed in the command's help.
    pub fn exit_status(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Credentials(_) => 3,
            Failure::Other(_) | Failure::Unprinted { create: false, .. } => 1,
            // The meeting exists and the script has no document of it: like an unknown
            // outcome, what it must not do is send the create again.
            Failure::Unprinted { create: true, .. } => 6,
            // A create sent and not answered: a meeting may have been made.
            Failure::Interrupted {
                create: true,
                client_request_id: Some(_),
                ..
            } => 6,
            Failure::Interrupted { .. } => 1,
            // The library's own sorting: a script may retry what is unreachable, not what is
            // refused.
            Failure::Library(e) => match e.kind() {
                ErrorKind::Invalid => 2,
                ErrorKind::Unauthorized => 3,
                ErrorKind::Graph => 4,
                ErrorKind::Unreachable => 5,
                ErrorKind::OutcomeUnknown => 6,
            },
        }
    }

    /// Writes the failure to stderr and gives the exit status.
    pub fn report(&self) -> ExitCode {
        terminal::stderr(&self.text());
        ExitCode::from(self.exit_status())
    }

    /// The failure as one JSON object for stdout (`--output json`), so that a script reading
    /// stdout gets a document whether the command worked or not. `outcome` is `"unknown"`
    /// when a meeting may have been made (exit status 6), else `"failed"`. Every key is always
    /// there, `null` when it does not apply.
    pub fn json(&self) -> String {
        let library = match self {
            Failure::Library(e) => Some(e),
            _ => None,
        };
        let graph = library.and_then(Error::graph);
        let busy_endpoint = library.filter(|e| {
            matches!(e, Error::Authentication(_)) && e.kind() == ErrorKind::Unreachable
        });
        let (kind, message) = match self {
            Failure::Usage(m) => ("usage", m.clone()),
            Failure::Credentials(m) => ("credentials", m.clone()),
            Failure::Other(m) | Failure::Unprinted { message: m, .. } => ("other", m.clone()),
            Failure::Library(e) => (kind(e), message(e)),
            Failure::Interrupted { .. } => ("interrupted", self.interruption()),
        };
        let client_request_id = match self {
            Failure::Interrupted {
                client_request_id, ..
            } => client_request_id.as_deref(),
            _ => library.and_then(Error::client_request_id),
        };
        let exit_status = self.exit_status();
        let object = serde_json::json!({
            "outcome": if exit_status == 6 { "unknown" } else { "failed" },
            "exitStatus": exit_status,
            "error": {
                "kind": kind,
                "message": message,
                "status": library.and_then(Error::status),
                "code": graph.and_then(|g| g.code.as_deref()),
                "graphMessage": graph.and_then(|g| g.message.as_deref()),
                "requestId": library.and_then(Error::request_id),
                "clientRequestId": client_request_id,
                // Graph's, or the token endpoint's when it was busy (status 5): a refusal's
                // wait (a 400 with Retry-After) is not one to wait out.
                "retryAfterSeconds": graph
                    .and_then(|g| g.retry_after)
                    .or_else(|| busy_endpoint.and_then(Error::retry_after))
                    .map(whole_seconds),
                "attempts": library.and_then(Error::attempts),
                // After Graph's 401: why no fresh token could be had for the one retry.
                "tokenFailure": library.and_then(token_failure),
                // Graph's error document as the crate read it (innerError's date, details,
                // properties it does not name; nulls dropped), the token blanked.
                "graphError": graph.and_then(|g| g.body.as_ref()),
                // An answer that could not be used, as text: after a 2xx the meeting exists,
                // and this may still say which it is.
                "body": library
                    .and_then(Error::body)
                    .map(|b| String::from_utf8_lossy(b.as_bytes())),
            },
        });
        format!("{object:#}\n")
    }

    /// What an interruption may have left behind, in words.
    fn interruption(&self) -> String {
        let Failure::Interrupted {
            signal,
            create,
            client_request_id,
        } = self
        else {
            return String::new();
        };
        match (create, client_request_id) {
            (true, None) => format!(
                "stopped by {signal} with no create awaiting its answer (none sent, or Graph \
                 answered that it did nothing): no meeting was made"
            ),
            (false, None) => format!(
                "stopped by {signal} before an answer: repeating create-or-get with the same \
                 externalId is safe"
            ),
            (true, Some(id)) => format!(
                "stopped by {signal} after create was sent, before its answer: a meeting may \
                 have been created, and repeating create could make a second one. Microsoft \
                 support can trace the request by its client-request-id {id}"
            ),
            (false, Some(id)) => format!(
                "stopped by {signal} after create-or-get was sent (client-request-id {id}), \
                 before the call ended: repeating it with the same externalId is safe"
            ),
        }
    }

    /// What [`report`](Self::report) writes: the error on one line, then Graph's details.
    fn text(&self) -> String {
        // The library's error on one line, whatever it holds: it can carry the service's text.
        // The command's own messages keep their lines (the credentials help has several).
        let mut text = match self {
            Failure::Usage(m)
            | Failure::Credentials(m)
            | Failure::Other(m)
            | Failure::Unprinted { message: m, .. } => {
                format!("error: {}\n", terminal::printable_lines(m))
            }
            Failure::Library(e) => format!("error: {}\n", terminal::printable(&message(e))),
            Failure::Interrupted { .. } => format!("error: {}\n", self.interruption()),
        };
        if let Failure::Library(e) = self {
            if let Some(graph) = e.graph() {
                let rows = [
                    ("status", Some(graph.status.to_string())),
                    ("code", graph.code.clone()),
                    ("message", graph.message.clone()),
                    ("request-id", graph.request_id.clone()),
                    ("client-request-id", graph.client_request_id.clone()),
                    ("date", graph.date.clone()),
                    (
                        "retry-after",
                        graph.retry_after.map(|d| format!("{} s", whole_seconds(d))),
                    ),
                ];
                for (name, value) in rows {
                    if let Some(value) = value {
                        // Cut short as the library's messages are: a service's text can be
                        // as long as the response cap.
                        let value = crate::transport::printable_short(&value);
                        text += &format!("  {name}: {}\n", terminal::printable(&value));
                    }
                }
            } else if let Some(id) = e.client_request_id() {
                // No error of Graph's to quote: the status of an answer that could not be used
                // (a 201: the meeting exists), and the IDs support can go by.
                if let Some(status) = e.status() {
                    text += &format!("  status: {status}\n");
                }
                if let Some(request_id) = e.request_id() {
                    text += &format!("  request-id: {}\n", terminal::printable(request_id));
                }
                text += &format!("  client-request-id: {}\n", terminal::printable(id));
            }
        }
        text
    }
}

/// A library error's message in the command's terms. Where the library's own message points
/// at its Rust API (`User::id(..)`, `create_or_get`), the command names its flag or command
/// instead; every other message is the library's.
fn message(error: &Error) -> String {
    match error {
        Error::InvalidRequest(InvalidRequest::AppTokenForMe) => {
            "invalid request (nothing was sent): client credentials (AZURE_CLIENT_ID ...) give an \
             application token, which has no signed-in user, so /me cannot be used: name the \
             meeting's organizer with --user ID"
                .into()
        }
        // The command's `extra` is what the --body holds beyond the named fields.
        Error::InvalidRequest(InvalidRequest::InvalidField { reason }) => {
            format!(
                "invalid request (nothing was sent): a property of the --body is invalid: {reason}"
            )
        }
        Error::OutcomeUnknown {
            reason,
            attempts,
            client_request_id,
            ..
        } => format!(
            "the outcome of create is unknown after {attempts} attempt(s) ({reason}); a meeting \
             may have been created, and running create again may make a second one. Graph lists \
             no meetings to look in; Microsoft support can trace the request by its \
             client-request-id {client_request_id}. For a command that must be safe to repeat, \
             use create-or-get --external-id ID"
        ),
        _ => error.to_string(),
    }
}

/// Why a fresh token could not be had after Graph's 401, printable.
fn token_failure(error: &Error) -> Option<String> {
    match error {
        Error::Authentication(AuthError::RefreshFailed { refresh, .. }) => {
            Some(terminal::printable(&refresh.to_string()))
        }
        _ => None,
    }
}

/// A library error's `kind` in the JSON document: its variant, in the document's case.
fn kind(error: &Error) -> &'static str {
    match error {
        Error::InvalidRequest(_) => "invalidRequest",
        Error::Config(_) => "config",
        Error::Authentication(_) => "authentication",
        Error::Graph(_) => "graph",
        Error::OutcomeUnknown { .. } => "outcomeUnknown",
        Error::Transport { .. } => "transport",
        Error::ResponseTooLarge { .. } => "responseTooLarge",
        Error::Decode { .. } => "decode",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::GraphError;

    #[test]
    fn waits_are_whole_seconds_rounded_up_and_exact_in_json() {
        use std::time::Duration;
        assert_eq!(super::whole_seconds(Duration::ZERO), 0);
        assert_eq!(super::whole_seconds(Duration::from_secs(7)), 7);
        assert_eq!(super::whole_seconds(Duration::from_nanos(7_000_000_001)), 8);
        // Retry-After: 18446744073709551615 (no retry, in practice) stays a number a JSON
        // reader holds exactly.
        assert_eq!(super::whole_seconds(Duration::MAX), (1 << 53) - 1);
        assert_eq!(
            super::whole_seconds(Duration::from_secs(u64::MAX)),
            (1 << 53) - 1
        );
    }

    #[test]
    fn service_text_cannot_drive_the_terminal() {
        let mut graph = GraphError::new(400);
        graph.code = Some("BadRequest".into());
        graph.message = Some("x\u{1b}[2J\nerror: forged".into());
        let text = Failure::Library(Error::Graph(Box::new(graph))).text();
        assert!(!text.contains('\u{1b}'), "{text}");
        assert_eq!(
            text.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "no forged line: {text}"
        );
    }

    #[test]
    fn a_message_as_long_as_the_response_cap_is_cut_short() {
        let mut graph = GraphError::new(400);
        graph.message = Some("m".repeat(3 << 20));
        let text = Failure::Library(Error::Graph(Box::new(graph))).text();
        assert!(text.len() < 8192, "{} bytes", text.len());
        assert!(text.contains("characters left out"), "{text}");
    }

    #[test]
    fn an_unreachable_token_endpoint_is_a_transport_failure_not_a_refusal() {
        let unreachable = AuthError::Transport("could not connect".into());
        assert_eq!(
            Failure::Library(unreachable.clone().into()).exit_status(),
            5
        );
        let refused = AuthError::TokenEndpoint {
            retry_after: None,
            status: 401,
            error: Some("invalid_client".into()),
            description: None,
            aadsts: None,
        };
        assert_eq!(Failure::Library(refused.clone().into()).exit_status(), 3);
        // After Graph's 401, the fresh token's failure decides, the same way.
        let rejected = |refresh: AuthError| {
            let mut graph = GraphError::new(401);
            graph.code = Some("InvalidAuthenticationToken".into());
            graph.request_id = Some("r-1".into());
            graph.client_request_id = Some("c-1".into());
            Failure::Library(
                AuthError::RefreshFailed {
                    rejected: Box::new(graph),
                    refresh: Box::new(refresh),
                }
                .into(),
            )
        };
        assert_eq!(rejected(unreachable).exit_status(), 5);
        // A busy token endpoint's wait is the one to wait out, before or after Graph's 401.
        let busy = AuthError::token_endpoint(
            429,
            None,
            None,
            Some(std::time::Duration::from_millis(6_500)),
        );
        for failure in [Failure::Library(busy.clone().into()), rejected(busy)] {
            let json: serde_json::Value = serde_json::from_str(&failure.json()).unwrap();
            assert_eq!(json["exitStatus"], 5);
            assert_eq!(json["error"]["retryAfterSeconds"], 7);
        }
        // A refusal is not waited out, whatever its Retry-After says.
        let refusing = AuthError::token_endpoint(
            400,
            Some("invalid_client".into()),
            None,
            Some(std::time::Duration::from_secs(30)),
        );
        for failure in [
            Failure::Library(refusing.clone().into()),
            rejected(refusing),
        ] {
            let json: serde_json::Value = serde_json::from_str(&failure.json()).unwrap();
            assert_eq!(json["exitStatus"], 3);
            assert_eq!(json["error"]["retryAfterSeconds"], serde_json::Value::Null);
        }
        let refused = rejected(refused);
        assert_eq!(refused.exit_status(), 3);
        let json: serde_json::Value = serde_json::from_str(&refused.json()).unwrap();
        assert_eq!(json["error"]["kind"], "authentication");
        assert_eq!(json["error"]["status"], 401);
        assert_eq!(json["error"]["requestId"], "r-1");
        assert_eq!(json["error"]["clientRequestId"], "c-1");
        let why = json["error"]["tokenFailure"].as_str().unwrap();
        assert!(why.contains("invalid_client"), "{why}");
    }

    #[test]
    fn a_throttled_answer_says_how_long_graph_asked_to_wait() {
        // What a script needs to wait out a 429 the command's retries did not: Graph's own
        // words and its Retry-After, in whole seconds.
        let throttled = Failure::Library(Error::Graph(Box::new(GraphError {
            status: 429,
            code: Some("TooManyRequests".into()),
            message: Some("Please retry later".into()),
            request_id: Some("r-3".into()),
            client_request_id: Some("c-3".into()),
            date: None,
            retry_after: Some(std::time::Duration::from_millis(7_500)),
            attempts: 4,
            body: None,
        })));
        assert_eq!(throttled.exit_status(), 4);
        let json: serde_json::Value = serde_json::from_str(&throttled.json()).unwrap();
        let error = &json["error"];
        assert_eq!(json["outcome"], "failed");
        assert_eq!(error["kind"], "graph");
        assert_eq!(error["status"], 429);
        assert_eq!(error["code"], "TooManyRequests");
        assert_eq!(error["graphMessage"], "Please retry later");
        // Rounded up: a script that sleeps this long must not come back early.
        assert_eq!(error["retryAfterSeconds"], 8);
        assert!(
            throttled.text().contains("retry-after: 8 s"),
            "{}",
            throttled.text()
        );
        assert_eq!(error["attempts"], 4);
        assert_eq!(error["requestId"], "r-3");
    }

    #[test]
    fn an_answer_that_could_not_be_read_keeps_its_request_id() {
        let undecodable = Failure::Library(Error::Decode {
            status: 201,
            reason: "expected value".into(),
            body: crate::error::AnswerBody::new("<html>".into()),
            request_id: Some("r-2".into()),
            attempts: 1,
            client_request_id: "c-2".into(),
        });
        let json: serde_json::Value = serde_json::from_str(&undecodable.json()).unwrap();
        assert_eq!(json["error"]["kind"], "decode");
        assert_eq!(json["error"]["requestId"], "r-2");
        assert_eq!(json["error"]["clientRequestId"], "c-2");
        assert_eq!(json["error"]["body"], "<html>");
        let text = undecodable.text();
        assert!(
            text.contains("request-id: r-2") && text.contains("client-request-id: c-2"),
            "{text}"
        );
    }
}
