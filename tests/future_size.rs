//! The memory every in-flight call holds: the futures `create_or_get` and `create` return.
//!
//! A service with many calls in flight pays this per call, and every poll and move touches
//! it. Sizes are deterministic for a given compiler, so this is a plain test, not a benchmark:
//! it guards the layout work in `src/client` (by-value requests held once, no answer kept
//! across a retry's wait, the attempt's future not wrapped again) against an innocent-looking
//! `async fn` undoing it. When this was written, create_or_get's future was 3,008 bytes in a
//! debug build and 2,624 in release (the bench prints it), from 5,984 before that work; the
//! bound leaves about a third for compiler changes and still catches a return to the old
//! layout.

use graph_meetings::{types, Client, User};

/// About a third over the debug-build size the layout work reached.
const BOUND: usize = 4_000;

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
