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

    /// `text` with every occurrence of the secret as `***`, also where it is percent-encoded
    /// (see [`unpercent`](Self::unpercent)): for a service's text that may have repeated what
    /// was sent to it (an echoing proxy, a debugging endpoint, a URL quoted in a message) on
    /// its way into an error.
    pub(crate) fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.redactable() {
            true => self.redact_any_length(text),
            false => Cow::Borrowed(text),
        }
    }

    /// [`redact`](Self::redact) however short the secret is: for a client secret, which the
    /// caller chose and which must not show even when it is a short word. Text around it that
    /// happens to contain it is blanked too, which only so short a secret can cause.
    pub(crate) fn redact_any_length<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.0.is_empty() || !(text.contains(&*self.0) || may_encode(text.as_bytes())) {
            return Cow::Borrowed(text);
        }
        // `*` or `**`: the blank holds the secret again, so each pass would find more than the
        // last (thrice the text, or many times that through the percent-decodings) and never
        // settle. Such a secret blanks whole any text that may hold it, as written or encoded.
        if matches!(&*self.0, "*" | "**") {
            return match text.contains(['*', '%']) {
                true => Cow::Borrowed("***"),
                false => Cow::Borrowed(text),
            };
        }
        // The bytes' blanking: a UTF-8 secret found in UTF-8 text starts and ends on character
        // boundaries, so what is left is text still.
        let bytes = Bytes::copy_from_slice(text.as_bytes());
        let blanked = settle(bytes, |text| self.unpercent(self.blank_raw(text)));
        // Told by content, not length: a secret of three bytes becomes `***`, as long as it was.
        match blanked == text.as_bytes() {
            true => Cow::Borrowed(text),
            false => Cow::Owned(String::from_utf8_lossy(&blanked).into_owned()),
        }
    }

    /// [`redact_bytes`](Self::redact_bytes), and then the secret written with JSON's escapes
    /// too (`\/`, or `\u002B` for `+` as .NET writes it), which decoding would turn back into
    /// the secret, and percent-encoded ([`unpercent`](Self::unpercent)). Escapes are decoded
    /// wherever they stand, whether or not the body is JSON (it may be cut short, have
    /// trailing bytes, or nest deeper than a parser goes), and each occurrence found is
    /// blanked where it stands in the body: the rest stays as received.
    pub(crate) fn redact_body(&self, body: Bytes) -> Bytes {
        if !self.redactable() {
            return body;
        }
        settle(body, |body| {
            let body = self.redact_bytes(body);
            let body = match body.contains(&b'\\') {
                true => Decoded::json(&body).blank(body.clone(), self.0.as_bytes()),
                false => body,
            };
            let body = self.unpercent(body);
            match memchr::memchr2(b'\\', b'%', &body).is_some() {
                true => self.nested(body),
                false => body,
            }
        })
    }

    /// `body` with the secret blanked where both encodings are on it, one inside the other:
    /// percent-encoded and then written with JSON's escapes (a URL quoted in JSON: `%2B`
    /// beside `\/`, even `%` itself as `\u0025`), or written with JSON's escapes and then
    /// percent-encoded (JSON carried in a URL: `%5Cu002B`). Found in the text with both
    /// decoded, and blanked where it stands in the body.
    fn nested(&self, mut body: Bytes) -> Bytes {
        let needle = self.0.as_bytes();
        for plus_is_space in [true, false] {
            let outer = Decoded::json(&body);
            if may_encode(&outer.bytes) {
                let inner = Decoded::percent(&outer.bytes, plus_is_space);
                body = blank(body.clone(), inner.spans_through(&outer, needle));
            }
            let outer = Decoded::percent(&body, plus_is_space);
            if outer.bytes.contains(&b'\\') {
                let inner = Decoded::json(&outer.bytes);
                body = blank(body.clone(), inner.spans_through(&outer, needle));
            }
        }
        body
    }

    /// `text` with the secret blanked where it is percent-encoded, whichever way (`%2B` or
    /// `%2b`, a space as `+` or `%20`, characters left as they are or not): an answer may
    /// quote a URL or a form that carried it, and a token with `+`, `/` or `=` in it reads
    /// differently there. Also percent-encoded twice (`%252B`: a URL quoted inside another
    /// URL, such as a return-to link, or a form inside one). One pass: the callers [`settle`].
    fn unpercent(&self, mut text: Bytes) -> Bytes {
        if !may_encode(&text) {
            return text;
        }
        let needle = self.0.as_bytes();
        // A form writes a space as `+`; a URI encoder leaves `+` standing for itself.
        for plus_is_space in [true, false] {
            text = Decoded::percent(&text, plus_is_space).blank(text, needle);
        }
        // The outer encoding's `%25` is the inner one's `%`.
        if memchr::memmem::find(&text, b"%25").is_some() {
            for plus_is_space in [true, false] {
                let outer = Decoded::percent(&text, false);
                let inner = Decoded::percent(&outer.bytes, plus_is_space);
                text = blank(text.clone(), inner.spans_through(&outer, needle));
            }
        }
        text
    }

    /// Where the longest tail of `text` that is a proper beginning of the secret starts.
    /// Quadratic in the secret's length at worst, whatever the text's.
    fn begun_at(&self, text: &[u8]) -> Option<usize> {
        let secret = self.0.as_bytes();
        let from = text.len().saturating_sub(secret.len() - 1);
        (from..text.len()).find(|&at| secret.starts_with(&text[at..]))
    }

    /// [`redact`](Self::redact) for a body, which need not be text. Linear in the body's
    /// length whatever it holds (see [`settle`]): the body comes from the service.
    pub(crate) fn redact_bytes(&self, body: Bytes) -> Bytes {
        if !self.redactable() {
            return body;
        }
        settle(body, |body| self.blank_raw(body))
    }

    /// One pass of [`redact_bytes`](Self::redact_bytes).
    fn blank_raw(&self, text: Bytes) -> Bytes {
        let needle = self.0.as_bytes();
        let spans = memchr::memmem::find_iter(&text, needle).map(|at| (at, at + needle.len()));
        blank(text.clone(), spans)
    }
}

/// [`Secret::redact_body`] for a body cut off before its end, which may have been cut inside
/// a secret, for the secrets one call sent: each is blanked wherever it is whole, and then the
/// tail from the earliest place where any of them begins (as written, or with its escapes
/// decoded), since all of a token but its last characters is nearly the token. All at once:
/// one after the other, the first's `***` could end the tail and hide where the second begins
/// (`…first-token-refu` + `s`, the start of the other token).
pub(crate) fn redact_cut(secrets: &[&Secret], body: Bytes) -> Bytes {
    let body = secrets
        .iter()
        .fold(body, |body, secret| secret.redact_body(body));
    let secrets: Vec<&&Secret> = secrets.iter().filter(|s| s.redactable()).collect();
    if secrets.is_empty() {
        return body;
    }
    // An escape cut short at the end (`\u00`, `%2`) says nothing yet: looked at without it.
    let json = &body[..without_cut_escape(&body)];
    let percent = &body[..without_cut_percent(&body)];
    let decodings = [
        Decoded::json(json),
        Decoded::percent(percent, true),
        Decoded::percent(percent, false),
    ];
    // Both at once, either inside the other (see `nested`), each cut escape left out.
    let json = &decodings[0];
    let within = &json.bytes[..without_cut_percent(&json.bytes)];
    let percent_in_json = [true, false].map(|plus| (json, Decoded::percent(within, plus)));
    let json_in_percent = [&decodings[1], &decodings[2]].map(|percent| {
        let within = &percent.bytes[..without_cut_escape(&percent.bytes)];
        (percent, Decoded::json(within))
    });
    let begun = |secret: &Secret| {
        let decoded = decodings
            .iter()
            .filter_map(|d| secret.begun_at(&d.bytes).map(|at| d.raw(at)));
        let nested = percent_in_json
            .iter()
            .chain(&json_in_percent)
            .filter_map(|(outer, inner)| {
                let at = secret.begun_at(&inner.bytes)?;
                Some(outer.raw(inner.raw(at)))
            });
        // As written too: a secret with a backslash of its own is not its decoded text.
        decoded.chain(nested).chain(secret.begun_at(&body)).min()
    };
    match secrets.iter().filter_map(|secret| begun(secret)).min() {
        Some(at) => blank(body.clone(), std::iter::once((at, body.len()))),
        None => body,
    }
}

/// Whether `text` may hold something percent-encoded (or a form's `+` for a space).
fn may_encode(text: &[u8]) -> bool {
    memchr::memchr2(b'%', b'+', text).is_some()
}

/// The length of `text` without a percent escape cut short at its end (`%`, or `%` and one
/// hex digit).
fn without_cut_percent(text: &[u8]) -> usize {
    match text {
        [.., b'%'] => text.len() - 1,
        [.., b'%', digit] if digit.is_ascii_hexdigit() => text.len() - 2,
        _ => text.len(),
    }
}

/// How many times blanking goes over a text again for occurrences its `***` made anew (a
/// secret with a `*` in it): for a real secret, one or two; a text still holding one after
/// these many (built to, round after round) is blanked whole, rather than gone over once
/// for each of its bytes.
const ROUNDS: usize = 4;

/// `text` put through `round` (one blanking pass) until a pass blanks nothing, which each one
/// that does shows by changing the text (mostly by its length, but a client secret of three
/// bytes becomes `***` as long as it was). Should a pass still blank something after
/// [`ROUNDS`] of them, the text is blanked whole.
fn settle(mut text: Bytes, round: impl Fn(Bytes) -> Bytes) -> Bytes {
    for _ in 0..=ROUNDS {
        let blanked = round(text.clone());
        if blanked.len() == text.len() && blanked == text {
            return blanked;
        }
        text = blanked;
    }
    Bytes::from_static(b"***")
}

/// The length of `text` without an escape cut short at its end (a lone `\`, or `\u` with
/// fewer than four hex digits), nor the first half of a surrogate pair whose second was cut
/// off (`\ud83d`, perhaps with a cut escape after it): that half alone would decode to
/// U+FFFD, which begins no secret.
fn without_cut_escape(text: &[u8]) -> usize {
    let mut end = text.len();
    let tail = end.saturating_sub(5);
    let cut = text[tail..]
        .iter()
        .rposition(|&b| b == b'\\')
        .map(|i| tail + i)
        .filter(|&at| match &text[at + 1..] {
            [] => true,
            [b'u', digits @ ..] => digits.len() < 4 && digits.iter().all(u8::is_ascii_hexdigit),
            _ => false,
        });
    if let Some(at) = cut {
        end = at;
    }
    let high = end
        .checked_sub(6)
        .map(|at| &text[at..end])
        .and_then(|escape| escape.strip_prefix(b"\\u"))
        .and_then(hex4)
        .is_some_and(|unit| (0xD800..0xDC00).contains(&unit));
    match high {
        true => end - 6,
        false => end,
    }
}

/// Four hex digits as a number; nothing else (no sign, which `from_str_radix` would take).
fn hex4(digits: &[u8]) -> Option<u32> {
    match digits {
        [_, _, _, _] if digits.iter().all(u8::is_ascii_hexdigit) => {
            u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
        }
        _ => None,
    }
}

/// `spans` of `body` as `***` each: in order and not overlapping, as `memmem` finds them
/// (the body itself, uncopied, when there are none).
fn blank(body: Bytes, spans: impl Iterator<Item = (usize, usize)>) -> Bytes {
    let mut spans = spans.peekable();
    if spans.peek().is_none() {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut from = 0;
    for (start, end) in spans {
        out.extend_from_slice(&body[from..start]);
        out.extend_from_slice(b"***");
        from = end;
    }
    out.extend_from_slice(&body[from..]);
    out.into()
}

/// A text with JSON's escapes decoded wherever they stand, whether or not the text is JSON:
/// a `\u` escape that is not one stays as it is, and a lone surrogate becomes U+FFFD. Linear
/// in the text's length.
struct Decoded {
    bytes: Vec<u8>,
    /// `(decoded, raw)` offsets at the start and just after each escape, in order: between
    /// two marks the texts run side by side.
    marks: Vec<(usize, usize)>,
}

impl Decoded {
    fn json(text: &[u8]) -> Self {
        let hex = |at: usize| hex4(text.get(at..at + 4)?);
        let mut bytes = Vec::with_capacity(text.len());
        let mut marks = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let byte = text[at];
            if byte != b'\\' || at + 1 == text.len() {
                bytes.push(byte);
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
            let start = at;
            marks.push((bytes.len(), start));
            if let Some(decoded) = simple {
                bytes.push(decoded);
                at += 2;
            } else if let Some(unit) = (text[at + 1] == b'u').then(|| hex(at + 2)).flatten() {
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
                bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            } else {
                // Not an escape: the backslash stands for itself.
                marks.pop();
                bytes.push(byte);
                at += 1;
                continue;
            }
            marks.push((bytes.len(), at));
        }
        Self { bytes, marks }
    }

    /// A text with percent-encoding decoded (`%2B` or `%2b`; `+` as a space if so asked, as a
    /// form reader would): a `%` without two hex digits after it stays as it is.
    fn percent(text: &[u8], plus_is_space: bool) -> Self {
        let mut bytes = Vec::with_capacity(text.len());
        let mut marks = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let escaped = match text[at..] {
                [b'%', high, low, ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    let digit = |d: u8| (d as char).to_digit(16).unwrap_or(0) as u8;
                    Some(digit(high) << 4 | digit(low))
                }
                _ => None,
            };
            match escaped {
                Some(byte) => {
                    marks.push((bytes.len(), at));
                    bytes.push(byte);
                    at += 3;
                    marks.push((bytes.len(), at));
                }
                None => {
                    let space = plus_is_space && text[at] == b'+';
                    bytes.push(if space { b' ' } else { text[at] });
                    at += 1;
                }
            }
        }
        Self { bytes, marks }
    }

    /// Where each occurrence of `needle` in this text stands in the raw text of `outer`, which
    /// this was decoded from in turn.
    fn spans_through<'a>(
        &'a self,
        outer: &'a Decoded,
        needle: &'a [u8],
    ) -> impl Iterator<Item = (usize, usize)> + 'a {
        let raw = |at: usize| outer.raw(self.raw(at));
        memchr::memmem::find_iter(&self.bytes, needle)
            .map(move |at| (raw(at), raw(at + needle.len())))
    }

    /// `raw`, the text this was decoded from, with each occurrence of `needle` in the decoded
    /// text blanked where it stands in `raw`.
    fn blank(&self, raw: Bytes, needle: &[u8]) -> Bytes {
        let spans = memchr::memmem::find_iter(&self.bytes, needle)
            .map(|at| (self.raw(at), self.raw(at + needle.len())));
        blank(raw, spans)
    }

    /// The raw offset of decoded offset `at`, which starts a character or ends the text.
    fn raw(&self, at: usize) -> usize {
        match self.marks.partition_point(|&(decoded, _)| decoded <= at) {
            0 => at,
            i => {
                let (decoded, raw) = self.marks[i - 1];
                raw + (at - decoded)
            }
        }
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

/// As the other arguments beside a secret take it (`&cfg.client_secret` from a config struct).
impl From<&String> for Secret {
    fn from(value: &String) -> Self {
        Self::new(value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`Secret::redact`] of `text`, for a secret given as text.
    fn blanked_text(text: &str, secret: &str) -> String {
        Secret::new(secret).redact(text).into_owned()
    }

    #[test]
    fn a_short_secret_is_blanked_also_where_blanking_makes_it_anew() {
        // Three bytes become `***`, as long as they were: a pass that blanked something is
        // told by its content, and a `***` that makes the secret anew with its neighbours
        // (`*` + `***` + `y` holds `**y`) is gone over again.
        let secret = Secret::new("**y");
        let blanked = secret.redact_any_length("***yy");
        assert!(!blanked.contains("**y"), "{blanked}");
        let secret = Secret::new("abc");
        assert_eq!(secret.redact_any_length("x abc y"), "x *** y");
    }

    #[test]
    fn a_secret_the_blank_holds_blanks_the_text_whole_without_growing_it() {
        // Each pass over `*` would make three of it, and the percent-decodings thrice that
        // again: a few bytes from a token endpoint grew past gigabytes. Whole text blanked.
        for secret in ["*", "**"] {
            let secret = Secret::new(secret);
            for text in ["+****", "error %25* x", "a %2A b", "x ** y"] {
                assert_eq!(secret.redact_any_length(text), "***", "{text}");
            }
            assert_eq!(secret.redact_any_length("no star + here"), "no star + here");
        }
        // A three-byte one is as long as its blank: blanked as any other.
        assert_eq!(Secret::new("***").redact_any_length("a *** b"), "a *** b");
    }

    #[test]
    fn a_token_repeated_percent_encoded_is_blanked_in_text_bodies_and_cut_bodies() {
        // An opaque token with `+`, `/` and `=` reads differently in a URL or a form an
        // answer quotes: `%2B`, `%2F`, `%3D` (either case).
        let token = Secret::new("EwB0A8l6+abc/def==xyzxyz");
        let quoted = "rejected https://proxy.test/?access_token=EwB0A8l6%2Babc%2fdef%3D%3Dxyzxyz.";
        assert_eq!(
            token.redact(quoted),
            "rejected https://proxy.test/?access_token=***."
        );
        let body = format!(r#"{{"error":{{"code":"BadRequest","message":"{quoted}"}}}}"#);
        let blanked = token.redact_body(Bytes::from(body));
        let blanked = String::from_utf8(blanked.to_vec()).unwrap();
        assert!(blanked.contains("access_token=***."), "{blanked}");
        // Cut inside the encoded token, or inside one of its escapes.
        for end in ["EwB0A8l6%2Babc%2", "EwB0A8l6%2Babc%", "EwB0A8l6%2Babc%2Fd"] {
            let cut = redact_cut(&[&token], Bytes::from(format!("token={end}")));
            assert_eq!(&cut[..], b"token=***", "{end}");
        }
        // Percent-encoded and then JSON-escaped (a URL quoted by a writer that escapes `/`,
        // or .NET's `\u002B` beside a `%2F`, even `%` as `\u0025`), or JSON-escaped and then
        // percent-encoded (JSON carried in a URL), whole or cut off inside.
        for quoted in [
            r"EwB0A8l6%2Babc\/def%3D%3Dxyzxyz",
            r"EwB0A8l6\u002Babc%2Fdef%3D%3Dxyzxyz",
            r"EwB0A8l6\u00252Babc\u00252Fdef\u00253D\u00253Dxyzxyz",
            r"EwB0A8l6%5Cu002Babc%5C%2Fdef%3D%3Dxyzxyz",
        ] {
            let body = format!(r#"{{"error":{{"message":"?t={quoted}."}}}}"#);
            let blanked = token.redact_body(Bytes::from(body));
            assert_eq!(
                &blanked[..],
                br#"{"error":{"message":"?t=***."}}"#,
                "{quoted}"
            );
            let cut = &quoted[..quoted.len() - 9];
            let blanked = redact_cut(&[&token], Bytes::from(format!("?t={cut}")));
            assert_eq!(&blanked[..], b"?t=***", "{cut}");
        }
        // Percent-encoded twice (a URL inside a URL), in text and in a body; and a client
        // secret as a form inside a URL writes it (`~` as `%7E`, then `%257E`).
        let twice = "https%3A%2F%2Fx%3Ft%3DEwB0A8l6%252Babc%252Fdef%253D%253Dxyzxyz%26n%3D1";
        assert_eq!(token.redact(twice), "https%3A%2F%2Fx%3Ft%3D***%26n%3D1");
        let body = format!(r#"{{"error":{{"message":"see {twice}"}}}}"#);
        let blanked = token.redact_body(Bytes::from(body));
        assert_eq!(
            &blanked[..],
            br#"{"error":{"message":"see https%3A%2F%2Fx%3Ft%3D***%26n%3D1"}}"#
        );
        let secret = Secret::new("q8x~Canary.Secret_Value+0123");
        let form = "client_secret%3Dq8x%257ECanary%252ESecret%255FValue%252B0123%26x";
        assert_eq!(secret.redact_any_length(form), "client_secret%3D***%26x");
        // Text with nothing encoded in it is handed back as it came.
        assert!(matches!(
            token.redact("a 100% plain + text"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_cut_body_blanks_from_the_earliest_beginning_of_the_secret() {
        // The body was cut inside the secret, written with an escape: as written, its tail
        // `abc` begins the secret too, but the decoded text begins it earlier, and all of
        // that earlier start is blanked.
        let secret = Secret::new("abcdefgh+abcd");
        let cut = redact_cut(
            &[&secret],
            Bytes::from_static(br#"{"m":"abcdefgh\u002Babc"#),
        );
        assert_eq!(&cut[..], br#"{"m":"***"#);
    }

    #[test]
    fn a_lone_high_surrogate_escape_does_not_swallow_the_next_character() {
        // Only a low surrogate completes the pair: `\u0041` after `\ud83d` is an `A` of its own.
        assert_eq!(
            Decoded::json(br"\ud83d\u0041").bytes,
            "\u{FFFD}A".as_bytes()
        );
        let secret = Secret::new("A-secret-token");
        let body = Bytes::from_static(br#"{"m":"\ud83d\u0041-secret-token"}"#);
        let blanked = secret.redact_body(body);
        assert!(!blanked.windows(6).any(|w| w == b"secret"), "{blanked:?}");
    }

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
        // Blanking does not make the secret anew around its `***` (a secret with a `*`).
        let starred = Secret::new("x***yyyy");
        assert_eq!(starred.redact("xx***yyyyyyyy"), "***");
        let body = Bytes::from_static(b"xx***yyyyyyyy");
        assert_eq!(&starred.redact_bytes(body.clone())[..], b"***");
        assert_eq!(&starred.redact_body(body)[..], b"***");
        let escaped = Bytes::from_static(br#"xx**\u002Ayyyyyyyy"#);
        assert!(!starred
            .redact_body(escaped)
            .windows(8)
            .any(|w| w == b"x***yyyy"));
        assert_eq!(blanked_text("xx***yyyyyyyy", "x***yyyy"), "***");
        // Rebuilt round after round: gone over at most `ROUNDS` times, then blanked whole,
        // rather than once for each byte (quadratic; recursive, it overflowed the stack).
        let rebuilt = Secret::new("*cdefghi");
        let k = 20_000;
        let raw = Bytes::from(format!("{}{}", "*".repeat(k), "cdefghi".repeat(k)));
        let escaped = Bytes::from(format!(
            "{}{}",
            "\\u002a".repeat(k),
            "\\u0063defghi".repeat(k)
        ));
        for body in [
            rebuilt.redact_bytes(raw.clone()),
            rebuilt.redact_body(raw),
            rebuilt.redact_body(escaped),
        ] {
            assert!(!Decoded::json(&body)
                .bytes
                .windows(8)
                .any(|w| w == b"*cdefghi"));
        }
        let text = format!("{}{}", "*".repeat(k), "cdefghi".repeat(k));
        assert_eq!(rebuilt.redact(&text), "***");
        assert_eq!(blanked_text(&text, "*cdefghi"), "***");
        let again = blanked_text(&format!("xxxx***{}", "y".repeat(16)), "x***yyyy");
        assert!(!again.contains("x***yyyy"), "{again}");
        // Blanked whole only when a secret is still there after the last round: each pass
        // here makes the secret anew once, and the fifth finds none.
        let cleared = format!("{}***{} (AADSTS7000215)", "x".repeat(4), "y".repeat(16));
        let cleared = blanked_text(&cleared, "x***yyyy");
        assert!(cleared.ends_with("(AADSTS7000215)"), "{cleared}");
        assert!(!cleared.contains("x***yyyy"), "{cleared}");
        // A `\u` escape is four hex digits, no sign.
        let a8 = Secret::new("AAAAAAAA");
        let signed = Bytes::from_static(br#"\u+041\u+041\u+041\u+041\u+041\u+041\u+041\u+041"#);
        assert_eq!(a8.redact_body(signed.clone()), signed);
        // Overlapping occurrences leave nothing of the secret behind.
        let a8 = Secret::new("aaaaaaaa");
        let body = Bytes::from_static(b"xaaaaaaaaay");
        assert_eq!(&a8.redact_bytes(body)[..], b"x***ay");
        // Written with JSON's escapes, it is found in the decoded text and blanked where it
        // stands.
        let opaque = Secret::new("EwB0A8l6+abc/def==");
        let echo = br#"{"error":{"message":"Bearer EwB0A8l6\u002Babc\/def=="}}"#;
        let redacted = opaque.redact_body(Bytes::from_static(echo));
        let value: serde_json::Value = serde_json::from_slice(&redacted).unwrap();
        assert_eq!(value["error"]["message"], "Bearer ***");
        // Not JSON, or no escape in it: only the bytes as they are.
        let text = Bytes::from_static(b"Bearer EwB0A8l6+abc/def== \\");
        assert_eq!(&opaque.redact_body(text)[..], b"Bearer *** \\");
        // So in a body that is not JSON (trailing bytes, cut short, nested past serde_json's
        // limit), the rest of it as received.
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
        let kept = br#"{"b":"\u0041\/","m":"Bearer EwB0A8l6\u002Babc\/def==\/x"}]"#;
        assert_eq!(
            &opaque.redact_body(Bytes::from_static(kept))[..],
            br#"{"b":"\u0041\/","m":"Bearer ***\/x"}]"#
        );
        // Cut off inside the secret, as written or escaped (an escape itself cut short too):
        // its beginning is blanked, and nothing else.
        for (body, kept) in [
            ("{\"m\":\"Bearer EwB0A8l6+abc/def=", "{\"m\":\"Bearer ***"),
            (
                r#"{"m":"Bearer EwB0A8l6\u002Babc\/d"#,
                r#"{"m":"Bearer ***"#,
            ),
            (r#"{"m":"Bearer EwB0A8l6\u00"#, r#"{"m":"Bearer ***"#),
            (r#"{"m":"Bearer EwB0A8l6\"#, r#"{"m":"Bearer ***"#),
            (r#"{"m":"Bearer E"#, r#"{"m":"Bearer ***"#),
            (
                r#"{"m":"Bearer EwB0A8l6+abc/def=="}"#,
                r#"{"m":"Bearer ***"}"#,
            ),
            (r#"{"m":"Bearer EwX"#, r#"{"m":"Bearer EwX"#),
        ] {
            let cut = redact_cut(&[&opaque], Bytes::from(body));
            assert_eq!(std::str::from_utf8(&cut).unwrap(), kept, "{body}");
        }
        // Cut inside a character written as a surrogate pair: its first half, alone, begins
        // nothing, so the secret's beginning before it is what is blanked.
        let astral = Secret::new("abcdefgh\u{1F600}xyz");
        for body in [
            r#"{"m":"abcdefgh\ud83d\ude0"#,
            r#"{"m":"abcdefgh\ud83d\"#,
            r#"{"m":"abcdefgh\ud83d"#,
            r#"{"m":"abcdefgh\"#,
        ] {
            let cut = redact_cut(&[&astral], Bytes::from(body));
            assert_eq!(std::str::from_utf8(&cut).unwrap(), r#"{"m":"***"#, "{body}");
        }
        // A secret with a backslash of its own, cut off as written.
        let slashed = Secret::new(r"x\/yzwvut");
        let cut = redact_cut(&[&slashed], Bytes::from_static(br#"{"m":"x\/yzw"#));
        assert_eq!(&cut[..], br#"{"m":"***"#);
        // ... and left as received when it does not, escapes and all.
        let other = Bytes::from_static(br#"{"a":"\u002B\/ \ud83d\ude00 \uZZZZ"} trailing"#);
        assert_eq!(opaque.redact_body(other.clone()), other);
        let decoded = Decoded::json(br#"a\u002B\/\"\\ \ud83d\ude00 \ud83d \uZZZZ \q\"#);
        assert_eq!(
            decoded.bytes,
            "a+/\"\\ \u{1F600} \u{FFFD} \\uZZZZ \\q\\".as_bytes()
        );
        // Offsets map back to where each character stands in the text.
        assert_eq!((decoded.raw(0), decoded.raw(1), decoded.raw(2)), (0, 1, 7));
        assert_eq!(
            (decoded.raw(5), decoded.raw(6), decoded.raw(10)),
            (13, 14, 26)
        );
        // Percent-encoding: either case, `+` as a space when asked; a `%` without two hex
        // digits (`%+f`: a sign, which `from_str_radix` would take) stays a `%`.
        let decoded = Decoded::percent(b"a%2b%2F+%C3%BC %zz %+f %4", true);
        assert_eq!(decoded.bytes, "a+/ \u{fc} %zz % f %4".as_bytes());
        assert_eq!((decoded.raw(1), decoded.raw(2), decoded.raw(3)), (1, 4, 7));
        assert_eq!(
            (decoded.raw(4), decoded.raw(6), decoded.raw(7)),
            (8, 14, 15)
        );
        assert_eq!(Decoded::percent(b"a+b", false).bytes, b"a+b");
        assert_eq!(
            blanked_text(
                "k=s%C3%BCr+e%2cxy k=s\u{fc}r e,xy k=s%c3%bcr%20e%2Cxy.",
                "s\u{fc}r e,xy"
            ),
            "k=*** k=*** k=***."
        );
        assert_eq!(blanked_text("ab+cdefg ab%2Bcdefg", "ab+cdefg"), "*** ***");
        assert_eq!(blanked_text("x abcdef%2", "abcdef%2"), "x ***");
        // Too short to look for: the text as it came.
        let text = "A transient error has occurred. Timestamp: 2026";
        assert_eq!(blanked_text(text, "s"), text);
        assert_eq!(blanked_text(text, ""), text);
        // A secret of a few characters is not looked for: it would blank ordinary words.
        assert_eq!(Secret::new("t").redact("the text"), "the text");
        assert_eq!(Secret::new("").redact("text"), "text");
    }
}
