//! The HDF5 filter pipeline as an ordered list of codecs (encode order), with the HDF5 filter id
//! and client data kept so that no information is lost, and the numcodecs spelling for zarr v2.

use serde::{Deserialize, Serialize};

/// One codec of a pipeline, in encode order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub enum Codec {
    Shuffle {
        element_size: usize,
    },
    Deflate {
        level: u32,
    },
    Fletcher32,
    /// Client data as libhdf5 stores it after `set_local`: mask, pixels per block, bits per
    /// pixel, pixels per scanline.
    Szip {
        options_mask: u32,
        pixels_per_block: u32,
        bits_per_pixel: u32,
        pixels_per_scanline: u32,
    },
    Lzf,
    Zstd {
        level: i32,
    },
    Blosc {
        cname: String,
        clevel: u32,
        shuffle: u32,
        blocksize: u32,
        typesize: u32,
    },
    NBit,
    ScaleOffset {
        params: Vec<u32>,
    },
    /// Any other filter id, with its name (if the file gives one) and client data.
    Unknown {
        id: u16,
        name: String,
        params: Vec<u32>,
    },
}

/// HDF5 registered filter ids (H5Zpublic.h and the HDF Group filter registry).
pub mod filter_id {
    pub const DEFLATE: u16 = 1;
    pub const SHUFFLE: u16 = 2;
    pub const FLETCHER32: u16 = 3;
    pub const SZIP: u16 = 4;
    pub const NBIT: u16 = 5;
    pub const SCALEOFFSET: u16 = 6;
    pub const LZF: u16 = 32000;
    pub const BLOSC: u16 = 32001;
    pub const ZSTD: u16 = 32015;
    pub const BZIP2: u16 = 307;
    pub const LZ4: u16 = 32004;
    pub const BITSHUFFLE: u16 = 32008;
    pub const BLOSC2: u16 = 32026;
}

impl Codec {
    /// Builds a codec from an HDF5 filter id and client data.
    pub fn from_hdf5(id: u16, name: &str, params: &[u32], element_size: usize) -> Codec {
        use filter_id::*;
        match id {
            DEFLATE => Codec::Deflate {
                level: params.first().copied().unwrap_or(0),
            },
            SHUFFLE => Codec::Shuffle {
                element_size: params.first().map_or(element_size, |v| *v as usize),
            },
            FLETCHER32 => Codec::Fletcher32,
            SZIP => Codec::Szip {
                options_mask: params.first().copied().unwrap_or(0),
                pixels_per_block: params.get(1).copied().unwrap_or(0),
                bits_per_pixel: params.get(2).copied().unwrap_or(0),
                pixels_per_scanline: params.get(3).copied().unwrap_or(0),
            },
            NBIT => Codec::NBit,
            SCALEOFFSET => Codec::ScaleOffset {
                params: params.to_vec(),
            },
            LZF => Codec::Lzf,
            ZSTD => Codec::Zstd {
                level: params.first().map_or(0, |v| *v as i32),
            },
            BLOSC => {
                let cname = match params.get(6).copied().unwrap_or(0) {
                    0 => "blosclz",
                    1 => "lz4",
                    2 => "lz4hc",
                    3 => "snappy",
                    4 => "zlib",
                    5 => "zstd",
                    _ => "unknown",
                };
                Codec::Blosc {
                    cname: cname.into(),
                    clevel: params.get(4).copied().unwrap_or(5),
                    shuffle: params.get(5).copied().unwrap_or(1),
                    blocksize: params.get(3).copied().unwrap_or(0),
                    typesize: params.get(2).copied().unwrap_or(element_size as u32),
                }
            }
            _ => Codec::Unknown {
                id,
                name: name.to_string(),
                params: params.to_vec(),
            },
        }
    }

    /// The HDF5 filter id of this codec.
    pub fn hdf5_id(&self) -> u16 {
        use filter_id::*;
        match self {
            Codec::Shuffle { .. } => SHUFFLE,
            Codec::Deflate { .. } => DEFLATE,
            Codec::Fletcher32 => FLETCHER32,
            Codec::Szip { .. } => SZIP,
            Codec::Lzf => LZF,
            Codec::Zstd { .. } => ZSTD,
            Codec::Blosc { .. } => BLOSC,
            Codec::NBit => NBIT,
            Codec::ScaleOffset { .. } => SCALEOFFSET,
            Codec::Unknown { id, .. } => *id,
        }
    }

    /// Short name for listings and the inventory (`shuffle`, `deflate(4)`, ...).
    pub fn label(&self) -> String {
        match self {
            Codec::Shuffle { element_size } => format!("shuffle({element_size})"),
            Codec::Deflate { level } => format!("deflate({level})"),
            Codec::Fletcher32 => "fletcher32".into(),
            Codec::Szip { .. } => "szip".into(),
            Codec::Lzf => "lzf".into(),
            Codec::Zstd { level } => format!("zstd({level})"),
            Codec::Blosc { cname, clevel, .. } => format!("blosc({cname},{clevel})"),
            Codec::NBit => "nbit".into(),
            Codec::ScaleOffset { .. } => "scaleoffset".into(),
            Codec::Unknown { id, name, .. } if name.is_empty() => format!("filter{id}"),
            Codec::Unknown { id, name, .. } => format!("{name}({id})"),
        }
    }

    /// The registered short name of this filter (by HDF5 id, never the file's own name string,
    /// which may be long or carry a URL), and the reader-side package that decodes it, if any.
    pub fn registered(&self) -> (&'static str, &'static str) {
        match self.hdf5_id() {
            1 => ("deflate", "numcodecs (zlib)"),
            2 => ("shuffle", "numcodecs (shuffle)"),
            3 => ("fletcher32", "numcodecs (fletcher32)"),
            4 => ("szip", "imagecodecs (imagecodecs_szip)"),
            5 => ("nbit", "no faithful decoder outside libhdf5"),
            6 => ("scaleoffset", "no faithful decoder outside libhdf5"),
            307 => ("bzip2", "numcodecs (bz2)"),
            32000 => ("lzf", "imagecodecs (imagecodecs_lzf)"),
            32001 => ("blosc", "numcodecs (blosc)"),
            32004 => (
                "lz4",
                "imagecodecs (imagecodecs_lz4h5; numcodecs' lz4 reads another framing)",
            ),
            32008 => (
                "bitshuffle",
                "no zarr codec decodes HDF5's bitshuffle chunks faithfully (only libhdf5 with hdf5plugin)",
            ),
            32013 => ("zfp", "imagecodecs (zfp)"),
            32015 => ("zstd", "numcodecs (zstd)"),
            32017 => ("sz", "hdf5plugin (sz)"),
            32026 => (
                "blosc2",
                "no zarr codec decodes HDF5's blosc2 frames (only libhdf5 with hdf5plugin)",
            ),
            _ => ("unregistered filter", "no known reader"),
        }
    }

    /// The numcodecs configuration for zarr v2 as compact JSON text (keys sorted, as
    /// `serde_json` writes an object), or `None` if no standard numcodecs codec reads it.
    /// Writers reference `length - 4` bytes instead when Fletcher32 is the last filter. Written
    /// straight into text: a granule's arrays carry hundreds of codecs, and building each as a
    /// JSON value first cost an allocation per key.
    pub fn numcodecs_json(&self) -> Option<String> {
        let text = match self {
            Codec::Shuffle { element_size } => {
                format!("{{\"elementsize\":{element_size},\"id\":\"shuffle\"}}")
            }
            Codec::Deflate { level } => format!("{{\"id\":\"zlib\",\"level\":{level}}}"),
            Codec::Fletcher32 => "{\"id\":\"fletcher32\"}".into(),
            Codec::Zstd { level } => {
                format!("{{\"checksum\":false,\"id\":\"zstd\",\"level\":{level}}}")
            }
            Codec::Blosc {
                cname,
                clevel,
                shuffle,
                blocksize,
                ..
            } => {
                let cname = serde_json::Value::from(cname.as_str());
                format!(
                    "{{\"blocksize\":{blocksize},\"clevel\":{clevel},\"cname\":{cname},\"id\":\"blosc\",\"shuffle\":{shuffle}}}"
                )
            }
            // HDF5's szip filter: a 4-byte size header then the libaec (szlib) stream, which
            // imagecodecs' szip codec reads with `header`. Without the local parameters (a
            // file that never ran set_local) there is nothing to decode with.
            Codec::Szip {
                options_mask,
                pixels_per_block,
                bits_per_pixel,
                pixels_per_scanline,
            } if *bits_per_pixel > 0 && *pixels_per_scanline > 0 => format!(
                "{{\"bits_per_pixel\":{bits_per_pixel},\"header\":true,\"id\":\"imagecodecs_szip\",\"options_mask\":{options_mask},\"pixels_per_block\":{pixels_per_block},\"pixels_per_scanline\":{pixels_per_scanline}}}"
            ),
            // HDF5's lzf filter stores the bare stream, without imagecodecs' size header.
            Codec::Lzf => "{\"header\":false,\"id\":\"imagecodecs_lzf\"}".into(),
            Codec::Unknown { id, params, .. } => match *id {
                // A plain bz2 stream; the level only matters to encoders.
                filter_id::BZIP2 => format!(
                    "{{\"id\":\"bz2\",\"level\":{}}}",
                    params.first().copied().unwrap_or(9).clamp(1, 9)
                ),
                // HDF5's lz4 framing (total size, block size, sized blocks): imagecodecs'
                // lz4h5, not numcodecs' lz4.
                filter_id::LZ4 => "{\"id\":\"imagecodecs_lz4h5\"}".into(),
                // Not mapped, checked against hdf5plugin: bitshuffle (imagecodecs' codec takes
                // the item size from the buffer zarr hands it, 1, and its lz4/zstd modes add an
                // HDF5-only framing) and blosc2 (the filter stores frames imagecodecs' blosc2
                // codec rejects).
                _ => return None,
            },
            _ => return None,
        };
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numcodecs(c: &Codec) -> Option<serde_json::Value> {
        c.numcodecs_json()
            .map(|t| serde_json::from_str(&t).expect("numcodecs JSON parses"))
    }

    /// The text is byte for byte what serde_json writes for the same object (sorted keys,
    /// compact): the reference outputs do not change with the way it is built.
    #[test]
    fn the_text_is_what_serde_json_writes() {
        use serde_json::json;
        let cases = [
            (
                Codec::Shuffle { element_size: 8 },
                json!({"id": "shuffle", "elementsize": 8}),
            ),
            (
                Codec::Deflate { level: 4 },
                json!({"id": "zlib", "level": 4}),
            ),
            (Codec::Fletcher32, json!({"id": "fletcher32"})),
            (
                Codec::Zstd { level: -3 },
                json!({"id": "zstd", "level": -3, "checksum": false}),
            ),
            (
                Codec::Blosc {
                    cname: "lz\"4".into(),
                    clevel: 5,
                    shuffle: 1,
                    blocksize: 0,
                    typesize: 4,
                },
                json!({"id": "blosc", "cname": "lz\"4", "clevel": 5, "shuffle": 1, "blocksize": 0}),
            ),
            (
                Codec::Szip {
                    options_mask: 141,
                    pixels_per_block: 32,
                    bits_per_pixel: 16,
                    pixels_per_scanline: 256,
                },
                json!({"id": "imagecodecs_szip", "options_mask": 141, "pixels_per_block": 32,
                       "bits_per_pixel": 16, "pixels_per_scanline": 256, "header": true}),
            ),
            (
                Codec::Lzf,
                json!({"id": "imagecodecs_lzf", "header": false}),
            ),
            (
                Codec::from_hdf5(307, "bzip2", &[12], 4),
                json!({"id": "bz2", "level": 9}),
            ),
            (
                Codec::from_hdf5(32004, "lz4", &[0], 4),
                json!({"id": "imagecodecs_lz4h5"}),
            ),
        ];
        for (codec, value) in cases {
            assert_eq!(codec.numcodecs_json(), Some(value.to_string()), "{codec:?}");
        }
        let unset_szip = Codec::Szip {
            options_mask: 0,
            pixels_per_block: 0,
            bits_per_pixel: 0,
            pixels_per_scanline: 0,
        };
        assert_eq!(unset_szip.numcodecs_json(), None);
    }

    #[test]
    fn deflate_is_zlib() {
        let c = Codec::from_hdf5(1, "deflate", &[4], 4);
        assert_eq!(
            numcodecs(&c),
            Some(serde_json::json!({"id": "zlib", "level": 4}))
        );
    }

    #[test]
    fn filters_are_named_by_id_not_by_the_files_string() {
        let c = Codec::from_hdf5(
            32004,
            "HDF5 lz4 filter; see http://www.hdfgroup.org",
            &[0],
            4,
        );
        assert_eq!(c.registered().0, "lz4");
        assert!(c.registered().1.contains("lz4h5"));
    }

    #[test]
    fn unknown_ids_are_kept() {
        let c = Codec::from_hdf5(32013, "zfp", &[0], 4);
        assert_eq!(c.hdf5_id(), 32013);
        assert!(c.numcodecs_json().is_none());
    }

    #[test]
    fn registered_filters_map_to_the_codecs_that_decode_their_framing() {
        let id = |c: Codec| numcodecs(&c).map(|j| j["id"].as_str().unwrap_or("").to_string());
        assert_eq!(
            id(Codec::from_hdf5(32004, "lz4", &[0], 4)).as_deref(),
            Some("imagecodecs_lz4h5")
        );
        assert_eq!(
            id(Codec::from_hdf5(307, "bzip2", &[9], 4)).as_deref(),
            Some("bz2")
        );
        assert_eq!(
            numcodecs(&Codec::Lzf),
            Some(serde_json::json!({"id": "imagecodecs_lzf", "header": false}))
        );
        assert_eq!(
            id(Codec::from_hdf5(32008, "bitshuffle", &[0, 4, 4, 0, 0], 4)),
            None
        );
        assert_eq!(id(Codec::from_hdf5(32026, "blosc2", &[], 4)), None);
    }
}
