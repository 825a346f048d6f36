//! A token cache with single-flight refresh.

use std::{
    future::Future,
    sync::{Arc, RwLock},
};

use chrono::{DateTime, Duration, Utc};

use super::AccessToken;
use crate::{error::AuthError, times::Clock};

/// How long before expiry a token is replaced.
pub const REFRESH_WINDOW: Duration = Duration::minutes(5);

/// Holds one token and refreshes it for everyone at once.
///
/// - A token with more than [`REFRESH_WINDOW`] left is used as is.
/// - Otherwise exactly one caller fetches (single flight); the others wait for its result.
/// - If that fetch fails while the cached token has not yet expired, the cached token is used.
#[derive(Debug)]
pub struct TokenCache {
    current: RwLock<Option<AccessToken>>,
    refresh: tokio::sync::Mutex<()>,
    clock: Arc<dyn Clock>,
}

impl TokenCache {
    /// An empty cache reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            clock,
        }
    }

    /// The clock the cache uses (providers stamp expiry with it).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A fresh token, fetching with `fetch` only when needed.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<AccessToken, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, AuthError>>,
    {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _flight = self.refresh.lock().await;
        // Someone else may have refreshed while this caller waited.
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        match fetch().await {
            Ok(token) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
                Ok(token)
            }
            Err(error) => match self.unexpired() {
                Some(token) => {
                    tracing::warn!(%error, "token refresh failed; using the cached token until it expires");
                    Ok(token)
                }
                None => Err(error),
            },
        }
    }

    /// Forgets `rejected` if it is still the cached token.
    pub fn invalidate(&self, rejected: &AccessToken) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.as_ref() == Some(rejected) {
            *current = None;
        }
    }

    fn cached(&self) -> Option<AccessToken> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn fresh(&self) -> Option<AccessToken> {
        let now = self.clock.now();
        self.cached()
            .filter(|t| t.expires_at().is_none_or(|at| at - now > REFRESH_WINDOW))
    }

    fn unexpired(&self) -> Option<AccessToken> {
        let now: DateTime<Utc> = self.clock.now();
        self.cached()
            .filter(|t| t.expires_at().is_none_or(|at| at > now))
    }
}
