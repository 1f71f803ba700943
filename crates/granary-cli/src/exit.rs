//! The exit codes of every `granary` command, and how an error is printed.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | done, but something was left out: granules that failed, or arrays that cannot be referenced (per-array policy `skip`). They are listed (and in the errors table); the outputs hold the rest |
//! | 2 | refused: the command line, a pipeline file, an override, the SQL or the selection is wrong, or an output exists and may not be replaced; nothing was written. Change the request |
//! | 3 | failed: storage, network, credentials or the file system failed; nothing was published. Retrying may succeed |
//!
//! The README carries the same table.

use std::error::Error;
use std::process::ExitCode;

pub const PARTIAL: u8 = 1;
pub const REFUSED: u8 = 2;
pub const FAILED: u8 = 3;

/// `e` as a `T`, also when a layer holds it boxed (`#[source] source: Box<T>`).
fn find<'a, T: Error + 'static>(e: &'a (dyn Error + 'static)) -> Option<&'a T> {
    e.downcast_ref::<T>()
        .or_else(|| e.downcast_ref::<Box<T>>().map(|b| &**b))
}

/// Whether `e` is a failure of the environment (I/O, storage, network, a crashed task) rather
/// than of the request.
fn is_environment(e: &(dyn Error + 'static)) -> bool {
    use granary_inventory::InventoryError as Inv;
    use granary_refs::PublishError as Pub;
    if find::<std::io::Error>(e).is_some() || find::<object_store::Error>(e).is_some() {
        return true;
    }
    if let Some(io) = find::<granary_io::IoError>(e) {
        return !matches!(
            io,
            granary_io::IoError::BadLocation { .. }
                | granary_io::IoError::UnsupportedScheme { .. }
                | granary_io::IoError::OutsideScope { .. }
        );
    }
    if let Some(inv) = find::<Inv>(e) {
        return matches!(
            inv,
            Inv::Io { .. } | Inv::Parquet { .. } | Inv::Task { .. } | Inv::Locked { .. }
        );
    }
    if let Some(p) = find::<Pub>(e) {
        return matches!(p, Pub::Io { .. } | Pub::Busy { .. });
    }
    if let Some(ic) = find::<granary_icechunk::IcechunkError>(e) {
        use granary_icechunk::IcechunkError as Ic;
        return matches!(
            ic,
            Ic::Conflict { .. } | Ic::Repository { .. } | Ic::Session { .. }
        );
    }
    if let Some(p) = find::<granary_pipeline::PipelineError>(e) {
        use granary_pipeline::PipelineError as P;
        if matches!(p, P::Busy { .. } | P::State { .. } | P::AllFailed { .. }) {
            return true;
        }
    }
    matches!(
        find::<granary_extract::ExtractError>(e),
        Some(granary_extract::ExtractError::Task { .. })
    )
}

/// The exit code of a failed command: 3 when any cause is an environment failure, else 2.
pub fn code_of(e: &anyhow::Error) -> u8 {
    if e.chain().any(is_environment) {
        FAILED
    } else {
        REFUSED
    }
}

/// How much of one cause's text is printed (a server may answer with a whole page).
const MAX_CAUSE_CHARS: usize = 2_000;

/// `text` cut to `max` characters, saying how much was left out.
fn bounded(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text,
        Some((at, _)) => format!("{}… ({} more bytes)", &text[..at], text.len() - at),
    }
}

/// The error and its causes, each once: a cause whose text its parent already shows is
/// skipped, so messages that embed their source are not repeated; each cause is bounded.
pub fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = bounded(cause.to_string(), MAX_CAUSE_CHARS);
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// How many left-out arrays a summary lists one by one.
const MAX_LISTED: usize = 200;

/// Lists arrays left out under the per-array policy `skip`: (granule, array, reason). The
/// count is always printed; the first [`MAX_LISTED`] are listed.
pub fn print_skipped<'a>(skipped: impl ExactSizeIterator<Item = (&'a str, &'a str, &'a str)>) {
    let n = skipped.len();
    if n == 0 {
        return;
    }
    eprintln!(
        "{n} array(s) left out (they cannot be referenced; --unreferenceable error fails instead):"
    );
    for (url, array, reason) in skipped.take(MAX_LISTED) {
        eprintln!(
            "  {url}: array {array:?}: {}",
            bounded(reason.to_string(), MAX_CAUSE_CHARS)
        );
    }
    if n > MAX_LISTED {
        eprintln!(
            "  … and {} more (the errors table lists them all)",
            n - MAX_LISTED
        );
    }
}

/// Prints `error: …` and returns the exit code of `e`.
pub fn report(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", message(e));
    ExitCode::from(code_of(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_printed_once() {
        let io = std::io::Error::other("disk full");
        let e = anyhow::Error::new(granary_refs::PublishError::Io {
            action: "write",
            path: "o.json".into(),
            source: io,
        })
        .context("sink \"refs\"");
        assert_eq!(message(&e), "sink \"refs\": cannot write o.json: disk full");
        assert_eq!(code_of(&e), FAILED);
    }

    #[test]
    fn boxed_causes_are_classified_too() {
        let e = anyhow::Error::new(granary_pipeline::PipelineError::Storage {
            component: "src".into(),
            source: Box::new(granary_io::IoError::Credentials {
                endpoint: "https://e".into(),
                reason: "no token".into(),
            }),
        });
        assert_eq!(code_of(&e), FAILED);
        assert!(message(&e).ends_with("no token"), "{}", message(&e));
        let e = anyhow::Error::new(granary_pipeline::PipelineError::Publish {
            sink: "s".into(),
            source: Box::new(granary_refs::PublishError::Exists { path: "o".into() }),
        });
        assert_eq!(code_of(&e), REFUSED);
    }

    #[test]
    fn long_causes_are_cut() {
        let e = anyhow::anyhow!("{}", "x".repeat(112_000));
        let m = message(&e);
        assert!(
            m.len() < 2_100 && m.ends_with("(110000 more bytes)"),
            "{}",
            m.len()
        );
    }

    #[test]
    fn refusals_are_exit_2() {
        let e = anyhow::Error::new(granary_refs::PublishError::Exists {
            path: "o.json".into(),
        });
        assert_eq!(code_of(&e), REFUSED);
        // Another run publishing into the directory: retrying later succeeds.
        let e = anyhow::Error::new(granary_refs::PublishError::Busy { path: "out".into() });
        assert_eq!(code_of(&e), FAILED);
    }
}
