//! The outputs of `granary scan`: the task that scans a granule stages its JSON (written at
//! `<name>.json.partial`, not yet synced); one queue publishes them in batches with
//! [`BatchPublisher`]: one sync of the output directory's file system per batch, then each file
//! renamed into place. A batch closes when it holds [`MAX_FILES`] files, when its first file
//! has waited [`MAX_WAIT`], or when the run ends; a published output is therefore never more
//! than about [`MAX_WAIT`] behind its scan.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use granary_refs::{BatchPublisher, Staged};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use url::Url;

/// Files per batch, at most.
const MAX_FILES: usize = 256;
/// How long a staged file waits for its batch to fill, at most.
const MAX_WAIT: Duration = Duration::from_millis(250);

/// Publishes staged outputs in batches; [`finish`](Self::finish) returns the ones that failed.
pub struct OutputQueue {
    tx: mpsc::Sender<(Url, Staged)>,
    task: JoinHandle<Vec<(Url, anyhow::Error)>>,
}

/// Hands staged outputs to the queue.
#[derive(Clone)]
pub struct OutputSender(mpsc::Sender<(Url, Staged)>);

impl OutputSender {
    /// Queues `staged`, the output of `url`, for publishing.
    pub async fn send(&self, url: Url, staged: Staged) -> Result<()> {
        self.0.send((url, staged)).await.map_err(|e| {
            let (url, staged) = e.0;
            let out = staged.out().display().to_string();
            staged.discard();
            anyhow!("{url}: {out} was not published: the output queue stopped")
        })
    }
}

impl OutputQueue {
    /// Opens `dir`, where every output goes, and starts the queue. Call it before any output
    /// is staged (write-back errors since then are what a batch's sync reports). `exclusive`
    /// (an output directory, not one named file): the directory is locked for the run, so a
    /// second scan into it fails at once instead of racing on the same temporary names.
    pub fn start(dir: &Path, exclusive: bool) -> Result<Self> {
        let publisher = if exclusive {
            BatchPublisher::open_exclusive(dir)?
        } else {
            BatchPublisher::open(dir)?
        };
        let (tx, rx) = mpsc::channel(2 * MAX_FILES);
        let task = tokio::spawn(run(publisher, rx));
        Ok(OutputQueue { tx, task })
    }

    pub fn sender(&self) -> OutputSender {
        OutputSender(self.tx.clone())
    }

    /// Publishes what is still queued, once every sender is gone; returns the outputs that
    /// were not published, with why. An error: the queue itself failed (outputs may be left
    /// unpublished at `<name>.json.partial`).
    pub async fn finish(self) -> Result<Vec<(Url, anyhow::Error)>> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| anyhow!("the output queue failed: {e}"))
    }
}

/// Collects batches until every sender is gone; publishes each on the blocking pool.
async fn run(
    publisher: BatchPublisher,
    mut rx: mpsc::Receiver<(Url, Staged)>,
) -> Vec<(Url, anyhow::Error)> {
    let publisher = std::sync::Arc::new(publisher);
    let mut failed = Vec::new();
    let mut open = true;
    while open {
        let Some(first) = rx.recv().await else {
            break;
        };
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        let mut batch = vec![first];
        while batch.len() < MAX_FILES {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(next)) => batch.push(next),
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_elapsed) => break,
            }
        }
        let (urls, staged): (Vec<Url>, Vec<Staged>) = batch.into_iter().unzip();
        let p = publisher.clone();
        let results = match tokio::task::spawn_blocking(move || p.publish(staged)).await {
            Ok(results) => results
                .into_iter()
                .zip(&urls)
                .map(|(r, url)| {
                    r.map_err(|e| {
                        anyhow::Error::from(e).context(format!("{url}: output not published"))
                    })
                })
                .collect(),
            Err(e) => {
                let why = e.to_string();
                urls.iter()
                    .map(|url| Err(anyhow!("{url}: output not published: {why}")))
                    .collect::<Vec<_>>()
            }
        };
        for (url, r) in urls.into_iter().zip(results) {
            if let Err(e) = r {
                tracing::error!(url = %url, error = %crate::exit::message(&e), "Output not published.");
                failed.push((url, e));
            }
        }
    }
    failed
}
