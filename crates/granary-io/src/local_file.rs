//! Positioned reads of a local file (POSIX `pread`), opened once per object.
//!
//! object_store's `LocalFileSystem` opens, stats and seeks the file again for every range and
//! sends each range to the blocking thread pool on its own. A granule read in waves of ~30
//! ranges then costs ~30 opens and ~30 thread hand-offs. Here the file is opened once (and
//! refused unless it is a regular file: a FIFO or a device would block or never end), and the
//! ranges of one wave are read together in one blocking task, into one buffer of the wave's
//! size that is then cut into each range's bytes without a copy. A file that shrinks while it
//! is read gives a short read, which the caller reports as an error; nothing is
//! memory-mapped, so truncation can never raise SIGBUS.
//!
//! On Linux a wave is first read without blocking (`preadv2(2)` with `RWF_NOWAIT`: only what
//! the page cache holds, on the async worker). A scan reads each granule in about 7 waves of
//! small ranges, and a page-cache read takes microseconds where a blocking task costs two
//! thread hand-offs; whatever is not cached (or the flag is unsupported, or the file ended)
//! goes to the blocking pool as before, which reports short reads and errors.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::IoError;

/// A local regular file, open for positioned reads.
#[derive(Debug, Clone)]
pub(crate) struct LocalFile {
    file: Arc<File>,
}

/// Runs blocking file work on tokio's blocking pool, naming `url` if the task dies.
async fn blocking<T: Send + 'static>(
    url: &str,
    f: impl FnOnce() -> Result<T, IoError> + Send + 'static,
) -> Result<T, IoError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IoError::Blocking {
            url: url.to_string(),
            reason: e.to_string(),
        })?
}

/// The length of `range` as a buffer size.
fn len_of(range: &Range<u64>, url: &str) -> Result<usize, IoError> {
    usize::try_from(range.end.saturating_sub(range.start)).map_err(|_| too_large(range, url))
}

/// A range (or a wave ending with it) too large for one buffer.
fn too_large(range: &Range<u64>, url: &str) -> IoError {
    IoError::ShortRead {
        url: url.to_string(),
        range: range.clone(),
        got: 0,
    }
}

/// A zeroed buffer of `len` bytes, allocated by the caller: on the async worker thread, not on
/// the blocking thread that fills it (glibc gives every thread that allocates its own arena, and
/// buffers allocated on short-lived blocking threads would spread a scan's memory over many).
/// `range` names the read in the error when `len` cannot be allocated.
fn buffer_for(len: usize, range: Option<&Range<u64>>, url: &str) -> Result<Vec<u8>, IoError> {
    let mut buf = Vec::new();
    buf.try_reserve_exact(len)
        .map_err(|_| too_large(range.unwrap_or(&(0..0)), url))?;
    buf.resize(len, 0);
    Ok(buf)
}

/// Fills `buf` from `file` at `range.start`; fewer bytes than asked (the file ended or shrank)
/// is [`IoError::ShortRead`].
fn fill_at(file: &File, range: &Range<u64>, buf: &mut [u8], url: &str) -> Result<(), IoError> {
    let mut got = 0usize;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], range.start + got as u64) {
            Ok(0) => {
                return Err(IoError::ShortRead {
                    url: url.to_string(),
                    range: range.clone(),
                    got: got as u64,
                });
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(IoError::ReadFile {
                    url: url.to_string(),
                    range: range.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Fills `buf` from `file` at `range.start` with what the page cache already holds, without
/// waiting for the disk: `true` when every byte was there. Anything else (bytes not cached,
/// `RWF_NOWAIT` unsupported, end of file, an error) is `false`, for the blocking read to do
/// and report.
#[cfg(target_os = "linux")]
fn fill_cached(file: &File, range: &Range<u64>, buf: &mut [u8]) -> bool {
    let mut got = 0usize;
    while got < buf.len() {
        let mut slice = [std::io::IoSliceMut::new(&mut buf[got..])];
        let at = range.start.saturating_add(got as u64);
        match rustix::io::preadv2(file, &mut slice, at, rustix::io::ReadWriteFlags::NOWAIT) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    true
}

#[cfg(not(target_os = "linux"))]
fn fill_cached(_file: &File, _range: &Range<u64>, _buf: &mut [u8]) -> bool {
    false
}

/// Opens `path` for positioned reads; anything but a regular file is refused. Returns the
/// file and its size.
fn open_regular(path: &std::path::Path, url: &str) -> Result<(File, u64), IoError> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        // Opening a FIFO for reading would wait for a writer; non-blocking, it opens at once
        // and is then refused below. No effect on regular files.
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    let file = opened.map_err(|source| IoError::OpenFile {
        url: url.to_string(),
        source,
    })?;
    let meta = file.metadata().map_err(|source| IoError::OpenFile {
        url: url.to_string(),
        source,
    })?;
    if !meta.is_file() {
        return Err(IoError::NotAFile {
            url: url.to_string(),
        });
    }
    Ok((file, meta.len()))
}

impl LocalFile {
    /// Opens `path` and reads its first `len` bytes (`None`: all of it); returns the file, its
    /// size and those bytes. With `len` given, opening and reading are one blocking task.
    pub(crate) async fn open_reading(
        path: PathBuf,
        url: &str,
        len: Option<u64>,
    ) -> Result<(Self, u64, Bytes), IoError> {
        let task_url = url.to_string();
        let Some(len) = len else {
            // The size decides the buffer: open first, then read like any range.
            let (file, size) = blocking(url, move || open_regular(&path, &task_url)).await?;
            let file = Self {
                file: Arc::new(file),
            };
            let mut all = file.read_ranges(&[0..size], url).await?;
            return Ok((file, size, all.pop().unwrap_or_default()));
        };
        let first = 0..len;
        let mut buf = buffer_for(len_of(&first, url)?, Some(&first), url)?;
        blocking(url, move || {
            let (file, size) = open_regular(&path, &task_url)?;
            let first = 0..len.min(size);
            buf.truncate(first.end as usize);
            fill_at(&file, &first, &mut buf, &task_url)?;
            Ok((
                Self {
                    file: Arc::new(file),
                },
                size,
                Bytes::from(buf),
            ))
        })
        .await
    }

    /// Reads `ranges`, in order, into one buffer allocated here and cut into each range's
    /// bytes (one allocation per wave, no copy): from the page cache on this thread while
    /// every byte is there, the rest in one blocking task.
    pub(crate) async fn read_ranges(
        &self,
        ranges: &[Range<u64>],
        url: &str,
    ) -> Result<Vec<Bytes>, IoError> {
        let mut ends = Vec::with_capacity(ranges.len());
        let mut total = 0usize;
        for r in ranges {
            total = len_of(r, url)?
                .checked_add(total)
                .ok_or_else(|| too_large(r, url))?;
            ends.push(total);
        }
        let mut buf = buffer_for(total, ranges.last(), url)?;
        let first_miss = (0..ranges.len())
            .find(|&k| !fill_cached(&self.file, &ranges[k], &mut buf[span(&ends, k)]));
        let Some(first_miss) = first_miss else {
            return Ok(cut(buf, &ends));
        };
        let file = self.file.clone();
        let ranges = ranges.to_vec();
        let task_url = url.to_string();
        blocking(url, move || {
            for k in first_miss..ranges.len() {
                fill_at(&file, &ranges[k], &mut buf[span(&ends, k)], &task_url)?;
            }
            Ok(cut(buf, &ends))
        })
        .await
    }
}

/// Where the `k`-th range of a wave lies in the wave's buffer (`ends`: each range's end in it,
/// from the running sum of the lengths, so every span lies inside the buffer).
fn span(ends: &[usize], k: usize) -> Range<usize> {
    let start = if k == 0 { 0 } else { ends[k - 1] };
    start..ends[k]
}

/// The bytes of each range of a wave, cut from its one buffer without a copy.
fn cut(buf: Vec<u8>, ends: &[usize]) -> Vec<Bytes> {
    let all = Bytes::from(buf);
    (0..ends.len()).map(|k| all.slice(span(ends, k))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(p: &std::path::Path) -> String {
        format!("file://{}", p.display())
    }

    #[tokio::test]
    async fn opens_reads_and_reports_short_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.nc");
        let data: Vec<u8> = (0..=255).collect();
        std::fs::write(&path, &data).unwrap();
        let u = url(&path);
        let (f, size, first) = LocalFile::open_reading(path.clone(), &u, Some(10))
            .await
            .unwrap();
        assert_eq!((size, &first[..]), (256, &data[..10]));
        let got = f.read_ranges(&[200..256, 0..0, 17..19], &u).await.unwrap();
        assert_eq!(&got[0][..], &data[200..]);
        assert!(got[1].is_empty());
        assert_eq!(&got[2][..], &data[17..19]);
        // The file shrinks while open: a short read naming the range, never a crash.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(100)
            .unwrap();
        let err = f.read_ranges(&[50..150], &u).await.unwrap_err();
        assert!(
            matches!(&err, IoError::ShortRead { range, got: 50, .. } if *range == (50..150)),
            "{err}"
        );
        assert!(err.to_string().contains("g.nc"), "{err}");
        // A wave whose later range fails after earlier ones were read: that range is named.
        let err = f
            .read_ranges(&[0..10, 60..70, 90..120], &u)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, IoError::ShortRead { range, got: 10, .. } if *range == (90..120)),
            "{err}"
        );
        let got = f.read_ranges(&[0..10, 60..70, 90..100], &u).await.unwrap();
        let got: Vec<&[u8]> = got.iter().map(|b| &b[..]).collect();
        assert_eq!(got, [&data[0..10], &data[60..70], &data[90..100]]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn cached_reads_fill_whole_ranges_or_leave_them_to_the_blocking_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.nc");
        let data: Vec<u8> = (0..=255).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        // Just written: in the page cache (unless RWF_NOWAIT is unsupported, then `false`).
        let mut buf = vec![0u8; 56];
        if fill_cached(&file, &(200..256), &mut buf) {
            assert_eq!(&buf[..], &data[200..]);
        }
        // Past the end: never complete, whatever the kernel supports.
        let mut buf = vec![0u8; 100];
        assert!(!fill_cached(&file, &(200..300), &mut buf));
        let mut buf = vec![0u8; 8];
        assert!(!fill_cached(&file, &(u64::MAX - 8..u64::MAX), &mut buf));
    }

    #[tokio::test]
    async fn missing_files_directories_and_fifos_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.nc");
        let err = LocalFile::open_reading(missing.clone(), &url(&missing), None)
            .await
            .unwrap_err();
        assert!(matches!(err, IoError::OpenFile { .. }), "{err}");
        let err = LocalFile::open_reading(dir.path().to_path_buf(), "file:///d", None)
            .await
            .unwrap_err();
        assert!(matches!(err, IoError::NotAFile { .. }), "{err}");
        let fifo = dir.path().join("pipe.nc");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        // Without O_NONBLOCK this open would wait forever for a writer.
        let err = LocalFile::open_reading(fifo.clone(), &url(&fifo), Some(8))
            .await
            .unwrap_err();
        assert!(matches!(err, IoError::NotAFile { .. }), "{err}");
    }
}
