//! A hostile HTTP server for the tests: it stands in front of the EWS
//! simulator (or alone) on 127.0.0.1 and, per request, forwards it, forwards
//! it and rewrites the answer, or answers itself — redirects, absurd
//! `Retry-After`s, endless bodies, echoes of the request, dropped
//! connections. Every request it saw is logged for the test to inspect.
//!
//! It speaks just enough HTTP/1.1 for reqwest: one request per connection
//! (it always answers `connection: close`), bodies by `content-length`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request line's path.
    pub path: String,
    /// The header block, as sent.
    pub head: String,
    /// The body, as text.
    pub body: String,
    /// The SOAP operation (`SyncFolderItems`, `ExpandDL`, …), or `token`
    /// for a form post, or empty.
    pub operation: String,
    /// How many earlier requests had this operation.
    pub nth: u64,
}

/// What to do with a request.
#[allow(missing_debug_implementations)]
pub enum Act {
    /// Pass it to the upstream server and its answer back.
    Forward,
    /// Pass it on, and rewrite the upstream answer's body.
    Rewrite(Box<dyn FnOnce(String) -> String + Send>),
    /// Answer with this status, these headers and this body.
    Reply {
        /// The HTTP status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
    /// Declare `declared` bytes (if any) and send spaces until the client
    /// hangs up or `limit` bytes went out.
    Endless {
        /// The `content-length` claimed, or none (then the body ends with the connection).
        declared: Option<u64>,
        /// The most bytes sent.
        limit: u64,
    },
    /// Close the connection without a word.
    Close,
}

/// Decides per request.
pub type Rule = Arc<dyn Fn(&Seen) -> Act + Send + Sync>;

/// A running hostile server.
#[derive(Debug)]
pub struct Hostile {
    /// `http://127.0.0.1:port`.
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Bytes of `Endless` bodies written.
    pub endless_bytes: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Hostile {
    /// Starts a server on 127.0.0.1 forwarding to `upstream`
    /// (`127.0.0.1:port`) as `rule` says.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound.
    #[allow(clippy::expect_used)]
    pub async fn start(upstream: Option<String>, rule: Rule) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let endless_bytes = Arc::new(AtomicU64::new(0));
        let (log, bytes) = (Arc::clone(&seen), Arc::clone(&endless_bytes));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, bytes, rule, upstream) = (
                    Arc::clone(&log),
                    Arc::clone(&bytes),
                    Arc::clone(&rule),
                    upstream.clone(),
                );
                tokio::spawn(async move {
                    let _ = serve(stream, upstream, rule, log, bytes).await;
                });
            }
        });
        Self {
            base,
            seen,
            endless_bytes,
            task,
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many requests of `operation` came.
    pub fn count(&self, operation: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.operation == operation)
            .count()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut client: TcpStream,
    upstream: Option<String>,
    rule: Rule,
    log: Arc<Mutex<Vec<Seen>>>,
    endless: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let Some((head, body)) = read_message(&mut client).await? else {
        return Ok(());
    };
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let text = String::from_utf8_lossy(&body).into_owned();
    let operation = operation_of(&path, &text);
    let seen = {
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        let nth = log.iter().filter(|s| s.operation == operation).count() as u64;
        let seen = Seen {
            path,
            head: head.clone(),
            body: text,
            operation,
            nth,
        };
        log.push(seen.clone());
        seen
    };
    match rule(&seen) {
        Act::Close => Ok(()),
        Act::Reply {
            status,
            headers,
            body,
        } => {
            let mut out = format!("HTTP/1.1 {status} Hostile\r\nconnection: close\r\n");
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
            client.write_all(out.as_bytes()).await?;
            client.shutdown().await
        }
        Act::Endless { declared, limit } => {
            let mut out =
                String::from("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/xml\r\n");
            if let Some(n) = declared {
                out.push_str(&format!("content-length: {n}\r\n"));
            }
            out.push_str("\r\n");
            client.write_all(out.as_bytes()).await?;
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0u64;
            while sent < limit {
                client.write_all(&chunk).await?;
                sent += chunk.len() as u64;
                endless.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            Ok(())
        }
        act @ (Act::Forward | Act::Rewrite(_)) => {
            let Some(upstream) = upstream else {
                return Ok(());
            };
            let answer = forward(&upstream, &head, &body).await?;
            let answer = match act {
                Act::Rewrite(edit) => rewrite(&answer, edit),
                _ => answer,
            };
            client.write_all(&answer).await?;
            client.shutdown().await
        }
    }
}

/// The operation a request is for.
fn operation_of(path: &str, body: &str) -> String {
    if path.contains("token") {
        return "token".into();
    }
    let after = body.split_once("Body>").map_or("", |(_, b)| b);
    let start = after.trim_start();
    start
        .strip_prefix('<')
        .map(|s| {
            let name: String = s
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
                .collect();
            name.rsplit(':').next().unwrap_or_default().to_owned()
        })
        .unwrap_or_default()
}

/// Reads one HTTP message: its head (without the blank line) and a
/// `content-length` body.
async fn read_message(stream: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut byte).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut byte).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&byte[..n]);
    }
    Ok(Some((head, body)))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn forward(upstream: &str, head: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).await?;
    let mut out: String = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    out.push_str("\r\nconnection: close\r\n\r\n");
    server.write_all(out.as_bytes()).await?;
    server.write_all(body).await?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await?;
    Ok(answer)
}

fn rewrite(answer: &[u8], edit: Box<dyn FnOnce(String) -> String + Send>) -> Vec<u8> {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return answer.to_vec();
    };
    let body = edit(body.to_owned());
    let head: Vec<&str> = head
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            !l.starts_with("content-length:") && !l.starts_with("transfer-encoding:")
        })
        .collect();
    format!(
        "{}\r\ncontent-length: {}\r\n\r\n{body}",
        head.join("\r\n"),
        body.len()
    )
    .into_bytes()
}
