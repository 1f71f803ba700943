//! Array attributes that decide how stored numbers become values (`docs/combine.md`,
//! "Attributes that decode values"). When one differs between the selected granules, a single
//! array cannot carry both values: a reader would decode one granule's numbers with the other's
//! packing, mask or epoch, silently. The combine refuses, exactly as for a dtype or shape
//! mismatch. Other attributes that vary are dropped (and listed).

use super::accumulate::{ArrayAcc, diff};

/// Attributes that decide decoded values whatever the variable.
pub const DECODING_ATTRIBUTES: &[&str] = &[
    // CF packing: value = stored × scale_factor + add_offset.
    "scale_factor",
    "add_offset",
    // Missing data: stored numbers that become NaN/masked.
    "_FillValue",
    "missing_value",
    "valid_min",
    "valid_max",
    "valid_range",
    // netCDF-3 style unsigned integers stored in signed types.
    "_Unsigned",
    // What the stored numbers of a flag variable mean.
    "flag_values",
    "flag_masks",
];

/// Whether an attribute list describes a CF time variable (`units` of the form `X since T`).
fn is_time<K: AsRef<str>, V: AsRef<str>>(attrs: &[(K, V)]) -> bool {
    attrs
        .iter()
        .any(|(n, v)| n.as_ref() == "units" && v.as_ref().contains(" since "))
}

/// Whether attribute `name` decides the decoded values of an array whose attributes (in two
/// granules) are `a` and `b`: the list above, and `units`/`calendar` of time variables.
pub(crate) fn decides_values<K: AsRef<str>, V: AsRef<str>>(
    name: &str,
    a: &[(String, String)],
    b: &[(K, V)],
) -> bool {
    DECODING_ATTRIBUTES.contains(&name)
        || (matches!(name, "units" | "calendar") && (is_time(a) || is_time(b)))
}

/// The field under which a differing decoding attribute is reported.
pub(crate) fn field(name: &str) -> String {
    format!("attribute {name}")
}

/// Compares granule `g`'s attributes of an array with the first granule's: decoding attributes
/// that differ become mismatches (refused at finish), other differences are recorded as varying
/// (dropped from the output). `attrs` may borrow (from an inventory batch): nothing is copied
/// unless an attribute differs.
pub(crate) fn compare<K: AsRef<str>, V: AsRef<str>>(acc: &mut ArrayAcc, attrs: &[(K, V)], g: u32) {
    let r = &acc.reference.attrs;
    let same = attrs.len() == r.len()
        && attrs
            .iter()
            .zip(r)
            .all(|((n, v), (rn, rv))| n.as_ref() == rn && v.as_ref() == rv);
    if same {
        return;
    }
    const ABSENT: &str = "(absent)";
    let mut differing: Vec<(String, String, String)> = Vec::new();
    for (name, value) in attrs {
        let (name, value) = (name.as_ref(), value.as_ref());
        match r.iter().find(|(n, _)| n == name) {
            Some((_, rv)) if rv == value => {}
            Some((_, rv)) => differing.push((name.into(), rv.clone(), value.into())),
            None => differing.push((name.into(), ABSENT.into(), value.into())),
        }
    }
    for (name, rv) in r {
        if !attrs.iter().any(|(n, _)| n.as_ref() == name) {
            differing.push((name.clone(), rv.clone(), ABSENT.into()));
        }
    }
    for (name, reference, value) in differing {
        if decides_values(&name, r, attrs) {
            diff(&mut acc.diffs, field(&name), value, g);
        } else {
            let set = acc.varying.entry(name).or_default();
            set.insert(reference);
            set.insert(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn packing_masks_and_time_units_decide_values() {
        let plain = attrs(&[("units", "m")]);
        let time = attrs(&[("units", "seconds since 2000-01-01 00:00:00.0")]);
        assert!(decides_values("scale_factor", &plain, &plain));
        assert!(decides_values("valid_range", &plain, &plain));
        assert!(decides_values("units", &time, &plain));
        assert!(decides_values("calendar", &plain, &time));
        assert!(!decides_values("units", &plain, &plain));
        assert!(!decides_values("comment", &time, &time));
    }
}
