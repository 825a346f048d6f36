//! The memory every in-flight call holds: the futures `create_or_get` and `create` return.
//!
//! A service with many calls in flight pays this per call, and every poll and move touches
//! it. Sizes are deterministic for a given compiler, so this is a plain test, not a benchmark:
//! it guards the layout work in `src/client` (by-value requests held once, no answer kept
//! across a retry's wait, the attempt's future not wrapped again) against an innocent-looking
//! `async fn` undoing it. The bound leaves room for compiler changes; the bench prints the
//! exact size (about 2.6 KB when this was written, from 6 KB before that work).

use graph_meetings::{types, Client, User};

/// About a third over what the layout work reached.
const BOUND: usize = 3_500;

fn client() -> Client {
    Client::builder()
        .base_url("http://127.0.0.1:9")
        .static_token("t")
        .build()
        .expect("client")
}

#[test]
fn a_create_or_get_in_flight_stays_small() {
    let client = client();
    let user = User::id("8b081ef6-4792-4def-b2c9-c363a1bf41d5").unwrap();
    // Never polled: nothing is sent.
    let call = client.create_or_get(&user, types::CreateOrGetRequest::default());
    let size = std::mem::size_of_val(&call);
    assert!(
        size <= BOUND,
        "create_or_get's future is {size} bytes, over {BOUND}: something now lives across an \
         await that did not (see src/client/call.rs and src/client/mod.rs)"
    );
}

#[test]
fn a_create_in_flight_stays_small() {
    let client = client();
    let call = client.create(&User::Me, types::OnlineMeeting::default());
    let size = std::mem::size_of_val(&call);
    assert!(
        size <= BOUND + std::mem::size_of::<types::OnlineMeeting>(),
        "create's future is {size} bytes: something now lives across an await that did not"
    );
}
