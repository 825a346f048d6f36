//! A scripted HTTP/1.1 server on 127.0.0.1 for tests that need what a mock library cannot do:
//! drop a connection, hold back headers, cut a body short, or change state between attempts.
//! One request per connection (`Connection: close`), answered by a closure.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A reqwest client for the loopback servers tests start (the emulator included): rustls with
/// ring as the crate uses it, and a 30 s timeout as a hang detector.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// POSTs `body` as JSON to `url` with a bearer token the emulator takes as its demo user's
/// delegated token.
pub async fn post_delegated(url: &str, body: &serde_json::Value) -> reqwest::Response {
    http()
        .post(url)
        .bearer_auth("delegated-demo-token")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A Graph-shaped answer read whole: its status, its `request-id` header (which every answer
/// carries) and its JSON body.
pub async fn answer(
    response: reqwest::Response,
) -> (reqwest::StatusCode, String, serde_json::Value) {
    let status = response.status();
    let request_id = response.headers()["request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, request_id, response.json().await.unwrap())
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// Where an `Act::Truncate` redirect points.
#[allow(dead_code)]
pub const TRUNCATED_REDIRECT_TO: &str = "https://graph.test/v1.0/me/onlineMeetings/m-1";

/// What to do with a request.
#[derive(Clone)]
pub enum Act {
    /// Answer with status, extra headers and body.
    Respond(u16, Vec<(&'static str, String)>, String),
    /// Close the connection without a byte of answer.
    Drop,
    /// Wait, then act.
    Delay(Duration, Box<Act>),
    /// Send headers promising `declared` bytes (and `request-id: rid-cut`), then only
    /// `body`, then close.
    Truncate(u16, usize, String),
    /// Answer with a body of `len` bytes sent in chunks without Content-Length.
    Chunked(u16, usize),
    /// Answer with these pieces as separate chunks, a pause after each, so they reach the
    /// client one at a time.
    InPieces(u16, Vec<String>),
    /// Send headers promising `declared` bytes, then these pieces one at a time (a pause
    /// after each), then close.
    Promise(u16, u64, Vec<String>),
}

pub fn json(status: u16, body: serde_json::Value) -> Act {
    Act::Respond(status, vec![], body.to_string())
}

type Handler = dyn Fn(&Seen) -> Act + Send + Sync;

pub struct Script {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Script {
    /// Starts serving on an ephemeral loopback port.
    pub async fn start(handler: impl Fn(&Seen) -> Act + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, handler, log).await;
                });
            }
        });
        Self { url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: Arc<Handler>,
    log: Arc<Mutex<Vec<Seen>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    // A header sent twice reads as its values joined by ", " (as HTTP combines them), so an
    // equality check on it also catches a duplicate.
    let mut headers: HashMap<String, String> = HashMap::new();
    for (name, value) in lines.filter_map(|l| l.split_once(':')) {
        let value = value.trim();
        headers
            .entry(name.trim().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let seen = Seen {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
    };
    log.lock().unwrap().push(seen.clone());
    let act = handler(&seen);
    perform(&mut stream, act).await
}

async fn perform(stream: &mut TcpStream, act: Act) -> std::io::Result<()> {
    match act {
        Act::Respond(status, headers, body) => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                head.push_str("content-type: application/json\r\n");
            }
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            stream.shutdown().await
        }
        Act::Drop => Ok(()),
        Act::Delay(d, then) => {
            tokio::time::sleep(d).await;
            Box::pin(perform(stream, *then)).await
        }
        Act::Truncate(status, declared, body) => {
            // A redirect says where, as a 303 after create would.
            let location = match status {
                300..=399 => format!("location: {TRUNCATED_REDIRECT_TO}\r\n"),
                _ => String::new(),
            };
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\nrequest-id: rid-cut\r\n{location}connection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
            stream.shutdown().await
        }
        Act::Chunked(status, len) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            let piece = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < len {
                let n = piece.len().min(len - sent);
                stream.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                stream.write_all(&piece[..n]).await?;
                stream.write_all(b"\r\n").await?;
                sent += n;
            }
            stream.write_all(b"0\r\n\r\n").await?;
            stream.shutdown().await
        }
        Act::InPieces(status, pieces) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            for piece in pieces {
                let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
                stream.write_all(chunk.as_bytes()).await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            stream.write_all(b"0\r\n\r\n").await?;
            stream.shutdown().await
        }
        Act::Promise(status, declared, pieces) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await?;
            for piece in pieces {
                stream.write_all(piece.as_bytes()).await?;
                stream.flush().await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            stream.shutdown().await
        }
    }
}

/// Counts calls: 0 for the first, 1 for the second, ...
pub fn nth(count: &Arc<Mutex<usize>>) -> usize {
    let mut c = count.lock().unwrap();
    *c += 1;
    *c - 1
}

/// Answers the first request with `first()` and every later one with `status` and a meeting
/// for externalId "a": the shape of most retry tests.
pub async fn first_then(first: impl Fn() -> Act + Send + Sync + 'static, status: u16) -> Script {
    let calls = Arc::new(Mutex::new(0));
    Script::start(move |_| match nth(&calls) {
        0 => first(),
        _ => json(status, meeting("a")),
    })
    .await
}

/// A minimal meeting body, as Graph would answer.
pub fn meeting(external_id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": format!("meeting-{external_id}"),
        "externalId": external_id,
        "subject": "s",
        "startDateTime": "2020-02-06T01:49:21.3524945Z",
        "endDateTime": "2020-02-06T02:49:21.3524945Z",
        "joinWebUrl": "https://teams.example/l/meetup-join/1"
    })
}

/// Everything the crate logs, at every level, for tests that search it. Installed as the
/// global subscriber: a thread-local one misses events from tasks on other threads and races
/// with tracing's callsite cache. So there is one per test binary, and the tests of one binary
/// share it: each looks only for lines about its own calls.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Captures every event at every level: this crate's and its dependencies' `tracing`
    /// events, and the records of those that log through `log` (reqwest, rustls).
    pub fn install() -> Self {
        static INSTALLED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
        INSTALLED.get_or_init(Self::install_once).clone()
    }

    /// A subscriber writing every event up to `level` here, plain text.
    pub fn subscriber(&self, level: tracing::Level) -> impl tracing::Subscriber + Send + Sync {
        let sink = self.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(level)
            .with_writer(move || sink.clone())
            .finish()
    }

    fn install_once() -> Self {
        let captured = Captured::default();
        let subscriber = captured.subscriber(tracing::Level::TRACE);
        tracing::subscriber::set_global_default(subscriber)
            .expect("one subscriber per test binary");
        log::set_boxed_logger(Box::new(captured.clone())).expect("one logger per test binary");
        log::set_max_level(log::LevelFilter::Trace);
        captured
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl log::Log for Captured {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!(
            "log {} {}: {}\n",
            record.level(),
            record.target(),
            record.args()
        );
        self.0.lock().unwrap().extend_from_slice(line.as_bytes());
    }
    fn flush(&self) {}
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A client of `emu` with client credentials from its token endpoint (an application token),
/// retrying as `retry` says.
#[cfg(feature = "emulator")]
pub fn as_app(
    emu: &graph_meetings::emulator::Emulator,
    retry: graph_meetings::RetryPolicy,
) -> graph_meetings::Client {
    let app = graph_meetings::ClientCredentials::builder("contoso.example", "app", "secret")
        .authority_host(emu.authority_host())
        .build()
        .unwrap();
    graph_meetings::Client::builder()
        .base_url(emu.base_url())
        .token_provider(app)
        .retry(retry)
        .build()
        .unwrap()
}
