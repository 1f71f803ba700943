//! `granary combine`: one reference set (or one per partition) from the granules a SQL query
//! selects, written as kerchunk JSON or Parquet (`docs/combine.md`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use granary_pipeline::{Output, Target, combine_and_publish};
use granary_refs::combine::CombineReport;
use granary_refs::{AttrPolicy, OnDuplicate, RefFormat};
use granary_sql::{ArraySelection, CombineOptions};

use crate::sql::{InventoryArgs, open_session};

#[derive(clap::Args)]
pub struct CombineArgs {
    /// An inventory directory, or granules to inventory now (files, directories, globs, URLs).
    #[arg(required = true)]
    sources: Vec<String>,
    /// The selection: SQL returning `url` and one column per concat coordinate
    /// (e.g. `SELECT url, CAST(attrs['cycle_number'] AS INT) AS cycle_num, ... FROM granules`).
    #[arg(
        short = 'c',
        long = "command",
        conflicts_with = "file",
        required_unless_present = "file"
    )]
    command: Option<String>,
    /// The selection SQL in a file.
    #[arg(short = 'f', long)]
    file: Option<PathBuf>,
    /// Output: a `.json` file, a Parquet directory (`.parq`/`.parquet`), or an Icechunk
    /// repository (`.icechunk`, or `s3://bucket/prefix` with `--format icechunk`). With
    /// `--partition-by`, `{}` in the path is replaced by the partition value.
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Output format (default: from the output suffix: `.json` → json, `.icechunk` or
    /// `s3://` → icechunk, else parquet).
    #[arg(long, value_enum)]
    format: Option<RefFormat>,
    /// Two granules with the same coordinates.
    #[arg(long, value_enum, default_value_t = OnDuplicate::Error)]
    on_duplicate: OnDuplicate,
    /// Group attributes that differ between granules.
    #[arg(long, value_enum, default_value_t = AttrPolicy::Drop)]
    attrs: AttrPolicy,
    /// Arrays copied once after checking that they are identical in every granule.
    #[arg(long = "identical", value_delimiter = ',')]
    identical: Vec<String>,
    /// A selection column: one reference set per value.
    #[arg(long)]
    partition_by: Option<String>,
    /// Keep only these arrays (comma-separated paths), with the coordinates they need.
    #[arg(long = "arrays", value_delimiter = ',', value_name = "PATHS")]
    arrays: Vec<String>,
    /// Leave these arrays out (comma-separated paths); wins over the coordinates kept arrays need.
    #[arg(long = "drop-arrays", value_delimiter = ',', value_name = "PATHS")]
    drop_arrays: Vec<String>,
    /// Keep the arrays matching this SQL condition over the `zarr` table, e.g.
    /// "path LIKE 'ssha%'" (with the coordinates they need).
    #[arg(long = "arrays-where", value_name = "SQL")]
    arrays_where: Option<String>,
    /// Parquet rows per reference file.
    #[arg(long, default_value_t = granary_refs::DEFAULT_RECORD_SIZE)]
    record_size: u64,
    /// Replace existing outputs.
    #[arg(long)]
    overwrite: bool,
    /// Rewrite a URL prefix in the references, e.g. `s3://bucket/=https://host/path/`
    /// (repeatable; prefixes end with `/`; every URL must match one).
    #[arg(long = "url-map", value_name = "FROM=TO", value_parser = parse_url_map)]
    url_map: Vec<(String, String)>,
    /// Icechunk: the branch to commit to (created from `main` when missing).
    #[arg(long, default_value = "main")]
    branch: String,
    /// Icechunk in `s3://`: the bucket's region.
    #[arg(long)]
    region: Option<String>,
    /// Icechunk in `s3://`: an S3-compatible endpoint (e.g. `http://127.0.0.1:9000`).
    #[arg(long)]
    endpoint: Option<String>,
    #[command(flatten)]
    inventory: InventoryArgs,
}

fn parse_url_map(s: &str) -> Result<(String, String), String> {
    // The first `=` after the scheme's `://`: URLs may hold `=` in their query, prefixes not.
    let (from, to) = s
        .split_once("/=")
        .map(|(f, t)| (format!("{f}/"), t.to_string()))
        .ok_or_else(|| format!("{s:?}: expected FROM=TO with FROM ending in `/`"))?;
    Ok((from, to))
}

fn summary(o: &Output) {
    let r = &o.report;
    let axes: Vec<String> = r.axes.iter().map(|(d, n)| format!("{d}: {n}")).collect();
    eprintln!(
        "{}: {} granules, {} cells ({}), {} arrays, {} references, {} bytes",
        o.path.display(),
        r.granules,
        r.cells,
        axes.join(", "),
        o.arrays,
        r.refs,
        o.bytes
    );
    print_commit(o);
    print_details(r);
}

/// What an Icechunk commit did, one line (shared with `granary run`).
pub fn print_commit(o: &Output) {
    let Some(c) = &o.commit else { return };
    match &c.snapshot {
        Some(id) => eprintln!(
            "  committed snapshot {id}: {} granule(s) added, {} changed, {} removed; {} chunk reference(s) set, {} deleted, {} read from the tip to compare",
            c.added.len(),
            c.changed.len(),
            c.removed.len(),
            c.stats.chunks_set,
            c.stats.chunks_deleted,
            c.stats.chunks_read
        ),
        None => eprintln!(
            "  nothing changed: no commit (the branch already holds this set; {} chunk reference(s) read from the tip to compare)",
            c.stats.chunks_read
        ),
    }
}

/// What combining resolved, dropped or filled, one line each (shared with `granary run`).
pub fn print_details(r: &CombineReport) {
    for (cell, kept, dropped) in &r.duplicates_resolved {
        eprintln!(
            "  duplicate {cell}: kept {kept}, left out {}",
            dropped.join(", ")
        );
    }
    for (owner, name, n) in &r.dropped_attrs {
        let owner = if owner.is_empty() { "/" } else { owner };
        eprintln!("  attribute {owner}:{name} dropped ({n} different values)");
    }
    for (owner, name, array) in &r.attr_arrays {
        let owner = if owner.is_empty() { "/" } else { owner };
        eprintln!("  attribute {owner}:{name} written as array {array}");
    }
    for (path, fill) in &r.fills_set {
        eprintln!("  {path}: no fill value; empty cells read as {fill}");
    }
    for path in &r.identical {
        eprintln!("  {path}: identical in every granule, copied once");
    }
    for s in &r.skipped_arrays {
        eprintln!(
            "  array {:?} left out: it cannot be referenced in {} granule(s), e.g. {}: {}",
            s.path, s.granules, s.example, s.reason
        );
    }
}

pub async fn run(args: CombineArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let sql = match (&args.command, &args.file) {
        (Some(c), _) => c.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        (None, None) => return Err(anyhow!("give the selection with -c SQL or -f FILE")),
    };
    let target = Target {
        sink: "output".to_string(),
        format: args
            .format
            .unwrap_or_else(|| RefFormat::from_path(&args.output)),
        template: args.output.clone(),
        record_size: args.record_size,
        overwrite: args.overwrite.into(),
        url_map: granary_refs::UrlMap::new(args.url_map.clone())?,
        icechunk: Some(granary_pipeline::IcechunkSink {
            branch: args.branch.clone(),
            storage: granary_icechunk::RepoStorage {
                region: args.region.clone(),
                endpoint: args.endpoint.clone(),
                anonymous: false,
            },
            title: "granary combine".into(),
            selection: sql.clone(),
        }),
    };
    let (ctx, failed) = open_session(&args.sources, &args.inventory).await?;
    let opts = CombineOptions {
        identical: args.identical.clone(),
        on_duplicate: args.on_duplicate,
        attrs: args.attrs,
        partition_by: args.partition_by.clone(),
        arrays: ArraySelection {
            keep: args.arrays.clone(),
            drop: args.drop_arrays.clone(),
            condition: args.arrays_where.clone(),
        },
        reader: Some(crate::extract::extractor(
            args.inventory.metadata,
            args.inventory.concurrency,
            &args.inventory.trust,
        )),
        unreferenceable: args.inventory.trust.unreferenceable,
    };
    // An inventory directory given as the source is never an output.
    let protected: Vec<PathBuf> = args
        .sources
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .collect();
    let outputs =
        combine_and_publish(&ctx, "combine", &sql, &opts, &[target], &protected, false).await?;
    for o in &outputs {
        summary(o);
    }
    eprintln!("combined in {:.2} s", started.elapsed().as_secs_f64());
    if failed > 0 {
        eprintln!("{failed} granule(s) could not be read and were not combined");
        return Ok(ExitCode::from(crate::exit::PARTIAL));
    }
    if outputs.iter().any(|o| !o.report.skipped_arrays.is_empty()) {
        return Ok(ExitCode::from(crate::exit::PARTIAL));
    }
    Ok(ExitCode::SUCCESS)
}
