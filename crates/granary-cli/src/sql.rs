//! `granary sql`: SQL over the inventory of granules scanned on the fly (the persisted inventory
//! directory comes with the inventory issue). `-c SQL`, `-f FILE`, or statements read from
//! standard input (separated by `;`).

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use futures::StreamExt;
use granary_core::GranuleManifest;
use granary_io::{IoStats, StoreRegistry};
use granary_sql::{Format, Inventory, SWOT_NAME_PATTERN, pattern, query, render, session};

use crate::extract::{self, Metadata};
use crate::inputs;

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    Table,
    Csv,
    Json,
    Ndjson,
}

#[derive(clap::Args)]
pub struct SqlArgs {
    /// Granules to inventory: files, directories or URLs.
    #[arg(required = true)]
    sources: Vec<String>,
    /// Run this SQL.
    #[arg(short = 'c', long = "command", conflicts_with = "file")]
    command: Option<String>,
    /// Run the SQL in this file.
    #[arg(short = 'f', long)]
    file: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Regex matched against file names; its named groups become `granules` columns
    /// (default: the SWOT L2 pattern with `cycle`, `pass`, `start`, `end`).
    #[arg(long, default_value = SWOT_NAME_PATTERN)]
    pattern: String,
    /// Where metadata comes from.
    #[arg(long, value_enum, default_value_t = Metadata::Auto)]
    metadata: Metadata,
    /// Granules scanned at the same time.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

/// Splits a script into statements at `;` outside quotes.
fn statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for line in script.lines() {
        let line = if quote.is_none() {
            line.split("--").next().unwrap_or("")
        } else {
            line
        };
        for ch in line.chars() {
            match (quote, ch) {
                (None, '\'' | '"') => quote = Some(ch),
                (Some(q), c) if c == q => quote = None,
                (None, ';') => {
                    if !cur.trim().is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                    continue;
                }
                _ => {}
            }
            cur.push(ch);
        }
        cur.push('\n');
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

pub async fn run(args: SqlArgs) -> Result<ExitCode> {
    let script = match (&args.command, &args.file) {
        (Some(c), _) => c.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        (None, None) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read SQL from standard input")?;
            s
        }
    };
    let urls = inputs::expand(&args.sources)?;
    if urls.is_empty() {
        return Err(anyhow!("no granules found in {:?}", args.sources));
    }
    let registry = Arc::new(StoreRegistry::new());
    let stats = Arc::new(IoStats::default());
    let mut manifests: Vec<GranuleManifest> = Vec::with_capacity(urls.len());
    let mut failed = 0usize;
    let tasks = urls.iter().cloned().map(|url| {
        let (registry, stats, metadata) = (registry.clone(), stats.clone(), args.metadata);
        async move {
            (
                url.clone(),
                tokio::spawn(
                    async move { extract::extract(&registry, &url, metadata, &stats).await },
                )
                .await,
            )
        }
    });
    let mut results = futures::stream::iter(tasks).buffer_unordered(args.concurrency.max(1));
    while let Some((url, r)) = results.next().await {
        match r
            .map_err(|e| anyhow!("scan task failed: {e}"))
            .and_then(|r| r)
        {
            Ok(m) => manifests.push(m),
            Err(e) => {
                failed += 1;
                eprintln!("skipping {url}: {e:#}");
            }
        }
    }
    manifests.sort_by(|a, b| a.url.cmp(&b.url));
    let inv = Inventory::build(&manifests, Some(&pattern(&args.pattern)?))?;
    let ctx = session(&inv)?;
    let format = match args.format {
        OutputFormat::Table => Format::Table,
        OutputFormat::Csv => Format::Csv,
        OutputFormat::Json => Format::Json,
        OutputFormat::Ndjson => Format::NdJson,
    };
    for stmt in statements(&script) {
        let batches = query(&ctx, &stmt).await?;
        print!("{}", render(&batches, format)?);
    }
    if failed > 0 {
        eprintln!("{failed} granule(s) could not be read and are not in the inventory");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_outside_quotes_and_comments() {
        let s = statements("SELECT 'a;b'; -- c; d\nSELECT 2;\n");
        assert_eq!(s.len(), 2);
        assert!(s[0].contains("'a;b'"));
    }
}
