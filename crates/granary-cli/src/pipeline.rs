//! `granary run | validate | plan | list`: pipeline files (`docs/pipeline-spec.md`). Exit
//! codes as every command (`exit.rs`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use std::sync::Arc;

use anyhow::Result;
use granary_pipeline::components::{Kind, REGISTRY};
use granary_pipeline::{PipelineError, RunOptions, load, plan, run};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The pipeline file (TOML).
    file: PathBuf,
    /// Inventory in memory and run every step, but write nothing: report what would be written.
    #[arg(long)]
    dry_run: bool,
    /// Only the first N granules of the source (sorted by URL); their state is kept apart.
    #[arg(long)]
    prune: Option<usize>,
    /// Output path of the pipeline's (single) sink, replacing its `path`.
    #[arg(long)]
    target: Option<String>,
    /// Override a setting: `--set transforms.combine.on_duplicate=last` (value parsed as TOML,
    /// else taken as a string). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print I/O counters (requests, bytes, round trips; credential fetches) at the end.
    #[arg(long)]
    io_stats: bool,
    /// Scan on a cluster of granary executors (the scheduler's df://HOST:PORT), whatever the
    /// pipeline's [engine] says. Listing, combining and writing stay here.
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

#[derive(clap::Args)]
pub struct FileArgs {
    /// The pipeline file (TOML).
    file: PathBuf,
    /// Override a setting (see `granary run --help`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

fn config_error(e: PipelineError) -> ExitCode {
    crate::exit::report(&anyhow::Error::new(e))
}

pub async fn run_pipeline(args: RunArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let p = match load(&args.file, &args.sets) {
        Ok(p) => p,
        Err(e) => return Ok(config_error(e)),
    };
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} granules {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let progress_bar = bar.clone();
    let opts = RunOptions {
        dry_run: args.dry_run,
        prune: args.prune,
        target: args.target.clone(),
        cluster: args.cluster.clone(),
        progress: Some(Arc::new(move |stage: &str, done: usize, total: usize| {
            progress_bar.set_message(stage.to_string());
            progress_bar.set_length(total as u64);
            progress_bar.set_position(done as u64);
        })),
    };
    let result = run(&p, &opts).await;
    bar.finish_and_clear();
    let report = match result {
        Ok(r) => r,
        Err(e) => return Ok(config_error(e)),
    };
    eprintln!(
        "{}: {} granules listed, {} unchanged, {} scanned, {} failed",
        p.name, report.listed, report.unchanged, report.scanned, report.failed
    );
    for o in &report.outputs {
        let r = &o.report;
        let axes: Vec<String> = r.axes.iter().map(|(d, n)| format!("{d}: {n}")).collect();
        eprintln!(
            "{} {} [{}]: {} granules, {} cells ({}), {} references{}",
            if args.dry_run { "would write" } else { "wrote" },
            o.path.display(),
            o.sink,
            r.granules,
            r.cells,
            axes.join(", "),
            r.refs,
            if args.dry_run {
                String::new()
            } else {
                format!(", {} bytes", o.bytes)
            }
        );
        crate::combine::print_commit(o);
        crate::combine::print_details(r);
    }
    for f in &report.failures {
        eprintln!("failed [{}] {}: {}", f.stage, f.url, f.message);
    }
    crate::exit::print_skipped(report.skipped.iter().map(|e| {
        (
            e.url.as_str(),
            e.array.as_deref().unwrap_or(""),
            e.message.as_str(),
        )
    }));
    let left_out = report
        .outputs
        .iter()
        .any(|o| !o.report.skipped_arrays.is_empty());
    if args.io_stats {
        let line = |s: &granary_io::IoStatsSnapshot| {
            format!(
                "{} requests, {} bytes, {} round trips, {:.2} s waited (summed over concurrent granules)",
                s.requests,
                s.bytes,
                s.round_trips,
                s.wait_micros as f64 / 1e6
            )
        };
        eprintln!(
            "io: {}; {} credential fetches",
            line(&report.io),
            report.credential_fetches
        );
        for (store, s) in &report.io_per_store {
            eprintln!("  {store}: {}", line(s));
        }
    }
    eprintln!("done in {:.2} s", started.elapsed().as_secs_f64());
    if report.failed > 0 {
        eprintln!(
            "{} granule(s) failed and are not in the outputs (the errors table of {} lists them)",
            report.failed,
            p.state_dir.join("inventory").display()
        );
        return Ok(ExitCode::from(crate::exit::PARTIAL));
    }
    if left_out || !report.skipped.is_empty() {
        return Ok(ExitCode::from(crate::exit::PARTIAL));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn validate(args: FileArgs) -> Result<ExitCode> {
    match load(&args.file, &args.sets) {
        Ok(p) => {
            println!(
                "{}: valid ({} sql transform(s), {} sink(s))",
                args.file.display(),
                p.sql.len(),
                p.sinks.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(config_error(e)),
    }
}

pub async fn plan_pipeline(args: FileArgs) -> Result<ExitCode> {
    let p = match load(&args.file, &args.sets) {
        Ok(p) => p,
        Err(e) => return Ok(config_error(e)),
    };
    match plan::describe(&p).await {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(config_error(e)),
    }
}

pub fn list() -> ExitCode {
    for kind in [Kind::Source, Kind::Extractor, Kind::Transform, Kind::Sink] {
        println!("{}:", kind.table());
        for c in REGISTRY.iter().filter(|c| c.kind == kind) {
            let accepts = if c.accepts.is_empty() {
                String::new()
            } else {
                format!(" (inputs: {})", c.accepts.join(", "))
            };
            println!("  {:<18} {}{accepts}", c.name, c.description);
        }
    }
    ExitCode::SUCCESS
}
