//! `graph-meetings emulator` as a process other programs talk to, and `graph-meetings demo`,
//! the main job.
#![cfg(feature = "cli")]

mod support;

use std::{process::Stdio, time::Duration};

use serde_json::{json, Value};
use support::http;
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_graph-meetings");

/// The emulator's counters (`/_emulator/stats`) at `root`.
async fn stats(root: &str) -> Value {
    http()
        .get(format!("{root}/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Starts `graph-meetings emulator` with `args`; the child and the root URL of its first line.
async fn start(args: &[&str]) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(BIN)
        .arg("emulator")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).read_line(&mut first),
    )
    .await
    .expect("a first line")
    .unwrap();
    let root = first
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("listening on "))
        .unwrap_or_else(|| panic!("first line {first:?}"))
        .to_owned();
    assert!(root.starts_with("http://127.0.0.1:"), "{root}");
    (child, root)
}

#[tokio::test]
async fn the_emulator_command_announces_its_port_and_serves_graph() {
    let (mut child, root) = start(&[]).await;
    let url = format!("{root}/v1.0/me/onlineMeetings/createOrGet");
    let send = || {
        http()
            .post(&url)
            .bearer_auth("any")
            .json(&json!({"externalId": "p"}))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 201);
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(stats(&root).await["meetings"], 1);

    // The command line against the command's emulator.
    let output = tokio::process::Command::new(BIN)
        .args(["create-or-get", "--external-id", "p", "--base-url", &root])
        .env("GRAPH_TOKEN", "any")
        .env_remove("GRAPH_BASE_URL")
        .output()
        .await
        .unwrap();
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["outcome"], "existing");

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// The commands the emulator suggests on stderr, run as printed in a shell that has
/// `GRAPH_TOKEN` exported (README's steps do that): the second one gets an application token
/// from the token endpoint, not the exported token.
#[cfg(unix)]
#[tokio::test]
async fn the_emulators_suggestions_work_as_printed_in_a_shell_with_graph_token_exported() {
    let (mut child, root) = start(&[]).await;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut hint = String::new();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the hint")
            .unwrap()
            .expect("a line before stderr ends");
        if line.starts_with("Faults") {
            break;
        }
        hint += &line;
        hint.push('\n');
    }
    let (_, rest) = hint.split_once("Try:").unwrap_or_else(|| panic!("{hint}"));
    let (delegated, app) = rest.split_once("\nor:").unwrap_or_else(|| panic!("{hint}"));

    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let shell = |command: &str| {
        let mut sh = tokio::process::Command::new("sh");
        sh.arg("-c")
            .arg(command)
            .env("PATH", &path)
            .env("GRAPH_TOKEN", "exported-earlier")
            .stdin(Stdio::null());
        for name in [
            "GRAPH_BASE_URL",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_AUTHORITY_HOST",
        ] {
            sh.env_remove(name);
        }
        async move {
            tokio::time::timeout(Duration::from_secs(60), sh.output())
                .await
                .expect("the command finishes")
                .unwrap()
        }
    };

    for (command, tokens_after) in [(delegated, 0), (app, 1)] {
        let output = shell(command).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{command}\n{stderr}");
        let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(printed["outcome"], "created", "{command}");
        assert!(!stderr.contains("warning"), "{command}\n{stderr}");
        assert_eq!(
            stats(&root).await["tokenRequests"],
            tokens_after,
            "{command}"
        );
    }

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

#[tokio::test]
async fn a_given_port_is_used_and_a_taken_one_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(BIN)
            .args(["emulator", "--port", &port])
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen"));
    assert!(output.stdout.is_empty());

    // Free the port, then the emulator takes it.
    drop(taken);
    let (mut child, root) = start(&["--port", &port]).await;
    assert_eq!(root, format!("http://127.0.0.1:{port}"));
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

#[tokio::test]
async fn the_demo_runs_the_main_job_with_no_credentials() {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(BIN)
            .arg("demo")
            .env_remove("GRAPH_TOKEN")
            .env_remove("AZURE_CLIENT_SECRET")
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("the demo finishes")
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let steps = [
        "1. createOrGet",
        "201 created",
        "2. createOrGet again",
        "200 existing",
        "3. create",
        "Participar",
        "4. createOrGet with the end an hour before the start",
        "refused: endDateTime",
        "received for it: 0",
        "5. createOrGet while the service throttles once",
        "after 2 requests",
        "6. client credentials",
        "token requests: 1",
        "The emulator holds 3 meetings",
    ];
    let mut rest = stdout.as_str();
    for step in steps {
        let at = rest
            .find(step)
            .unwrap_or_else(|| panic!("{step:?} missing or out of order:\n{stdout}"));
        rest = &rest[at + step.len()..];
    }
    assert!(
        stderr.contains("retrying"),
        "the wait is announced: {stderr}"
    );
    assert!(!stderr.contains("demo: expected"), "{stderr}");
}
