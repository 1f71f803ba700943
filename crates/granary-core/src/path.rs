//! Lexical path normalisation, shared by every layer that compares or builds locations (URLs of
//! local granules, read confinement, output paths): `.` components dropped and `..` applied to
//! the path's own text, links not followed, nothing read from the file system.

use std::path::{Component, Path, PathBuf};

/// `p` without `.` components and with every `..` applied lexically (`a/b/../c` is `a/c`; a
/// `..` above the root stays at the root).
pub fn normalize_lexically(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_applied_to_the_text() {
        assert_eq!(
            normalize_lexically(Path::new("/data/c/../../etc/./passwd")),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(normalize_lexically(Path::new("/../x")), PathBuf::from("/x"));
    }
}
