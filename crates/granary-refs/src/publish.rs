//! Publishing outputs: every file or directory granary writes (a per-granule JSON of
//! `granary scan`, a combined set of `granary combine` or of a pipeline sink) is written under
//! `OUT.partial`, then renamed into place, so a reader never sees a half-written output. An
//! existing output is replaced only when the caller says so, and the old one is moved aside
//! before the new one takes its name, then removed: a kill at any moment leaves either the old
//! or the new output at `OUT` (or the old one at `OUT.replaced`), never neither.

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
}

impl RefFormat {
    /// JSON for a `.json` path, else Parquet.
    pub fn from_path(p: &Path) -> Self {
        if p.extension().is_some_and(|e| e == "json") {
            RefFormat::Json
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

/// Why an output could not be published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    #[error("{path} exists (use --overwrite, or overwrite = true in the sink, to replace it)")]
    Exists { path: String },
    #[error(
        "partitioned output {template}: the path needs `{{}}` (or `{{{column}}}`) where the partition value goes"
    )]
    NoPlaceholder { template: String, column: String },
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Refs(#[from] RefsError),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PublishError {
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
    let named = partition.map(|p| format!("{{{p}}}"));
    if text.contains("{}") {
        Ok(PathBuf::from(text.replace("{}", k)))
    } else if let Some(n) = named.filter(|n| text.contains(n.as_str())) {
        Ok(PathBuf::from(text.replace(&n, k)))
    } else {
        Err(PublishError::NoPlaceholder {
            template: template.display().to_string(),
            column: partition.unwrap_or_default().to_string(),
        })
    }
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn remove_any(p: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Publishes one output: `write(tmp)` writes it at `OUT.partial` and returns its size in
/// bytes; the result is renamed to `out`. Returns the size.
pub fn publish_with(
    out: &Path,
    overwrite: Overwrite,
    write: impl FnOnce(&Path) -> Result<u64, PublishError>,
) -> Result<u64, PublishError> {
    let exists = std::fs::symlink_metadata(out).is_ok();
    if exists && overwrite == Overwrite::Refuse {
        return Err(PublishError::Exists {
            path: out.display().to_string(),
        });
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    let tmp = with_suffix(out, ".partial");
    remove_any(&tmp).map_err(io("remove the leftover", &tmp))?;
    let bytes = write(&tmp)?;
    if exists {
        let aside = with_suffix(out, ".replaced");
        remove_any(&aside).map_err(io("remove the leftover", &aside))?;
        std::fs::rename(out, &aside).map_err(io("move aside", out))?;
        if let Err(e) = std::fs::rename(&tmp, out) {
            // Put the old output back; the new one stays at OUT.partial.
            let _ = std::fs::rename(&aside, out);
            return Err(io("publish", out)(e));
        }
        remove_any(&aside).map_err(io("remove the replaced output", &aside))?;
    } else {
        std::fs::rename(&tmp, out).map_err(io("publish", out))?;
    }
    Ok(bytes)
}

/// Writes the combined set `c` to `out` in `format` and publishes it; returns bytes written.
pub fn publish(
    c: &Combined,
    out: &Path,
    format: RefFormat,
    record_size: u64,
    overwrite: Overwrite,
) -> Result<u64, PublishError> {
    publish_with(out, overwrite, |tmp| match format {
        RefFormat::Json => {
            let f = std::fs::File::create(tmp).map_err(io("create", tmp))?;
            write_combined_json(c, &f)?;
            f.sync_all().map_err(io("sync", tmp))?;
            Ok(std::fs::metadata(tmp).map_err(io("stat", tmp))?.len())
        }
        RefFormat::Parquet => Ok(write_parquet(c, tmp, record_size)?.bytes),
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
        assert_eq!(
            publish_with(&out, Overwrite::Refuse, write_text("a")).unwrap(),
            1
        );
        let e = publish_with(&out, Overwrite::Refuse, write_text("b")).unwrap_err();
        assert!(matches!(e, PublishError::Exists { .. }), "{e}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a");
        publish_with(&out, Overwrite::Replace, write_text("bb")).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "bb");
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
        publish_with(&out, Overwrite::Refuse, write_text("old")).unwrap();
        let e = publish_with(&out, Overwrite::Replace, |tmp| {
            Err(io("write", tmp)(std::io::Error::other("disk full")))
        })
        .unwrap_err();
        assert!(e.to_string().contains("o.json.partial"), "{e}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
    }
}
