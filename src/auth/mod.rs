//! Where bearer tokens come from.
//!
//! [`TokenProvider`] is small on purpose: a token, a way to say "Graph rejected this one", and
//! what kind of token it is. [`StaticToken`] uses a token as given (less a pasted `Bearer `
//! scheme); [`ClientCredentials`] gets application tokens from the identity platform and keeps
//! them in a [`TokenCache`] that every clone of the client and every task share.

#[cfg(feature = "azure-identity")]
mod azure;
mod cache;
pub(crate) mod client_credentials;

use std::fmt;

/// The attribute [`TokenProvider`] is implemented with, re-exported so that a provider needs
/// no dependency of its own (and no second version of it).
pub use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderValue;

#[cfg(feature = "azure-identity")]
pub use azure::{AzureCredential, AzureCredentialBuilder};
pub use cache::{
    TokenCache, DEFAULT_FETCH_LIMIT, LONGEST_REST, REFRESH_WINDOW, REFUSED_AGAIN_WAIT,
    RETRY_REFRESH_AFTER,
};
pub use client_credentials::{ClientCredentials, ClientCredentialsBuilder};

use crate::{cloud::Cloud, error::AuthError, secret::Secret};

/// `value` without what a token copied from elsewhere tends to carry: surrounding whitespace,
/// the quotes of a JSON string (`"eyJ…"`, from a tool's JSON output) and a leading `Bearer`
/// scheme word (any case; `"Bearer eyJ…"` from a header in JSON has both), peeled until none is
/// left; the scheme word alone leaves nothing. No token has whitespace or quotes in it, so none
/// of these can be part of one; a token that merely starts with the letters (`BearerX…`) is kept
/// whole.
fn without_scheme(value: &str) -> &str {
    let mut value = value.trim();
    loop {
        let peeled = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(unquoted) => unquoted,
            None => match value.split_once(char::is_whitespace) {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
                // The scheme alone: no token at all.
                None if value.eq_ignore_ascii_case("bearer") => "",
                _ => return value,
            },
        };
        value = peeled.trim();
    }
}

/// A bearer token and when it stops working.
#[derive(Clone, PartialEq)]
pub struct AccessToken {
    secret: Secret,
    expires_at: Option<DateTime<Utc>>,
    /// `Bearer …`, built once per token and marked sensitive; `None` if it cannot be a header.
    bearer: Option<HeaderValue>,
}

impl AccessToken {
    /// A token that expires at `expires_at` (`None`: unknown, used until Graph rejects it).
    ///
    /// A token copied with its scheme (`Bearer eyJ…`, say from a request header) or with a
    /// trailing newline (from a file) is used without them: the client adds the scheme itself,
    /// and `Bearer Bearer …` would only come back as a 401.
    pub fn new(secret: impl Into<Secret>, expires_at: Option<DateTime<Utc>>) -> Self {
        let mut secret = secret.into();
        let token = without_scheme(secret.expose());
        if token.len() != secret.expose().len() {
            secret = Secret::new(token);
        }
        let bearer = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
            .ok()
            .filter(|_| !secret.expose().is_empty())
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        Self {
            secret,
            expires_at,
            bearer,
        }
    }

    /// The `Authorization` header value, or why the token cannot be sent: it is empty (an
    /// empty `Bearer ` would only come back as a 401 that does not say why), or it has
    /// characters a header cannot carry.
    pub(crate) fn bearer(&self) -> Result<&HeaderValue, &'static str> {
        match &self.bearer {
            Some(value) => Ok(value),
            None if self.secret.expose().is_empty() => Err("the token is empty"),
            None => Err("the token has characters that cannot be sent in a header"),
        }
    }

    /// The token, to put in an `Authorization` header.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// When the token expires, if known.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &self.secret)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Whose authority a token carries, which decides how a meeting's organizer is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// A signed-in user's token: `/me` works.
    Delegated,
    /// An application's own token: only `/users/{id}` works.
    Application,
    /// Not known (a token handed over as is).
    Unknown,
}

/// A source of bearer tokens, shared by every clone of a client and every task.
///
/// Implemented with [`macro@async_trait`] (re-exported here). The error a provider returns
/// decides what the call does next:
/// - [`AuthError::Transport`]: the token's source could not be reached, or did not answer
///   usably. The call waits it out within its retries (at least a second apart, not counted
///   as requests), and gives up as [`ErrorKind::Unreachable`](crate::ErrorKind::Unreachable).
/// - [`AuthError::TokenEndpoint`] (made with [`AuthError::token_endpoint`]) with its status:
///   408, 429 or 5xx count as busy, as above; any other status is a refusal.
/// - [`AuthError::Provider`], or a refusal: final, [`ErrorKind::Unauthorized`](crate::ErrorKind::Unauthorized).
///
/// A provider that wraps another (to swap it, count its calls, …) should forward
/// [`cloud`](Self::cloud) and [`secret_to_default_authority`](Self::secret_to_default_authority)
/// too: their defaults say "cannot tell", which turns off the checks the client builds on them.
///
/// A provider that fetches tokens should keep them in a [`TokenCache`], which fetches once for
/// all concurrent callers and refreshes before expiry:
///
/// ```
/// use std::sync::Arc;
/// use graph_meetings::auth::{async_trait, AccessToken, TokenCache, TokenKind, TokenProvider};
/// use graph_meetings::{times::SystemClock, AuthError, Client};
///
/// /// Application tokens from the service's own secret store.
/// #[derive(Debug)]
/// struct Vault {
///     cache: TokenCache,
/// }
///
/// async fn from_the_store() -> Result<String, String> {
///     Ok("eyJ0eXAi...".into())
/// }
///
/// #[async_trait]
/// impl TokenProvider for Vault {
///     async fn token(&self) -> Result<AccessToken, AuthError> {
///         let clock = self.cache.clock().clone();
///         self.cache
///             .get(move || {
///                 let clock = clock.clone();
///                 async move {
///                     // Out of reach is worth waiting out; say so with `Transport`.
///                     let token = from_the_store().await.map_err(AuthError::Transport)?;
///                     let expires = clock.now() + graph_meetings::chrono::Duration::minutes(60);
///                     Ok(AccessToken::new(token, Some(expires)))
///                 }
///             })
///             .await
///     }
///     // Without these three, every call takes the asynchronous path and a 401 is not
///     // followed by a fresh token.
///     fn ready(&self) -> Option<AccessToken> {
///         self.cache.fresh()
///     }
///     fn still_valid(&self) -> Option<AccessToken> {
///         self.cache.still_valid()
///     }
///     fn invalidate(&self, rejected: &AccessToken) {
///         self.cache.invalidate(rejected)
///     }
///     fn kind(&self) -> TokenKind {
///         TokenKind::Application
///     }
/// }
///
/// let vault = Vault { cache: TokenCache::new(Arc::new(SystemClock)) };
/// let client = Client::builder().token_provider(vault).build()?;
/// # Ok::<(), graph_meetings::Error>(())
/// ```
#[async_trait]
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// A token that is valid now.
    async fn token(&self) -> Result<AccessToken, AuthError>;

    /// A valid token already at hand, if there is one. Calls ask this first and take the
    /// asynchronous [`token`](Self::token) path (boxed future, timeout) only when it says
    /// `None`, which the default always does; it must not block.
    fn ready(&self) -> Option<AccessToken> {
        None
    }

    /// A token that has not expired yet, fresh or due for a refresh: what a call uses when
    /// [`token`](Self::token) does not answer in time. The default has none; it must not block.
    fn still_valid(&self) -> Option<AccessToken> {
        None
    }

    /// Graph answered 401 with `rejected`: forget it, so the next [`token`](Self::token)
    /// fetches a new one. Providers that cannot refresh ignore this. A [`TokenCache`] keeps a
    /// token that replaced a refused one and is refused in turn, for [`REFUSED_AGAIN_WAIT`]:
    /// the call then ends with Graph's 401 rather than asking for yet another token.
    fn invalidate(&self, _rejected: &AccessToken) {}

    /// What kind of token this provider gives.
    fn kind(&self) -> TokenKind {
        TokenKind::Unknown
    }

    /// The cloud whose Graph this provider's tokens are for, when it can tell (the default
    /// cannot). A client for another cloud's Graph refuses the provider when built: every
    /// call would be a 401 that reads like wrong credentials.
    fn cloud(&self) -> Option<Cloud> {
        None
    }

    /// Whether this provider sends a secret to its cloud's identity platform without having
    /// been told where (a [`ClientCredentials`] built without `authority_host`). A client
    /// whose Graph is on this machine (the emulator) refuses such a provider when built: with
    /// a local Graph and no local token endpoint, a test or a demo would send its secret to
    /// the identity platform. Naming the host, even the cloud's own, says it is meant.
    fn secret_to_default_authority(&self) -> bool {
        false
    }
}

/// A token used as given and never refreshed: one a sign-in elsewhere obtained (with
/// `OnlineMeetings.ReadWrite` for `/me`), for a script or a test.
#[derive(Debug, Clone)]
pub struct StaticToken {
    token: AccessToken,
    kind: TokenKind,
}

impl StaticToken {
    /// A token of unknown kind.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self {
            token: AccessToken::new(token, None),
            kind: TokenKind::Unknown,
        }
    }

    /// Says what kind of token this is, so `/me` with an application token is refused early.
    pub fn with_kind(mut self, kind: TokenKind) -> Self {
        self.kind = kind;
        self
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        Ok(self.token.clone())
    }

    fn ready(&self) -> Option<AccessToken> {
        Some(self.token.clone())
    }

    fn kind(&self) -> TokenKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::AccessToken;

    #[test]
    fn a_token_given_with_its_scheme_or_a_newline_is_sent_once_as_bearer() {
        for given in [
            "eyJ0.a-b",
            "Bearer eyJ0.a-b",
            "bearer eyJ0.a-b",
            "BEARER \t eyJ0.a-b\n",
            "eyJ0.a-b\r\n",
            "\"eyJ0.a-b\"",
            "Bearer \"eyJ0.a-b\"\n",
            "\"Bearer eyJ0.a-b\"",
            "Bearer Bearer eyJ0.a-b",
        ] {
            let token = AccessToken::new(given, None);
            assert_eq!(token.secret().expose(), "eyJ0.a-b", "{given:?}");
            let header = token.bearer().expect("a header value");
            assert_eq!(header.as_bytes(), b"Bearer eyJ0.a-b", "{given:?}");
            assert!(header.is_sensitive());
        }
        // Only a separate scheme word and a pair of quotes go: a token that starts with the
        // letters stays whole, and so does a lone quote.
        let token = AccessToken::new("BearerX.y", None);
        assert_eq!(token.secret().expose(), "BearerX.y");
        assert_eq!(AccessToken::new("\"x.y", None).secret().expose(), "\"x.y");
        for nothing in ["Bearer", "\"Bearer\"", "\"\"", " bearer \n"] {
            let token = AccessToken::new(nothing, None);
            assert_eq!(token.secret().expose(), "", "{nothing:?}");
        }
    }
}
