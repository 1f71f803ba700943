//! Publishing many outputs with one sync (the per-granule files of `granary scan`).
//!
//! Each output is staged as [`crate::publish::stage`] does it (written at `OUT.partial`, not
//! synced), then a batch of them is made durable at once and only then renamed into place, so
//! the publish contract of [`crate::publish`] holds: a reader never sees a half-written output,
//! and a crash never leaves an empty one under its name.
//!
//! On Linux a batch of two or more files in the output directory is made durable by one
//! `syncfs(2)` of the file system holding the directory: one journal commit and one device
//! flush for the whole batch instead of one per file (the measured cost is in
//! docs/benchmarks.md, "sixth round"). The directory is opened before the first output is
//! written, and `syncfs` reports a write-back error of the file system that happened since that
//! open (Linux 5.8 and later), so a file whose data did not reach the disk is reported, not
//! published. The sync also writes back other processes' pending data on that file system: a
//! batch therefore waits for them too, which is why batches are bounded in size and age by the
//! caller. Elsewhere, and for a file outside the directory or a batch of one, each file gets
//! its own `fsync`.

use std::path::{Path, PathBuf};

use crate::publish::{PublishError, Staged, io};

/// Publishes batches of staged outputs of one output directory.
#[derive(Debug)]
pub struct BatchPublisher {
    dir: PathBuf,
    /// The directory, open since before the first output was written (its file system is what
    /// `syncfs` syncs, and write-back errors since the open are what it reports; the lock of
    /// [`open_exclusive`](Self::open_exclusive) is held on it).
    #[cfg(unix)]
    handle: std::fs::File,
}

impl BatchPublisher {
    /// Opens `dir` (created if missing), where the outputs go. Call it before staging any of
    /// them.
    pub fn open(dir: &Path) -> Result<Self, PublishError> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        Ok(BatchPublisher {
            dir: dir.to_path_buf(),
            #[cfg(unix)]
            handle: std::fs::File::open(dir).map_err(io("open", dir))?,
        })
    }

    /// [`open`](Self::open), holding an exclusive lock on `dir` until the publisher is
    /// dropped: a second run publishing into the same directory fails at once instead of
    /// racing on the same `OUT.partial` names (one run removing or renaming what the other is
    /// writing). Unix only (`flock`); elsewhere the same as `open`.
    pub fn open_exclusive(dir: &Path) -> Result<Self, PublishError> {
        let publisher = Self::open(dir)?;
        #[cfg(unix)]
        match publisher.handle.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(PublishError::Busy {
                    path: publisher.dir.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io("lock", &publisher.dir)(e));
            }
        }
        Ok(publisher)
    }

    /// Makes every staged output durable, then renames it into place. Returns, in the order
    /// given, each output's size or why it was not published; an output that could not be
    /// synced is removed, not published.
    pub fn publish(&self, staged: Vec<Staged>) -> Vec<Result<u64, PublishError>> {
        let shared = self.sync_shared(staged.iter().filter(|s| self.holds(s)).count());
        staged
            .into_iter()
            .map(|s| {
                let synced = match &shared {
                    Some(Ok(())) if self.holds(&s) => Ok(()),
                    Some(Err(e)) if self.holds(&s) => {
                        Err(io("sync (one sync of its file system)", s.temporary())(
                            std::io::Error::new(e.kind(), e.to_string()),
                        ))
                    }
                    _ => sync_one(s.temporary()),
                };
                match synced {
                    Ok(()) => s.commit(),
                    Err(e) => {
                        s.discard();
                        Err(e)
                    }
                }
            })
            .collect()
    }

    /// Makes everything written below the directory since it was opened durable (a Parquet
    /// reference directory, before it is renamed into place): on Linux one `syncfs` of its file
    /// system, which also reports a write-back error of any of those files; elsewhere an
    /// `fsync` of every file and directory in the tree.
    pub fn sync_tree(&self) -> Result<(), PublishError> {
        #[cfg(target_os = "linux")]
        {
            rustix::fs::syncfs(&self.handle)
                .map_err(|e| io("sync (one sync of its file system)", &self.dir)(e.into()))
        }
        #[cfg(not(target_os = "linux"))]
        {
            sync_each(&self.dir)
        }
    }

    /// Whether `s` was staged in the directory (what one sync of its file system covers).
    fn holds(&self, s: &Staged) -> bool {
        s.temporary().parent() == Some(self.dir.as_path())
    }

    /// One sync of the directory's file system for `files` staged in it, when that is the way
    /// (`None`: each file is synced on its own).
    #[cfg(target_os = "linux")]
    fn sync_shared(&self, files: usize) -> Option<std::io::Result<()>> {
        (files >= 2).then(|| rustix::fs::syncfs(&self.handle).map_err(std::io::Error::from))
    }

    #[cfg(not(target_os = "linux"))]
    fn sync_shared(&self, _files: usize) -> Option<std::io::Result<()>> {
        None
    }
}

/// `fsync` of every file and directory below `dir`, and of `dir` (directories on Unix only).
#[cfg(not(target_os = "linux"))]
fn sync_each(dir: &Path) -> Result<(), PublishError> {
    for e in std::fs::read_dir(dir).map_err(io("list", dir))? {
        let path = e.map_err(io("list", dir))?.path();
        let kind = std::fs::symlink_metadata(&path).map_err(io("stat", &path))?;
        if kind.is_dir() {
            sync_each(&path)?;
        } else if kind.is_file() {
            sync_one(&path)?;
        }
    }
    #[cfg(unix)]
    sync_one(dir)?;
    Ok(())
}

fn sync_one(tmp: &Path) -> Result<(), PublishError> {
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io("sync", tmp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{Overwrite, stage};

    const OURS: &str = "{\"version\":1,\"refs\":{\n\".zmetadata\":\"{}\"\n}}\n";

    fn staged(out: &Path, text: &'static str) -> Staged {
        stage(out, Overwrite::Replace, |tmp| {
            std::fs::write(tmp, text).map_err(io("write", tmp))?;
            Ok(text.len() as u64)
        })
        .unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn a_batch_is_published_whole_and_leaves_no_temporary_files() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let publisher = BatchPublisher::open(&out).unwrap();
        std::fs::write(out.join("b.json"), OURS).unwrap();
        let batch = vec![
            staged(&out.join("a.json"), OURS),
            staged(
                &out.join("b.json"),
                "{\"version\":1,\"refs\":{\n\".zmetadata\":\"{}\",\"x\":\"y\"\n}}\n",
            ),
            staged(&out.join("c.json"), OURS),
        ];
        // Staged, not yet visible under their names.
        assert!(!out.join("a.json").exists());
        let results = publisher.publish(batch);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(names(&out), ["a.json", "b.json", "c.json"]);
        assert!(
            std::fs::read_to_string(out.join("b.json"))
                .unwrap()
                .contains("\"x\"")
        );
    }

    #[test]
    fn one_output_that_cannot_be_published_does_not_stop_the_others() {
        let d = tempfile::tempdir().unwrap();
        let publisher = BatchPublisher::open(d.path()).unwrap();
        let a = staged(&d.path().join("a.json"), OURS);
        let lost = staged(&d.path().join("lost.json"), OURS);
        std::fs::remove_file(lost.temporary()).unwrap();
        let results = publisher.publish(vec![a, lost]);
        assert_eq!(results[0].as_ref().ok(), Some(&(OURS.len() as u64)));
        let e = results[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("lost.json"), "{e}");
        assert_eq!(names(d.path()), ["a.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_second_exclusive_publisher_of_a_directory_is_refused_until_the_first_is_gone() {
        let d = tempfile::tempdir().unwrap();
        let first = BatchPublisher::open_exclusive(d.path()).unwrap();
        let e = BatchPublisher::open_exclusive(d.path()).unwrap_err();
        assert!(matches!(e, PublishError::Busy { .. }), "{e}");
        assert!(
            e.to_string().contains(&d.path().display().to_string()),
            "{e}"
        );
        // A plain publisher (one output file) does not take the lock.
        BatchPublisher::open(d.path()).unwrap();
        drop(first);
        BatchPublisher::open_exclusive(d.path()).unwrap();
    }

    #[test]
    fn outputs_elsewhere_and_batches_of_one_are_synced_file_by_file() {
        let d = tempfile::tempdir().unwrap();
        let publisher = BatchPublisher::open(&d.path().join("main")).unwrap();
        let elsewhere = staged(&d.path().join("other/x.json"), OURS);
        assert_eq!(publisher.publish(vec![elsewhere]).len(), 1);
        let alone = staged(&d.path().join("main/y.json"), OURS);
        assert!(publisher.publish(vec![alone])[0].is_ok());
        assert_eq!(names(&d.path().join("other")), ["x.json"]);
        assert_eq!(names(&d.path().join("main")), ["y.json"]);
        // A file that vanished before its own sync is reported by name.
        let gone = staged(&d.path().join("other/z.json"), OURS);
        std::fs::remove_file(gone.temporary()).unwrap();
        let e = publisher
            .publish(vec![gone])
            .remove(0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("z.json.partial"), "{e}");
    }
}
