//! Where requests go and how they authenticate: our implementation of async-openai's `Config`.
//!
//! async-openai ships `AzureConfig` and `OpenAIConfig`, but neither fits: `AzureConfig` knows
//! only the `api-key` header (no Entra ID bearer token) and only the `/openai/deployments/..`
//! path, `OpenAIConfig` always sends `Authorization` (even with no key) and reads
//! `OPENAI_*` variables behind our back, and both `unwrap()` header values, so a key with a
//! newline would panic. [`Endpoint`] builds and validates its headers once, up front.

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::RemoteError;

/// How requests authenticate.
///
/// Secrets are [`SecretString`]s: `Debug` prints `[REDACTED]`, never the key.
///
/// ```
/// use slm_remote::Credential;
/// let c = Credential::api_key("k-123");
/// assert!(!format!("{c:?}").contains("k-123"));
/// ```
#[derive(Debug, Clone, Default)]
pub enum Credential {
    /// No authentication header (local servers).
    #[default]
    None,
    /// Azure's `api-key: <key>` header.
    ApiKey(SecretString),
    /// `Authorization: Bearer <token>` (OpenAI-style keys, Azure Entra ID tokens).
    Bearer(SecretString),
}

impl Credential {
    /// An `api-key` header credential.
    ///
    /// ```
    /// assert!(matches!(slm_remote::Credential::api_key("k"), slm_remote::Credential::ApiKey(_)));
    /// ```
    pub fn api_key(key: impl Into<String>) -> Self {
        Self::ApiKey(SecretString::from(key.into()))
    }

    /// A bearer-token credential.
    ///
    /// ```
    /// assert!(matches!(slm_remote::Credential::bearer("t"), slm_remote::Credential::Bearer(_)));
    /// ```
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::Bearer(SecretString::from(token.into()))
    }

    /// The secret, if any.
    pub(crate) fn secret(&self) -> Option<&SecretString> {
        match self {
            Self::None => None,
            Self::ApiKey(s) | Self::Bearer(s) => Some(s),
        }
    }

    /// The header this credential sends, validated and marked sensitive.
    fn header(&self) -> Result<Option<(HeaderName, HeaderValue)>, RemoteError> {
        let (name, value) = match self {
            Self::None => return Ok(None),
            Self::ApiKey(key) => (
                HeaderName::from_static("api-key"),
                key.expose_secret().to_string(),
            ),
            Self::Bearer(token) => (AUTHORIZATION, format!("Bearer {}", token.expose_secret())),
        };
        let secret = self.secret().map(|s| s.expose_secret()).unwrap_or_default();
        if secret.trim().is_empty() {
            return Err(RemoteError::Config("the API key or token is empty".into()));
        }
        let mut value = HeaderValue::from_str(&value)
            .ok()
            .filter(|_| secret.is_ascii())
            .ok_or_else(|| {
                RemoteError::Config(
                    "the API key or token contains a character an HTTP header cannot carry (a \
                 newline, a control character or a non-ASCII character); check for a stray \
                 newline or quote where the key was pasted"
                        .into(),
                )
            })?;
        value.set_sensitive(true);
        Ok(Some((name, value)))
    }
}

/// A chat-completions endpoint: URL prefix, query, and pre-validated headers.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// Everything before `/chat/completions`, without a trailing slash.
    base: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    credential: Credential,
    /// Returned by `Config::api_key` when there is no credential.
    empty: SecretString,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base", &self.base)
            .field("query", &self.query)
            .field("credential", &self.credential)
            .finish()
    }
}

impl Endpoint {
    pub(crate) fn new(
        base: impl Into<String>,
        query: Vec<(String, String)>,
        credential: Credential,
    ) -> Result<Self, RemoteError> {
        let mut headers = HeaderMap::new();
        if let Some((name, value)) = credential.header()? {
            headers.insert(name, value);
        }
        Ok(Self {
            base: base.into().trim_end_matches('/').to_string(),
            query,
            headers,
            credential,
            empty: SecretString::from(String::new()),
        })
    }

    /// The full chat-completions URL with its query, as shown in errors (never has a secret).
    pub(crate) fn chat_url(&self) -> String {
        let mut url = format!("{}/chat/completions", self.base);
        for (i, (k, v)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{k}={v}"));
        }
        url
    }

    /// Removes any secret this endpoint holds from server-supplied text.
    pub(crate) fn scrub(&self, text: &str) -> String {
        match self.credential.secret().map(|s| s.expose_secret()) {
            Some(secret) if secret.len() >= 4 && text.contains(secret) => {
                text.replace(secret, "[redacted]")
            }
            _ => text.to_string(),
        }
    }
}

impl async_openai::config::Config for Endpoint {
    fn headers(&self) -> HeaderMap {
        self.headers.clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn query(&self) -> Vec<(&str, &str)> {
        self.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn api_base(&self) -> &str {
        &self.base
    }

    fn api_key(&self) -> &SecretString {
        self.credential.secret().unwrap_or(&self.empty)
    }
}

#[cfg(test)]
mod tests {
    use async_openai::config::Config;

    use super::*;

    #[test]
    fn keys_with_newlines_are_a_config_error_not_a_panic() {
        let err = Endpoint::new("http://x", vec![], Credential::api_key("abc\ndef")).unwrap_err();
        assert!(matches!(err, RemoteError::Config(_)));
        assert!(!err.to_string().contains("abc"));
        let err = Endpoint::new("http://x", vec![], Credential::bearer("ключ")).unwrap_err();
        assert!(matches!(err, RemoteError::Config(_)));
    }

    #[test]
    fn headers_are_sensitive_and_debug_hides_the_key() {
        let e = Endpoint::new("http://x/", vec![], Credential::api_key("sekret-key")).unwrap();
        assert!(e.headers()["api-key"].is_sensitive());
        assert!(!format!("{e:?}").contains("sekret-key"));
        assert_eq!(e.url("/chat/completions"), "http://x/chat/completions");
        assert_eq!(e.scrub("bad key sekret-key"), "bad key [redacted]");
    }

    #[test]
    fn no_credential_sends_no_authorization() {
        let e = Endpoint::new("http://x", vec![], Credential::None).unwrap();
        assert!(e.headers().is_empty());
    }
}
