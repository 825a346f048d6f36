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

/// Answers each request on `stream` with a meeting, until the client closes it.
async fn answer_until_closed(mut stream: tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // One request: its head, then as many body bytes as it declares.
        let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
        let length = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() < head + 4 + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        }
        buf.drain(..head + 4 + length);
        let body = r#"{"id":"m","externalId":"e"}"#;
        let answer = format!(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
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
