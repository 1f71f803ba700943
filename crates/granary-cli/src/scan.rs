//! `granary scan`: HDF5 scan → kerchunk JSON per granule, many granules concurrently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use futures::StreamExt;
use granary_core::SkippedArray;
use granary_extract::{Extractor, inputs};
use granary_refs::{Overwrite, PublishError, single_granule_refs, stage};
use indicatif::{ProgressBar, ProgressStyle};
use url::Url;

use granary_extract::MetadataRoute;

use crate::extract::{ExtractArgs, extractor};
use crate::scan_outputs::{OutputQueue, OutputSender};

#[derive(clap::Args)]
pub struct ScanArgs {
    /// Granules: local files, directories (searched for .nc/.h5/... files) or URLs.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// Output: a file for a single input, otherwise a directory (one `<name>.json` per granule).
    #[arg(short, long)]
    output: PathBuf,
    /// Inline chunks whose stored size is below this many bytes (0 = reference every chunk).
    #[arg(long, default_value_t = 0)]
    inline_threshold: u64,
    /// Granules scanned at the same time (default: 4 per core for local files, 16 per core
    /// (16 to 256) when any granule is remote).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Where metadata comes from: the DMR++ sidecar (`<granule>.dmrpp`), the HDF5 file, or the
    /// sidecar when present and usable (auto).
    #[arg(long, value_enum, default_value_t = MetadataRoute::Auto)]
    metadata: MetadataRoute,
    #[command(flatten)]
    trust: ExtractArgs,
    /// Print I/O counters (requests, bytes, round trips) at the end.
    #[arg(long)]
    io_stats: bool,
}

/// One granule: extract, inline small chunks, stage its JSON and queue it for publishing
/// (replacing an earlier one); returns the arrays left out.
async fn one(
    ex: Extractor,
    url: Url,
    out: PathBuf,
    inline: u64,
    outputs: OutputSender,
) -> Result<Vec<SkippedArray>> {
    let manifest = ex.extract(&url).await?;
    let mut refs = single_granule_refs(&manifest)?;
    if inline > 0 {
        let wanted = refs.inline_candidates(inline);
        refs.inline(&ex.read_ranges(&wanted).await?.into_iter().collect());
    }
    // The JSON text is made here, where the references were built and are freed, and written
    // here too: without its sync (the queue syncs a batch at once, scan_outputs) the write is
    // a copy into the page cache, which costs less than a hand-off to the blocking pool (on
    // two cores the hand-off made the scan 15-18 % slower, docs/benchmarks.md).
    let mut text = Vec::new();
    refs.write_json(&mut text)?;
    drop(refs);
    let staged = stage(&out, Overwrite::Replace, |tmp| {
        let io = |source| PublishError::Io {
            action: "write",
            path: tmp.display().to_string(),
            source,
        };
        let mut file = std::fs::File::create(tmp).map_err(io)?;
        std::io::Write::write_all(&mut file, &text).map_err(io)?;
        Ok(text.len() as u64)
    })?;
    outputs.send(url, staged).await?;
    Ok(manifest.skipped)
}

fn output_for(args: &ScanArgs, urls: &[Url]) -> Result<Vec<PathBuf>> {
    let single =
        urls.len() == 1 && !args.output.is_dir() && !args.output.to_string_lossy().ends_with('/');
    if single {
        let ext = args.output.extension().and_then(|e| e.to_str());
        if matches!(ext, Some("parq" | "parquet")) {
            return Err(anyhow!(
                "granary scan writes kerchunk JSON; {} names a Parquet reference set (write one with `granary combine`, or name the output .json)",
                args.output.display()
            ));
        }
        if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        return Ok(vec![args.output.clone()]);
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut names = std::collections::HashSet::new();
    urls.iter()
        .map(|u| {
            let name = format!("{}.json", inputs::basename(u));
            if !names.insert(name.clone()) {
                return Err(anyhow!(
                    "two inputs share the file name {name}; scan them into separate directories"
                ));
            }
            Ok(Path::new(&args.output).join(name))
        })
        .collect()
}

pub async fn run(args: ScanArgs) -> Result<ExitCode> {
    let urls = inputs::expand(&args.inputs)?;
    if urls.is_empty() {
        return Err(anyhow!("no granules found in {:?}", args.inputs));
    }
    let outs = output_for(&args, &urls)?;
    // Every output is in one directory: the output directory (locked for the run), or the
    // single output's parent (not locked: scans of other single files may write there too).
    let dir = outs
        .first()
        .and_then(|p| p.parent())
        .unwrap_or(Path::new(""));
    let queue = OutputQueue::start(dir, outs.first() != Some(&args.output))?;
    let ex = extractor(args.metadata, args.concurrency, &args.trust);
    let stats = ex.stats().clone();
    let bar = if urls.len() > 1 && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = ProgressBar::new(urls.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} granules {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let start = Instant::now();
    let mut failures: Vec<(Url, anyhow::Error)> = Vec::new();
    let mut skipped: Vec<(Url, SkippedArray)> = Vec::new();
    let outs: Arc<HashMap<Url, PathBuf>> = Arc::new(urls.iter().cloned().zip(outs).collect());
    let inline = args.inline_threshold;
    let sender = queue.sender();
    let results = ex.map_many(urls.clone(), move |ex, url| {
        let out = outs.get(&url).cloned();
        let sender = sender.clone();
        async move {
            let out = out.ok_or_else(|| anyhow!("{url}: no output path"))?;
            one(ex, url, out, inline, sender).await
        }
    });
    // The stream (and the senders its tasks hold) ends before the queue is drained.
    let mut results = Box::pin(results);
    while let Some((url, r)) = results.next().await {
        bar.inc(1);
        match r {
            Ok(s) => skipped.extend(s.into_iter().map(|s| (url.clone(), s))),
            Err(e) => {
                tracing::error!(url = %url, error = %crate::exit::message(&e), "Granule failed.");
                failures.push((url, e));
            }
        }
    }
    drop(results);
    failures.extend(queue.finish().await?);
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let ok = urls.len() - failures.len();
    eprintln!("scanned {ok} of {} granules in {secs:.2} s", urls.len());
    if args.io_stats {
        let s = stats.snapshot();
        eprintln!(
            "io: {} requests, {} bytes, {} round trips ({:.1} requests/granule, {} granules in flight)",
            s.requests,
            s.bytes,
            s.round_trips,
            s.requests as f64 / urls.len() as f64,
            ex.concurrency_for(&urls)
        );
    }
    crate::exit::print_skipped(
        skipped
            .iter()
            .map(|(u, s)| (u.as_str(), s.path.as_str(), s.reason.as_str())),
    );
    if failures.is_empty() {
        return Ok(if skipped.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(crate::exit::PARTIAL)
        });
    }
    eprintln!("{} granule(s) failed:", failures.len());
    // Every error already names its granule URL and object.
    for (_, e) in &failures {
        eprintln!("  {}", crate::exit::message(e));
    }
    Ok(ExitCode::from(crate::exit::PARTIAL))
}
