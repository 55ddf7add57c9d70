//! [`AzureOpenAiModel`]: an Azure OpenAI deployment as a [`ChatModel`].

use std::sync::Arc;

use reqwest::Url;
use slm_core::{Capabilities, ChatModel, ChatRequest, ChatResponse, ChatStream, async_trait};

use crate::classify::{AzureSite, CallSite};
use crate::endpoint::{Credential, Endpoint};
use crate::engine::{Engine, RemoteOptions};
use crate::{RemoteError, RetryPolicy};

/// The environment variables [`AzureOpenAiModel::from_env`] reads (those of the SLM Swap evaluation).
///
/// ```
/// assert_eq!(slm_remote::AZURE_ENV_VARS[0], "AZURE_ENDPOINT");
/// ```
pub const AZURE_ENV_VARS: [&str; 4] = [
    "AZURE_ENDPOINT",
    "AZURE_DEPLOYMENT",
    "AZURE_API_KEY",
    "AZURE_API_VERSION",
];

/// An Azure OpenAI chat deployment.
///
/// Requests go to `…/openai/deployments/<deployment>/chat/completions?api-version=<v>` with the
/// key in the `api-key` header (or an Entra ID token as `Authorization: Bearer`). The endpoint
/// may be given in the canonical form `https://<resource>.openai.azure.com/openai/deployments/<deployment>`,
/// as the resource root plus a deployment, or as a preview `…/models` inference path (then the
/// deployment goes in the body's `model` field).
///
/// Errors are typed: a wrong deployment gives [`RemoteError::DeploymentNotFound`] naming the URL
/// tried, an unsupported api-version [`RemoteError::InvalidApiVersion`], a blocked prompt
/// [`RemoteError::ContentFiltered`].
///
/// ```
/// use slm_core::ChatModel;
/// use slm_remote::AzureOpenAiModel;
///
/// let model = AzureOpenAiModel::builder()
///     .endpoint("https://contoso.openai.azure.com/openai/deployments/chat")
///     .api_version("2024-05-01-preview")
///     .api_key("not-a-real-key")
///     .build()
///     .unwrap();
/// assert_eq!(model.id(), "chat");
/// assert_eq!(
///     model.chat_url(),
///     "https://contoso.openai.azure.com/openai/deployments/chat/chat/completions?api-version=2024-05-01-preview"
/// );
/// assert!(!format!("{model:?}").contains("not-a-real-key"));
/// ```
#[derive(Debug, Clone)]
pub struct AzureOpenAiModel {
    engine: Arc<Engine>,
    deployment: String,
    api_version: String,
}

impl AzureOpenAiModel {
    /// A builder.
    ///
    /// ```
    /// let b = slm_remote::AzureOpenAiModel::builder().deployment("chat");
    /// assert!(b.build().is_err()); // no endpoint yet
    /// ```
    pub fn builder() -> AzureOpenAiModelBuilder {
        AzureOpenAiModelBuilder::default()
    }

    /// A model configured from exactly `AZURE_ENDPOINT`, `AZURE_DEPLOYMENT`, `AZURE_API_KEY`
    /// and `AZURE_API_VERSION` (see [`AzureOpenAiModelBuilder::env_from`]).
    ///
    /// ```
    /// use slm_remote::{AzureOpenAiModel, RemoteError};
    /// match AzureOpenAiModel::from_env() {
    ///     Ok(model) => println!("Azure deployment {}", model.deployment()),
    ///     // Unset variables are named in the error.
    ///     Err(e) => assert!(matches!(e, RemoteError::Config(m) if m.contains("AZURE_"))),
    /// }
    /// ```
    pub fn from_env() -> Result<Self, RemoteError> {
        Self::builder()
            .env_from(|name| std::env::var(name).ok())?
            .build()
    }

    /// The deployment name.
    ///
    /// ```
    /// let m = slm_remote::AzureOpenAiModel::builder()
    ///     .endpoint("https://r.openai.azure.com").deployment("gpt4o").api_version("2024-10-21")
    ///     .api_key("k-1234").build().unwrap();
    /// assert_eq!(m.deployment(), "gpt4o");
    /// ```
    pub fn deployment(&self) -> &str {
        &self.deployment
    }

    /// The api-version sent with every request.
    ///
    /// ```
    /// let m = slm_remote::AzureOpenAiModel::builder()
    ///     .endpoint("https://r.openai.azure.com").deployment("d").api_version("2024-10-21")
    ///     .api_key("k-1234").build().unwrap();
    /// assert_eq!(m.api_version(), "2024-10-21");
    /// ```
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The chat-completions URL requests go to (it never contains the key).
    ///
    /// ```
    /// let m = slm_remote::AzureOpenAiModel::builder()
    ///     .endpoint("https://r.openai.azure.com/").deployment("d").api_version("v1")
    ///     .api_key("k-1234").build().unwrap();
    /// assert_eq!(m.chat_url(), "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=v1");
    /// ```
    pub fn chat_url(&self) -> String {
        self.engine.chat_url()
    }
}

#[async_trait]
impl ChatModel for AzureOpenAiModel {
    fn id(&self) -> &str {
        self.engine.id()
    }

    fn capabilities(&self) -> Capabilities {
        self.engine.capabilities()
    }

    async fn chat(&self, request: ChatRequest) -> slm_core::Result<ChatResponse> {
        self.engine.chat(request).await.map_err(Into::into)
    }

    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        crate::stream::chat_stream(&self.engine, request)
    }

    /// `azure:<chat URL>#<model>`: the server and model answering (a server's weights may still
    /// change behind the same name; a response cache keyed on this trusts it not to).
    async fn identity(&self) -> slm_core::Result<Option<String>> {
        Ok(Some(format!("azure:{}", self.engine.identity())))
    }
}

/// Builds an [`AzureOpenAiModel`].
///
/// ```
/// use std::time::Duration;
/// use slm_remote::{AzureOpenAiModel, RetryPolicy};
/// let model = AzureOpenAiModel::builder()
///     .endpoint("https://contoso.openai.azure.com")
///     .deployment("chat")
///     .api_version("2024-10-21")
///     .bearer_token("entra-id-token")
///     .retry(RetryPolicy::default().with_total_deadline(Duration::from_secs(60)))
///     .max_concurrency(4)
///     .build()
///     .unwrap();
/// assert_eq!(model.deployment(), "chat");
/// ```
#[derive(Debug, Clone, Default)]
pub struct AzureOpenAiModelBuilder {
    endpoint: Option<String>,
    deployment: Option<String>,
    api_version: Option<String>,
    credential: Credential,
    options: RemoteOptions,
}

impl AzureOpenAiModelBuilder {
    /// The endpoint: canonical (`…/openai/deployments/<deployment>`), a resource root, or a
    /// preview `…/models` path. A trailing `/chat/completions` and an `api-version` query are
    /// understood too.
    ///
    /// ```
    /// let b = slm_remote::AzureOpenAiModel::builder().endpoint("https://r.openai.azure.com");
    /// # let _ = b;
    /// ```
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The deployment name (needed unless the endpoint is canonical; must match it if it is).
    ///
    /// ```
    /// let b = slm_remote::AzureOpenAiModel::builder().deployment("chat");
    /// # let _ = b;
    /// ```
    pub fn deployment(mut self, deployment: impl Into<String>) -> Self {
        self.deployment = Some(deployment.into());
        self
    }

    /// The `api-version` query parameter, e.g. `2024-10-21`.
    ///
    /// ```
    /// let b = slm_remote::AzureOpenAiModel::builder().api_version("2024-10-21");
    /// # let _ = b;
    /// ```
    pub fn api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = Some(api_version.into());
        self
    }

    /// Authenticate with the `api-key` header.
    ///
    /// ```
    /// let b = slm_remote::AzureOpenAiModel::builder().api_key("key");
    /// assert!(!format!("{b:?}").contains("\"key\""));
    /// ```
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.credential = Credential::api_key(key);
        self
    }

    /// Authenticate with `Authorization: Bearer <token>` (Microsoft Entra ID).
    ///
    /// ```
    /// let b = slm_remote::AzureOpenAiModel::builder().bearer_token("token");
    /// # let _ = b;
    /// ```
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.credential = Credential::bearer(token);
        self
    }

    /// The retry policy.
    ///
    /// ```
    /// let b = slm_remote::AzureOpenAiModel::builder().retry(slm_remote::RetryPolicy::no_retries());
    /// # let _ = b;
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// The most requests in flight at once.
    ///
    /// ```
    /// let b = slm_remote::AzureOpenAiModel::builder().max_concurrency(8);
    /// # let _ = b;
    /// ```
    pub fn max_concurrency(mut self, max: usize) -> Self {
        self.options.max_concurrency = max;
        self
    }

    /// All shared options at once.
    ///
    /// ```
    /// let b = slm_remote::AzureOpenAiModel::builder().options(slm_remote::RemoteOptions::default());
    /// # let _ = b;
    /// ```
    pub fn options(mut self, options: RemoteOptions) -> Self {
        self.options = options;
        self
    }

    /// Fills the builder from `AZURE_ENDPOINT`, `AZURE_DEPLOYMENT`, `AZURE_API_KEY` and
    /// `AZURE_API_VERSION`, looked up with `lookup` (empty values count as unset).
    /// `AZURE_DEPLOYMENT` may be unset when the endpoint is canonical; the others are required.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let env = HashMap::from([
    ///     ("AZURE_ENDPOINT", "https://r.openai.azure.com/openai/deployments/chat"),
    ///     ("AZURE_DEPLOYMENT", "chat"),
    ///     ("AZURE_API_KEY", "k-1234"),
    ///     ("AZURE_API_VERSION", "2024-05-01-preview"),
    /// ]);
    /// let model = slm_remote::AzureOpenAiModel::builder()
    ///     .env_from(|name| env.get(name).map(|v| v.to_string()))
    ///     .unwrap()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(model.deployment(), "chat");
    /// ```
    pub fn env_from(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, RemoteError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &str| {
            get(name).ok_or_else(|| {
                RemoteError::Config(format!(
                    "{name} is not set; export AZURE_ENDPOINT, AZURE_DEPLOYMENT, AZURE_API_KEY \
                     and AZURE_API_VERSION (the Azure portal shows them under Keys and Endpoint)"
                ))
            })
        };
        self.endpoint = Some(required("AZURE_ENDPOINT")?);
        self.deployment = get("AZURE_DEPLOYMENT");
        self.credential = Credential::api_key(required("AZURE_API_KEY")?);
        self.api_version = Some(required("AZURE_API_VERSION")?);
        Ok(self)
    }

    /// Checks everything and builds the model. Nothing is sent yet.
    ///
    /// ```
    /// let err = slm_remote::AzureOpenAiModel::builder()
    ///     .endpoint("https://r.openai.azure.com/openai/deployments/a")
    ///     .deployment("b").api_version("v").api_key("k-1234")
    ///     .build().unwrap_err();
    /// assert!(err.to_string().contains("`a`") && err.to_string().contains("`b`"));
    /// ```
    pub fn build(self) -> Result<AzureOpenAiModel, RemoteError> {
        let endpoint = self.endpoint.ok_or_else(|| {
            RemoteError::Config("no Azure endpoint given (AZURE_ENDPOINT)".into())
        })?;
        let route = AzureRoute::parse(&endpoint, self.deployment.as_deref())?;
        let api_version = self
            .api_version
            .or(route.api_version.clone())
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                RemoteError::Config("no api-version given (AZURE_API_VERSION)".into())
            })?;
        if matches!(self.credential, Credential::None) {
            return Err(RemoteError::Config(
                "no Azure key or token given (AZURE_API_KEY)".into(),
            ));
        }
        let query = vec![("api-version".to_string(), api_version.trim().to_string())];
        let endpoint = Endpoint::new(route.base.clone(), query, self.credential)?;
        let site = CallSite {
            endpoint,
            azure: Some(AzureSite {
                deployment: route.deployment.clone(),
                api_version: api_version.clone(),
            }),
        };
        let engine = Engine::new(
            site,
            route.deployment.clone(),
            route.deployment.clone(),
            self.options,
        )?;
        Ok(AzureOpenAiModel {
            engine: Arc::new(engine),
            deployment: route.deployment,
            api_version,
        })
    }
}

/// Where an Azure deployment's chat completions live.
#[derive(Debug, Clone, PartialEq)]
struct AzureRoute {
    /// Everything before `/chat/completions`.
    base: String,
    deployment: String,
    /// An `api-version` found in the endpoint's query.
    api_version: Option<String>,
}

impl AzureRoute {
    fn parse(endpoint: &str, deployment: Option<&str>) -> Result<Self, RemoteError> {
        let url = Url::parse(endpoint.trim()).map_err(|e| {
            RemoteError::Config(format!("AZURE_ENDPOINT `{endpoint}` is not a URL: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(RemoteError::Config(format!(
                "AZURE_ENDPOINT `{endpoint}` must be an http(s) URL with a host"
            )));
        }
        let api_version = url
            .query_pairs()
            .find(|(k, _)| k == "api-version")
            .map(|(_, v)| v.into_owned());
        let origin = url.origin().ascii_serialization();
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix("/chat/completions").unwrap_or(path);
        let given = deployment.map(str::trim).filter(|d| !d.is_empty());

        const MARK: &str = "/openai/deployments/";
        let (base, deployment) = if let Some(at) = path.find(MARK) {
            let prefix = &path[..at];
            let rest = &path[at + MARK.len()..];
            let in_url = rest.split('/').next().unwrap_or_default();
            if in_url.is_empty() || rest.contains('/') {
                return Err(RemoteError::Config(format!(
                    "AZURE_ENDPOINT `{endpoint}` has an unexpected path after /openai/deployments/; \
                     use https://<resource>.openai.azure.com/openai/deployments/<deployment>"
                )));
            }
            if let Some(given) = given.filter(|g| *g != in_url) {
                return Err(RemoteError::Config(format!(
                    "AZURE_ENDPOINT names deployment `{in_url}` but AZURE_DEPLOYMENT is `{given}`; \
                     make them agree"
                )));
            }
            (
                format!("{origin}{prefix}{MARK}{in_url}"),
                in_url.to_string(),
            )
        } else if path.ends_with("/models") {
            let deployment = given.ok_or_else(|| {
                RemoteError::Config(format!(
                    "AZURE_ENDPOINT `{endpoint}` is a models/chat/completions path, which needs \
                     AZURE_DEPLOYMENT to name the deployment"
                ))
            })?;
            (format!("{origin}{path}"), deployment.to_string())
        } else if path.is_empty() || path == "/openai" {
            let deployment = given.ok_or_else(|| {
                RemoteError::Config(format!(
                    "AZURE_ENDPOINT `{endpoint}` is a resource root, so AZURE_DEPLOYMENT must \
                     name the deployment"
                ))
            })?;
            (
                format!("{origin}{MARK}{deployment}"),
                deployment.to_string(),
            )
        } else {
            return Err(RemoteError::Config(format!(
                "AZURE_ENDPOINT `{endpoint}` is neither https://<resource>.openai.azure.com, \
                 nor …/openai/deployments/<deployment>, nor a …/models inference path"
            )));
        };
        let valid = deployment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(RemoteError::Config(format!(
                "deployment name `{deployment}` may only hold letters, digits, '-', '_' and '.'"
            )));
        }
        Ok(Self {
            base,
            deployment,
            api_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(endpoint: &str, deployment: Option<&str>) -> Result<AzureRoute, RemoteError> {
        AzureRoute::parse(endpoint, deployment)
    }

    #[test]
    fn accepts_the_canonical_form_root_and_models_path() {
        let canonical = route(
            "https://r.openai.azure.com/openai/deployments/chat/",
            Some("chat"),
        )
        .unwrap();
        assert_eq!(
            canonical.base,
            "https://r.openai.azure.com/openai/deployments/chat"
        );
        assert_eq!(canonical.deployment, "chat");
        let root = route("https://r.openai.azure.com", Some("gpt")).unwrap();
        assert_eq!(
            root.base,
            "https://r.openai.azure.com/openai/deployments/gpt"
        );
        let full = route(
            "https://r.openai.azure.com/openai/deployments/chat/chat/completions?api-version=2024-10-21",
            None,
        )
        .unwrap();
        assert_eq!(full.deployment, "chat");
        assert_eq!(full.api_version.as_deref(), Some("2024-10-21"));
        let models = route("https://r.services.ai.azure.com/models", Some("phi")).unwrap();
        assert_eq!(models.base, "https://r.services.ai.azure.com/models");
        assert_eq!(models.deployment, "phi");
    }

    #[test]
    fn rejects_ambiguous_or_broken_endpoints() {
        assert!(route("https://r.openai.azure.com", None).is_err());
        assert!(route("https://r.openai.azure.com/openai/deployments/a", Some("b")).is_err());
        assert!(route("not a url", Some("x")).is_err());
        assert!(route("ftp://r/openai/deployments/a", None).is_err());
        assert!(route("https://r.openai.azure.com/something/else", Some("a")).is_err());
        assert!(route("https://r.openai.azure.com", Some("a/b")).is_err());
    }

    #[test]
    fn env_needs_every_required_variable() {
        let only_endpoint = |name: &str| {
            (name == "AZURE_ENDPOINT")
                .then(|| "https://r.openai.azure.com/openai/deployments/c".to_string())
        };
        let err = AzureOpenAiModel::builder()
            .env_from(only_endpoint)
            .unwrap_err();
        assert!(err.to_string().contains("AZURE_API_KEY"));
    }
}
