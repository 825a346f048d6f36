//! A string that never prints itself.

use std::{fmt, sync::Arc};

/// A credential (bearer token, client secret). `Debug` and `Display` print `***`, so a secret
/// cannot reach a log line, an error message or a panic by accident; [`Secret::expose`] is the
/// one deliberate way out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// The credential itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let secret = Secret::new("canary-7f3a");
        assert_eq!(format!("{secret}"), "***");
        assert!(!format!("{secret:?}").contains("canary"));
        assert!(!format!("{:#?}", Some(secret.clone())).contains("canary"));
        assert_eq!(secret.expose(), "canary-7f3a");
    }
}
