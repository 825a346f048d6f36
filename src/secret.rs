//! A string that never prints itself.

use std::{borrow::Cow, fmt, sync::Arc};

use bytes::Bytes;

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

    /// Whether [`redact`](Self::redact) looks for this secret. One of a few characters (a test's
    /// `"t"`) would blank ordinary words and hide nothing: real tokens run to hundreds.
    fn redactable(&self) -> bool {
        self.0.len() >= Self::REDACTED_FROM
    }

    /// The shortest secret that is redacted.
    const REDACTED_FROM: usize = 8;

    /// `text` with every occurrence of the secret as `***`: for a service's text that may have
    /// repeated what was sent to it (an echoing proxy, a debugging endpoint) on its way into an
    /// error.
    pub(crate) fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match !self.redactable() || !text.contains(&*self.0) {
            true => Cow::Borrowed(text),
            false => Cow::Owned(text.replace(&*self.0, "***")),
        }
    }

    /// [`redact`](Self::redact) for a body, which need not be text. Linear in the body's
    /// length whatever it holds: the body comes from the service.
    pub(crate) fn redact_bytes(&self, body: Bytes) -> Bytes {
        if !self.redactable() {
            return body;
        }
        let needle = self.0.as_bytes();
        let finder = memchr::memmem::Finder::new(needle);
        let mut found = finder.find_iter(&body).peekable();
        if found.peek().is_none() {
            return body;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut from = 0;
        for at in found {
            // Occurrences may overlap; each byte of the secret is blanked once.
            if at < from {
                continue;
            }
            out.extend_from_slice(&body[from..at]);
            out.extend_from_slice(b"***");
            from = at + needle.len();
        }
        out.extend_from_slice(&body[from..]);
        out.into()
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

    #[test]
    fn redacts_every_occurrence_in_text_and_bytes() {
        let secret = Secret::new("tok-9xyz");
        assert_eq!(secret.redact("a tok-9xyz b tok-9xyz"), "a *** b ***");
        assert!(matches!(secret.redact("nothing here"), Cow::Borrowed(_)));
        let body = Bytes::from_static(b"\xff Bearer tok-9xyztok-9xyz \x00 tok-9xy");
        assert_eq!(
            &secret.redact_bytes(body)[..],
            b"\xff Bearer ****** \x00 tok-9xy"
        );
        // Overlapping occurrences leave nothing of the secret behind.
        let a8 = Secret::new("aaaaaaaa");
        let body = Bytes::from_static(b"xaaaaaaaaay");
        assert_eq!(&a8.redact_bytes(body)[..], b"x***ay");
        // A secret of a few characters is not looked for: it would blank ordinary words.
        assert_eq!(Secret::new("t").redact("the text"), "the text");
        assert_eq!(Secret::new("").redact("text"), "text");
    }
}
