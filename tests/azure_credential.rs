//! `azure_core` credentials serve as token providers: the right scope, their expiry honoured,
//! one request for many concurrent calls, and a rejected token replaced.
#![cfg(feature = "azure-identity")]

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};

use async_trait::async_trait;
use azure_core::{
    credentials::{AccessToken, TokenCredential, TokenRequestOptions},
    time::{Duration, OffsetDateTime},
};
use graph_meetings::{auth::AzureCredential, Cloud, TokenKind, TokenProvider};

#[derive(Debug, Default)]
struct Fake {
    calls: AtomicUsize,
    scopes: Mutex<Vec<String>>,
    lifetime_s: i64,
}

#[async_trait]
impl TokenCredential for Fake {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        self.scopes
            .lock()
            .unwrap()
            .extend(scopes.iter().map(|s| s.to_string()));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Ok(AccessToken::new(
            format!("azure-token-{n}"),
            OffsetDateTime::now_utc() + Duration::seconds(self.lifetime_s),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_for_many_calls_with_the_clouds_graph_scope() {
    let fake = Arc::new(Fake {
        lifetime_s: 3600,
        ..Default::default()
    });
    let provider = AzureCredential::builder(fake.clone())
        .cloud(Cloud::UsGov)
        .kind(TokenKind::Application)
        .build();
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let p = provider.clone();
            tokio::spawn(async move { p.token().await.unwrap().secret().expose().to_owned() })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), "azure-token-0");
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        *fake.scopes.lock().unwrap(),
        ["https://graph.microsoft.us/.default"]
    );
    assert_eq!(provider.kind(), TokenKind::Application);
}

#[tokio::test]
async fn short_lived_and_rejected_tokens_are_replaced() {
    // Already expired when it arrives: never reused.
    let fake = Arc::new(Fake {
        lifetime_s: -1,
        ..Default::default()
    });
    let provider = AzureCredential::new(fake.clone());
    provider.token().await.unwrap();
    provider.token().await.unwrap();
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);

    let fake = Arc::new(Fake {
        lifetime_s: 3600,
        ..Default::default()
    });
    let provider = AzureCredential::new(fake.clone());
    let first = provider.token().await.unwrap();
    provider.invalidate(&first);
    let second = provider.token().await.unwrap();
    assert_ne!(first, second);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
}

/// A credential that fails with `error`.
#[derive(Debug)]
struct Failing(fn() -> azure_core::Error);

#[async_trait]
impl TokenCredential for Failing {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Err((self.0)())
    }
}

#[tokio::test]
async fn an_endpoint_out_of_reach_or_busy_is_unavailable_not_the_providers_failure() {
    use azure_core::error::{Error, ErrorKind};
    use graph_meetings::AuthError;
    let fail = |make: fn() -> Error| async move {
        AzureCredential::new(Arc::new(Failing(make)))
            .token()
            .await
            .unwrap_err()
    };
    // Out of reach, wrapped in the credential's own error as managed identity does.
    let unreachable = fail(|| {
        let io = Error::with_message(ErrorKind::Connection, "169.254.169.254: connection refused");
        Error::with_error(
            ErrorKind::Credential,
            io,
            "ManagedIdentityCredential failed",
        )
    })
    .await;
    assert!(
        matches!(unreachable, AuthError::Transport(_)),
        "{unreachable:?}"
    );
    // ... or an I/O error of the network's, however deep.
    let refused = fail(|| {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let inner = Error::with_error(ErrorKind::Io, io, "failed to execute request");
        Error::with_error(
            ErrorKind::Credential,
            inner,
            "ManagedIdentityCredential failed",
        )
    })
    .await;
    assert!(matches!(refused, AuthError::Transport(_)), "{refused:?}");
    // Its message says why, not only that the credential failed.
    assert!(
        refused
            .to_string()
            .contains("ManagedIdentityCredential failed")
            && refused.to_string().ends_with(": refused"),
        "{refused}"
    );
    // ... or its HTTP client's failure (a timeout), which wraps no `io::Error`.
    let timed_out = fail(|| {
        let inner = Error::with_error(ErrorKind::Io, std::fmt::Error, "operation timed out");
        Error::with_error(
            ErrorKind::Credential,
            inner,
            "ManagedIdentityCredential failed",
        )
    })
    .await;
    assert!(
        matches!(timed_out, AuthError::Transport(_)),
        "{timed_out:?}"
    );
    assert_eq!(
        graph_meetings::Error::Authentication(unreachable).kind(),
        graph_meetings::ErrorKind::Unreachable
    );
    // A timeout on the way: busy too, not a refusal.
    let timeout = fail(|| {
        Error::with_message(
            ErrorKind::HttpResponse {
                status: 408.into(),
                error_code: None,
                raw_response: None,
            },
            "request timeout",
        )
    })
    .await;
    assert!(
        matches!(&timeout, AuthError::TokenEndpoint { status: 408, .. }),
        "{timeout:?}"
    );
    // Busy: its status kept.
    let busy = fail(|| {
        Error::with_message(
            ErrorKind::HttpResponse {
                status: 503.into(),
                error_code: Some("TemporarilyUnavailable".into()),
                raw_response: None,
            },
            "try later",
        )
    })
    .await;
    assert!(
        matches!(&busy, AuthError::TokenEndpoint { status: 503, error: Some(code), .. } if code == "TemporarilyUnavailable"),
        "{busy:?}"
    );
    // Refused, or failing in its own way: the provider's failure, as before.
    for make in [
        || {
            Error::with_message(
                ErrorKind::HttpResponse {
                    status: 400.into(),
                    error_code: Some("invalid_request".into()),
                    raw_response: None,
                },
                "bad",
            )
        },
        || Error::with_message(ErrorKind::Credential, "az: not logged in"),
        // An I/O error that is not the network's: `az` not installed.
        || {
            let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "az: not found");
            Error::with_error(ErrorKind::Io, missing, "AzureCliCredential failed")
        },
    ] {
        let refused = fail(make).await;
        assert!(matches!(refused, AuthError::Provider(_)), "{refused:?}");
        assert_eq!(
            graph_meetings::Error::Authentication(refused).kind(),
            graph_meetings::ErrorKind::Unauthorized
        );
    }
}
