//! Where the command's token comes from: `GRAPH_TOKEN`, else the client-credentials trio
//! `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`. Values are held as
//! [`Secret`]s from the moment they are read.

use std::env::VarError;

use super::failure::Failure;
use crate::{
    auth::client_credentials::{check_client_id, check_tenant},
    AccessToken, Secret,
};

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
            // Quoted: they are described before they are checked, and a line break in one must
            // not forge a line of the log.
            } => format!("client credentials of app {client_id:?} in tenant {tenant:?}"),
        }
    }
}

/// What the environment provides, and what it also set that goes unused.
#[derive(Debug)]
pub(super) struct Found {
    pub credentials: Credentials,
    /// Client-credential variables set beside `GRAPH_TOKEN`, which wins.
    pub ignored: Vec<&'static str>,
}

impl Found {
    /// The line for stderr when a variable set goes unused. A shell easily holds both kinds
    /// (README's emulator steps export `GRAPH_TOKEN`; CI often sets the `AZURE_*` trio for
    /// other Azure tools), and acting for another identity than the one the operator meant
    /// must not go unsaid. A warning, not a refusal: `GRAPH_TOKEN` first is the documented
    /// order, and a job that sets it on purpose keeps working.
    pub fn warning(&self) -> Option<String> {
        let (last, rest) = self.ignored.split_last()?;
        let names = match rest {
            [] => format!("{last} is"),
            _ => format!("{} and {last} are", rest.join(", ")),
        };
        Some(format!(
            "GRAPH_TOKEN is set, so its token is used; {names} set too and ignored. For client \
             credentials, unset GRAPH_TOKEN (e.g. env -u GRAPH_TOKEN graph-meetings ...)."
        ))
    }
}

/// The client-credential variables, in the order they are reported.
const TRIO: [&str; 3] = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"];

const HOW: &str = "\
no credentials: set GRAPH_TOKEN to a bearer token for Microsoft Graph with the
  OnlineMeetings.ReadWrite permission (a work or school account's sign-in through an app
  registration granted it; the Azure CLI's own Graph token may lack it)
or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for an app registration with
  the OnlineMeetings.ReadWrite.All application permission and an application access policy
  (then name the organizer with --user).
To try it without an account: graph-meetings demo";

/// Reads the credentials from `var` (the process environment in the command).
///
/// A `GRAPH_TOKEN` that is set counts, even blank or unreadable: it is what a failed
/// `GRAPH_TOKEN=$(…)` leaves, and falling through to the `AZURE_*` variables would act as
/// another identity than the one meant, without a word.
pub(super) fn from_env(var: impl Fn(&str) -> Result<String, VarError>) -> Result<Found, Failure> {
    let read = |name: &str| match var(name) {
        Ok(value) => Ok(Some(value)),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => Err(Failure::Credentials(format!(
            "{name} is set but is not UTF-8 text: set it to the value itself"
        ))),
    };
    let get = |name: &str| read(name).map(|v| v.filter(|v| !v.trim().is_empty()));
    if let Some(token) = read("GRAPH_TOKEN")? {
        if token.trim().is_empty() {
            return Err(Failure::Credentials(
                "GRAPH_TOKEN is set but empty (did the command that prints the token fail?): set \
                 it to a token, or unset it to use AZURE_TENANT_ID, AZURE_CLIENT_ID and \
                 AZURE_CLIENT_SECRET"
                    .into(),
            ));
        }
        return Ok(Found {
            credentials: Credentials::Token(bearer_token(&token)?),
            ignored: TRIO
                .into_iter()
                // Set, even unreadably: it is ignored all the same.
                .filter(|name| !matches!(get(name), Ok(None)))
                .collect(),
        });
    }
    let values = TRIO
        .iter()
        .map(|name| get(name))
        .collect::<Result<Vec<_>, _>>()?;
    match values.as_slice() {
        [Some(tenant), Some(client_id), Some(secret)] => {
            let (tenant, client_id) = (tenant.trim(), client_id.trim());
            // Checked here as the library checks them, to name the variable and to be a
            // credentials failure (status 3), not the arguments' (2).
            for (name, checked) in [
                (TRIO[0], check_tenant(tenant)),
                (TRIO[1], check_client_id(client_id)),
            ] {
                checked.map_err(|problem| Failure::Credentials(format!("{name}: {problem}")))?;
            }
            Ok(Found {
                credentials: Credentials::App {
                    tenant: tenant.to_owned(),
                    client_id: client_id.to_owned(),
                    // Trimmed like the others: a secret read from a file often ends in a newline,
                    // and Entra ID secrets never start or end with whitespace.
                    secret: Secret::new(secret.trim().to_owned()),
                },
                ignored: Vec::new(),
            })
        }
        [None, None, None] => Err(Failure::Credentials(HOW.into())),
        partial => {
            let missing: Vec<&str> = TRIO
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
/// dropped instead of going out as `Bearer Bearer …`, which Graph refuses as a 401. Cleaned as
/// the library cleans every token ([`AccessToken::new`]) and judged sendable by the same rule;
/// one that cannot be sent is a credentials failure naming the variable, not the library's
/// configuration error.
fn bearer_token(value: &str) -> Result<Secret, Failure> {
    let token = AccessToken::new(value, None);
    match token.bearer() {
        Ok(_) => Ok(token.secret().clone()),
        Err(_) if token.secret().expose().is_empty() => Err(Failure::Credentials(
            "GRAPH_TOKEN holds no token, only the word Bearer, quotes or spaces: set it to the \
             token itself"
                .into(),
        )),
        // A line break or another control character inside (two lines pasted as one, say).
        Err(_) => Err(Failure::Credentials(
            "GRAPH_TOKEN has a line break or another control character inside the token: set \
             it to the token alone"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Result<String, VarError> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
                .ok_or(VarError::NotPresent)
        }
    }

    /// The credentials alone, as most tests look at them.
    fn credentials(var: impl Fn(&str) -> Result<String, VarError>) -> Result<Credentials, Failure> {
        from_env(var).map(|found| found.credentials)
    }

    #[test]
    fn graph_token_wins_then_the_trio() {
        let both = [
            ("GRAPH_TOKEN", "tok"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t-canary"),
        ];
        assert!(
            matches!(credentials(env(&both)), Ok(Credentials::Token(t)) if t.expose() == "tok")
        );
        let app = credentials(env(&both[1..])).unwrap();
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
            matches!(credentials(env(&mounted)), Ok(Credentials::App { secret, .. }) if secret.expose() == "s3cr3t"),
            "a secret from a file loses its trailing newline"
        );
    }

    #[test]
    fn a_malformed_tenant_or_client_id_is_a_credentials_failure_naming_its_variable() {
        let trio = |tenant: &str, client_id: &str| {
            let pairs = [
                ("AZURE_TENANT_ID", tenant),
                ("AZURE_CLIENT_ID", client_id),
                ("AZURE_CLIENT_SECRET", "s3cr3t-canary"),
            ];
            match credentials(env(&pairs)) {
                Err(Failure::Credentials(m)) => Some(m),
                Err(other) => panic!("{other:?}"),
                Ok(_) => None,
            }
        };
        for tenant in ["contoso example", "../x", "t?x", "@evil.com", ".."] {
            let said = trio(tenant, "c").expect(tenant);
            assert!(said.starts_with("AZURE_TENANT_ID: tenant "), "{said}");
            assert!(!said.contains("canary"), "{said}");
        }
        let said = trio("contoso.example", "c\nd").expect("a line break");
        assert!(said.starts_with("AZURE_CLIENT_ID: "), "{said}");
        // Spaces around are what a copied value brings: trimmed, not refused.
        assert_eq!(trio(" contoso.example\n", " c "), None);
    }

    #[test]
    fn a_pasted_bearer_scheme_is_dropped_from_the_token() {
        let token = |value: &str| match credentials(env(&[("GRAPH_TOKEN", value)])) {
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
        for nothing in [" Bearer ", "\"\"", "Bearer \"\""] {
            let only = token(nothing).unwrap_err();
            assert!(only.contains("only the word Bearer"), "{nothing:?}: {only}");
        }
        for broken in ["eyJ0\neyJ1", "Bearer eyJ0\r\n.x", "eyJ0\u{7f}"] {
            let inside = token(broken).unwrap_err();
            assert!(inside.contains("inside the token"), "{broken:?}: {inside}");
        }
    }

    #[test]
    fn client_credentials_beside_graph_token_are_named_as_ignored() {
        let warning = |pairs: &[(&str, &str)]| from_env(env(pairs)).unwrap().warning();
        let all = [
            ("GRAPH_TOKEN", "tok"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s3cr3t-canary"),
        ];
        let said = warning(&all).expect("a warning");
        assert!(
            said.contains(
                "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are set too and ignored"
            ),
            "{said}"
        );
        assert!(said.contains("unset GRAPH_TOKEN"), "{said}");
        assert!(!said.contains("canary") && !said.contains("tok;"), "{said}");
        // A partial trio is named as it is: only what was set.
        let said = warning(&[all[0], all[2]]).expect("a warning");
        assert!(
            said.contains("AZURE_CLIENT_ID is set too and ignored"),
            "{said}"
        );
        assert!(!said.contains("AZURE_TENANT_ID"), "{said}");
        // Nothing unused, nothing said; blank counts as unset.
        assert_eq!(warning(&all[..1]), None);
        assert_eq!(warning(&[all[0], ("AZURE_CLIENT_ID", " ")]), None);
        assert_eq!(warning(&all[1..]), None);
    }

    #[test]
    fn a_graph_token_that_is_set_but_blank_or_unreadable_is_not_skipped() {
        let trio = [
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ];
        for blank in ["", "  ", "\n"] {
            let mut pairs = vec![("GRAPH_TOKEN", blank)];
            pairs.extend(trio);
            let Err(Failure::Credentials(m)) = from_env(env(&pairs)) else {
                panic!("{blank:?}: the trio must not stand in for a failed GRAPH_TOKEN");
            };
            assert!(m.contains("GRAPH_TOKEN is set but empty"), "{m}");
        }
        let unreadable = |name: &str| match name {
            "GRAPH_TOKEN" => Err(VarError::NotUnicode("tok\u{fffd}".into())),
            other => env(&trio)(other),
        };
        let Err(Failure::Credentials(m)) = from_env(unreadable) else {
            panic!("a GRAPH_TOKEN that is not UTF-8 must not be skipped");
        };
        assert!(m.contains("GRAPH_TOKEN is set but is not UTF-8"), "{m}");
    }

    #[test]
    fn missing_credentials_say_what_to_do() {
        let Err(Failure::Credentials(m)) = from_env(env(&[])) else {
            panic!("expected a credentials failure");
        };
        assert!(m.contains("GRAPH_TOKEN") && m.contains("demo"));
        let Err(Failure::Credentials(m)) = from_env(env(&[("AZURE_CLIENT_ID", "c")])) else {
            panic!("expected a credentials failure");
        };
        assert!(m.contains("AZURE_TENANT_ID, AZURE_CLIENT_SECRET"), "{m}");
    }
}
