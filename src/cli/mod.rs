//! The `graph-meetings` command: `create-or-get`, `create`, `emulator` and `demo`.
//!
//! Public only so `src/main.rs` can call [`main`]; the command line, not this module, is the
//! interface.

mod args;
mod credentials;
mod demo;
mod duration;
mod failure;
mod json;
mod logging;
mod output;
mod request;
mod send;
mod serve;
mod terminal;
mod verbatim;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, DemoArgs, Output};
use failure::Failure;

/// Runs the command with the process's arguments and environment.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            usage_document(&e, std::env::args_os().skip(1));
            // clap's message quotes a bad value or argument as given: one with a line break or
            // an escape sequence inside would forge lines on stderr, so it is shown escaped.
            if let Some(text) = escaped_usage_error(&e) {
                terminal::stderr(&text);
                return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
            }
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(e) => {
            let failure = Failure::Other(format!("cannot start the async runtime: {e}"));
            // A request command's script reads its document on stdout all the same.
            let failure = match cli.command.output() {
                Some(output) => also_on_stdout(Err(failure), output).unwrap_err(),
                None => failure,
            };
            return failure.report();
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// The command's runtime. tokio panics, rather than failing, when it cannot make its signal
/// pipe (no file descriptor left): that is this command's failure to start, status 1 with its
/// document, not a panic's 101; the panic's message is kept off stderr.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    });
    std::panic::set_hook(hook);
    match built {
        Ok(runtime) => runtime.map_err(|e| e.to_string()),
        Err(_) => Err("tokio could not set up signal handling (no file descriptor left?)".into()),
    }
}

/// A request command (`create`, `create-or-get`) whose arguments did not parse still prints
/// its failure document on stdout, unless `--output summary` was asked for: a script that
/// reads stdout gets one whether the mistake was in a flag's value or in `--body`.
fn usage_document(e: &clap::Error, args: impl Iterator<Item = std::ffi::OsString>) {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return;
    }
    let args: Vec<_> = args.collect();
    let request = matches!(
        args.first().and_then(|a| a.to_str()),
        Some("create" | "create-or-get")
    );
    let summary = args
        .windows(2)
        .any(|w| w[0] == "--output" && w[1] == "summary")
        || args.iter().any(|a| a == "--output=summary");
    if !request || summary {
        return;
    }
    // clap's first paragraph, as stderr shows it (a value with a line break escaped): the
    // error and what it adds (`[possible values: json, summary]`), without the pointer to --help.
    let text = escaped_usage_error(e).unwrap_or_else(|| e.render().to_string());
    let paragraph = text.split("\n\n").next().unwrap_or_default().trim_end();
    let message = paragraph.strip_prefix("error: ").unwrap_or(paragraph);
    if !terminal::stdout(&Failure::Usage(message.to_owned()).json()) {
        terminal::stderr(STDOUT_LOST);
    }
}

/// What stderr adds when a failure's document could not be written to stdout.
const STDOUT_LOST: &str = "note: stdout could not be written: no failure document there\n";

/// clap's message for `e` with the values it quotes (`'…'`) escaped, when one of them has a
/// control character; `None` when none has (clap's own message, colours and all, is fine).
fn escaped_usage_error(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    let quoted = [
        ContextKind::InvalidValue,
        ContextKind::InvalidArg,
        ContextKind::InvalidSubcommand,
    ];
    let hostile: Vec<&String> = quoted
        .into_iter()
        .filter_map(|kind| match e.get(kind) {
            Some(ContextValue::String(value)) => Some(value),
            _ => None,
        })
        .filter(|value| **value != terminal::printable(value))
        .collect();
    if hostile.is_empty() || !e.use_stderr() {
        return None;
    }
    let mut text = e.render().to_string();
    for value in hostile {
        let escaped = format!("'{}'", value.escape_debug());
        // As clap quotes it: rendering as text drops escape sequences (`\e[31m`) from the
        // value too, so that form is looked for as well.
        let plain = clap::builder::StyledStr::from(value.clone()).to_string();
        let quoted = [format!("'{value}'"), format!("'{plain}'")];
        match quoted.iter().find(|quoted| text.contains(quoted.as_str())) {
            Some(quoted) => text = text.replace(quoted.as_str(), &escaped),
            // Quoted some other way: clap's words are not worth a forged line.
            None => {
                let what = e.kind().as_str().unwrap_or("invalid argument");
                return Some(format!(
                    "error: {what}: {escaped}\n\nFor more information, try '--help'.\n"
                ));
            }
        }
    }
    Some(text)
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::CreateOrGet(args) => {
            logging::init(args.common.verbose);
            let output = args.common.output;
            also_on_stdout(send::create_or_get(args).await, output)
        }
        Command::Create(args) => {
            logging::init(args.common.verbose);
            let output = args.common.output;
            also_on_stdout(send::create(args).await, output)
        }
        Command::Emulator(args) => serve::run(args).await,
        Command::Demo(args) => demo::run(args).await,
    }
}

/// The library's `call` (a create when `create`), unless a signal to stop (Ctrl-C, SIGTERM,
/// SIGHUP: `timeout --preserve-status 10 graph-meetings …` in a script; plain `timeout` reports
/// its own 124 instead of the command's status) comes first: the command then still says
/// what may have happened, with the client-request-id of the request it sent if it sent one,
/// instead of ending without a word after a meeting may have been made. Only around the call:
/// while the input is read and checked (`--body -` from a terminal, say) a signal ends the
/// command as usual, and nothing has been sent.
async fn interruptible<T>(
    create: bool,
    call: impl std::future::Future<Output = Result<T, crate::Error>>,
) -> Result<T, Failure> {
    // The signals first: listened for before the call sends anything.
    tokio::select! {
        biased;
        signal = stop_signal() => Err(Failure::Interrupted {
            signal,
            create,
            // For create, only one in flight (then a meeting may exist); createOrGet names
            // its call whenever it has sent anything, a retry's wait included.
            client_request_id: match create {
                true => logging::sent(),
                false => logging::call(),
            },
        }),
        result = call => result.map_err(Failure::from),
    }
}

/// The first signal to stop, by name. A signal the command was started ignoring (`nohup`, a
/// script's background job) stays ignored.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::SignalKind;
        tokio::select! {
            _ = received(SignalKind::interrupt()) => "SIGINT",
            _ = received(SignalKind::terminate()) => "SIGTERM",
            _ = received(SignalKind::hangup()) => "SIGHUP",
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        "Ctrl-C"
    }
}

/// The next `kind` of signal: never, when the process was started ignoring it or it cannot be
/// listened for.
#[cfg(unix)]
async fn received(kind: tokio::signal::unix::SignalKind) {
    if ignored(kind.as_raw_value()) {
        return std::future::pending().await;
    }
    match tokio::signal::unix::signal(kind) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

/// Whether `signal`'s disposition is "ignore" (as inherited), before this process changes it.
#[cfg(unix)]
fn ignored(signal: libc::c_int) -> bool {
    let mut current = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: sigaction(2) with no new action only reads the current one into `current`.
    let read = unsafe { libc::sigaction(signal, std::ptr::null(), current.as_mut_ptr()) };
    // SAFETY: zeroed is a valid sigaction, and a successful call filled it in.
    read == 0 && unsafe { current.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// With `--output json`, a failure is also a JSON object on stdout (stderr still says it in
/// words): a script that parses stdout gets a document either way. Not when stdout itself
/// failed: the request worked, and a "failed" document after a cut-off answer could make a
/// script repeat a create.
fn also_on_stdout(result: Result<(), Failure>, output: Output) -> Result<(), Failure> {
    if let (Err(failure), Output::Json) = (&result, output) {
        // The failure's own status stands (6 must stay 6), and stderr says the document is lost.
        if !matches!(failure, Failure::Unprinted { .. }) && !terminal::stdout(&failure.json()) {
            terminal::stderr(STDOUT_LOST);
        }
    }
    result
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::{AccessToken, AuthError, TokenProvider};

    /// Hands out a token with a SIGTERM to this process on its way, so the signal comes just
    /// before the create would be sent.
    #[derive(Debug)]
    struct SignalWithToken;

    #[async_trait::async_trait]
    impl TokenProvider for SignalWithToken {
        async fn token(&self) -> Result<AccessToken, AuthError> {
            // SAFETY: raise(3) has no memory effects; `interruptible` has installed tokio's
            // handler for SIGTERM before the call is first polled (its signals come first).
            unsafe { libc::raise(libc::SIGTERM) };
            Ok(AccessToken::new("t", None))
        }
    }

    #[test]
    fn a_signal_that_comes_with_the_token_finds_the_create_unsent() {
        // A process started ignoring SIGTERM keeps ignoring it (`received`): the signal would
        // not stop the command, which is what this test is about.
        if ignored(libc::SIGTERM) {
            return;
        }
        // Never accepts: a create that went out would wait for its answer.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = crate::Client::builder()
            .base_url(format!("http://{}", listener.local_addr().unwrap()))
            .token_provider(SignalWithToken)
            .retry(crate::RetryPolicy::none())
            .watch_connections()
            .build()
            .unwrap();
        let result = runtime().unwrap().block_on(async {
            logging::init(0);
            let create = client.create(&crate::User::Me, crate::types::OnlineMeeting::default());
            interruptible(true, create).await
        });
        match result {
            Err(Failure::Interrupted {
                client_request_id, ..
            }) => assert_eq!(client_request_id, None, "nothing was sent"),
            other => panic!("{:?}", other.err()),
        }
    }
}
