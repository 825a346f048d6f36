//! The command line, as clap parses it. The contract (commands, flags, environment variables)
//! is fixed by the project; what this adds to it: `demo`, `--retries`, `-v` on `emulator` and
//! `demo`, and an `--external-id` that `--body` may supply instead.
//!
//! The `///` comments here are the command's help text, so URLs in them stay plain.
#![allow(rustdoc::bare_urls)]

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use super::duration;
use crate::Cloud;

/// The exit statuses and the credentials variables: after the help of the command and of each
/// request command, where a user reading `create --help` looks for them.
const AFTER_HELP: &str = "\
Exit status:
  0  success
  1  another failure (e.g. the emulator could not listen, stdout could not be written after
     a create-or-get that worked, a signal stopped the command before it sent anything, its
     connection still being made, or while create-or-get waited)
  2  bad input, nothing sent: arguments, --body, a time rule, chatInfo on v1.0, /me with
     client credentials (not an application token in GRAPH_TOKEN: that one goes to Graph,
     which answers 400, status 4)
  3  authentication: no credentials (or GRAPH_TOKEN set but empty, not UTF-8 or not a token,
     such as `Bearer` alone; or an AZURE_TENANT_ID or AZURE_CLIENT_ID that cannot be one),
     the token endpoint refused, Graph answered 401
  4  Graph answered with an error (its code, message and request-id are on stderr), or
     create-or-get's success answer could not be used (kind decode or responseTooLarge)
  5  transport failure: no complete answer from Graph or the token endpoint (timeout,
     connection lost, an unreadable token response, the token endpoint busy or failing:
     408, 429, 5xx), also when that kept a 401 from being retried with a fresh token
  6  create's outcome is unknown: a meeting may have been made, so do not repeat the create
     (support can trace it by the client-request-id on stderr); create-or-get is the
     command that is safe to repeat. Also when a signal (Ctrl-C, SIGTERM, SIGHUP) stopped a
     create that had been sent (under `timeout`, use --preserve-status to see this status),
     and when a create worked but stdout could not be written

Credentials: GRAPH_TOKEN (a bearer token), else AZURE_TENANT_ID + AZURE_CLIENT_ID +
AZURE_CLIENT_SECRET (client credentials; an application token, so --user is needed).
With both set, GRAPH_TOKEN is used and a warning names the variables ignored.";

/// Create Microsoft Teams online meetings through Microsoft Graph.
#[derive(Debug, Parser)]
#[command(name = "graph-meetings", version, after_help = AFTER_HELP)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Create the meeting with this externalId, or get the one that already has it
    /// (outcome "created", 201, or "existing", 200). Safe to repeat.
    #[command(after_help = AFTER_HELP)]
    CreateOrGet(CreateOrGetArgs),
    /// Create a new meeting (201). Every successful call makes another meeting.
    #[command(after_help = AFTER_HELP)]
    Create(CreateArgs),
    /// Serve the local Graph emulator on 127.0.0.1 until stopped (Ctrl-C).
    Emulator(EmulatorArgs),
    /// The main job against an embedded emulator: createOrGet twice, create, a refused time
    /// rule, a throttled request retried, client credentials for another user. Needs no
    /// account and no network.
    Demo(DemoArgs),
}

impl Command {
    /// The output asked for, for a request command (the others print no document).
    pub(super) fn output(&self) -> Option<Output> {
        match self {
            Command::CreateOrGet(args) => Some(args.common.output),
            Command::Create(args) => Some(args.common.output),
            Command::Emulator(_) | Command::Demo(_) => None,
        }
    }
}

#[derive(Debug, Args)]
pub(super) struct CreateOrGetArgs {
    /// The meeting's external ID: with the tenant and the user, it names one meeting
    /// (may instead come from --body; if both give one, they must agree).
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    #[command(flatten)]
    pub meeting: MeetingArgs,
    /// Create the meeting in this Teams chat or channel thread (chatInfo.threadId; beta only).
    #[arg(long, value_name = "THREAD_ID")]
    pub chat_thread: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub(super) struct CreateArgs {
    #[command(flatten)]
    pub meeting: MeetingArgs,
    /// Require a passcode to join by meeting ID (joinMeetingIdSettings.isPasscodeRequired).
    #[arg(long)]
    pub passcode_required: bool,
    /// Language of the invitation (joinInformation), e.g. pt-BR; sent as Accept-Language.
    #[arg(long, value_name = "TAG", value_parser = language_tag)]
    pub language: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What both request commands say about the meeting.
#[derive(Debug, Args)]
pub(super) struct MeetingArgs {
    /// The meeting's subject.
    #[arg(long, value_name = "S")]
    pub subject: Option<String>,
    /// Start, RFC 3339 with any offset (e.g. 2019-07-12T14:30:34.2444915-07:00).
    /// Without --start and --end: now, for an hour.
    #[arg(long, value_name = "T", value_parser = instant)]
    pub start: Option<DateTime<Utc>>,
    /// End, RFC 3339 with any offset. Without it: start + 1 hour.
    #[arg(long, value_name = "T", value_parser = instant, conflicts_with = "duration")]
    pub end: Option<DateTime<Utc>>,
    /// Length instead of --end, e.g. 30m, 1h30m, 45s: from --start, else from the --body's
    /// startDateTime, else from now (an endDateTime in --body is replaced).
    #[arg(long, value_name = "D", value_parser = duration::parse)]
    pub duration: Option<chrono::Duration>,
    /// An attendee by user principal name (repeatable); replaces the attendees of --body.
    #[arg(long, value_name = "UPN")]
    pub attendee: Vec<String>,
    /// A JSON request body from FILE, or stdin for -; the flags above override its fields
    /// (create-or-get's --external-id must agree with its externalId).
    #[arg(long, value_name = "FILE|-")]
    pub body: Option<PathBuf>,
}

/// Options of both request commands.
#[derive(Debug, Args)]
pub(super) struct CommonArgs {
    /// Act for this user (/users/{ID}: object ID or UPN); without it, /me.
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// Use /beta instead of /v1.0.
    #[arg(long)]
    pub beta: bool,
    /// The national cloud: global, usgov, dod or china.
    #[arg(long, value_name = "CLOUD", default_value = "global", value_parser = cloud)]
    pub cloud: Cloud,
    /// Graph root without the version, e.g. http://127.0.0.1:8080; plain http only for loopback.
    #[arg(
        long,
        value_name = "URL",
        env = "GRAPH_BASE_URL",
        hide_env_values = true
    )]
    pub base_url: Option<String>,
    /// Token authority, e.g. https://login.microsoftonline.com.
    #[arg(
        long,
        value_name = "URL",
        env = "AZURE_AUTHORITY_HOST",
        hide_env_values = true
    )]
    pub authority_host: Option<String>,
    /// Time for one attempt, in seconds (default 60; fractions allowed, 0.001 to 86400).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub timeout: Option<std::time::Duration>,
    /// Retries after the first attempt, for failures that allow one (default 3, at most 10;
    /// 0: none).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: Option<u32>,
    /// More detail on stderr (repeatable); never a token or secret.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Output::Json)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub(super) struct EmulatorArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,
    /// Log each request on stderr (repeatable).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// More detail on stderr (repeatable).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The shape of stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Output {
    /// One JSON object: outcome, status, requestId and every property of the meeting.
    Json,
    /// A short human view.
    Summary,
}

/// An RFC 3339 instant. The likeliest slip, a local time without its offset, is named as such:
/// chrono's own words for it ("premature end of input") do not say what is missing.
fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    const EXAMPLE: &str = "e.g. 2019-07-12T14:30:34-07:00 or 2019-07-12T21:30:34Z";
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| match crate::timestamp::missing_offset(text) {
            Some(message) => format!("{message} ({EXAMPLE})"),
            None => format!("{text:?} is not an RFC 3339 date-time ({e}); {EXAMPLE}"),
        })
}

fn cloud(text: &str) -> Result<Cloud, String> {
    text.parse()
}

fn seconds(text: &str) -> Result<std::time::Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    // At least a millisecond: anything shorter would round to a zero timeout.
    if !(0.001..=86_400.0).contains(&value) {
        return Err("the timeout must be at least 0.001 and at most 86400 seconds".into());
    }
    Ok(std::time::Duration::from_secs_f64(value))
}

/// A BCP 47-shaped tag: letters, digits and hyphens, nothing a header could be bent with.
fn language_tag(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text.split('-').all(|part| {
            !part.is_empty() && part.len() <= 8 && part.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a language tag such as en, pt-BR or zh-Hans"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn a_negative_or_missing_duration_is_named_through_the_parser() {
        use clap::Parser;
        let error = |args: &[&str]| {
            let argv = [
                "graph-meetings",
                "create",
                "--base-url",
                "http://127.0.0.1:1",
            ];
            Cli::try_parse_from(argv.iter().chain(args))
                .unwrap_err()
                .to_string()
        };
        let negative = error(&["--duration=-30m"]);
        assert!(negative.contains("is negative"), "{negative}");
        // A forgotten value before the next flag stays clap's own "a value is required".
        let forgotten = error(&["--duration", "--start", "2026-01-01T00:00:00Z"]);
        assert!(forgotten.contains("a value is required"), "{forgotten}");
    }

    #[test]
    fn values_are_checked() {
        assert!(instant("2019-07-12T14:30:34.2444915-07:00").is_ok());
        assert!(instant("2019-07-12 14:30").is_err());
        for local in [
            "2026-12-01T09:00:00",
            "2026-12-01T09:00",
            "2026-12-01T09:00:00.5",
            "2026-12-01 09:00",
        ] {
            let err = instant(local).unwrap_err();
            assert!(
                err.contains("no UTC offset") && err.contains("ends in Z"),
                "{local}: {err}"
            );
        }
        let err = instant("tomorrow").unwrap_err();
        assert!(err.contains("not an RFC 3339 date-time"), "{err}");
        assert!(seconds("2.5").is_ok());
        for bad in ["0", "-1", "NaN", "inf", "1e9", "x"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert!(language_tag("zh-Hans-CN").is_ok());
        for bad in ["", "pt_BR", "en\r\nX-Evil: 1", "a--b", "toolongpart"] {
            assert!(language_tag(bad).is_err(), "{bad:?}");
        }
    }
}
