//! `granary`: build kerchunk reference sets for NetCDF-4/HDF5 granules in object storage.

mod cluster;
mod combine;
mod exit;
mod extract;
mod inspect;
mod inventory;
mod pipeline;
mod scan;
mod scan_outputs;
mod sql;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "granary",
    version,
    about = "Virtual Zarr references for NetCDF-4/HDF5 granule collections."
)]
struct Cli {
    /// Log level filter (error, warn, info, debug, trace) or a tracing directive.
    #[arg(long, global = true, default_value = "warn", env = "GRANARY_LOG")]
    log: String,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Scan granules and write one kerchunk JSON reference file per granule.
    Scan(scan::ScanArgs),
    /// Print a concise summary of a granule's manifest (groups, dims, arrays, chunks).
    Inspect(inspect::InspectArgs),
    /// Query the inventory of granules with SQL (tables: granules, dimensions, variables,
    /// attributes, chunks, errors; table functions hdf5_scan, dmrpp_scan).
    Sql(sql::SqlArgs),
    /// Combine the granules a SQL query selects into one kerchunk reference set (JSON or
    /// Parquet) along new dimensions (e.g. cycle × pass) or an existing one.
    Combine(Box<combine::CombineArgs>),
    /// Run a pipeline file: inventory (incremental, resumable), SQL, combine, sinks.
    Run(pipeline::RunArgs),
    /// Check a pipeline file (errors at file:line:col).
    Validate(pipeline::FileArgs),
    /// Print a pipeline's component graph and the plans of its SQL transforms.
    Plan(pipeline::FileArgs),
    /// List the registered component types of pipeline files.
    List,
    /// Build or update a persisted inventory (Parquet tables).
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// Run granary's scheduler or executor, to scan on a cluster (Apache DataFusion Ballista).
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Icechunk warns that local repositories are unsafe for concurrent commits; with repository
    // format 1 a branch moves by creating a new ref object (create-if-absent), so the second of
    // two concurrent commits fails with a conflict (crates/granary-icechunk/tests/commit.rs):
    // that warning is left out unless asked for by a directive naming it.
    let quiet = "icechunk::storage::object_store=error";
    let directives = if cli.log.contains("icechunk") {
        cli.log.clone()
    } else {
        format!("{},{quiet}", cli.log)
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("warn,{quiet}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Scan(args) => scan::run(args).await,
            Command::Inspect(args) => inspect::run(args).await,
            Command::Sql(args) => sql::run(args).await,
            Command::Combine(args) => combine::run(*args).await,
            Command::Run(args) => pipeline::run_pipeline(args).await,
            Command::Validate(args) => pipeline::validate(args).await,
            Command::Plan(args) => pipeline::plan_pipeline(args).await,
            Command::List => Ok(pipeline::list()),
            Command::Inventory(cmd) => inventory::run(cmd).await,
            Command::Cluster(cmd) => cluster::run(cmd).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => exit::report(&e),
    }
}
