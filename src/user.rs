//! Whose meeting: the signed-in user, or a given user.

use std::fmt;

use crate::error::InvalidRequest;

/// The organizer a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// The signed-in user (`/me`): needs a delegated token.
    Me,
    /// A given user (`/users/{id}`): the usual choice with an application token.
    Id(UserId),
}

impl User {
    /// A given user, by object ID or user principal name; refused if it cannot be one path
    /// segment.
    pub fn id(id: impl Into<String>) -> Result<Self, InvalidRequest> {
        UserId::new(id).map(User::Id)
    }
}

/// A user ID that is sent as exactly one percent-encoded path segment.
///
/// Empty, `.`, `..`, IDs with `\` and IDs with control characters are refused: the first four
/// would address a different path after URL normalisation (`\` reads as `/`), the last cannot
/// be a real ID. Every other character (`/`, `?`, `#`, `%`, …) is percent-encoded on the wire.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

/// Longest ID accepted; object IDs are 36 characters and UPNs at most 113.
const MAX_LEN: usize = 1024;

impl UserId {
    /// Checks and wraps an ID.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidRequest> {
        let id = id.into();
        let reason = if id.is_empty() {
            Some("it is empty")
        } else if id == "." || id == ".." {
            Some("'.' and '..' would address another path")
        } else if id.chars().any(char::is_control) {
            Some("it contains control characters")
        } else if id.contains('\\') {
            // URL parsers read '\' as '/' in http(s) URLs, so "..\me" would walk the path.
            Some("'\\' would be read as a path separator")
        } else if id.len() > MAX_LEN {
            Some("it is longer than 1024 bytes")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(InvalidRequest::InvalidUserId {
                id: shorten(&id),
                reason,
            }),
            None => Ok(Self(id)),
        }
    }

    /// The ID as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn shorten(id: &str) -> String {
    id.chars().take(64).collect()
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({:?})", self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_would_move_the_path_are_refused() {
        for bad in [
            "", ".", "..", "a\nb", "\u{7f}", "x\u{0}", "..\\me", "a\\b", ".\\..",
        ] {
            assert!(
                matches!(UserId::new(bad), Err(InvalidRequest::InvalidUserId { .. })),
                "{bad:?}"
            );
        }
        assert!(UserId::new("x".repeat(1025)).is_err());
    }

    #[test]
    fn everything_else_is_kept_verbatim() {
        for ok in [
            "a/b",
            "a?b",
            "a#b",
            "%2e%2e",
            "../../me",
            "test1@contoso.com",
            "...",
        ] {
            assert_eq!(UserId::new(ok).unwrap().as_str(), ok);
        }
    }
}
