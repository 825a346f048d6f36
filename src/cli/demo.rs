//! `graph-meetings demo`: the main job, end to end, against an emulator started in-process, so
//! it runs on a fresh machine with no account and no network. Each step says what it did and
//! checks that the service behaved as documented; any surprise makes the demo fail.

use std::time::Duration;

use chrono::{DateTime, Local, Timelike, Utc};

use super::{failure::Failure, logging, terminal, DemoArgs};
use crate::{
    emulator::{Emulator, DEMO_USER_UPN},
    types, ApiVersion, Client, ClientCredentials, Error, Outcome, RetryPolicy, User,
};

const EXTERNAL_ID: &str = "graph-meetings-demo-weekly-sync";

pub(super) async fn run(args: DemoArgs) -> Result<(), Failure> {
    logging::init(args.verbose);
    let emu = Emulator::start()
        .await
        .map_err(|e| Failure::Other(format!("cannot start the emulator on 127.0.0.1: {e}")))?;
    let mut demo = Demo { surprises: 0 };
    demo.say(&format!(
        "graph-meetings demo: a local Graph emulator at {} (no account, no network)\n\
         signed in as its demo user, {DEMO_USER_UPN}, with a delegated token\n",
        emu.base_url()
    ))?;
    let client = Client::builder()
        .base_url(emu.base_url())
        .static_token("demo-delegated-token")
        .retry(
            RetryPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_secs(1)),
        )
        .build()?;

    // 1 and 2: createOrGet, twice.
    let start = next_full_hour(Utc::now());
    let weekly = || types::CreateOrGetRequest {
        external_id: EXTERNAL_ID.into(),
        subject: Some("Weekly sync (demo)".into()),
        start_date_time: Some(start.into()),
        ..Default::default()
    };
    demo.say(&format!(
        "1. createOrGet externalId {EXTERNAL_ID:?}, a start and no end (the end defaults to an hour later)"
    ))?;
    let first = client.create_or_get(&User::Me, weekly()).await?;
    demo.expect(first.outcome == Outcome::Created, "a new meeting (201)");
    demo.say(&format!(
        "   {} {}  {:?}  {}\n   join: {}",
        first.status.as_u16(),
        first.outcome.as_str(),
        first.meeting.subject.as_deref().unwrap_or(""),
        span(&first.meeting),
        first.meeting.join_web_url.as_deref().unwrap_or("?"),
    ))?;

    demo.say("2. createOrGet again with the same externalId")?;
    let second = client.create_or_get(&User::Me, weekly()).await?;
    let same = second.meeting.id == first.meeting.id;
    demo.expect(
        second.outcome == Outcome::Existing && same,
        "the same meeting (200)",
    );
    demo.say(&format!(
        "   {} {}  the same meeting (id {}): createOrGet is safe to repeat",
        second.status.as_u16(),
        second.outcome.as_str(),
        short(second.meeting.id.as_deref()),
    ))?;

    // 3: create, with a passcode and the invitation in Portuguese.
    demo.say("3. create, with a passcode, its invitation in Portuguese (Accept-Language: pt-BR)")?;
    let interview = types::OnlineMeeting {
        subject: Some("Interview (demo)".into()),
        start_date_time: Some((start + chrono::Duration::hours(2)).into()),
        end_date_time: Some((start + chrono::Duration::minutes(150)).into()),
        join_meeting_id_settings: Some(types::JoinMeetingIdSettings {
            is_passcode_required: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = client
        .create_in_language(&User::Me, interview, Some("pt-BR"))
        .await?;
    let settings = created
        .meeting
        .join_meeting_id_settings
        .clone()
        .unwrap_or_default();
    let invitation = created
        .meeting
        .join_information
        .as_ref()
        .and_then(|i| i.content.as_deref())
        .map(invitation_text)
        .unwrap_or_default();
    demo.expect(settings.passcode.is_some(), "a passcode");
    demo.expect(invitation.contains("Participar"), "a Portuguese invitation");
    demo.say(&format!(
        "   {} created  {:?}  {}\n   meeting ID {} passcode {}; invitation: {:?}",
        created.status.as_u16(),
        created.meeting.subject.as_deref().unwrap_or(""),
        span(&created.meeting),
        settings.join_meeting_id.as_deref().unwrap_or("?"),
        settings.passcode.as_deref().unwrap_or("?"),
        invitation.chars().take(60).collect::<String>(),
    ))?;

    // 4: a time rule refuses the request before it is sent.
    demo.say("4. createOrGet with the end an hour before the start")?;
    let before = emu.graph_requests();
    let backwards = types::CreateOrGetRequest {
        external_id: "graph-meetings-demo-backwards".into(),
        start_date_time: Some(start.into()),
        end_date_time: Some((start - chrono::Duration::hours(1)).into()),
        ..Default::default()
    };
    match client.create_or_get(&User::Me, backwards).await {
        Err(Error::InvalidRequest(rule)) => {
            let sent = emu.graph_requests() - before;
            demo.expect(sent == 0, "nothing sent");
            demo.say(&format!(
                "   refused: {rule}\n   requests the emulator received for it: {sent} (the command exits with status 2 here)"
            ))?;
        }
        other => {
            demo.expect(false, "a refusal before sending");
            demo.say(&format!("   unexpected: {other:?}"))?;
        }
    }

    // 5: throttled once; the client waits as told and retries.
    demo.say("5. createOrGet while the service throttles once (429, Retry-After: 1 s)")?;
    emu.faults().throttle(1, Duration::from_secs(1));
    let before = emu.graph_requests();
    let retried = client.create_or_get(&User::Me, weekly()).await?;
    let sent = emu.graph_requests() - before;
    demo.expect(
        retried.outcome == Outcome::Existing && sent == 2,
        "one retry, same meeting",
    );
    demo.say(&format!(
        "   {} {} after {sent} requests: the client waited as asked, retried, and found the same meeting",
        retried.status.as_u16(),
        retried.outcome.as_str(),
    ))?;

    // 6: an application token for a given user.
    demo.say("6. client credentials (an application token) acting for alex@contoso.example")?;
    let app = ClientCredentials::builder("contoso.example", "demo-app", "demo-secret")
        .authority_host(emu.authority_host())
        .build()?;
    let app_client = Client::builder()
        .base_url(emu.base_url())
        .api_version(ApiVersion::V1)
        .token_provider(app)
        .build()?;
    let alex = User::id("alex@contoso.example")?;
    let for_alex = app_client.create_or_get(&alex, weekly()).await?;
    demo.expect(
        for_alex.outcome == Outcome::Created,
        "a meeting of Alex's own",
    );
    demo.say(&format!(
        "   {} {}  Alex's own meeting with the same externalId (the key is tenant + user + externalId); token requests: {}",
        for_alex.status.as_u16(),
        for_alex.outcome.as_str(),
        emu.token_requests(),
    ))?;

    demo.say(&format!(
        "\nThe emulator holds {} meetings. Next: `graph-meetings emulator` serves it for the other commands.",
        emu.meeting_count()
    ))?;
    emu.shutdown();
    if demo.surprises > 0 {
        return Err(Failure::Other(format!(
            "{} step(s) did not go as documented",
            demo.surprises
        )));
    }
    Ok(())
}

struct Demo {
    surprises: u32,
}

impl Demo {
    fn say(&self, line: &str) -> Result<(), Failure> {
        if terminal::stdout(&format!("{line}\n")) {
            Ok(())
        } else {
            Err(Failure::Other("stdout could not be written".into()))
        }
    }

    fn expect(&mut self, held: bool, what: &str) {
        if !held {
            self.surprises += 1;
            terminal::stderr(&format!("demo: expected {what}\n"));
        }
    }
}

fn next_full_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    let hour = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    hour + chrono::Duration::hours(1)
}

/// `Mon 2026-11-23 15:00 → 16:00` in the local zone.
fn span(meeting: &types::OnlineMeeting) -> String {
    let (Some(start), Some(end)) = (meeting.start_date_time, meeting.end_date_time) else {
        return String::new();
    };
    let (start, end) = (start.with_timezone(&Local), end.with_timezone(&Local));
    format!(
        "{} → {} (local time)",
        start.format("%a %Y-%m-%d %H:%M"),
        end.format("%H:%M")
    )
}

fn short(id: Option<&str>) -> String {
    let id = id.unwrap_or("?");
    match id.char_indices().nth(16) {
        Some((cut, _)) => format!("{}…", &id[..cut]),
        None => id.to_owned(),
    }
}

/// The text of a `data:text/html,` invitation, tags removed.
fn invitation_text(content: &str) -> String {
    let encoded = content.strip_prefix("data:text/html,").unwrap_or(content);
    let html: String = url::form_urlencoded::parse(format!("x={encoded}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .collect();
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
