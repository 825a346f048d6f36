//! The loopback server: its own thread and runtime, and connections served one by one with
//! hyper so that a fault can close a connection without answering.
//!
//! Its own runtime keeps the emulator answering whatever the caller's runtime does (a test
//! that blocks on a child process, a paused test clock); dropping the runtime closes every
//! connection.

use std::{
    io,
    net::{SocketAddr, TcpListener as StdListener},
    sync::Arc,
    thread,
    time::Duration,
};

use axum::{body::Body, Router};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Notify, sync::Semaphore, task::JoinSet};
use tower::ServiceExt;

use super::write_deadline::WriteDeadline;

/// Most connections served at once; more wait in the listen backlog (an idle kept-alive one
/// keeps its place until [`HEADER_TIMEOUT`]: documented in the module's docs).
const MAX_CONNECTIONS: usize = 256;
/// A client has this long to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// A client has this long to take in any of an answer the server is waiting to write: one
/// that sends requests and never reads would otherwise keep its connection, and its place
/// among [`MAX_CONNECTIONS`], for good.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Lets a request handler close its own connection without answering.
#[derive(Debug, Clone, Default)]
pub(super) struct ConnectionControl {
    close: Arc<Notify>,
}

impl ConnectionControl {
    /// Closes the connection; the handler should then never finish.
    pub fn close_without_answer(&self) {
        self.close.notify_one();
    }
}

/// A running server. Dropping it stops the server and waits until its listener and
/// connections are closed (well under a millisecond), so that the port is free again at once:
/// a test may start a new emulator on it, as a Graph back from an outage.
#[derive(Debug)]
pub(super) struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds `addr` on the caller's thread, so an address in use is the caller's error.
pub(super) fn bind(addr: SocketAddr) -> io::Result<StdListener> {
    let listener = StdListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves `router` on `listener` from a thread of its own.
pub(super) fn spawn(listener: StdListener, router: Router) -> io::Result<Running> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let thread = thread::Builder::new()
        .name("graph-emulator".into())
        .spawn(move || runtime.block_on(accept_loop(listener, router, stopped)))?;
    Ok(Running {
        stop: Some(stop),
        thread: Some(thread),
    })
}

async fn accept_loop(
    listener: StdListener,
    router: Router,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "the emulator could not listen");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let slot = tokio::select! {
            _ = &mut stopped => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let router = router.clone();
                connections.spawn(async move {
                    serve(stream, router, WRITE_TIMEOUT).await;
                    drop(slot);
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

async fn serve(stream: tokio::net::TcpStream, router: Router, write_timeout: Duration) {
    let control = ConnectionControl::default();
    let handle = control.clone();
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(handle.clone());
        router.clone().oneshot(request.map(Body::new))
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(
            TokioIo::new(WriteDeadline::new(stream, write_timeout)),
            service,
        );
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        // Dropping the connection future closes the socket mid-request.
        () = control.close.notified() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_connection_whose_client_reads_nothing_is_closed() {
        // An answer far larger than the socket buffers, to a client that never reads.
        let router = Router::new().route(
            "/",
            axum::routing::get(|| async { vec![b'x'; 32 * 1024 * 1024] }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut client = socket
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let served = serve(stream, router, Duration::from_millis(200));
        let ended = tokio::time::timeout(Duration::from_secs(20), served).await;
        assert!(ended.is_ok(), "still serving a client that reads nothing");
    }
}
