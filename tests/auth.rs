//! Tokens against a loopback stand-in of the identity platform: the form, the cache, refresh,
//! 401 recovery, and the promise that no secret is ever printed.

mod support;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use graph_meetings::{
    times::Clock, types, AccessToken, AuthError, Client, ClientCredentials, Cloud, Error,
    ErrorKind, GraphError, InvalidRequest, RetryPolicy, TokenProvider, User,
};
use serde_json::json;
use support::{Act, Script};
use wiremock::{
    matchers::{header, method, path},
    Mock, MockServer, Request, ResponseTemplate,
};

const SECRET: &str = "canary-secret-0f9e8d7c";
const TENANT: &str = "contoso.onmicrosoft.com";
const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";

/// A clock the test moves by hand.
#[derive(Debug)]
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(
            DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        )))
    }
    fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn token_answer(token: &str, expires_in: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": token}),
    )
}

/// A token endpoint that gives each of `turns` its number of times, in order, then `then` to
/// every request after.
async fn answering_in_turn(
    turns: Vec<(ResponseTemplate, u64)>,
    then: ResponseTemplate,
) -> MockServer {
    let server = MockServer::start().await;
    for (answer, times) in turns {
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(answer)
            .up_to_n_times(times)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(then)
        .mount(&server)
        .await;
    server
}

/// A Graph stand-in that answers a request carrying `tok-1` with `refusal` (a 401) and makes
/// the meeting for one carrying `tok-2`.
async fn refusing_tok1(refusal: ResponseTemplate) -> MockServer {
    tok1_then_tok2(
        refusal,
        ResponseTemplate::new(201).set_body_json(json!({"id": "m"})),
    )
    .await
}

/// Graph answering requests with tok-1 `first`, and with tok-2 `second`.
async fn tok1_then_tok2(first: ResponseTemplate, second: ResponseTemplate) -> MockServer {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(first)
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(second)
        .mount(&graph)
        .await;
    graph
}

/// An identity platform that issues tok-1, is busy once (429, Retry-After 1 s), then issues
/// tok-2.
async fn busy_for_a_second_between_tokens() -> MockServer {
    let busy = ResponseTemplate::new(429)
        .insert_header("retry-after", "1")
        .set_body_json(json!({"error": "temporarily_unavailable"}));
    let turns = vec![(token_answer("tok-1", json!(3600)), 1), (busy, 1)];
    answering_in_turn(turns, token_answer("tok-2", json!(3600))).await
}

/// A token endpoint that issues `tokens` (an hour each) in turn, the last one for ever.
async fn token_endpoint(tokens: &[&str]) -> MockServer {
    let (last, first) = tokens.split_last().unwrap();
    let turns = first.iter().map(|t| (token_answer(t, json!(3600)), 1));
    answering_in_turn(turns.collect(), token_answer(last, json!(3600))).await
}

/// A token endpoint that issues `tok-1` (an hour) once, then answers every request with `later`.
async fn token_then(later: ResponseTemplate) -> MockServer {
    answering_in_turn(vec![(token_answer("tok-1", json!(3600)), 1)], later).await
}

/// An identity platform that issues `tok-1`, then answers every request 500.
async fn refresh_fails_after_one_token() -> MockServer {
    token_then(
        ResponseTemplate::new(500).set_body_json(json!({"error": "temporarily_unavailable"})),
    )
    .await
}

/// Graph's 401 from a `RefreshFailed` whose token failure was that 500.
fn rejected_after_a_failed_refresh(err: &Error) -> &GraphError {
    let Error::Authentication(AuthError::RefreshFailed { rejected, refresh }) = err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(**refresh, AuthError::TokenEndpoint { status: 500, .. }),
        "{refresh:?}"
    );
    rejected
}

/// Graph refusing every token: 401 `InvalidAuthenticationToken` ("revoked"), with
/// `request_id`.
async fn graph_refusing(request_id: &str) -> MockServer {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("request-id", request_id)
                .set_body_json(
                    json!({"error": {"code": "InvalidAuthenticationToken", "message": "revoked"}}),
                ),
        )
        .mount(&graph)
        .await;
    graph
}

async fn graph_answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({"id": "m"})))
        .mount(&server)
        .await;
    server
}

/// The token a refresh under way brings, once it has landed (it runs in the background). The
/// limit is a hang detector, not a speed limit.
async fn refreshed(provider: &ClientCredentials) -> AccessToken {
    let landed = async {
        loop {
            match provider.ready() {
                Some(token) => return token,
                None => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), landed)
        .await
        .expect("the refresh landed")
}

fn credentials(idp: &MockServer, clock: Arc<TestClock>) -> ClientCredentials {
    ClientCredentials::builder(TENANT, "app-id", SECRET)
        .authority_host(idp.uri())
        .clock(clock)
        .build()
        .unwrap()
}

fn client(graph: &MockServer, provider: ClientCredentials) -> Client {
    Client::builder()
        .base_url(graph.uri())
        .token_provider(provider)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// A client of `graph` with the test's own token `provider`, kept by the test to look into.
fn using(graph: &MockServer, provider: Arc<dyn TokenProvider>) -> Client {
    Client::builder()
        .base_url(graph.uri())
        .shared_token_provider(provider)
        .build()
        .unwrap()
}

fn request() -> types::CreateOrGetRequest {
    types::CreateOrGetRequest {
        external_id: "ext-1".into(),
        ..Default::default()
    }
}

fn user() -> User {
    User::id("8b081ef6-4792-4def-b2c9-c363a1bf41d5").unwrap()
}

/// A client with client credentials from `idp`, retrying quickly as the default policy does
/// (the waits between tries for a token are the client's own, at least a second).
fn retrying(graph: &MockServer, idp: &MockServer) -> Client {
    Client::builder()
        .base_url(graph.uri())
        .token_provider(credentials(idp, TestClock::new()))
        .retry(
            RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .unwrap()
}

/// A createOrGet with client credentials whose token endpoint always gives `answer`: the
/// call's error, and the Graph stand-in (to check that nothing reached it).
async fn token_endpoint_answering(answer: ResponseTemplate) -> (Error, MockServer) {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer)
        .mount(&idp)
        .await;
    let graph = graph_answering(201).await;
    let err = client(&graph, credentials(&idp, TestClock::new()))
        .create_or_get(&user(), request())
        .await
        .unwrap_err();
    (err, graph)
}

async fn requests(server: &MockServer) -> Vec<Request> {
    // `None` means recording is off, which would make every count below vacuous.
    server
        .received_requests()
        .await
        .expect("the mock server records requests")
}

fn form(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

#[tokio::test]
async fn the_token_request_is_the_client_credentials_form_with_the_clouds_scope() {
    for (cloud, scope) in [
        (Cloud::Global, "https://graph.microsoft.com/.default"),
        (Cloud::UsGov, "https://graph.microsoft.us/.default"),
        (Cloud::Dod, "https://dod-graph.microsoft.us/.default"),
        (
            Cloud::China,
            "https://microsoftgraph.chinacloudapi.cn/.default",
        ),
    ] {
        let idp = token_endpoint(&["tok-1"]).await;
        let graph = graph_answering(201).await;
        let provider = ClientCredentials::builder(TENANT, "app-id", SECRET)
            .cloud(cloud)
            .authority_host(idp.uri())
            .build()
            .unwrap();
        // The Graph root is overridden; the scope still names the cloud's Graph.
        client(&graph, provider)
            .create_or_get(&user(), request())
            .await
            .unwrap();

        let sent = requests(&idp).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].headers.get("content-type").unwrap(),
            "application/x-www-form-urlencoded"
        );
        let mut fields = form(&sent[0]);
        fields.sort();
        assert_eq!(
            fields,
            [
                ("client_id".to_string(), "app-id".to_string()),
                ("client_secret".into(), SECRET.into()),
                ("grant_type".into(), "client_credentials".into()),
                ("scope".into(), scope.into()),
            ]
        );
        assert_eq!(
            requests(&graph).await[0]
                .headers
                .get("authorization")
                .unwrap(),
            "Bearer tok-1"
        );
    }
}

#[tokio::test]
async fn a_refusal_no_new_token_cures_does_not_ask_the_token_endpoint_once_per_call() {
    // Graph refuses every token (say, one of another tenant): the first call fetches a
    // replacement once, as it should; the calls after it meet the same refusal without asking
    // the token endpoint each time.
    let idp = token_endpoint(&["tok-1", "tok-2", "tok-3", "tok-4"]).await;
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"code": "InvalidAuthenticationToken", "message": "Invalid audience."}}),
        ))
        .mount(&graph)
        .await;
    let client = client(&graph, credentials(&idp, TestClock::new()));
    for _ in 0..20 {
        let err = client.create_or_get(&user(), request()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    }
    assert_eq!(requests(&idp).await.len(), 2, "tok-1, then one replacement");
    assert_eq!(requests(&graph).await.len(), 21);
}

#[tokio::test]
async fn a_tokens_lifetime_counts_from_when_it_was_asked_for() {
    // Issued somewhere during the request: an answer that took a second must not make the
    // token last a second past its real expiry.
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(token_answer("tok-1", json!(3600)).set_delay(Duration::from_secs(1)))
        .mount(&idp)
        .await;
    let provider = ClientCredentials::builder(TENANT, "app-id", SECRET)
        .authority_host(idp.uri())
        .build()
        .unwrap();
    let asked = Utc::now();
    let token = provider.token().await.unwrap();
    let lifetime = token.expires_at().unwrap() - asked;
    assert!(
        lifetime <= chrono::TimeDelta::milliseconds(3_600_500),
        "{lifetime}"
    );
}

#[tokio::test]
async fn an_explicit_scope_wins() {
    let idp = token_endpoint(&["tok-1"]).await;
    let provider = ClientCredentials::builder(TENANT, "app-id", SECRET)
        .authority_host(idp.uri())
        .scope("api://custom/.default")
        .build()
        .unwrap();
    provider.token().await.unwrap();
    assert!(
        form(&requests(&idp).await[0]).contains(&("scope".into(), "api://custom/.default".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_calls_on_a_cold_cache_make_one_token_request() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token_answer("tok-1", json!(3600)).set_delay(Duration::from_millis(200)))
        .mount(&idp)
        .await;
    let graph = graph_answering(201).await;
    let c = client(&graph, credentials(&idp, TestClock::new()));
    let calls = (0..100).map(|i| {
        let c = c.clone();
        tokio::spawn(async move {
            let r = types::CreateOrGetRequest {
                external_id: format!("ext-{i}"),
                ..Default::default()
            };
            c.create_or_get(&user(), r).await
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    assert_eq!(requests(&idp).await.len(), 1);
    assert_eq!(requests(&graph).await.len(), 100);
}

#[tokio::test]
async fn tokens_are_refreshed_once_five_minutes_or_less_remain() {
    let idp = token_endpoint(&["tok-1", "tok-2"]).await;
    let clock = TestClock::new();
    let provider = credentials(&idp, clock.clone());
    assert_eq!(provider.token().await.unwrap().secret().expose(), "tok-1");
    clock.advance(chrono::Duration::seconds(3600 - 301));
    assert_eq!(
        provider.token().await.unwrap().secret().expose(),
        "tok-1",
        "5 min 1 s left: still used"
    );
    assert_eq!(requests(&idp).await.len(), 1);
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        provider.token().await.unwrap().secret().expose(),
        "tok-1",
        "5 min left: still valid, handed out while the refresh runs"
    );
    assert_eq!(refreshed(&provider).await.secret().expose(), "tok-2");
    assert_eq!(provider.token().await.unwrap().secret().expose(), "tok-2");
    assert_eq!(requests(&idp).await.len(), 2);
}

#[tokio::test]
async fn a_refresh_that_hangs_does_not_fail_calls_while_the_token_is_valid() {
    // The first token comes at once; every later token request hangs for a minute. In the
    // refresh window calls are sent at once with the token that is still valid, at the
    // default timeouts too: the refresh runs beside them, and only one runs.
    let idp =
        token_then(token_answer("tok-2", json!(3600)).set_delay(Duration::from_secs(60))).await;
    let clock = TestClock::new();
    let provider = credentials(&idp, clock.clone());
    let graph = graph_answering(201).await;
    let c = Client::builder()
        .base_url(graph.uri())
        .token_provider(provider)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    c.create(&user(), types::OnlineMeeting::default())
        .await
        .unwrap();
    clock.advance(chrono::Duration::minutes(57));
    // A hang detector far below the refresh's minute, not a speed limit.
    let calls = async {
        for _ in 0..2 {
            c.create(&user(), types::OnlineMeeting::default())
                .await
                .unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(30), calls)
        .await
        .expect("calls in the refresh window do not wait for the refresh");
    let sent = requests(&graph).await;
    assert_eq!(sent.len(), 3);
    for request in &sent {
        assert_eq!(request.headers["authorization"], "Bearer tok-1");
    }
    // The refresh's request is sent from a task of its own: wait until it has arrived (a
    // hang detector), then check that it is the only one.
    let arrived = async {
        while requests(&idp).await.len() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), arrived)
        .await
        .expect("the refresh was sent");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        requests(&idp).await.len(),
        2,
        "one refresh under way; the next call does not start another"
    );
}

#[tokio::test]
async fn a_call_that_gives_up_on_a_slow_token_leaves_it_for_the_next() {
    // The token endpoint takes longer than the call's timeout: the call fails (with no retry
    // left to wait for it), but the token request goes on, and the next call uses its token
    // instead of asking again.
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(token_answer("slow", json!(3600)).set_delay(Duration::from_secs(3)))
        .mount(&idp)
        .await;
    let provider = credentials(&idp, TestClock::new());
    let graph = graph_answering(201).await;
    let c = Client::builder()
        .base_url(graph.uri())
        .token_provider(provider.clone())
        .timeout(Duration::from_millis(500))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = c
        .create(&user(), types::OnlineMeeting::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Authentication(AuthError::Transport(why)) if why.contains("no token within")),
        "{err:?}"
    );
    assert!(requests(&graph).await.is_empty());
    assert_eq!(refreshed(&provider).await.secret().expose(), "slow");
    // The next call, through a client with the default timeout sharing the provider: the
    // short one was only to give up on the token, not a limit on a healthy round trip.
    let patient = Client::builder()
        .base_url(graph.uri())
        .token_provider(provider.clone())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    patient
        .create(&user(), types::OnlineMeeting::default())
        .await
        .unwrap();
    assert_eq!(requests(&idp).await.len(), 1);
    let sent = requests(&graph).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].headers["authorization"], "Bearer slow");
}

#[tokio::test]
async fn the_cache_offers_a_ready_token_only_while_it_is_fresh() {
    let idp = token_endpoint(&["tok-1"]).await;
    let clock = TestClock::new();
    let provider = credentials(&idp, clock.clone());
    assert!(provider.ready().is_none(), "nothing fetched yet");
    provider.token().await.unwrap();
    assert_eq!(provider.ready().unwrap().secret().expose(), "tok-1");
    clock.advance(chrono::Duration::seconds(3600 - 300));
    assert!(
        provider.ready().is_none(),
        "due for refresh: the async path must run"
    );
}

/// A provider whose token is always at hand, and whose async path fails and counts.
#[derive(Debug, Default)]
struct AtHand {
    awaited: Mutex<usize>,
}

#[async_trait::async_trait]
impl TokenProvider for AtHand {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        *self.awaited.lock().unwrap() += 1;
        Err(AuthError::Provider("the async path was taken".into()))
    }

    fn ready(&self) -> Option<AccessToken> {
        Some(AccessToken::new("at-hand", None))
    }
}

#[tokio::test]
async fn a_token_at_hand_is_used_without_the_async_path() {
    let graph = graph_answering(201).await;
    let provider = Arc::new(AtHand::default());
    let c = using(&graph, provider.clone());
    c.create_or_get(&user(), request()).await.unwrap();
    assert_eq!(*provider.awaited.lock().unwrap(), 0);
    let sent = requests(&graph).await;
    assert_eq!(
        sent[0].headers.get("authorization").unwrap(),
        "Bearer at-hand"
    );
}

/// A provider of its own whose token path never answers, with a token that has not expired
/// (due for a refresh, say) still at hand.
#[derive(Debug)]
struct Hanging;

#[async_trait::async_trait]
impl TokenProvider for Hanging {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        std::future::pending().await
    }

    fn still_valid(&self) -> Option<AccessToken> {
        Some(AccessToken::new("still-valid", None))
    }
}

#[tokio::test]
async fn a_provider_that_does_not_answer_in_time_lends_its_still_valid_token() {
    let graph = graph_answering(201).await;
    let c = Client::builder()
        .base_url(graph.uri())
        .shared_token_provider(Arc::new(Hanging))
        // Long enough for a loopback round trip on a loaded machine after the token wait.
        .timeout(Duration::from_secs(2))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    // A hang detector, not a speed limit.
    let answer = tokio::time::timeout(Duration::from_secs(30), c.create_or_get(&user(), request()))
        .await
        .expect("the call does not wait for the token path for ever");
    answer.unwrap();
    let sent = requests(&graph).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].headers["authorization"], "Bearer still-valid",
        "the token at hand went out"
    );
}

/// A provider of its own that hands out what it was given, in order.
#[derive(Debug)]
struct Scripted(Mutex<std::collections::VecDeque<Result<AccessToken, AuthError>>>);

/// A Graph stand-in that answers the first request 401, and every later one `then`.
async fn graph_401_then(then: ResponseTemplate) -> MockServer {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&graph)
        .await;
    Mock::given(method("POST"))
        .respond_with(then)
        .mount(&graph)
        .await;
    graph
}

/// A client for `graph` whose tokens (or failures to get one) come from `script` in turn, with
/// short retry waits.
fn scripted_client(
    graph: &str,
    script: std::collections::VecDeque<Result<AccessToken, AuthError>>,
) -> Client {
    Client::builder()
        .base_url(graph)
        .shared_token_provider(Arc::new(Scripted(Mutex::new(script))))
        .retry(
            RetryPolicy::default()
                .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .build()
        .unwrap()
}

#[async_trait::async_trait]
impl TokenProvider for Scripted {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        let next = self.0.lock().unwrap().pop_front();
        next.unwrap_or_else(|| Err(AuthError::Provider("no more tokens scripted".into())))
    }
}

#[tokio::test]
async fn a_401_answered_long_ago_is_not_blamed_for_a_later_failure_to_get_a_token() {
    // 401; the endpoint out of reach, waited out; a fresh token; Graph 503, retried; then the
    // provider fails for good. That failure is the call's error on its own: the 401 was
    // answered by the fresh token, not by this failure.
    let graph = graph_401_then(ResponseTemplate::new(503)).await;
    let script = [
        Ok(AccessToken::new("tok-1", None)),
        Err(AuthError::Transport("out of reach".into())),
        Ok(AccessToken::new("tok-2", None)),
        Err(AuthError::Provider("broken for good".into())),
    ];
    let c = scripted_client(&graph.uri(), script.into());
    let err = c.create_or_get(&user(), request()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Authentication(AuthError::Provider(m)) if m == "broken for good"),
        "{err:?}"
    );
    let sent = requests(&graph).await;
    assert_eq!(sent.len(), 2, "the 401 and the 503");
    assert_eq!(sent[1].headers["authorization"], "Bearer tok-2");
}

#[tokio::test]
async fn a_provider_of_its_own_reports_its_token_endpoint_busy_then_refusing() {
    // What `TokenProvider`'s docs promise a provider that talks to a token endpoint itself: a
    // 503 is waited out, a 400 is final; the AADSTS code is read from the description.
    let graph = graph_answering(201).await;
    let script = [
        Err(AuthError::token_endpoint(
            503,
            Some("temporarily_unavailable".into()),
            None,
            Some(Duration::from_millis(10)),
        )),
        Err(AuthError::token_endpoint(
            400,
            Some("invalid_client".into()),
            Some("AADSTS7000215: Invalid client secret provided. Trace ID: t".into()),
            None,
        )),
    ];
    let c = scripted_client(&graph.uri(), script.into());
    let err = c.create_or_get(&user(), request()).await.unwrap_err();
    let Error::Authentication(AuthError::TokenEndpoint {
        status: 400,
        error: Some(error),
        aadsts: Some(aadsts),
        ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (error.as_str(), aadsts.as_str()),
        ("invalid_client", "AADSTS7000215")
    );
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(!err.is_transient());
    assert!(requests(&graph).await.is_empty());
    let busy = Error::from(AuthError::token_endpoint(429, None, None, None));
    assert_eq!(busy.kind(), ErrorKind::Unreachable);
    // The endpoint's text as a provider hands it over, made one short printable line.
    let hostile = format!(
        "AADSTS50012: bad\n\u{1b}[2Jforged line{}",
        "d".repeat(3 << 20)
    );
    let refused = Error::from(AuthError::token_endpoint(
        401,
        Some("invalid_client\r\nX: y".into()),
        Some(hostile),
        None,
    ));
    let text = refused.to_string();
    assert!(
        text.len() < 4096 && !text.contains(['\n', '\r', '\u{1b}']),
        "{text:?}"
    );
    assert!(
        matches!(&refused, Error::Authentication(AuthError::TokenEndpoint { aadsts: Some(c), .. }) if c == "AADSTS50012"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_blank_token_fetched_after_a_401_is_the_refresh_failure_not_a_second_request() {
    let idp = token_then(token_answer(" Bearer ", json!(3600))).await;
    let graph = graph_answering(401).await;
    let err = client(&graph, credentials(&idp, TestClock::new()))
        .create_or_get(&user(), request())
        .await
        .unwrap_err();
    let Error::Authentication(AuthError::RefreshFailed { refresh, .. }) = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(&**refresh, AuthError::Transport(m) if m.contains("access_token is empty")),
        "{refresh:?}"
    );
    // The endpoint answered something unusable: worth trying again later, like no answer.
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert_eq!(
        requests(&graph).await.len(),
        1,
        "no `Bearer ` sent after the 401"
    );
}

#[tokio::test]
async fn a_providers_unsendable_token_after_a_401_is_the_refresh_failure_with_graphs_ids() {
    // The same rule for a provider of the user's own: its fresh token cannot be sent, so the
    // 401 stays the answer, with Graph's request IDs and why no retry followed.
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).insert_header("request-id", "rid-401"))
        .mount(&graph)
        .await;
    for unsendable in ["", "tok\r\n2"] {
        let script = [
            Ok(AccessToken::new("tok-1", None)),
            Ok(AccessToken::new(unsendable, None)),
        ];
        let err = scripted_client(&graph.uri(), script.into())
            .create(&user(), types::OnlineMeeting::default())
            .await
            .unwrap_err();
        let Error::Authentication(AuthError::RefreshFailed { rejected, refresh }) = &err else {
            panic!("{unsendable:?}: {err:?}")
        };
        assert_eq!(rejected.status, 401);
        assert!(matches!(&**refresh, AuthError::Provider(_)), "{refresh:?}");
        assert_eq!(err.request_id(), Some("rid-401"));
        assert!(err.client_request_id().is_some() && err.attempts() == Some(1));
    }
    assert_eq!(
        requests(&graph).await.len(),
        2,
        "one create per call, not resent"
    );
}

/// A provider of its own (no cache) that hands out whatever token it was given, and counts
/// how often it was told a token did not work.
#[derive(Debug)]
struct Handing(&'static str, Mutex<usize>);

#[async_trait::async_trait]
impl TokenProvider for Handing {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        Ok(AccessToken::new(self.0, None))
    }

    fn invalidate(&self, _rejected: &AccessToken) {
        *self.1.lock().unwrap() += 1;
    }
}

/// Hands out the same secret each time, with a later expiry each time.
#[derive(Debug, Default)]
struct Restamping(Mutex<i64>);

#[async_trait::async_trait]
impl TokenProvider for Restamping {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        let mut minutes = self.0.lock().unwrap();
        *minutes += 60;
        let expires = chrono::Utc::now() + chrono::Duration::minutes(*minutes);
        Ok(AccessToken::new("the-same-secret", Some(expires)))
    }
}

#[tokio::test]
async fn a_401_answered_with_the_same_secret_is_not_sent_again() {
    // A new expiry on the same secret is not a fresh token: Graph would refuse it again.
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&graph)
        .await;
    let provider = Arc::new(Restamping::default());
    let c = using(&graph, provider.clone());
    let err = c.create_or_get(&user(), request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert_eq!(requests(&graph).await.len(), 1);
    assert_eq!(
        *provider.0.lock().unwrap(),
        120,
        "asked again after the 401"
    );
}

#[tokio::test]
async fn a_providers_token_that_cannot_be_sent_is_its_failure_and_nothing_is_sent() {
    // Not `Bearer ` and a 401 that does not say why: the call fails before sending, says why,
    // and the provider hears of it as it would of a rejected token.
    for (token, reason) in [
        (" Bearer ", "the token is empty"),
        ("ab\ncd", "cannot be sent in a header"),
    ] {
        let graph = graph_answering(201).await;
        let provider = Arc::new(Handing(token, Mutex::new(0)));
        let c = using(&graph, provider.clone());
        let err = c.create_or_get(&user(), request()).await.unwrap_err();
        assert!(
            matches!(&err, Error::Authentication(AuthError::Provider(m)) if m.contains(reason)),
            "{token:?}: {err:?}"
        );
        assert!(requests(&graph).await.is_empty(), "{token:?}");
        assert_eq!(*provider.1.lock().unwrap(), 1, "{token:?}");
    }
}

#[tokio::test]
async fn expires_in_may_be_a_string_or_missing() {
    // (expires_in, seconds it stays fresh): short tokens are refreshed half-way; unknown
    // lifetimes are assumed to be 10 minutes, so refreshed after 5.
    for (expires_in, fresh_for) in [
        (json!("120"), 60),
        (json!(null), 300),
        (json!("never"), 300),
    ] {
        let idp = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(token_answer("tok", expires_in.clone()))
            .mount(&idp)
            .await;
        let clock = TestClock::new();
        let provider = credentials(&idp, clock.clone());
        provider.token().await.unwrap();
        clock.advance(chrono::Duration::seconds(fresh_for - 1));
        provider.token().await.unwrap();
        assert_eq!(
            requests(&idp).await.len(),
            1,
            "expires_in {expires_in}: still fresh"
        );
        clock.advance(chrono::Duration::seconds(1));
        provider.token().await.unwrap();
        refreshed(&provider).await;
        assert_eq!(
            requests(&idp).await.len(),
            2,
            "expires_in {expires_in}: refreshed"
        );
    }
}

#[tokio::test]
async fn an_access_token_that_is_blank_only_the_scheme_or_unsendable_is_no_token() {
    // Cached, it would go out as `Bearer ` on every call and come back as a 401 that does not
    // say why; it is the token endpoint's failure (a success without a usable token, as one
    // without `access_token`: unreachable, not a refusal of the credentials), and Graph is not
    // asked.
    let unsendable = "cannot be sent in a header";
    for (blank, says) in [
        ("", "access_token is empty"),
        ("  \n", "access_token is empty"),
        ("Bearer", "access_token is empty"),
        ("\"\"", "access_token is empty"),
        ("abc\r\nX-Injected: 1", unsendable),
        ("tok\u{7f}en", unsendable),
    ] {
        let idp = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(token_answer(blank, json!(3600)))
            .mount(&idp)
            .await;
        let graph = graph_answering(201).await;
        let provider = credentials(&idp, TestClock::new());
        let err = client(&graph, provider.clone())
            .create_or_get(&user(), request())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Authentication(AuthError::Transport(m)) if m.contains(says)),
            "{blank:?}: {err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Unreachable, "{blank:?}");
        assert!(requests(&graph).await.is_empty(), "{blank:?}");
        assert!(provider.ready().is_none(), "{blank:?}: nothing cached");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_endpoint_is_asked_once_by_many_waiting_callers() {
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({"error": "temporarily_unavailable"}))
                .set_delay(Duration::from_millis(200)),
        )
        .mount(&idp)
        .await;
    let provider = credentials(&idp, TestClock::new());
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let p = provider.clone();
            tokio::spawn(async move { p.token().await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(
            matches!(err, AuthError::TokenEndpoint { status: 503, .. }),
            "{err}"
        );
    }
    assert_eq!(
        requests(&idp).await.len(),
        1,
        "the waiters shared the one failure"
    );
}

#[tokio::test]
async fn a_failed_refresh_falls_back_to_the_cached_token_until_it_expires() {
    let idp = refresh_fails_after_one_token().await;
    let clock = TestClock::new();
    let provider = credentials(&idp, clock.clone());
    provider.token().await.unwrap();
    clock.advance(chrono::Duration::minutes(58));
    assert_eq!(
        provider.token().await.unwrap().secret().expose(),
        "tok-1",
        "stale but valid"
    );
    clock.advance(chrono::Duration::minutes(3));
    let err = provider.token().await.unwrap_err();
    assert!(
        matches!(err, AuthError::TokenEndpoint { status: 500, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_401_fetches_a_new_token_and_retries_once() {
    let idp = token_endpoint(&["tok-1", "tok-2"]).await;
    let graph = refusing_tok1(ResponseTemplate::new(401).set_body_json(
        json!({"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}),
    ))
    .await;
    // create is not idempotent, but a 401 means the service did not act.
    let answer = client(&graph, credentials(&idp, TestClock::new()))
        .create(&user(), types::OnlineMeeting::default())
        .await
        .unwrap();
    assert_eq!(answer.status.as_u16(), 201);
    let sent = requests(&graph).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].headers.get("client-request-id"),
        sent[1].headers.get("client-request-id")
    );
    // The retry carries the fresh token, once, and the same single request ID.
    for name in ["authorization", "client-request-id", "retry-attempt"] {
        assert_eq!(sent[1].headers.get_all(name).iter().count(), 1, "{name}");
    }
    assert_eq!(sent[1].headers["authorization"], "Bearer tok-2");
    assert_eq!(requests(&idp).await.len(), 2);
}

#[tokio::test]
async fn a_401_echoing_another_requests_id_does_not_send_create_again() {
    // Another request's 401 (a proxy replaying answers) says nothing of this create, which may
    // have been carried out: no fresh token, no second request, an unknown outcome.
    let idp = token_endpoint(&["tok-1", "tok-2"]).await;
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("client-request-id", "11111111-1111-1111-1111-111111111111")
                .set_body_json(json!({"error": {"code": "InvalidAuthenticationToken"}})),
        )
        .mount(&graph)
        .await;
    let err = client(&graph, credentials(&idp, TestClock::new()))
        .create(&user(), types::OnlineMeeting::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err:?}");
    assert_eq!(requests(&graph).await.len(), 1);
    assert_eq!(requests(&idp).await.len(), 1, "no fresh token asked for");
}

#[tokio::test]
async fn a_401_whose_fresh_token_cannot_be_had_keeps_graphs_answer_and_the_reason() {
    let idp = refresh_fails_after_one_token().await;
    let graph = graph_refusing("req-401").await;
    let err = client(&graph, credentials(&idp, TestClock::new()))
        .create(&user(), types::OnlineMeeting::default())
        .await
        .unwrap_err();
    let rejected = rejected_after_a_failed_refresh(&err);
    assert_eq!(
        (rejected.status, rejected.code.as_deref()),
        (401, Some("InvalidAuthenticationToken"))
    );
    // What a support case needs is still there: Graph's request-id and the ID that was sent.
    let sent = requests(&graph).await;
    assert_eq!(sent.len(), 1, "no retry without a fresh token");
    assert_eq!(
        err.graph().and_then(|g| g.request_id.as_deref()),
        Some("req-401")
    );
    assert_eq!(
        err.client_request_id(),
        sent[0]
            .headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
    );
    assert_eq!(err.status(), Some(401));
    let text = err.to_string();
    assert!(
        text.contains("revoked") && text.contains("temporarily_unavailable"),
        "{text}"
    );
    assert_eq!(requests(&idp).await.len(), 2);
}

#[tokio::test]
async fn a_401_with_a_cut_off_body_and_no_fresh_token_still_says_both() {
    let idp = refresh_fails_after_one_token().await;
    let graph = Script::start(|_| Act::Truncate(401, 1_000, "{\"error\"".into())).await;
    let c = Client::builder()
        .base_url(&graph.url)
        .token_provider(credentials(&idp, TestClock::new()))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = c.create_or_get(&user(), request()).await.unwrap_err();
    assert_eq!(rejected_after_a_failed_refresh(&err).status, 401);
    assert_eq!(graph.count(), 1);
}

#[tokio::test]
async fn a_second_401_is_an_authentication_error() {
    let idp = token_endpoint(&["tok-1", "tok-2", "tok-3"]).await;
    let graph = graph_answering(401).await;
    let err = client(&graph, credentials(&idp, TestClock::new()))
        .create_or_get(&user(), request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Authentication(AuthError::Rejected(g)) if g.status == 401),
        "{err:?}"
    );
    assert_eq!(requests(&graph).await.len(), 2);
}

#[tokio::test]
async fn a_static_token_rejected_with_401_is_not_resent() {
    let graph = graph_answering(401).await;
    let c = Client::builder()
        .base_url(graph.uri())
        .static_token("expired")
        .build()
        .unwrap();
    let err = c.create_or_get(&User::Me, request()).await.unwrap_err();
    assert!(
        matches!(err, Error::Authentication(AuthError::Rejected(_))),
        "{err:?}"
    );
    assert_eq!(requests(&graph).await.len(), 1);
}

#[tokio::test]
async fn a_bad_secret_reports_the_identity_platforms_error_and_never_the_secret() {
    let (err, graph) = token_endpoint_answering(ResponseTemplate::new(401).set_body_json(json!({
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.",
        "error_codes": [7000215],
        "trace_id": "t", "correlation_id": "c"
    })))
    .await;
    let Error::Authentication(AuthError::TokenEndpoint {
        status,
        error,
        aadsts,
        description,
        ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*status, error.as_deref(), aadsts.as_deref()),
        (401, Some("invalid_client"), Some("AADSTS7000215"))
    );
    assert!(description
        .as_deref()
        .unwrap()
        .contains("Invalid client secret"));
    let text = format!("{err} {err:?}");
    assert!(text.contains("AADSTS7000215"));
    assert!(
        !text.contains(SECRET) && !text.contains("client_secret="),
        "{text}"
    );
    assert!(requests(&graph).await.is_empty());
}

#[tokio::test]
async fn a_redirecting_token_endpoint_is_not_followed_and_the_error_says_to_check_the_host() {
    let elsewhere = MockServer::start().await;
    let answer = ResponseTemplate::new(307).insert_header(
        "location",
        format!("{}/login?next=x", elsewhere.uri()).as_str(),
    );
    let (err, graph) = token_endpoint_answering(answer).await;
    let Error::Authentication(AuthError::TokenEndpoint {
        status: 307,
        description: Some(description),
        ..
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert!(
        description.contains(&format!("a redirect to {}, not followed", elsewhere.uri()))
            && description.contains("authority host"),
        "{err}"
    );
    assert!(!description.contains("next=x"), "origin only: {err}");
    // Neither the form (secret and all) nor anything else went where it pointed.
    assert!(requests(&elsewhere).await.is_empty());
    assert!(requests(&graph).await.is_empty());
    // A target without an origin (not http) or none at all: the redirect alone is named.
    for location in [Some("mailto:x@example.com"), Some("/relative"), None] {
        let mut answer = ResponseTemplate::new(302);
        if let Some(location) = location {
            answer = answer.insert_header("location", location);
        }
        let (err, _) = token_endpoint_answering(answer).await;
        assert!(
            err.to_string().contains(": a redirect, not followed"),
            "{location:?}: {err}"
        );
    }
    // The identity platform's own description, had it sent one, is kept.
    let answer = ResponseTemplate::new(302)
        .set_body_json(json!({"error": "invalid_request", "error_description": "its own"}));
    let (err, _) = token_endpoint_answering(answer).await;
    assert!(
        err.to_string().ends_with(": invalid_request: its own"),
        "{err}"
    );
}

#[tokio::test]
async fn a_redirect_whose_target_repeats_the_secret_does_not_show_it() {
    // A host name is lower-cased on the way, so an Azure-style secret with capitals comes
    // back in another case; percent-encoded, its `~` reads `%7E`.
    let secret = "Q8x~Canary.Secret_Value-0123";
    for host in [
        secret.to_owned(),
        secret.to_ascii_lowercase(),
        secret.replace('~', "%7E"),
    ] {
        let idp = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("https://{host}.evil.test/callback")),
            )
            .mount(&idp)
            .await;
        let provider = ClientCredentials::builder(TENANT, "app", secret)
            .authority_host(idp.uri())
            .build()
            .unwrap();
        let err = provider.token().await.unwrap_err();
        let shown = format!("{err} | {err:?}").to_ascii_lowercase();
        assert!(
            !shown.contains(&secret.to_ascii_lowercase()) && !shown.contains("canary"),
            "{host}: {shown}"
        );
        assert!(
            shown.contains("a redirect (to where is not shown"),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn a_refusal_whose_body_is_too_large_is_still_a_refusal() {
    // A proxy's block page or an HTML 404 from a wrong authority host: over the 64 KiB cap,
    // its status still says the endpoint refused, and a refusal is not asked again.
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("content-type", "text/html")
                .set_body_string("<p>blocked</p>".repeat(8_000)),
        )
        .mount(&idp)
        .await;
    let graph = graph_answering(201).await;
    let err = retrying(&graph, &idp)
        .create_or_get(&user(), request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Authentication(AuthError::TokenEndpoint { status: 403, .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(requests(&idp).await.len(), 1);
    assert!(requests(&graph).await.is_empty());
}

#[tokio::test]
async fn a_token_of_another_type_than_bearer_is_not_sent() {
    for kind in ["pop", "MAC"] {
        let idp = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "token_type": kind,
                "expires_in": 3599,
                "access_token": "eyJ.other.token"
            })))
            .mount(&idp)
            .await;
        let graph = graph_answering(201).await;
        let err = client(&graph, credentials(&idp, TestClock::new()))
            .create_or_get(&user(), request())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Authentication(AuthError::Provider(m)) if m.contains(kind)),
            "{err:?}"
        );
        assert!(requests(&graph).await.is_empty(), "{kind}");
    }
    // The type is the endpoint's text, and so has the secret blanked, should it echo the form.
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": format!("pop client_secret={SECRET}"),
            "access_token": "eyJ.other.token"
        })))
        .mount(&idp)
        .await;
    let err = credentials(&idp, TestClock::new())
        .token()
        .await
        .unwrap_err();
    let shown = format!("{err} | {err:?}");
    assert!(!shown.contains(SECRET) && shown.contains("***"), "{shown}");
    // Bearer in any case is taken, as is an answer that does not say.
    for kind in [Some("Bearer"), Some("bearer"), None] {
        let idp = MockServer::start().await;
        let mut answer = json!({"expires_in": 3599, "access_token": "eyJ.bearer.token"});
        if let Some(kind) = kind {
            answer["token_type"] = json!(kind);
        }
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .mount(&idp)
            .await;
        let graph = graph_answering(201).await;
        client(&graph, credentials(&idp, TestClock::new()))
            .create_or_get(&user(), request())
            .await
            .unwrap();
        assert_eq!(requests(&graph).await.len(), 1, "{kind:?}");
    }
}

#[tokio::test]
async fn a_clients_debug_says_where_and_how_and_never_the_secret_or_token() {
    let idp = token_endpoint(&["tok-1"]).await;
    let graph = graph_answering(201).await;
    let c = client(&graph, credentials(&idp, TestClock::new()));
    c.create_or_get(&user(), request()).await.unwrap();
    let text = format!("{c:?}");
    assert!(text.contains(&graph.uri()), "{text}");
    assert!(
        text.contains("expires_at: Some("),
        "the cached token's expiry: {text}"
    );
    assert!(!text.contains(SECRET) && !text.contains("tok-1"), "{text}");
    // What the cache holds, not its locks and wakers.
    assert!(
        !text.contains("Mutex") && !text.contains("Notify"),
        "{text}"
    );
}

#[tokio::test]
async fn an_application_token_cannot_address_me() {
    let idp = token_endpoint(&["tok-1"]).await;
    let graph = graph_answering(201).await;
    let err = client(&graph, credentials(&idp, TestClock::new()))
        .create_or_get(&User::Me, request())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidRequest(InvalidRequest::AppTokenForMe)
    ));
    assert!(
        err.to_string().contains("/users/"),
        "says what to do instead: {err}"
    );
    assert!(requests(&idp).await.is_empty() && requests(&graph).await.is_empty());
}

#[test]
fn credentials_are_checked_before_any_url_is_built() {
    for tenant in ["", "..", "contoso/../common", "a?b=c", "evil.example#"] {
        let err = ClientCredentials::builder(tenant, "id", "s")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{tenant}");
    }
    let err = ClientCredentials::builder(TENANT, "id", "s")
        .authority_host("http://login.example.com")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    assert!(
        ClientCredentials::builder(TENANT, "id", "")
            .build()
            .is_err(),
        "empty secret"
    );
}

#[test]
fn a_local_graph_beside_the_clouds_own_authority_is_refused_before_the_secret_leaves() {
    // The emulator's Graph with client credentials never pointed at its token endpoint: the
    // secret would go to the identity platform.
    let unaimed = || {
        ClientCredentials::builder(TENANT, "id", "real-secret")
            .build()
            .unwrap()
    };
    for local in [
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost:8080",
    ] {
        let err = Client::builder()
            .base_url(local)
            .token_provider(unaimed())
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("authority_host")),
            "{err}"
        );
        assert!(!format!("{err} {err:?}").contains("real-secret"));
    }
    // The host named, the cloud's own or a local one, says it is meant; a Graph elsewhere
    // is not this mistake.
    let named = ClientCredentials::builder(TENANT, "id", "s")
        .authority_host("https://login.microsoftonline.com")
        .build()
        .unwrap();
    Client::builder()
        .base_url("http://127.0.0.1:8080")
        .token_provider(named)
        .build()
        .unwrap();
    Client::builder()
        .base_url("https://graph.example.test")
        .token_provider(unaimed())
        .build()
        .unwrap();
    Client::builder().token_provider(unaimed()).build().unwrap();
}

#[tokio::test]
async fn a_busy_or_failing_token_endpoint_is_unreachable_not_a_refusal() {
    for (status, expected) in [
        // A timeout on the way (a proxy's), as it is when Graph answers it.
        (408, ErrorKind::Unreachable),
        (429, ErrorKind::Unreachable),
        (500, ErrorKind::Unreachable),
        (503, ErrorKind::Unreachable),
        (400, ErrorKind::Unauthorized),
        (401, ErrorKind::Unauthorized),
    ] {
        let answer = ResponseTemplate::new(status)
            .set_body_json(json!({"error": "temporarily_unavailable"}));
        let (err, graph) = token_endpoint_answering(answer).await;
        assert!(
            matches!(err, Error::Authentication(AuthError::TokenEndpoint { .. })),
            "{err:?}"
        );
        assert_eq!(err.kind(), expected, "token endpoint {status}: {err}");
        let busy = expected == ErrorKind::Unreachable;
        assert_eq!(err.is_transient(), busy, "token endpoint {status}: {err}");
        assert!(requests(&graph).await.is_empty());
    }
}

#[tokio::test]
async fn calls_during_a_token_endpoint_outage_do_not_ask_it_once_each() {
    // Throttled for 30 s: the calls that come after the first, one after another and without
    // retries, get its answer (and what is left of its Retry-After) without asking again.
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "30")
                .set_body_json(json!({"error": "temporarily_unavailable"})),
        )
        .mount(&idp)
        .await;
    let graph = graph_answering(201).await;
    let client = client(&graph, credentials(&idp, TestClock::new()));
    for call in 0..20 {
        let err = client.create_or_get(&user(), request()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unreachable, "call {call}: {err}");
        match err {
            Error::Authentication(AuthError::TokenEndpoint {
                status: 429,
                retry_after: Some(left),
                ..
            }) => assert!(
                left > Duration::from_secs(20) && left <= Duration::from_secs(30),
                "call {call}: {left:?}"
            ),
            other => panic!("call {call}: {other:?}"),
        }
    }
    assert_eq!(requests(&idp).await.len(), 1, "asked once");
    assert!(requests(&graph).await.is_empty());
}

#[tokio::test]
async fn a_token_endpoint_that_is_briefly_down_is_waited_out_by_either_operation() {
    // Nothing reaches Graph without a token, so another try is safe for create too; it is
    // not a request sent, and a refusal (400) is not tried again.
    for create in [false, true] {
        let down =
            ResponseTemplate::new(503).set_body_json(json!({"error": "temporarily_unavailable"}));
        let idp = answering_in_turn(vec![(down, 2)], token_answer("tok-late", json!(3600))).await;
        let graph = graph_answering(201).await;
        let client = retrying(&graph, &idp);
        let attempts = match create {
            true => {
                let meeting = types::OnlineMeeting::default();
                client.create(&user(), meeting).await.unwrap().attempts
            }
            false => {
                client
                    .create_or_get(&user(), request())
                    .await
                    .unwrap()
                    .attempts
            }
        };
        assert_eq!(attempts, 1, "one request went to Graph");
        assert_eq!(
            requests(&idp).await.len(),
            3,
            "two failures, then the token"
        );
        let sent = requests(&graph).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].headers.get("authorization").unwrap(),
            "Bearer tok-late"
        );
        assert!(sent[0].headers.get("retry-attempt").is_none());
    }

    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_request"})))
        .mount(&idp)
        .await;
    let graph = graph_answering(201).await;
    let client = retrying(&graph, &idp);
    let err = client.create_or_get(&user(), request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert_eq!(
        requests(&idp).await.len(),
        1,
        "a refusal is not asked again"
    );
}

#[tokio::test]
async fn a_401_whose_refresh_outlasts_the_timeout_keeps_graphs_error() {
    // Graph says why it refused tok-1; the fresh token takes longer than the request's
    // timeout. What the call reports is still Graph's error, not a body cut off by the wait.
    let idp =
        token_then(token_answer("tok-2", json!(3600)).set_delay(Duration::from_secs(5))).await;
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired"}
        })))
        .mount(&graph)
        .await;
    // tok-1 fetched beforehand: the call's timeout is for the refresh alone, however slowly
    // this machine runs the first fetch.
    let provider = credentials(&idp, TestClock::new());
    assert_eq!(provider.token().await.unwrap().secret().expose(), "tok-1");
    let client = Client::builder()
        .base_url(graph.uri())
        .token_provider(provider)
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = client.create_or_get(&user(), request()).await.unwrap_err();
    match &err {
        Error::Authentication(AuthError::RefreshFailed { rejected, refresh }) => {
            assert_eq!(rejected.status, 401);
            assert_eq!(rejected.code.as_deref(), Some("InvalidAuthenticationToken"));
            assert_eq!(
                rejected.message.as_deref(),
                Some("Access token has expired")
            );
            assert!(refresh.to_string().contains("no token within"), "{refresh}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(requests(&graph).await.len(), 1);
}

#[tokio::test]
async fn a_401_whose_refresh_is_waited_out_in_vain_keeps_graphs_error() {
    // tok-1 is refused; the endpoint then fails (500) on every ask, so the call waits it out
    // as its retry allows, and no fresh token comes. Graph's 401 is still the answer, with
    // its request ID, beside why no token came: a request did reach Graph.
    let idp = refresh_fails_after_one_token().await;
    let graph = graph_refusing("rid-401").await;
    let client = Client::builder()
        .base_url(graph.uri())
        .token_provider(credentials(&idp, TestClock::new()))
        .retry(RetryPolicy::default().with_max_retries(1))
        .build()
        .unwrap();
    let err = client
        .create(&user(), types::OnlineMeeting::default())
        .await
        .unwrap_err();
    let rejected = rejected_after_a_failed_refresh(&err);
    assert_eq!(rejected.code.as_deref(), Some("InvalidAuthenticationToken"));
    assert_eq!(rejected.request_id.as_deref(), Some("rid-401"));
    assert_eq!(err.attempts(), Some(1), "{err:?}");
    assert!(err.client_request_id().is_some(), "{err:?}");
    assert_eq!(requests(&graph).await.len(), 1);
    assert!(requests(&idp).await.len() >= 2, "the refresh was asked for");
}

#[tokio::test]
async fn a_401_waited_out_does_not_lend_its_status_to_a_later_attempts_failure() {
    // tok-1 is refused (request-id rid-401); the endpoint is busy for a second, then gives
    // tok-2, whose request gets no answer in time. The call's error is about that last
    // request, which got no answer: no status, no request-id, no 401 in it.
    let idp = busy_for_a_second_between_tokens().await;
    let graph = tok1_then_tok2(
        ResponseTemplate::new(401).insert_header("request-id", "rid-401"),
        ResponseTemplate::new(201)
            .set_body_json(json!({"id": "m"}))
            .set_delay(Duration::from_secs(30)),
    )
    .await;
    let client = Client::builder()
        .base_url(graph.uri())
        .token_provider(credentials(&idp, TestClock::new()))
        .retry(RetryPolicy::default().with_max_retries(1))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let err = client
        .create(&user(), types::OnlineMeeting::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err:?}");
    assert_eq!((err.status(), err.request_id()), (None, None), "{err:?}");
    assert!(err.graph().is_none(), "{err:?}");
    assert_eq!(requests(&graph).await.len(), 2);
}

#[tokio::test]
async fn a_401_whose_refresh_finds_the_endpoint_busy_waits_it_out() {
    // tok-1, then a busy endpoint asking for 1 s, then tok-2: Graph's 401 to tok-1 said it
    // did not act, so the call waits as asked and tries again with tok-2.
    let idp = busy_for_a_second_between_tokens().await;
    let graph = refusing_tok1(ResponseTemplate::new(401)).await;
    let client = retrying(&graph, &idp);
    let started = std::time::Instant::now();
    let made = client
        .create(&user(), types::OnlineMeeting::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the endpoint's Retry-After was kept"
    );
    assert_eq!(made.attempts, 2, "the 401, then the meeting");
    assert_eq!(requests(&idp).await.len(), 3);
    assert_eq!(requests(&graph).await.len(), 2);
}

#[test]
fn a_provider_for_another_clouds_graph_is_refused_when_the_client_is_built() {
    // Every call would be Graph's 401, which reads as wrong credentials: the configuration says
    // so at once instead. Nothing is fetched to tell.
    let provider = |cloud: Cloud| {
        ClientCredentials::builder(TENANT, "app-id", SECRET)
            .authority_host("http://127.0.0.1:9")
            .cloud(cloud)
            .build()
            .unwrap()
    };
    let err = Client::builder()
        .cloud(Cloud::UsGov)
        .token_provider(provider(Cloud::Global))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("Global") && err.to_string().contains("UsGov"),
        "{err}"
    );
    // The same cloud on both is the configuration the documentation asks for.
    for cloud in [Cloud::Global, Cloud::UsGov, Cloud::Dod, Cloud::China] {
        assert!(
            Client::builder()
                .cloud(cloud)
                .token_provider(provider(cloud))
                .build()
                .is_ok(),
            "{cloud:?}"
        );
    }
    // A root of the caller's own, or a scope of the caller's own, may lead anywhere.
    assert!(Client::builder()
        .cloud(Cloud::China)
        .base_url("http://127.0.0.1:9")
        .token_provider(provider(Cloud::Global))
        .build()
        .is_ok());
    let scoped = |scope: &str, cloud: Cloud| {
        let provider = ClientCredentials::builder(TENANT, "app-id", SECRET)
            .authority_host("http://127.0.0.1:9")
            .scope(scope)
            .build()
            .unwrap();
        Client::builder()
            .cloud(cloud)
            .token_provider(provider)
            .build()
    };
    assert!(scoped("api://gateway/.default", Cloud::Dod).is_ok());
    // A scope for a single permission of a cloud's Graph counts as that cloud's.
    let permission = "https://graph.microsoft.com/OnlineMeetings.ReadWrite.All";
    assert!(scoped(permission, Cloud::UsGov).is_err());
    assert!(scoped(permission, Cloud::Global).is_ok());
}

#[tokio::test]
async fn a_later_answer_repeating_the_token_a_401_refused_has_it_blanked_too() {
    // 401 to the first token; the fresh one's request (at once, or after the token endpoint
    // was waited out) is answered 400 by something that repeats what it saw before (an
    // echoing proxy): the refused token is blanked as well.
    const FIRST: &str = "first-token-refused";
    let fresh = || Ok(AccessToken::new("second-token-sent", None));
    let scripts = [
        vec![Ok(AccessToken::new(FIRST, None)), fresh()],
        vec![
            Ok(AccessToken::new(FIRST, None)),
            Err(AuthError::Transport("out of reach".into())),
            fresh(),
        ],
    ];
    for script in scripts {
        let graph = graph_401_then(
            ResponseTemplate::new(400)
                .insert_header("request-id", format!("rid {FIRST}"))
                .set_body_json(json!({"error": {
                    "code": "BadRequest",
                    "message": format!("earlier: Bearer {FIRST}, now: Bearer second-token-sent")
                }})),
        )
        .await;
        let c = scripted_client(&graph.uri(), script.into());
        let err = c
            .create(&User::Me, types::OnlineMeeting::default())
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400), "{err:?}");
        let printed = format!("{err} {err:?}");
        assert!(!printed.contains(FIRST), "{printed}");
        assert!(!printed.contains("second-token-sent"), "{printed}");
        assert!(
            printed.contains("earlier: Bearer ***, now: Bearer ***"),
            "{printed}"
        );
        assert_eq!(err.request_id(), Some("rid ***"));
    }

    // The same in an answer cut off (create's 500: an unknown outcome that keeps the body),
    // and in another request's answer, whose echoed client-request-id goes into the error.
    let answers = [
        Act::Truncate(500, 1_000, format!(r#"{{"m":"Bearer {FIRST}"#)),
        // Cut where its tail's last letter (`s`) also begins the token that was sent.
        Act::Truncate(500, 1_000, r#"{"m":"Bearer first-token-refus"#.into()),
        Act::Respond(
            400,
            vec![("client-request-id", format!("other, Bearer {FIRST}"))],
            "{}".into(),
        ),
    ];
    for answer in answers {
        let calls = Arc::new(AtomicUsize::new(0));
        let graph = Script::start(move |_| match calls.fetch_add(1, Ordering::SeqCst) {
            0 => Act::Respond(401, vec![], "{}".into()),
            _ => answer.clone(),
        })
        .await;
        let script = [Ok(AccessToken::new(FIRST, None)), fresh()];
        let c = scripted_client(&graph.url, script.into());
        let err = c
            .create(&User::Me, types::OnlineMeeting::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err:?}");
        let body = err
            .body()
            .map(|b| String::from_utf8_lossy(b.as_bytes()).into_owned());
        let printed = format!("{err} {err:?} {body:?}");
        assert!(!printed.contains("first-token"), "{printed}");
        assert!(printed.contains("Bearer ***"), "{printed}");
    }
}

#[tokio::test]
async fn how_long_to_wait_is_one_question_whichever_service_asked() {
    // The token endpoint busy with Retry-After, its retries spent; then Graph throttling.
    let busy = Error::from(AuthError::token_endpoint(
        503,
        None,
        None,
        Some(Duration::from_secs(7)),
    ));
    assert_eq!(busy.retry_after(), Some(Duration::from_secs(7)));
    assert!(busy.is_transient());
    let graph = graph_answering(401).await;
    let script = [
        Ok(AccessToken::new("tok-1", None)),
        Err(AuthError::token_endpoint(
            429,
            None,
            None,
            Some(Duration::from_secs(9)),
        )),
    ];
    let err = Client::builder()
        .base_url(graph.uri())
        .shared_token_provider(Arc::new(Scripted(Mutex::new(script.into()))))
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
        .create_or_get(&user(), request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Authentication(AuthError::RefreshFailed { .. })),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(9)), "{err:?}");
    let mut throttled = GraphError::new(429);
    throttled.retry_after = Some(Duration::from_secs(3));
    assert_eq!(
        Error::Graph(Box::new(throttled)).retry_after(),
        Some(Duration::from_secs(3))
    );
    assert_eq!(
        Error::Graph(Box::new(GraphError::new(500))).retry_after(),
        None
    );
}

#[tokio::test]
async fn a_token_endpoint_behind_a_proxy_that_asks_for_credentials_says_so() {
    // The first call a service makes is usually for a token: a wrong corporate proxy must be
    // named there, not only "could not connect". The proxy is on loopback and answers every
    // CONNECT 407, so nothing goes further.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = proxy.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = proxy.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n",
                )
                .await;
        }
    });
    let provider = ClientCredentials::builder(TENANT, "id", "proxy-test-secret")
        .authority_host("https://login.example.test")
        .https_proxy(format!("http://user:proxy-password@{address}"))
        .build()
        .unwrap();
    let err = provider.token().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AuthError::Transport(_)), "{err:?}");
    assert!(text.contains("proxy authorization required"), "{text}");
    assert!(text.contains("login.example.test"), "{text}");
    assert!(
        !text.contains("proxy-password") && !text.contains("proxy-test-secret"),
        "{text}"
    );
}
