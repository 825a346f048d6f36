//! Proxy environment variables are ignored: with `HTTP_PROXY` pointing at another host, a
//! plain-http request (bearer token) and a token request (client secret) still go straight to
//! their own loopback servers. A test binary of its own, since it sets process environment.

mod support;

use graph_meetings::{types, Client, ClientCredentials, RetryPolicy, TokenProvider, User};
use serde_json::json;
use support::{json, meeting, Script};

#[tokio::test]
async fn proxy_variables_never_receive_a_request() {
    let proxy = Script::start(|_| json(200, json!({}))).await;
    let graph = Script::start(|_| json(201, meeting("p"))).await;
    let idp =
        Script::start(|_| json(200, json!({"access_token": "tok", "expires_in": 3600}))).await;
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        // SAFETY of intent: this binary has one test, so nothing reads the environment concurrently.
        std::env::set_var(name, &proxy.url);
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    let c = Client::builder()
        .base_url(&graph.url)
        .static_token("secret-token")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    c.create_or_get(
        &User::Me,
        types::CreateOrGetRequest {
            external_id: "p".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let credentials = ClientCredentials::builder("contoso.onmicrosoft.com", "app", "client-secret")
        .authority_host(&idp.url)
        .build()
        .unwrap();
    credentials.token().await.unwrap();

    assert_eq!(proxy.count(), 0, "the proxy saw nothing");
    assert_eq!((graph.count(), idp.count()), (1, 1));
}
