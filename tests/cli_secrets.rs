//! `-v` output never holds a token or a secret: canaries are planted in the environment and
//! searched for in stdout and stderr at the highest verbosity, on success and on failure.
#![cfg(feature = "cli")]

use std::{process::Stdio, time::Duration};

use graph_meetings::emulator::{Emulator, Fault, DEMO_USER_ID};

const BIN: &str = env!("CARGO_BIN_EXE_graph-meetings");
const TOKEN: &str = "canary-graph-token-5e1f07";
const SECRET: &str = "canary-client-secret-9b2c44";
/// Every token the emulator issues starts so.
const ISSUED: &str = "emuapp~";

/// Runs the command with `-vvv` and returns its exit code and everything it printed.
async fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .arg("-vvv")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in [
        "GRAPH_TOKEN",
        "GRAPH_BASE_URL",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_AUTHORITY_HOST",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the command finishes")
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap(), printed)
}

fn assert_clean(printed: &str) {
    for canary in [TOKEN, SECRET, ISSUED] {
        assert!(
            !printed.contains(canary),
            "{canary} was printed:\n{printed}"
        );
    }
    // The check means something only if -vvv said something.
    assert!(
        printed.contains("credentials"),
        "no verbose output:\n{printed}"
    );
}

#[tokio::test]
async fn a_bearer_token_is_never_printed() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.base_url();
    let env = [("GRAPH_TOKEN", TOKEN), ("GRAPH_BASE_URL", base.as_str())];

    let (code, printed) = run(&["create-or-get", "--external-id", "a"], &env).await;
    assert_eq!(code, 0, "{printed}");
    assert_clean(&printed);

    emu.faults().throttle(1, Duration::ZERO);
    let (code, printed) = run(&["create", "--output", "summary"], &env).await;
    assert_eq!(code, 0, "{printed}");
    assert!(printed.contains("retrying"), "{printed}");
    assert_clean(&printed);

    emu.faults().push(Fault::status(401));
    let (code, printed) = run(&["create"], &env).await;
    assert_eq!(code, 3, "{printed}");
    assert_clean(&printed);

    emu.faults().push(Fault::ApplyThenStatus(504));
    let (code, printed) = run(&["create"], &env).await;
    assert_eq!(code, 6, "{printed}");
    assert_clean(&printed);
}

#[tokio::test]
async fn a_client_secret_and_the_tokens_it_buys_are_never_printed() {
    let emu = Emulator::builder()
        .client_secret(SECRET)
        .start()
        .await
        .unwrap();
    let root = emu.base_url();
    let env = [
        ("AZURE_TENANT_ID", "contoso.example"),
        ("AZURE_CLIENT_ID", "app-id"),
        ("AZURE_CLIENT_SECRET", SECRET),
        ("GRAPH_BASE_URL", root.as_str()),
        ("AZURE_AUTHORITY_HOST", root.as_str()),
    ];
    let (code, printed) = run(
        &[
            "create-or-get",
            "--external-id",
            "a",
            "--user",
            DEMO_USER_ID,
        ],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{printed}");
    assert_clean(&printed);
    assert_eq!(emu.token_requests(), 1);

    // Graph rejects the issued token: the client fetches another, and neither is printed.
    emu.faults().push(Fault::status(401));
    let (code, printed) = run(&["create", "--user", DEMO_USER_ID], &env).await;
    assert_eq!(code, 0, "{printed}");
    assert_clean(&printed);

    // The wrong secret: refused by the token endpoint, and the wrong one is not printed either.
    let wrong_secret = "canary-wrong-secret-31aa";
    let mut wrong = env;
    wrong[2] = ("AZURE_CLIENT_SECRET", wrong_secret);
    let (code, printed) = run(&["create", "--user", DEMO_USER_ID], &wrong).await;
    assert_eq!(code, 3, "{printed}");
    assert!(printed.contains("AADSTS7000215"), "{printed}");
    assert!(!printed.contains(wrong_secret), "{printed}");
    assert_clean(&printed);
}

#[tokio::test]
async fn a_token_pasted_with_its_bearer_scheme_is_sent_with_the_scheme_once() {
    use wiremock::{
        matchers::{method, path},
        Mock, MockServer, ResponseTemplate,
    };
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1.0/me/onlineMeetings"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"id": "m-1"})))
        .mount(&server)
        .await;
    let pasted = [
        format!("Bearer {TOKEN}"),
        format!("bearer {TOKEN}"),
        format!("BEARER \t{TOKEN}\n"),
        TOKEN.to_owned(),
    ];
    for value in &pasted {
        let env = [("GRAPH_TOKEN", value.as_str())];
        let (code, printed) = run(&["create", "--base-url", &server.uri()], &env).await;
        assert_eq!(code, 0, "{value:?}: {printed}");
        assert_clean(&printed);
    }
    let sent: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["authorization"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, vec![format!("Bearer {TOKEN}"); pasted.len()]);
}
