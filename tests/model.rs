//! Model test against the emulator: random faults, one client call (or two, or several at once),
//! and what README promises about meetings made, error kinds and attempts.
//!
//! `model` replays README's retry rules over the fault queue and predicts each call's result,
//! the meetings the emulator then holds, the attempts and the final status; README's rules
//! (create: `Ok` one meeting, `OutcomeUnknown` zero or one, any other error none; createOrGet:
//! never two) are checked beside it, so a model mistake cannot hide a duplicate. Faults that
//! Graph never sends (a 429 or 4xx after acting) are left out: a client may rightly repeat a
//! create after one. The client's timeout (400 ms) is far from the faults' delays (20 ms
//! answered, 700 ms lost) so that a loaded machine does not change an outcome.

use std::time::Duration;

use graph_meetings::{
    emulator::{Emulator, Fault, DEMO_TENANT_ID, DEMO_USER_ID},
    types, Client, ClientCredentials, Error, ErrorKind, Outcome, RetryPolicy, User,
};
use proptest::prelude::*;

const TIMEOUT: Duration = Duration::from_millis(400);
const SHORT: Duration = Duration::from_millis(20);
const LONG: Duration = Duration::from_millis(700);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Create,
    CreateOrGet,
}

fn meeting_fault(op: Op) -> impl Strategy<Value = Fault> {
    let after: &'static [u16] = match op {
        // Statuses a service that acted may send (README: ApplyThenStatus with 429/4xx
        // simulates what Graph does not do).
        Op::Create => &[408, 500, 502, 503, 504],
        Op::CreateOrGet => &[408, 429, 500, 502, 503, 504],
    };
    prop_oneof![
        (
            prop::sample::select(vec![400u16, 404, 408, 429, 500, 501, 502, 503, 504, 505]),
            any::<bool>()
        )
            .prop_map(|(status, ra)| Fault::Status {
                status,
                retry_after: ra.then_some(Duration::ZERO)
            }),
        Just(Fault::Drop),
        prop::sample::select(vec![SHORT, LONG]).prop_map(Fault::Delay),
        prop::sample::select(vec![SHORT, LONG]).prop_map(Fault::ApplyThenDelay),
        prop::sample::select(after.to_vec()).prop_map(Fault::ApplyThenStatus),
        Just(Fault::ApplyThenDrop),
        Just(Fault::TruncatedBody),
    ]
}

fn token_fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        (prop::sample::select(vec![429u16, 500, 503]), any::<bool>()).prop_map(|(status, ra)| {
            Fault::Status {
                status,
                retry_after: ra.then_some(Duration::ZERO),
            }
        }),
        Just(Fault::Drop),
        prop::sample::select(vec![SHORT, LONG]).prop_map(Fault::Delay),
    ]
}

/// What the model expects of one call.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Created,
    Existing,
    /// kind, is_transient
    Err(ErrorKind, bool),
}

/// Plays the client's rules (README "Retries") over the fault queue. `stored`: the key's
/// meeting exists. Returns the expectation, attempts and the final answer's status, and
/// updates `made`/`stored`.
fn model(
    op: Op,
    faults: &mut std::collections::VecDeque<Fault>,
    retries: u32,
    stored: &mut bool,
    made: &mut usize,
) -> (Expect, u32, Option<u16>) {
    let mut attempts = 0;
    let mut retried = 0;
    let keyed = op == Op::CreateOrGet;
    loop {
        attempts += 1;
        // What the service answers after acting (201 new, 200 found).
        let mut act = || {
            let new = if keyed {
                !std::mem::replace(stored, true)
            } else {
                true
            };
            *made += new as usize;
            if new {
                201u16
            } else {
                200
            }
        };
        let ok = |status: u16| {
            if status == 201 {
                Expect::Created
            } else {
                Expect::Existing
            }
        };
        // (retry allowed, the error when final, its status)
        let (retry, err, status) = match faults.pop_front() {
            None | Some(Fault::Delay(SHORT)) | Some(Fault::ApplyThenDelay(SHORT)) => {
                let s = act();
                return (ok(s), attempts, Some(s));
            }
            Some(Fault::Status {
                status,
                retry_after,
            }) => {
                let transient = matches!(status, 408 | 429 | 500 | 502 | 503 | 504);
                let retry = match op {
                    Op::CreateOrGet => transient,
                    Op::Create => status == 429 || (status == 503 && retry_after.is_some()),
                };
                if op == Op::Create && !retry && matches!(status, 408 | 500 | 502 | 503 | 504) {
                    return (
                        Expect::Err(ErrorKind::OutcomeUnknown, false),
                        attempts,
                        Some(status),
                    );
                }
                (
                    retry,
                    Expect::Err(ErrorKind::Graph, transient),
                    Some(status),
                )
            }
            Some(Fault::Drop) | Some(Fault::Delay(_)) => (keyed, lost(op), None),
            Some(Fault::ApplyThenDelay(_)) => {
                act();
                (keyed, lost(op), None)
            }
            Some(Fault::ApplyThenStatus(status)) => {
                act();
                if op == Op::Create {
                    return (
                        Expect::Err(ErrorKind::OutcomeUnknown, false),
                        attempts,
                        Some(status),
                    );
                }
                (true, Expect::Err(ErrorKind::Graph, true), Some(status))
            }
            Some(Fault::ApplyThenDrop) => {
                act();
                (keyed, lost(op), None)
            }
            Some(Fault::TruncatedBody) => {
                let s = act();
                (keyed, lost(op), Some(s))
            }
            Some(other) => panic!("unmodelled {other:?}"),
        };
        if retry && retried < retries {
            retried += 1;
            continue;
        }
        return (err, attempts, status);
    }
}

fn lost(op: Op) -> Expect {
    match op {
        Op::Create => Expect::Err(ErrorKind::OutcomeUnknown, false),
        Op::CreateOrGet => Expect::Err(ErrorKind::Unreachable, true),
    }
}

fn client(emu: &Emulator, retries: u32, credentials: bool) -> (Client, User) {
    let policy = RetryPolicy::default()
        .with_max_retries(retries)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5));
    let builder = Client::builder()
        .base_url(emu.base_url())
        .retry(policy)
        .timeout(TIMEOUT);
    if credentials {
        let cc = ClientCredentials::builder(DEMO_TENANT_ID, "app-id", "app-secret")
            .authority_host(emu.authority_host())
            .timeout(TIMEOUT)
            .build()
            .unwrap();
        (
            builder.token_provider(cc).build().unwrap(),
            User::id(DEMO_USER_ID).unwrap(),
        )
    } else {
        (builder.static_token("any-token").build().unwrap(), User::Me)
    }
}

fn observed(r: &Result<Outcome, Error>) -> Expect {
    match r {
        Ok(Outcome::Created) => Expect::Created,
        Ok(Outcome::Existing) => Expect::Existing,
        Err(e) => Expect::Err(e.kind(), e.is_transient()),
    }
}

async fn settle(faults: &[Fault]) {
    if faults
        .iter()
        .any(|f| matches!(f, Fault::Delay(d) if *d == LONG))
    {
        tokio::time::sleep(LONG - TIMEOUT + Duration::from_millis(200)).await;
    }
}

/// One call as the tests read it: its result, and what its answer or error says of it.
#[derive(Debug)]
struct Call {
    result: Result<Outcome, Error>,
    attempts: Option<u32>,
    meeting_id: Option<String>,
    status: Option<u16>,
    client_request_id: Option<String>,
}

impl Call {
    fn answered(outcome: Outcome, attempts: u32, id: &str, status: u16, crid: &str) -> Self {
        Call {
            result: Ok(outcome),
            attempts: Some(attempts),
            meeting_id: Some(id.to_owned()),
            status: Some(status),
            client_request_id: Some(crid.to_owned()),
        }
    }

    fn failed(e: Error) -> Self {
        Call {
            attempts: e.attempts(),
            meeting_id: None,
            status: e.status(),
            client_request_id: e.client_request_id().map(str::to_owned),
            result: Err(e),
        }
    }

    /// Attempts as counted against requests received: none when nothing was attempted.
    fn attempts_made(&self) -> u64 {
        self.attempts.map_or(0, u64::from)
    }
}

/// One call of `op`: create makes a meeting of its own, createOrGet uses externalId `k`.
async fn call(client: &Client, user: &User, op: Op) -> Call {
    match op {
        Op::Create => {
            let m = types::OnlineMeeting {
                subject: Some("s".into()),
                ..Default::default()
            };
            match client.create(user, m).await {
                Ok(r) => Call::answered(
                    Outcome::Created,
                    r.attempts,
                    r.meeting_id(),
                    r.status.as_u16(),
                    &r.client_request_id,
                ),
                Err(e) => Call::failed(e),
            }
        }
        Op::CreateOrGet => {
            let m = types::CreateOrGetRequest {
                external_id: "k".into(),
                ..Default::default()
            };
            match client.create_or_get(user, m).await {
                Ok(r) => Call::answered(
                    r.outcome,
                    r.attempts,
                    r.meeting_id(),
                    r.status.as_u16(),
                    &r.client_request_id,
                ),
                Err(e) => Call::failed(e),
            }
        }
    }
}

/// `tasks` calls of `op` at once, each a task of its own.
async fn at_once(client: &Client, user: &User, op: Op, tasks: usize) -> Vec<Call> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (client, user) = (client.clone(), user.clone());
        set.spawn(async move { call(&client, &user, op).await });
    }
    set.join_all().await
}

/// An emulator with `faults` queued for the meeting operations.
async fn emulator_with(faults: &[Fault]) -> Emulator {
    let emu = Emulator::start().await.unwrap();
    for f in faults {
        emu.faults().push(f.clone());
    }
    emu
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Meeting faults only: the exact outcome, meetings made and attempts, as the model says.
    #[test]
    fn one_or_two_calls_match_the_model(
        create in any::<bool>(),
        twice in any::<bool>(),
        retries in 0u32..=4,
        cfaults in prop::collection::vec(meeting_fault(Op::Create), 0..=6),
        gfaults in prop::collection::vec(meeting_fault(Op::CreateOrGet), 0..=6),
    ) {
        let op = if create { Op::Create } else { Op::CreateOrGet };
        let faults = if create { cfaults } else { gfaults };
        rt().block_on(async {
            let emu = emulator_with(&faults).await;
            let (client, user) = client(&emu, retries, false);
            let mut queue: std::collections::VecDeque<Fault> = faults.iter().cloned().collect();
            let (mut stored, mut made) = (false, 0usize);
            let calls = if twice { 2 } else { 1 };
            let mut requests = 0u64;
            for nth in 0..calls {
                let before = emu.meeting_count();
                let (want, want_attempts, want_status) = model(op, &mut queue, retries, &mut stored, &mut made);
                let Call { result: got, attempts, meeting_id: id, status, client_request_id: crid } = call(&client, &user, op).await;
                settle(&faults).await;
                let now = emu.meeting_count();
                let ctx = format!("call {nth} op {op:?} retries {retries} faults {faults:?} got {got:?}");
                // README invariants, independent of the model.
                match (&op, &got) {
                    (Op::Create, Ok(_)) => prop_assert_eq!(now - before, 1, "{}", ctx),
                    (Op::Create, Err(e)) if e.kind() == ErrorKind::OutcomeUnknown => prop_assert!(now - before <= 1, "{}", ctx),
                    (Op::Create, Err(_)) => prop_assert_eq!(now - before, 0, "{}", ctx),
                    (Op::CreateOrGet, _) => prop_assert!(now <= 1, "{}", ctx),
                }
                if let Err(e) = &got {
                    prop_assert!(!(e.kind() == ErrorKind::OutcomeUnknown && e.is_transient()), "{}", ctx);
                    if op == Op::CreateOrGet { prop_assert!(e.kind() != ErrorKind::OutcomeUnknown, "{}", ctx); }
                }
                prop_assert!(id.is_none() || now >= 1, "{}", ctx);
                // The model.
                prop_assert_eq!(observed(&got), want, "{}", ctx);
                prop_assert_eq!(now, made, "{}", ctx);
                prop_assert_eq!(attempts, Some(want_attempts), "{}", ctx);
                prop_assert_eq!(status, want_status, "status; {}", ctx);
                let received = emu.graph_requests() - requests;
                prop_assert_eq!(received, want_attempts as u64, "requests received; {}", ctx);
                // Every attempt of this call: the same client-request-id, Retry-Attempt n-1.
                let seen = emu.received();
                for (n, r) in seen[requests as usize..].iter().enumerate() {
                    prop_assert_eq!(r.header("client-request-id"), crid.as_deref(), "{}", ctx);
                    let want_ra = (n > 0).then(|| n.to_string());
                    prop_assert_eq!(r.header("retry-attempt"), want_ra.as_deref(), "{}", ctx);
                }
                requests = emu.graph_requests();
            }
            prop_assert_eq!(emu.faults().pending(), queue.len());
            Ok(())
        })?;
    }

    /// Several createOrGet calls at once, one externalId: one meeting at most, one Created at
    /// most, every success the same meeting, attempts add up to the requests received.
    #[test]
    fn concurrent_create_or_get_make_one_meeting(
        tasks in 2usize..=6,
        retries in 0u32..=4,
        faults in prop::collection::vec(meeting_fault(Op::CreateOrGet), 0..=6),
    ) {
        rt().block_on(async {
            let emu = emulator_with(&faults).await;
            let (client, user) = client(&emu, retries, false);
            let calls = at_once(&client, &user, Op::CreateOrGet, tasks).await;
            settle(&faults).await;
            let made = emu.meeting_count();
            let ctx = format!("tasks {tasks} retries {retries} faults {faults:?} made {made} results {:?}",
                calls.iter().map(|c| c.result.as_ref().map(|o| (*o, c.attempts)).map_err(|e| (e.kind(), c.attempts))).collect::<Vec<_>>());
            prop_assert!(made <= 1, "{}", ctx);
            let ids: std::collections::HashSet<_> = calls.iter().filter_map(|c| c.meeting_id.as_deref()).collect();
            prop_assert!(ids.len() <= 1, "{}", ctx);
            if !ids.is_empty() { prop_assert_eq!(made, 1, "{}", ctx); }
            let created = calls.iter().filter(|c| matches!(c.result, Ok(Outcome::Created))).count();
            prop_assert!(created <= 1, "{}", ctx);
            let attempts: u64 = calls.iter().map(Call::attempts_made).sum();
            prop_assert_eq!(attempts, emu.graph_requests(), "{}", ctx);
            for c in &calls {
                if let Err(e) = &c.result {
                    prop_assert!(e.kind() != ErrorKind::OutcomeUnknown, "{}", ctx);
                }
            }
            Ok(())
        })?;
    }

    /// Several creates at once with random faults: Ok ≤ meetings made ≤ Ok + OutcomeUnknown.
    #[test]
    fn concurrent_creates_account_for_every_meeting(
        tasks in 2usize..=6,
        retries in 0u32..=4,
        faults in prop::collection::vec(meeting_fault(Op::Create), 0..=6),
    ) {
        rt().block_on(async {
            let emu = emulator_with(&faults).await;
            let (client, user) = client(&emu, retries, false);
            let calls = at_once(&client, &user, Op::Create, tasks).await;
            settle(&faults).await;
            let made = emu.meeting_count();
            let ok = calls.iter().filter(|c| c.result.is_ok()).count();
            let unknown = calls.iter().filter(|c| matches!(&c.result, Err(e) if e.kind() == ErrorKind::OutcomeUnknown)).count();
            let ctx = format!("tasks {tasks} retries {retries} faults {faults:?} made {made} ok {ok} unknown {unknown}");
            prop_assert!(ok <= made && made <= ok + unknown, "{}", ctx);
            let attempts: u64 = calls.iter().map(Call::attempts_made).sum();
            prop_assert_eq!(attempts, emu.graph_requests(), "{}", ctx);
            Ok(())
        })?;
    }
}

// Token retries come at least a second apart: fewer cases.
proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Client credentials with token faults (and sometimes revoked tokens, so a 401 comes):
    /// invariants only.
    #[test]
    fn with_token_faults_invariants_hold(
        create in any::<bool>(),
        retries in 0u32..=3,
        revoke in any::<bool>(),
        cfaults in prop::collection::vec(meeting_fault(Op::Create), 0..=4),
        gfaults in prop::collection::vec(meeting_fault(Op::CreateOrGet), 0..=4),
        tfaults in prop::collection::vec(token_fault(), 0..=2),
    ) {
        let op = if create { Op::Create } else { Op::CreateOrGet };
        let faults = if create { cfaults } else { gfaults };
        rt().block_on(async {
            let emu = Emulator::start().await.unwrap();
            let (client, user) = client(&emu, retries, true);
            if revoke {
                // Warm the cache with a token, then revoke it: the next request is a 401.
                let m = types::CreateOrGetRequest { external_id: "warm".into(), ..Default::default() };
                client.create_or_get(&user, m).await.unwrap();
                emu.revoke_tokens();
            }
            let base_meetings = emu.meeting_count();
            let base_requests = emu.graph_requests();
            for f in &faults { emu.faults().push(f.clone()); }
            for f in &tfaults { emu.token_faults().push(f.clone()); }
            let Call { result: got, attempts, .. } = call(&client, &user, op).await;
            settle(&faults).await;
            let made = emu.meeting_count() - base_meetings;
            let received = emu.graph_requests() - base_requests;
            let ctx = format!("op {op:?} retries {retries} revoke {revoke} faults {faults:?} token {tfaults:?} got {got:?} made {made} received {received}");
            match &got {
                Ok(o) => {
                    prop_assert_eq!(made, 1, "{}", ctx);
                    prop_assert_eq!(attempts.map(u64::from), Some(received), "{}", ctx);
                    if op == Op::CreateOrGet && received == 1 { prop_assert_eq!(*o, Outcome::Created, "{}", ctx); }
                }
                Err(e) => {
                    match (op, e.kind()) {
                        (Op::Create, ErrorKind::OutcomeUnknown) => prop_assert!(made <= 1, "{}", ctx),
                        (Op::Create, _) => prop_assert_eq!(made, 0, "{}", ctx),
                        (Op::CreateOrGet, k) => { prop_assert!(made <= 1, "{}", ctx); prop_assert!(k != ErrorKind::OutcomeUnknown, "{}", ctx); }
                    }
                    prop_assert!(!(e.kind() == ErrorKind::OutcomeUnknown && e.is_transient()), "{}", ctx);
                    if let Some(a) = attempts { prop_assert_eq!(u64::from(a), received, "{}", ctx); }
                    else { prop_assert_eq!(received, 0, "no attempts but requests; {}", ctx); }
                }
            }
            Ok(())
        })?;
    }
}
