//! `compressionType` and `deflateLevel` (docs/dmrpp-reference.md sections 3.1 and 7.2).
//! Versioned documents list filters in HDF5 pipeline (encode) order; unversioned ones cannot be
//! trusted and are normalised the way bes does: shuffle, deflate, fletcher32.

use granary_core::Codec;

/// The codec pipeline in encode order, and whether the order was inferred.
pub fn codecs(
    compression: &str,
    levels: &str,
    versioned: bool,
    element_size: usize,
) -> Result<(Vec<Codec>, bool), String> {
    let names: Vec<&str> = compression.split_whitespace().collect();
    let mut levels = levels
        .split_whitespace()
        .filter_map(|l| l.parse::<u32>().ok());
    for n in &names {
        if !matches!(*n, "deflate" | "shuffle" | "fletcher32") {
            return Err(format!("unknown compressionType entry {n:?}"));
        }
    }
    let ordered: Vec<&str> = if versioned {
        names.clone()
    } else {
        ["shuffle", "deflate", "fletcher32"]
            .iter()
            .flat_map(|f| names.iter().filter(move |n| *n == f).copied())
            .collect()
    };
    let out = ordered
        .iter()
        .map(|n| match *n {
            "shuffle" => Codec::Shuffle { element_size },
            "deflate" => Codec::Deflate {
                level: levels.next().unwrap_or(0),
            },
            _ => Codec::Fletcher32,
        })
        .collect();
    Ok((out, !versioned && ordered != names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_order_is_kept() {
        let (c, inferred) = codecs("fletcher32 shuffle deflate deflate", "4 1", true, 4).unwrap();
        assert!(!inferred);
        assert_eq!(
            c,
            vec![
                Codec::Fletcher32,
                Codec::Shuffle { element_size: 4 },
                Codec::Deflate { level: 4 },
                Codec::Deflate { level: 1 }
            ]
        );
    }

    #[test]
    fn unversioned_order_is_normalised() {
        let (c, inferred) = codecs("deflate shuffle", "", false, 2).unwrap();
        assert!(inferred);
        assert_eq!(
            c,
            vec![
                Codec::Shuffle { element_size: 2 },
                Codec::Deflate { level: 0 }
            ]
        );
    }

    #[test]
    fn unknown_filters_are_errors() {
        assert!(codecs("szip", "", true, 4).is_err());
    }
}
