//! Writing reference sets: kerchunk JSON or Parquet under a temporary name, published by rename
//! (a reader never sees a half-written output); an existing output is replaced only when asked.

use std::path::{Path, PathBuf};

use granary_refs::{Combined, write_combined_json, write_parquet};

/// The output format of a sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefFormat {
    Json,
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

/// The output path for a partition: `{}` (or `{COLUMN}`) in `template` replaced by its value.
pub fn output_path(
    template: &Path,
    key: Option<&str>,
    partition: Option<&str>,
) -> Result<PathBuf, String> {
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
        Err(format!(
            "partitioned output {}: the path needs `{{}}` where the partition value goes",
            template.display()
        ))
    }
}

fn io(path: &Path, what: &str, e: impl std::fmt::Display) -> String {
    format!("cannot {what} {}: {e}", path.display())
}

/// Writes `c` to `out` under `OUT.partial`, then renames it into place; returns bytes written.
pub fn publish(
    c: &Combined,
    out: &Path,
    format: RefFormat,
    record_size: u64,
    overwrite: bool,
) -> Result<u64, String> {
    if out.exists() && !overwrite {
        return Err(format!(
            "{} exists (use --overwrite, or overwrite = true in the sink, to replace it)",
            out.display()
        ));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, "create", e))?;
    }
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_file(&tmp);
    let bytes = match format {
        RefFormat::Json => {
            let f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, "create", e))?;
            write_combined_json(c, &f).map_err(|e| e.to_string())?;
            f.sync_all().map_err(|e| io(&tmp, "sync", e))?;
            std::fs::metadata(&tmp)
                .map_err(|e| io(&tmp, "stat", e))?
                .len()
        }
        RefFormat::Parquet => {
            write_parquet(c, &tmp, record_size)
                .map_err(|e| e.to_string())?
                .bytes
        }
    };
    if out.is_dir() {
        std::fs::remove_dir_all(out).map_err(|e| io(out, "replace", e))?;
    } else if out.exists() {
        std::fs::remove_file(out).map_err(|e| io(out, "replace", e))?;
    }
    std::fs::rename(&tmp, out).map_err(|e| io(out, "publish", e))?;
    Ok(bytes)
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
}
