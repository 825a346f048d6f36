//! Application tokens by the OAuth 2.0 client-credentials grant.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use serde_json::Value;

use super::{AccessToken, TokenCache, TokenKind, TokenProvider};
use crate::{
    cloud::Cloud,
    error::{AuthError, Error},
    secret::Secret,
    times::{Clock, SystemClock},
    transport::{self, ConfiguredUrl, HttpSettings},
};

/// Lifetime assumed when the token endpoint leaves out `expires_in`.
const ASSUMED_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);
/// Token responses are small; anything bigger is not one.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// Application tokens for `OnlineMeetings.ReadWrite.All`, cached and refreshed.
///
/// Cloning shares the cache: every clone and every task see one token and one refresh.
#[derive(Clone)]
pub struct ClientCredentials {
    inner: Arc<Inner>,
}

/// The application and its endpoint (the secret as `***`) and what the cache holds.
impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("ClientCredentials")
            .field("token_url", &inner.token_url.as_str())
            .field("client_id", &inner.client_id)
            .field("secret", &inner.secret)
            .field("scope", &inner.scope)
            .field("cache", &inner.cache)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: transport::Http,
    token_url: reqwest::Url,
    client_id: String,
    secret: Secret,
    scope: String,
    cache: TokenCache,
    /// No authority host was given: the secret goes to the cloud's own.
    default_authority: bool,
}

/// Configures [`ClientCredentials`].
#[derive(Clone)]
pub struct ClientCredentialsBuilder {
    tenant: String,
    client_id: String,
    secret: Secret,
    cloud: Cloud,
    authority_host: Option<String>,
    scope: Option<String>,
    clock: Arc<dyn Clock>,
    http: HttpSettings,
}

/// Every setting, the secret as `***` and the authority host without whatever stands before
/// an `@` in it.
impl std::fmt::Debug for ClientCredentialsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentialsBuilder")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .field("cloud", &self.cloud)
            .field(
                "authority_host",
                &self.authority_host.as_deref().map(ConfiguredUrl),
            )
            .field("scope", &self.scope)
            .field("clock", &self.clock)
            .field("http", &self.http)
            .finish()
    }
}

impl ClientCredentials {
    /// Starts a configuration for `tenant` (ID or domain) and an app registration.
    pub fn builder(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder {
            tenant: tenant.into(),
            client_id: client_id.into(),
            secret: client_secret.into(),
            cloud: Cloud::Global,
            authority_host: None,
            scope: None,
            clock: Arc::new(SystemClock),
            http: HttpSettings::default(),
        }
    }

    async fn fetch(&self) -> Result<AccessToken, AuthError> {
        let inner = &self.inner;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", inner.client_id.as_str()),
            ("client_secret", inner.secret.expose()),
            ("scope", inner.scope.as_str()),
        ];
        tracing::debug!(url = %inner.token_url, client_id = ?inner.client_id, "requesting an application token");
        // The lifetime runs from when the token was issued, somewhere during the request:
        // counted from the asking, a slow answer cannot stretch it past its real expiry.
        let asked_at = inner.cache.clock().now();
        // The form holds the secret: a transport error is reported without its request.
        let mut response = inner
            .http
            .client()
            .post(inner.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| AuthError::Transport(endpoint_failure(&e, &inner.secret)))?;
        let status = response.status();
        let read = transport::read_capped(&mut response, MAX_TOKEN_RESPONSE).await;
        if !status.is_success() {
            // The status is the answer: a body too large or cut off (a proxy's block page, an
            // HTML 404) only costs the error's details, and a refusal stays a refusal.
            let json: Option<Value> = read
                .ok()
                .and_then(|body| serde_json::from_slice(&body).ok());
            let secret = &inner.secret;
            let retry_after = crate::retry::retry_after(response.headers(), chrono::Utc::now);
            let mut error = endpoint_error(status.as_u16(), json.as_ref(), secret, retry_after);
            if status.is_redirection() {
                redirected(&mut error, response.headers(), secret);
            }
            return Err(error);
        }
        let body = read.map_err(|e| match e {
            transport::ReadError::TooLarge => {
                AuthError::Transport("token response too large".into())
            }
            transport::ReadError::Transport(e, _) => {
                AuthError::Transport(endpoint_failure(&e, &inner.secret))
            }
        })?;
        // No excerpt: a misbehaving endpoint could echo the form, secret included.
        let json: Value = serde_json::from_slice(&body).map_err(|_| {
            AuthError::Transport(format!("token response is not JSON ({} bytes)", body.len()))
        })?;
        // A token of another type (`pop`, say) would not work sent as `Bearer`, and must not be
        // used unless understood (RFC 6749, 7.1). Absent, it is taken for Bearer, as Entra's is.
        if let Some(kind) = json.get("token_type").and_then(Value::as_str) {
            if !kind.trim().eq_ignore_ascii_case("bearer") {
                return Err(AuthError::Provider(format!(
                    "the token endpoint issued a token of type {:?}; this client sends Bearer \
                     tokens only",
                    transport::excerpt(scrub(kind, &inner.secret).as_bytes())
                )));
            }
        }
        let token = json
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| AuthError::Transport("token response has no access_token".into()))?;
        let lifetime = expires_in(&json).unwrap_or(ASSUMED_LIFETIME);
        let token = AccessToken::new(token, asked_at.checked_add_signed(lifetime));
        // Judged once cleaned up as every token is (blanks, quotes, a `Bearer` word): the cache
        // would refuse an empty or unsendable one too, as the provider's failure (a refusal);
        // here it is what it is, a success without a usable token, like one without any.
        let unusable = match token.bearer() {
            Ok(_) => return Ok(token),
            Err(_) if token.secret().expose().is_empty() => "is empty",
            Err(_) => "has characters that cannot be sent in a header",
        };
        Err(AuthError::Transport(format!(
            "token response's access_token {unusable}"
        )))
    }
}

#[async_trait]
impl TokenProvider for ClientCredentials {
    async fn token(&self) -> Result<AccessToken, AuthError> {
        self.inner
            .cache
            .get(|| {
                let this = self.clone();
                async move { this.fetch().await }
            })
            .await
    }

    fn ready(&self) -> Option<AccessToken> {
        self.inner.cache.fresh()
    }

    fn still_valid(&self) -> Option<AccessToken> {
        self.inner.cache.still_valid()
    }

    fn invalidate(&self, rejected: &AccessToken) {
        self.inner.cache.invalidate(rejected);
    }

    fn kind(&self) -> TokenKind {
        TokenKind::Application
    }

    fn cloud(&self) -> Option<Cloud> {
        Cloud::of_scope(&self.inner.scope)
    }

    fn secret_to_default_authority(&self) -> bool {
        self.inner.default_authority
    }
}

impl ClientCredentialsBuilder {
    /// The cloud: picks the authority and the default scope.
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// An authority host other than the cloud's (e.g. `AZURE_AUTHORITY_HOST`, or a local stand-in).
    pub fn authority_host(mut self, url: impl Into<String>) -> Self {
        self.authority_host = Some(url.into());
        self
    }

    /// A scope other than the cloud's Graph `/.default`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The clock that stamps token expiry.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Timeout of one token request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// A proxy for the (https) token endpoint, as [`ClientBuilder::https_proxy`](crate::ClientBuilder::https_proxy)
    /// takes one. Environment proxy variables are ignored.
    pub fn https_proxy(mut self, url: impl Into<String>) -> Self {
        self.http.https_proxy = Some(url.into());
        self
    }

    /// Checks everything and builds the provider. Nothing is sent yet.
    pub fn build(self) -> Result<ClientCredentials, Error> {
        check_tenant(&self.tenant).map_err(Error::Config)?;
        check_client_id(&self.client_id).map_err(Error::Config)?;
        if self.secret.expose().is_empty() {
            return Err(Error::Config("client secret is empty".into()));
        }
        let default_authority = self.authority_host.is_none();
        let host = self
            .authority_host
            .as_deref()
            .unwrap_or(self.cloud.authority_host());
        let mut token_url = transport::secure_root(host, "authority host")?;
        token_url
            .path_segments_mut()
            .map_err(|_| Error::Config(format!("authority host {host:?} cannot have a path")))?
            .pop_if_empty()
            .extend([self.tenant.as_str(), "oauth2", "v2.0", "token"]);
        Ok(ClientCredentials {
            inner: Arc::new(Inner {
                http: transport::build_client(&self.http)?,
                token_url,
                client_id: self.client_id,
                secret: self.secret,
                scope: self.scope.unwrap_or_else(|| self.cloud.default_scope()),
                // Past the request's own timeout, so that its more precise error wins.
                cache: TokenCache::new(self.clock)
                    .with_fetch_limit(self.http.timeout.saturating_add(Duration::from_secs(1))),
                default_authority,
            }),
        })
    }
}

/// Tenant IDs and domains are letters, digits, `.` and `-`: anything else could change the URL.
/// (Also the command's check of `AZURE_TENANT_ID`, which names the variable.)
pub(crate) fn check_tenant(tenant: &str) -> Result<(), String> {
    let valid = !tenant.is_empty()
        && tenant.len() <= 256
        && tenant != "."
        && tenant != ".."
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tenant {tenant:?} is not a tenant ID or domain (letters, digits, '.' and '-' only)"
        ))
    }
}

/// A client ID goes into the token request's form, encoded, so only what cannot be text is
/// refused.
pub(crate) fn check_client_id(client_id: &str) -> Result<(), String> {
    match client_id.is_empty() || client_id.chars().any(char::is_control) {
        true => Err("client ID must be non-empty printable text".into()),
        false => Ok(()),
    }
}

/// `expires_in` as a number or a numeric string (both are seen in the wild).
fn expires_in(json: &Value) -> Option<chrono::Duration> {
    let seconds = match json.get("expires_in")? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    // Whole seconds, at most a year; zero or less: expired already, so it is used by the
    // callers that waited for it and not kept (taken at its word rather than assumed fresh).
    seconds
        .is_finite()
        .then(|| chrono::Duration::seconds(seconds.clamp(0.0, 86_400.0 * 365.0) as i64))
}

/// The identity platform's error, its text scrubbed (see [`scrub`]).
fn endpoint_error(
    status: u16,
    json: Option<&Value>,
    secret: &Secret,
    retry_after: Option<std::time::Duration>,
) -> AuthError {
    let field = |name: &str| {
        json.and_then(|j| j.get(name))
            .and_then(Value::as_str)
            .map(|text| scrub(text, secret))
    };
    let description = field("error_description");
    let aadsts = json
        .and_then(|j| j.get("error_codes"))
        .and_then(|c| c.get(0))
        .and_then(Value::as_u64)
        .map(|c| format!("AADSTS{c}"))
        .or_else(|| description.as_deref().and_then(crate::error::aadsts_code));
    AuthError::TokenEndpoint {
        status,
        error: field("error"),
        description,
        aadsts,
        retry_after,
    }
}

/// A redirect is never followed (the form holds the secret), and the identity platform does
/// not send one: its description says so and where it pointed (origin only), since the likely
/// cause is an authority host that is not a token authority. Not where it pointed when that
/// repeats the secret: a host name is lower-cased on the way, so the secret is looked for in
/// either case.
fn redirected(error: &mut AuthError, headers: &reqwest::header::HeaderMap, secret: &Secret) {
    if let AuthError::TokenEndpoint {
        description: description @ None,
        ..
    } = error
    {
        let target = headers
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url::Url::parse(l).ok())
            .map(|l| l.origin())
            .filter(url::Origin::is_tuple)
            .map(|origin| origin.ascii_serialization())
            .map(|origin| match repeats(&origin, secret) {
                true => " (to where is not shown: it repeats the client secret)".to_owned(),
                false => format!(" to {origin}"),
            })
            .unwrap_or_default();
        *description = Some(format!(
            "a redirect{target}, not followed: is the authority host a token authority?"
        ));
    }
}

/// Whether `text` holds `secret` (as sent or percent-encoded), in any case.
fn repeats(text: &str, secret: &Secret) -> bool {
    let lower = text.to_ascii_lowercase();
    let secret = Secret::new(secret.expose().to_ascii_lowercase());
    secret.redact_any_length(&lower) != lower.as_str()
}

/// Text from the token endpoint, fit for an error: the client secret, as sent or
/// percent-encoded any other way, becomes `***` (a misbehaving endpoint could echo the form
/// back), and control characters become spaces (the text ends up in logs and on terminals).
fn scrub(text: &str, secret: &Secret) -> String {
    transport::printable_short(&secret.redact_any_length(text))
}

/// A transport failure with its innermost cause (an untrusted certificate, a proxy asking for
/// credentials, a name that does not resolve: what a wrong proxy or missing CA certificates
/// look like, often on a service's first call) and the endpoint's origin and path; never the
/// request's form, and the secret blanked should anything repeat it.
fn endpoint_failure(e: &reqwest::Error, secret: &Secret) -> String {
    let cause = transport::root_cause(e).map_or(String::new(), |root| format!(": {root}"));
    let url = e
        .url()
        .map(|u| format!(" ({}{})", u.origin().ascii_serialization(), u.path()));
    let text = format!(
        "{}{cause}{}",
        transport::describe(e),
        url.unwrap_or_default()
    );
    scrub(&text, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_a_configuration_struct_by_reference() {
        // `&String` for each of the three, as a service's config holds them.
        let (tenant, id, secret) = (
            "contoso".to_string(),
            "app".to_string(),
            "s3cret".to_string(),
        );
        let built = ClientCredentials::builder(&tenant, &id, &secret)
            .build()
            .unwrap();
        assert_eq!(built.inner.secret.expose(), "s3cret");
    }

    #[test]
    fn tenants_that_could_change_the_url_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a?b",
            "a#b",
            "contoso.com/../x",
            "t%2e",
            "a b",
            "ü",
        ] {
            assert!(check_tenant(bad).is_err(), "{bad}");
        }
        for good in [
            "contoso.onmicrosoft.com",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "common",
        ] {
            assert!(check_tenant(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn expires_in_as_number_string_or_missing() {
        use serde_json::json;
        assert_eq!(
            expires_in(&json!({"expires_in": 3599})),
            Some(chrono::Duration::seconds(3599))
        );
        assert_eq!(
            expires_in(&json!({"expires_in": "3599"})),
            Some(chrono::Duration::seconds(3599))
        );
        assert_eq!(
            expires_in(&json!({"expires_in": 3599.9})),
            Some(chrono::Duration::seconds(3599))
        );
        assert_eq!(expires_in(&json!({"expires_in": "soon"})), None);
        assert_eq!(expires_in(&json!({"expires_in": "NaN"})), None);
        assert_eq!(
            expires_in(&json!({"expires_in": -5})),
            Some(chrono::Duration::zero())
        );
        assert_eq!(
            expires_in(&json!({"expires_in": 1e300})),
            Some(chrono::Duration::days(365))
        );
        assert_eq!(expires_in(&json!({})), None);
    }

    #[test]
    fn aadsts_code_from_codes_or_description() {
        use serde_json::json;
        let e = endpoint_error(
            401,
            Some(
                &json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": [7000215]}),
            ),
            &Secret::new("s3cret"),
            None,
        );
        assert!(
            matches!(&e, AuthError::TokenEndpoint { aadsts: Some(c), .. } if c == "AADSTS7000215")
        );
        let e = endpoint_error(
            400,
            Some(
                &json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}),
            ),
            &Secret::new("s3cret"),
            None,
        );
        assert!(
            matches!(&e, AuthError::TokenEndpoint { aadsts: Some(c), .. } if c == "AADSTS90002")
        );
        assert!(e.to_string().contains("invalid_request"));
    }

    #[test]
    fn an_echoed_secret_and_control_characters_stay_out_of_the_error() {
        use serde_json::json;
        let secret = "p@ss word+/=";
        let echoed = format!(
            "bad request: grant_type=client_credentials&client_secret=p%40ss+word%2B%2F%3D \
             (raw: {secret})\u{1b}[31m\nerror: forged"
        );
        let e = endpoint_error(
            400,
            Some(&json!({"error": "invalid_request", "error_description": echoed})),
            &Secret::new(secret),
            None,
        );
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("p%40ss"), "{shown}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\n'),
            "{shown}"
        );
        assert!(shown.contains("client_secret=***"), "{shown}");

        // Encoded anew by the endpoint: `%20` for the space, lower-case hex, `~` escaped or
        // not, characters a form would leave as they are escaped.
        let secret = "p@ss word+/=&client_id=evil~SECRETX";
        for echoed in [
            "p%40ss%20word%2B%2F%3D%26client_id%3Devil%7ESECRETX",
            "p%40ss+word%2b%2f%3d%26client_id%3devil~SECRETX",
            // As a URI encoder leaves it: `+` for itself, a space as `%20`.
            "p@ss%20word+/=&client_id=evil~SECRETX",
            "%70%40ss%20word+%2F=&client_id=evil%7eSECRETX",
        ] {
            let e = endpoint_error(
                400,
                Some(&json!({"error_description": format!("client_secret={echoed}; bad")})),
                &Secret::new(secret),
                None,
            );
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("SECRETX"), "{shown}");
            assert!(shown.contains("client_secret=***; bad"), "{shown}");
        }

        // A secret as short as a word is the caller's choice, and blanked all the same: three
        // bytes become `***`, as long as they were; one or two, percent-encoded too.
        for (secret, echoed) in [
            ("hunter2", "hunter2"),
            ("xyz", "xyz"),
            ("xyz", "%78y%7A"),
            ("qz", "qz"),
            ("q", "%71"),
        ] {
            let e = endpoint_error(
                400,
                Some(&json!({"error_description": format!("bad form: client_secret={echoed}")})),
                &Secret::new(secret),
                None,
            );
            let shown = format!("{e} {e:?}");
            assert!(
                !shown.contains(echoed) && !shown.contains(secret),
                "{secret}: {shown}"
            );
            assert!(shown.contains("client_secret=***"), "{secret}: {shown}");
        }
    }
}
