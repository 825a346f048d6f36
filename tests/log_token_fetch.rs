//! The token fetch runs as a task of its own, on whichever worker thread: its events still
//! reach the caller's subscriber, in the caller's span, where a service set its logging up
//! per task or thread rather than globally. (Its own binary: no global subscriber here.)
#![cfg(feature = "emulator")]

mod support;

use graph_meetings::{emulator::Emulator, RetryPolicy, User};
use support::Captured;
use tracing::Instrument;

#[test]
fn a_token_fetch_logs_to_the_callers_subscriber_in_the_callers_span() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let captured = Captured::default();
    let subscriber = captured.subscriber(tracing::Level::DEBUG);
    rt.block_on(async {
        let emu = Emulator::start().await.unwrap();
        let client = support::as_app(&emu, RetryPolicy::none());
        let user = User::id(graph_meetings::emulator::DEMO_USER_ID).unwrap();
        // This thread's subscriber only; the fetch runs on a worker thread.
        let _default = tracing::subscriber::set_default(subscriber);
        let call = client.create(&user, Default::default());
        let made = call
            .instrument(tracing::info_span!("handler", request = 7))
            .await;
        assert_eq!(made.unwrap().status.as_u16(), 201);
    });
    let text = captured.text();
    let fetch = text
        .lines()
        .find(|l| l.contains("requesting an application token"))
        .unwrap_or_else(|| panic!("the fetch's event is missing: {text}"));
    assert!(fetch.contains("handler{request=7}"), "{fetch}");
}

/// A clock the test moves.
#[derive(Debug)]
struct Moving(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl graph_meetings::times::Clock for Moving {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap()
    }
}

#[test]
fn a_refresh_failure_is_one_line_of_the_log_whatever_the_provider_said() {
    use graph_meetings::{auth::TokenCache, AccessToken, AuthError};
    use std::sync::Arc;
    // A provider's own error may quote what a vault answered, line breaks and all.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let captured = Captured::default();
    let _default = tracing::subscriber::set_default(captured.subscriber(tracing::Level::WARN));
    let start = chrono::Utc::now();
    let clock = Arc::new(Moving(std::sync::Mutex::new(start)));
    rt.block_on(async {
        let cache = TokenCache::new(clock.clone());
        let expires = start + chrono::Duration::hours(1);
        cache
            .get(move || std::future::ready(Ok(AccessToken::new("old-token-1", Some(expires)))))
            .await
            .unwrap();
        // Due for a refresh, still valid: the refresh fails in the background.
        *clock.0.lock().unwrap() = start + chrono::Duration::minutes(57);
        let refused = || {
            std::future::ready(Err(AuthError::Provider(
                "vault answered: bad\nERROR graph_meetings: forged line\u{2028}and\u{202e}more"
                    .into(),
            )))
        };
        let kept = cache.get(refused).await.unwrap();
        assert_eq!(kept.secret().expose(), "old-token-1");
        for _ in 0..100 {
            if captured.text().contains("token refresh failed") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    });
    let text = captured.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("vault answered: bad ERROR graph_meetings: forged line"),
        "{text}"
    );
    assert!(!text.contains(['\u{2028}', '\u{202e}']), "{text:?}");
}

#[test]
fn a_client_id_is_logged_escaped() {
    // Only control characters are refused in a client ID; a line separator or a
    // right-to-left override must still not reach a log line as it is.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let captured = Captured::default();
    let _default = tracing::subscriber::set_default(captured.subscriber(tracing::Level::DEBUG));
    rt.block_on(async {
        let emu = Emulator::start().await.unwrap();
        let provider = graph_meetings::ClientCredentials::builder(
            "contoso.onmicrosoft.com",
            "app\u{2028}WARN forged\u{202e}",
            "a-secret-of-some-length",
        )
        .authority_host(emu.authority_host())
        .build()
        .unwrap();
        let _ = graph_meetings::TokenProvider::token(&provider).await;
    });
    let text = captured.text();
    let fetch = text
        .lines()
        .find(|l| l.contains("requesting an application token"))
        .unwrap_or_else(|| panic!("the fetch's event is missing: {text}"));
    assert!(!fetch.contains(['\u{2028}', '\u{202e}']), "{fetch:?}");
    assert!(fetch.contains(r"app\u{2028}WARN forged\u{202e}"), "{fetch}");
}
