//! JSON objects that name a key twice. serde_json keeps the last of a repeated key without a
//! word; OData's reader (Graph's) refuses the body instead ("duplicate property names are not
//! allowed"). The command reads `--body` this way, the client checks what it would send where
//! it can, and the emulator refuses as Graph does.

use std::{cell::RefCell, collections::HashSet, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A key some object in a JSON text repeats.
#[derive(Debug)]
pub(crate) struct RepeatedKey {
    /// The key.
    pub key: String,
    /// serde_json's error, which says where (line and column) in the text: for text someone
    /// wrote (the command's `--body`); the client and the emulator name the key alone.
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    pub error: serde_json::Error,
}

/// The first key an object in `text` repeats, at any depth. `text` is JSON already read once
/// (any other error reads as none repeated); serde_json's nesting limit holds as it did there.
pub(crate) fn repeated_key(text: &[u8]) -> Result<(), RepeatedKey> {
    let found = RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_slice(text);
    match Keys(&found).deserialize(&mut reader) {
        Ok(()) => Ok(()),
        Err(error) => match found.into_inner() {
            Some(key) => Err(RepeatedKey { key, error }),
            None => Ok(()),
        },
    }
}

/// A value read only for its objects' keys; the first key repeated is put in the cell.
#[derive(Clone, Copy)]
struct Keys<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for Keys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = entries.next_key::<String>()? {
            if seen.contains(&key) {
                let error =
                    de::Error::custom(format_args!("the key {key:?} appears twice in one object"));
                *self.0.borrow_mut() = Some(key);
                return Err(error);
            }
            entries.next_value_seed(self)?;
            seen.insert(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_found_at_any_depth_and_named() {
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
            // Alike once decoded.
            (r#"{"k\u0065y": 1, "key": 2}"#, "key"),
        ] {
            let found = repeated_key(text.as_bytes()).unwrap_err();
            assert_eq!(found.key, key, "{text}");
            let message = found.error.to_string();
            assert!(
                message.contains(&format!("{key:?} appears twice"))
                    && message.contains("line 1 column"),
                "{message}"
            );
        }
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        let text = r#"{"a": {"id": 1}, "b": {"id": 2}, "c": [{"id": 3}, {"id": 3}], "id": 0}"#;
        assert!(repeated_key(text.as_bytes()).is_ok());
        // Text that is no JSON has no repeated key to report (it was read once before).
        assert!(repeated_key(b"{ nope").is_ok());
    }
}
