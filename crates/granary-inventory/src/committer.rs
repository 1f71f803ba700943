//! The thread that commits an inventory build's parts (`commit.rs` is the protocol it follows).
//!
//! One thread for the whole build: every part's Arrow tables and Parquet buffers are allocated,
//! freed and reused on it, in one allocator arena. glibc gives each thread that allocates an
//! arena of its own and keeps freed memory there; parts committed on whichever blocking-pool
//! thread happened to be free spread a build's memory over several arenas (measured on 389
//! SWOT-like granules: `MALLOC_ARENA_MAX=1` alone took the peak from 128 MB to 55 MB).

use std::sync::mpsc;
use std::thread::JoinHandle;

use granary_core::GranuleManifest;
use tokio::sync::oneshot;

use crate::{ErrorRow, Inventory, InventoryDir, InventoryError};

type Reply = oneshot::Sender<Result<(), InventoryError>>;

/// A part to commit: its manifests and error rows, and where to say how it went.
struct Job {
    manifests: Vec<GranuleManifest>,
    errors: Vec<ErrorRow>,
    reply: Reply,
}

/// Owns the inventory directory for the rest of a build and commits parts one at a time.
pub(crate) struct Committer {
    path: String,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

fn commit_part(dir: &mut InventoryDir, job: Job) {
    let Job {
        mut manifests,
        errors,
        reply,
    } = job;
    manifests.sort_by(|a, b| a.url.cmp(&b.url));
    let done = Inventory::from_manifests(&manifests).and_then(|inv| {
        drop(manifests);
        dir.append(&inv, &errors)
    });
    // The build awaits every reply; if it was dropped (the build was cancelled), the part is
    // committed all the same and nobody needs to hear of it.
    let _ = reply.send(done);
}

impl Committer {
    /// Starts the committing thread, which takes `dir` over.
    pub(crate) fn start(dir: InventoryDir) -> Result<Self, InventoryError> {
        let path = dir.root().display().to_string();
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("granary-commit".into())
            .spawn(move || {
                let mut dir = dir;
                for job in queue {
                    commit_part(&mut dir, job);
                }
            })
            .map_err(|e| InventoryError::Task {
                path: path.clone(),
                reason: format!("cannot start the commit thread: {e}"),
            })?;
        Ok(Self {
            path,
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    fn gone(&self) -> InventoryError {
        InventoryError::Task {
            path: self.path.clone(),
            reason: "the commit thread stopped".into(),
        }
    }

    /// Commits one part (Parquet writes and fsync) and waits until it is durable.
    pub(crate) async fn commit(
        &self,
        manifests: Vec<GranuleManifest>,
        errors: Vec<ErrorRow>,
    ) -> Result<(), InventoryError> {
        let (reply, done) = oneshot::channel();
        let job = Job {
            manifests,
            errors,
            reply,
        };
        let jobs = self.jobs.as_ref().ok_or_else(|| self.gone())?;
        jobs.send(job).map_err(|_| self.gone())?;
        done.await.map_err(|_| self.gone())?
    }
}

impl Drop for Committer {
    /// Closes the queue and waits for the thread: every part sent has been committed by then.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
