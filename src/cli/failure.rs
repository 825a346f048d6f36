//! Why the command failed, its exit status, and what it says on stderr. Nothing here prints a
//! token or a secret: the library's errors never hold one.

use std::process::ExitCode;

use super::terminal;
use crate::{Error, InvalidRequest};

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

impl Failure {
    /// The exit status, as listed in the command's help.
    pub fn exit_status(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Credentials(_) => 3,
            Failure::Other(_) => 1,
            Failure::Library(e) => match e {
                Error::InvalidRequest(_) | Error::Config(_) => 2,
                Error::Authentication(_) => 3,
                Error::Graph(_) | Error::ResponseTooLarge { .. } | Error::Decode { .. } => 4,
                Error::Transport { .. } => 5,
                Error::OutcomeUnknown { .. } => 6,
            },
        }
    }

    /// Writes the failure to stderr and gives the exit status.
    pub fn report(&self) -> ExitCode {
        let mut text = match self {
            Failure::Usage(m) | Failure::Credentials(m) | Failure::Other(m) => {
                format!("error: {m}\n")
            }
            Failure::Library(e) => format!("error: {e}\n"),
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
                        graph.retry_after.map(|d| format!("{} s", d.as_secs())),
                    ),
                ];
                for (name, value) in rows {
                    if let Some(value) = value {
                        text += &format!("  {name}: {}\n", terminal::printable(&value));
                    }
                }
            }
        }
        terminal::stderr(&text);
        ExitCode::from(self.exit_status())
    }
}
