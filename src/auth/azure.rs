//! Any `azure_core` [`TokenCredential`] as a [`TokenProvider`] (feature `azure-identity`).
//!
//! `azure_identity` offers managed identity, workload identity, the Azure CLI and more; this
//! adapter asks the credential for Graph's `/.default` scope and puts its tokens behind the same
//! [`TokenCache`] as client credentials, so every clone and task share one token and one refresh.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use chrono::{DateTime, Utc};

use super::{AccessToken, TokenCache, TokenKind, TokenProvider};
use crate::{
    cloud::Cloud,
    error::AuthError,
    times::{Clock, SystemClock},
};

/// Tokens from an `azure_core` credential.
#[derive(Debug, Clone)]
pub struct AzureCredential {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    kind: TokenKind,
    cache: TokenCache,
}

impl AzureCredential {
    /// Uses `credential` for the global cloud's Graph scope. The kind is unknown unless set:
    /// managed and workload identities give application tokens, the Azure CLI a user's.
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self::build(
            credential,
            Cloud::Global.default_scope(),
            TokenKind::Unknown,
            Arc::new(SystemClock),
        )
    }

    /// The Graph scope of another cloud.
    pub fn cloud(self, cloud: Cloud) -> Self {
        self.scope(cloud.default_scope())
    }

    /// A scope other than Graph's `/.default`.
    pub fn scope(self, scope: impl Into<String>) -> Self {
        let inner = &self.inner;
        Self::build(
            inner.credential.clone(),
            scope.into(),
            inner.kind,
            inner.cache.clock().clone(),
        )
    }

    /// Says what kind of token the credential gives, so `/me` with an application token is
    /// refused before sending.
    pub fn with_kind(self, kind: TokenKind) -> Self {
        let inner = &self.inner;
        Self::build(
            inner.credential.clone(),
            inner.scope.clone(),
            kind,
            inner.cache.clock().clone(),
        )
    }

    /// The clock the cache compares expiry with.
    pub fn clock(self, clock: Arc<dyn Clock>) -> Self {
        let inner = &self.inner;
        Self::build(
            inner.credential.clone(),
            inner.scope.clone(),
            inner.kind,
            clock,
        )
    }

    fn build(
        credential: Arc<dyn TokenCredential>,
        scope: String,
        kind: TokenKind,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                credential,
                scope,
                kind,
                cache: TokenCache::new(clock),
            }),
        }
    }

    async fn fetch(&self) -> Result<AccessToken, AuthError> {
        let token = self
            .inner
            .credential
            .get_token(&[self.inner.scope.as_str()], None)
            .await
            .map_err(|e| AuthError::Provider(e.to_string()))?;
        let nanos = token.expires_on.unix_timestamp_nanos();
        let expires_at = i64::try_from(nanos)
            .ok()
            .map(DateTime::<Utc>::from_timestamp_nanos);
        Ok(AccessToken::new(token.token.secret(), expires_at))
    }
}

#[async_trait]
impl TokenProvider for AzureCredential {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        self.inner.cache.get(|| self.fetch()).await
    }

    fn invalidate(&self, rejected: &AccessToken) {
        self.inner.cache.invalidate(rejected);
    }

    fn kind(&self) -> TokenKind {
        self.inner.kind
    }
}
