//! The client's connection pools: one per tokio runtime that sends (a service's sync facade,
//! tests sharing a static client), so one runtime's state (idle, or gone) never holds up or
//! cuts off another's calls; and how many idle connections each keeps.
#![cfg(feature = "emulator")]

mod support;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc,
    },
    time::Duration,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use graph_meetings::{emulator::Emulator, types, Client, RetryPolicy, User};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The emulator on a runtime of its own, on a thread of its own, for as long as the test.
fn emulator() -> (Emulator, mpsc::Sender<()>) {
    let (started, emu) = mpsc::channel();
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let rt = runtime();
        started
            .send(rt.block_on(Emulator::start()).unwrap())
            .unwrap();
        rt.block_on(async {
            while stopped.try_recv() == Err(mpsc::TryRecvError::Empty) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    });
    (emu.recv().unwrap(), stop)
}

#[test]
fn a_runtime_left_idle_does_not_hold_up_another_runtimes_create() {
    let (emu, _stop) = emulator();
    let client = Client::builder()
        .base_url(emu.base_url())
        .static_token("delegated")
        .retry(RetryPolicy::none())
        // A hang detector, not a speed limit: a stalled create fails here instead of in 60 s.
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Runtime A makes a create, keeping its connection in the pool, and is then not driven:
    // its thread waits outside it until the test is done.
    let (made, a_done) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let a = client.clone();
    let thread = std::thread::spawn(move || {
        let rt = runtime();
        let first = rt.block_on(a.create(&User::Me, types::OnlineMeeting::default()));
        made.send(first.map(|m| m.status.as_u16())).unwrap();
        let _ = released.recv();
        drop(rt);
    });
    assert_eq!(a_done.recv().unwrap().unwrap(), 201);

    // Runtime B, while A sits idle: its create goes out on a connection of its own. Sent on
    // A's, nothing would drive it until the client's timeout, and it would end as an unknown
    // outcome the service never saw.
    let second = runtime().block_on(client.create(&User::Me, types::OnlineMeeting::default()));
    release.send(()).unwrap();
    thread.join().unwrap();
    let second = second.expect("B's create is answered");
    assert_eq!(second.status.as_u16(), 201);
    assert_eq!(emu.meeting_count(), 2);
    assert_eq!(emu.graph_requests(), 2);
}

#[test]
fn runtimes_one_after_another_more_than_the_client_keeps_pools_for_are_all_answered() {
    // Client credentials: the token endpoint is reached from each runtime too. More runtimes
    // than the client keeps pools for, so that the oldest give theirs up on the way.
    let (emu, _stop) = emulator();
    let client = support::as_app(&emu, RetryPolicy::none());
    let user = User::id(graph_meetings::emulator::DEMO_USER_ID).unwrap();
    for i in 0..40 {
        let rt = runtime();
        let request = types::CreateOrGetRequest {
            external_id: format!("run-{i}"),
            ..Default::default()
        };
        let made = rt.block_on(client.create_or_get(&user, request));
        assert_eq!(made.expect("answered").status.as_u16(), 201, "runtime {i}");
        drop(rt);
    }
    assert_eq!(emu.meeting_count(), 40);
    assert_eq!(emu.token_requests(), 1, "one token for every runtime");
}

/// A keep-alive server answering every request with a meeting, counting the connections made
/// to it and those the client closed.
async fn counting_connections() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (opened, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (open_count, close_count) = (opened.clone(), closed.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            open_count.fetch_add(1, Ordering::SeqCst);
            let close_count = close_count.clone();
            tokio::spawn(async move {
                answer_until_closed(stream).await;
                close_count.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (url, opened, closed)
}

/// Reads one request from `stream` (its head, then as many body bytes as it declares), what
/// came after it staying in `buf`: false once the client has closed the connection.
async fn read_request(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= head + 4 + length {
                buf.drain(..head + 4 + length);
                return true;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Answers a request on `stream` with a meeting, the connection kept alive.
async fn answer(stream: &mut tokio::net::TcpStream) -> bool {
    let body = r#"{"id":"m","externalId":"e"}"#;
    let answer = format!(
        "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes()).await.is_ok()
}

/// Answers each request on `stream` with a meeting, until the client closes it.
async fn answer_until_closed(mut stream: tokio::net::TcpStream) {
    let mut buf = Vec::new();
    while read_request(&mut stream, &mut buf).await && answer(&mut stream).await {}
}

/// How a server ends a kept-alive connection that has been idle for longer than it keeps one.
#[derive(Debug, Clone, Copy)]
enum Ending {
    Close,
    /// Its side only, still reading: a request that comes is read, never answered.
    HalfClose,
    /// An answer no request asked for, as Apache and some gateways send.
    Unsolicited408,
}

/// A keep-alive server on a runtime of its own: the first connection's first request is
/// answered, and the connection ended as `ending` says once `end` is notified, which `ended`
/// then says; other connections are answered until closed. Counts requests read.
struct EndingServer {
    url: String,
    requests: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    end: Arc<tokio::sync::Notify>,
    ended: mpsc::Receiver<()>,
}

fn ending_server(ending: Ending) -> EndingServer {
    let (started, server) = mpsc::channel();
    let (done, ended) = mpsc::channel();
    let end = Arc::new(tokio::sync::Notify::new());
    let told = end.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let (requests, connections) =
                (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            started
                .send((url, requests.clone(), connections.clone()))
                .unwrap();
            while let Ok((mut stream, _)) = listener.accept().await {
                let (first, requests) = (
                    connections.fetch_add(1, Ordering::SeqCst) == 0,
                    requests.clone(),
                );
                let (told, done) = (told.clone(), done.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while read_request(&mut stream, &mut buf).await {
                        requests.fetch_add(1, Ordering::SeqCst);
                        if !answer(&mut stream).await {
                            return;
                        }
                        if first {
                            break;
                        }
                    }
                    if !first {
                        return;
                    }
                    told.notified().await;
                    match ending {
                        Ending::Close => drop(stream),
                        Ending::HalfClose => {
                            let _ = stream.shutdown().await;
                            let _ = done.send(());
                            if read_request(&mut stream, &mut buf).await {
                                requests.fetch_add(1, Ordering::SeqCst);
                            }
                            return;
                        }
                        Ending::Unsolicited408 => {
                            let timeout = "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\
                                           content-length: 0\r\n\r\n";
                            let _ = stream.write_all(timeout.as_bytes()).await;
                            drop(stream);
                        }
                    }
                    let _ = done.send(());
                });
            }
        });
    });
    let (url, requests, connections) = server.recv().unwrap();
    EndingServer {
        url,
        requests,
        connections,
        end,
        ended,
    }
}

#[test]
fn a_create_after_the_server_ended_an_idle_connection_goes_out_on_a_fresh_one() {
    // A sync API's runtime is driven only inside its calls: what the server did to a kept-alive
    // connection in between is read before the next create is written, not after it has been
    // written to one already closed (an unknown outcome the server never saw, or a 408 taken
    // for its answer).
    for ending in [Ending::Close, Ending::HalfClose, Ending::Unsolicited408] {
        let server = ending_server(ending);
        let client = Client::builder()
            .base_url(&server.url)
            .static_token("t")
            .retry(RetryPolicy::none())
            // A hang detector, not a speed limit.
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let rt = runtime();
        let create = || rt.block_on(client.create(&User::Me, types::OnlineMeeting::default()));
        assert_eq!(create().unwrap().status.as_u16(), 201, "{ending:?}");
        // The server ends the connection while the runtime is not driven.
        server.end.notify_one();
        server.ended.recv().unwrap();
        let second = create();
        assert_eq!(
            second.as_ref().map(|m| m.status.as_u16()).ok(),
            Some(201),
            "{ending:?}: {second:?}"
        );
        assert_eq!(
            (
                server.requests.load(Ordering::SeqCst),
                server.connections.load(Ordering::SeqCst)
            ),
            (2, 2),
            "{ending:?}"
        );
    }
}

#[tokio::test]
async fn idle_connections_are_kept_as_the_builder_says() {
    // By default one connection serves calls one after another; none is kept with a limit of
    // 0, or with a timeout of 0 (which reqwest alone would take as "never swept").
    let none = [(0, Duration::from_secs(90)), (usize::MAX, Duration::ZERO)];
    for (kept, connections) in [(None, 1), (Some(none[0]), 3), (Some(none[1]), 3)] {
        let (url, count, closed) = counting_connections().await;
        let mut builder = Client::builder()
            .base_url(&url)
            .static_token("t")
            .retry(RetryPolicy::none());
        if let Some((max, timeout)) = kept {
            builder = builder.idle_connections(max, timeout);
        }
        let client = builder.build().unwrap();
        for _ in 0..3 {
            let made = client
                .create(&User::Me, types::OnlineMeeting::default())
                .await;
            assert_eq!(made.unwrap().status.as_u16(), 201);
        }
        assert_eq!(count.load(Ordering::SeqCst), connections, "kept: {kept:?}");
        // None kept: each is closed once its call is done, the last one too (a hang
        // detector, not a speed limit).
        if kept.is_some() {
            for _ in 0..200 {
                if closed.load(Ordering::SeqCst) == connections {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(closed.load(Ordering::SeqCst), connections, "kept: {kept:?}");
        }
    }
}

#[test]
fn the_runtime_that_sent_longest_ago_gives_its_pool_up_first() {
    // The counting server on a runtime of its own, for as long as the test.
    let (started, server) = mpsc::channel();
    let (_stop, stopped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        started.send(rt.block_on(counting_connections())).unwrap();
        let _ = stopped.recv();
    });
    let (url, count, _) = server.recv().unwrap();
    let client = Client::builder()
        .base_url(&url)
        .static_token("t")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let create = |rt: &tokio::runtime::Runtime| {
        let made = rt.block_on(client.create(&User::Me, types::OnlineMeeting::default()));
        assert_eq!(made.unwrap().status.as_u16(), 201);
    };
    // The first runtime, then as many others as keep pools (32): one connection each.
    let first = runtime();
    create(&first);
    let early = runtime();
    create(&early);
    for _ in 1..32 {
        create(&runtime());
    }
    assert_eq!(count.load(Ordering::SeqCst), 33);
    // The earliest of the others sends again (its pool, no new connection), so a newcomer
    // pushes out the next earliest instead, and the early one still has its pool.
    create(&early);
    assert_eq!(count.load(Ordering::SeqCst), 33);
    create(&runtime());
    assert_eq!(count.load(Ordering::SeqCst), 34);
    create(&early);
    assert_eq!(
        count.load(Ordering::SeqCst),
        34,
        "the early runtime kept its pool"
    );
}
