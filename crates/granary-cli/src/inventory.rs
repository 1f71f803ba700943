//! `granary inventory build SOURCE... -o DIR`: the collection's inventory as Parquet tables,
//! built incrementally (`granary-inventory`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use granary_cluster::{ClusterScanner, ScanRecipe};
use granary_inventory::{BuildOptions, GranuleScanner, build_inventory};
use indicatif::{ProgressBar, ProgressStyle};

use granary_extract::MetadataRoute;

use crate::extract::{ExtractArgs, extractor};

#[derive(clap::Subcommand)]
pub enum InventoryCommand {
    /// Scan granules into an inventory directory (Parquet tables granules, dimensions,
    /// variables, attributes, chunks, errors). Granules already present with the same size
    /// and ETag are not scanned again; a killed build leaves the last commit intact.
    Build(BuildArgs),
}

#[derive(clap::Args)]
pub struct BuildArgs {
    /// Granules: files, directories, globs or URLs.
    #[arg(required = true)]
    sources: Vec<String>,
    /// The inventory directory (created when absent).
    #[arg(short, long)]
    output: PathBuf,
    /// Where metadata comes from.
    #[arg(long, value_enum, default_value_t = MetadataRoute::Auto)]
    metadata: MetadataRoute,
    #[command(flatten)]
    trust: ExtractArgs,
    /// Granules scanned at the same time (default: 4 per core for local files, 16 per core
    /// (16 to 256) when any granule is remote).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Granules per committed part, at most.
    #[arg(long, default_value_t = 512)]
    part_size: usize,
    /// Manifest memory per committed part, at most (MiB).
    #[arg(long, default_value_t = granary_inventory::DEFAULT_PART_MIB)]
    part_mib: usize,
    /// Print I/O counters at the end.
    #[arg(long)]
    io_stats: bool,
    #[command(flatten)]
    cluster: crate::cluster::ClusterArgs,
}

pub async fn run(cmd: InventoryCommand) -> Result<ExitCode> {
    let InventoryCommand::Build(args) = cmd;
    let ex = extractor(args.metadata, args.concurrency, &args.trust);
    let scanner = match args.cluster.options() {
        Some(opts) => {
            Some(ClusterScanner::connect(opts, ScanRecipe::of(&ex, Default::default())).await?)
        }
        None => None,
    };
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} granules {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let start = Instant::now();
    let mut progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let report = build_inventory(
        &ex,
        &args.sources,
        &args.output,
        &BuildOptions {
            part_size: args.part_size,
            part_bytes: granary_inventory::part_bytes_of_mib(args.part_mib),
            scanner: scanner.as_ref().map(|s| s as &dyn GranuleScanner),
            ..Default::default()
        },
        &mut progress,
    )
    .await?;
    bar.finish_and_clear();
    eprintln!(
        "inventory {}: {} listed, {} unchanged, {} scanned, {} failed, {} retired in {:.2} s",
        args.output.display(),
        report.listed,
        report.unchanged,
        report.scanned,
        report.failed,
        report.retired,
        start.elapsed().as_secs_f64()
    );
    if args.io_stats {
        let s = ex.stats().snapshot();
        eprintln!(
            "io: {} requests, {} bytes, {} round trips",
            s.requests, s.bytes, s.round_trips
        );
    }
    // Arrays left out of the committed granules (this build's and earlier ones').
    let skipped: Vec<_> = granary_inventory::InventoryDir::open(&args.output)?
        .errors()?
        .into_iter()
        .filter(|e| e.array.is_some())
        .collect();
    crate::exit::print_skipped(skipped.iter().map(|e| {
        (
            e.url.as_str(),
            e.array.as_deref().unwrap_or(""),
            e.message.as_str(),
        )
    }));
    if report.failed > 0 {
        eprintln!(
            "{} granule(s) failed; see them with: granary sql {} -c 'SELECT * FROM errors'",
            report.failed,
            args.output.display()
        );
        return Ok(ExitCode::from(crate::exit::PARTIAL));
    }
    if !skipped.is_empty() {
        return Ok(ExitCode::from(crate::exit::PARTIAL));
    }
    Ok(ExitCode::SUCCESS)
}
