//! Hostile input: truncated files, foreign files, corrupted signatures, self-referencing
//! structures and random byte corruption must give a typed error (or a correct parse), never a
//! panic, a hang or an unbounded allocation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use granary_hdf5::{Hdf5Error, scan_bytes};

use granary_test_utils::{Rng, assert_same_text, data, swot_granule};

fn scan(bytes: Vec<u8>) -> Result<granary_core::GranuleManifest, Hdf5Error> {
    scan_bytes("file:///test.h5", bytes.into())
}

#[test]
fn truncated_files_give_typed_errors() {
    let full = std::fs::read(swot_granule()).unwrap();
    for len in [
        0,
        1,
        7,
        8,
        47,
        100,
        1000,
        4096,
        20_000,
        full.len() / 2,
        full.len() - 1,
    ] {
        let Err(err) = scan(full[..len].to_vec()) else {
            panic!("truncated file of {len} bytes parsed")
        };
        assert!(
            matches!(err, Hdf5Error::NotHdf5 { .. } | Hdf5Error::Format { .. }),
            "len {len}: {err}"
        );
        assert!(
            err.to_string().contains("file:///test.h5"),
            "error must name the granule: {err}"
        );
    }
}

#[test]
fn foreign_files_are_not_hdf5() {
    for rel in [
        "corpus/hdf5/hdf5-json/notahdf5file.h5",
        "corpus/hdf5/netcdf-c/bad_cdf5_begin.nc",
        "corpus/hdf5/netcdf-c/ref_null_byte_padding_test.nc",
    ] {
        let Err(err) = scan(data(rel)) else {
            panic!("{rel} parsed")
        };
        assert!(matches!(err, Hdf5Error::NotHdf5 { .. }), "{rel}: {err}");
    }
    assert!(matches!(
        scan(b"hello world".repeat(1000)),
        Err(Hdf5Error::NotHdf5 { .. })
    ));
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn corrupted_signatures_are_reported_with_the_object() {
    let swot = std::fs::read(swot_granule()).unwrap();
    let old_style = data("hdf5gen/matrix_earliest.h5");
    // Signatures may also occur by chance inside data; every structure kind must have at least
    // one corrupted occurrence reported, and no corruption may panic.
    let cases = [
        (&swot, &b"OHDR"[..]),
        (&swot, b"TREE"),
        (&swot, b"FRHP"),
        (&swot, b"GCOL"),
        (&old_style, b"HEAP"),
        (&old_style, b"SNOD"),
        (&old_style, b"TREE"),
    ];
    for (full, sig) in cases {
        let at = find_all(full, sig);
        assert!(!at.is_empty(), "fixture has no {sig:?}");
        let mut reported = 0;
        for pos in at.iter().take(20) {
            let mut bad = full.clone();
            bad[*pos] ^= 0xff;
            if let Err(err) = scan(bad) {
                let msg = err.to_string();
                assert!(matches!(err, Hdf5Error::Format { .. }), "{msg}");
                assert!(
                    msg.contains("signature") || msg.contains("not an object header"),
                    "{msg}"
                );
                assert!(
                    msg.contains("object \"/"),
                    "the error must name the object: {msg}"
                );
                reported += 1;
            }
        }
        assert!(
            reported > 0,
            "no corrupted {} was reported",
            String::from_utf8_lossy(sig)
        );
    }
}

#[test]
fn self_referencing_continuation_is_bounded() {
    // matrix_earliest.h5 uses v1 object headers; point the first continuation message at the
    // block that contains it, so the chain never ends.
    let mut bytes = data("hdf5gen/matrix_earliest.h5");
    let ok = scan(bytes.clone()).unwrap();
    assert!(ok.arrays().count() > 10);
    // Continuation message: type 0x0010, size 16, in a v1 header (8-byte aligned).
    let at = (0..bytes.len() - 24)
        .step_by(8)
        .find(|i| bytes[*i..*i + 4] == [0x10, 0x00, 0x10, 0x00])
        .expect("a continuation message");
    let block_start = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
    let len = u64::from_le_bytes(bytes[at + 16..at + 24].try_into().unwrap());
    assert!(len > 0 && block_start > 0);
    // Make the continuation point at the header chunk holding itself.
    let own_block = (at as u64).saturating_sub(8);
    bytes[at + 8..at + 16].copy_from_slice(&own_block.to_le_bytes());
    let r = scan(bytes);
    assert!(r.is_err(), "a cyclic continuation chain must be an error");
}

#[test]
fn dense_storage_read_directly_or_through_its_name_index_agree() {
    // Dense links are read straight from the fractal heap when the objects found there are
    // exactly the heap's managed objects. Claiming one more object in every heap header forces
    // the name-index (v2 B-tree) path everywhere: the manifest must not change.
    let clean = std::fs::read(swot_granule()).unwrap();
    let mut forced = clean.clone();
    let heaps = find_all(&clean, b"FRHP");
    assert!(heaps.len() >= 90);
    for at in &heaps {
        // so = sl = 8: the managed-object count follows 14 bytes of fixed fields and 7 8-byte ones.
        let field = at + 14 + 7 * 8;
        let n = u64::from_le_bytes(forced[field..field + 8].try_into().unwrap());
        forced[field..field + 8].copy_from_slice(&(n + 1).to_le_bytes());
    }
    let a = format!("{:?}", scan(clean).unwrap());
    let b = format!("{:?}", scan(forced).unwrap());
    assert_eq!(a.len(), b.len());
    assert_same_text(&a, &b, "direct heap read vs name index");
    // A corrupted name index is then on the read path and reported.
    let mut bad = std::fs::read(swot_granule()).unwrap();
    for at in &heaps {
        let field = at + 14 + 7 * 8;
        let n = u64::from_le_bytes(bad[field..field + 8].try_into().unwrap());
        bad[field..field + 8].copy_from_slice(&(n + 1).to_le_bytes());
    }
    let bthd = find_all(&bad, b"BTHD");
    bad[bthd[0]] ^= 0xff;
    let err = scan(bad).unwrap_err().to_string();
    assert!(err.contains("signature"), "{err}");
}

#[test]
fn random_corruption_never_panics() {
    let inputs = [
        data("hdf5gen/matrix_earliest.h5"),
        data("hdf5gen/matrix_latest.h5"),
        data("hdf5gen/netcdf4.nc"),
        std::fs::read(swot_granule()).unwrap(),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut failed) = (0, 0);
    for input in &inputs {
        for _ in 0..300 {
            let mut bytes = input.clone();
            for _ in 0..1 + rng.next_u64() % 8 {
                let i = (rng.next_u64() % bytes.len() as u64) as usize;
                bytes[i] = match rng.next_u64() % 4 {
                    0 => 0xff,
                    1 => 0,
                    _ => rng.next_u64() as u8,
                };
            }
            let r = std::panic::catch_unwind(|| scan(bytes));
            match r {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(_)) => failed += 1,
                Err(_) => panic!("scanner panicked on corrupted input"),
            }
        }
    }
    assert_eq!(ok + failed, 1200);
}

/// Inputs the fuzzer found; each must finish with a value or a typed error, within bounds.
#[test]
fn fuzz_regressions() {
    let dir = granary_test_utils::data_dir().join("fuzz-regressions");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("scan_hdf5-")
        {
            let bytes = std::fs::read(&p).unwrap();
            let r = std::panic::catch_unwind(|| scan(bytes));
            assert!(r.is_ok(), "{} panicked", p.display());
            n += 1;
        }
    }
    assert!(n >= 1);
}
