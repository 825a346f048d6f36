//! Open enums: Graph adds values to its enums over time, so a value this crate does not know
//! is kept as its string instead of failing the whole answer.
//!
//! `build.rs` has the generator use [`Open`] for every open-enum schema in `spec/` (a `oneOf`
//! of a known enum and a string). Serde's untagged enums would do the same job, but they
//! buffer each value and try the variants one by one: slower, and far more code for every
//! meeting decoded.

use std::{fmt, marker::PhantomData, str::FromStr};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A value of the known enum `K`, or a string `K` does not (yet) name.
///
/// `Other` is for reading what Graph sends and for sending a value newer than this crate's
/// description. Graph refuses a value it does not know with a 400, and so does the emulator
/// (it reads request bodies closed against `spec/`), so an invented value is not a way to
/// test anything but that refusal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Open<K> {
    /// A value this crate's description names.
    Known(K),
    /// A value it does not, exactly as Graph sent it. Made by hand, it is compared as it is:
    /// `Other("presenter")` is not `Known(Presenter)`; [`Open::parse`] reads text into the
    /// known value where there is one.
    Other(String),
}

impl<K: FromStr> Open<K> {
    /// Reads `text` as `K` when it names a known value.
    pub fn parse(text: &str) -> Self {
        text.parse()
            .map_or_else(|_| Open::Other(text.to_owned()), Open::Known)
    }
}

/// The value as Graph writes it, known or not.
impl<K: fmt::Display> fmt::Display for Open<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Open::Known(known) => known.fmt(f),
            Open::Other(text) => f.write_str(text),
        }
    }
}

impl<K> From<K> for Open<K> {
    fn from(value: K) -> Self {
        Open::Known(value)
    }
}

impl<K: Serialize> Serialize for Open<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Open::Known(known) => known.serialize(serializer),
            Open::Other(text) => serializer.serialize_str(text),
        }
    }
}

impl<'de, K: FromStr> Deserialize<'de> for Open<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(OpenVisitor(PhantomData))
    }
}

struct OpenVisitor<K>(PhantomData<K>);

impl<K: FromStr> de::Visitor<'_> for OpenVisitor<K> {
    type Value = Open<K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Open<K>, E> {
        Ok(Open::parse(text))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Open<K>, E> {
        Ok(match text.parse() {
            Ok(known) => Open::Known(known),
            Err(_) => Open::Other(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Open;
    use crate::types::{KnownMeetingChatMode, MeetingChatMode};

    #[test]
    fn known_values_are_typed_and_others_kept_as_sent() {
        let known: MeetingChatMode = serde_json::from_str(r#""limited""#).unwrap();
        assert_eq!(known, Open::Known(KnownMeetingChatMode::Limited));
        let other: MeetingChatMode = serde_json::from_str(r#""brandNew\u0041""#).unwrap();
        assert_eq!(other, Open::Other("brandNewA".into()));
        assert_eq!(serde_json::to_string(&known).unwrap(), r#""limited""#);
        assert_eq!(serde_json::to_string(&other).unwrap(), r#""brandNewA""#);
        // Printed as Graph writes it, known or not.
        assert_eq!(
            (known.to_string(), other.to_string()),
            ("limited".into(), "brandNewA".into())
        );
    }

    #[test]
    fn a_value_that_is_not_a_string_is_an_error() {
        let error = serde_json::from_str::<MeetingChatMode>("3").unwrap_err();
        assert!(error.to_string().contains("expected a string"), "{error}");
    }
}
