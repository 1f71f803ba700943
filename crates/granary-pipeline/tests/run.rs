//! Pipelines end to end on the bundled SWOT-like granules: the sample pipeline, resumption from
//! a killed run (byte-identical outputs), dry runs, pruning, and configuration errors located at
//! file:line:col.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use granary_pipeline::{PipelineError, RunOptions, load, run};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sample() -> PathBuf {
    root().join("pipelines/sample.toml")
}

/// Overrides that move the sample's data, state and output to absolute/temporary paths.
fn sets(tmp: &Path, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        format!(
            "sources.granules.paths=[\"{}\"]",
            root().join("tests/data/swot").display()
        ),
        format!("state_dir=\"{}\"", tmp.join("state").display()),
        format!(
            "sinks.references.path=\"{}\"",
            tmp.join("out.parq").display()
        ),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    granary_test_utils::files_under(dir)
}

#[tokio::test]
async fn sample_pipeline_runs_and_a_rerun_scans_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let p = load(&sample(), &sets(tmp.path(), &[])).unwrap();
    let first = run(&p, &RunOptions::default()).await.unwrap();
    assert_eq!((first.listed, first.scanned, first.failed), (11, 11, 0));
    assert_eq!(first.outputs.len(), 1);
    assert_eq!(first.outputs[0].report.granules, 7);
    let written = files(&tmp.path().join("out.parq"));
    assert!(written.iter().any(|(n, _)| n == ".zmetadata"));
    let second = run(&p, &RunOptions::default()).await.unwrap();
    assert_eq!((second.unchanged, second.scanned), (11, 0));
    assert_eq!(
        files(&tmp.path().join("out.parq")),
        written,
        "outputs differ between runs"
    );
}

#[tokio::test]
async fn a_killed_run_resumes_and_gives_byte_identical_outputs() {
    // Reference: one clean run.
    let clean = tempfile::tempdir().unwrap();
    let p = load(&sample(), &sets(clean.path(), &[])).unwrap();
    run(&p, &RunOptions::default()).await.unwrap();
    let expected = files(&clean.path().join("out.parq"));

    // A run killed after committing 4 of 11 parts: its later parts are on disk but not in the
    // commit log, and no output was published (kill -9 leaves exactly this state).
    let killed = tempfile::tempdir().unwrap();
    let p = load(
        &sample(),
        &sets(killed.path(), &["extractors.metadata.part_size=1"]),
    )
    .unwrap();
    run(&p, &RunOptions::default()).await.unwrap();
    std::fs::remove_dir_all(killed.path().join("out.parq")).unwrap();
    let commit = killed.path().join("state/inventory/_inventory.json");
    let mut log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&commit).unwrap()).unwrap();
    log["parts"].as_array_mut().unwrap().truncate(4);
    std::fs::write(&commit, serde_json::to_string(&log).unwrap()).unwrap();

    let resumed = run(&p, &RunOptions::default()).await.unwrap();
    assert_eq!((resumed.unchanged, resumed.scanned), (4, 7));
    assert_eq!(files(&killed.path().join("out.parq")), expected);
}

#[tokio::test]
async fn dry_run_writes_nothing_and_prune_limits_the_granules() {
    let tmp = tempfile::tempdir().unwrap();
    let p = load(&sample(), &sets(tmp.path(), &[])).unwrap();
    let dry = run(
        &p,
        &RunOptions {
            dry_run: true,
            ..RunOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(dry.outputs[0].report.granules, 7);
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "dry run wrote files"
    );

    let pruned = run(
        &p,
        &RunOptions {
            prune: Some(3),
            target: Some(tmp.path().join("pruned.parq").display().to_string()),
            ..RunOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(pruned.listed, 3);
    assert!(pruned.outputs[0].report.granules <= 3);
    assert!(tmp.path().join("pruned.parq").join(".zmetadata").is_file());
}

fn config_error(text: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("p.toml");
    std::fs::write(&f, text).unwrap();
    let e = load(&f, &[]).unwrap_err();
    assert!(matches!(e, PipelineError::Config { .. }), "{e}");
    e.to_string().replace(&f.display().to_string(), "p.toml")
}

const GOOD: &str = r#"version = 1
name = "t"

[sources.s]
type = "files"
paths = ["x"]

[extractors.e]
type = "hdf5"
inputs = ["s"]

[transforms.q]
type = "sql"
inputs = ["e"]
query = "SELECT url, 1 AS c FROM granules"

[transforms.c]
type = "combine"
inputs = ["q"]

[sinks.out]
type = "kerchunk_json"
inputs = ["c"]
path = "o.json"
"#;

#[test]
fn configuration_errors_point_at_file_line_col() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("p.toml");
    std::fs::write(&f, GOOD).unwrap();
    load(&f, &[]).unwrap();

    let e = config_error(&GOOD.replace("name = \"t\"", "name = \"t\"\nnmae = 1"));
    assert!(e.starts_with("p.toml:3:1: unknown field `nmae`"), "{e}");
    let e = config_error(&GOOD.replace("paths = [\"x\"]", "paths = [\"x\"]\npathz = 2"));
    assert!(
        e.starts_with("p.toml:4:") && e.contains("sources.s: unknown field `pathz`"),
        "{e}"
    );
    let e = config_error(&GOOD.replace("type = \"hdf5\"", "type = \"netcdf\""));
    assert!(
        e.contains("p.toml:8:")
            && e.contains("unknown extractor type \"netcdf\" (registered: auto, dmrpp, hdf5"),
        "{e}"
    );
    let e = config_error(&GOOD.replace("inputs = [\"q\"]", "inputs = [\"nope\"]"));
    assert!(
        e.contains("transforms.c: not reachable") || e.contains("input \"nope\""),
        "{e}"
    );
    let e = config_error(&GOOD.replace("inputs = [\"c\"]", "inputs = [\"q\"]"));
    assert!(
        e.contains("a kerchunk_json cannot take input \"q\" (a sql)"),
        "{e}"
    );
    let e = config_error(&GOOD.replace("on_duplicate", "x").replace(
        "inputs = [\"q\"]\n",
        "inputs = [\"q\"]\non_duplicate = \"newest\"\n",
    ));
    assert!(
        e.contains("unknown variant `newest`, expected one of `error`, `first`, `last`"),
        "{e}"
    );
    let e = config_error(&GOOD.replace("version = 1", "version = 2"));
    assert!(e.starts_with("p.toml:1:11: pipeline version 2"), "{e}");
}

#[test]
fn set_overrides_apply_and_bad_ones_are_config_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("p.toml");
    std::fs::write(&f, GOOD).unwrap();
    let p = load(&f, &["transforms.c.on_duplicate=\"last\"".into()]).unwrap();
    assert_eq!(p.combine.1.on_duplicate, granary_refs::OnDuplicate::Last);
    let e = load(&f, &["transforms.c.on_duplicate=newest".into()]).unwrap_err();
    assert!(
        e.is_config() && e.to_string().contains("(after --set)"),
        "{e}"
    );
    let e = load(&f, &["no_equals_sign".into()]).unwrap_err();
    assert!(e.is_config(), "{e}");
}

#[test]
fn bundled_pipelines_validate() {
    for name in [
        "sample.toml",
        "swot_l2_lr_ssh_expert.toml",
        "swot_l2_lr_ssh_cmr.toml",
    ] {
        let p = load(&root().join("pipelines").join(name), &[]).unwrap();
        assert_eq!(p.sinks.len(), 1, "{name}");
    }
    let p = load(&root().join("pipelines/swot_l2_lr_ssh_expert.toml"), &[]).unwrap();
    assert_eq!(
        p.source.1.storage.credentials,
        granary_pipeline::spec::Credentials::Earthdata
    );
}
