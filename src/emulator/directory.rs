//! The emulator's users: who `/users/{id}` names, and the demo user behind delegated tokens.
//!
//! Graph accepts a user's object ID (a GUID) or user principal name in the path and answers 404
//! for anything else, a name with characters no UPN has among it. Both forms of one user must
//! reach the same meetings, so a UPN maps to a stable object ID derived from it; the demo
//! user's UPN maps to [`DEMO_USER_ID`].

/// Tenant of the demo user, and so of every delegated token.
pub const DEMO_TENANT_ID: &str = "5f7e0c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b";
/// The demo tenant's domain: its users' UPNs end in it, and a token asked for by this name is
/// a token of [`DEMO_TENANT_ID`], as the identity platform resolves a domain to its tenant.
pub const DEMO_TENANT_DOMAIN: &str = "contoso.example";
/// Object ID of the demo user: the signed-in user of every delegated token.
pub const DEMO_USER_ID: &str = "6b1d4c8e-3a2f-4d7e-9c5b-8e2a1f0d3c4b";
/// User principal name of the demo user.
pub const DEMO_USER_UPN: &str = "organizer@contoso.example";

/// The tenant a token endpoint path names, as meetings are keyed by it and as tokens and
/// meetings carry it (`tid`, `tenantId`): always a GUID, as Graph's are. The demo tenant's ID
/// or domain (any case) is the demo tenant's ID; another GUID is itself; another name maps to
/// a stable GUID of its own.
pub(super) fn tenant_id(tenant: &str) -> String {
    let tenant = tenant.to_ascii_lowercase();
    if tenant == DEMO_TENANT_DOMAIN {
        DEMO_TENANT_ID.to_owned()
    } else if is_guid(&tenant) {
        tenant
    } else {
        stable_guid(&format!("tenant:{tenant}"))
    }
}

/// A user as the meetings record them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UserRef {
    /// Object ID, lowercase.
    pub id: String,
    /// UPN when known.
    pub upn: Option<String>,
}

impl UserRef {
    pub fn demo() -> Self {
        Self {
            id: DEMO_USER_ID.to_owned(),
            upn: Some(DEMO_USER_UPN.to_owned()),
        }
    }

    /// The user a path segment names, or `None` when it is neither a GUID nor a UPN.
    pub fn resolve(segment: &str) -> Option<Self> {
        if is_guid(segment) {
            let id = segment.to_ascii_lowercase();
            let upn = (id == DEMO_USER_ID).then(|| DEMO_USER_UPN.to_owned());
            return Some(Self { id, upn });
        }
        let upn = segment.to_ascii_lowercase();
        let (local, domain) = upn.split_once('@')?;
        if !is_upn_name(local) || !is_domain(domain) {
            return None;
        }
        if upn == DEMO_USER_UPN {
            return Some(Self::demo());
        }
        Some(Self {
            id: stable_guid(&upn),
            upn: Some(upn),
        })
    }
}

/// A UPN's part before the `@` as Entra ID allows it: ASCII letters and digits and
/// `' . - _ ! # ^ ~`, at most 64, not starting or ending with a period. Anything else
/// (a backslash, `?`, a look-alike of `/`, a letter outside ASCII) names no user.
fn is_upn_name(local: &str) -> bool {
    (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'.-_!#^~".contains(&b))
}

/// A domain name: labels of ASCII letters, digits and hyphens, at least two.
fn is_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A GUID-shaped ID that depends only on `text` (FNV-1a, two seeds), so it is the same in every
/// run and on every platform.
fn stable_guid(text: &str) -> String {
    let hash = |seed: u64| {
        text.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let bits =
        (u128::from(hash(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(hash(0x84222325cbf29ce4));
    uuid::Uuid::from_u128(bits).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_and_upns_name_users_and_nothing_else_does() {
        let upper = DEMO_USER_ID.to_ascii_uppercase();
        assert_eq!(UserRef::resolve(&upper), Some(UserRef::demo()));
        assert_eq!(
            UserRef::resolve("Organizer@Contoso.example"),
            Some(UserRef::demo())
        );
        let a = UserRef::resolve("alex@contoso.example").unwrap();
        assert!(is_guid(&a.id));
        assert_eq!(UserRef::resolve("ALEX@contoso.example"), Some(a.clone()));
        assert_ne!(UserRef::resolve("sam@contoso.example").unwrap().id, a.id);
        for bad in [
            "alex",
            "",
            "a@b",
            "@contoso.example",
            "a/b@c.d",
            "a b@c.d",
            "x@.d",
            "x@c..d",
            ".a@c.d",
            "a.@c.d",
            "a\\b@c.d",
            "a@b.c?",
            "a?b@c.d",
            "a%2fb@c.d",
            "\u{2215}@b.c",
            "jos\u{e9}@contoso.example",
            "a@b\u{ff0e}c",
        ] {
            assert_eq!(UserRef::resolve(bad), None, "{bad}");
        }
    }
}
