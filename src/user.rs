//! Whose meeting: the signed-in user, or a given user.

use std::fmt;

use crate::error::InvalidRequest;

/// The organizer a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// The signed-in user (`/me`): needs a delegated token.
    Me,
    /// A given user (`/users/{id}`): the usual choice with an application token (for create,
    /// Graph's page lists a delegated token as allowed here too).
    Id(UserId),
}

impl User {
    /// A given user, by object ID or user principal name; refused if it cannot be one path
    /// segment. (Graph's pages for these operations name the object ID; their PowerShell
    /// sample passes a UPN, and the emulator takes both.)
    pub fn id(id: impl Into<String>) -> Result<Self, InvalidRequest> {
        UserId::new(id).map(User::Id)
    }
}

/// A user ID (an object ID or a user principal name), sent as exactly one path segment.
///
/// Refused before anything is sent:
/// - empty IDs, and IDs that start or end with spaces (an empty shell variable, a stray space
///   pasted: no object ID or UPN has them);
/// - `.`, `..` and IDs with `\`: they would address a different path after URL
///   normalisation (`\` reads as `/`);
/// - IDs with `/`, `?` or `%`: no object ID or UPN has them, and percent-encoded they stay one
///   segment only as long as nothing between here and Graph decodes them;
/// - control characters and characters shown as nothing (zero-width, bidirectional
///   overrides, tag characters, variation selectors): no real ID has them, they would make
///   logs and messages lie, and a server folding Unicode may drop them (`..` and one of them
///   reads `..`);
/// - look-alikes of `/`, `\`, `.`, `?` and `%` (full-width `／`, `．`, dot leaders, the
///   mathematical slashes, `¥`): a server that folds Unicode on the way would read them as
///   the character itself.
///
/// What is left is sent percent-encoded where a path segment needs it (`#`, as in guests'
/// `#EXT#` UPNs, spaces, non-ASCII letters).
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
        } else if id.trim() != id {
            Some("it starts or ends with spaces, which no object ID or user principal name does")
        } else if id == "." || id == ".." {
            Some("'.' and '..' would address another path")
        } else if id.chars().any(|c| c.is_control() || invisible(c)) {
            Some("it contains control characters or characters shown as nothing")
        } else if id.contains('\\') {
            // URL parsers read '\' as '/' in http(s) URLs, so "..\me" would walk the path.
            Some("'\\' would be read as a path separator")
        } else if id.contains(['/', '?', '%']) {
            Some("'/', '?' and '%' are in no object ID or user principal name")
        } else if id.chars().any(folds_to_structure) {
            Some(
                "it has a look-alike of '/', '\\', '.', '?' or '%' (a full-width or compatibility \
                 form), which a server that folds Unicode would read as the character itself",
            )
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

/// Characters that turn into `/`, `\`, `.`, `?` or `%` (alone or among others: `a℅b` reads
/// `ac/ob`) under Unicode's compatibility folding (NFKC: every such character, as Unicode 16
/// has them; a test checks the table against a normalizer), or under Windows' "best fit"
/// code-page mapping (its best-known cases, not its whole table: the mathematical slashes, and
/// the yen and won signs, a backslash in Japanese and Korean code pages). None is in an object ID or user principal name, and a
/// server on the way that folds them would see another path.
fn folds_to_structure(c: char) -> bool {
    matches!(
        c,
        // NFKC.
        '\u{2024}'..='\u{2026}'
            | '\u{2047}'..='\u{2049}'
            | '\u{2100}'..='\u{2101}'
            | '\u{2105}'..='\u{2106}'
            | '\u{2488}'..='\u{249b}'
            | '\u{33c2}'
            | '\u{33c7}'
            | '\u{33d8}'
            | '\u{fe16}'
            | '\u{fe19}'
            | '\u{fe30}'
            | '\u{fe52}'
            | '\u{fe56}'
            | '\u{fe68}'
            | '\u{fe6a}'
            | '\u{ff05}'
            | '\u{ff0e}'
            | '\u{ff0f}'
            | '\u{ff1f}'
            | '\u{ff3c}'
            | '\u{1f100}'
            // Best fit.
            | '\u{a5}'
            | '\u{20a9}'
            | '\u{2044}'
            | '\u{2215}'
            | '\u{2216}'
            | '\u{29f5}'
            | '\u{29f8}'
            | '\u{29f9}'
    )
}

/// Characters shown as nothing, which text can carry unseen: Unicode's format characters
/// (category Cf: soft hyphen, zero-width and joiner characters, bidirectional marks and
/// overrides, the byte-order mark, interlinear annotation marks, Arabic and Egyptian format
/// controls, tag characters), the rest of its default-ignorable code points (variation
/// selectors, the combining grapheme joiner, Hangul fillers, which a folding server may drop:
/// `..` followed by one reads `..`), and the line and paragraph separators (Zl, Zp), which some
/// log viewers break a line on. Unicode 16.
pub(crate) fn invisible(c: char) -> bool {
    matches!(
        c,
        // Format characters.
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            // The line and paragraph separators.
            | '\u{2028}'
            | '\u{2029}'
            // The other default-ignorable code points (tags and variation selectors
            // supplement included: U+E0000 to U+E0FFF).
            | '\u{34f}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{2065}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fff8}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

fn shorten(id: &str) -> String {
    let mut chars = id.chars();
    let mut kept: String = chars.by_ref().take(64).collect();
    if chars.next().is_some() {
        kept.push('…');
    }
    kept
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
    fn a_refused_id_is_kept_whole_up_to_64_characters_and_cut_visibly_past_them() {
        let refused = |id: &str| match UserId::new(id) {
            Err(InvalidRequest::InvalidUserId { id, .. }) => id,
            other => panic!("{other:?}"),
        };
        let long = "é".repeat(1_000);
        assert_eq!(refused(&long), format!("{}…", "é".repeat(64)));
        let short = format!("{}/x", "a".repeat(62));
        assert_eq!(refused(&short), short, "64 characters, whole");
    }

    #[test]
    fn ids_up_to_1024_bytes_are_taken_and_longer_ones_refused() {
        assert!(UserId::new("a".repeat(MAX_LEN)).is_ok());
        assert!(UserId::new("a".repeat(MAX_LEN + 1)).is_err());
    }

    #[test]
    fn ids_that_would_move_the_path_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a\nb",
            "\u{7f}",
            "x\u{0}",
            "..\\me",
            "a\\b",
            ".\\..",
            "a/b",
            "../../me",
            "a?b",
            "%2e%2e",
            "alex@contoso.com%2F..",
            // Reads as "alex@contoso.com" with the rest reversed, or with an unseen space.
            "moc.osotnoc@\u{202e}xela",
            "alex\u{200b}@contoso.com",
            "alex\u{2028}@contoso.com",
            "alex@contoso.com\u{2029}x",
            "\u{feff}alex@contoso.com",
            // An empty variable's spaces, or a stray one pasted.
            "   ",
            " alex@contoso.com",
            "alex@contoso.com\t",
        ] {
            assert!(
                matches!(UserId::new(bad), Err(InvalidRequest::InvalidUserId { .. })),
                "{bad:?}"
            );
        }
        assert!(UserId::new("x".repeat(1025)).is_err());
    }

    #[test]
    fn every_invisible_formatting_character_is_refused() {
        // Each end of each range the rustdoc names: soft hyphen, Arabic letter mark, Mongolian
        // vowel separator, zero-width space to right-to-left mark, line separator to
        // right-to-left override, word joiner to invisible plus, the isolates and deprecated
        // format characters, the byte-order mark, interlinear annotation marks.
        for c in [
            '\u{ad}', '\u{61c}', '\u{180e}', '\u{200b}', '\u{200f}', '\u{2028}', '\u{202e}',
            '\u{2060}', '\u{2064}', '\u{2066}', '\u{206f}', '\u{feff}', '\u{fff9}', '\u{fffb}',
        ] {
            let id = format!("alex{c}@contoso.com");
            assert!(
                matches!(UserId::new(&id), Err(InvalidRequest::InvalidUserId { .. })),
                "U+{:04X}",
                u32::from(c)
            );
        }
        // Every format character (category Cf) of Unicode 14, as Python's unicodedata lists
        // them, tag characters included ("ASCII smuggling": `alex\u{E0041}@contoso.com` reads
        // as `alex@contoso.com`).
        let format_characters = [
            (0xad, 0xad),
            (0x600, 0x605),
            (0x61c, 0x61c),
            (0x6dd, 0x6dd),
            (0x70f, 0x70f),
            (0x890, 0x891),
            (0x8e2, 0x8e2),
            (0x180e, 0x180e),
            (0x200b, 0x200f),
            (0x202a, 0x202e),
            (0x2060, 0x2064),
            (0x2066, 0x206f),
            (0xfeff, 0xfeff),
            (0xfff9, 0xfffb),
            (0x110bd, 0x110bd),
            (0x110cd, 0x110cd),
            (0x13430, 0x13438),
            (0x1bca0, 0x1bca3),
            (0x1d173, 0x1d17a),
            (0xe0001, 0xe0001),
            (0xe0020, 0xe007f),
        ];
        for (first, last) in format_characters {
            for c in (first..=last).filter_map(char::from_u32) {
                assert!(
                    UserId::new(format!("alex{c}@contoso.com")).is_err(),
                    "U+{:04X}",
                    u32::from(c)
                );
            }
        }
        // And what a server folding Unicode drops as default-ignorable: `..` and one of
        // these would reach it as `..`.
        for c in [
            '\u{34f}',
            '\u{115f}',
            '\u{1160}',
            '\u{17b4}',
            '\u{180b}',
            '\u{3164}',
            '\u{fe00}',
            '\u{fe0f}',
            '\u{ffa0}',
            '\u{e0100}',
            '\u{e01ef}',
        ] {
            assert!(
                UserId::new(format!("..{c}")).is_err(),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn every_character_that_folds_into_a_path_character_is_refused() {
        // Every character whose NFKC form has `/`, `\`, `.`, `?` or `%` in it, as a normalizer
        // finds them (`．．` reads `..`, `a／b` two segments, `a℅b` `ac/ob`), and no other.
        let nfkc = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc();
        let mut found = 0;
        for c in ('\u{80}'..=char::MAX).filter(|c| !c.is_control() && !invisible(*c)) {
            let folded = nfkc.normalize(c.encode_utf8(&mut [0; 4])).into_owned();
            let structural = folded.contains(['/', '\\', '.', '?', '%']);
            let refused = UserId::new(format!("alex{c}@contoso.com")).is_err();
            if structural {
                found += 1;
                assert!(refused, "U+{:04X} folds to {folded:?}", u32::from(c));
            } else if refused {
                assert!(folds_to_structure(c), "U+{:04X} is refused", u32::from(c));
            }
        }
        assert!(found >= 46, "{found}");
        // And those that Windows' best fit maps onto one.
        for c in [
            '\u{a5}', '\u{20a9}', '\u{2044}', '\u{2215}', '\u{2216}', '\u{29f5}', '\u{29f8}',
        ] {
            let err = UserId::new(format!("a{c}b")).unwrap_err();
            assert!(
                err.to_string().contains("look-alike"),
                "U+{:04X}: {err}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn everything_else_is_kept_verbatim() {
        for ok in [
            "a#b",
            "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "o'brien@contoso.com",
            "1f35f2e6-9cab-44ad-8d5a-b74c14720000",
            "test1@contoso.com",
            "josé@contoso.com",
            "...",
        ] {
            assert_eq!(UserId::new(ok).unwrap().as_str(), ok);
        }
    }
}
