//! `--body` read as an operator means it: each key once per object, and a byte-order mark
//! (which Windows editors write) taken as the UTF-8 it announces. serde_json keeps the last
//! of a repeated key without a word, and in a request body a repeated `externalId` or
//! `startDateTime` is a mistake whose outcome (which one was sent) nobody should have to guess.

use std::collections::HashSet;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Why a `--body`'s text is not a usable JSON document.
#[derive(Debug)]
pub(super) enum BodyText {
    /// UTF-16, which PowerShell's `>` writes.
    Utf16,
    Invalid(serde_json::Error),
    /// Some object names a key twice (the error says which, and where).
    RepeatedKey(serde_json::Error),
}

/// The document in `text`, after a UTF-8 byte-order mark, with no object repeating a key.
pub(super) fn parse(text: &[u8]) -> Result<Value, BodyText> {
    if text.starts_with(b"\xFF\xFE") || text.starts_with(b"\xFE\xFF") {
        return Err(BodyText::Utf16);
    }
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let value = serde_json::from_slice(text).map_err(BodyText::Invalid)?;
    // A second reading, only for the keys: the text is valid JSON by now, so any error is a
    // repeated key. serde_json's nesting limit holds here as in the first reading.
    serde_json::from_slice::<Checked>(text).map_err(BodyText::RepeatedKey)?;
    Ok(value)
}

/// A JSON value read only to check its objects' keys.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Checked)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Checked, A::Error> {
        while items.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Checked, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = entries.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            entries.next_value::<Checked>()?;
            seen.insert(key);
        }
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_refused_at_any_depth_and_named() {
        for (text, key) in [
            (
                r#"{"externalId": "a", "subject": "s", "externalId": "b"}"#,
                "externalId",
            ),
            (
                r#"{"participants": {"attendees": [{"upn": "a", "upn": "b"}]}}"#,
                "upn",
            ),
            (r#"[{"x": 1}, {"y": {"z": 1, "z": 1}}]"#, "z"),
        ] {
            match parse(text.as_bytes()) {
                Err(BodyText::RepeatedKey(e)) => {
                    let message = e.to_string();
                    assert!(
                        message.contains(&format!("{key:?} appears twice")),
                        "{message}"
                    );
                    assert!(message.contains("line 1 column"), "{message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        let text = r#"{"a": {"id": 1}, "b": {"id": 2}, "c": [{"id": 3}, {"id": 3}], "id": 0}"#;
        let value = parse(text.as_bytes()).unwrap();
        assert_eq!(value["c"][1]["id"], 3);
    }

    #[test]
    fn a_utf8_byte_order_mark_is_skipped_and_utf16_named() {
        let value = parse("\u{FEFF}{\"subject\": \"s\"}".as_bytes()).unwrap();
        assert_eq!(value["subject"], "s");
        assert!(matches!(parse(b"\xFF\xFE{\0}\0"), Err(BodyText::Utf16)));
        assert!(matches!(parse(b"{ nope"), Err(BodyText::Invalid(_))));
    }
}
