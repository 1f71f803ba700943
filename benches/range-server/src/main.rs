//! A static HTTP/1.1 range server for the remote benchmarks, that is not the bottleneck: tokio,
//! keep-alive, reads into one buffer per connection, a fixed latency added to every file
//! request (RFC 9110 section 14: single `Range: bytes=a-b` / `bytes=a-` / `bytes=-n`, answered
//! 206 with Content-Range; HEAD with Content-Length, ETag and Last-Modified). It counts file
//! requests and body bytes.
//!
//!   cargo run --release -p granary-range-server -- ROOT [latency_ms]
//!
//! Prints `http://127.0.0.1:PORT` (a port the OS chose) on its first line, then serves until
//! killed. `range_server --bandwidth ROOT [files]` instead serves ROOT without delay to 8
//! clients in the same process, which fetch whole files (the first `files`, default 100, in
//! name order, round robin until 1 GB) over keep-alive connections, and prints the loopback
//! bandwidth in bytes per second: the bandwidth bound of a remote benchmark. `GET /_stats`
//! answers `{"requests":N,"bytes":B,"connections":C}` (C: connections accepted) at once (not
//! delayed, not counted); `GET /_stats?reset` also sets them to zero. Only regular files
//! under ROOT are served (no `..`, no symlink out of it); 127.0.0.1 only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

struct Server {
    root: PathBuf,
    latency: Duration,
    requests: AtomicU64,
    bytes: AtomicU64,
    connections: AtomicU64,
}

/// The request head: method, target, Range header, whether the client asked to close.
struct Request {
    method: String,
    target: String,
    range: Option<String>,
    close: bool,
}

async fn read_request(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (mut range, mut close) = (None, false);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        match k.trim().to_ascii_lowercase().as_str() {
            "range" => range = Some(v.trim().to_string()),
            "connection" => close = v.trim().eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    Some(Request {
        method,
        target,
        range,
        close,
    })
}

/// The regular file under `root` that `target` names, if any.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split('?').next()?.trim_start_matches('/');
    if path.split('/').any(|s| s == ".." || s.is_empty()) {
        return None;
    }
    let p = root.join(path).canonicalize().ok()?;
    (p.starts_with(root) && p.is_file()).then_some(p)
}

/// The inclusive byte span a `Range` header asks of an object of `size` bytes.
fn span(range: &str, size: u64) -> Option<(u64, u64)> {
    let (a, b) = range.strip_prefix("bytes=")?.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => (size.saturating_sub(n.parse().ok()?), size.checked_sub(1)?),
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end).then_some((start, end))
}

fn head(status: &str, headers: &[(&str, String)], len: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write!(out, "HTTP/1.1 {status}\r\nContent-Length: {len}\r\n").unwrap();
    for (k, v) in headers {
        write!(out, "{k}: {v}\r\n").unwrap();
    }
    out.extend_from_slice(b"\r\n");
    out
}

impl Server {
    /// The response to one request: its head; the body is left in `body` (the connection's
    /// buffer, reused from one response to the next).
    async fn answer(&self, req: &Request, body: &mut Vec<u8>) -> Vec<u8> {
        body.clear();
        if req.target.starts_with("/_stats") {
            let stats = format!(
                "{{\"requests\":{},\"bytes\":{},\"connections\":{}}}",
                self.requests.load(Ordering::SeqCst),
                self.bytes.load(Ordering::SeqCst),
                self.connections.load(Ordering::SeqCst)
            );
            if req.target.contains("reset") {
                self.requests.store(0, Ordering::SeqCst);
                self.bytes.store(0, Ordering::SeqCst);
                self.connections.store(0, Ordering::SeqCst);
            }
            let h = head("200 OK", &[], stats.len() as u64);
            body.extend_from_slice(stats.as_bytes());
            return h;
        }
        tokio::time::sleep(self.latency).await;
        self.requests.fetch_add(1, Ordering::SeqCst);
        let Some(path) = resolve(&self.root, &req.target) else {
            return head("404 Not Found", &[], 0);
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            return head("404 Not Found", &[], 0);
        };
        let size = meta.len();
        let mtime = meta.modified().map_or(0, |t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        });
        let modified =
            chrono::DateTime::<chrono::Utc>::from(meta.modified().unwrap_or(std::time::UNIX_EPOCH));
        let mut headers = vec![
            ("ETag", format!("\"{size:x}-{mtime:x}\"")),
            (
                "Last-Modified",
                modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            ),
            ("Accept-Ranges", "bytes".to_string()),
        ];
        if req.method == "HEAD" {
            // A HEAD answer states the object's length, and has no body.
            return head("200 OK", &headers, size);
        }
        let (status, start, end) = match &req.range {
            None if size == 0 => return head("200 OK", &headers, 0),
            None => ("200 OK", 0, size - 1),
            Some(r) => match span(r, size) {
                Some((s, e)) => {
                    headers.push(("Content-Range", format!("bytes {s}-{e}/{size}")));
                    ("206 Partial Content", s, e)
                }
                None => {
                    let h = [("Content-Range", format!("bytes */{size}"))];
                    return head("416 Range Not Satisfiable", &h, 0);
                }
            },
        };
        // Read on this task: the served files sit in the page cache (a benchmark reads them
        // again and again), so a hand-off to a blocking thread would cost more than the copy.
        // `read_to_end` fills the spare capacity without zeroing it first.
        let len = end + 1 - start;
        let read = std::fs::File::open(&path).and_then(|mut f| {
            f.seek(std::io::SeekFrom::Start(start))?;
            f.take(len).read_to_end(body)
        });
        match read {
            Ok(n) if n as u64 == len => {
                self.bytes.fetch_add(body.len() as u64, Ordering::SeqCst);
                head(status, &headers, body.len() as u64)
            }
            _ => {
                body.clear();
                head("500 Internal Server Error", &[], 0)
            }
        }
    }

    async fn connection(self: Arc<Self>, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        let mut body = Vec::new();
        while let Some(req) = read_request(&mut r).await {
            let h = self.answer(&req, &mut body).await;
            if w.write_all(&h).await.is_err() || w.write_all(&body).await.is_err() {
                return;
            }
            if req.close {
                return;
            }
        }
    }
}

async fn serve(server: Arc<Server>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        server.connections.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(server.clone().connection(stream));
    }
}

/// Fetches `names` whole over one keep-alive connection; returns the body bytes received.
async fn fetch_all(addr: std::net::SocketAddr, names: Vec<String>) -> u64 {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::with_capacity(1 << 20, r);
    let mut total = 0;
    for name in names {
        w.write_all(format!("GET /{name} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut len = 0u64;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).await.unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length: ") {
                len = v.parse().unwrap();
            }
        }
        let mut body = (&mut r).take(len);
        total += tokio::io::copy(&mut body, &mut tokio::io::sink())
            .await
            .unwrap();
    }
    total
}

/// Loopback bandwidth through this server without delay, in bytes per second.
async fn bandwidth(server: Arc<Server>, files: usize) -> f64 {
    let mut names: Vec<String> = std::fs::read_dir(&server.root)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".dmrpp"))
        .collect();
    names.sort();
    names.truncate(files.max(1));
    let size = std::fs::metadata(server.root.join(&names[0]))
        .unwrap()
        .len()
        .max(1);
    let count = (1_000_000_000 / size).max(8) as usize;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(server, listener));
    let started = std::time::Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let mine = (0..count)
                .filter(|i| i % 8 == c)
                .map(|i| names[i % names.len()].clone())
                .collect();
            tokio::spawn(fetch_all(addr, mine))
        })
        .collect();
    let mut total = 0;
    for c in clients {
        total += c.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: range_server ROOT [latency_ms] | range_server --bandwidth ROOT [files]";
    let measure = args.get(1).is_some_and(|a| a == "--bandwidth");
    let root = args.get(1 + usize::from(measure)).expect(usage);
    let arg2 = args.get(2 + usize::from(measure));
    let latency_ms: f64 = match (measure, arg2) {
        (false, Some(s)) => s.parse().expect(usage),
        _ => 0.0,
    };
    let server = Arc::new(Server {
        root: Path::new(root).canonicalize().unwrap(),
        latency: Duration::from_secs_f64(latency_ms / 1000.0),
        requests: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        connections: AtomicU64::new(0),
    });
    if measure {
        let files = arg2.map_or(100, |s| s.parse().expect(usage));
        println!("{:.0}", bandwidth(server, files).await);
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    serve(server, listener).await;
}
