//! `granary cluster scheduler` and `granary cluster executor`: granary's own Ballista
//! processes (`docs/scale-out.md`). Stock Ballista processes cannot run granary's scan.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use granary_cluster::processes::{
    ExecutorSettings, SchedulerSettings, run_executor, run_scheduler,
};
use granary_cluster::{ClusterOptions, EnvironmentStores, split_host_port};

#[derive(clap::Subcommand)]
pub enum ClusterCommand {
    /// Run a scheduler: clients (`--cluster df://HOST:PORT`) send it scans, executors run them.
    Scheduler(SchedulerArgs),
    /// Run an executor: it registers with the scheduler and runs scan tasks, reading granules
    /// with the credentials of its own environment.
    Executor(ExecutorArgs),
}

#[derive(clap::Args)]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50050")]
    bind: SocketAddr,
    /// Seconds without a heartbeat after which an executor is lost and its tasks run again
    /// elsewhere.
    #[arg(long, default_value_t = 60)]
    executor_timeout_secs: u64,
}

#[derive(clap::Args)]
pub struct ExecutorArgs {
    /// The scheduler, HOST:PORT (or df://HOST:PORT).
    #[arg(long)]
    scheduler: String,
    /// Host this executor binds and is reached at by the scheduler and clients.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Arrow Flight port (clients fetch results here).
    #[arg(long, default_value_t = 50051)]
    flight_port: u16,
    /// gRPC port (the scheduler sends tasks here).
    #[arg(long, default_value_t = 50052)]
    grpc_port: u16,
    /// Tasks run at the same time (default: the number of cores).
    #[arg(long)]
    task_slots: Option<usize>,
    /// Where task outputs wait to be fetched (default: a new temporary directory).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Seconds between heartbeats to the scheduler.
    #[arg(long, default_value_t = 5)]
    heartbeat_secs: u64,
}

/// Options of `--cluster` on commands that scan.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ClusterArgs {
    /// Scan on a cluster of granary executors: the scheduler's df://HOST:PORT. Listing and
    /// committing stay here; the inventory is the same as an embedded run's.
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
    /// Granules per cluster task (the unit an executor runs, and reruns elsewhere when its
    /// executor is lost).
    #[arg(long, default_value_t = ClusterOptions::DEFAULT_GRANULES_PER_TASK)]
    pub granules_per_task: usize,
    /// Granules per cluster job: results come back, and are committed, job by job.
    #[arg(long, default_value_t = ClusterOptions::DEFAULT_GRANULES_PER_JOB)]
    pub granules_per_job: usize,
}

impl ClusterArgs {
    /// The cluster options, when `--cluster` was given.
    pub fn options(&self) -> Option<ClusterOptions> {
        self.cluster.as_ref().map(|url| ClusterOptions {
            scheduler: url.clone(),
            granules_per_task: self.granules_per_task,
            granules_per_job: self.granules_per_job,
        })
    }
}

pub async fn run(cmd: ClusterCommand) -> Result<ExitCode> {
    match cmd {
        ClusterCommand::Scheduler(a) => {
            eprintln!("granary scheduler listening on {}", a.bind);
            run_scheduler(&SchedulerSettings {
                bind: a.bind,
                executor_timeout_secs: a.executor_timeout_secs,
            })
            .await?;
        }
        ClusterCommand::Executor(a) => {
            let address = a.scheduler.trim_start_matches("df://");
            let (host, port) = split_host_port(address)
                .with_context(|| format!("--scheduler {}: expected HOST:PORT", a.scheduler))?;
            let host = host.to_string();
            let slots = a
                .task_slots
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            eprintln!(
                "granary executor on {}:{} ({} task slots), scheduler {host}:{port}",
                a.host, a.flight_port, slots
            );
            run_executor(
                &ExecutorSettings {
                    scheduler_host: host,
                    scheduler_port: port,
                    host: a.host,
                    flight_port: a.flight_port,
                    grpc_port: a.grpc_port,
                    task_slots: slots,
                    work_dir: a.work_dir,
                    heartbeat_secs: a.heartbeat_secs,
                },
                Arc::new(EnvironmentStores::default()),
            )
            .await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
