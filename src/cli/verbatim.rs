//! A service's JSON, laid out as the rest of the command's output but otherwise as sent.
//!
//! Reading it into a `serde_json::Value` to print it would round what an `f64` cannot hold
//! (`12345678901234567890123`, `1.00000000000000000001`, `-0`) and refuse what overflows one
//! (`1e400`): this copies every string and number as written and changes only the whitespace
//! between them.

/// `text`, a JSON object, indented as serde_json's pretty printer indents a value `level` deep
/// (two spaces a level, `"key": value`, `{}` and `[]` when empty). `None` when `text` is not
/// one JSON object in UTF-8.
pub(super) fn object(text: &[u8], level: usize) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut depth = level;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                let end = string_end(bytes, at)?;
                out.push_str(&text[at..=end]);
                at = end + 1;
            }
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { '}' } else { ']' };
                let next = at + 1 + bytes[at + 1..].iter().position(|b| !is_blank(*b))?;
                out.push(open as char);
                if bytes[next] == close as u8 {
                    out.push(close);
                    at = next + 1;
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                    at += 1;
                }
            }
            close @ (b'}' | b']') => {
                depth = depth.checked_sub(1)?;
                newline(&mut out, depth);
                out.push(close as char);
                at += 1;
            }
            b',' => {
                out.push(',');
                newline(&mut out, depth);
                at += 1;
            }
            b':' => {
                out.push_str(": ");
                at += 1;
            }
            blank if is_blank(blank) => at += 1,
            // A number, `true`, `false` or `null`: ASCII, copied as written.
            other => {
                out.push(other as char);
                at += 1;
            }
        }
    }
    Some(out)
}

/// JSON's whitespace.
fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// The index of the quote that ends the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        match *bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn lays_out_as_serde_json_does_and_keeps_numbers_and_strings_as_written() {
        // Laid out the same as serde_json's pretty printer, for values it keeps exactly.
        let value = json!({
            "id": "m1", "empty": {}, "none": [], "list": [1, {"a": null}, [true, false]],
            "text": "a \"quoted\" \\ {not: structure}, [or this] \u{e9}\u{1F600}",
        });
        let compact = serde_json::to_string(&value).unwrap();
        assert_eq!(
            object(compact.as_bytes(), 0).unwrap(),
            serde_json::to_string_pretty(&value).unwrap()
        );
        // Whitespace as sent is replaced; numbers stay as written.
        let sent = b" {\"big\" :\t12345678901234567890123 ,\r\n \"p\":1.00000000000000000001, \"z\":-0,\"e\":1e400,\"u\":\"\\u00e9\"} ";
        assert_eq!(
            object(sent, 1).unwrap(),
            "{\n    \"big\": 12345678901234567890123,\n    \"p\": 1.00000000000000000001,\n    \
             \"z\": -0,\n    \"e\": 1e400,\n    \"u\": \"\\u00e9\"\n  }"
        );
        // What is laid out reads back as the same document.
        let back: Value = serde_json::from_str(&object(compact.as_bytes(), 3).unwrap()).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn only_one_json_object_is_laid_out() {
        for not_one in [
            &b"[1, 2]"[..],
            b"\"text\"",
            b"{\"a\": 1} {\"b\": 2}",
            b"{\"a\": 1",
            b"{\"a\": \"\xff\"}",
            b"",
        ] {
            assert_eq!(
                object(not_one, 0),
                None,
                "{}",
                String::from_utf8_lossy(not_one)
            );
        }
    }
}
