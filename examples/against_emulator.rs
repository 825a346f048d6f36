//! The library client against the local Graph emulator, in one process and with no account:
//!
//! ```sh
//! cargo run --example against_emulator --features emulator
//! ```
//!
//! The same code talks to Graph when the base URL and token come from the real service.

use graph_meetings::{
    emulator::{Emulator, Fault},
    types, Client, ErrorKind, Outcome, User,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emu = Emulator::start().await?;
    // Any bearer token is a delegated token of the emulator's demo user.
    let client = Client::builder()
        .base_url(emu.base_url())
        .static_token("any-token")
        .build()?;

    let request = || types::CreateOrGetRequest {
        external_id: "example-weekly-sync".into(),
        subject: Some("Weekly sync".into()),
        ..Default::default()
    };
    for _ in 0..2 {
        let answer = client.create_or_get(&User::Me, request()).await?;
        let verb = match answer.outcome {
            Outcome::Created => "created",
            Outcome::Existing => "found",
        };
        println!(
            "{verb} {} ({})",
            answer.meeting.join_web_url.unwrap_or_default(),
            answer.status
        );
    }

    // A create whose answer is lost after Graph acted: the client does not send it again, and
    // neither should the service. The error keeps what would trace the meeting.
    emu.faults().push(Fault::ApplyThenDrop);
    let meeting = types::OnlineMeeting {
        subject: Some("One-off review".into()),
        ..Default::default()
    };
    match client.create(&User::Me, meeting).await {
        Ok(created) => println!("created {}", created.meeting_id()),
        Err(e) if e.kind() == ErrorKind::OutcomeUnknown => println!(
            "create's outcome unknown, not repeated (client-request-id {})",
            e.client_request_id().unwrap_or("none")
        ),
        Err(e) => return Err(e.into()),
    }
    println!("the emulator holds {} meeting(s)", emu.meeting_count());
    Ok(())
}
