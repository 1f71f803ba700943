//! A granule whose variable is named to step out of the store (`../../../escaped`): the array
//! is left out and listed, and nothing is written outside the output the user named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use granary_test_utils::{data_dir as data, files_under};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_granary"))
}

#[test]
fn a_variable_named_to_step_out_is_left_out_and_nothing_lands_outside() {
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("in");
    let out = root.path().join("out/deep");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let src = data().join("corpus/dmrpp/bes_dmrpp_module/data/deflate_twice");
    std::fs::copy(src.join("One_chunk_c_c.h5"), input.join("One_chunk_c_c.h5")).unwrap();
    let dmrpp = std::fs::read_to_string(src.join("One_chunk_c_c.h5.dmrpp")).unwrap();
    assert!(dmrpp.contains("name=\"chunk_normal\""));
    let hostile = dmrpp.replace("name=\"chunk_normal\"", "name=\"../../../escaped\"");
    std::fs::write(input.join("One_chunk_c_c.h5.dmrpp"), hostile).unwrap();

    let parq = out.join("x.parq");
    let r = bin()
        .arg("combine")
        .arg(&input)
        .args([
            "--metadata",
            "dmrpp",
            "-c",
            "SELECT url, 1 AS t FROM granules",
            "-o",
        ])
        .arg(&parq)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    // Written, with an array left out: exit 1 (partial).
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("../../../escaped"), "{stderr}");
    assert!(stderr.contains("cannot name a Zarr node"), "{stderr}");

    let json = out.join("g.json");
    let r = bin()
        .arg("scan")
        .arg(&input)
        .args(["--metadata", "dmrpp", "-o"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(json.exists(), "{}", String::from_utf8_lossy(&r.stderr));
    let refs: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let keys: Vec<&String> = refs["refs"].as_object().unwrap().keys().collect();
    assert!(keys.iter().all(|k| !k.contains("escaped")), "{keys:?}");

    // Only the inputs and the two outputs exist; nothing named after the variable anywhere.
    let all: Vec<String> = files_under(root.path())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert!(all.iter().all(|p| !p.contains("escaped")), "{all:?}");
    let meta = std::fs::read_to_string(parq.join(".zmetadata")).unwrap();
    assert!(!meta.contains("escaped"), "{meta}");
    assert!(
        all.iter()
            .all(|p| p.starts_with("in") || p.starts_with("out"))
    );
}
