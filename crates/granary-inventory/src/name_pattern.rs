//! File-name patterns: a regex matched against each granule's file name, whose named capture
//! groups become text columns of the `granules` table. Product conventions are named presets
//! (`swot`), never a default of a general command: without a pattern there are no captures.

use regex::Regex;

use crate::InventoryError;

/// The presets, by name: (name, regex, what it captures).
pub const PRESETS: &[(&str, &str, &str)] = &[(
    "swot",
    r"^SWOT_L2_LR_SSH_(?P<product>[A-Za-z]+)_(?P<cycle>\d{3})_(?P<pass>\d{3})_(?P<start>\d{8}T\d{6})_(?P<end>\d{8}T\d{6})_(?:(?P<crid>[A-Z0-9]{4})_(?P<counter>\d{2}))?",
    "SWOT L2 LR SSH file names: product, cycle, pass, start, end, crid (processing version: PIC0, PGC0, ...), counter (product counter)",
)];

/// A compiled file-name pattern.
#[derive(Debug, Clone)]
pub struct NamePattern {
    regex: Regex,
}

impl NamePattern {
    /// A preset name (see [`PRESETS`]) or a regex.
    pub fn parse(text: &str) -> Result<Self, InventoryError> {
        let source = PRESETS
            .iter()
            .find(|(name, _, _)| *name == text)
            .map_or(text, |(_, re, _)| re);
        let regex = Regex::new(source).map_err(|e| InventoryError::Pattern {
            pattern: text.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self { regex })
    }

    /// The preset `name`'s pattern.
    pub fn preset(name: &str) -> Result<Self, InventoryError> {
        if !PRESETS.iter().any(|(n, _, _)| *n == name) {
            return Err(InventoryError::Pattern {
                pattern: name.to_string(),
                reason: format!(
                    "no such preset (presets: {})",
                    PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        Self::parse(name)
    }

    pub fn regex(&self) -> &Regex {
        &self.regex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_swot_preset_captures_cycle_and_pass() {
        let p = NamePattern::parse("swot").unwrap();
        let name = "SWOT_L2_LR_SSH_Expert_001_002_20230101T000000_20230101T010000_PIC0_01.nc";
        let c = p.regex().captures(name).unwrap();
        assert_eq!((&c["cycle"], &c["pass"]), ("001", "002"));
        assert_eq!((&c["crid"], &c["counter"]), ("PIC0", "01"));
    }

    #[test]
    fn other_text_is_a_regex_and_bad_regexes_are_errors() {
        assert!(NamePattern::parse(r"^(?P<day>\d{8})").is_ok());
        let e = NamePattern::parse("(unclosed").unwrap_err();
        assert!(e.to_string().contains("(unclosed"), "{e}");
        assert!(NamePattern::preset("nope").is_err());
    }
}
