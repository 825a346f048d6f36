//! The library client against the local Graph emulator, in one process and with no account:
//!
//! ```sh
//! cargo run --example against_emulator --features emulator
//! ```
//!
//! The same code talks to Graph when the base URL and token come from the real service.

use graph_meetings::{emulator::Emulator, types, Client, Outcome, User};

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
    println!("the emulator holds {} meeting(s)", emu.meeting_count());
    Ok(())
}
