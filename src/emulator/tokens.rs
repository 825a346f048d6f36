//! Bearer tokens: which ones the emulator issued, and whose authority a token carries.
//!
//! The convention, kept simple on purpose:
//! - tokens from the token endpoint are **application** tokens of the tenant they were asked
//!   for. They carry the emulator's current epoch, so [`Tokens::revoke_all`] makes every one of
//!   them fail with 401 (as an expired token does) and a client must fetch a new one, and
//!   whether they are for Graph: one asked for another resource's scope is refused with 401
//!   (invalid audience), as Graph refuses it;
//! - **any other** non-empty bearer token is a **delegated** token of the demo user
//!   ([`DEMO_USER_ID`](super::DEMO_USER_ID)) in the demo tenant.
//!
//! Nothing is stored per token, so issuing many costs no memory.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{header, HeaderMap, StatusCode};

use super::{
    directory::{tenant_id, UserRef},
    graph_error::GraphFailure,
    DEMO_TENANT_ID,
};

const APP_PREFIX: &str = "emuapp~";
/// An issued token's audience when it is Graph.
const GRAPH_AUDIENCE: &str = "graph";

/// Whose authority a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Caller {
    /// A signed-in user: `/me` is this user.
    Delegated { tenant: String, user: UserRef },
    /// An application of a tenant: it has no `/me`.
    Application { tenant: String },
}

impl Caller {
    pub fn tenant(&self) -> &str {
        match self {
            Caller::Delegated { tenant, .. } | Caller::Application { tenant } => tenant,
        }
    }
}

/// Issues and checks application tokens.
#[derive(Debug)]
pub(super) struct Tokens {
    epoch: AtomicU64,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            epoch: AtomicU64::new(fastrand::u64(..)),
        }
    }
}

impl Tokens {
    /// A new application token for `tenant` (already checked to be letters, digits, `.`, `-`),
    /// for Graph or, when `for_graph` is false, for another resource (its `aud`). The token
    /// carries the tenant's ID, as a real token's `tid` does, so a tenant asked for by domain
    /// or by ID keys the same meetings.
    pub fn issue(&self, tenant: &str, for_graph: bool) -> String {
        format!(
            "{APP_PREFIX}{:016x}~{}~{}~{}",
            self.epoch.load(Ordering::Relaxed),
            tenant_id(tenant),
            if for_graph { GRAPH_AUDIENCE } else { "other" },
            uuid::Uuid::new_v4().simple()
        )
    }

    /// Makes every application token issued so far invalid.
    pub fn revoke_all(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// The caller behind the `Authorization` header, or Graph's 401.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, GraphFailure> {
        let unauthorized = |message: &str| {
            GraphFailure::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            )
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized("Access token is empty."));
        };
        let value = value
            .to_str()
            .map_err(|_| unauthorized("Access token validation failure. Invalid audience."))?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(unauthorized(
                    "Access token validation failure. Invalid audience.",
                ))
            }
        };
        if token.is_empty() {
            return Err(unauthorized("Access token is empty."));
        }
        let Some(rest) = token.strip_prefix(APP_PREFIX) else {
            return Ok(Caller::Delegated {
                tenant: DEMO_TENANT_ID.to_owned(),
                user: UserRef::demo(),
            });
        };
        let mut parts = rest.split('~');
        let (Some(epoch), Some(tenant), Some(audience), Some(_), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(unauthorized("Access token validation failure."));
        };
        let current = format!("{:016x}", self.epoch.load(Ordering::Relaxed));
        if epoch != current {
            return Err(unauthorized(
                "Lifetime validation failed, the token is expired.",
            ));
        }
        if audience != GRAPH_AUDIENCE {
            return Err(unauthorized(
                "Access token validation failure. Invalid audience.",
            ));
        }
        Ok(Caller::Application {
            tenant: tenant.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    #[test]
    fn issued_tokens_are_application_tokens_until_revoked() {
        let tokens = Tokens::default();
        let token = tokens.issue("Fabrikam.example", true);
        let caller = tokens.authenticate(&bearer(&token)).unwrap();
        // A GUID as Graph's tenants are, the same for the name in any case.
        assert!(uuid::Uuid::parse_str(caller.tenant()).is_ok(), "{caller:?}");
        assert_eq!(
            caller,
            Caller::Application {
                tenant: tenant_id("fabrikam.example")
            }
        );
        assert_ne!(caller.tenant(), DEMO_TENANT_ID);
        // The demo tenant by domain (any case) or by ID: one tenant, its ID.
        for name in ["Contoso.Example", DEMO_TENANT_ID] {
            let token = tokens.issue(name, true);
            assert_eq!(
                tokens.authenticate(&bearer(&token)).unwrap(),
                Caller::Application {
                    tenant: DEMO_TENANT_ID.into()
                },
                "{name}"
            );
        }
        // Another resource's token: Graph's routes refuse it.
        let other = tokens.issue("Fabrikam.example", false);
        let err = tokens.authenticate(&bearer(&other)).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
        assert!(err.message.contains("Invalid audience"), "{}", err.message);
        tokens.revoke_all();
        let err = tokens.authenticate(&bearer(&token)).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn other_tokens_are_the_demo_user_and_missing_ones_are_refused() {
        let tokens = Tokens::default();
        let caller = tokens.authenticate(&bearer("anything")).unwrap();
        assert_eq!(
            caller,
            Caller::Delegated {
                tenant: DEMO_TENANT_ID.into(),
                user: UserRef::demo()
            }
        );
        for headers in [HeaderMap::new(), bearer(""), {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
            h
        }] {
            let err = tokens.authenticate(&headers).unwrap_err();
            assert_eq!(err.status, StatusCode::UNAUTHORIZED);
            assert_eq!(err.code, "InvalidAuthenticationToken");
        }
        let forged = tokens.authenticate(&bearer("emuapp~nonsense")).unwrap_err();
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    }
}
