//! Publishing outputs: every file or directory granary writes (a per-granule JSON of
//! `granary scan`, a combined set of `granary combine` or of a pipeline sink) is written under
//! `OUT.partial`, then renamed into place, so a reader never sees a half-written output.
//!
//! Writes stay inside what the user named (`docs/security.md`):
//! - `OUT` must end in a normal file name: `.`, `..`, `/` and the empty path are refused, and
//!   so are paths the caller protects (a pipeline's state directory and its parents).
//! - A partition value becomes one file-name component only (no `/`, `..`, NUL).
//! - An existing output is replaced only when the caller says so **and** it is a granary
//!   output: a directory holding [`OUTPUT_MARKER`], or a JSON file that starts the way
//!   granary's reference files start. Anything else at `OUT` is refused, never deleted.
//! - The old output is moved aside (`OUT.replaced`) before the new one takes its name, then
//!   removed: a kill at any moment leaves the old or the new output, never neither.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{Combined, RefsError, write_combined_json, write_parquet};

/// The format of a combined reference set: the one definition, read by serde in pipeline
/// files (sink `type`) and by clap on the command line (`--format`, feature `clap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum RefFormat {
    /// kerchunk JSON v1 reference file.
    #[serde(rename = "kerchunk_json")]
    #[cfg_attr(feature = "clap", value(name = "json"))]
    Json,
    /// kerchunk Parquet reference directory (fsspec LazyReferenceMapper layout).
    #[serde(rename = "kerchunk_parquet")]
    #[cfg_attr(feature = "clap", value(name = "parquet"))]
    Parquet,
    /// An Icechunk repository (Zarr v3, versioned), committed by granary-icechunk rather than
    /// published as a file here.
    #[serde(rename = "icechunk")]
    #[cfg_attr(feature = "clap", value(name = "icechunk"))]
    Icechunk,
}

impl RefFormat {
    /// JSON for a `.json` path, Icechunk for `.icechunk` or an `s3://` location, else Parquet.
    pub fn from_path(p: &Path) -> Self {
        if p.extension().is_some_and(|e| e == "json") {
            RefFormat::Json
        } else if p.extension().is_some_and(|e| e == "icechunk")
            || p.to_string_lossy().starts_with("s3://")
        {
            RefFormat::Icechunk
        } else {
            RefFormat::Parquet
        }
    }
}

/// Whether an existing output may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// An existing output is an error (the default of `granary combine` and of sinks).
    Refuse,
    /// Replace it.
    Replace,
}

impl From<bool> for Overwrite {
    fn from(replace: bool) -> Self {
        if replace {
            Overwrite::Replace
        } else {
            Overwrite::Refuse
        }
    }
}

/// The file granary writes into every output directory it publishes: what makes the directory
/// replaceable by a later run.
pub const OUTPUT_MARKER: &str = ".granary-output";

/// How every reference JSON file granary writes begins: a line break after the `refs` brace
/// (no other writer puts one there: Python's json puts spaces after the colons, ujson no line
/// break), then the first key, a zarr metadata key (`.zmetadata` of a combined set, `.zattrs` or
/// `.zgroup` of a granule's).
const JSON_PREFIX: &[u8] = b"{\"version\":1,\"refs\":{\n\".z";

/// Why an output could not be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    #[error("{path} exists (use --overwrite, or overwrite = true in the sink, to replace it)")]
    Exists { path: String },
    #[error(
        "{path} exists and was not written by granary (no {OUTPUT_MARKER} marker, not granary's reference JSON); refusing to replace it: choose another output path"
    )]
    NotOurs { path: String },
    #[error("output path {path:?} {reason}; name a file or directory to create")]
    BadPath { path: String, reason: String },
    #[error(
        "partitioned output {template}: the path needs `{{}}` (or `{{{column}}}`) where the partition value goes"
    )]
    NoPlaceholder { template: String, column: String },
    #[error(
        "partition value {value:?} of column `{column}` cannot be part of a file name (it must be one non-empty path component without `/`, `\\`, NUL, `.` or `..`)"
    )]
    BadPartitionValue { column: String, value: String },
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("url_map {from:?} = {to:?}: {reason}")]
    BadUrlMap {
        from: String,
        to: String,
        reason: String,
    },
    #[error(
        "url_map: no prefix matches {url} (mapped prefixes: {prefixes}); add a mapping for it, or leave url_map out"
    )]
    UnmappedUrl { url: String, prefixes: String },
    #[error(
        "{path}: an Icechunk repository is committed by the Icechunk sink, not published as a file"
    )]
    NotAFile { path: String },
    #[error(
        "another granary run is publishing into {path}; wait for it to finish or choose another output directory"
    )]
    Busy { path: String },
    #[error(transparent)]
    Refs(#[from] RefsError),
}

pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PublishError {
    let path = path.display().to_string();
    move |source| PublishError::Io {
        action,
        path,
        source,
    }
}

/// The output path for a partition: `{}` (or `{COLUMN}`) in `template` replaced by its value.
pub fn output_path(
    template: &Path,
    key: Option<&str>,
    partition: Option<&str>,
) -> Result<PathBuf, PublishError> {
    let text = template.to_string_lossy();
    let Some(k) = key else {
        return Ok(template.to_path_buf());
    };
    let column = partition.unwrap_or_default().to_string();
    let bad_value = k.is_empty() || k == "." || k == ".." || k.contains(['/', '\\', '\0']);
    if bad_value {
        return Err(PublishError::BadPartitionValue {
            column,
            value: k.to_string(),
        });
    }
    let named = partition.map(|p| format!("{{{p}}}"));
    if text.contains("{}") {
        Ok(PathBuf::from(text.replace("{}", k)))
    } else if let Some(n) = named.filter(|n| text.contains(n.as_str())) {
        Ok(PathBuf::from(text.replace(&n, k)))
    } else {
        Err(PublishError::NoPlaceholder {
            template: template.display().to_string(),
            column,
        })
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub(crate) fn remove_any(p: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `p` made absolute and without `.`/`..` components (lexically: links are not followed).
pub fn normalize(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    granary_core::path::normalize_lexically(&abs)
}

/// Refuses an output path that does not end in a normal name (`.`, `..`, `/`, empty), or that
/// is one of `protected`, inside one, or a parent of one.
pub fn check_output_path(out: &Path, protected: &[PathBuf]) -> Result<(), PublishError> {
    let bad = |reason: &str| PublishError::BadPath {
        path: out.display().to_string(),
        reason: reason.to_string(),
    };
    match out.components().next_back() {
        Some(std::path::Component::Normal(_)) => {}
        _ => return Err(bad("does not end in a file or directory name")),
    }
    let target = normalize(out);
    if target.parent().is_none() {
        return Err(bad("is the root directory"));
    }
    for p in protected {
        let p = normalize(p);
        if target.starts_with(&p) || p.starts_with(&target) {
            return Err(bad(&format!(
                "overlaps {} (granary's state, or an input of this command)",
                p.display()
            )));
        }
    }
    Ok(())
}

/// Whether `p` is an output granary wrote (and may therefore replace).
pub fn is_granary_output(p: &Path) -> bool {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => p.join(OUTPUT_MARKER).is_file(),
        Ok(m) if m.is_file() => {
            let mut head = [0u8; JSON_PREFIX.len()];
            std::fs::File::open(p)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok_and(|()| head == JSON_PREFIX)
        }
        _ => false,
    }
}

/// An output written at its temporary path (`OUT.partial`) and not yet published: neither
/// durable (unless the writer synced it) nor visible under its name. [`Staged::commit`] renames
/// it into place; [`crate::BatchPublisher`] makes many durable at once before committing them.
#[derive(Debug)]
pub struct Staged {
    out: PathBuf,
    tmp: PathBuf,
    /// An output was at `out` when the file was staged (it is replaced by the commit).
    exists: bool,
    bytes: u64,
}

impl Staged {
    /// Where the output goes.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Where it was written.
    pub fn temporary(&self) -> &Path {
        &self.tmp
    }

    /// Renames the written file to its name, moving an output that was there aside first and
    /// removing it after. Returns the size. Durability is the caller's: the writer synced the
    /// file, or a batch sync did.
    pub fn commit(self) -> Result<u64, PublishError> {
        let Staged {
            out,
            tmp,
            exists,
            bytes,
        } = self;
        if exists {
            let aside = with_suffix(&out, ".replaced");
            remove_any(&aside).map_err(io("remove the leftover", &aside))?;
            std::fs::rename(&out, &aside).map_err(io("move aside", &out))?;
            if let Err(e) = std::fs::rename(&tmp, &out) {
                // Put the old output back; the new one stays at OUT.partial.
                let _ = std::fs::rename(&aside, &out);
                return Err(io("publish", &out)(e));
            }
            remove_any(&aside).map_err(io("remove the replaced output", &aside))?;
        } else {
            std::fs::rename(&tmp, &out).map_err(io("publish", &out))?;
        }
        Ok(bytes)
    }

    /// Removes the written file without publishing it (a failed sync leaves nothing behind).
    pub fn discard(self) {
        let _ = remove_any(&self.tmp);
    }
}

/// Whether an output is at `out`, refusing one the policy may not replace: any, under
/// [`Overwrite::Refuse`]; one granary did not write, always. Checked when an output is staged,
/// and by callers before long work whose result could not be published.
pub fn check_replaceable(out: &Path, overwrite: Overwrite) -> Result<bool, PublishError> {
    let exists = std::fs::symlink_metadata(out).is_ok();
    if exists && overwrite == Overwrite::Refuse {
        return Err(PublishError::Exists {
            path: out.display().to_string(),
        });
    }
    if exists && !is_granary_output(out) {
        return Err(PublishError::NotOurs {
            path: out.display().to_string(),
        });
    }
    Ok(exists)
}

/// Writes one output at `OUT.partial` without publishing it: the checks of [`publish_with`],
/// then `write(tmp)`, which returns the size in bytes.
pub fn stage(
    out: &Path,
    overwrite: Overwrite,
    write: impl FnOnce(&Path) -> Result<u64, PublishError>,
) -> Result<Staged, PublishError> {
    check_output_path(out, &[])?;
    let exists = check_replaceable(out, overwrite)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    let tmp = with_suffix(out, ".partial");
    remove_any(&tmp).map_err(io("remove the leftover", &tmp))?;
    let bytes = write(&tmp)?;
    Ok(Staged {
        out: out.to_path_buf(),
        tmp,
        exists,
        bytes,
    })
}

/// Publishes one output: `write(tmp)` writes it at `OUT.partial` (and syncs it) and returns its
/// size in bytes; the result is renamed to `out`. Returns the size. Publishing into a directory
/// waits for any other granary run publishing into it (see [`lock_parent`]).
pub fn publish_with(
    out: &Path,
    overwrite: Overwrite,
    write: impl FnOnce(&Path) -> Result<u64, PublishError>,
) -> Result<u64, PublishError> {
    let _held = lock_parent(out)?;
    stage(out, overwrite, write)?.commit()
}

/// Locks the directory `out` is published in (`flock`, Unix; held until the returned file is
/// dropped), waiting for the holder: two runs publishing the same output would otherwise share
/// `OUT.partial`, one removing or writing into what the other is writing, and could rename a
/// mix of both into place. A `granary scan -o DIR` holds its directory's lock for its whole
/// run, so a publish into that directory waits for the scan to end.
fn lock_parent(out: &Path) -> Result<Option<std::fs::File>, PublishError> {
    check_output_path(out, &[])?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    if cfg!(unix) {
        let dir = std::fs::File::open(parent).map_err(io("open", parent))?;
        dir.lock().map_err(io("lock", parent))?;
        Ok(Some(dir))
    } else {
        Ok(None)
    }
}

/// Writes the combined set `c` to `out` in `format` and publishes it; returns bytes written.
pub fn publish(
    c: &Combined,
    out: &Path,
    format: RefFormat,
    record_size: u64,
    overwrite: Overwrite,
) -> Result<u64, PublishError> {
    if format == RefFormat::Icechunk {
        return Err(PublishError::NotAFile {
            path: out.display().to_string(),
        });
    }
    publish_with(out, overwrite, |tmp| match format {
        RefFormat::Json => {
            let f = std::fs::File::create(tmp).map_err(io("create", tmp))?;
            write_combined_json(c, &f)?;
            f.sync_all().map_err(io("sync", tmp))?;
            Ok(std::fs::metadata(tmp).map_err(io("stat", tmp))?.len())
        }
        RefFormat::Parquet => {
            // Opened before the files are written: its sync covers (and reports) all of them.
            let tree = crate::BatchPublisher::open(tmp)?;
            let bytes = write_parquet(c, tmp, record_size)?.bytes;
            let marker = tmp.join(OUTPUT_MARKER);
            let text = "{\"written_by\":\"granary\",\"format\":\"kerchunk_parquet\"}\n";
            std::fs::write(&marker, text).map_err(io("write", &marker))?;
            tree.sync_tree()?;
            Ok(bytes)
        }
        RefFormat::Icechunk => Err(PublishError::NotAFile {
            path: out.display().to_string(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_fill_the_output_template() {
        let p = output_path(Path::new("out/c{}.json"), Some("001"), Some("cycle")).unwrap();
        assert_eq!(p, PathBuf::from("out/c001.json"));
        let p = output_path(Path::new("out/{cycle}.parq"), Some("2"), Some("cycle")).unwrap();
        assert_eq!(p, PathBuf::from("out/2.parq"));
        assert!(output_path(Path::new("out.json"), Some("2"), Some("cycle")).is_err());
    }

    const OURS: &str = "{\"version\":1,\"refs\":{\n\".zmetadata\":\"{}\"\n}}\n";

    #[cfg(unix)]
    #[test]
    fn a_publish_waits_for_the_directory_lock_of_another_run() {
        let d = tempfile::tempdir().unwrap();
        let holder = std::fs::File::open(d.path()).unwrap();
        holder.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let out = d.path().join("o.json");
        let t = std::thread::spawn(move || {
            publish_with(&out, Overwrite::Refuse, |tmp| {
                tx.send(()).unwrap();
                write_text(OURS)(tmp)
            })
        });
        // Nothing is written while another holds the lock.
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err()
        );
        assert!(!d.path().join("o.json.partial").exists());
        drop(holder);
        rx.recv().unwrap();
        assert_eq!(t.join().unwrap().unwrap(), OURS.len() as u64);
        assert_eq!(
            std::fs::read_to_string(d.path().join("o.json")).unwrap(),
            OURS
        );
    }

    #[test]
    fn concurrent_publishes_of_one_directory_output_never_mix() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("refs.parq");
        let run = |tag: &'static str| {
            let out = out.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    publish_with(&out, Overwrite::Replace, |tmp| {
                        std::fs::create_dir_all(tmp).map_err(io("create", tmp))?;
                        for f in ["a", "b", "c", OUTPUT_MARKER] {
                            std::fs::write(tmp.join(f), tag).map_err(io("write", tmp))?;
                        }
                        Ok(4)
                    })
                    .unwrap();
                }
            })
        };
        let (x, y) = (run("x"), run("y"));
        x.join().unwrap();
        y.join().unwrap();
        let texts: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|f| std::fs::read_to_string(out.join(f)).unwrap())
            .collect();
        assert!(texts.iter().all(|t| *t == texts[0]), "{texts:?}");
        assert!(!d.path().join("refs.parq.partial").exists());
    }

    fn write_text(text: &'static str) -> impl FnOnce(&Path) -> Result<u64, PublishError> {
        move |tmp| {
            std::fs::write(tmp, text).map_err(io("write", tmp))?;
            Ok(text.len() as u64)
        }
    }

    #[test]
    fn existing_outputs_are_refused_or_replaced_without_leftovers() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("sub/o.json");
        publish_with(&out, Overwrite::Refuse, write_text(OURS)).unwrap();
        let e = publish_with(&out, Overwrite::Refuse, write_text(OURS)).unwrap_err();
        assert!(matches!(e, PublishError::Exists { .. }), "{e}");
        publish_with(&out, Overwrite::Replace, write_text(OURS)).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), OURS);
        let names: Vec<_> = std::fs::read_dir(d.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("o.json")]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_output() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("o.json");
        publish_with(&out, Overwrite::Refuse, write_text(OURS)).unwrap();
        let e = publish_with(&out, Overwrite::Replace, |tmp| {
            Err(io("write", tmp)(std::io::Error::other("disk full")))
        })
        .unwrap_err();
        assert!(e.to_string().contains("o.json.partial"), "{e}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), OURS);
    }

    #[test]
    fn what_granary_did_not_write_is_never_replaced() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("data");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("thesis.tex"), "precious").unwrap();
        let e = publish_with(&dir, Overwrite::Replace, write_text(OURS)).unwrap_err();
        assert!(matches!(e, PublishError::NotOurs { .. }), "{e}");
        assert!(dir.join("thesis.tex").is_file());
        let file = d.path().join("notes.json");
        let theirs = "{\"version\": 1, \"refs\": {}}";
        std::fs::write(&file, theirs).unwrap();
        assert!(publish_with(&file, Overwrite::Replace, write_text(OURS)).is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), theirs);
        // ujson's compact form (kerchunk's writer) is not granary's either.
        let compact = "{\"version\":1,\"refs\":{\".zgroup\":\"{}\"}}";
        std::fs::write(&file, compact).unwrap();
        assert!(publish_with(&file, Overwrite::Replace, write_text(OURS)).is_err());
    }

    #[test]
    fn a_granule_json_of_granary_scan_is_replaceable() {
        // `granary scan` writes a granule's keys sorted: `.zattrs` first, not `.zmetadata`.
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("g.nc.json");
        std::fs::write(
            &file,
            "{\"version\":1,\"refs\":{\n\".zattrs\":\"{}\",\n\".zgroup\":\"{}\"\n}}\n",
        )
        .unwrap();
        assert!(is_granary_output(&file));
        publish_with(&file, Overwrite::Replace, write_text(OURS)).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), OURS);
    }

    #[test]
    fn dangerous_paths_and_partition_values_are_refused() {
        for p in [".", "..", "/", "", "a/..", "./"] {
            let e = publish_with(Path::new(p), Overwrite::Replace, write_text(OURS));
            assert!(
                matches!(e, Err(PublishError::BadPath { .. })),
                "{p:?}: {e:?}"
            );
        }
        let state = PathBuf::from("out/.granary/x");
        for p in ["out/.granary/x/inventory/o.json", "out/.granary", "out"] {
            assert!(
                check_output_path(Path::new(p), std::slice::from_ref(&state)).is_err(),
                "{p}"
            );
        }
        assert!(check_output_path(Path::new("out/refs.parq"), &[state]).is_ok());
        for v in ["../../escape", "a/b", "..", ".", "", "a\\b", "x\0"] {
            let e = output_path(Path::new("out/c{}.json"), Some(v), Some("cycle"));
            assert!(
                matches!(e, Err(PublishError::BadPartitionValue { .. })),
                "{v:?}"
            );
        }
    }
}
