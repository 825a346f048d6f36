//! Where the command's token comes from: `GRAPH_TOKEN`, else the client-credentials trio
//! `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`. Values are held as
//! [`Secret`]s from the moment they are read.

use super::failure::Failure;
use crate::Secret;

/// What the environment provides.
#[derive(Debug)]
pub(super) enum Credentials {
    /// A bearer token, without the `Bearer ` scheme if it was pasted with one.
    Token(Secret),
    /// An app registration: application tokens from the token endpoint.
    App {
        tenant: String,
        client_id: String,
        secret: Secret,
    },
}

impl Credentials {
    /// A one-line description for `-v`, without the token or secret.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Token(_) => "GRAPH_TOKEN (a bearer token)".into(),
            Credentials::App {
                tenant, client_id, ..
            } => format!("client credentials of app {client_id} in tenant {tenant}"),
        }
    }
}

const HOW: &str = "\
no credentials: set GRAPH_TOKEN to a bearer token for Microsoft Graph (e.g. from
  az account get-access-token --resource https://graph.microsoft.com --query accessToken -o tsv)
or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for an app registration with
  the OnlineMeetings.ReadWrite.All application permission and an application access policy
  (then name the organizer with --user).
To try it without an account: graph-meetings demo";

/// Reads the credentials from `var` (the process environment in the command).
pub(super) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Credentials, Failure> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if let Some(token) = get("GRAPH_TOKEN") {
        return bearer_token(&token).map(|t| Credentials::Token(Secret::new(t.to_owned())));
    }
    let trio = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"];
    let values: Vec<Option<String>> = trio.iter().map(|name| get(name)).collect();
    match values.as_slice() {
        [Some(tenant), Some(client_id), Some(secret)] => Ok(Credentials::App {
            tenant: tenant.trim().to_owned(),
            client_id: client_id.trim().to_owned(),
            // Trimmed like the others: a secret read from a file often ends in a newline,
            // and Entra ID secrets never start or end with whitespace.
            secret: Secret::new(secret.trim().to_owned()),
        }),
        [None, None, None] => Err(Failure::Credentials(HOW.into())),
        partial => {
            let missing: Vec<&str> = trio
                .iter()
                .zip(partial)
                .filter(|(_, v)| v.is_none())
                .map(|(name, _)| *name)
                .collect();
            Err(Failure::Credentials(format!(
                "client credentials need AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; missing: {}",
                missing.join(", ")
            )))
        }
    }
}

/// The token in a `GRAPH_TOKEN` value. One copied from a request header or a tool's output
/// often starts with its scheme (`Bearer eyJ…`); the client adds the scheme itself, so it is
/// dropped here instead of going out as `Bearer Bearer …`, which Graph refuses as a 401.
fn bearer_token(value: &str) -> Result<&str, Failure> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("bearer") {
        return Err(Failure::Credentials(
            "GRAPH_TOKEN holds only the word Bearer: set it to the token itself".into(),
        ));
    }
    Ok(match value.split_once(char::is_whitespace) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim_start(),
        _ => value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn graph_token_wins_then_the_trio() {
        let both = [
            ("GRAPH_TOKEN", "tok"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t-canary"),
        ];
        assert!(matches!(from_env(env(&both)), Ok(Credentials::Token(t)) if t.expose() == "tok"));
        let app = from_env(env(&both[1..])).unwrap();
        assert!(
            matches!(&app, Credentials::App { tenant, client_id, .. } if tenant == "t" && client_id == "c")
        );
        assert!(!format!("{app:?}").contains("canary"));
        assert!(!app.describe().contains("canary"));
        let mounted = [
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t\n"),
        ];
        assert!(
            matches!(from_env(env(&mounted)), Ok(Credentials::App { secret, .. }) if secret.expose() == "s3cr3t"),
            "a secret from a file loses its trailing newline"
        );
    }

    #[test]
    fn a_pasted_bearer_scheme_is_dropped_from_the_token() {
        let token = |value: &str| match from_env(env(&[("GRAPH_TOKEN", value)])) {
            Ok(Credentials::Token(t)) => Ok(t.expose().to_owned()),
            Ok(other) => panic!("{other:?}"),
            Err(Failure::Credentials(m)) => Err(m),
            Err(other) => panic!("{other:?}"),
        };
        for pasted in [
            "Bearer eyJ0.a-b",
            "bearer eyJ0.a-b",
            "BEARER \t eyJ0.a-b\n",
            "eyJ0.a-b",
        ] {
            assert_eq!(token(pasted).as_deref(), Ok("eyJ0.a-b"), "{pasted:?}");
        }
        // Only the scheme word, separated: a token that merely starts with the letters stays.
        assert_eq!(token("BearerX").as_deref(), Ok("BearerX"));
        let only = token(" Bearer ").unwrap_err();
        assert!(only.contains("only the word Bearer"), "{only}");
    }

    #[test]
    fn missing_credentials_say_what_to_do() {
        let Err(Failure::Credentials(m)) = from_env(env(&[("GRAPH_TOKEN", "  ")])) else {
            panic!("expected a credentials failure");
        };
        assert!(m.contains("GRAPH_TOKEN") && m.contains("demo"));
        let Err(Failure::Credentials(m)) = from_env(env(&[("AZURE_CLIENT_ID", "c")])) else {
            panic!("expected a credentials failure");
        };
        assert!(m.contains("AZURE_TENANT_ID, AZURE_CLIENT_SECRET"), "{m}");
    }
}
