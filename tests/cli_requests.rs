//! The `graph-meetings` binary end to end against the emulator: every flag of the request
//! commands, both outputs, every exit status.
// Unix only: the signal tests send signals with libc, and the command runs with `pre_exec`.
#![cfg(all(feature = "cli", unix))]

use std::{process::Stdio, time::Duration};

use graph_meetings::emulator::{Emulator, Fault, DEMO_USER_ID};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

const BIN: &str = env!("CARGO_BIN_EXE_graph-meetings");

/// Variables the command reads; cleared so the host's environment cannot leak in.
const ENVIRONMENT: &[&str] = &[
    "GRAPH_TOKEN",
    "GRAPH_BASE_URL",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// What a command that exited (not killed by a signal) left.
    fn of(output: std::process::Output) -> Self {
        Run {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// stdout as the one JSON object it must be.
    fn json(&self) -> Value {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", self.stdout))
    }

    /// stdout of a failed run as the one JSON object it must be; its exit status agrees.
    fn failure_json(&self) -> Value {
        assert_ne!(self.code, 0, "stdout: {}", self.stdout);
        let doc: Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", self.stdout));
        assert_eq!(doc["exitStatus"], self.code, "{doc}");
        doc
    }
}

/// A directory of the test's own under the system's temporary one, removed when the test ends,
/// whether it passed or not.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("graph-meetings-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The command with `args` and `env` only (none of the caller's credentials), no input, its
/// output captured.
fn command(args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in ENVIRONMENT {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    // As a terminal starts it, whatever this test process inherited: a shell's background job
    // ignores SIGINT, `nohup` SIGHUP, and the command keeps a signal it was started ignoring.
    // SAFETY: signal(2) only, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    command
}

/// What `child` left when it ended (a hang detector, not a speed limit).
async fn finished(child: tokio::process::Child) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the command finishes")
        .unwrap()
}

async fn run_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut command = command(args, env);
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("the binary runs");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    Run::of(finished(child).await)
}

/// Runs against `emu` with a delegated token.
async fn run(emu: &Emulator, args: &[&str]) -> Run {
    let base = emu.base_url();
    let mut all = args.to_vec();
    all.extend(["--base-url", &base]);
    run_with(&all, &[("GRAPH_TOKEN", "delegated-token")], None).await
}

#[tokio::test]
async fn create_or_get_prints_created_then_existing_as_one_json_object() {
    let emu = Emulator::start().await.unwrap();
    let first = run(
        &emu,
        &[
            "create-or-get",
            "--external-id",
            "weekly",
            "--subject",
            "Weekly sync",
        ],
    )
    .await;
    let first = first.json();
    assert_eq!(first["outcome"], "created");
    assert_eq!(first["status"], 201);
    assert!(first["requestId"].as_str().is_some_and(|s| s.len() == 36));
    let meeting = &first["meeting"];
    assert_eq!(meeting["subject"], "Weekly sync");
    assert_eq!(meeting["externalId"], "weekly");
    // Every property the service sent, nulls and unknown ones included.
    assert!(meeting["@odata.context"].is_string());
    assert!(meeting.get("broadcastSettings").is_some_and(Value::is_null));
    assert!(meeting["joinWebUrl"].is_string());

    let second = run(&emu, &["create-or-get", "--external-id", "weekly"])
        .await
        .json();
    assert_eq!(second["outcome"], "existing");
    assert_eq!(second["status"], 200);
    assert_eq!(second["meeting"]["id"], meeting["id"]);
    assert_ne!(second["requestId"], first["requestId"]);
    assert_eq!(emu.meeting_count(), 1);
}

#[tokio::test]
async fn meeting_flags_set_subject_times_and_attendees() {
    let emu = Emulator::start().await.unwrap();
    let with_duration = run(
        &emu,
        &[
            "create-or-get",
            "--external-id",
            "a",
            "--subject",
            "Planning",
            "--start",
            "2019-07-12T14:30:34.2444915-07:00",
            "--duration",
            "1h30m",
            "--attendee",
            "ann@contoso.example",
            "--attendee",
            "bo@contoso.example",
        ],
    )
    .await
    .json();
    let m = &with_duration["meeting"];
    assert_eq!(m["subject"], "Planning");
    assert_eq!(m["startDateTime"], "2019-07-12T21:30:34.2444915Z");
    assert_eq!(m["endDateTime"], "2019-07-12T23:00:34.2444915Z");
    let upns: Vec<&str> = m["participants"]["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["upn"].as_str().unwrap())
        .collect();
    assert_eq!(upns, ["ann@contoso.example", "bo@contoso.example"]);

    let with_end = run(
        &emu,
        &[
            "create",
            "--start",
            "2030-01-01T09:00:00+09:00",
            "--end",
            "2030-01-01T09:45:00+09:00",
        ],
    )
    .await
    .json();
    assert_eq!(
        with_end["meeting"]["startDateTime"],
        "2030-01-01T00:00:00.0000000Z"
    );
    assert_eq!(
        with_end["meeting"]["endDateTime"],
        "2030-01-01T00:45:00.0000000Z"
    );

    // Start only: an hour. Nothing: now for an hour.
    let start_only = run(&emu, &["create", "--start", "2030-01-01T10:00:00Z"])
        .await
        .json();
    assert_eq!(
        start_only["meeting"]["endDateTime"],
        "2030-01-01T11:00:00.0000000Z"
    );
    let nothing = run(&emu, &["create"]).await.json();
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let m = &nothing["meeting"];
    assert_eq!(
        at(&m["endDateTime"]) - at(&m["startDateTime"]),
        chrono::Duration::hours(1)
    );
    // Duration without a start: from now.
    let from_now = run(&emu, &["create", "--duration", "45m"]).await.json();
    let m = &from_now["meeting"];
    assert_eq!(
        at(&m["endDateTime"]) - at(&m["startDateTime"]),
        chrono::Duration::minutes(45)
    );
    assert_eq!(emu.meeting_count(), 5);
}

#[tokio::test]
async fn body_from_a_file_or_stdin_with_flags_overriding() {
    let emu = Emulator::start().await.unwrap();
    let body = json!({
        "externalId": "from-body",
        "subject": "from body",
        "startDateTime": "2030-05-01T10:00:00Z",
        "endDateTime": "2030-05-01T10:30:00Z",
        "participants": {"attendees": [{"upn": "old@contoso.example", "role": "presenter"}]}
    });
    let dir = Scratch::new("cli");
    let file = dir.join("body.json");
    // With a byte-order mark, as Windows editors write: taken as the UTF-8 it announces.
    std::fs::write(&file, format!("\u{FEFF}{body}")).unwrap();
    let base = emu.base_url();
    let token = [("GRAPH_TOKEN", "t")];

    let from_file = run_with(
        &[
            "create-or-get",
            "--body",
            file.to_str().unwrap(),
            "--base-url",
            &base,
        ],
        &token,
        None,
    )
    .await
    .json();
    let m = &from_file["meeting"];
    assert_eq!(m["externalId"], "from-body");
    assert_eq!(m["subject"], "from body");
    assert_eq!(m["endDateTime"], "2030-05-01T10:30:00.0000000Z");
    assert_eq!(m["participants"]["attendees"][0]["role"], "presenter");

    let mut second = body.clone();
    second["externalId"] = json!("flag-id");
    let overridden = run_with(
        &[
            "create-or-get",
            "--body",
            "-",
            // The same key in both is no conflict.
            "--external-id",
            "flag-id",
            "--subject",
            "from flag",
            "--end",
            "2030-05-01T11:00:00Z",
            "--attendee",
            "new@contoso.example",
            "--base-url",
            &base,
        ],
        &token,
        Some(&second.to_string()),
    )
    .await
    .json();
    let m = &overridden["meeting"];
    assert_eq!(m["externalId"], "flag-id");
    assert_eq!(m["subject"], "from flag");
    assert_eq!(m["startDateTime"], "2030-05-01T10:00:00.0000000Z");
    assert_eq!(m["endDateTime"], "2030-05-01T11:00:00.0000000Z");
    let attendees = m["participants"]["attendees"].as_array().unwrap();
    assert_eq!(attendees.len(), 1);
    assert_eq!(attendees[0]["upn"], "new@contoso.example");
    // A body's null externalId is none given: the flag's is no conflict with it.
    let unset = run_with(
        &[
            "create-or-get",
            "--body",
            "-",
            "--external-id",
            "null-body",
            "--base-url",
            &base,
        ],
        &token,
        Some(r#"{"externalId": null}"#),
    )
    .await
    .json();
    assert_eq!(unset["meeting"]["externalId"], "null-body");

    let create_body =
        json!({"subject": "s", "joinMeetingIdSettings": {"isPasscodeRequired": true}});
    let created = run_with(
        &["create", "--body", "-", "--base-url", &base],
        &token,
        Some(&create_body.to_string()),
    )
    .await
    .json();
    assert!(created["meeting"]["joinMeetingIdSettings"]["passcode"].is_string());
    assert_eq!(emu.meeting_count(), 4);
}

#[tokio::test]
async fn beta_chat_thread_user_passcode_and_language() {
    let emu = Emulator::start().await.unwrap();
    let chat = run(
        &emu,
        &[
            "create-or-get",
            "--external-id",
            "c",
            "--beta",
            "--chat-thread",
            "19:abc@thread.tacv2",
        ],
    )
    .await
    .json();
    assert_eq!(
        chat["meeting"]["chatInfo"]["threadId"],
        "19:abc@thread.tacv2"
    );
    assert!(chat["meeting"]["joinUrl"].is_string(), "beta sends joinUrl");

    // A delegated token acts for its own user, named by UPN too, and for no one else.
    let own = run(&emu, &["create", "--user", "Organizer@contoso.example"])
        .await
        .json();
    assert_eq!(
        own["meeting"]["participants"]["organizer"]["upn"],
        "organizer@contoso.example"
    );
    let meetings = emu.meeting_count();
    let for_alex = run(&emu, &["create", "--user", "alex@contoso.example"]).await;
    assert_eq!(for_alex.code, 4, "{}", for_alex.stderr);
    assert_eq!(for_alex.failure_json()["error"]["status"], 403);
    assert_eq!(emu.meeting_count(), meetings, "no meeting for alex");

    let localized = run(
        &emu,
        &["create", "--passcode-required", "--language", "pt-BR"],
    )
    .await
    .json();
    assert_eq!(localized["outcome"], "created");
    assert_eq!(localized["status"], 201);
    let m = &localized["meeting"];
    assert_eq!(m["joinMeetingIdSettings"]["isPasscodeRequired"], true);
    assert!(m["joinMeetingIdSettings"]["passcode"]
        .as_str()
        .is_some_and(|p| !p.is_empty()));
    let content = m["joinInformation"]["content"].as_str().unwrap();
    assert!(content.contains("Participar"), "{content}");

    let plain = run(&emu, &["create"]).await.json();
    assert!(plain["meeting"]["joinMeetingIdSettings"]["passcode"].is_null());
    assert!(plain["meeting"]["joinInformation"]["content"]
        .as_str()
        .unwrap()
        .contains("Join+Microsoft+Teams"));
}

#[tokio::test]
async fn client_credentials_from_the_environment() {
    let emu = Emulator::builder()
        .client_secret("app-secret")
        .start()
        .await
        .unwrap();
    let root = emu.base_url();
    let app = [
        ("AZURE_TENANT_ID", "contoso.example"),
        ("AZURE_CLIENT_ID", "app-id"),
        ("AZURE_CLIENT_SECRET", "app-secret"),
        ("GRAPH_BASE_URL", root.as_str()),
        ("AZURE_AUTHORITY_HOST", root.as_str()),
    ];
    let created = run_with(
        &[
            "create-or-get",
            "--external-id",
            "e",
            "--user",
            DEMO_USER_ID,
        ],
        &app,
        None,
    )
    .await
    .json();
    assert_eq!(created["outcome"], "created");
    assert_eq!(emu.token_requests(), 1);

    // Flags instead of the environment, and another cloud's scope.
    let flags = run_with(
        &[
            "create",
            "--user",
            "alex@contoso.example",
            "--cloud",
            "usgov",
            "--base-url",
            &root,
            "--authority-host",
            &root,
        ],
        &app[..3],
        None,
    )
    .await
    .json();
    assert_eq!(flags["status"], 201);

    // An application token has no /me: refused before sending.
    let me = run_with(&["create-or-get", "--external-id", "e"], &app, None).await;
    assert_eq!(me.code, 2, "{}", me.stderr);
    assert!(me.stderr.contains("/me"), "{}", me.stderr);
    // In the command's terms, on stderr and in the JSON document: the flag, not the Rust API.
    let message = me.failure_json()["error"]["message"].clone();
    for said in [me.stderr.as_str(), message.as_str().unwrap()] {
        assert!(said.contains("--user ID"), "{said}");
        assert!(!said.contains("User::id"), "{said}");
    }
    assert_eq!(emu.graph_requests(), 2);
}

#[tokio::test]
async fn graph_token_beside_client_credentials_is_used_and_stderr_says_so() {
    let emu = Emulator::builder()
        .client_secret("app-secret-canary")
        .start()
        .await
        .unwrap();
    let root = emu.base_url();
    let mut env = vec![
        ("GRAPH_TOKEN", "delegated-token-canary"),
        ("AZURE_TENANT_ID", "contoso.example"),
        ("AZURE_CLIENT_ID", "app-id"),
        ("AZURE_CLIENT_SECRET", "app-secret-canary"),
        ("GRAPH_BASE_URL", root.as_str()),
        ("AZURE_AUTHORITY_HOST", root.as_str()),
    ];
    let both = run_with(&["create-or-get", "--external-id", "w"], &env, None).await;
    // The token is what was used: /me works (an application token is refused on it), and no
    // token was requested. stdout is still only the JSON document.
    assert_eq!(both.json()["outcome"], "created");
    assert_eq!(emu.token_requests(), 0);
    let warnings: Vec<&str> = both
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", both.stderr);
    for needle in [
        "GRAPH_TOKEN is set, so its token is used",
        "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are set too and ignored",
        "env -u GRAPH_TOKEN",
    ] {
        assert!(warnings[0].contains(needle), "{needle}: {}", warnings[0]);
    }
    assert!(!both.stderr.contains("canary"), "{}", both.stderr);

    // Without GRAPH_TOKEN: client credentials, and nothing to warn about.
    env.remove(0);
    let app = run_with(
        &[
            "create-or-get",
            "--external-id",
            "w2",
            "--user",
            DEMO_USER_ID,
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(app.json()["outcome"], "created");
    assert_eq!(emu.token_requests(), 1);
    assert!(!app.stderr.contains("warning"), "{}", app.stderr);
}

#[tokio::test]
async fn summary_output_in_the_local_zone() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.base_url();
    let args = [
        "create",
        "--subject",
        "Review",
        "--start",
        "2030-01-01T00:00:00Z",
        "--duration",
        "30m",
        "--passcode-required",
        "--output",
        "summary",
        "--base-url",
        &base,
    ];
    let tokyo = run_with(&args, &[("GRAPH_TOKEN", "t"), ("TZ", "JST-9")], None).await;
    assert_eq!(tokyo.code, 0, "{}", tokyo.stderr);
    let text = &tokyo.stdout;
    assert!(text.starts_with("created: Review\n"), "{text}");
    assert!(
        text.contains("start      Tue 2030-01-01 09:00:00 +09:00"),
        "{text}"
    );
    assert!(
        text.contains("end        Tue 2030-01-01 09:30:00 +09:00"),
        "{text}"
    );
    assert!(
        text.contains("join       https://teams.microsoft.com/"),
        "{text}"
    );
    assert!(text.contains("passcode   "), "{text}");
    assert!(
        serde_json::from_str::<Value>(text).is_err(),
        "summary is not JSON"
    );

    let args = [
        "create-or-get",
        "--external-id",
        "s",
        "--output",
        "summary",
        "--base-url",
        &base,
    ];
    let first = run_with(&args, &[("GRAPH_TOKEN", "t")], None).await;
    assert!(
        first.stdout.starts_with("created: (no subject)"),
        "{}",
        first.stdout
    );
    assert!(!first.stdout.contains("passcode"), "{}", first.stdout);
    let again = run_with(&args, &[("GRAPH_TOKEN", "t")], None).await;
    assert_eq!(again.code, 0);
    assert!(again.stdout.starts_with("existing: "), "{}", again.stdout);
}

#[tokio::test]
async fn bad_input_is_status_2_and_nothing_is_sent() {
    let emu = Emulator::start().await.unwrap();
    let dir = Scratch::new("bad");
    let not_json = dir.join("not.json");
    std::fs::write(&not_json, "{ nope").unwrap();
    let array = dir.join("array.json");
    std::fs::write(&array, "[1]").unwrap();
    let wrong_type = dir.join("wrong.json");
    std::fs::write(
        &wrong_type,
        r#"{"externalId": "x", "startDateTime": "soon"}"#,
    )
    .unwrap();
    let no_offset = dir.join("no-offset.json");
    std::fs::write(&no_offset, r#"{"startDateTime": "2020-01-01T10:00:00"}"#).unwrap();
    let nested = dir.join("nested.json");
    std::fs::write(
        &nested,
        r#"{"externalId": "x", "participants": {"attendees": [{"upn": "a"}, {"upn": 5}]}}"#,
    )
    .unwrap();
    let missing = dir.join("missing.json");
    // Which externalId would be sent is not for the command to guess.
    let repeated = dir.join("repeated.json");
    std::fs::write(&repeated, r#"{"externalId": "a", "externalId": "b"}"#).unwrap();
    let wrong_key = dir.join("wrong-key.json");
    std::fs::write(&wrong_key, r#"{"externalId": "body-id"}"#).unwrap();
    // A checked property in another case would go out beside its field, unchecked.
    let other_case = dir.join("other-case.json");
    std::fs::write(&other_case, r#"{"EndDateTime": "2030-01-01T09:00:00Z"}"#).unwrap();
    let utf16 = dir.join("utf16.json");
    std::fs::write(&utf16, b"\xFF\xFE{\0}\0").unwrap();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "create-or-get",
                "--external-id",
                "x",
                "--start",
                "2030-01-01T10:00:00Z",
                "--end",
                "2030-01-01T09:59:59Z",
            ],
            "earlier than",
        ),
        (
            vec![
                "create-or-get",
                "--external-id",
                "x",
                "--end",
                "2030-01-01T10:00:00Z",
            ],
            "without a startDateTime",
        ),
        (
            vec![
                "create",
                "--start",
                "2030-01-01T10:00:00Z",
                "--end",
                "2030-01-01T09:00:00Z",
            ],
            "earlier than",
        ),
        (
            vec!["create", "--end", "2030-01-01T10:00:00Z"],
            "without a startDateTime",
        ),
        (
            vec![
                "create-or-get",
                "--external-id",
                "x",
                "--chat-thread",
                "19:a@thread.v2",
            ],
            "--beta",
        ),
        (vec!["create-or-get"], "externalId is required"),
        (
            vec!["create-or-get", "--external-id", " "],
            "must not be empty",
        ),
        (
            vec!["create-or-get", "--external-id", "x", "--start", "tomorrow"],
            "RFC 3339",
        ),
        (
            vec![
                "create-or-get",
                "--external-id",
                "x",
                "--end",
                "2030-01-01T10:00:00Z",
                "--duration",
                "1h",
            ],
            "cannot be used with",
        ),
        (vec!["create", "--duration", "90"], "not a duration"),
        (vec!["create", "--language", "pt_BR"], "language tag"),
        (vec!["create", "--timeout", "0"], "timeout"),
        (vec!["create", "--cloud", "mars"], "unknown cloud"),
        (vec!["create", "--output", "xml"], "invalid value"),
        (vec!["create", "--retries", "99"], "99"),
        (vec!["create", "--user", ".."], "not allowed"),
        (
            vec!["create", "--body", not_json.to_str().unwrap()],
            "not valid JSON",
        ),
        (
            vec!["create", "--body", array.to_str().unwrap()],
            "JSON object",
        ),
        // A value that does not fit is named by where it is in the body.
        (
            vec!["create-or-get", "--body", wrong_type.to_str().unwrap()],
            "does not fit at startDateTime: ",
        ),
        (
            vec!["create", "--body", no_offset.to_str().unwrap()],
            "does not fit at startDateTime: ",
        ),
        (
            vec!["create-or-get", "--body", nested.to_str().unwrap()],
            "does not fit at participants.attendees[1].upn: ",
        ),
        (
            vec!["create", "--body", missing.to_str().unwrap()],
            "cannot read",
        ),
        (
            vec!["create-or-get", "--body", repeated.to_str().unwrap()],
            "the key \"externalId\" appears twice in one object at line 1 column",
        ),
        // Nor between the flag and the body, when they differ.
        (
            vec![
                "create-or-get",
                "--body",
                wrong_key.to_str().unwrap(),
                "--external-id",
                "flag-id",
            ],
            "--external-id \"flag-id\" and the body's externalId \"body-id\" differ",
        ),
        (vec!["create", "--body", utf16.to_str().unwrap()], "UTF-16"),
        (
            vec!["create", "--body", other_case.to_str().unwrap()],
            "a property of the --body is invalid: ",
        ),
        (vec!["create", "--no-such-flag"], "unexpected argument"),
        (vec!["launch-rockets"], "unrecognized subcommand"),
        (vec![], "Usage"),
    ];
    for (args, needle) in cases {
        let run = run(&emu, &args).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
        if !matches!(args.first(), Some(&"create" | &"create-or-get")) {
            // No request command to answer for: clap's own message only.
            assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        } else {
            // Refused by the argument parser or by the command: JSON output (the default)
            // says so on stdout too.
            let doc = run.failure_json();
            assert_eq!(doc["outcome"], "failed", "{args:?}");
            assert_eq!(doc["exitStatus"], 2, "{args:?}");
            let kind = doc["error"]["kind"].as_str().unwrap();
            assert!(
                ["usage", "invalidRequest"].contains(&kind),
                "{args:?}: {kind}"
            );
            let message = doc["error"]["message"].as_str().unwrap();
            assert!(run.stderr.contains(message), "{args:?}: {message}");
        }
    }
    // The document has all of clap's message, not only its first line, and a value with a
    // line break escaped in it as on stderr.
    let listed = run(&emu, &["create", "--output", "xml"]).await;
    let message = listed.failure_json()["error"]["message"].clone();
    let message = message.as_str().unwrap();
    assert!(
        message.contains("[possible values: json, summary]"),
        "{message}"
    );
    // A `--body` path is echoed quoted, a line break in it escaped, as clap's values are.
    let forged = run(&emu, &["create", "--body", "/nonexistent\nerror: forged"]).await;
    assert_eq!(forged.code, 2, "{}", forged.stderr);
    assert!(
        forged
            .stderr
            .contains("cannot read --body \"/nonexistent\\nerror: forged\""),
        "{}",
        forged.stderr
    );
    assert_eq!(
        forged
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{}",
        forged.stderr
    );
    let forged = run(&emu, &["create", "--retries", "a\nerror: forged"]).await;
    let message = forged.failure_json()["error"]["message"].clone();
    let message = message.as_str().unwrap();
    assert!(message.contains("'a\\nerror: forged'"), "{message}");
    assert!(forged.stderr.contains(message), "{}", forged.stderr);
    // With an escape sequence too (which clap's text drops), as a value or as an argument.
    for args in [
        &["create", "--start", "x\n\u{1b}[31merror: forged"][..],
        &["create", "--st\nerror: forged\u{1b}[1m"],
    ] {
        let forged = run(&emu, args).await;
        assert_eq!(forged.code, 2, "{}", forged.stderr);
        assert!(
            !forged.stderr.contains("\nerror: forged"),
            "{}",
            forged.stderr
        );
        // Escaped: a backslash and an `n`, the escape sequence spelt out.
        assert!(forged.stderr.contains(r"\n"), "{}", forged.stderr);
        assert!(forged.stderr.contains(r"\u{1b}["), "{}", forged.stderr);
        // clap's own words kept around the escaped value.
        let clap_words = ["for '--start <T>'", "Usage: graph-meetings create"];
        assert!(
            clap_words.iter().any(|w| forged.stderr.contains(w)),
            "{}",
            forged.stderr
        );
        let message = forged.failure_json()["error"]["message"].clone();
        assert!(!message.as_str().unwrap().contains('\n'), "{message}");
    }
    // As an unknown subcommand too (no document then: no request command was named).
    let forged = run_with(&["x\nerror: forged"], &[], None).await;
    assert_eq!(forged.code, 2, "{}", forged.stderr);
    assert!(
        !forged.stderr.contains("\nerror: forged"),
        "{}",
        forged.stderr
    );
    assert!(
        forged.stderr.contains(r"'x\nerror: forged'"),
        "{}",
        forged.stderr
    );
    // Asked for a summary, an argument that does not parse leaves stdout empty, in either form.
    for output in [&["--output", "summary"][..], &["--output=summary"]] {
        let args = [&["create", "--duration", "90"][..], output].concat();
        let summary = run(&emu, &args).await;
        assert_eq!(summary.code, 2, "{}", summary.stderr);
        assert!(summary.stdout.is_empty(), "{}", summary.stdout);
    }
    // Input is checked before credentials: a time rule is status 2 with no credentials at all.
    let no_credentials = run_with(&["create", "--end", "2030-01-01T10:00:00Z"], &[], None).await;
    assert_eq!(no_credentials.code, 2, "{}", no_credentials.stderr);
    // Plain http to a non-loopback host is refused before anything is sent.
    let insecure = run_with(
        &["create", "--base-url", "http://graph.example.com"],
        &[("GRAPH_TOKEN", "t")],
        None,
    )
    .await;
    assert_eq!(insecure.code, 2, "{}", insecure.stderr);
    assert!(insecure.stderr.contains("https"), "{}", insecure.stderr);
    assert_eq!(emu.graph_requests(), 0);
}

#[tokio::test]
async fn a_bad_root_is_bad_input_even_without_credentials() {
    // Refused before anything is read from the environment or sent anywhere.
    for flag in ["--base-url", "--authority-host"] {
        let bad = run_with(&["create", flag, "http://192.0.2.1"], &[], None).await;
        assert_eq!(bad.code, 2, "{flag}: {}", bad.stderr);
        assert!(bad.stderr.contains("plain http"), "{}", bad.stderr);
    }
    let tiny = run_with(&["create", "--timeout", "1e-12"], &[], None).await;
    assert_eq!(tiny.code, 2, "{}", tiny.stderr);
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_status_5() {
    // Port 1 on loopback: nothing listens, so the connection is refused at once.
    let app = [
        ("AZURE_TENANT_ID", "contoso.example"),
        ("AZURE_CLIENT_ID", "app"),
        ("AZURE_CLIENT_SECRET", "s3cret"),
    ];
    let args = [
        "create",
        "--user",
        "alex@contoso.example",
        "--base-url",
        "http://127.0.0.1:1",
        "--authority-host",
        "http://127.0.0.1:1",
        "--retries",
        "0",
    ];
    let unreachable = run_with(&args, &app, None).await;
    assert_eq!(unreachable.code, 5, "{}", unreachable.stderr);
    assert!(!unreachable.stderr.contains("s3cret"));
}

#[tokio::test]
async fn authentication_failures_are_status_3() {
    let emu = Emulator::builder()
        .client_secret("right")
        .start()
        .await
        .unwrap();
    let root = emu.base_url();

    let none = run_with(&["create", "--base-url", &root], &[], None).await;
    assert_eq!(none.code, 3);
    assert!(
        none.stderr.contains("GRAPH_TOKEN") && none.stderr.contains("AZURE_CLIENT_SECRET"),
        "{}",
        none.stderr
    );

    let partial = run_with(
        &["create", "--base-url", &root],
        &[("AZURE_CLIENT_ID", "app")],
        None,
    )
    .await;
    assert_eq!(partial.code, 3);
    assert!(
        partial
            .stderr
            .contains("missing: AZURE_TENANT_ID, AZURE_CLIENT_SECRET"),
        "{}",
        partial.stderr
    );

    let wrong = run_with(
        &[
            "create",
            "--user",
            DEMO_USER_ID,
            "--base-url",
            &root,
            "--authority-host",
            &root,
        ],
        &[
            ("AZURE_TENANT_ID", "contoso.example"),
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_CLIENT_SECRET", "wrong"),
        ],
        None,
    )
    .await;
    assert_eq!(wrong.code, 3, "{}", wrong.stderr);
    assert!(wrong.stderr.contains("AADSTS7000215"), "{}", wrong.stderr);

    emu.faults().push(Fault::status(401));
    let rejected = run(&emu, &["create"]).await;
    assert_eq!(rejected.code, 3, "{}", rejected.stderr);
    assert!(
        rejected.stderr.contains("InvalidAuthenticationToken"),
        "{}",
        rejected.stderr
    );
    assert!(
        rejected.stderr.contains("request-id: "),
        "{}",
        rejected.stderr
    );
    assert_eq!(emu.meeting_count(), 0);
}

#[tokio::test]
async fn graph_errors_are_status_4_with_code_message_and_request_id() {
    let emu = Emulator::start().await.unwrap();
    let unknown_user = run(&emu, &["create", "--user", "nobody"]).await;
    assert_eq!(unknown_user.code, 4, "{}", unknown_user.stderr);
    for needle in [
        "code: Request_ResourceNotFound",
        "message: Resource 'nobody' does not exist",
        "request-id: ",
        "status: 404",
    ] {
        assert!(
            unknown_user.stderr.contains(needle),
            "{needle}: {}",
            unknown_user.stderr
        );
    }
    // Scripts get the same on stdout, as one JSON object.
    let doc = unknown_user.failure_json();
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["exitStatus"], 4);
    assert_eq!(doc["error"]["kind"], "graph");
    assert_eq!(doc["error"]["status"], 404);
    assert_eq!(doc["error"]["code"], "Request_ResourceNotFound");
    assert_eq!(doc["error"]["attempts"], 1);
    // Graph's whole error document, for what the fields above leave out.
    let graph = &doc["error"]["graphError"]["error"];
    assert_eq!(graph["code"], "Request_ResourceNotFound", "{doc}");
    assert_eq!(
        graph["innerError"]["request-id"], doc["error"]["requestId"],
        "{doc}"
    );
    assert!(graph["innerError"]["date"].is_string(), "{doc}");
    for key in ["requestId", "clientRequestId"] {
        let id = doc["error"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{key}: {doc}"));
        assert!(
            unknown_user.stderr.contains(id),
            "{key} {id}: {}",
            unknown_user.stderr
        );
    }
    let summary = run(&emu, &["create", "--user", "nobody", "--output", "summary"]).await;
    assert_eq!(summary.code, 4);
    assert!(summary.stdout.is_empty(), "{}", summary.stdout);

    // An application token handed over as GRAPH_TOKEN on /me: Graph's own refusal.
    let app_token = {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response: Value = reqwest::Client::new()
            .post(format!(
                "{}/contoso.example/oauth2/v2.0/token",
                emu.authority_host()
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "a"),
                ("client_secret", "s"),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        response["access_token"].as_str().unwrap().to_owned()
    };
    let base = emu.base_url();
    let me = run_with(
        &["create-or-get", "--external-id", "x", "--base-url", &base],
        &[("GRAPH_TOKEN", &app_token)],
        None,
    )
    .await;
    assert_eq!(me.code, 4, "{}", me.stderr);
    assert!(me.stderr.contains("code: BadRequest"), "{}", me.stderr);
    assert!(
        me.stderr.contains("delegated authentication flow"),
        "{}",
        me.stderr
    );
}

#[tokio::test]
async fn transport_failures_are_status_5_and_unknown_create_outcomes_6() {
    let emu = Emulator::start().await.unwrap();
    emu.faults().push(Fault::Drop);
    let dropped = run(
        &emu,
        &["create-or-get", "--external-id", "x", "--retries", "0"],
    )
    .await;
    assert_eq!(dropped.code, 5, "{}", dropped.stderr);
    assert!(
        dropped.stderr.contains("transport failure"),
        "{}",
        dropped.stderr
    );
    let doc = dropped.failure_json();
    assert_eq!(doc["exitStatus"], 5);
    assert_eq!(doc["error"]["kind"], "transport");
    assert_eq!(doc["error"]["status"], Value::Null, "no answer came");
    assert_eq!(doc["error"]["attempts"], 1);
    let id = doc["error"]["clientRequestId"].as_str().unwrap();
    assert!(dropped.stderr.contains(id), "{}", dropped.stderr);

    emu.faults().push(Fault::Delay(Duration::from_secs(10)));
    let slow = run(
        &emu,
        &[
            "create-or-get",
            "--external-id",
            "y",
            "--retries",
            "0",
            "--timeout",
            "2",
        ],
    )
    .await;
    assert_eq!(slow.code, 5, "{}", slow.stderr);
    assert_eq!(
        emu.faults().pending(),
        0,
        "the delay was the slow request's"
    );

    emu.faults().push(Fault::ApplyThenStatus(504));
    let unknown = run(&emu, &["create", "--subject", "maybe"]).await;
    assert_eq!(unknown.code, 6, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("outcome of create is unknown"),
        "{}",
        unknown.stderr
    );
    assert!(unknown.stderr.contains("status: 504"), "{}", unknown.stderr);
    let doc = unknown.failure_json();
    // A create-or-get now would not find a meeting made without an external ID: the advice is
    // not to repeat, where to look, and which command is safe to repeat next time, named as a
    // user types it, on stderr and in the document.
    for said in [
        unknown.stderr.as_str(),
        doc["error"]["message"].as_str().unwrap(),
    ] {
        assert!(
            said.contains("running create again may make a second one"),
            "{said}"
        );
        assert!(!said.contains("retry with create-or-get"), "{said}");
        let id = doc["error"]["clientRequestId"].as_str().unwrap();
        assert!(said.contains(&format!("client-request-id {id}")), "{said}");
        assert!(said.contains("use create-or-get --external-id"), "{said}");
        assert!(!said.contains("create_or_get"), "{said}");
    }
    assert_eq!(doc["outcome"], "unknown", "a meeting may exist: {doc}");
    assert_eq!(doc["exitStatus"], 6);
    assert_eq!(doc["error"]["kind"], "outcomeUnknown");
    assert_eq!(doc["error"]["status"], 504);
    assert_eq!(
        emu.meeting_count(),
        1,
        "the meeting was made although the answer said 504"
    );

    // The same failure on createOrGet is retried and finds the meeting: no duplicate.
    emu.faults().push(Fault::ApplyThenStatus(504));
    let retried = run(&emu, &["create-or-get", "--external-id", "z"])
        .await
        .json();
    assert_eq!(retried["outcome"], "existing");
    assert_eq!(emu.meeting_count(), 2);
}

#[tokio::test]
async fn long_waits_are_announced_on_stderr_at_default_verbosity() {
    let emu = Emulator::start().await.unwrap();
    emu.faults().throttle(1, Duration::from_secs(1));
    let run = run(&emu, &["create-or-get", "--external-id", "busy"]).await;
    assert_eq!(run.json()["outcome"], "created");
    assert!(run.stderr.contains("retrying"), "{}", run.stderr);
    assert!(run.stderr.contains("429"), "{}", run.stderr);
    assert!(run.stderr.contains("delay_ms=1000"), "{}", run.stderr);
    assert_eq!(emu.graph_requests(), 2);
}

#[tokio::test]
async fn help_and_version() {
    let help = run_with(&["--help"], &[], None).await;
    assert_eq!(help.code, 0);
    for needle in ["create-or-get", "create", "emulator", "demo", "Exit status"] {
        assert!(help.stdout.contains(needle), "{needle}: {}", help.stdout);
    }
    let sub = run_with(&["create-or-get", "--help"], &[], None).await;
    assert_eq!(sub.code, 0);
    for flag in [
        "--external-id",
        "--subject",
        "--start",
        "--end",
        "--duration",
        "--chat-thread",
        "--attendee",
        "--body",
        "--user",
        "--beta",
        "--cloud",
        "--base-url",
        "--authority-host",
        "--timeout",
        "--verbose",
        "--output",
        "GRAPH_BASE_URL",
        "AZURE_AUTHORITY_HOST",
    ] {
        assert!(sub.stdout.contains(flag), "{flag}: {}", sub.stdout);
    }
    let create = run_with(&["create", "--help"], &[], None).await;
    assert!(create.stdout.contains("--passcode-required") && create.stdout.contains("--language"));
    // Each request command's help, long or short, says where credentials come from and what
    // its exit status means: a user reading `create --help` does not go back to the top level.
    for command in ["create-or-get", "create"] {
        for help in ["--help", "-h"] {
            let shown = run_with(&[command, help], &[], None).await;
            assert_eq!(shown.code, 0, "{command} {help}: {}", shown.stderr);
            for needle in [
                "Exit status:",
                "3  authentication",
                "6  create's outcome is unknown",
                "GRAPH_TOKEN",
                "AZURE_TENANT_ID",
                "AZURE_CLIENT_ID",
                "AZURE_CLIENT_SECRET",
            ] {
                assert!(
                    shown.stdout.contains(needle),
                    "{command} {help}: {needle}: {}",
                    shown.stdout
                );
            }
        }
    }
    let version = run_with(&["--version"], &[], None).await;
    assert_eq!(version.code, 0);
    assert!(
        version.stdout.starts_with("graph-meetings "),
        "{}",
        version.stdout
    );
}

#[tokio::test]
async fn a_closed_stdout_after_create_is_status_6_and_says_the_meeting_was_made() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.base_url();
    let args = ["create", "--subject", "unprinted", "--base-url", &base];
    let mut child = command(&args, &[("GRAPH_TOKEN", "delegated-token")])
        .spawn()
        .unwrap();
    // The reader goes away long before the command has its answer to print.
    drop(child.stdout.take());
    let output = finished(child).await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    // Not 1, which also means "nothing was sent": the meeting exists, and a script that sends
    // the create again makes a second one.
    assert_eq!(output.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("stdout could not be written")
            && stderr.contains("the meeting was created")
            && stderr.contains("do not repeat the create"),
        "a script must not take this for a failed create: {stderr}"
    );
    assert_eq!(emu.meeting_count(), 1);
}

// /dev/full is Linux's.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_full_disk_under_stdout_after_create_or_get_is_status_1_and_says_what_happened() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.base_url();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let args = [
        "create-or-get",
        "--external-id",
        "full",
        "--base-url",
        &base,
    ];
    let child = command(&args, &[("GRAPH_TOKEN", "delegated-token")])
        .stdout(full)
        .spawn()
        .unwrap();
    let output = finished(child).await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("closed, or the disk full") && stderr.contains("the meeting was created"),
        "{stderr}"
    );
    // Repeating create-or-get is safe: it answers with the same meeting.
    assert!(!stderr.contains("do not repeat"), "{stderr}");
    // What finds the meeting again, since Graph lists none.
    assert!(
        stderr.contains("; id: ") && stderr.contains("joinWebUrl: https://teams.microsoft.com/"),
        "{stderr}"
    );
}

// /dev/full is Linux's.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_failure_with_stdout_unwritable_keeps_its_status_and_says_the_document_is_lost() {
    // Refused by the command (a time rule), and by the argument parser.
    let time_rule = [
        "create-or-get",
        "--external-id",
        "x",
        "--end",
        "2020-01-01T00:00:00Z",
    ];
    for args in [&time_rule[..], &["create", "--output", "xml"]] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let child = command(args, &[]).stdout(full).spawn().unwrap();
        let output = finished(child).await;
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("no failure document"),
            "a script reading stdout must learn why it is empty: {args:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn beta_create_or_get_in_a_national_cloud_is_warned_about() {
    // No credentials: the command stops before sending anything anywhere.
    let base = ["create-or-get", "--external-id", "x"];
    let national = run_with(
        &[&base[..], &["--beta", "--cloud", "usgov"]].concat(),
        &[],
        None,
    )
    .await;
    assert_eq!(national.code, 3, "{}", national.stderr);
    assert!(
        national
            .stderr
            .contains("beta createOrGet in the global service only"),
        "{}",
        national.stderr
    );
    for fine in [&["--beta"][..], &["--cloud", "china"]] {
        let run = run_with(&[&base[..], fine].concat(), &[], None).await;
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(
            !run.stderr.contains("global service only"),
            "{fine:?}: {}",
            run.stderr
        );
    }
}

#[tokio::test]
async fn a_local_graph_or_token_endpoint_beside_the_clouds_other_is_refused() {
    // A client secret meant for one side goes to the other: the real one in clear to a local
    // port, or a test's to the real identity platform. Refused either way, nothing sent.
    let emu = Emulator::start().await.unwrap();
    let root = emu.base_url();
    let app = [
        ("AZURE_TENANT_ID", "contoso.example"),
        ("AZURE_CLIENT_ID", "app-id"),
        ("AZURE_CLIENT_SECRET", "app-secret"),
    ];
    let args = ["create", "--user", DEMO_USER_ID];
    for (set, unset) in [
        ("GRAPH_BASE_URL", "AZURE_AUTHORITY_HOST"),
        ("AZURE_AUTHORITY_HOST", "GRAPH_BASE_URL"),
    ] {
        let env = [&app[..], &[(set, root.as_str())]].concat();
        let refused = run_with(&args, &env, None).await;
        assert_eq!(refused.code, 2, "{set}: {}", refused.stderr);
        // Said with the variable to set.
        assert!(refused.stderr.contains(unset), "{set}: {}", refused.stderr);
    }
    assert_eq!((emu.token_requests(), emu.graph_requests()), (0, 0));
    // With both on this machine, it goes through.
    let both = [
        &app[..],
        &[
            ("GRAPH_BASE_URL", root.as_str()),
            ("AZURE_AUTHORITY_HOST", root.as_str()),
        ],
    ]
    .concat();
    let made = run_with(&args, &both, None).await;
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert_eq!((emu.token_requests(), emu.graph_requests()), (1, 1));
}

#[tokio::test]
async fn blank_values_are_refused_before_anything_is_sent() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.base_url();
    let token = ("GRAPH_TOKEN", "delegated-token");
    // Arguments, environment, and what stderr must say.
    type Case<'a> = (&'a [&'a str], Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 10] = [
        // An unset variable in `--base-url "$EMU"` must not mean real Graph.
        (
            &["create-or-get", "--external-id", "b1", "--base-url", ""],
            vec![token, ("GRAPH_BASE_URL", base.as_str())],
            "Graph root (--base-url or GRAPH_BASE_URL) is empty",
        ),
        (
            &["create-or-get", "--external-id", "b2"],
            vec![token, ("GRAPH_BASE_URL", " ")],
            "Graph root (--base-url or GRAPH_BASE_URL) is empty",
        ),
        (
            &["create", "--authority-host", "", "--base-url", &base],
            vec![token],
            "authority host (--authority-host or AZURE_AUTHORITY_HOST) is empty",
        ),
        (
            &["create", "--attendee", "", "--base-url", &base],
            vec![token],
            "--attendee is empty",
        ),
        (
            &[
                "create",
                "--attendee",
                "a b@contoso.com",
                "--base-url",
                &base,
            ],
            vec![token],
            "has spaces, control or invisible formatting characters",
        ),
        (
            &[
                "create",
                "--attendee",
                "a\u{202e}b@contoso.com",
                "--base-url",
                &base,
            ],
            vec![token],
            "has spaces, control or invisible formatting characters",
        ),
        (
            &[
                "create-or-get",
                "--beta",
                "--external-id",
                "b3",
                "--chat-thread",
                "",
                "--base-url",
                &base,
            ],
            vec![token],
            "--chat-thread is empty",
        ),
        (
            &["create", "--user", "   ", "--base-url", &base],
            vec![token],
            "starts or ends with spaces",
        ),
        (
            &["create", "--user", " alex@contoso.com", "--base-url", &base],
            vec![token],
            "starts or ends with spaces",
        ),
        (
            &["create-or-get", "--external-id", "  ", "--base-url", &base],
            vec![token],
            "externalId must not be empty or only spaces",
        ),
    ];
    for (args, env, says) in cases {
        let run = run_with(args, &env, None).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    assert_eq!(emu.meeting_count(), 0, "nothing was sent");
}

#[tokio::test]
async fn a_blank_graph_token_does_not_fall_through_to_client_credentials() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.base_url();
    let env = [
        ("GRAPH_TOKEN", ""),
        ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
        ("AZURE_CLIENT_ID", "app"),
        ("AZURE_CLIENT_SECRET", "s3cret-canary"),
        ("AZURE_AUTHORITY_HOST", base.as_str()),
    ];
    let args = [
        "create",
        "--user",
        "alex@contoso.com",
        "--base-url",
        base.as_str(),
    ];
    let run = run_with(&args, &env, None).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("GRAPH_TOKEN is set but empty"),
        "{}",
        run.stderr
    );
    assert_eq!(emu.meeting_count(), 0, "no meeting made as the app");
}

#[tokio::test]
async fn a_bad_value_with_a_line_break_is_quoted_escaped_not_forging_a_line() {
    // Each way of giving a value, and an argument that is nothing but the line break.
    for args in [
        &["create", "--language", "pt-BR\r\nX-Evil: 1"][..],
        &["create", "--cloud=x\r\nX-Evil: 1"],
        &["create", "--retries", "1\r\nX-Evil: 1"],
        &["create", "\r\nX-Evil: 1"],
    ] {
        let run = run_with(args, &[("GRAPH_TOKEN", "t")], None).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains('\r'), "{args:?}: {:?}", run.stderr);
        assert!(
            !run.stderr.lines().any(|l| l.starts_with("X-Evil")),
            "{args:?}: {:?}",
            run.stderr
        );
        assert!(
            run.stderr.contains(r"\r\nX-Evil: 1"),
            "{args:?}: {}",
            run.stderr
        );
        // clap's own line structure stays: the message, then where to look.
        assert!(run.stderr.lines().count() > 1, "{args:?}: {:?}", run.stderr);
    }
}

/// Sends `signal` to `child`, which is still running.
fn kill(child: &tokio::process::Child, signal: libc::c_int) {
    let pid = child.id().expect("still running") as libc::pid_t;
    // SAFETY: a plain kill(2) of the child this test started and still holds.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// Sends `signal` to `child` once `ready` holds, given what the command has written to stderr
/// so far (polled; a hang detector, not a speed limit), and gives what the command left.
async fn stopped(
    mut child: tokio::process::Child,
    signal: libc::c_int,
    ready: impl Fn(&str) -> bool,
) -> Run {
    use tokio::io::AsyncReadExt;
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let said = said.clone();
        let mut stderr = child.stderr.take().expect("stderr is piped");
        tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
                said.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        })
    };
    let so_far = || String::from_utf8_lossy(&said.lock().unwrap()).into_owned();
    for _ in 0..600 {
        if ready(&so_far()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ready(&so_far()),
        "the command never got that far: {}",
        so_far()
    );
    kill(&child, signal);
    let mut output = finished(child).await;
    reader.await.unwrap();
    output.stderr = std::mem::take(&mut *said.lock().unwrap());
    Run::of(output)
}

#[tokio::test]
async fn a_create_stopped_by_a_signal_says_what_may_have_happened() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.base_url();
    let token = [("GRAPH_TOKEN", "delegated-token")];

    // After create was sent (the meeting made, its answer late): an unknown outcome, status 6,
    // with the client-request-id the emulator received.
    emu.faults()
        .push(Fault::ApplyThenDelay(Duration::from_secs(30)));
    let child = command(&["create", "--base-url", &base], &token)
        .spawn()
        .unwrap();
    let run = stopped(child, libc::SIGTERM, |_| emu.meeting_count() == 1).await;
    assert_eq!(run.code, 6, "{}", run.stderr);
    let doc = run.failure_json();
    assert_eq!(doc["outcome"], "unknown");
    assert_eq!(doc["error"]["kind"], "interrupted");
    let sent = emu.received()[0]
        .header("client-request-id")
        .unwrap()
        .to_owned();
    assert_eq!(doc["error"]["clientRequestId"], sent.as_str());
    assert!(
        run.stderr.contains("SIGTERM after create was sent"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&sent), "{}", run.stderr);

    // create-or-get after it was sent: safe to repeat, status 1.
    emu.faults()
        .push(Fault::ApplyThenDelay(Duration::from_secs(30)));
    let child = command(
        &["create-or-get", "--external-id", "x", "--base-url", &base],
        &token,
    )
    .spawn()
    .unwrap();
    let run = stopped(child, libc::SIGINT, |_| emu.meeting_count() == 2).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.failure_json();
    assert_eq!(doc["outcome"], "failed");
    assert!(doc["error"]["clientRequestId"].is_string(), "{doc}");
    assert!(run.stderr.contains("is safe"), "{}", run.stderr);

    // create-or-get waiting out a 429: its call is named all the same (the ID its retry
    // warning gave), and it is safe to repeat.
    emu.faults().push(Fault::throttle(Duration::from_secs(30)));
    let child = command(
        &["create-or-get", "--external-id", "y", "--base-url", &base],
        &token,
    )
    .spawn()
    .unwrap();
    let run = stopped(child, libc::SIGTERM, |said| said.contains("retrying")).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.failure_json();
    let id = doc["error"]["clientRequestId"].as_str().unwrap_or_default();
    assert!(!id.is_empty(), "{doc}");
    assert!(
        run.stderr.contains(&format!("client_request_id=\"{id}\"")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("is safe"), "{}", run.stderr);

    // Before anything was sent (the token endpoint has not answered): status 1, no ID.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let authority = format!("http://{}", listener.local_addr().unwrap());
    // Connections to it are kept open, never answered.
    let held = std::sync::Mutex::new(Vec::new());
    let asked = || {
        if let Ok((stream, _)) = listener.accept() {
            held.lock().unwrap().push(stream);
        }
        !held.lock().unwrap().is_empty()
    };
    let child = command(
        &["create", "--user", DEMO_USER_ID, "--base-url", &base],
        &[
            ("AZURE_TENANT_ID", "contoso.example"),
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_CLIENT_SECRET", "secret-value"),
            ("AZURE_AUTHORITY_HOST", &authority),
        ],
    )
    .spawn()
    .unwrap();
    let run = stopped(child, libc::SIGHUP, |_| asked()).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.failure_json();
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["error"]["clientRequestId"], Value::Null);
    assert!(
        run.stderr
            .contains("SIGHUP with no create awaiting its answer"),
        "{}",
        run.stderr
    );
    // (The create and the two create-or-gets above; nothing from this one.)
    assert_eq!(emu.graph_requests(), 3);

    // Waiting out a 429 (Graph did nothing): no create in flight, so status 1, not 6.
    emu.faults().push(Fault::throttle(Duration::from_secs(30)));
    let child = command(&["create", "--base-url", &base], &token)
        .spawn()
        .unwrap();
    // Once the command has taken the 429 in (its retry warning), not when the emulator got
    // the request: until then the create is still awaiting its answer.
    let run = stopped(child, libc::SIGINT, |said| said.contains("retrying")).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("no meeting was made"), "{}", run.stderr);
    assert_eq!(emu.meeting_count(), 2);

    // Waiting for a fresh token after Graph's 401 (Graph did nothing): status 1, not 6. The
    // token endpoint gives the first token, then holds every later ask.
    use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};
    let idp = MockServer::start().await;
    let token = json!({"access_token": "app-token-1", "token_type": "Bearer", "expires_in": 3600});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token))
        .up_to_n_times(1)
        .mount(&idp)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&idp)
        .await;
    emu.faults().push(Fault::status(401));
    let child = command(
        &["create", "-vv", "--user", DEMO_USER_ID, "--base-url", &base],
        &[
            ("AZURE_TENANT_ID", "contoso.example"),
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_CLIENT_SECRET", "secret-value"),
            ("AZURE_AUTHORITY_HOST", &idp.uri()),
        ],
    )
    .spawn()
    .unwrap();
    let run = stopped(child, libc::SIGTERM, |said| {
        said.contains("answered 401; asking for a fresh token")
    })
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("no meeting was made"), "{}", run.stderr);
    assert_eq!(emu.meeting_count(), 2);

    // create-or-get waiting out a busy token endpoint (503) has sent nothing: no ID to name.
    let busy = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "30"))
        .mount(&busy)
        .await;
    let child = command(
        &[
            "create-or-get",
            "--external-id",
            "z",
            "--user",
            DEMO_USER_ID,
            "--base-url",
            &base,
        ],
        &[
            ("AZURE_TENANT_ID", "contoso.example"),
            ("AZURE_CLIENT_ID", "app"),
            ("AZURE_CLIENT_SECRET", "secret-value"),
            ("AZURE_AUTHORITY_HOST", &busy.uri()),
        ],
    )
    .spawn()
    .unwrap();
    let run = stopped(child, libc::SIGTERM, |said| said.contains("retrying")).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.failure_json();
    assert_eq!(doc["error"]["clientRequestId"], Value::Null, "{doc}");
    assert!(run.stderr.contains("before an answer"), "{}", run.stderr);
    assert_eq!(emu.graph_requests(), 5);
}

#[tokio::test]
async fn a_create_stopped_while_its_connection_is_made_sent_nothing() {
    // An https Graph whose TLS handshake never ends (a listener that accepts and says nothing):
    // the create was handed to the HTTP client, but nothing of it left, so the signal ends a
    // command that sent nothing (status 1), not one whose create may have made a meeting.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let held = std::sync::Mutex::new(Vec::new());
    let connected = || {
        if let Ok((stream, _)) = listener.accept() {
            held.lock().unwrap().push(stream);
        }
        !held.lock().unwrap().is_empty()
    };
    let child = command(
        &["create", "--base-url", &base, "-vv"],
        &[("GRAPH_TOKEN", "delegated-token")],
    )
    .spawn()
    .unwrap();
    let run = stopped(child, libc::SIGTERM, |_| connected()).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.failure_json();
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["error"]["kind"], "interrupted");
    assert_eq!(doc["error"]["clientRequestId"], Value::Null);
    assert!(
        run.stderr
            .contains("SIGTERM with no create awaiting its answer"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("making a connection"), "{}", run.stderr);

    // Left to its connect limit (90% of --timeout), the same create is a transport failure
    // with nothing sent (status 5), not an unknown outcome, under the command's connector.
    let run = run_with(
        &[
            "create",
            "--base-url",
            &base,
            "--timeout",
            "0.5",
            "--retries",
            "0",
        ],
        &[("GRAPH_TOKEN", "delegated-token")],
        None,
    )
    .await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("could not connect"), "{}", run.stderr);
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body) from `conn`; `None` if the
/// connection ends or stays silent first.
fn read_request(conn: &mut std::net::TcpStream) -> Option<String> {
    use std::io::Read;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return Some(text);
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn a_create_retried_at_once_after_a_429_is_stopped_as_what_it_is() {
    // Graph answers the first try 429 with Retry-After: 0 and a long body, and no new
    // connection can be made then (the listener's queue is full). Had the retry gone out
    // on the first connection (a pool handing it back while a new one was being made), Graph
    // would have it and a signal must say so (status 6); the command keeps no pool, so the
    // retry waits on a connection of its own, nothing of it sent (status 1). Either way, the
    // status must match what the server got.
    use std::{
        io::Write,
        os::fd::AsRawFd,
        sync::{
            atomic::{AtomicBool, Ordering},
            Arc,
        },
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // SAFETY: listen(2) again on the listener's own socket, to shorten its queue.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let second = Arc::new(AtomicBool::new(false));
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let server = {
        let second = second.clone();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            read_request(&mut conn).expect("the first create");
            // Connections that complete wait in the queue, never accepted, until one does not:
            // the queue is full, and any new connection hangs.
            let mut queued = Vec::new();
            while queued.len() < 64 {
                match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                    Ok(stream) => queued.push(stream),
                    Err(_) => break,
                }
            }
            // Longer than hyper's first read, so the body ends in a later one: the retry then
            // begins before the first connection is back in a pool (what made the race).
            let body = format!(
                r#"{{"error":{{"code":"TooManyRequests","message":"slow down{}"}}}}"#,
                ".".repeat(9000)
            );
            let head = format!(
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Type: \
                 application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes()).unwrap();
            let _ = conn.write_all(body.as_bytes());
            conn.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            if read_request(&mut conn).is_some() {
                second.store(true, Ordering::SeqCst);
            }
            // Held, unanswered, until the command has ended.
            let _ = finished.recv_timeout(Duration::from_secs(60));
            drop((conn, queued));
        })
    };
    let child = command(
        &["create", "--base-url", &format!("http://{addr}"), "-vv"],
        &[("GRAPH_TOKEN", "delegated-token")],
    )
    .spawn()
    .unwrap();
    let run = stopped(child, libc::SIGTERM, |said| {
        second.load(Ordering::SeqCst)
            || said
                .split("retrying")
                .nth(1)
                .is_some_and(|after| after.contains("making a connection"))
    })
    .await;
    // The command is gone, and its connections with it: the server has read all it will.
    done.send(()).unwrap();
    server.join().unwrap();
    let reached = second.load(Ordering::SeqCst);
    assert_eq!(
        run.code,
        if reached { 6 } else { 1 },
        "the retry reached the server: {reached}; {}",
        run.stderr
    );
    assert!(!reached, "the command keeps no pool: {}", run.stderr);
}

#[tokio::test]
async fn a_signal_the_command_was_started_ignoring_stays_ignored() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.base_url();
    emu.faults()
        .push(Fault::ApplyThenDelay(Duration::from_secs(2)));
    let mut command = command(&["create", "--base-url", &base], &[("GRAPH_TOKEN", "t")]);
    // As `nohup` starts it.
    // SAFETY: signal(2) only, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let child = command.spawn().unwrap();
    let run = stopped(child, libc::SIGHUP, |_| emu.meeting_count() == 1).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["outcome"], "created");
}

/// Whether a thread of process `pid` is in a `read` of its stdin, as Linux's
/// `/proc/<pid>/task/<tid>/syscall` shows (the call's number, then its arguments, the
/// descriptor first); `None` where that cannot be told, and a fixed wait stands in for it.
fn reading_stdin(pid: u32) -> Option<bool> {
    let unknown = || {
        std::thread::sleep(Duration::from_millis(300));
        None
    };
    let read = match std::env::consts::ARCH {
        "x86_64" => "0",
        "aarch64" => "63",
        _ => return unknown(),
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return unknown();
    };
    let mut reading = false;
    for task in tasks.flatten() {
        // Unreadable where ptrace is restricted, or on a kernel without it.
        let Ok(line) = std::fs::read_to_string(task.path().join("syscall")) else {
            return unknown();
        };
        let mut fields = line.split_whitespace();
        reading |= fields.next() == Some(read) && fields.next() == Some("0x0");
    }
    Some(reading)
}

#[tokio::test]
async fn a_signal_while_the_body_is_read_ends_the_command_before_anything_is_sent() {
    let emu = Emulator::start().await.unwrap();
    let base = emu.base_url();
    let mut child = command(
        &["create", "--body", "-", "--base-url", &base],
        &[("GRAPH_TOKEN", "t")],
    )
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    // Its stdin open and silent: once the command is reading it, the signal comes.
    let stdin = child.stdin.take();
    let pid = child.id().unwrap();
    let mut reading = reading_stdin(pid);
    for _ in 0..600 {
        if reading != Some(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        reading = reading_stdin(pid);
    }
    assert_ne!(reading, Some(false), "the command never read its stdin");
    kill(&child, libc::SIGTERM);
    let output = finished(child).await;
    drop(stdin);
    // Ended by the signal as any program is, not held until the body comes.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(output.status.signal(), Some(libc::SIGTERM), "{output:?}");
    assert_eq!(emu.graph_requests(), 0);
}

#[tokio::test]
async fn a_runtime_that_cannot_start_is_status_1_with_its_document_not_a_panic() {
    // With almost no file descriptors left, tokio cannot make its event loop or its signal
    // pipe (the latter it reports by panicking): the command's own failure, status 1, its
    // document on stdout, never a panic's 101. Somewhat more descriptors let it start and
    // fail on the unreachable root instead (5); either way, one document.
    let mut statuses = Vec::new();
    // (Below 4 the loader itself cannot open the shared libraries.)
    for limit in 4..=12u64 {
        let mut command = command(
            &[
                "create-or-get",
                "--external-id",
                "fd",
                "--retries",
                "0",
                "--base-url",
                "http://127.0.0.1:9",
            ],
            &[("GRAPH_TOKEN", "t")],
        );
        // SAFETY: setrlimit(2) only, between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                match libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            });
        }
        let run = Run::of(finished(command.spawn().expect("the binary runs")).await);
        assert!(!run.stderr.contains("panicked"), "{limit}: {}", run.stderr);
        let doc = run.failure_json();
        if run.code == 1 {
            assert_eq!(doc["error"]["kind"], "other", "{limit}: {doc}");
            assert!(
                run.stderr.contains("cannot start"),
                "{limit}: {}",
                run.stderr
            );
        }
        statuses.push(run.code);
    }
    assert!(statuses.contains(&1), "{statuses:?}");
}
