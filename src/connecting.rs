//! Whether an attempt's request has left: until its connection (TCP, then TLS) is made, nothing
//! of it has, whatever the caller gives up on meanwhile.
//!
//! reqwest says nothing of this, so a layer around its connector logs a `debug` event when a
//! connection is begun for an attempt and another when it is made, each naming the attempt's
//! `client_request_id` and a `phase`. The command goes by them when a signal stops a create: one
//! still connecting sent nothing, and is not an unknown outcome.
//!
//! That holds only without a pool of idle connections, which the client with this layer does
//! not keep: every attempt then goes out on the connection begun for it. With a pool, hyper-util
//! races a new connection against the pool, and a connection handed back meanwhile (the one a
//! 429's retry came from, once its body is read) takes the request while the new one goes on in
//! the background: "connecting" would then be said of a request that left.
//!
//! Only the command's client has the layer (`ClientBuilder::watch_connections`): reqwest's
//! client clones its connector for every request, and with a layer that clone allocates; and a
//! service wants its pool.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use uuid::fmt::Hyphenated;

/// A `client-request-id` as the attempt sends it.
type RequestId = [u8; Hyphenated::LENGTH];

tokio::task_local! {
    /// The attempt whose request is being handed to reqwest, for a connection begun on its
    /// behalf to name. (Fetches of tokens run elsewhere, so their connections name none.)
    static ATTEMPT: RequestId;
}

/// Runs `send`, reqwest's execution of the request with `client_request_id`, as that attempt's.
pub(crate) async fn attempt<F: Future>(client_request_id: RequestId, send: F) -> F::Output {
    ATTEMPT.scope(client_request_id, send).await
}

/// The layer for reqwest's `connector_layer`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch;

impl<S> tower_layer::Layer<S> for Watch {
    type Service = Watched<S>;

    fn layer(&self, inner: S) -> Watched<S> {
        Watched(inner)
    }
}

/// reqwest's connector, saying when a connection for an attempt is begun and when it is made.
#[derive(Debug, Clone)]
pub(crate) struct Watched<S>(S);

impl<S, R> tower_service::Service<R> for Watched<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, destination: R) -> Self::Future {
        let attempt = ATTEMPT.try_with(|id| *id).ok();
        if let Some(id) = &attempt {
            tracing::debug!(
                client_request_id = as_str(id),
                phase = "connecting",
                "making a connection"
            );
        }
        let connecting = self.0.call(destination);
        Box::pin(async move {
            let made = connecting.await;
            if let (Some(id), Ok(_)) = (&attempt, &made) {
                tracing::debug!(
                    client_request_id = as_str(id),
                    phase = "connected",
                    "connection made"
                );
            }
            made
        })
    }
}

fn as_str(id: &RequestId) -> &str {
    std::str::from_utf8(id).unwrap_or_default()
}
