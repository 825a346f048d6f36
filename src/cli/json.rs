//! `--body` read as an operator means it: each key once per object, and a byte-order mark
//! (which Windows editors write) taken as the UTF-8 it announces. serde_json keeps the last
//! of a repeated key without a word, and in a request body a repeated `externalId` or
//! `startDateTime` is a mistake whose outcome (which one was sent) nobody should have to guess.

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
    crate::json::repeated_key(text).map_err(|found| BodyText::RepeatedKey(found.error))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_and_named_with_where_it_is() {
        // Found at any depth by `crate::json` (its tests); here, that `--body` is refused for
        // it with serde_json's position, which points into the operator's own file.
        let text = r#"{"participants": {"attendees": [{"upn": "a", "upn": "b"}]}}"#;
        match parse(text.as_bytes()) {
            Err(BodyText::RepeatedKey(e)) => {
                let message = e.to_string();
                assert!(message.contains("\"upn\" appears twice"), "{message}");
                assert!(message.contains("line 1 column"), "{message}");
            }
            other => panic!("{other:?}"),
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
