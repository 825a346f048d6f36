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
