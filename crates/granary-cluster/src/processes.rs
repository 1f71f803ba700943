//! granary's scheduler and executor: Ballista's, embedded with granary's codecs
//! ([`codec`](crate::codec)), so the scan node travels and runs. `granary cluster scheduler`
//! and `granary cluster executor` run these until they are stopped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

use crate::codec::{GranaryLogicalCodec, GranaryPhysicalCodec};
use crate::{ClusterError, ExtractorFactory};

/// Settings of a scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Where it listens (executors and clients connect here).
    pub bind: SocketAddr,
    /// An executor not heard from for this long is lost: its tasks run again elsewhere.
    pub executor_timeout_secs: u64,
}

/// Runs a scheduler until the process stops.
pub async fn run_scheduler(s: &SchedulerSettings) -> Result<(), ClusterError> {
    let process = |source| ClusterError::Process {
        role: "scheduler",
        address: s.bind.to_string(),
        source,
    };
    let config = SchedulerConfig {
        bind_host: s.bind.ip().to_string(),
        bind_port: s.bind.port(),
        external_host: s.bind.ip().to_string(),
        executor_timeout_seconds: s.executor_timeout_secs,
        // Checked at least twice per timeout, so a lost executor is found within it.
        expire_dead_executor_interval_seconds: (s.executor_timeout_secs / 2).clamp(1, 15),
        no_executors_grace_period_seconds: s.executor_timeout_secs,
        override_logical_codec: Some(Arc::new(GranaryLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(GranaryPhysicalCodec::default())),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(process)?;
    start_server(cluster, s.bind, Arc::new(config))
        .await
        .map_err(process)
}

/// Settings of an executor.
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// The scheduler's host and port.
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// The host it binds and is reached at.
    pub host: String,
    /// Its Arrow Flight port (results are fetched here) and its gRPC port (tasks arrive here).
    pub flight_port: u16,
    pub grpc_port: u16,
    /// Tasks it runs at the same time.
    pub task_slots: usize,
    /// Where task outputs wait to be fetched (default: a new temporary directory).
    pub work_dir: Option<PathBuf>,
    /// How often it tells the scheduler it is alive.
    pub heartbeat_secs: u64,
}

/// Runs an executor until the process stops; `factory` builds each scan's extractor.
pub async fn run_executor(
    s: &ExecutorSettings,
    factory: Arc<dyn ExtractorFactory>,
) -> Result<(), ClusterError> {
    let config = ExecutorProcessConfig {
        bind_host: s.host.clone(),
        external_host: Some(s.host.clone()),
        port: s.flight_port,
        grpc_port: s.grpc_port,
        scheduler_host: s.scheduler_host.clone(),
        scheduler_port: s.scheduler_port,
        scheduler_connect_timeout_seconds: 10,
        vcores: s.task_slots.max(1),
        work_dir: s.work_dir.as_ref().map(|p| p.display().to_string()),
        print_thread_info: false,
        executor_heartbeat_interval_seconds: s.heartbeat_secs.max(1),
        override_logical_codec: Some(Arc::new(GranaryLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(GranaryPhysicalCodec::with_factory(factory))),
        ..Default::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|source| ClusterError::Process {
            role: "executor",
            address: format!("{}:{}", s.host, s.flight_port),
            source,
        })
}
