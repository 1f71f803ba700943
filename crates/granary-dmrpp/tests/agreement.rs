//! The DMR++ manifest and the HDF5 manifest of the same granule must agree on every array:
//! shape, dtype, chunk shape, codecs, fill value and chunk table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use granary_core::{ArrayData, AttrValue, Codec, GranuleManifest};
use granary_dmrpp::{DmrppOptions, HrefRule, parse};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

fn dmrpp(path: &Path) -> GranuleManifest {
    let opts = DmrppOptions {
        dmrpp_url: format!("file://{}", path.display()),
        ..Default::default()
    };
    parse(&std::fs::read(path).unwrap(), &opts).unwrap().0
}

fn hdf5(path: &Path) -> GranuleManifest {
    granary_hdf5::scan_bytes("file:///x", std::fs::read(path).unwrap().into()).unwrap()
}

fn same_fill(a: Option<&AttrValue>, b: Option<&AttrValue>) -> bool {
    match (a.and_then(AttrValue::as_f64), b.and_then(AttrValue::as_f64)) {
        (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
        (None, None) => a.and_then(AttrValue::as_str) == b.and_then(AttrValue::as_str),
        _ => false,
    }
}

fn codec_kinds(c: &[Codec]) -> Vec<String> {
    c.iter()
        .map(|c| c.label().split('(').next().unwrap_or_default().to_string())
        .collect()
}

/// Differences between the DMR++ manifest `d` and the HDF5 manifest `h`.
pub fn differences(d: &GranuleManifest, h: &GranuleManifest) -> Vec<String> {
    let mut out = Vec::new();
    for ha in h.arrays() {
        let Some(da) = d.array(&ha.path) else {
            out.push(format!("{}: missing from the DMR++", ha.path));
            continue;
        };
        let p = &ha.path;
        if da.shape != ha.shape {
            out.push(format!("{p}: shape {:?} vs {:?}", da.shape, ha.shape));
        }
        if da.dtype.typestr() != ha.dtype.typestr() {
            out.push(format!(
                "{p}: dtype {:?} vs {:?}",
                da.dtype.typestr(),
                ha.dtype.typestr()
            ));
        }
        if matches!(ha.data, ArrayData::Chunks(_)) && matches!(da.data, ArrayData::Chunks(_)) {
            if da.chunk_shape != ha.chunk_shape {
                out.push(format!(
                    "{p}: chunk shape {:?} vs {:?}",
                    da.chunk_shape, ha.chunk_shape
                ));
            }
            if codec_kinds(&da.codecs) != codec_kinds(&ha.codecs) {
                out.push(format!("{p}: codecs {:?} vs {:?}", da.codecs, ha.codecs));
            }
            let dc: Vec<_> = da
                .chunks()
                .iter()
                .map(|c| (c.index.clone(), c.offset, c.size))
                .collect();
            let hc: Vec<_> = ha
                .chunks()
                .iter()
                .map(|c| (c.index.clone(), c.offset, c.size))
                .collect();
            if dc != hc {
                out.push(format!("{p}: chunks {:?} vs {:?}", dc.first(), hc.first()));
            }
        }
        if !same_fill(da.fill_value.as_ref(), ha.fill_value.as_ref()) {
            out.push(format!(
                "{p}: fill {:?} vs {:?}",
                da.fill_value, ha.fill_value
            ));
        }
    }
    for da in d.arrays() {
        if h.array(&da.path).is_none() {
            out.push(format!("{}: only in the DMR++", da.path));
        }
    }
    out
}

#[test]
fn swot_like_sidecars_agree_with_their_granules() {
    let dir = data().join("swot");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "dmrpp") {
            let nc = p.with_extension("");
            let d = dmrpp(&p);
            assert_eq!(
                d.url,
                format!("file://{}", nc.display()),
                "template href resolves next to the sidecar"
            );
            let diff = differences(&d, &hdf5(&nc));
            assert!(diff.is_empty(), "{}:\n{}", p.display(), diff.join("\n"));
            n += 1;
        }
    }
    assert!(n >= 10);
}

#[test]
fn both_real_swot_dmrpp_versions_give_the_same_arrays() {
    let dir = data().join("dmrpp-reference");
    let name = "SWOT_L2_LR_SSH_Expert_001_001_20140412T120000_20140412T125105_DG10_01.nc.dmrpp";
    let new = dmrpp(&dir.join(name));
    let old_path = dir.join(format!("{name}.old"));
    let mut opts = DmrppOptions {
        dmrpp_url: format!("file://{}", old_path.display()),
        ..Default::default()
    };
    // Known upstream limitation: the old builder describes the char variable polarization_karin
    // as a DAP String with compressed chunks and no string length, so its layout cannot be known.
    let err = parse(&std::fs::read(&old_path).unwrap(), &opts).unwrap_err();
    assert!(err.to_string().contains("polarization_karin"), "{err}");
    opts.skip_unsupported = true;
    let (old, report) = parse(&std::fs::read(&old_path).unwrap(), &opts).unwrap();
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].0, "polarization_karin");
    assert_eq!(
        report.inferred_filter_order.len(),
        94,
        "'deflate shuffle' reordered for every variable"
    );
    assert_eq!(new.arrays().count(), 95);
    assert_eq!(report.href_rule, HrefRule::Template);
    let diff: Vec<String> = differences(&old, &new)
        .into_iter()
        .filter(|d| d != "polarization_karin: missing from the DMR++")
        .collect();
    // The old builder writes no fillValue; every variable has a _FillValue attribute, so fills agree.
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    // Global attributes: HDF5_GLOBAL is flattened, builder metadata dropped.
    let names = |m: &GranuleManifest| {
        m.root
            .attrs
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&old), names(&new));
    assert!(names(&new).contains(&"cycle_number".to_string()));
    let ssh = new.array("ssha_karin").unwrap();
    assert_eq!(ssh.dims, ["num_lines", "num_pixels"]);
    assert_eq!(ssh.codecs.len(), 2);
}
