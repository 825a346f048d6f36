//! National clouds and API versions.

use std::fmt;

/// A Microsoft Graph deployment, with its matching identity-platform authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Cloud {
    /// The global service.
    #[default]
    Global,
    /// US Government L4.
    UsGov,
    /// US Government L5 (DoD).
    Dod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// Graph's root, without the version.
    pub fn graph_root(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::Dod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The identity platform's authority host for this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::Dod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The scope that asks for this cloud's Graph application permissions.
    pub fn default_scope(self) -> String {
        format!("{}/.default", self.graph_root())
    }

    /// The cloud whose Graph `scope` asks a token for (its root, with `/.default` or a
    /// permission after it), if it is one of these.
    pub(crate) fn of_scope(scope: &str) -> Option<Cloud> {
        [Cloud::Global, Cloud::UsGov, Cloud::Dod, Cloud::China]
            .into_iter()
            .find(|cloud| {
                scope
                    .strip_prefix(cloud.graph_root())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

impl std::str::FromStr for Cloud {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "global" => Ok(Cloud::Global),
            "usgov" => Ok(Cloud::UsGov),
            "dod" => Ok(Cloud::Dod),
            "china" => Ok(Cloud::China),
            _ => Err(format!(
                "unknown cloud {s:?}: expected global, usgov, dod or china"
            )),
        }
    }
}

/// The Graph API version; part of the base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiVersion {
    /// `v1.0`, the stable surface.
    #[default]
    V1,
    /// `beta`; needed for `chatInfo` on createOrGet.
    Beta,
}

impl ApiVersion {
    /// The path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
