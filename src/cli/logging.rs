//! `-v` on stderr. Only this crate's events are shown: the HTTP stack's own logs are never
//! enabled, so no header (and so no bearer token) can reach stderr through them. Warnings,
//! such as a retry that waits for Retry-After, show at every verbosity.

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::{filter::Targets, fmt, layer::SubscriberExt, util::SubscriberInitExt};

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
    // A second call (tests, the demo inside a session) keeps the first logger.
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init();
}
