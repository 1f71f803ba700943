//! `granary combine`: one reference set (or one per partition) from the granules a SQL query
//! selects, written as kerchunk JSON or Parquet (`docs/combine.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use granary_pipeline::sink::{RefFormat, output_path, publish};
use granary_refs::combine::CombineReport;
use granary_refs::{AttrPolicy, Combined, OnDuplicate};
use granary_sql::{CombineOptions, combine};

use crate::sql::{InventoryArgs, open_session};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    Json,
    Parquet,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Duplicate {
    /// Refuse, naming the granules.
    Error,
    /// Keep the first granule of the cell in the selection's row order (use ORDER BY).
    First,
    /// Keep the last granule of the cell in the selection's row order (use ORDER BY).
    Last,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Attrs {
    /// Drop group attributes whose values differ between granules (listed in the summary).
    Drop,
    /// Turn them into arrays over the new dimensions.
    Array,
}

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
    /// Output: a `.json` file or a Parquet directory (`.parq`/`.parquet`). With
    /// `--partition-by`, `{}` in the path is replaced by the partition value.
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Output format (default: from the output suffix, `.json` → json, else parquet).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Two granules with the same coordinates.
    #[arg(long, value_enum, default_value_t = Duplicate::Error)]
    on_duplicate: Duplicate,
    /// Group attributes that differ between granules.
    #[arg(long, value_enum, default_value_t = Attrs::Drop)]
    attrs: Attrs,
    /// Arrays copied once after checking that they are identical in every granule.
    #[arg(long = "identical", value_delimiter = ',')]
    identical: Vec<String>,
    /// A selection column: one reference set per value.
    #[arg(long)]
    partition_by: Option<String>,
    /// Parquet rows per reference file.
    #[arg(long, default_value_t = granary_refs::DEFAULT_RECORD_SIZE)]
    record_size: u64,
    /// Replace existing outputs.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    inventory: InventoryArgs,
}

fn summary(c: &Combined, out: &Path, bytes: u64) {
    let r = &c.report;
    let axes: Vec<String> = r.axes.iter().map(|(d, n)| format!("{d}: {n}")).collect();
    eprintln!(
        "{}: {} granules, {} cells ({}), {} arrays, {} references, {} bytes",
        out.display(),
        r.granules,
        r.cells,
        axes.join(", "),
        c.arrays.len(),
        r.refs,
        bytes
    );
    print_details(r);
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
    let format = match args.format {
        Some(FormatArg::Json) => RefFormat::Json,
        Some(FormatArg::Parquet) => RefFormat::Parquet,
        None => RefFormat::from_path(&args.output),
    };
    let (ctx, failed) = open_session(&args.sources, &args.inventory).await?;
    let opts = CombineOptions {
        identical: args.identical.clone(),
        on_duplicate: match args.on_duplicate {
            Duplicate::Error => OnDuplicate::Error,
            Duplicate::First => OnDuplicate::First,
            Duplicate::Last => OnDuplicate::Last,
        },
        attrs: match args.attrs {
            Attrs::Drop => AttrPolicy::Drop,
            Attrs::Array => AttrPolicy::Array,
        },
        partition_by: args.partition_by.clone(),
        reader: Some(crate::extract::extractor(
            args.inventory.metadata,
            args.inventory.concurrency,
        )),
    };
    let parts = combine(&ctx, &sql, &opts).await?;
    for p in &parts {
        let out = output_path(&args.output, p.key.as_deref(), args.partition_by.as_deref())
            .map_err(|m| anyhow!(m))?;
        let bytes = publish(&p.combined, &out, format, args.record_size, args.overwrite)
            .map_err(|m| anyhow!(m))?;
        summary(&p.combined, &out, bytes);
    }
    eprintln!("combined in {:.2} s", started.elapsed().as_secs_f64());
    if failed > 0 {
        eprintln!("{failed} granule(s) could not be read and were not combined");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
