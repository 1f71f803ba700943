//! JSON text for zarr metadata values. Metadata keys are written as JSON text inside JSON
//! strings (as kerchunk does, docs/kerchunk-reference.md section 1.9) so that non-finite attribute
//! values can be the bare tokens `NaN`/`Infinity`, which Python's json and zarr accept, while the
//! outer document stays strict JSON.

use granary_core::AttrValue;

/// Writes an attribute value; one-element arrays become scalars (kerchunk's rule).
pub fn attr_value(out: &mut String, v: &AttrValue) {
    match v {
        AttrValue::Empty => out.push_str("\"\""),
        AttrValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AttrValue::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        AttrValue::UInt(u) => out.push_str(itoa::Buffer::new().format(*u)),
        AttrValue::Float(f) => float(out, *f),
        AttrValue::Str(s) => string(out, s),
        AttrValue::Bytes(b) => string(out, &String::from_utf8_lossy(b)),
        AttrValue::Array(items) if items.len() == 1 => attr_value(out, &items[0]),
        AttrValue::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                attr_value(out, x);
            }
            out.push(']');
        }
        AttrValue::Compound(fields) => {
            out.push('{');
            for (i, (k, x)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, k);
                out.push(':');
                attr_value(out, x);
            }
            out.push('}');
        }
    }
}

/// A float with Python's tokens for non-finite values; finite values in their shortest
/// round-trip form, written by the formatter serde_json uses (the same text, without building a
/// `serde_json::Value` and a `String` per number).
pub fn float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        out.push_str(zmij::Buffer::new().format_finite(f));
    }
}

/// The escape of each byte in a JSON string: 0 none, `u` the `\u00XX` form, else the letter
/// after the backslash (serde_json's table: the same output byte for byte).
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// The bytes of `w` that need an escape (a quote, a backslash or a control byte), each marked
/// by its high bit. The lowest marked byte is exact; bytes above it may be marked falsely (a
/// borrow carried up), so only the lowest is used. Zero: no byte needs one.
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = has_zero(w ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control
}

/// A JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    escaped(out, s);
    out.push('"');
}

/// Where the next byte that needs an escape is, at or after `i`: 8 bytes tested at a time
/// (the lowest marked byte of a word is the next one), the last few one by one.
fn next_escape(bytes: &[u8], mut i: usize) -> Option<usize> {
    while let Some(word) = bytes.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let mask = escape_mask(u64::from_le_bytes(w));
        if mask != 0 {
            return Some(i + (mask.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let tail = bytes.get(i..)?;
    tail.iter()
        .position(|&b| ESCAPE[usize::from(b)] != 0)
        .map(|k| i + k)
}

/// The inside of a JSON string literal for `s`, without the quotes. Each byte's escape depends
/// on that byte alone, so the escape of a concatenation is the concatenation of the escapes
/// (the JSON writer relies on it to escape each metadata text once). Bytes that need no escape
/// are copied in runs between the bytes that do, each found by `next_escape` (metadata JSON
/// text has a quote every few bytes: one word test and one copy per quote).
pub fn escaped(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len());
    let bytes = s.as_bytes();
    let mut plain = 0;
    while let Some(at) = next_escape(bytes, plain) {
        let Some(&b) = bytes.get(at) else {
            break;
        };
        // Escaped bytes are ASCII, so `plain..at` lies on character boundaries.
        out.push_str(&s[plain..at]);
        plain = at + 1;
        let escape = ESCAPE[usize::from(b)];
        if escape == b'u' {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push('\\');
            out.push(char::from(escape));
        }
    }
    out.push_str(&s[plain..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        let cases = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "unicode é ✓ \u{1F600} \u{2028}",
            "\u{1}a\u{2}",
            "{\"long_name\":\"sea surface height\",\"units\":\"m\"}",
            "0123456789abcdef\"0123456\\789abcdef\u{1f}0123456789",
            "ééééééé\"ééé✓✓✓✓✓✓✓\u{0}",
            "\"\"\"\"\"\"\"\"\"\\\u{1}\u{1f} \u{20}!\u{0}\u{1}é\"",
            "{\"a\":\"b\",\"c\":[1,2],\"d\":\"\\u00e9\"}",
        ];
        for c in cases {
            let mut s = String::new();
            string(&mut s, c);
            assert_eq!(
                s,
                serde_json::Value::String(c.to_string()).to_string(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn every_byte_at_every_word_position_is_escaped_as_serde_json_does() {
        for b in 0u8..128 {
            for at in 0..19 {
                let mut text = vec![b'a'; 19];
                text[at] = b;
                let text = String::from_utf8(text).unwrap();
                let mut s = String::new();
                string(&mut s, &text);
                assert_eq!(s, serde_json::Value::String(text.clone()).to_string());
            }
        }
    }

    #[test]
    fn mixed_texts_are_escaped_as_serde_json_does() {
        // Pseudo-random texts over quotes, backslashes, control bytes, ASCII and multi-byte
        // characters: escapes close together, at word edges and in the tail.
        let alphabet = [
            '"', '\\', '\u{0}', '\u{1f}', '\n', ' ', 'a', '{', 'é', '✓', '\u{7f}',
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..64 {
            for _ in 0..20 {
                let text: String = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                let mut s = String::new();
                string(&mut s, &text);
                assert_eq!(s, serde_json::Value::String(text.clone()).to_string());
            }
        }
    }

    #[test]
    fn nan_is_a_bare_token() {
        let mut s = String::new();
        attr_value(
            &mut s,
            &AttrValue::Array(vec![AttrValue::Float(f64::NAN), AttrValue::Float(1.5)]),
        );
        assert_eq!(s, "[NaN,1.5]");
    }

    #[test]
    fn numbers_are_written_as_serde_json_does() {
        let floats = [
            0.0,
            -0.0,
            1.5,
            0.1,
            f64::from(0.1f32),
            1e-7,
            1e21,
            123456789.0,
            -2.5e-310,
            f64::MAX,
            f64::MIN_POSITIVE,
            9.969209968386869e36,
        ];
        for f in floats {
            let mut s = String::new();
            float(&mut s, f);
            assert_eq!(s, serde_json::Value::from(f).to_string(), "{f:e}");
        }
        for i in [0i64, -1, 42, i64::MIN, i64::MAX] {
            let mut s = String::new();
            attr_value(&mut s, &AttrValue::Int(i));
            assert_eq!(s, i.to_string());
        }
        let mut s = String::new();
        attr_value(&mut s, &AttrValue::UInt(u64::MAX));
        assert_eq!(s, u64::MAX.to_string());
    }

    #[test]
    fn the_escape_of_a_concatenation_is_the_concatenation_of_escapes() {
        let parts = ["{\"a\":", "\"x\\y\u{1}\"", "é✓", "}"];
        let mut whole = String::new();
        escaped(&mut whole, &parts.concat());
        let mut pieces = String::new();
        for p in parts {
            escaped(&mut pieces, p);
        }
        assert_eq!(whole, pieces);
    }

    #[test]
    fn floats_round_trip() {
        let mut s = String::new();
        float(&mut s, f64::from(0.1f32));
        assert_eq!(s.parse::<f64>().unwrap(), f64::from(0.1f32));
    }
}
