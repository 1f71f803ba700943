//! The `granary` binary end to end: outputs, exit codes, failure summaries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_granary"))
}

use granary_test_utils::data_dir as data;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("granary-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn scan_directory_writes_one_json_per_granule() {
    let out = tmp("dir");
    // The second run replaces the first one's outputs (published in one batch): no temporary
    // or moved-aside file is left.
    for _ in 0..2 {
        let status = bin()
            .args(["scan"])
            .arg(data().join("swot"))
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 11, "{written:?}");
    assert!(
        written
            .iter()
            .all(|p| p.extension().is_some_and(|e| e == "json")),
        "{written:?}"
    );
    for p in written {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["version"], 1);
        let refs = v["refs"].as_object().unwrap();
        assert!(refs.contains_key(".zmetadata") && refs.contains_key("ssha_karin/.zarray"));
        let chunk = refs["ssha_karin/0.0"].as_array().unwrap();
        assert!(
            chunk[0].as_str().unwrap().starts_with("file:///"),
            "absolute URLs"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_scan_into_a_directory_another_run_publishes_into_fails_and_touches_nothing() {
    let out = tmp("locked");
    std::fs::write(out.join("keep.json"), "theirs").unwrap();
    // Another run holds the directory (what a scan into it takes for its whole run).
    let other = std::fs::File::open(&out).unwrap();
    other.try_lock().unwrap();
    let r = bin()
        .args(["scan"])
        .arg(data().join("swot"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("another granary run is publishing into"),
        "{stderr}"
    );
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("keep.json")]);
    drop(other);
}

#[test]
fn one_bad_granule_does_not_stop_the_run_and_sets_the_exit_code() {
    let input = tmp("mixed-in");
    let good = std::fs::read_dir(data().join("swot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "nc"))
        .unwrap();
    std::fs::copy(&good, input.join("good.nc")).unwrap();
    std::fs::write(input.join("broken.nc"), b"this is not HDF5").unwrap();
    let mut truncated = std::fs::read(&good).unwrap();
    truncated.truncate(30_000);
    std::fs::write(input.join("truncated.nc"), truncated).unwrap();
    let out = tmp("mixed-out");
    let r = bin()
        .arg("scan")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("2 granule(s) failed"), "{stderr}");
    assert!(
        stderr.contains("broken.nc") && stderr.contains("not an HDF5 file"),
        "{stderr}"
    );
    assert!(stderr.contains("truncated.nc"), "{stderr}");
    assert!(out.join("good.nc.json").exists());
    assert!(!out.join("broken.nc.json").exists());
}

#[test]
fn single_input_writes_the_named_file_and_inlines_small_chunks() {
    let out = tmp("single").join("refs.json");
    let src = data().join("hdf5gen/netcdf4.nc");
    let status = bin()
        .arg("scan")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args(["--inline-threshold", "100000"])
        .status()
        .unwrap();
    assert!(status.success());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    // Every chunk is smaller than the threshold: no range references remain.
    let ranges = v["refs"]
        .as_object()
        .unwrap()
        .values()
        .filter(|x| x.is_array())
        .count();
    assert_eq!(ranges, 0);
}

#[test]
fn inspect_prints_dims_and_arrays() {
    let r = bin()
        .arg("inspect")
        .arg(data().join("hdf5gen/netcdf4.nc"))
        .output()
        .unwrap();
    assert!(r.status.success());
    let s = String::from_utf8_lossy(&r.stdout);
    assert!(s.contains("dim time = 5 (unlimited)"), "{s}");
    assert!(s.contains("ssh(time, x)"), "{s}");
}

#[test]
fn missing_input_fails_naming_its_path() {
    let r = bin()
        .args(["scan", "/nonexistent/file.nc", "-o", "/tmp/x.json"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("/nonexistent/file.nc"));
}

#[test]
fn metadata_routes() {
    let src = data().join("hdf5gen/netcdf4.nc");
    let out = tmp("routes").join("x.json");
    // No sidecar: the DMR++ route fails with a clear error, auto falls back to the HDF5 scan.
    let r = bin()
        .arg("scan")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args(["--metadata", "dmrpp"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("no usable DMR++ sidecar"));
    let r = bin()
        .arg("scan")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args(["--metadata", "auto"])
        .output()
        .unwrap();
    assert!(r.status.success());
    // A .dmrpp given directly: its template href resolves to the granule next to it.
    let sidecar = std::fs::read_dir(data().join("swot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "dmrpp"))
        .unwrap();
    let out = tmp("routes2").join("y.json");
    let r = bin()
        .arg("scan")
        .arg(&sidecar)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let url = v["refs"]["ssha_karin/0.0"][0].as_str().unwrap();
    assert_eq!(
        url,
        format!("file://{}", sidecar.with_extension("").display())
    );
}

#[test]
fn sql_over_scanned_granules() {
    let r = bin()
        .arg("sql")
        .arg(data().join("swot"))
        .args(["--pattern", "swot", "-c", "SELECT count(*) AS n FROM granules WHERE dims['num_pixels'] = 71; SELECT max(CAST(pass AS INT)) AS p FROM granules", "--format", "csv"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(String::from_utf8_lossy(&r.stdout), "n\n11\np\n6\n");
    let r = bin()
        .arg("sql")
        .arg(data().join("swot"))
        .args(["-c", "SELECT nope FROM granules"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("nope"));
}

#[test]
fn combine_publishes_once_and_refuses_to_overwrite() {
    let dir = tmp("combine");
    let out = dir.join("main.parq");
    let sql = "SELECT url, CAST(attrs['cycle_number'] AS INT) AS cycle_num, \
               CAST(attrs['pass_number'] AS INT) AS pass_num FROM granules \
               WHERE dims['num_lines'] = 10";
    let run = |extra: &[&str]| {
        bin()
            .arg("combine")
            .arg(data().join("swot"))
            .args(["-c", sql, "-o"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(out.join(".zmetadata").is_file());
    assert!(!dir.join("main.parq.partial").exists());
    let again = run(&[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("use --overwrite"));
    // Refused before the combine runs: a selection that would fail is never reached.
    let early = bin()
        .arg("combine")
        .arg(data().join("swot"))
        .args(["-c", "SELECT nope FROM granules", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert_eq!(early.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("use --overwrite") && !stderr.contains("nope"),
        "{stderr}"
    );
    let replaced = run(&["--overwrite", "--format", "json"]);
    assert!(replaced.status.success());
    assert!(out.is_file(), "--format json writes one file");
    // A selection without coordinates is refused with a clear message.
    let bad = bin()
        .arg("combine")
        .arg(data().join("swot"))
        .args(["-c", "SELECT url FROM granules", "-o"])
        .arg(dir.join("x.json"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no concat dimension"));
}

#[test]
fn run_validate_plan_list_and_their_exit_codes() {
    let dir = tmp("pipeline");
    let root = granary_test_utils::repo_root();
    let sample = root.join("pipelines/sample.toml");
    let sets = [
        format!(
            "sources.granules.paths=[\"{}\"]",
            data().join("swot").display()
        ),
        format!("state_dir=\"{}\"", dir.join("state").display()),
        format!(
            "sinks.references.path=\"{}\"",
            dir.join("out.parq").display()
        ),
    ];
    let with_sets = |cmd: &str| {
        let mut c = bin();
        c.arg(cmd).arg(&sample);
        for s in &sets {
            c.args(["--set", s]);
        }
        c
    };
    let ok = with_sets("run").output().unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(dir.join("out.parq/.zmetadata").is_file());
    assert!(with_sets("validate").output().unwrap().status.success());
    let plan = with_sets("plan").output().unwrap();
    assert!(String::from_utf8_lossy(&plan.stdout).contains("plan of main_shape:"));
    let list = bin().arg("list").output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("kerchunk_parquet"));
    // A configuration error: exit 2, located.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "version = 1\nname = \"x\"\nbogus = true\n").unwrap();
    let out = bin().arg("run").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml:3:1: unknown field `bogus`"));
    // A refusal (the output exists and may not be replaced): exit 2, nothing written.
    let again = with_sets("run")
        .args(["--set", "sinks.references.overwrite=false"])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
