//! `-v` on stderr. Only this crate's events are shown: the HTTP stack's own logs are never
//! enabled, so no header (and so no bearer token) can reach stderr through them. Warnings,
//! such as a retry that waits for Retry-After, show at every verbosity.

use std::{io::IsTerminal, sync::Mutex};

use tracing::{field::Field, level_filters::LevelFilter, Event, Subscriber};
use tracing_subscriber::{
    filter::Targets,
    fmt,
    layer::{Context, Layer, SubscriberExt},
    util::SubscriberInitExt,
};

/// The latest request the library was about to send.
static SENT: Mutex<Sent> = Mutex::new(Sent {
    id: None,
    connecting: false,
});

/// Its `client-request-id`, and whether its connection is still being made (nothing of it
/// has left yet).
struct Sent {
    id: Option<String>,
    connecting: bool,
}

/// The `client-request-id` of the call, once it has sent a request, also while it waits to
/// retry (when [`SENT`] is cleared).
static CALL: Mutex<Option<String>> = Mutex::new(None);

/// The `client-request-id` of the latest request sent, if any was: what a command interrupted
/// while waiting for its answer can still name (see [`init`]). Not one whose connection was
/// still being made: nothing of it had left.
pub(super) fn sent() -> Option<String> {
    let sent = SENT.lock().unwrap_or_else(|p| p.into_inner());
    sent.id.clone().filter(|_| !sent.connecting)
}

/// The call's `client-request-id` once it has sent a request, in flight or not: what support
/// can trace a createOrGet stopped while waiting to retry by.
pub(super) fn call() -> Option<String> {
    CALL.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Follows the library's attempts whatever the verbosity shown: its per-attempt `debug` event,
/// just before a request is handed to the HTTP client, names the `client_request_id`; then the
/// events of the connection made for it (the command's client keeps no pool: every attempt has
/// one), with a `phase`, say when it is begun and made; an event for a retry (it carries
/// `delay_ms`) follows an answer that says the service did not act, or no connection at all,
/// so nothing is in flight until the next attempt.
struct Sending;

impl<S: Subscriber> Layer<S> for Sending {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        #[derive(Default)]
        struct Seen {
            id: Option<String>,
            retry: bool,
            connecting: Option<bool>,
        }
        impl tracing::field::Visit for Seen {
            fn record_str(&mut self, field: &Field, value: &str) {
                match field.name() {
                    "client_request_id" => self.id = Some(value.to_owned()),
                    "phase" => self.connecting = Some(value == "connecting"),
                    _ => {}
                }
            }
            fn record_u64(&mut self, field: &Field, _: u64) {
                self.retry |= field.name() == "delay_ms";
            }
            fn record_debug(&mut self, field: &Field, _: &dyn std::fmt::Debug) {
                self.retry |= field.name() == "delay_ms";
            }
        }
        let mut seen = Seen::default();
        event.record(&mut seen);
        let mut sent = SENT.lock().unwrap_or_else(|p| p.into_inner());
        // A retry's event names its call too (also one waiting for a token, before anything
        // was sent): it is told apart by its delay.
        match seen {
            Seen { retry: true, .. } => {
                *sent = Sent {
                    id: None,
                    connecting: false,
                }
            }
            // A connection for the request awaiting its answer; any other's says nothing of it.
            Seen {
                id: Some(id),
                connecting: Some(connecting),
                ..
            } if sent.id.as_ref() == Some(&id) => sent.connecting = connecting,
            Seen {
                connecting: Some(_),
                ..
            } => {}
            Seen { id: Some(id), .. } => {
                *CALL.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
                *sent = Sent {
                    id: Some(id),
                    connecting: false,
                };
            }
            _ => {}
        }
    }
}

/// Installs the stderr logger for `verbosity` (the count of `-v`).
pub(super) fn init(verbosity: u8) {
    let level = match verbosity {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let filter = Targets::new().with_target("graph_meetings", level);
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbosity > 1)
        .without_time();
    let sending = Targets::new()
        .with_target("graph_meetings::client", LevelFilter::DEBUG)
        .with_target("graph_meetings::connecting", LevelFilter::DEBUG);
    // A second call (tests, the demo inside a session) keeps the first logger.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .with(Sending.with_filter(sending))
        .try_init();
}
