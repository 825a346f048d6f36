//! Soak: 10,000 createOrGet calls over 1,000 externalIds at concurrency 64 against a loopback
//! stand-in that injects ~10% faults of every kind. Every call must succeed and exactly 1,000
//! meetings must exist. A few seconds, so it is part of the default run; see its numbers with
//! `cargo test --release --test soak -- --nocapture`.

mod support;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use graph_meetings::{types, Client, Outcome, RetryPolicy, User};
use serde_json::json;
use support::{json, meeting, Act, Script};

const CALLS: usize = 10_000;
const IDS: usize = 1_000;
const CONCURRENCY: usize = 64;

const FAULTS: [&str; 10] = [
    "408",
    "500",
    "502",
    "429",
    "503",
    "504-after-apply",
    "drop",
    "drop-after-apply",
    "stall",
    "truncate",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_calls_with_ten_percent_faults_make_exactly_one_meeting_per_id() {
    // The stand-in acts as Graph would on whatever path it is sent: createOrGet finds the
    // meeting by externalId or makes one; anything else (create) makes one every time. `made`
    // counts every meeting made, so a request sent to the wrong operation is a duplicate.
    let meetings: Arc<Mutex<HashMap<String, serde_json::Value>>> = Arc::default();
    let made = Arc::new(AtomicUsize::new(0));
    let injected: Arc<[AtomicUsize; FAULTS.len()]> = Arc::new(Default::default());
    let rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(7)));
    let (store, made_here, counts) = (meetings.clone(), made.clone(), injected.clone());
    let server = Script::start(move |seen| {
        let roll = rng.lock().unwrap().usize(0..100);
        let fault = (roll < 10).then(|| roll % FAULTS.len());
        let id = seen.json()["externalId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let keyed = seen.path.ends_with("/onlineMeetings/createOrGet");
        let apply = || {
            let mut m = store.lock().unwrap();
            match m.get(&id) {
                Some(existing) if keyed => (200, existing.clone()),
                _ => {
                    let new = meeting(&id);
                    m.insert(id.clone(), new.clone());
                    made_here.fetch_add(1, Ordering::Relaxed);
                    (201, new)
                }
            }
        };
        let Some(fault) = fault else {
            let (status, body) = apply();
            return json(status, body);
        };
        counts[fault].fetch_add(1, Ordering::Relaxed);
        match FAULTS[fault] {
            "429" => Act::Respond(429, vec![("retry-after", "0".into())], "{}".into()),
            "408" | "500" | "502" | "503" => json(
                FAULTS[fault].parse().unwrap(),
                json!({"error": {"code": "Transient"}}),
            ),
            "504-after-apply" => {
                apply();
                json(504, json!({"error": {"code": "GatewayTimeout"}}))
            }
            "drop" => Act::Drop,
            "drop-after-apply" => {
                apply();
                Act::Drop
            }
            "stall" => Act::Delay(Duration::from_secs(5), Box::new(json(500, json!({})))),
            _ => {
                let (status, _) = apply();
                Act::Truncate(status, 500, r#"{"id": "cut"#.into())
            }
        }
    })
    .await;

    let client = Client::builder()
        .base_url(&server.url)
        .static_token("soak")
        // Ends the stalls (5 s), and not a healthy answer slowed by a loaded machine.
        .timeout(Duration::from_secs(2))
        .retry(
            RetryPolicy::default()
                .with_max_retries(10)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(20)),
        )
        .build()
        .unwrap();

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, next, created) = (client.clone(), next.clone(), created.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= CALLS {
                        return;
                    }
                    let request = types::CreateOrGetRequest {
                        external_id: format!("soak-{}", i % IDS),
                        ..Default::default()
                    };
                    let answer = client
                        .create_or_get(&User::Me, request)
                        .await
                        .unwrap_or_else(|e| panic!("call {i}: {e}"));
                    assert_eq!(
                        answer.meeting.external_id.as_deref(),
                        Some(format!("soak-{}", i % IDS).as_str())
                    );
                    if answer.outcome == Outcome::Created {
                        created.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("no worker panicked");
    }
    let elapsed = started.elapsed();

    let faults: Vec<String> = FAULTS
        .iter()
        .zip(injected.iter())
        .map(|(k, n)| format!("{k}={}", n.load(Ordering::Relaxed)))
        .collect();
    let total_faults: usize = injected.iter().map(|n| n.load(Ordering::Relaxed)).sum();
    let requests = server.count();
    println!(
        "soak: calls={CALLS} ids={IDS} concurrency={CONCURRENCY} requests={requests} faults={total_faults} ({}) \
         meetings={} created_outcomes={} elapsed_ms={}",
        faults.join(" "),
        made.load(Ordering::Relaxed),
        created.load(Ordering::Relaxed),
        elapsed.as_millis()
    );
    assert_eq!(
        made.load(Ordering::Relaxed),
        IDS,
        "exactly one meeting made per externalId"
    );
    assert_eq!(
        meetings.lock().unwrap().len(),
        IDS,
        "every externalId has one"
    );
    let created = created.load(Ordering::Relaxed);
    assert!(
        created <= IDS,
        "no more calls told `Created` than meetings were made: {created}"
    );
    assert!(
        total_faults > CALLS / 20,
        "faults were really injected: {total_faults}"
    );
    assert!(requests >= CALLS + total_faults - 1);
}
