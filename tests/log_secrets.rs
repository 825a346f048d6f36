//! No secret (client secret, bearer token) in any Debug or Display output, any error, or any
//! log line at any level: a canary of each is planted and everything printed is searched.

mod support;

use std::time::Duration;

use graph_meetings::{types, Client, ClientCredentials, RetryPolicy, TokenProvider, User};
use serde_json::json;
use support::Captured;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

const SECRET: &str = "canary-secret-0f9e8d7c";
const PROXY_PASSWORD: &str = "canary-proxy-pass-4e3d";
const TENANT: &str = "contoso.onmicrosoft.com";
const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";

fn user() -> User {
    User::id("8b081ef6-4792-4def-b2c9-c363a1bf41d5").unwrap()
}

fn request() -> types::CreateOrGetRequest {
    types::CreateOrGetRequest {
        external_id: "ext-1".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn no_secret_or_token_in_any_output() {
    const TOKEN: &str = "canary-token-5a4b3c2d";
    let captured = Captured::install();
    let mut printed = String::new();

    // Success, 401 twice, retries, a bad secret, an unreachable token endpoint.
    let idp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"expires_in": 3600, "access_token": TOKEN})),
        )
        .mount(&idp)
        .await;
    let provider = ClientCredentials::builder(TENANT, "app-id", SECRET)
        .authority_host(idp.uri())
        .build()
        .unwrap();
    printed += &format!("{provider:?} {:?}", provider.token().await.unwrap());
    for status in [201, 401, 503, 400] {
        let graph = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"id": "m"})))
            .mount(&graph)
            .await;
        let c = Client::builder()
            .base_url(graph.uri())
            .token_provider(provider.clone())
            .retry(
                RetryPolicy::default()
                    .with_max_retries(1)
                    .with_backoff(Duration::ZERO, Duration::ZERO),
            )
            .build()
            .unwrap();
        printed += &format!("{c:?}");
        match c.create_or_get(&user(), request()).await {
            Ok(answer) => printed += &format!("{answer:?}"),
            Err(e) => printed += &format!("{e} {e:?}"),
        }
    }
    let bad = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400).set_body_string(format!("echoing client_secret={SECRET}")),
        )
        .mount(&bad)
        .await;
    // A 200 that is not JSON but echoes the form.
    let echo = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            "grant_type=client_credentials&client_secret={SECRET}"
        )))
        .mount(&echo)
        .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for host in [bad.uri(), echo.uri(), format!("http://{closed}")] {
        let p = ClientCredentials::builder(TENANT, "app-id", SECRET)
            .authority_host(host)
            .build()
            .unwrap();
        let e = p.token().await.unwrap_err();
        printed += &format!("{e} {e:?} {p:?}");
    }
    // Through an https proxy with a user and password: a loopback listener that takes the
    // tunnel request and hangs up. The Graph host is never looked up or reached (`.test`
    // names nothing); reqwest says what the proxy intercepts through `log`.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!(
        "http://proxy-user:{PROXY_PASSWORD}@{}",
        proxy.local_addr().unwrap()
    );
    let hang_up = tokio::spawn(async move {
        while let Ok((mut socket, _)) = proxy.accept().await {
            let mut buf = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
        }
    });
    let c = Client::builder()
        .base_url("https://graph.test")
        .token_provider(provider.clone())
        .https_proxy(proxy_url)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    printed += &format!("{c:?}");
    let e = c.create_or_get(&user(), request()).await.unwrap_err();
    printed += &format!("{e} {e:?}");
    hang_up.abort();

    let logs = captured.text();
    assert!(
        logs.contains("retrying"),
        "the subscriber did capture the client's events"
    );
    assert!(
        logs.contains("log DEBUG reqwest"),
        "the logger did capture the dependencies' records: {logs}"
    );
    for canary in [SECRET, TOKEN, PROXY_PASSWORD] {
        assert!(!printed.contains(canary), "{canary} printed: {printed}");
        assert!(!logs.contains(canary), "{canary} logged: {logs}");
    }
}
