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

    /// [`redact_bytes`](Self::redact_bytes), and then the secret written with JSON's escapes
    /// too (`\/`, or `\u002B` for `+` as .NET writes it), which decoding would turn back into
    /// the secret. A JSON body is read, its strings redacted, and written anew (its keys may
    /// change order). A body that does not read as JSON (cut short, trailing bytes, nested past
    /// serde_json's limit) is looked at with its escapes decoded as JSON would; when that
    /// shows the secret, the decoded text with the secret blanked is what is kept.
    pub(crate) fn redact_body(&self, body: Bytes) -> Bytes {
        let body = self.redact_bytes(body);
        if !self.redactable() || !body.contains(&b'\\') {
            return body;
        }
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&body) else {
            let decoded = Bytes::from(unescaped(&body));
            let redacted = self.redact_bytes(decoded.clone());
            return match redacted.len() == decoded.len() && redacted == decoded {
                true => body,
                false => redacted,
            };
        };
        if !self.redact_value(&mut value) {
            return body;
        }
        serde_json::to_vec(&value).map(Bytes::from).unwrap_or(body)
    }

    /// Redacts every string in `value`, keys included; whether any changed.
    fn redact_value(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(text) => match self.redact(text) {
                Cow::Owned(redacted) => {
                    *text = redacted;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, item| self.redact_value(item) | changed),
            Value::Object(map) => {
                let before = std::mem::take(map);
                let mut changed = false;
                for (key, mut item) in before {
                    changed |= self.redact_value(&mut item);
                    let key = match self.redact(&key) {
                        Cow::Owned(redacted) => {
                            changed = true;
                            redacted
                        }
                        Cow::Borrowed(_) => key,
                    };
                    map.insert(key, item);
                }
                changed
            }
            _ => false,
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

/// `text` with JSON's escapes decoded wherever they stand, whether or not the text is JSON: a
/// `\u` escape that is not one stays as it is, and a lone surrogate becomes U+FFFD. Linear in
/// the text's length.
fn unescaped(text: &[u8]) -> Vec<u8> {
    let hex = |at: usize| {
        let digits = text.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let byte = text[at];
        if byte != b'\\' || at + 1 == text.len() {
            out.push(byte);
            at += 1;
            continue;
        }
        let simple = match text[at + 1] {
            b'/' => Some(b'/'),
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(decoded) = simple {
            out.push(decoded);
            at += 2;
            continue;
        }
        let Some(unit) = (text[at + 1] == b'u').then(|| hex(at + 2)).flatten() else {
            out.push(byte);
            at += 1;
            continue;
        };
        at += 6;
        let low = (text.get(at..at + 2) == Some(b"\\u"))
            .then(|| hex(at + 2))
            .flatten()
            .filter(|low| (0xDC00..0xE000).contains(low));
        let scalar = match (unit, low) {
            (0xD800..=0xDBFF, Some(low)) => {
                at += 6;
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
            _ => unit,
        };
        let c = char::from_u32(scalar).unwrap_or(char::REPLACEMENT_CHARACTER);
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
    out
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
        // Written with JSON's escapes, it is found in the decoded text; the body is rewritten.
        let opaque = Secret::new("EwB0A8l6+abc/def==");
        let echo = br#"{"error":{"message":"Bearer EwB0A8l6\u002Babc\/def=="}}"#;
        let redacted = opaque.redact_body(Bytes::from_static(echo));
        let value: serde_json::Value = serde_json::from_slice(&redacted).unwrap();
        assert_eq!(value["error"]["message"], "Bearer ***");
        // Not JSON, or no escape in it: only the bytes as they are.
        let text = Bytes::from_static(b"Bearer EwB0A8l6+abc/def== \\");
        assert_eq!(&opaque.redact_body(text)[..], b"Bearer *** \\");
        // A body that is not JSON (trailing bytes, cut short, nested past serde_json's
        // limit) is looked at with its escapes decoded, and kept decoded when that shows the
        // secret.
        let message = r#"{"error":{"message":"got Bearer EwB0A8l6\u002Babc\/def=="}}"#;
        let deep = format!("{}{message}", "[".repeat(200));
        for body in [
            format!("{message}x"),
            message[..message.len() - 3].into(),
            deep,
        ] {
            let redacted = opaque.redact_body(Bytes::from(body.clone()));
            let text = String::from_utf8(redacted.to_vec()).unwrap();
            assert!(text.contains("got Bearer ***"), "{body}: {text}");
            assert!(!text.contains("EwB0"), "{body}: {text}");
        }
        // ... and left as received when it does not, escapes and all.
        let other = Bytes::from_static(br#"{"a":"\u002B\/ \ud83d\ude00 \uZZZZ"} trailing"#);
        assert_eq!(opaque.redact_body(other.clone()), other);
        assert_eq!(
            unescaped(br#"\u002B\/\"\\ \ud83d\ude00 \ud83d \uZZZZ \q\"#),
            "+/\"\\ \u{1F600} \u{FFFD} \\uZZZZ \\q\\".as_bytes()
        );
        // A secret of a few characters is not looked for: it would blank ordinary words.
        assert_eq!(Secret::new("t").redact("the text"), "the text");
        assert_eq!(Secret::new("").redact("text"), "text");
    }
}
