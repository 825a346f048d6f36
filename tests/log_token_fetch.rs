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
