//! JSON text for zarr metadata values. Metadata keys are written as JSON text inside JSON
//! strings (as kerchunk does, docs/kerchunk-reference.md section 1.9) so that non-finite attribute
//! values can be the bare tokens `NaN`/`Infinity`, which Python's json and zarr accept, while the
//! outer document stays strict JSON.

use std::fmt::Write;

use granary_core::AttrValue;

/// Writes an attribute value; one-element arrays become scalars (kerchunk's rule).
pub fn attr_value(out: &mut String, v: &AttrValue) {
    match v {
        AttrValue::Empty => out.push_str("\"\""),
        AttrValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AttrValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        AttrValue::UInt(u) => {
            let _ = write!(out, "{u}");
        }
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

/// A float with Python's tokens for non-finite values.
pub fn float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        out.push_str(&serde_json::Value::from(f).to_string());
    }
}

/// A JSON string literal.
pub fn string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        plain = i + 1;
        if escaped.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escaped);
        }
    }
    out.push_str(&s[plain..]);
    out.push('"');
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
    fn nan_is_a_bare_token() {
        let mut s = String::new();
        attr_value(
            &mut s,
            &AttrValue::Array(vec![AttrValue::Float(f64::NAN), AttrValue::Float(1.5)]),
        );
        assert_eq!(s, "[NaN,1.5]");
    }

    #[test]
    fn floats_round_trip() {
        let mut s = String::new();
        float(&mut s, f64::from(0.1f32));
        assert_eq!(s.parse::<f64>().unwrap(), f64::from(0.1f32));
    }
}
