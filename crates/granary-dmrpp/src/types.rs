//! DAP4 atomic types (docs/dmrpp-reference.md section 4) as granary dtypes, and typed parsing
//! of attribute and fill-value text.

use granary_core::{AttrValue, ByteOrder, DType};

/// The dtype of a DAP4 variable element, `None` for types without a fixed element layout
/// (`String`, `URL`, `Opaque`, `Structure`, `Sequence`), which callers handle themselves.
pub fn dtype(dap: &str, order: ByteOrder) -> Option<DType> {
    let int = |size: usize, signed: bool| DType::Int {
        size,
        signed,
        order,
    };
    Some(match dap {
        "Byte" | "UInt8" | "Char" => int(1, false),
        "Int8" => int(1, true),
        "Int16" => int(2, true),
        "UInt16" => int(2, false),
        "Int32" => int(4, true),
        "UInt32" => int(4, false),
        "Int64" => int(8, true),
        "UInt64" => int(8, false),
        "Float32" => DType::Float { size: 4, order },
        "Float64" => DType::Float { size: 8, order },
        _ => return None,
    })
}

/// Whether the element name is a DAP4 variable type.
pub fn is_variable(name: &str) -> bool {
    matches!(
        name,
        "Byte"
            | "Char"
            | "Int8"
            | "UInt8"
            | "Int16"
            | "UInt16"
            | "Int32"
            | "UInt32"
            | "Int64"
            | "UInt64"
            | "Float32"
            | "Float64"
            | "String"
            | "URL"
            | "Opaque"
            | "Enum"
            | "Structure"
            | "Sequence"
    )
}

/// How the values of an `<Attribute type=...>` are read, decided once per attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    /// `Container`: child attributes, no values.
    Container,
    Unsigned,
    Signed,
    /// Narrowed to float32 precision, so that it equals what the HDF5 file holds.
    Float32,
    Float64,
    /// `String`, `URL`: libdap's octal escapes undone.
    Escaped,
    /// Any other type: the text as written.
    Text,
}

impl AttrKind {
    /// The kind of DAP attribute type `dap`.
    pub fn of(dap: &str) -> Self {
        match dap {
            "Container" => Self::Container,
            "Byte" | "UInt8" | "UInt16" | "UInt32" | "UInt64" | "Char" => Self::Unsigned,
            "Int8" | "Int16" | "Int32" | "Int64" => Self::Signed,
            "Float32" => Self::Float32,
            "Float64" => Self::Float64,
            "String" | "URL" => Self::Escaped,
            _ => Self::Text,
        }
    }

    /// Parses one value from its text as written (`NaN`, `-nan`, `inf`, ...), in place: the
    /// text is copied only when the value stays text (a number that does not parse keeps its
    /// text, untrimmed).
    pub fn value(self, text: &str) -> AttrValue {
        let t = text.trim();
        let parsed = match self {
            Self::Unsigned => t.parse::<u64>().ok().map(AttrValue::UInt),
            Self::Signed => t.parse::<i64>().ok().map(AttrValue::Int),
            Self::Float32 => float(t).map(|f| AttrValue::Float(f64::from(f as f32))),
            Self::Float64 => float(t).map(AttrValue::Float),
            Self::Escaped if text.contains('\\') => Some(AttrValue::Str(unescape_octal(text))),
            Self::Container | Self::Escaped | Self::Text => None,
        };
        parsed.unwrap_or_else(|| AttrValue::Str(text.to_string()))
    }
}

/// Undoes libdap's `escattr_xml`: bytes outside printable ASCII are written as a backslash and
/// three octal digits (`\013`, and UTF-8 text byte by byte: `\342\200\223` is an en dash).
/// The bytes are decoded as UTF-8, or as Latin-1 when they are not valid UTF-8. A backslash not
/// followed by three octal digits is kept.
pub fn unescape_octal(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_string();
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = |k: usize| b.get(i + k).is_some_and(|c| (b'0'..=b'7').contains(c));
        if b[i] == b'\\' && octal(1) && octal(2) && octal(3) {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&c| char::from(c)).collect(),
    }
}

/// A float as C++ streams and libdap print it (`nan`, `-nan`, `inf`, `9.96921e+36`), in any
/// letter case.
pub fn float(t: &str) -> Option<f64> {
    // Most values are numbers: a leading digit cannot start a word below.
    if t.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return t.parse::<f64>().ok();
    }
    let is = |word: &str| t.eq_ignore_ascii_case(word);
    if is("nan") || is("-nan") || is("+nan") {
        Some(f64::NAN)
    } else if is("inf") || is("+inf") || is("infinity") {
        Some(f64::INFINITY)
    } else if is("-inf") || is("-infinity") {
        Some(f64::NEG_INFINITY)
    } else {
        t.parse::<f64>().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_escapes_are_decoded() {
        assert_eq!(
            unescape_octal(r"fes \342\200\223 tide"),
            "fes \u{2013} tide"
        );
        assert_eq!(unescape_octal(r"a/\013"), "a/\u{b}");
        assert_eq!(unescape_octal(r"|\:;\9"), r"|\:;\9");
        assert_eq!(unescape_octal(r"\377"), "\u{ff}");
        assert_eq!(unescape_octal(r"\777x"), r"\777x");
    }

    #[test]
    fn libdap_floats() {
        assert!(float("-nan").unwrap().is_nan());
        assert_eq!(float("9.96921e+36"), Some(9.96921e36));
        assert_eq!(float("inf"), Some(f64::INFINITY));
    }

    #[test]
    fn float32_values_are_narrowed() {
        let v = AttrKind::of("Float32").value("0.1");
        assert_eq!(v, AttrValue::Float(f64::from(0.1f32)));
        assert_eq!(AttrKind::of("Float64").value("0.1"), AttrValue::Float(0.1));
    }

    #[test]
    fn values_parse_or_keep_their_text() {
        assert_eq!(
            AttrKind::of("String").value("a\\342\\200\\223b"),
            AttrValue::Str("a\u{2013}b".into())
        );
        assert_eq!(AttrKind::of("Int32").value(" 7 "), AttrValue::Int(7));
        assert_eq!(
            AttrKind::of("Int32").value(" x"),
            AttrValue::Str(" x".into())
        );
        assert_eq!(
            AttrKind::of("UInt16").value("-1"),
            AttrValue::Str("-1".into())
        );
        assert_eq!(
            AttrKind::of("OtherXML").value("a\\101"),
            AttrValue::Str("a\\101".into())
        );
        assert!(float("NaN").unwrap().is_nan());
        assert_eq!(float("-Infinity"), Some(f64::NEG_INFINITY));
    }
}
