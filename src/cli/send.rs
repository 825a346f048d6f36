//! `create-or-get` and `create`: check the input, find credentials, send with the library
//! client, print the answer.
//!
//! Input is checked in full before credentials are looked at, so bad input is always exit
//! status 2 with nothing sent, whatever the environment holds.

use chrono::Utc;

use super::{
    args::{CommonArgs, CreateArgs, CreateOrGetArgs},
    credentials::{self, Credentials},
    failure::Failure,
    output::{self, Answer},
    request, terminal,
};
use crate::{times, ApiVersion, Client, ClientCredentials, Cloud, RetryPolicy, User};

pub(super) async fn create_or_get(args: CreateOrGetArgs) -> Result<(), Failure> {
    let common = &args.common;
    let body = request::create_or_get(&args, Utc::now())?;
    let user = user(common)?;
    times::resolve(
        body.start_date_time.map(Into::into),
        body.end_date_time.map(Into::into),
        Utc::now(),
    )?;
    if body.chat_info.is_some() && !common.beta {
        return Err(Failure::Usage(
            "chatInfo (--chat-thread) is only supported on beta: add --beta (nothing was sent)"
                .into(),
        ));
    }
    // Microsoft's reference lists beta createOrGet in the global service only. A warning, not
    // a refusal: availability changes, and the cloud itself will say.
    if common.beta && common.cloud != Cloud::Global && trimmed(&common.base_url).is_none() {
        terminal::stderr(
            "warning: Microsoft's reference lists beta createOrGet in the global service only, \
             not in national clouds: this cloud may refuse it (use v1.0 there)\n",
        );
    }
    let client = client(common)?;
    tracing::info!(user = %describe(&user), "sending createOrGet");
    let answer = super::interruptible(false, client.create_or_get(&user, body)).await?;
    print(
        common,
        false,
        &Answer {
            outcome: answer.outcome.as_str(),
            status: answer.status.as_u16(),
            request_id: answer.request_id.as_deref(),
            client_request_id: &answer.client_request_id,
            meeting: &answer.meeting,
            raw: &answer.raw,
            attempts: answer.attempts,
        },
    )
}

pub(super) async fn create(args: CreateArgs) -> Result<(), Failure> {
    let common = &args.common;
    let meeting = request::create(&args, Utc::now())?;
    let user = user(common)?;
    times::resolve(
        meeting.start_date_time.map(Into::into),
        meeting.end_date_time.map(Into::into),
        Utc::now(),
    )?;
    let client = client(common)?;
    tracing::info!(user = %describe(&user), language = ?args.language, "sending create");
    let call = client.create_in_language(&user, meeting, args.language.as_deref());
    let answer = super::interruptible(true, call).await?;
    print(
        common,
        true,
        &Answer {
            outcome: "created",
            status: answer.status.as_u16(),
            request_id: answer.request_id.as_deref(),
            client_request_id: &answer.client_request_id,
            meeting: &answer.meeting,
            raw: &answer.raw,
            attempts: answer.attempts,
        },
    )
}

fn user(common: &CommonArgs) -> Result<User, Failure> {
    match &common.user {
        Some(id) => Ok(User::id(id.clone())?),
        None => Ok(User::Me),
    }
}

fn describe(user: &User) -> String {
    match user {
        User::Me => "/me".into(),
        User::Id(id) => format!("/users/{id}"),
    }
}

/// The library client for the options and the environment's credentials.
fn client(common: &CommonArgs) -> Result<Client, Failure> {
    // The roots are arguments: a bad one is bad input (exit 2), whatever the credentials.
    // A blank one too: `--base-url "$EMULATOR"` with the variable unset must not fall back to
    // the cloud's own root and send a real token to real Graph.
    for (root, what, named) in [
        (
            &common.base_url,
            "Graph root",
            "--base-url or GRAPH_BASE_URL",
        ),
        (
            &common.authority_host,
            "authority host",
            "--authority-host or AZURE_AUTHORITY_HOST",
        ),
    ] {
        match root.as_deref().map(str::trim) {
            Some("") => {
                return Err(Failure::Usage(format!(
                    "the {what} ({named}) is empty: give a URL, or leave it unset for the \
                     cloud's own"
                )))
            }
            Some(root) => {
                crate::transport::secure_root(root, what)?;
            }
            None => {}
        }
    }
    let found = credentials::from_env(|name| std::env::var(name))?;
    if let Some(warning) = found.warning() {
        terminal::stderr(&format!("warning: {warning}\n"));
    }
    let credentials = found.credentials;
    let version = if common.beta {
        ApiVersion::Beta
    } else {
        ApiVersion::V1
    };
    let mut builder = Client::builder()
        .cloud(common.cloud)
        .api_version(version)
        .user_agent(concat!("graph-meetings-cli/", env!("CARGO_PKG_VERSION")))
        // A signal while a create's connection is still being made then ends it as unsent.
        .watch_connections();
    if let Some(root) = trimmed(&common.base_url) {
        builder = builder.base_url(root);
    }
    if let Some(timeout) = common.timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(retries) = common.retries {
        builder = builder.retry(RetryPolicy::default().with_max_retries(retries));
    }
    tracing::info!(credentials = %credentials.describe(), "credentials");
    let builder = match credentials {
        Credentials::Token(token) => builder.static_token(token),
        Credentials::App {
            tenant,
            client_id,
            secret,
        } => {
            let mut app = ClientCredentials::builder(tenant, client_id, secret).cloud(common.cloud);
            match trimmed(&common.authority_host) {
                // The other way round: an emulator's address left in AZURE_AUTHORITY_HOST
                // would take a real client secret (in clear, over http) to whatever listens on
                // that port of this machine, while the calls go to the cloud's Graph.
                Some(host) if local(host) && !trimmed(&common.base_url).is_some_and(local) => {
                    return Err(Failure::Usage(
                        "the token endpoint is on this machine, but Graph is the cloud's: the \
                         client secret would go to a local port. Set --base-url or \
                         GRAPH_BASE_URL to the emulator's address too, or unset \
                         --authority-host and AZURE_AUTHORITY_HOST for the cloud's identity \
                         platform"
                            .into(),
                    ))
                }
                Some(host) => app = app.authority_host(host),
                // A local Graph (the emulator) beside the real identity platform is most likely
                // a forgotten AZURE_AUTHORITY_HOST: the real client secret would be on its way
                // out. The library refuses it too; here it is said in the command's terms.
                None if trimmed(&common.base_url).is_some_and(local) => {
                    return Err(Failure::Usage(
                        "Graph is on this machine, but the client secret would go to the \
                         cloud's identity platform: set --authority-host or AZURE_AUTHORITY_HOST \
                         to the emulator's address (or, if the identity platform is meant, to \
                         its host)"
                            .into(),
                    ))
                }
                None => {}
            }
            if let Some(timeout) = common.timeout {
                app = app.timeout(timeout);
            }
            builder.token_provider(app.build()?)
        }
    };
    let client = builder.build()?;
    tracing::info!(base_url = client.base_url(), "Graph");
    Ok(client)
}

/// Whether `root` (checked by `secure_root`) names this machine.
fn local(root: &str) -> bool {
    reqwest::Url::parse(root).is_ok_and(|url| crate::transport::is_loopback(&url))
}

/// A root as given, trimmed: a blank one was refused at the top of [`client`].
fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim)
}

/// Prints the answer; `create` says it is create's (see [`Failure::Unprinted`]).
fn print(common: &CommonArgs, create: bool, answer: &Answer<'_>) -> Result<(), Failure> {
    tracing::info!(
        status = answer.status,
        request_id = answer.request_id.unwrap_or("none"),
        "Graph answered"
    );
    if terminal::stdout(&output::render(answer, common.output)) {
        Ok(())
    } else {
        let meeting = match answer.outcome {
            // After a retry the meeting found may be the one an earlier attempt made.
            "existing" if answer.attempts > 1 => "the meeting with this externalId is there",
            "existing" => "the meeting already existed",
            _ => "the meeting was created",
        };
        // Graph lists no meetings: what finds this one again goes to stderr instead.
        let m = answer.meeting;
        let id = m.id.as_deref().map_or("none".into(), terminal::printable);
        let join = m
            .join_web_url
            .as_deref()
            .map_or("none".into(), terminal::printable);
        let message = format!(
            "stdout could not be written (closed, or the disk full); the answer was not printed \
             ({meeting}; id: {id}; joinWebUrl: {join}; client-request-id: {}){}",
            answer.client_request_id,
            match create {
                true => "; do not repeat the create: it would make another meeting",
                false => "",
            }
        );
        Err(Failure::Unprinted { create, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_graph_is_loopback_by_address_or_name() {
        for root in [
            "http://127.0.0.1:8080",
            "http://[::1]:1",
            "http://LOCALHOST:9/v1.0",
        ] {
            assert!(local(root), "{root}");
        }
        for root in [
            "https://graph.microsoft.com",
            "https://localhost.example",
            "nope",
        ] {
            assert!(!local(root), "{root}");
        }
    }
}
