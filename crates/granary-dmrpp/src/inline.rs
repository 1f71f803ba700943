//! Inline data encodings (docs/dmrpp-reference.md section 3.4): plain base64
//! (`dmrpp:compact`), zlib then base64 (`dmrpp:missingdata`, `vlsa` values with `s=`).

use std::io::Read;

use base64::Engine;

/// Decompressed inline data is bounded, against zip bombs.
const MAX_INLINE: u64 = 256 * 1024 * 1024;

pub(crate) fn base64(text: &str) -> Result<Vec<u8>, String> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| format!("bad base64: {e}"))
}

pub(crate) fn zlib_base64(text: &str) -> Result<Vec<u8>, String> {
    let raw = base64(text)?;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&raw[..])
        .take(MAX_INLINE)
        .read_to_end(&mut out)
        .map_err(|e| format!("bad zlib data: {e}"))?;
    Ok(out)
}

pub(crate) fn zlib_base64_text(text: &str) -> Result<String, String> {
    zlib_base64(text).map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(base64("AQID\n  BA==").unwrap(), vec![1, 2, 3, 4]);
        assert!(base64("###").is_err());
    }
}
