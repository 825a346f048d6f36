//! What the typed client costs over hand-written HTTP (issue 6), measured in one run against a
//! baseline that does the same work by hand: raw `reqwest` + `serde_json`, the same request
//! bytes and headers, the same loopback server, the same reqwest settings.
//!
//! `cargo bench` runs it (`harness = false`). It prints a table and, last, one line for scripts:
//! `bench: latency_ratio=.. throughput_ratio=.. token_requests=.. rss_growth_kib=..
//! typed_latency_ratio=.. typed_throughput_ratio=.. block_latency_ratio=..`, plus
//! `build_ratio=..` when `BENCH_BUILD=1` also runs `benches/build_cost.sh` (minutes of CPU).
//! `BENCH_RUNS=n` makes n runs in fresh processes and ends with one line of their medians
//! (counts: the worst run).
//!
//! Layout: the server runs on a thread of its own (a current-thread runtime) pinned to the last
//! core; the sides run on one client runtime with `cores - 1` workers pinned to the others, so
//! on a 2-core machine each has a core and the client's CPU, not the server's, is what bounds
//! throughput (the table shows the server's share).
//! A third side, the same hand-written code decoding into the generated types instead of
//! `Value`, splits the gap: typed model on one side, the hand-written layer on the other.
//! Runs of the sides rotate round by round to cancel drift. All traffic goes to 127.0.0.1.
//! The binary is built with Cargo.toml's `[profile.bench]` (fat LTO, one codegen unit), which
//! the first line of the output names, since the settings move the ratios.

use std::{
    fmt::Write as _,
    hint::black_box,
    io,
    net::SocketAddr,
    path::PathBuf,
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, RwLock,
    },
    time::{Duration, Instant},
};

use graph_meetings::{
    types, AccessToken, AuthError, Client, ClientCredentials, StaticToken, TokenKind,
    TokenProvider, User,
};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// The seeds' sample meeting: what the server answers to every createOrGet.
const MEETING: &str = include_str!("../tests/fixtures/seed_create_or_get_response.json");
/// The seeds' createOrGet request (v1.0 example), as a caller would build it.
const REQUEST: &str = r#"{
  "startDateTime": "2020-02-06T01:49:21.3524945+00:00",
  "endDateTime": "2020-02-06T02:19:21.3524945+00:00",
  "subject": "Create a meeting with customId provided",
  "externalId": "7eb8263f-d0e0-4149-bb1c-1f0476083c56",
  "participants": {
    "attendees": [
      {
        "identity": { "user": { "id": "1f35f2e6-9cab-44ad-8d5a-b74c14720000" } },
        "role": "presenter",
        "upn": "test1@contoso.com"
      }
    ]
  }
}"#;
const USER_ID: &str = "8b081ef6-4792-4def-b2c9-c363a1bf41d5";
const TENANT: &str = "contoso.onmicrosoft.com";
const USER_AGENT: &str = concat!("graph-meetings/", env!("CARGO_PKG_VERSION"));

// Sizes: enough for stable medians on 2 cores, small enough for a run of about a minute.
const LATENCY_CALLS: usize = 20_000;
/// Calls a side makes in a row in the second latency measure.
const LATENCY_BLOCK: usize = 200;
const CONCURRENCY: usize = 64;
const THROUGHPUT_ROUNDS: usize = 18;
const THROUGHPUT_CALLS: usize = 4_000;
const TOKEN_CALLS: usize = 1_000;
const TOKEN_TRIALS: usize = 5;
/// A token() that took this long waited for someone else's fetch.
const WAITED_MS: f64 = 0.1;
const MEMORY_WARMUP: usize = 10_000;
const MEMORY_CALLS: usize = 100_000;
const MODEL_ROUNDS: usize = 21;
const MODEL_ITERS: usize = 4_000;
const PROFILE_CALLS: usize = 200_000;
const PROFILE_WARMUP: usize = 2_000;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs bench binaries without it,
    // and nothing timed belongs in a test run.
    let profiling = std::env::var_os("BENCH_PROFILE").is_some_and(|v| !v.is_empty());
    if !profiling && !std::env::args().any(|a| a == "--bench") {
        println!("overhead: benchmarks run only under `cargo bench`; skipped");
        return;
    }
    if let Some(runs) = std::env::var("BENCH_RUNS").ok().filter(|_| !profiling) {
        match runs.parse::<usize>() {
            Ok(0) | Err(_) => panic!("BENCH_RUNS={runs}: expected a number of runs, 1 or more"),
            Ok(1) => {}
            Ok(runs) => return repeat(runs),
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores.saturating_sub(1).max(1);
    let token = bearer_token();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "graph-meetings benchmarks: {cores} core(s); client runtime {workers} worker(s), \
         server 1 thread; threads pinned (server: core {}); concurrency {CONCURRENCY}; \
         built with {}",
        server_core(),
        build_settings()
    );

    let server = Server::start(MEETING.as_bytes());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(move || pin_to(0..workers))
        .enable_all()
        .build()
        .expect("runtime");

    // For a profiler: `BENCH_PROFILE=client|baseline|typed` runs only that side's throughput loop
    // (`BENCH_PROFILE_CALLS` calls after 2,000 to warm up, `BENCH_PROFILE_CONCURRENCY` at a
    // time), e.g. under perf or callgrind.
    if let Some(side) = std::env::var("BENCH_PROFILE")
        .ok()
        .filter(|v| !v.is_empty())
    {
        let side = match side.as_str() {
            "client" => Side::Client,
            "baseline" => Side::Raw,
            "typed" => Side::Typed,
            other => panic!("BENCH_PROFILE={other}: expected client, baseline or typed"),
        };
        let calls = std::env::var("BENCH_PROFILE_CALLS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(PROFILE_CALLS);
        let concurrency = std::env::var("BENCH_PROFILE_CONCURRENCY")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(CONCURRENCY);
        let elapsed = rt.block_on(async move {
            tokio::spawn(async move {
                let sides = Arc::new(Sides::new(&server, &token));
                run(&sides, side, PROFILE_WARMUP, concurrency).await;
                run(&sides, side, calls, concurrency).await
            })
            .await
            .expect("profile run")
        });
        println!(
            "{side:?}: {calls} calls at concurrency {concurrency} in {:.2} s ({:.0} req/s)",
            elapsed.as_secs_f64(),
            calls as f64 / elapsed.as_secs_f64()
        );
        return;
    }

    // 3. Model cost first: no I/O, nothing else running.
    let model = model_cost();

    let io = rt.block_on(async {
        tokio::spawn(network_benches(server, token))
            .await
            .expect("network benchmarks")
    });
    drop(rt);

    let build = if std::env::var_os("BENCH_BUILD").is_some_and(|v| v == "1") {
        Some(build_cost())
    } else {
        None
    };

    report(&mut out, &io, &model, build.as_ref());
    print!("{out}");
}

/// What this binary was compiled with: Cargo.toml's `[profile.bench]` (fat LTO, one codegen
/// unit) unless cargo's environment said otherwise (`CARGO_PROFILE_BENCH_LTO`,
/// `CARGO_PROFILE_BENCH_CODEGEN_UNITS`; a change made another way, `--config` or an edit of
/// Cargo.toml, is not seen). Both sides share it, and it moves the ratios (benches/README.md),
/// so every table says which it was.
fn build_settings() -> String {
    let lto = option_env!("CARGO_PROFILE_BENCH_LTO").unwrap_or("fat");
    let units = option_env!("CARGO_PROFILE_BENCH_CODEGEN_UNITS").unwrap_or("1");
    format!("lto={lto}, codegen-units={units}")
}

/// The server's core: the last one. The client's workers take the others, so neither side
/// is moved around or preempted by the other (run-to-run noise on a small VM).
fn server_core() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
}

/// Pins the calling thread to `cores` (Linux; a no-op elsewhere or when it fails).
fn pin_to(cores: std::ops::Range<usize>) {
    #[cfg(target_os = "linux")]
    // SAFETY: a zeroed cpu_set_t is a valid empty set, filled with in-range CPU indices and
    // passed by pointer with its size, as sched_setaffinity(2) expects.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for core in cores {
            libc::CPU_SET(core, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cores;
}

/// A bearer token about the size of a real Entra ID access token (~1.5 KB).
fn bearer_token() -> String {
    format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIn0.{}.{}",
        "eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ".repeat(24),
        "c2lnbmF0dXJl".repeat(28)
    )
}

// ---------------------------------------------------------------------------------------------
// The loopback server: HTTP/1.1 keep-alive, one fixed meeting, a token endpoint, nothing else.

struct State {
    token_requests: AtomicUsize,
    /// While set, a token request is read and counted but not answered (see `hold_tokens`).
    holding_tokens: AtomicBool,
    tokens_released: tokio::sync::Notify,
    /// When the last request was read whole, and when its answer was written ([`stamp`]).
    received_at: AtomicU64,
    answered_at: AtomicU64,
    /// The meeting's answer up to its `client-request-id` header, and from the line after it:
    /// the header itself echoes each request's, as Graph's answers do (the client checks it).
    meeting_head: Vec<u8>,
    meeting_tail: Vec<u8>,
    token_response: Vec<u8>,
    capturing: AtomicBool,
    captured: Mutex<Vec<Vec<u8>>>,
}

struct Server {
    url: String,
    state: Arc<State>,
    /// `/proc/<pid>/task/<tid>/stat` of the server's thread, for its CPU time.
    stat: PathBuf,
}

const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";

impl Server {
    fn start(meeting: &[u8]) -> Server {
        let meeting_head = b"HTTP/1.1 201 Created\r\n\
            content-type: application/json; odata.metadata=minimal\r\n\
            request-id: 0b5b4a2e-9f63-4d5c-a0a3-3a6f4e8f6c11\r\nclient-request-id: "
            .to_vec();
        let mut meeting_tail =
            format!("\r\ncontent-length: {}\r\n\r\n", meeting.len()).into_bytes();
        meeting_tail.extend_from_slice(meeting);
        let token_body = format!(
            r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"{}"}}"#,
            bearer_token()
        );
        let token_response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n\
             content-length: {}\r\n\r\n{token_body}",
            token_body.len()
        )
        .into_bytes();
        let state = Arc::new(State {
            token_requests: AtomicUsize::new(0),
            holding_tokens: AtomicBool::new(false),
            tokens_released: tokio::sync::Notify::new(),
            received_at: AtomicU64::new(0),
            answered_at: AtomicU64::new(0),
            meeting_head,
            meeting_tail,
            token_response,
            capturing: AtomicBool::new(false),
            captured: Mutex::default(),
        });
        let (tx, rx) = std::sync::mpsc::channel::<(SocketAddr, PathBuf)>();
        let shared = state.clone();
        std::thread::Builder::new()
            .name("loopback-server".into())
            .spawn(move || {
                pin_to(server_core()..server_core() + 1);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                rt.block_on(async move {
                    let socket = TcpSocket::new_v4().expect("socket");
                    socket
                        .bind("127.0.0.1:0".parse().expect("address"))
                        .expect("bind 127.0.0.1");
                    // 1,000 connections open at once in the token benchmark: no SYN drops.
                    let listener = socket.listen(4096).expect("listen");
                    let me = std::fs::read_link("/proc/thread-self")
                        .map(|p| PathBuf::from("/proc").join(p).join("stat"))
                        .unwrap_or_default();
                    tx.send((listener.local_addr().expect("address"), me))
                        .expect("report address");
                    while let Ok((stream, _)) = listener.accept().await {
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            let _ = serve(stream, &shared).await;
                        });
                    }
                });
            })
            .expect("server thread");
        let (addr, stat) = rx.recv().expect("server started");
        Server {
            url: format!("http://{addr}"),
            state,
            stat,
        }
    }

    fn cpu_ticks(&self) -> u64 {
        stat_ticks(&self.stat)
    }

    fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// From now on, token requests wait for `release_tokens` before they are answered: the
    /// token benchmark holds the one fetch until every caller is waiting for it.
    fn hold_tokens(&self) {
        self.state.holding_tokens.store(true, Ordering::SeqCst);
    }

    fn release_tokens(&self) {
        self.state.holding_tokens.store(false, Ordering::SeqCst);
        self.state.tokens_released.notify_waiters();
    }

    /// From now on, keep every request's raw bytes as received.
    fn start_capture(&self) {
        self.state.captured.lock().expect("lock").clear();
        self.state.capturing.store(true, Ordering::SeqCst);
    }

    /// The requests kept since `start_capture`.
    fn stop_capture(&self) -> Vec<Vec<u8>> {
        self.state.capturing.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.state.captured.lock().expect("lock"))
    }
}

async fn serve(mut stream: TcpStream, state: &State) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut answer: Vec<u8> = Vec::with_capacity(4 * 1024);
    loop {
        let total = loop {
            if let Some(total) = complete_request(&buf) {
                break total;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        state.received_at.store(stamp(), Ordering::Relaxed);
        let request = &buf[..total];
        if state.capturing.load(Ordering::Relaxed) {
            state.captured.lock().expect("lock").push(request.to_vec());
        }
        let target = request_target(request);
        let response: &[u8] = if target.ends_with(b"/oauth2/v2.0/token") {
            state.token_requests.fetch_add(1, Ordering::SeqCst);
            while state.holding_tokens.load(Ordering::SeqCst) {
                // Registered before the flag is read again, so a release in between is seen.
                let released = state.tokens_released.notified();
                tokio::pin!(released);
                released.as_mut().enable();
                if !state.holding_tokens.load(Ordering::SeqCst) {
                    break;
                }
                released.await;
            }
            &state.token_response
        } else if target.ends_with(b"/onlineMeetings/createOrGet") {
            answer.clear();
            answer.extend_from_slice(&state.meeting_head);
            answer
                .extend_from_slice(header_value(request, b"client-request-id").unwrap_or_default());
            answer.extend_from_slice(&state.meeting_tail);
            &answer
        } else {
            NOT_FOUND
        };
        stream.write_all(response).await?;
        state.answered_at.store(stamp(), Ordering::Relaxed);
        buf.drain(..total);
    }
}

/// Nanoseconds since the first call, on one clock for the server thread and the callers.
fn stamp() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// The length of the first whole request in `buf` (head and Content-Length body), if there is one.
fn complete_request(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let length = buf[..head_end]
        .split(|&b| b == b'\n')
        .find_map(|line| {
            let line = std::str::from_utf8(line).ok()?;
            let (name, value) = line.split_once(':')?;
            if name.trim().eq_ignore_ascii_case("content-length") {
                value.trim().parse::<usize>().ok()
            } else {
                None
            }
        })
        .unwrap_or(0);
    (buf.len() >= head_end + length).then_some(head_end + length)
}

/// The value of header `name` (lower case) in a request's head, trimmed.
fn header_value<'a>(request: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let head = request.split(|&b| b == b'\n').skip(1);
    head.take_while(|line| !line.trim_ascii().is_empty())
        .find_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let value = line[colon + 1..].trim_ascii();
            line[..colon].eq_ignore_ascii_case(name).then_some(value)
        })
}

fn request_target(request: &[u8]) -> &[u8] {
    request.split(|&b| b == b' ').nth(1).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The sides: the client, the baseline, and the baseline decoding into the generated types.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Client,
    Raw,
    /// The baseline with the generated types in place of `Value`: what is left of the gap
    /// between it and the client is the hand-written layer's; the rest is the typed model's.
    Typed,
}

const SIDES: [Side; 3] = [Side::Client, Side::Raw, Side::Typed];

impl Side {
    fn index(self) -> usize {
        self as usize
    }

    /// The order of the sides in round `round`: each side takes each position equally often,
    /// so drift during a run does not favour one.
    fn order(round: usize) -> [Side; 3] {
        let mut order = SIDES;
        order.rotate_left(round % 3);
        if (round / 3) % 2 == 1 {
            order.reverse();
        }
        order
    }
}

/// The sides, pointed at the same server, each making the caller's request anew every call.
struct Sides {
    client: Client,
    user: User,
    request: types::CreateOrGetRequest,
    raw: Raw,
}

impl Sides {
    fn new(server: &Server, token: &str) -> Sides {
        let client = Client::builder()
            .base_url(&server.url)
            .token_provider(StaticToken::new(token.to_owned()).with_kind(TokenKind::Application))
            .build()
            .expect("client");
        let request: types::CreateOrGetRequest =
            serde_json::from_str(REQUEST).expect("the seeds' request is a CreateOrGetRequest");
        // The baseline sends the very bytes the client sends: a Value with the same content.
        let body: Value = serde_json::from_slice(&serde_json::to_vec(&request).expect("serialize"))
            .expect("JSON");
        Sides {
            client,
            user: User::id(USER_ID).expect("user id"),
            request: request.clone(),
            raw: Raw {
                http: raw_http_client(),
                url: format!(
                    "{}/v1.0/users/{USER_ID}/onlineMeetings/createOrGet",
                    server.url
                ),
                bearer: bearer(token),
                body,
                typed: request.clone(),
            },
        }
    }

    async fn call(&self, side: Side) {
        match side {
            Side::Client => {
                let answer = self
                    .client
                    .create_or_get(&self.user, self.request.clone())
                    .await
                    .expect("client call");
                black_box(answer);
            }
            Side::Raw => {
                black_box(self.raw.call().await.expect("baseline call"));
            }
            Side::Typed => {
                black_box(self.raw.call_typed().await.expect("typed baseline call"));
            }
        }
    }
}

/// The hand-written baseline: what a careful caller writes with reqwest and serde_json alone.
/// It does per call what the client does per call and no more: its `Authorization` header is
/// built once, as the client's is, and its `client-request-id` comes from the same kind of
/// per-thread generator (not uuid's v4, a system call each).
struct Raw {
    http: reqwest::Client,
    url: String,
    bearer: HeaderValue,
    body: Value,
    typed: types::CreateOrGetRequest,
}

/// A hyphenated UUID from a per-thread generator seeded once from the OS, as the client makes
/// its `client-request-id`.
fn request_id() -> String {
    use std::{cell::RefCell, collections::hash_map::RandomState, hash::BuildHasher};
    thread_local! {
        static BITS: RefCell<fastrand::Rng> =
            RefCell::new(fastrand::Rng::with_seed(RandomState::new().hash_one(())));
    }
    let bits = BITS.with(|rng| rng.borrow_mut().u128(..).to_le_bytes());
    uuid::Builder::from_random_bytes(bits)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// What the client asks of Graph's evolvable enumerations on every request.
const PREFER_EVERY_ENUM_MEMBER: HeaderValue =
    HeaderValue::from_static("include-unknown-enum-members");

/// `Bearer {token}`, marked sensitive.
fn bearer(token: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value");
    value.set_sensitive(true);
    value
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Raw {
    async fn call(&self) -> Result<Value, BoxError> {
        let body = serde_json::to_vec(&self.body.clone())?;
        Ok(serde_json::from_slice(&self.send(body).await?)?)
    }

    async fn call_typed(&self) -> Result<types::OnlineMeeting, BoxError> {
        let body = serde_json::to_vec(&self.typed.clone())?;
        Ok(serde_json::from_slice(&self.send(body).await?)?)
    }

    async fn send(&self, body: Vec<u8>) -> Result<bytes::Bytes, BoxError> {
        let response = self
            .http
            .post(&self.url)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json")
            .header("client-request-id", request_id())
            .header(AUTHORIZATION, self.bearer.clone())
            .header("prefer", PREFER_EVERY_ENUM_MEMBER.clone())
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status != reqwest::StatusCode::OK && status != reqwest::StatusCode::CREATED {
            return Err(format!("HTTP {status}").into());
        }
        Ok(bytes)
    }
}

/// The same reqwest settings the crate uses (src/transport.rs): rustls with ring and the
/// platform verifier, no proxy from the environment, no redirects, no reqwest-level retries,
/// 10 s connect and 60 s overall timeouts, same User-Agent.
fn raw_http_client() -> reqwest::Client {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .expect("TLS")
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(USER_AGENT)
        .build()
        .expect("reqwest client")
}

/// `total` calls of `side`, `concurrency` at a time.
async fn run(sides: &Arc<Sides>, side: Side, total: usize, concurrency: usize) -> Duration {
    let left = Arc::new(AtomicUsize::new(total));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let sides = sides.clone();
            let left = left.clone();
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    sides.call(side).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    start.elapsed()
}

// ---------------------------------------------------------------------------------------------
// The network benchmarks (1, 2, 4, 5).

struct Net {
    wire: String,
    /// Per side: every round trip at concurrency 1, in µs.
    latency: [Vec<f64>; 3],
    /// Per side, the call-by-call round trips in three parts, in µs: until the server has read
    /// the request, the server's own time, and from its answer to the caller's result.
    split: [[Vec<f64>; 3]; 3],
    /// The same, with the sides taking turns block by block.
    latency_in_blocks: [Vec<f64>; 3],
    /// Per side: requests/s of each round at concurrency 64.
    rps: [Vec<f64>; 3],
    /// Per side: client-side (process minus server thread) CPU µs per call at concurrency 64.
    cpu_us: [f64; 3],
    /// Per side: share of the wall time the server thread was on CPU at concurrency 64.
    server_busy: [f64; 3],
    tokens: Tokens,
    memory: Memory,
    /// Size in bytes of one call's future: client, baseline.
    future_bytes: [usize; 2],
}

async fn network_benches(server: Server, token: String) -> Net {
    let sides = Arc::new(Sides::new(&server, &token));
    let wire = wire_check(&server, &sides).await;
    let future_bytes = [
        std::mem::size_of_val(
            &sides
                .client
                .create_or_get(&sides.user, sides.request.clone()),
        ),
        std::mem::size_of_val(&sides.raw.call()),
    ];

    // Warm both: connections open, allocator and caches settled.
    for side in SIDES {
        run(&sides, side, 4 * CONCURRENCY * 10, CONCURRENCY).await;
        run(&sides, side, 1_000, 1).await;
    }

    // 1. Latency at concurrency 1: the sides take turns call by call, in rotating order, so
    //    whatever the machine does meanwhile lands on all of them alike.
    //    The server's timestamps split each round trip: what a side adds before its request
    //    is out and what it adds after the answer is in.
    let mut latency: [Vec<f64>; 3] = Default::default();
    let mut split: [[Vec<f64>; 3]; 3] = Default::default();
    let state = &server.state;
    for turn in 0..LATENCY_CALLS {
        for side in Side::order(turn) {
            let (t, start) = (Instant::now(), stamp());
            sides.call(side).await;
            let (elapsed, end) = (t.elapsed(), stamp());
            latency[side.index()].push(elapsed.as_secs_f64() * 1e6);
            let received = state.received_at.load(Ordering::Relaxed);
            let answered = state.answered_at.load(Ordering::Relaxed);
            let parts = [start, received, answered, end];
            for (k, part) in split[side.index()].iter_mut().enumerate() {
                part.push(parts[k + 1].saturating_sub(parts[k]) as f64 / 1e3);
            }
        }
    }
    // The same number of calls, the sides taking turns in blocks: each call then runs after
    // calls of its own side, caches as a service calling steadily would keep them, where call
    // by call each side runs after the others have evicted its code. Reported beside the
    // first, which stays the headline.
    let mut latency_in_blocks: [Vec<f64>; 3] = Default::default();
    for block in 0..LATENCY_CALLS / LATENCY_BLOCK {
        for side in Side::order(block) {
            for _ in 0..LATENCY_BLOCK {
                let t = Instant::now();
                sides.call(side).await;
                latency_in_blocks[side.index()].push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
    }

    // 2. Throughput at concurrency 64, short rounds in rotating order; the ratios are taken
    //    round by round, between rounds that ran side by side.
    let mut rps: [Vec<f64>; 3] = Default::default();
    let mut client_ticks = [0u64; 3];
    let mut server_ticks = [0u64; 3];
    let mut wall = [0f64; 3];
    for round in 0..THROUGHPUT_ROUNDS {
        for side in Side::order(round) {
            let (p0, s0) = (process_ticks(), server.cpu_ticks());
            let elapsed = run(&sides, side, THROUGHPUT_CALLS, CONCURRENCY).await;
            let (p1, s1) = (process_ticks(), server.cpu_ticks());
            let i = side.index();
            rps[i].push(THROUGHPUT_CALLS as f64 / elapsed.as_secs_f64());
            client_ticks[i] += (p1 - p0).saturating_sub(s1 - s0);
            server_ticks[i] += s1 - s0;
            wall[i] += elapsed.as_secs_f64();
        }
    }
    let calls = (THROUGHPUT_ROUNDS * THROUGHPUT_CALLS) as f64;
    let cpu_us = client_ticks.map(|t| ticks_to_secs(t) * 1e6 / calls);
    let server_busy = [0, 1, 2].map(|i| ticks_to_secs(server_ticks[i]) / wall[i]);

    // Memory before the token test, whose 1,000 connections and their buffers, freed but kept
    // by the allocator, could hide growth.
    let memory = memory(&server, &token).await;
    let tokens = token_cache(&server, &sides, &token).await;
    Net {
        wire,
        latency,
        split,
        latency_in_blocks,
        rps,
        cpu_us,
        server_busy,
        tokens,
        memory,
        future_bytes,
    }
}

/// One call of each side, captured at the server: same method, target, headers and body
/// (the client-request-id differs by design: a fresh GUID per call on both sides).
async fn wire_check(server: &Server, sides: &Arc<Sides>) -> String {
    let mut seen = Vec::new();
    for side in SIDES {
        server.start_capture();
        sides.call(side).await;
        let captured = server.stop_capture();
        assert_eq!(captured.len(), 1, "one request per call");
        seen.push(parse_capture(&captured[0]));
    }
    let client = &seen[0];
    let mut problems = Vec::new();
    for (side, raw) in SIDES.iter().zip(&seen).skip(1) {
        if client.0 != raw.0 {
            problems.push(format!(
                "{side:?} request line: {:?} vs {:?}",
                client.0, raw.0
            ));
        }
        if client.1 != raw.1 {
            problems.push(format!("{side:?} headers: {:?} vs {:?}", client.1, raw.1));
        }
        if client.2 != raw.2 {
            problems.push(format!("{side:?} body bytes differ"));
        }
    }
    assert!(
        problems.is_empty(),
        "a baseline no longer sends what the client sends; update Raw: {problems:?}"
    );
    let names: Vec<&str> = client.1.iter().map(|(n, _)| n.as_str()).collect();
    format!(
        "identical request line, body ({} bytes) and headers [{}]",
        client.2.len(),
        names.join(", ")
    )
}

/// Request line, sorted headers (client-request-id's value replaced by its shape), body.
fn parse_capture(raw: &[u8]) -> (String, Vec<(String, String)>, Vec<u8>) {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_string();
    let mut headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| {
            let n = n.trim().to_ascii_lowercase();
            let v = v.trim().to_string();
            if n == "client-request-id" {
                let shape = uuid::Uuid::parse_str(&v)
                    .map(|u| format!("GUID v{}", u.get_version_num()))
                    .unwrap_or_else(|_| format!("not a GUID: {v}"));
                (n, shape)
            } else {
                (n, v)
            }
        })
        .collect();
    headers.sort();
    (line, headers, raw[head_end..].to_vec())
}

// 4. Token cache ------------------------------------------------------------------------------

/// Hands out the token of whichever provider is current, so a fresh, cold ClientCredentials can
/// be put behind a client whose connection pool is already warm.
/// Also records how long each call waited for its token.
#[derive(Debug)]
struct Swap {
    current: RwLock<Arc<dyn TokenProvider>>,
    waits_ms: Mutex<Vec<f64>>,
    /// Calls that have asked for a token since the count was last reset.
    entered: AtomicUsize,
}

impl Swap {
    fn take_waits(&self) -> Vec<f64> {
        std::mem::take(&mut *self.waits_ms.lock().expect("lock"))
    }
}

#[async_trait::async_trait]
impl TokenProvider for Swap {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let current = self.current.read().expect("lock").clone();
        let t = Instant::now();
        let token = current.token().await;
        let waited = t.elapsed().as_secs_f64() * 1e3;
        self.waits_ms.lock().expect("lock").push(waited);
        token
    }

    fn invalidate(&self, rejected: &AccessToken) {
        self.current.read().expect("lock").invalidate(rejected);
    }

    fn kind(&self) -> TokenKind {
        TokenKind::Application
    }

    // A wrapper forwards what the client checks when it is built.
    fn cloud(&self) -> Option<graph_meetings::Cloud> {
        self.current.read().expect("lock").cloud()
    }

    fn secret_to_default_authority(&self) -> bool {
        self.current
            .read()
            .expect("lock")
            .secret_to_default_authority()
    }
}

struct Burst {
    wall_ms: f64,
    median_ms: f64,
    max_ms: f64,
}

struct Tokens {
    /// Trials whose one fetch the endpoint held until all the calls were in `token()`.
    held: Vec<Held>,
    requests_per_trial: Vec<usize>,
    cold: Vec<Burst>,
    warm: Vec<Burst>,
    /// Time each call spent getting its token (ms), all trials: cold cache, warm cache.
    cold_waits: Vec<f64>,
    warm_waits: Vec<f64>,
}

/// One held trial: token requests the endpoint had read when every call was waiting for a token
/// (the fetch still held), and in all; calls that waited for the fetch.
struct Held {
    requests_while_all_waited: usize,
    requests: usize,
    waited: usize,
}

fn fresh_credentials(server: &Server) -> ClientCredentials {
    ClientCredentials::builder(TENANT, "bench-app-id", "bench-secret")
        .authority_host(&server.url)
        .build()
        .expect("credentials")
}

async fn token_cache(server: &Server, sides: &Arc<Sides>, token: &str) -> Tokens {
    let swap = Arc::new(Swap {
        current: RwLock::new(Arc::new(
            StaticToken::new(token.to_owned()).with_kind(TokenKind::Application),
        )),
        waits_ms: Mutex::default(),
        entered: AtomicUsize::new(0),
    });
    let client = Client::builder()
        .base_url(&server.url)
        .shared_token_provider(swap.clone())
        .build()
        .expect("client");
    let client = Arc::new(Sides {
        client,
        user: sides.user.clone(),
        request: sides.request.clone(),
        raw: Raw {
            http: sides.raw.http.clone(),
            url: sides.raw.url.clone(),
            bearer: HeaderValue::from_static("unused"),
            body: Value::Null,
            typed: types::CreateOrGetRequest::default(),
        },
    });
    // Open the connections 1,000 concurrent calls need, with a token that needs no fetching.
    burst(&client, TOKEN_CALLS).await;
    burst(&client, TOKEN_CALLS).await;

    swap.take_waits();
    let mut tokens = Tokens {
        held: Vec::new(),
        requests_per_trial: Vec::new(),
        cold: Vec::new(),
        warm: Vec::new(),
        cold_waits: Vec::new(),
        warm_waits: Vec::new(),
    };
    // Held: the endpoint answers the one fetch only once all the calls are waiting for a
    // token, so every one of them meets the cold cache (unheld, the loopback endpoint answers
    // in a few milliseconds, and most calls of a burst find the token already there).
    for _ in 0..TOKEN_TRIALS {
        *swap.current.write().expect("lock") = Arc::new(fresh_credentials(server));
        swap.entered.store(0, Ordering::SeqCst);
        let before = server.token_requests();
        server.hold_tokens();
        let calls = tokio::spawn({
            let client = client.clone();
            async move { burst(&client, TOKEN_CALLS).await }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        // Until every call is in `token()` and the fetch is at the endpoint, held.
        while swap.entered.load(Ordering::SeqCst) < TOKEN_CALLS || server.token_requests() == before
        {
            assert!(
                Instant::now() < deadline,
                "within a minute, {} of {TOKEN_CALLS} calls asked for a token and the endpoint \
                 had {} request(s)",
                swap.entered.load(Ordering::SeqCst),
                server.token_requests() - before
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let requests_while_all_waited = server.token_requests() - before;
        server.release_tokens();
        calls.await.expect("held burst");
        let waits = swap.take_waits();
        tokens.held.push(Held {
            requests_while_all_waited,
            requests: server.token_requests() - before,
            waited: waits.iter().filter(|&&ms| ms >= WAITED_MS).count(),
        });
    }
    // Unheld: the added latency a cold cache costs a burst, the fetch as fast as it comes.
    for _ in 0..TOKEN_TRIALS {
        *swap.current.write().expect("lock") = Arc::new(fresh_credentials(server));
        let before = server.token_requests();
        tokens.cold.push(burst(&client, TOKEN_CALLS).await);
        tokens.cold_waits.extend(swap.take_waits());
        tokens.warm.push(burst(&client, TOKEN_CALLS).await);
        tokens.warm_waits.extend(swap.take_waits());
        // Both bursts: the warm one must not ask again.
        tokens
            .requests_per_trial
            .push(server.token_requests() - before);
    }
    tokens
}

/// `n` calls started together; wall time and per-call latency.
async fn burst(sides: &Arc<Sides>, n: usize) -> Burst {
    let gate = Arc::new(tokio::sync::Barrier::new(n + 1));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let sides = sides.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.wait().await;
                let t = Instant::now();
                sides.call(Side::Client).await;
                t.elapsed().as_secs_f64() * 1e3
            })
        })
        .collect();
    gate.wait().await;
    let start = Instant::now();
    let mut each = Vec::with_capacity(n);
    for task in tasks {
        each.push(task.await.expect("task"));
    }
    let wall_ms = start.elapsed().as_secs_f64() * 1e3;
    Burst {
        wall_ms,
        median_ms: median(&mut each),
        max_ms: each.iter().copied().fold(0.0, f64::max),
    }
}

// 5. Memory -----------------------------------------------------------------------------------

struct Memory {
    before_kib: u64,
    middle_kib: u64,
    after_kib: u64,
}

async fn memory(server: &Server, token: &str) -> Memory {
    let sides = Arc::new(Sides::new(server, token));
    run(&sides, Side::Client, MEMORY_WARMUP, CONCURRENCY).await;
    let before_kib = rss_kib();
    run(&sides, Side::Client, MEMORY_CALLS / 2, CONCURRENCY).await;
    let middle_kib = rss_kib();
    run(
        &sides,
        Side::Client,
        MEMORY_CALLS - MEMORY_CALLS / 2,
        CONCURRENCY,
    )
    .await;
    let after_kib = rss_kib();
    Memory {
        before_kib,
        middle_kib,
        after_kib,
    }
}

/// Resident memory, after handing what the allocator holds free back to the OS (glibc), so
/// that growth shows as growth and not as reuse of memory freed earlier.
fn rss_kib() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the OS; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// 3. Model cost.

struct Model {
    request_bytes: usize,
    meeting_bytes: usize,
    /// ns per operation: serialize typed, serialize Value, deserialize typed, deserialize Value.
    ns: [f64; 4],
}

fn model_cost() -> Model {
    let typed: types::CreateOrGetRequest =
        serde_json::from_str(REQUEST).expect("the seeds' request is a CreateOrGetRequest");
    let bytes = serde_json::to_vec(&typed).expect("serialize");
    let value: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(
        serde_json::to_vec(&value).expect("serialize"),
        bytes,
        "typed and Value serialize to the same bytes"
    );
    serde_json::from_str::<types::OnlineMeeting>(MEETING).expect("the seeds' meeting is typed");

    type Op<'a> = Box<dyn Fn() + 'a>;
    let ops: [Op; 4] = [
        Box::new(|| {
            black_box(serde_json::to_vec(black_box(&typed)).expect("serialize"));
        }),
        Box::new(|| {
            black_box(serde_json::to_vec(black_box(&value)).expect("serialize"));
        }),
        Box::new(|| {
            black_box(
                serde_json::from_str::<types::OnlineMeeting>(black_box(MEETING))
                    .expect("deserialize"),
            );
        }),
        Box::new(|| {
            black_box(serde_json::from_str::<Value>(black_box(MEETING)).expect("deserialize"));
        }),
    ];
    let mut samples: [Vec<f64>; 4] = Default::default();
    for round in 0..MODEL_ROUNDS {
        for k in 0..ops.len() {
            let i = (k + round) % ops.len();
            let t = Instant::now();
            for _ in 0..MODEL_ITERS {
                ops[i]();
            }
            samples[i].push(t.elapsed().as_secs_f64() * 1e9 / MODEL_ITERS as f64);
        }
    }
    Model {
        request_bytes: bytes.len(),
        meeting_bytes: MEETING.len(),
        ns: samples.map(|mut s| median(&mut s)),
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Build cost (opt-in: BENCH_BUILD=1).

/// `key=value` pairs of build_cost.sh's last line.
type Build = Vec<(String, String)>;

fn build_cost() -> Build {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/build_cost.sh");
    eprintln!("BENCH_BUILD=1: running {script} (cold release builds; minutes)");
    let output = Command::new("bash")
        .arg(script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run build_cost.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "build_cost.sh failed: {stdout}");
    stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("build_cost:"))
        .expect("build_cost.sh prints a build_cost: line")
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Several runs (BENCH_RUNS=n).

/// `runs` whole runs, each in a fresh process (the ratios move more from run to run than within
/// one: heap layout, the machine's speed): each run's table, then every run's `bench:` line, and
/// last one `bench:` line of the ratios' medians and the counts' worst, to which
/// `BENCH_BUILD=1` adds one build comparison.
fn repeat(runs: usize) {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let mut values: Vec<(String, Vec<f64>)> = Vec::new();
    let mut lines = Vec::new();
    for run in 1..=runs {
        eprintln!("BENCH_RUNS: run {run} of {runs}");
        let output = Command::new(&exe)
            .arg("--bench")
            .env_remove("BENCH_RUNS")
            .env_remove("BENCH_BUILD")
            .stderr(Stdio::inherit())
            .output()
            .expect("run the benchmark");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "run {run} failed: {stdout}");
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("bench: "))
            .expect("each run ends with a bench: line");
        // Each run's whole table, as a single run prints it.
        print!("{stdout}");
        lines.push(format!("run {run}/{runs}: {line}"));
        for (key, value) in line["bench: ".len()..]
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
        {
            let value: f64 = value.parse().expect("bench: values are numbers");
            match values.iter_mut().find(|(k, _)| k == key) {
                Some((_, all)) => all.push(value),
                None => values.push((key.to_string(), vec![value])),
            }
        }
    }
    let mut line = String::from("bench:");
    for (key, mut all) in values {
        all.sort_by(f64::total_cmp);
        let mid = all.len() / 2;
        let median = match all.len() % 2 {
            1 => all[mid],
            _ => (all[mid - 1] + all[mid]) / 2.0,
        };
        // Ratios: the median (of an even count, the mean of the middle two). Counts: the worst run, so that one run with a second
        // token request (or none) is not voted away; for RSS growth, the largest.
        let worst = match key.as_str() {
            "token_requests" => all
                .iter()
                .copied()
                .max_by(|a, b| (a - 1.0).abs().total_cmp(&(b - 1.0).abs())),
            _ => all.last().copied(),
        };
        match key.ends_with("ratio") {
            true => write!(line, " {key}={median:.3}"),
            false => write!(line, " {key}={}", worst.unwrap_or(f64::NAN)),
        }
        .expect("writing to a String");
    }
    if std::env::var_os("BENCH_BUILD").is_some_and(|v| v == "1") {
        if let Some((_, ratio)) = build_cost().into_iter().find(|(k, _)| k == "ratio") {
            write!(line, " build_ratio={ratio}").expect("writing to a String");
        }
    }
    println!("\n{}", lines.join("\n"));
    println!("{runs} runs: ratios are medians, counts the worst run's\n{line}");
}

// ---------------------------------------------------------------------------------------------
// Report.

fn report(out: &mut String, net: &Net, model: &Model, build: Option<&Build>) {
    let mut lat = net.latency.clone();
    let mut p = |q: f64| [0, 1, 2].map(|i| percentile(&mut lat[i], q));
    let (l50, l90, l99) = (p(0.5), p(0.9), p(0.99));
    let latency_ratio = l50[0] / l50[1];
    let mut blocks = net.latency_in_blocks.clone();
    let b50 = [0, 1, 2].map(|i| percentile(&mut blocks[i], 0.5));
    let mut rps = net.rps.clone();
    // Per round, each side against the client; the median of those paired ratios.
    let paired = |other: usize| {
        let mut r: Vec<f64> = (0..rps[0].len())
            .map(|k| rps[0][k] / rps[other][k])
            .collect();
        median(&mut r)
    };
    let (throughput_ratio, typed_throughput_ratio) = (paired(1), paired(2));
    let tput = [0, 1, 2].map(|i| median(&mut rps[i]));

    let t = &net.tokens;
    // The trial furthest from the one request expected, so that a 0 is not hidden by a 1.
    let token_requests = (t.requests_per_trial.iter().copied())
        .chain(t.held.iter().map(|h| h.requests))
        .chain(t.held.iter().map(|h| h.requests_while_all_waited))
        .max_by_key(|n| n.abs_diff(1))
        .unwrap_or(0);
    let med =
        |v: &[Burst], f: fn(&Burst) -> f64| median(&mut v.iter().map(f).collect::<Vec<f64>>());
    let (cold_med, warm_med) = (med(&t.cold, |b| b.median_ms), med(&t.warm, |b| b.median_ms));
    let (cold_wall, warm_wall) = (med(&t.cold, |b| b.wall_ms), med(&t.warm, |b| b.wall_ms));
    let (cold_max, warm_max) = (med(&t.cold, |b| b.max_ms), med(&t.warm, |b| b.max_ms));
    let m = &net.memory;
    let growth = m.after_kib as i64 - m.before_kib as i64;

    let _ = writeln!(out, "wire check: {}", net.wire);
    let _ = writeln!(
        out,
        "one call's future: {} bytes (client) vs {} bytes (baseline)",
        net.future_bytes[0], net.future_bytes[1]
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| measure | graph-meetings | baseline: reqwest + serde_json (`Value`) | client / baseline \
         | typed baseline: the same into the generated types | client / typed baseline |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: |");
    let row = |out: &mut String, name: &str, c: String, r: String, ratio: f64| {
        let _ = writeln!(out, "| {name} | {c} | {r} | {ratio:.2} | | |");
    };
    // A row with all three sides: values per side, ratios to the baseline and the typed one.
    let row3 = |out: &mut String, name: &str, v: [f64; 3], show: fn(f64) -> String| {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {:.2} | {} | {:.2} |",
            show(v[0]),
            show(v[1]),
            v[0] / v[1],
            show(v[2]),
            v[0] / v[2]
        );
    };
    let name =
        format!("round trip, concurrency 1, median ({LATENCY_CALLS} calls each, taking turns)");
    row3(out, &name, l50, us);
    row3(out, "round trip, concurrency 1, p90", l90, us);
    row3(out, "round trip, concurrency 1, p99", l99, us);
    let parts = [
        "round trip, concurrency 1, median part: until the server has read the request",
        "round trip, concurrency 1, median part: the server, from request to answer written",
        "round trip, concurrency 1, median part: from the answer written to the caller's result",
    ];
    for (k, name) in parts.into_iter().enumerate() {
        let mut split = net.split.clone();
        row3(out, name, [0, 1, 2].map(|i| median(&mut split[i][k])), us);
    }
    let name = format!(
        "round trip, concurrency 1, median, taking turns in blocks of {LATENCY_BLOCK} calls"
    );
    row3(out, &name, b50, us);
    let n = THROUGHPUT_ROUNDS * THROUGHPUT_CALLS;
    let name = format!(
        "throughput, concurrency {CONCURRENCY}, median of {THROUGHPUT_ROUNDS} rounds of \
         {THROUGHPUT_CALLS} calls ({n} calls each); ratio: median of per-round ratios"
    );
    let _ = writeln!(
        out,
        "| {name} | {:.0} req/s | {:.0} req/s | {throughput_ratio:.2} | {:.0} req/s | {typed_throughput_ratio:.2} |",
        tput[0], tput[1], tput[2]
    );
    let name = format!("client-side CPU per call, concurrency {CONCURRENCY}");
    row3(out, &name, net.cpu_us, us);
    let _ = writeln!(
        out,
        "| server thread busy, concurrency {CONCURRENCY} (not the bottleneck if < 100%) | {:.0}% | {:.0}% | | {:.0}% | |",
        net.server_busy[0] * 100.0,
        net.server_busy[1] * 100.0,
        net.server_busy[2] * 100.0
    );
    let names = [
        format!(
            "serialize CreateOrGetRequest ({} B), typed vs Value",
            model.request_bytes
        ),
        format!(
            "deserialize the seeds' meeting ({} B), typed vs Value",
            model.meeting_bytes
        ),
    ];
    for (k, name) in names.iter().enumerate() {
        let (typed, value) = (model.ns[2 * k], model.ns[2 * k + 1]);
        row(out, name, us(typed / 1e3), us(value / 1e3), typed / value);
    }
    let held = |f: fn(&Held) -> usize| t.held.iter().map(f).collect::<Vec<_>>();
    let _ = writeln!(
        out,
        "| token cache: {TOKEN_CALLS} concurrent calls on a cold ClientCredentials, its one fetch held until all {TOKEN_CALLS} wait: token requests per trial (while all waited; in all); calls that waited ≥ {WAITED_MS} ms | {:?}; {:?} | | {:?} waited | | |",
        held(|h| h.requests_while_all_waited),
        held(|h| h.requests),
        held(|h| h.waited),
    );
    let _ = writeln!(
        out,
        "| token cache: the same, the fetch answered as it comes, token requests per trial (cold and warm burst) | {:?} | | | | |",
        t.requests_per_trial
    );
    let _ = writeln!(
        out,
        "| token cache: median call latency, cold vs warm cache (median of {TOKEN_TRIALS} trials) | {} cold | {} warm | added {} | | |",
        ms(cold_med),
        ms(warm_med),
        ms(cold_med - warm_med)
    );
    let _ = writeln!(
        out,
        "| token cache: slowest call, cold vs warm | {} cold | {} warm | added {} | | |",
        ms(cold_max),
        ms(warm_max),
        ms(cold_max - warm_max)
    );
    let _ = writeln!(
        out,
        "| token cache: wall time of the {TOKEN_CALLS} calls, cold vs warm | {} cold | {} warm | added {} | | |",
        ms(cold_wall),
        ms(warm_wall),
        ms(cold_wall - warm_wall)
    );
    // Callers that had to wait for the one fetch (or for the refresh lock after it).
    let waited = |w: &[f64]| w.iter().filter(|&&ms| ms >= WAITED_MS).count() as f64;
    let trials = TOKEN_TRIALS as f64;
    let (mut cw, mut ww) = (t.cold_waits.clone(), t.warm_waits.clone());
    let _ = writeln!(
        out,
        "| token cache: time in token() per call, p50 / p99 / max; callers per trial that waited ≥ {WAITED_MS} ms | {} / {} / {}; {:.0} cold | {} / {} / {}; {:.0} warm | | | |",
        ms(percentile(&mut cw, 0.5)),
        ms(percentile(&mut cw, 0.99)),
        ms(percentile(&mut cw, 1.0)),
        waited(&cw) / trials,
        ms(percentile(&mut ww, 0.5)),
        ms(percentile(&mut ww, 0.99)),
        ms(percentile(&mut ww, 1.0)),
        waited(&ww) / trials,
    );
    let _ = writeln!(
        out,
        "| memory: VmRSS before / after {} / after {MEMORY_CALLS} calls on one client (after {MEMORY_WARMUP} warm-up) | {} / {} / {} KiB | | growth {growth} KiB | | |",
        MEMORY_CALLS / 2,
        m.before_kib,
        m.middle_kib,
        m.after_kib
    );
    let mut build_ratio = None;
    if let Some(b) = build {
        let get = |k: &str| {
            b.iter()
                .find(|(key, _)| key == k)
                .map_or("?", |(_, v)| v.as_str())
        };
        build_ratio = b.iter().find(|(k, _)| k == "ratio").map(|(_, v)| v.clone());
        let _ = writeln!(
            out,
            "| cold `cargo build --release` (library, default features) vs plain crate, wall (medians; ratio: median of the pairs' ratios {}) | {} s | {} s | {} | | |",
            get("pair_ratios"),
            get("lib_s"),
            get("plain_s"),
            get("ratio")
        );
        let _ = writeln!(
            out,
            "| cold build CPU (user+sys) | {} s | {} s | {} | | |",
            get("lib_cpu_s"),
            get("plain_cpu_s"),
            get("cpu_ratio")
        );
        let _ = writeln!(
            out,
            "| build.rs: compiling it / running it (cargo --timings) | {} s / {} s | | | | |",
            get("build_rs_compile_s"),
            get("build_rs_run_s")
        );
        let _ = writeln!(
            out,
            "| rustc time the generator adds (progenitor, typify, their build-deps, host copies, build.rs) / the library's other runtime dependencies / the crate itself / the plain build in all | {} s / {} s / {} s | {} s | | | |",
            get("generator_units_s"),
            get("runtime_deps_units_s"),
            get("crate_units_s"),
            get("plain_units_s")
        );
    } else {
        let _ = writeln!(
            out,
            "| cold build | not measured (BENCH_BUILD=1 runs benches/build_cost.sh) | | | | |"
        );
    }
    let _ = writeln!(out);
    let _ = write!(
        out,
        // Three decimals: two would turn a 1.054 into a 1.05 that reads as a target met.
        "bench: latency_ratio={latency_ratio:.3} throughput_ratio={throughput_ratio:.3} \
         token_requests={token_requests} rss_growth_kib={growth} \
         typed_latency_ratio={:.3} typed_throughput_ratio={:.3} \
         block_latency_ratio={:.3}",
        l50[0] / l50[2],
        typed_throughput_ratio,
        b50[0] / b50[1]
    );
    if let Some(r) = build_ratio {
        let _ = write!(out, " build_ratio={r}");
    }
    let _ = writeln!(out);
}

fn us(v: f64) -> String {
    format!("{v:.1} µs")
}

fn ms(v: f64) -> String {
    format!("{v:.2} ms")
}

fn median(v: &mut [f64]) -> f64 {
    percentile(v, 0.5)
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

// ---------------------------------------------------------------------------------------------
// CPU time from /proc (Linux; USER_HZ is 100 on every Linux ABI).

fn stat_ticks(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // Fields 14 (utime) and 15 (stime) of proc(5); `rest` starts at field 3.
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

fn process_ticks() -> u64 {
    stat_ticks(std::path::Path::new("/proc/self/stat"))
}

fn ticks_to_secs(ticks: u64) -> f64 {
    ticks as f64 / 100.0
}
