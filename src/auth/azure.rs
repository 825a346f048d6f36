//! Any `azure_core` [`TokenCredential`] as a [`TokenProvider`] (feature `azure-identity`).
//!
//! `azure_identity` offers managed identity, workload identity, the Azure CLI and more; this
//! adapter asks the credential for Graph's `/.default` scope and puts its tokens behind the same
//! [`TokenCache`] as client credentials, so every clone and task share one token and one refresh.
//!
//! `azure_identity`'s credentials keep a cache of their own, which `azure_core` offers no way
//! to bypass. After a 401 this adapter asks again, but the credential may hand back the token
//! Graph just rejected; the call then ends with Graph's 401
//! ([`AuthError::Rejected`](crate::AuthError::Rejected)) instead of being retried with it.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use chrono::{DateTime, Utc};

use super::{AccessToken, TokenCache, TokenKind, TokenProvider};
use crate::{
    cloud::Cloud,
    error::AuthError,
    times::{Clock, SystemClock},
    transport,
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

/// Configures an [`AzureCredential`].
#[derive(Debug, Clone)]
pub struct AzureCredentialBuilder {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    kind: TokenKind,
    clock: Arc<dyn Clock>,
}

impl AzureCredentialBuilder {
    /// The Graph scope of another cloud (default: global).
    pub fn cloud(self, cloud: Cloud) -> Self {
        self.scope(cloud.default_scope())
    }

    /// A scope other than Graph's `/.default`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// What kind of token the credential gives, so `/me` with an application token is refused
    /// before sending: managed and workload identities give application tokens, the Azure CLI
    /// a user's. Unknown by default.
    pub fn kind(mut self, kind: TokenKind) -> Self {
        self.kind = kind;
        self
    }

    /// The clock the cache compares expiry with.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The provider, with its own cache (shared by its clones).
    pub fn build(self) -> AzureCredential {
        AzureCredential {
            inner: Arc::new(Inner {
                credential: self.credential,
                scope: self.scope,
                kind: self.kind,
                cache: TokenCache::new(self.clock),
            }),
        }
    }
}

impl AzureCredential {
    /// Starts a configuration around `credential`.
    pub fn builder(credential: Arc<dyn TokenCredential>) -> AzureCredentialBuilder {
        AzureCredentialBuilder {
            credential,
            scope: Cloud::Global.default_scope(),
            kind: TokenKind::Unknown,
            clock: Arc::new(SystemClock),
        }
    }

    /// `credential` for the global cloud's Graph, with defaults.
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self::builder(credential).build()
    }

    async fn fetch(&self) -> Result<AccessToken, AuthError> {
        let token = self
            .inner
            .credential
            .get_token(&[self.inner.scope.as_str()], None)
            .await
            .map_err(|e| auth_error(&e))?;
        let nanos = token.expires_on.unix_timestamp_nanos();
        let expires_at = i64::try_from(nanos)
            .ok()
            .map(DateTime::<Utc>::from_timestamp_nanos);
        Ok(AccessToken::new(token.token.secret(), expires_at))
    }
}

/// The error's message and, when it does not say it already, its innermost cause ("connection
/// refused" under "ManagedIdentityCredential authentication failed"): the reason an operator
/// needs, which the credentials wrap in errors of their own.
fn with_cause(error: &azure_core::Error) -> String {
    let outer = error.to_string();
    let innermost = transport::causes(error).skip(1).last();
    match innermost.map(|c| c.to_string()) {
        Some(inner) if !inner.is_empty() && !outer.contains(&inner) => format!("{outer}: {inner}"),
        _ => outer,
    }
}

/// What a credential's failure means for a call. One that could not reach the endpoint it
/// asks (managed identity's, the identity platform), or found it busy (408, 429, 5xx), is out of
/// reach for now, and the call may wait it out as it would for the token endpoint's: a
/// connection failure, an I/O failure of its HTTP client (a timeout, say), or an `io::Error`
/// of the network's anywhere in the chain. Anything else is the provider's own failure, an
/// `az` that is not installed among them (an `io::Error` too, but not the network's).
/// Credentials wrap what went wrong in errors of their own, so the whole chain is looked at.
/// Its text may come from a command or a service: printable only, for logs and terminals.
fn auth_error(error: &azure_core::Error) -> AuthError {
    use azure_core::error::ErrorKind;
    use std::io::ErrorKind as Io;
    let text = transport::printable_short(&with_cause(error));
    for c in transport::causes(error) {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            let network = matches!(
                io.kind(),
                Io::ConnectionRefused
                    | Io::ConnectionReset
                    | Io::ConnectionAborted
                    | Io::NotConnected
                    | Io::TimedOut
                    | Io::HostUnreachable
                    | Io::NetworkUnreachable
                    | Io::NetworkDown
                    | Io::AddrNotAvailable
            );
            if network {
                return AuthError::Transport(text);
            }
            continue;
        }
        match c.downcast_ref::<azure_core::Error>().map(|e| e.kind()) {
            Some(ErrorKind::Connection) => return AuthError::Transport(text),
            // An I/O failure that wraps no `io::Error` of its own came from the credential's
            // HTTP client: a timeout, a connection closed mid-answer.
            Some(ErrorKind::Io)
                if c.source().is_some_and(|inner| {
                    !inner.is::<std::io::Error>() && !inner.is::<azure_core::Error>()
                }) =>
            {
                return AuthError::Transport(text)
            }
            Some(ErrorKind::HttpResponse {
                status, error_code, ..
            }) if matches!(u16::from(*status), 408 | 429) || status.is_server_error() => {
                return AuthError::TokenEndpoint {
                    status: u16::from(*status),
                    error: error_code.as_deref().map(transport::printable),
                    description: Some(text),
                    aadsts: None,
                    retry_after: None,
                }
            }
            _ => {}
        }
    }
    AuthError::Provider(text)
}

#[async_trait]
impl TokenProvider for AzureCredential {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        self.inner
            .cache
            .get(|| {
                let this = self.clone();
                async move { this.fetch().await }
            })
            .await
    }

    fn ready(&self) -> Option<AccessToken> {
        self.inner.cache.fresh()
    }

    fn still_valid(&self) -> Option<AccessToken> {
        self.inner.cache.still_valid()
    }

    fn invalidate(&self, rejected: &AccessToken) {
        self.inner.cache.invalidate(rejected);
    }

    fn kind(&self) -> TokenKind {
        self.inner.kind
    }

    fn cloud(&self) -> Option<Cloud> {
        Cloud::of_scope(&self.inner.scope)
    }
}
