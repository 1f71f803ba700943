//! Combine benchmarks (issue "Combine"), one process per measurement so that peak RSS is the
//! measured step's:
//!
//! ```text
//! combine swot DATA_DIR            311 SWOT-like main-shape granules: the 9,866-line granules
//!                                  of DATA_DIR (benches/make_bench_data.sh), scanned, their
//!                                  manifests replicated under 311 (cycle, pass) names; combined
//!                                  to JSON and Parquet from memory and from an inventory dir
//! combine prepare DIR              a synthetic 17,564-granule x 95-array inventory directory
//!                                  (benches/src/synthetic.rs), committed in parts of 512
//! combine run DIR OUT.parq         DIR's main-shape granules combined into Parquet references
//! combine run DIR OUT.icechunk     ... committed into a new Icechunk repository instead
//! combine append DIR OUT.icechunk  all but the last 100 of DIR's main-shape granules committed,
//!                                  then all of them: the second commit appends 100 granules
//! ```
//!
//! `combine swot` also commits each round's set into a new Icechunk repository.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Instant;

use datafusion::prelude::SessionContext;
use granary_benches::synthetic;
use granary_core::{AttrValue, GranuleManifest};
use granary_icechunk::{CommitTarget, RepoLocation, RepoStorage, commit_combined};
use granary_inventory::{Inventory, InventoryDir, NamePattern};
use granary_refs::combine::Combined;
use granary_refs::{OnDuplicate, write_combined_json, write_parquet};
use granary_sql::{CombineOptions, combine, session, session_for_dir};

const SELECT: &str = "SELECT url, CAST(attrs['cycle_number'] AS INT) AS cycle_num, \
     CAST(attrs['pass_number'] AS INT) AS pass_num FROM granules \
     WHERE dims['num_lines'] = 9866 ORDER BY name";

fn dir_size(p: &Path) -> u64 {
    if p.is_file() {
        return std::fs::metadata(p).unwrap().len();
    }
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| dir_size(&e.unwrap().path()))
        .sum()
}

fn replicate(templates: &[GranuleManifest], n: usize) -> Vec<GranuleManifest> {
    (0..n)
        .map(|i| {
            let mut m = templates[i % templates.len()].clone();
            let (cycle, pass) = (1 + i / 160, 1 + i % 160);
            m.url = format!(
                "s3://bench/SWOT_L2_LR_SSH_Expert_{cycle:03}_{pass:03}_20240101T000000_20240101T005000_PIC0_01.nc"
            );
            for a in &mut m.root.attrs {
                match a.name.as_str() {
                    "cycle_number" => a.value = AttrValue::Int(cycle as i64),
                    "pass_number" => a.value = AttrValue::Int(pass as i64),
                    _ => {}
                }
            }
            m
        })
        .collect()
}

async fn swot(data: &Path) {
    let mut templates = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(data)
        .expect("run benches/make_bench_data.sh first")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "nc"))
        .collect();
    names.sort();
    for p in names {
        let bytes = bytes::Bytes::from(std::fs::read(&p).unwrap());
        let m = granary_hdf5::scan_bytes(&format!("file://{}", p.display()), bytes).unwrap();
        if m.root
            .dims
            .iter()
            .any(|d| d.name == "num_lines" && d.size == 9866)
        {
            templates.push(m);
        }
    }
    let manifests = replicate(&templates, 311);
    println!(
        "311 granules from {} scanned 9,866-line templates",
        templates.len()
    );
    let re = NamePattern::preset("swot").unwrap();
    let inv = Inventory::build(&manifests, Some(&re)).unwrap();
    let ctx = session(&inv).unwrap();
    let tmp = std::env::temp_dir().join(format!("granary-bench-combine-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let opts = CombineOptions::default();
    for round in 0..3 {
        let t = Instant::now();
        let parts = combine(&ctx, SELECT, &opts).await.unwrap();
        let t_combine = t.elapsed().as_secs_f64();
        let c = &parts[0].combined;
        let json = tmp.join("combined.json");
        let t = Instant::now();
        write_combined_json(c, std::fs::File::create(&json).unwrap()).unwrap();
        let t_json = t.elapsed().as_secs_f64();
        let parq = tmp.join("combined.parq");
        let _ = std::fs::remove_dir_all(&parq);
        let t = Instant::now();
        write_parquet(c, &parq, granary_refs::DEFAULT_RECORD_SIZE).unwrap();
        let t_parq = t.elapsed().as_secs_f64();
        let repo = tmp.join("combined.icechunk");
        let _ = std::fs::remove_dir_all(&repo);
        let t = Instant::now();
        let outcome = commit_combined(c, &etags(c), &icechunk_target(&repo))
            .await
            .unwrap();
        let t_ice = t.elapsed().as_secs_f64();
        assert!(outcome.snapshot.is_some());
        println!(
            "memory  round {round}: combine {:.1} ms, + JSON {:.1} ms ({} B), + Parquet {:.1} ms ({} B), + Icechunk commit {:.1} ms ({} B); {} refs, {} arrays",
            t_combine * 1e3,
            t_json * 1e3,
            dir_size(&json),
            t_parq * 1e3,
            dir_size(&parq),
            t_ice * 1e3,
            dir_size(&repo),
            c.report.refs,
            c.arrays.len()
        );
    }
    let dir_path = tmp.join("inventory");
    let mut dir = InventoryDir::create_or_open(&dir_path, &["bench".to_string()]).unwrap();
    dir.append(&Inventory::from_manifests(&manifests).unwrap(), &[])
        .unwrap();
    let ctx = session_for_dir(&dir, Some(&re)).unwrap();
    for round in 0..3 {
        let t = Instant::now();
        let parts = combine(&ctx, SELECT, &opts).await.unwrap();
        let parq = tmp.join("dir.parq");
        let _ = std::fs::remove_dir_all(&parq);
        write_parquet(&parts[0].combined, &parq, granary_refs::DEFAULT_RECORD_SIZE).unwrap();
        println!(
            "inventory dir round {round}: combine + Parquet {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

fn prepare(out: &Path) {
    let t = Instant::now();
    let mut dir = InventoryDir::create_or_open(out, &["synthetic".to_string()]).unwrap();
    let n = 17_564;
    for start in (0..n).step_by(512) {
        let ms: Vec<_> = (start..(start + 512).min(n))
            .map(|i| synthetic::granule(i, 95))
            .collect();
        dir.append(&Inventory::from_manifests(&ms).unwrap(), &[])
            .unwrap();
    }
    println!(
        "prepared {n} granules in {:.1} s, {} B on disk",
        t.elapsed().as_secs_f64(),
        dir_size(out)
    );
}

/// The process's peak resident set (`VmHWM`), as Linux reports it.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        .unwrap_or_default()
}

/// A checksum per URL, as an inventory of S3 objects would hold (quoted 32-hex ETags).
fn etags(c: &Combined) -> Vec<Option<String>> {
    (0..c.urls.len())
        .map(|i| Some(format!("\"{i:032x}\"")))
        .collect()
}

fn icechunk_target(repo: &Path) -> CommitTarget {
    CommitTarget {
        location: RepoLocation::Local(repo.to_path_buf()),
        storage: RepoStorage::default(),
        branch: "main".into(),
        title: "bench".into(),
        selection: SELECT.into(),
        policy: granary_core::ArrayPolicy::Skip,
    }
}

/// Combines `selection` from `ctx` and commits it to `repo`; prints and returns the times.
async fn commit_selection(ctx: &SessionContext, selection: &str, repo: &Path, label: &str) {
    let opts = CombineOptions {
        on_duplicate: OnDuplicate::Last,
        ..CombineOptions::default()
    };
    let t = Instant::now();
    let parts = combine(ctx, selection, &opts).await.unwrap();
    let t_combine = t.elapsed().as_secs_f64();
    println!("{label}: combined, peak RSS so far {}", peak_rss());
    let c = &parts[0].combined;
    let t = Instant::now();
    let o = commit_combined(c, &etags(c), &icechunk_target(repo))
        .await
        .unwrap();
    let t_commit = t.elapsed().as_secs_f64();
    println!(
        "{label}: {} granules, {} refs; combine {t_combine:.2} s, Icechunk commit {t_commit:.2} s (change set {:.2} s, commit {:.2} s; {} added, {} chunks set, {} deleted); repository {} B; peak RSS so far {}",
        c.report.granules,
        c.report.refs,
        o.sync_seconds,
        o.commit_seconds,
        o.added.len(),
        o.stats.chunks_set,
        o.stats.chunks_deleted,
        dir_size(repo),
        peak_rss()
    );
}

async fn append(dir: &Path, repo: &Path) {
    let d = InventoryDir::open(dir).unwrap();
    let ctx = session_for_dir(&d, Some(&NamePattern::preset("swot").unwrap())).unwrap();
    let _ = std::fs::remove_dir_all(repo);
    let base = SELECT.replace(
        " ORDER BY name",
        " AND name NOT IN (SELECT name FROM granules ORDER BY name DESC LIMIT 100) ORDER BY name",
    );
    commit_selection(&ctx, &base, repo, "base").await;
    commit_selection(&ctx, SELECT, repo, "append").await;
    commit_selection(&ctx, SELECT, repo, "again").await;
}

async fn run(dir: &Path, out: &Path) {
    if out.extension().is_some_and(|e| e == "icechunk") {
        let d = InventoryDir::open(dir).unwrap();
        let ctx = session_for_dir(&d, Some(&NamePattern::preset("swot").unwrap())).unwrap();
        let _ = std::fs::remove_dir_all(out);
        return commit_selection(&ctx, SELECT, out, "full").await;
    }
    let t = Instant::now();
    let d = InventoryDir::open(dir).unwrap();
    let ctx = session_for_dir(&d, Some(&NamePattern::preset("swot").unwrap())).unwrap();
    let t_open = t.elapsed().as_secs_f64();
    let opts = CombineOptions {
        on_duplicate: OnDuplicate::Last,
        ..CombineOptions::default()
    };
    let parts = combine(&ctx, SELECT, &opts).await.unwrap();
    let t_combine = t.elapsed().as_secs_f64();
    let c = &parts[0].combined;
    let _ = std::fs::remove_dir_all(out);
    let stats = write_parquet(c, out, granary_refs::DEFAULT_RECORD_SIZE).unwrap();
    let total = t.elapsed().as_secs_f64();
    println!(
        "{} granules, {} cells, {} refs, {} arrays, {} duplicates resolved",
        c.report.granules,
        c.report.cells,
        c.report.refs,
        c.arrays.len(),
        c.report.duplicates_resolved.len()
    );
    println!(
        "open {:.2} s, combine {:.2} s, Parquet {:.2} s: total {:.2} s; {} files, {} B",
        t_open,
        t_combine - t_open,
        total - t_combine,
        total,
        stats.files,
        stats.bytes
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("swot") => swot(Path::new(&args[2])).await,
        Some("prepare") => prepare(Path::new(&args[2])),
        Some("run") => run(Path::new(&args[2]), Path::new(&args[3])).await,
        Some("append") => append(Path::new(&args[2]), Path::new(&args[3])).await,
        _ => eprintln!(
            "usage: combine swot DATA_DIR | prepare DIR | run DIR OUT.parq|OUT.icechunk | append DIR OUT.icechunk"
        ),
    }
}
