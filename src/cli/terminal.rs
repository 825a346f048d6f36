//! Writing to stdout and stderr without panicking (a closed pipe is an error to report, not a
//! crash) and without letting service-supplied text drive the terminal.

use std::io::{self, Write};

/// Writes `text` to stdout and flushes; `false` when stdout is gone.
pub(super) fn stdout(text: &str) -> bool {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

/// Writes `text` to stderr; there is nowhere to report a failure to.
pub(super) fn stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// What the command prints of the service's text goes through the library's filter: control
/// characters become spaces.
pub(super) use crate::transport::printable;

/// The command's own multi-line messages: each line filtered as [`printable`], the line breaks
/// kept (only text the command wrote itself, never the service's, which must stay one line).
pub(super) fn printable_lines(text: &str) -> String {
    text.lines().map(printable).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_blanked() {
        assert_eq!(printable("a\u{1b}[31mb\nc\r"), "a [31mb c ");
    }

    #[test]
    fn the_commands_own_messages_keep_their_lines() {
        assert_eq!(
            printable_lines("set A\r\nor \u{1b}[2Jset B\n"),
            "set A\nor  [2Jset B"
        );
    }
}
