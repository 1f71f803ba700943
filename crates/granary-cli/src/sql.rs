//! `granary sql`: SQL over an inventory directory, over granules inventoried on the fly, or over
//! the table functions alone (`hdf5_scan`, `dmrpp_scan`). `-c SQL`, `-f FILE`, statements from a
//! pipe, or an interactive prompt with line editing when standard input is a terminal.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use datafusion::prelude::SessionContext;
use granary_extract::MetadataRoute;
use granary_inventory::{InventoryDir, NamePattern, inventory_in_memory};
use granary_sql::{
    Access, Format, base_session, in_memory_session, query, render, session_for_dir,
};

use crate::extract::{ExtractArgs, extractor};

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    Table,
    Csv,
    Json,
    Ndjson,
}

#[derive(clap::Args)]
pub struct SqlArgs {
    /// An inventory directory (from `granary inventory build`), or granules to inventory now:
    /// files, directories, globs or URLs. None: only the table functions `hdf5_scan(...)` and
    /// `dmrpp_scan(...)` are available.
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
    #[command(flatten)]
    inventory: InventoryArgs,
    /// Run the queries on a cluster of granary executors (the scheduler's df://HOST:PORT).
    /// Over an inventory directory only; its executors read the Parquet parts at the same
    /// paths (one machine, or a shared file system).
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

/// How granules named on the command line are inventoried (shared by `sql` and `combine`).
#[derive(clap::Args)]
pub struct InventoryArgs {
    /// File-name pattern whose named groups become `granules` columns: a preset (`swot`:
    /// `product`, `cycle`, `pass`, `start`, `end` of SWOT L2 LR SSH names) or a regex
    /// (default: none).
    #[arg(long)]
    pub pattern: Option<String>,
    /// Where metadata comes from (granules inventoried now).
    #[arg(long, value_enum, default_value_t = MetadataRoute::Auto)]
    pub metadata: MetadataRoute,
    /// Granules scanned at the same time (granules inventoried now; default: 4 per core for
    /// local files, 64 when any granule is remote).
    #[arg(long)]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub trust: ExtractArgs,
}

/// Splits a script into statements at `;` outside quotes and `--` comments.
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

fn is_inventory(sources: &[String]) -> bool {
    sources.len() == 1 && Path::new(&sources[0]).join("_inventory.json").is_file()
}

/// The session over `sources`: an inventory directory, or granules inventoried now (then also
/// the number of granules that failed, each listed on standard error and in the `errors`
/// table), or only the table functions when there is none.
pub async fn open_session(
    sources: &[String],
    inv: &InventoryArgs,
) -> Result<(SessionContext, usize)> {
    let pattern = inv.pattern.as_deref().map(NamePattern::parse).transpose()?;
    if sources.is_empty() {
        return Ok((base_session(), 0));
    }
    if is_inventory(sources) {
        let dir = InventoryDir::open(Path::new(&sources[0]))?;
        return Ok((session_for_dir(&dir, pattern.as_ref())?, 0));
    }
    let ex = extractor(inv.metadata, inv.concurrency, &inv.trust);
    let mem = inventory_in_memory(&ex, sources, pattern.as_ref(), &mut |_, _| {}).await?;
    if mem.listed == 0 {
        return Err(anyhow!("no granules found in {sources:?}"));
    }
    for e in &mem.errors {
        eprintln!("skipping {}: {}", e.url, e.message);
    }
    Ok((in_memory_session(&mem)?, mem.errors.len()))
}

async fn run_script(ctx: &SessionContext, script: &str, format: Format) -> Result<()> {
    for stmt in statements(script) {
        let batches = query(ctx, &stmt, Access::Any).await?;
        print!("{}", render(&batches, format)?);
    }
    Ok(())
}

/// The interactive prompt: statements end with `;`; `\q` or Ctrl-D quits. Errors are printed
/// and the prompt continues.
async fn repl(ctx: &SessionContext, format: Format) -> Result<()> {
    let mut editor = rustyline::DefaultEditor::new().context("cannot start the line editor")?;
    let mut buffer = String::new();
    eprintln!("granary sql: end statements with `;`, `\\q` quits.");
    loop {
        let prompt = if buffer.is_empty() {
            "granary> "
        } else {
            "      -> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if buffer.is_empty() && line.trim() == "\\q" {
                    return Ok(());
                }
                buffer.push_str(&line);
                buffer.push('\n');
                if !line.trim_end().ends_with(';') {
                    continue;
                }
                let _ = editor.add_history_entry(buffer.trim_end());
                if let Err(e) = run_script(ctx, &std::mem::take(&mut buffer), format).await {
                    eprintln!("error: {}", crate::exit::message(&e));
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => buffer.clear(),
            Err(rustyline::error::ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(e).context("cannot read from the terminal"),
        }
    }
}

pub async fn run(args: SqlArgs) -> Result<ExitCode> {
    let format = match args.format {
        OutputFormat::Table => Format::Table,
        OutputFormat::Csv => Format::Csv,
        OutputFormat::Json => Format::Json,
        OutputFormat::Ndjson => Format::NdJson,
    };
    let (ctx, failed) = match &args.cluster {
        None => open_session(&args.sources, &args.inventory).await?,
        Some(url) => {
            if !is_inventory(&args.sources) {
                return Err(anyhow!(
                    "--cluster runs SQL over one inventory directory (from `granary inventory build`); granules scanned now and the table functions run here"
                ));
            }
            let ctx = granary_cluster::remote_context(url, "granary sql").await?;
            let pattern = args
                .inventory
                .pattern
                .as_deref()
                .map(NamePattern::parse)
                .transpose()?;
            let dir = InventoryDir::open(Path::new(&args.sources[0]))?;
            granary_sql::register_dir(&ctx, &dir, pattern.as_ref())?;
            (ctx, 0)
        }
    };
    match (&args.command, &args.file) {
        (Some(c), _) => run_script(&ctx, c, format).await?,
        (None, Some(f)) => {
            let script = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            run_script(&ctx, &script, format).await?
        }
        (None, None) if std::io::stdin().is_terminal() => repl(&ctx, format).await?,
        (None, None) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read SQL from standard input")?;
            run_script(&ctx, &s, format).await?
        }
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
