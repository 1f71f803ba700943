//! Time coordinates (CF conventions 4.4): instants as microseconds since
//! 1970-01-01T00:00:00Z in the proleptic Gregorian calendar, written as integer counts of the
//! coarsest unit that represents every value exactly.

/// Microseconds per unit, coarsest first.
const UNITS: [(&str, i64); 5] = [
    ("days", 86_400_000_000),
    ("hours", 3_600_000_000),
    ("seconds", 1_000_000),
    ("milliseconds", 1_000),
    ("microseconds", 1),
];

/// The earliest and latest instants readers can decode to `datetime64[ns]`
/// (1677-09-21T00:12:43.145225Z to 2262-04-11T23:47:16.854775Z): combine refuses others.
pub const MIN_MICROS: i64 = i64::MIN / 1_000 + 1;
pub const MAX_MICROS: i64 = i64::MAX / 1_000;

/// The CF unit name and its length in microseconds for `values`.
pub fn coarsest_unit(values: &[i64]) -> (&'static str, i64) {
    UNITS
        .iter()
        .find(|(_, per)| values.iter().all(|v| v % per == 0))
        .map_or(("microseconds", 1), |(u, per)| (*u, *per))
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// An instant as ISO 8601 text (`2014-04-12T12:00:00Z`, with microseconds when there are any).
pub fn iso8601(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let (y, m, d) = civil(days);
    let secs = rest / 1_000_000;
    let frac = rest % 1_000_000;
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_the_coarsest_exact_ones() {
        let day = 86_400_000_000;
        assert_eq!(coarsest_unit(&[0, day, -3 * day]).0, "days");
        assert_eq!(coarsest_unit(&[0, 3_600_000_000]).0, "hours");
        assert_eq!(coarsest_unit(&[1_000_000]).0, "seconds");
        assert_eq!(coarsest_unit(&[1]).0, "microseconds");
    }

    #[test]
    fn instants_print_as_iso8601() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_397_304_000_000_000), "2014-04-12T12:00:00Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(iso8601(951_782_400_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(MAX_MICROS), "2262-04-11T23:47:16.854775Z");
    }
}
