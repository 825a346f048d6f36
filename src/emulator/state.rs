//! What every connection of one emulator shares.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

use super::{faults::Faults, store::Store, tokens::Tokens};
use crate::{times::Clock, Secret};

#[derive(Debug)]
pub(super) struct State {
    /// `http://127.0.0.1:PORT`, for `@odata.context`.
    pub root: String,
    store: Mutex<Store>,
    pub faults: Faults,
    pub tokens: Tokens,
    /// When set, the only client secret the token endpoint accepts.
    pub client_secret: Option<Secret>,
    pub clock: Arc<dyn Clock>,
    graph_requests: AtomicU64,
    token_requests: AtomicU64,
}

impl State {
    pub fn new(root: String, client_secret: Option<Secret>, clock: Arc<dyn Clock>) -> Self {
        Self {
            root,
            store: Mutex::default(),
            faults: Faults::default(),
            tokens: Tokens::default(),
            client_secret,
            clock,
            graph_requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn count_graph_request(&self) {
        self.graph_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_token_request(&self) {
        self.token_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn graph_requests(&self) -> u64 {
        self.graph_requests.load(Ordering::Relaxed)
    }

    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }
}
