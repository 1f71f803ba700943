//! netCDF-4 semantics on real files: dimension names from dimension scales, phony dimensions
//! named as netCDF-C names them, dimension-only scales kept as dimensions, bookkeeping attributes
//! hidden, `_FillValue` as the fill value.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use granary_core::{ArrayData, AttrValue, DType, GranuleManifest};
use granary_test_utils::{data, swot_granule};

fn scan(rel: &str) -> GranuleManifest {
    granary_hdf5::scan_bytes("file:///t", data(rel).into()).unwrap()
}

fn dims(m: &GranuleManifest, path: &str) -> Vec<String> {
    m.array(path).unwrap().dims.clone()
}

#[test]
fn phony_dimensions_follow_netcdf_c() {
    // Names as netCDF4-python (netCDF-C 4.9) reports them for the same file.
    let m = scan("hdf5gen/phony_dims.h5");
    assert_eq!(dims(&m, "a"), ["phony_dim_0", "phony_dim_1"]);
    assert_eq!(dims(&m, "b"), ["phony_dim_1"]);
    assert_eq!(dims(&m, "c"), ["phony_dim_2"]);
    assert_eq!(dims(&m, "square"), ["phony_dim_3", "phony_dim_4"]);
}

#[test]
fn netcdf4_file_dimensions_groups_and_attributes() {
    let m = scan("hdf5gen/netcdf4.nc");
    let root_dims: Vec<(&str, u64, bool)> = m
        .root
        .dims
        .iter()
        .map(|d| (d.name.as_str(), d.size, d.unlimited))
        .collect();
    assert!(root_dims.contains(&("time", 5, true)));
    assert!(root_dims.contains(&("x", 7, false)));
    assert!(root_dims.contains(&("nchar", 4, false)));
    // Dimension-only scales are dimensions, not arrays; coordinate variables are both.
    assert!(m.array("nchar").is_none());
    assert!(m.array("x").is_some() && m.array("time").is_some());
    assert_eq!(dims(&m, "ssh"), ["time", "x"]);
    assert_eq!(dims(&m, "left/height"), ["num_lines", "x"]);
    let left = &m.root.groups[0];
    assert_eq!(left.path, "left");
    assert_eq!(left.dims[0].name, "num_lines");
    // Bookkeeping attributes are hidden.
    for a in m.arrays() {
        for hidden in [
            "DIMENSION_LIST",
            "REFERENCE_LIST",
            "CLASS",
            "NAME",
            "_Netcdf4Dimid",
            "_Netcdf4Coordinates",
        ] {
            assert!(a.attr(hidden).is_none(), "{} has {hidden}", a.path);
        }
    }
    assert!(m.root.attrs.iter().all(|a| a.name != "_NCProperties"));
    // Fill values from _FillValue, typed like the variable.
    let ssh = m.array("ssh").unwrap();
    assert_eq!(ssh.fill_value, Some(AttrValue::Float(-9999.0)));
    let flag = m.array("flag").unwrap();
    assert_eq!(
        flag.dtype,
        DType::FixedString {
            size: 1,
            utf8: false
        }
    );
    assert_eq!(
        flag.fill_value.as_ref().and_then(AttrValue::as_str),
        Some("*")
    );
    // Variable-length strings are embedded.
    match &m.array("names").unwrap().data {
        ArrayData::Strings(s) => assert_eq!(s[6].as_deref(), Some("n6")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn swot_like_granule_shape() {
    let m = granary_hdf5::scan_bytes("file:///t", std::fs::read(swot_granule()).unwrap().into())
        .unwrap();
    assert_eq!(m.arrays().count(), 95);
    let names: Vec<&str> = m.root.dims.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["num_lines", "num_pixels", "num_sides"]);
    assert!(m.array("num_lines").is_none());
    assert_eq!(dims(&m, "ssha_karin"), ["num_lines", "num_pixels"]);
    let cycle = m
        .root
        .attrs
        .iter()
        .find(|a| a.name == "cycle_number")
        .unwrap();
    assert_eq!(cycle.value.as_i64(), Some(1));
}
