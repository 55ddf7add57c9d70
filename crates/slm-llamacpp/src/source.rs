//! Where a model comes from: a GGUF file, a file of a Hugging Face Hub repository, or a model
//! slm knows by name.
//!
//! A [`ModelSource`] is written as text (in the CLI's `llamacpp:SOURCE`, in configs):
//!
//! | text | source |
//! |---|---|
//! | `models/phi.Q4_K_M.gguf` | a GGUF file on disk, used as it is |
//! | `smollm2`, `gemma-3-270m` | a [`KnownModel`] from the model cache ([`model_home`]) |
//! | `hf:owner/repo/file.gguf` | that file of a Hub repository (`@revision`, `#sha256=HEX` optional) |
//! | `hf:owner/repo:Q4_K_M` | the one `.gguf` file whose name contains `Q4_K_M` (any case) |
//! | `hf:owner/repo` | the repository's only `.gguf` file |
//!
//! [`ModelSource::resolve`] turns it into a local path, downloading through the `hf-hub` crate
//! into the Hub's own cache layout (`$HF_HOME/hub`, shared with Python's `huggingface_hub`), so a
//! file is downloaded once. Every download is checked before it is used: its size against the
//! one the server announced, its sha256 against the Hub's (an LFS file's ETag is its sha256) and
//! against the one pinned with `#sha256=`. A 404, a truncated download or a wrong hash is a typed
//! [`LlamaCppError`] and leaves no partial file in the cache.
//!
//! ```
//! use slm_llamacpp::source::{HubConfig, HubFile, ModelSource};
//!
//! let src: ModelSource = "hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M".parse().unwrap();
//! let ModelSource::Hub(hub) = &src else { unreachable!() };
//! assert_eq!(hub.repo, "bartowski/SmolLM2-135M-Instruct-GGUF");
//! assert_eq!(hub.file, HubFile::Quant("Q4_K_M".into()));
//! assert_eq!(src.to_string(), "hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M");
//!
//! // A plain path stays a path: resolving it touches nothing.
//! let path: ModelSource = "models/tiny.gguf".parse().unwrap();
//! assert_eq!(path.resolve(&mut |_| {}).unwrap(), std::path::PathBuf::from("models/tiny.gguf"));
//!
//! // Offline, a file that is not cached is an error, not a download.
//! let cache = tempfile::tempdir().unwrap();
//! let config = HubConfig::new("http://127.0.0.1:9", cache.path()).with_offline(true);
//! assert!(src.resolve_with(&config, &mut |_| {}).is_err());
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hf_hub::api::Progress;
use hf_hub::api::sync::{Api, ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::LlamaCppError;
use crate::models::{KnownModel, model_home, sha256_file};

/// The Hugging Face Hub's address, used unless `HF_ENDPOINT` says otherwise.
pub const HUB_ENDPOINT: &str = "https://huggingface.co";

/// Where a model comes from. Parsed from and displayed as text (see the [module](self) docs);
/// serialized as that text too.
///
/// ```
/// use slm_llamacpp::source::ModelSource;
///
/// for text in ["smollm2", "m/x.gguf", "hf:o/r/sub/x.gguf@v1.0#sha256=ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12", "hf:o/r:q8_0"] {
///     let src: ModelSource = text.parse().unwrap();
///     assert_eq!(src.to_string(), text);
///     assert_eq!(serde_json::to_string(&src).unwrap(), format!("{text:?}"));
/// }
/// assert!(matches!("smollm2".parse(), Ok(ModelSource::Known(m)) if m.name == "smollm2"));
/// assert!("hf:just-a-repo".parse::<ModelSource>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ModelSource {
    /// A GGUF file on disk (any text that is neither `hf:...` nor a known model's name; write
    /// `./smollm2` for a file that happens to be called like a known model).
    Path(PathBuf),
    /// A file of a Hugging Face Hub repository: `hf:...`.
    Hub(HubSource),
    /// A model slm knows by name, from the model cache that `scripts/setup.sh` fills.
    Known(&'static KnownModel),
}

/// A file of a Hugging Face Hub model repository.
///
/// ```
/// use slm_llamacpp::source::{HubFile, HubSource};
/// let hub = HubSource::new("Qwen/Qwen2.5-0.5B-Instruct-GGUF", HubFile::Quant("q4_k_m".into()));
/// assert_eq!(hub.to_string(), "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:q4_k_m");
/// assert_eq!(hub.revision(), "main");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubSource {
    /// `owner/name`.
    pub repo: String,
    /// Which file.
    pub file: HubFile,
    /// A branch, tag or commit (`main` when `None`).
    pub revision: Option<String>,
    /// The sha256 the file must have (lowercase hex), checked after download and on cache hits.
    pub sha256: Option<String>,
}

/// Which file of a Hub repository.
///
/// ```
/// use slm_llamacpp::source::HubFile;
/// assert!(HubFile::Quant("Q4_K_M".into()).matches("smollm2-135m-instruct-q4_k_m.gguf"));
/// assert!(!HubFile::Quant("Q4_K_M".into()).matches("smollm2-q4_k_m.bin"));
/// assert!(HubFile::OnlyGguf.matches("model.GGUF"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HubFile {
    /// The file at this path in the repository: `hf:owner/repo/path/file.gguf`.
    Name(String),
    /// The one `.gguf` file whose name contains this text, ignoring case: `hf:owner/repo:Q4_K_M`.
    Quant(String),
    /// The repository's only `.gguf` file: `hf:owner/repo`.
    OnlyGguf,
}

impl HubFile {
    /// Whether a repository file is a candidate for [`HubFile::Quant`] or [`HubFile::OnlyGguf`]
    /// (for [`HubFile::Name`]: whether it is that file).
    pub fn matches(&self, file: &str) -> bool {
        let is_gguf = file.to_ascii_lowercase().ends_with(".gguf");
        match self {
            HubFile::Name(name) => name == file,
            HubFile::Quant(quant) => {
                is_gguf
                    && file
                        .to_ascii_lowercase()
                        .contains(&quant.to_ascii_lowercase())
            }
            HubFile::OnlyGguf => is_gguf,
        }
    }

    fn quant_text(&self) -> &str {
        match self {
            HubFile::Quant(q) => q,
            _ => "",
        }
    }
}

impl HubSource {
    /// A file of `repo` at its main branch, not pinned to a hash.
    pub fn new(repo: impl Into<String>, file: HubFile) -> Self {
        HubSource {
            repo: repo.into(),
            file,
            revision: None,
            sha256: None,
        }
    }

    /// The revision asked for: [`HubSource::revision`]'s value, or `main`.
    pub fn revision(&self) -> &str {
        self.revision.as_deref().unwrap_or("main")
    }
}

/// Where and how to reach the Hub, and where the caches are.
///
/// [`HubConfig::from_env`] reads the variables `huggingface_hub` reads; tests and embedders build
/// one explicitly, so nothing depends on the process environment. `Debug` never shows the token.
///
/// ```
/// use slm_llamacpp::source::HubConfig;
/// let config = HubConfig::new("http://127.0.0.1:8080", "/tmp/hf-cache").with_token("hf_secret");
/// assert!(!format!("{config:?}").contains("hf_secret"));
/// ```
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The Hub's base URL (`HF_ENDPOINT`, default [`HUB_ENDPOINT`]).
    pub endpoint: String,
    /// The Hub cache (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    pub cache_dir: PathBuf,
    /// The access token for private and gated repositories (`HF_TOKEN`, else `$HF_HOME/token`).
    pub token: Option<SecretString>,
    /// The model cache where known models live ([`model_home`]: `$SLM_HOME`).
    pub model_home: PathBuf,
    /// Only use what is cached (`HF_HUB_OFFLINE=1`).
    pub offline: bool,
}

impl HubConfig {
    /// A configuration for the Hub at `endpoint` with the Hub cache in `cache_dir`: no token,
    /// online, known models from [`model_home`].
    ///
    /// ```
    /// let c = slm_llamacpp::source::HubConfig::new("http://localhost:1234/", "/tmp/hub");
    /// assert_eq!(c.endpoint, "http://localhost:1234");
    /// assert!(c.token.is_none() && !c.offline);
    /// ```
    pub fn new(endpoint: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        HubConfig {
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            cache_dir: cache_dir.into(),
            token: None,
            model_home: model_home(),
            offline: false,
        }
    }

    /// The configuration the environment describes: `HF_ENDPOINT`, `HF_HUB_CACHE` / `HF_HOME`,
    /// `HF_TOKEN` (or the token file `huggingface-cli login` writes), `HF_HUB_OFFLINE`, and
    /// `SLM_HOME` for known models.
    ///
    /// ```
    /// let c = slm_llamacpp::source::HubConfig::from_env();
    /// assert!(c.endpoint.starts_with("http"));
    /// ```
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let hf_home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir)
                .join(".cache")
                .join("huggingface")
        });
        let cache_dir = var("HF_HUB_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| hf_home.join("hub"));
        let token = var("HF_TOKEN")
            .or_else(|| {
                let path = var("HF_TOKEN_PATH")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| hf_home.join("token"));
                std::fs::read_to_string(path).ok()
            })
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        let mut config = HubConfig::new(
            var("HF_ENDPOINT").unwrap_or_else(|| HUB_ENDPOINT.to_string()),
            cache_dir,
        )
        .with_offline(offline);
        config.token = token.map(SecretString::from);
        config
    }

    /// The same, with an access token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(SecretString::from(token.into()));
        self
    }

    /// The same, with known models looked up in `dir` instead of [`model_home`].
    ///
    /// ```
    /// use slm_llamacpp::source::{HubConfig, ModelSource};
    /// let home = tempfile::tempdir().unwrap();
    /// let config = HubConfig::new("http://127.0.0.1:9", home.path()).with_model_home(home.path());
    /// let err = "smollm2".parse::<ModelSource>().unwrap().resolve_with(&config, &mut |_| {}).unwrap_err();
    /// assert!(matches!(err, slm_llamacpp::LlamaCppError::ModelNotCached { .. }));
    /// ```
    pub fn with_model_home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_home = dir.into();
        self
    }

    /// The same, offline (`true`) or not: offline, only cached files resolve.
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    fn api(&self) -> Result<Api, LlamaCppError> {
        // `from_cache` would pick up the token file next to the cache: the token is ours to set.
        ApiBuilder::from_cache(Cache::new(self.cache_dir.clone()))
            .with_endpoint(self.endpoint.clone())
            .with_token(self.token.as_ref().map(|t| t.expose_secret().to_string()))
            .with_progress(false)
            .with_user_agent("slm", env!("CARGO_PKG_VERSION"))
            .build()
            .map_err(|e| LlamaCppError::Download {
                url: self.endpoint.clone(),
                reason: format!("could not set up the HTTP client: {e}"),
            })
    }
}

/// What [`ModelSource::resolve`] is doing, for progress bars and logs. Libraries print nothing:
/// the caller decides what to show.
///
/// ```
/// use slm_llamacpp::source::DownloadEvent;
/// let e = DownloadEvent::Progress { file: "m.gguf".into(), downloaded: 5, total_bytes: 10 };
/// assert_eq!(serde_json::to_value(&e).unwrap()["event"], "progress");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DownloadEvent {
    /// Listing a repository's files to pick one by quantization.
    Listing {
        /// `owner/name`.
        repo: String,
    },
    /// The file was in the cache: nothing to download.
    Cached {
        /// The cached file.
        path: PathBuf,
    },
    /// A download starts.
    Started {
        /// The file in the repository.
        file: String,
        /// Its size.
        total_bytes: u64,
    },
    /// Bytes received so far (about 200 events per file at most).
    Progress {
        /// The file in the repository.
        file: String,
        /// Bytes received.
        downloaded: u64,
        /// The file's size.
        total_bytes: u64,
    },
    /// The download is complete; its size and sha256 are being checked.
    Verifying {
        /// The file in the repository.
        file: String,
    },
    /// Downloaded and checked.
    Done {
        /// The file in the cache.
        path: PathBuf,
    },
}

impl ModelSource {
    /// The local GGUF file this source names, downloading it first if it is a Hub file that is
    /// not cached; the configuration comes from the environment ([`HubConfig::from_env`]).
    ///
    /// **Blocking**: it may download hundreds of megabytes. In async code use
    /// [`ModelSource::resolve_async`] (or `spawn_blocking`). A path is returned as it is
    /// (loading checks it); a known model must be in the model cache.
    ///
    /// ```no_run
    /// use slm_llamacpp::source::{DownloadEvent, ModelSource};
    /// let src: ModelSource = "hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M".parse()?;
    /// let path = src.resolve(&mut |event| {
    ///     if let DownloadEvent::Progress { downloaded, total_bytes, .. } = event {
    ///         eprint!("\r{downloaded}/{total_bytes}");
    ///     }
    /// })?;
    /// let model = slm_llamacpp::LlamaCppModel::load(&path, Default::default())?;
    /// # Ok::<(), slm_llamacpp::LlamaCppError>(())
    /// ```
    pub fn resolve(
        &self,
        progress: &mut dyn FnMut(&DownloadEvent),
    ) -> Result<PathBuf, LlamaCppError> {
        self.resolve_with(&HubConfig::from_env(), progress)
    }

    /// Like [`ModelSource::resolve`], with an explicit configuration. Blocking.
    ///
    /// A named Hub file is looked up in the cache first and used without asking the Hub. A
    /// quantization is matched against the repository's listing (one small request; offline,
    /// or when the Hub cannot be reached, against the cached files). A file not cached is
    /// downloaded, its size and sha256 checked, and only then kept in the cache.
    ///
    /// ```
    /// use slm_llamacpp::source::{HubConfig, ModelSource};
    /// let cache = tempfile::tempdir().unwrap();
    /// // Nothing listens on port 9: a typed download error, no panic, nothing left behind.
    /// let config = HubConfig::new("http://127.0.0.1:9", cache.path());
    /// let src: ModelSource = "hf:o/r/m.gguf".parse().unwrap();
    /// let err = src.resolve_with(&config, &mut |_| {}).unwrap_err();
    /// assert!(matches!(err, slm_llamacpp::LlamaCppError::Download { .. }), "{err}");
    /// ```
    pub fn resolve_with(
        &self,
        config: &HubConfig,
        progress: &mut dyn FnMut(&DownloadEvent),
    ) -> Result<PathBuf, LlamaCppError> {
        match self {
            ModelSource::Path(path) => Ok(path.clone()),
            ModelSource::Known(model) => model.locate_in(&config.model_home),
            ModelSource::Hub(hub) => resolve_hub(hub, config, progress),
        }
    }

    /// [`ModelSource::resolve_with`] on tokio's blocking pool. Needs a tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use slm_llamacpp::source::{HubConfig, ModelSource};
    /// let src: ModelSource = "m.gguf".parse().unwrap();
    /// let path = src.resolve_async(HubConfig::new("http://127.0.0.1:9", "/tmp"), |_| {}).await.unwrap();
    /// assert_eq!(path, std::path::PathBuf::from("m.gguf"));
    /// # });
    /// ```
    pub async fn resolve_async(
        &self,
        config: HubConfig,
        mut progress: impl FnMut(&DownloadEvent) + Send + 'static,
    ) -> Result<PathBuf, LlamaCppError> {
        let source = self.clone();
        tokio::task::spawn_blocking(move || source.resolve_with(&config, &mut progress))
            .await
            .map_err(|e| LlamaCppError::Download {
                url: self.to_string(),
                reason: format!("the download task stopped: {e}"),
            })?
    }

    /// Whether resolving may download (a Hub file).
    ///
    /// ```
    /// assert!("hf:o/r:Q8_0".parse::<slm_llamacpp::source::ModelSource>().unwrap().is_remote());
    /// assert!(!"smollm2".parse::<slm_llamacpp::source::ModelSource>().unwrap().is_remote());
    /// ```
    pub fn is_remote(&self) -> bool {
        matches!(self, ModelSource::Hub(_))
    }
}

impl From<PathBuf> for ModelSource {
    fn from(path: PathBuf) -> Self {
        ModelSource::Path(path)
    }
}

impl From<&Path> for ModelSource {
    fn from(path: &Path) -> Self {
        ModelSource::Path(path.to_path_buf())
    }
}

impl FromStr for ModelSource {
    type Err = LlamaCppError;

    fn from_str(text: &str) -> Result<Self, LlamaCppError> {
        if let Some(rest) = text.strip_prefix("hf:") {
            return parse_hub(text, rest).map(ModelSource::Hub);
        }
        if text.is_empty() {
            return Err(invalid(text, "empty"));
        }
        if !text.contains(['/', '\\'])
            && let Some(known) = KnownModel::find(text)
        {
            return Ok(ModelSource::Known(known));
        }
        Ok(ModelSource::Path(PathBuf::from(text)))
    }
}

impl FromStr for HubSource {
    type Err = LlamaCppError;

    fn from_str(text: &str) -> Result<Self, LlamaCppError> {
        let rest = text
            .strip_prefix("hf:")
            .ok_or_else(|| invalid(text, "a Hub source starts with hf:"))?;
        parse_hub(text, rest)
    }
}

impl TryFrom<String> for ModelSource {
    type Error = LlamaCppError;

    fn try_from(text: String) -> Result<Self, LlamaCppError> {
        text.parse()
    }
}

impl From<ModelSource> for String {
    fn from(source: ModelSource) -> String {
        source.to_string()
    }
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSource::Path(path) => write!(f, "{}", path.display()),
            ModelSource::Hub(hub) => hub.fmt(f),
            ModelSource::Known(model) => f.write_str(model.name),
        }
    }
}

impl fmt::Display for HubSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hf:{}", self.repo)?;
        match &self.file {
            HubFile::Name(name) => write!(f, "/{name}")?,
            HubFile::Quant(quant) => write!(f, ":{quant}")?,
            HubFile::OnlyGguf => {}
        }
        if let Some(revision) = &self.revision {
            write!(f, "@{revision}")?;
        }
        if let Some(sha) = &self.sha256 {
            write!(f, "#sha256={sha}")?;
        }
        Ok(())
    }
}

const FORMS: &str = "expected hf:owner/repo/file.gguf, hf:owner/repo:QUANT or hf:owner/repo, then optional @revision and #sha256=HEX";

fn invalid(text: &str, reason: &str) -> LlamaCppError {
    LlamaCppError::InvalidSource {
        source_text: text.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_hub(text: &str, rest: &str) -> Result<HubSource, LlamaCppError> {
    let bad = |why: &str| invalid(text, &format!("{why}; {FORMS}"));
    let (rest, sha256) = match rest.split_once('#') {
        Some((rest, fragment)) => {
            let sha = fragment
                .strip_prefix("sha256=")
                .ok_or_else(|| bad("the part after # must be sha256=HEX"))?;
            if !is_sha256(sha) {
                return Err(bad("the sha256 must be 64 hexadecimal digits"));
            }
            (rest, Some(sha.to_ascii_lowercase()))
        }
        None => (rest, None),
    };
    let (rest, revision) = match rest.rsplit_once('@') {
        Some((rest, revision)) => {
            if !is_safe_path(revision, |c| {
                c.is_ascii_alphanumeric() || "-_./".contains(c)
            }) {
                return Err(bad(
                    "the revision after @ is empty or not a branch, tag or commit",
                ));
            }
            (rest, Some(revision.to_string()))
        }
        None => (rest, None),
    };
    let (repo, file) = match rest.split_once(':') {
        Some((repo, quant)) => {
            if quant.is_empty() || quant.contains(['/', ':']) {
                return Err(bad("the quantization after : is empty or holds / or :"));
            }
            (repo, HubFile::Quant(quant.to_string()))
        }
        None => {
            let mut parts = rest.splitn(3, '/');
            let owner = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            let repo = &rest[..(owner.len() + 1 + name.len()).min(rest.len())];
            match parts.next() {
                Some(file) => {
                    if !is_safe_path(file, |c| !c.is_control() && c != '\\') {
                        return Err(bad("the file path is empty or leaves the repository"));
                    }
                    (repo, HubFile::Name(file.to_string()))
                }
                None => (repo, HubFile::OnlyGguf),
            }
        }
    };
    let valid_part = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match repo.split_once('/') {
        Some((owner, name)) if valid_part(owner) && valid_part(name) => {}
        _ => return Err(bad("the repository must be owner/name")),
    }
    Ok(HubSource {
        repo: repo.to_string(),
        file,
        revision,
        sha256,
    })
}

/// A relative path of `/`-separated parts, none empty, `.` or `..`.
fn is_safe_path(path: &str, char_ok: impl Fn(char) -> bool) -> bool {
    !path.is_empty()
        && path.chars().all(char_ok)
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
}

fn resolve_hub(
    hub: &HubSource,
    config: &HubConfig,
    progress: &mut dyn FnMut(&DownloadEvent),
) -> Result<PathBuf, LlamaCppError> {
    let repo = Repo::with_revision(
        hub.repo.clone(),
        RepoType::Model,
        hub.revision().to_string(),
    );
    let cache = Cache::new(config.cache_dir.clone()).repo(repo.clone());
    let file = match &hub.file {
        HubFile::Name(name) => name.clone(),
        select => pick_file(hub, select, config, &repo, progress)?,
    };
    if let Some(path) = cache.get(&file) {
        check_cached(&path, hub.sha256.as_deref())?;
        tracing::debug!(path = %path.display(), "Hub file found in the cache");
        progress(&DownloadEvent::Cached { path: path.clone() });
        return Ok(path);
    }
    let api = config.api()?;
    let api_repo = api.repo(repo);
    let url = api_repo.url(&file);
    if config.offline {
        return Err(LlamaCppError::Download {
            url,
            reason: format!(
                "offline (HF_HUB_OFFLINE) and not in the Hub cache {}",
                config.cache_dir.display()
            ),
        });
    }
    let meta = no_panic(&url, || api.metadata(&url))?.map_err(|e| hub_error(&url, e))?;
    let etag = meta.etag().to_string();
    if etag.is_empty()
        || !etag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(LlamaCppError::Download {
            url,
            reason: format!("unexpected ETag {etag:?} (is {} a Hub?)", config.endpoint),
        });
    }
    // An LFS file's ETag is its sha256; a small git file's is a git hash, which we do not check.
    let hub_sha = is_sha256(&etag).then(|| etag.to_ascii_lowercase());
    if let (Some(pinned), Some(hub_sha)) = (&hub.sha256, &hub_sha)
        && pinned != hub_sha
    {
        return Err(LlamaCppError::ChecksumMismatch {
            path: PathBuf::from(&url),
            expected: pinned.clone(),
            actual: hub_sha.clone(),
        });
    }
    let expected = meta.size() as u64;
    let blob = cache.blob_path(&etag);
    let leftovers = [blob.with_extension("part"), blob.with_extension("lock")];
    tracing::info!(%url, bytes = expected, "downloading from the Hub");
    let mut adapter = ProgressAdapter::new(&file, progress);
    let downloaded = no_panic(&url, || {
        api_repo.download_with_progress(&file, &mut adapter)
    })
    .inspect_err(|_| remove_all(&leftovers))?;
    let progress = adapter.sink;
    let path = match downloaded {
        Ok(path) => path,
        Err(e) => {
            let received = std::fs::metadata(&leftovers[0]).map_or(0, |m| m.len());
            let status_error = matches!(&e, ApiError::RequestError(b) if matches!(**b, ureq::Error::StatusCode(_)));
            // A lock held by another download is theirs: leave their partial file alone.
            if !matches!(e, ApiError::LockAcquisition(_)) {
                remove_all(&leftovers);
            }
            if !status_error && received > 0 && received < expected {
                return Err(LlamaCppError::TruncatedDownload {
                    url,
                    expected,
                    received,
                });
            }
            return Err(hub_error(&url, e));
        }
    };
    progress(&DownloadEvent::Verifying { file: file.clone() });
    let reject = |err: LlamaCppError| {
        // Unlink the snapshot entry and the blob: the next resolve downloads again.
        remove_all(&[path.clone(), blob.clone(), leftovers[1].clone()]);
        Err(err)
    };
    let received = std::fs::metadata(&blob).map_or(0, |m| m.len());
    if received != expected {
        return reject(LlamaCppError::TruncatedDownload {
            url,
            expected,
            received,
        });
    }
    if hub_sha.is_some() || hub.sha256.is_some() {
        let actual = sha256_file(&blob)?;
        for wanted in [&hub_sha, &hub.sha256].into_iter().flatten() {
            if &actual != wanted {
                return reject(LlamaCppError::ChecksumMismatch {
                    path: path.clone(),
                    expected: wanted.clone(),
                    actual,
                });
            }
        }
    }
    tracing::info!(path = %path.display(), "downloaded and verified");
    progress(&DownloadEvent::Done { path: path.clone() });
    Ok(path)
}

/// A cache hit pinned to a hash: the blob's name is the sha256 it was verified against when it
/// was downloaded; a blob named otherwise (a small git file) is hashed.
fn check_cached(path: &Path, pinned: Option<&str>) -> Result<(), LlamaCppError> {
    let Some(pinned) = pinned else { return Ok(()) };
    let blob = std::fs::canonicalize(path).map_err(|e| LlamaCppError::io(path, &e))?;
    let name = blob.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let actual = if is_sha256(name) {
        name.to_ascii_lowercase()
    } else {
        sha256_file(&blob)?
    };
    if actual != pinned {
        return Err(LlamaCppError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: pinned.to_string(),
            actual,
        });
    }
    Ok(())
}

/// Picks the file a quantization names among the repository's files as the Hub lists them
/// (one small request); offline, or when the Hub cannot be reached, among the revision's
/// cached files.
fn pick_file(
    hub: &HubSource,
    select: &HubFile,
    config: &HubConfig,
    repo: &Repo,
    progress: &mut dyn FnMut(&DownloadEvent),
) -> Result<String, LlamaCppError> {
    let choose = |files: Vec<String>| -> Result<String, LlamaCppError> {
        let ggufs: Vec<String> = files
            .into_iter()
            .filter(|f| HubFile::OnlyGguf.matches(f))
            .collect();
        let mut candidates: Vec<String> = ggufs
            .iter()
            .filter(|f| select.matches(f))
            .cloned()
            .collect();
        match candidates.len() {
            1 => Ok(candidates.remove(0)),
            0 => Err(LlamaCppError::NoMatchingFile {
                repo: hub.repo.clone(),
                quant: select.quant_text().to_string(),
                available: ggufs,
            }),
            _ => Err(LlamaCppError::AmbiguousFile {
                repo: hub.repo.clone(),
                quant: select.quant_text().to_string(),
                candidates,
            }),
        }
    };
    let url = format!("{}/api/{}", config.endpoint, repo.api_url());
    let unreachable = if config.offline {
        LlamaCppError::Download {
            url,
            reason: format!(
                "offline (HF_HUB_OFFLINE) and no cached file matches in {}",
                config.cache_dir.display()
            ),
        }
    } else {
        progress(&DownloadEvent::Listing {
            repo: hub.repo.clone(),
        });
        let api_repo = config.api()?.repo(repo.clone());
        let listed = no_panic(&url, || api_repo.info())?.map_err(|e| hub_error(&url, e));
        match listed {
            Ok(info) => {
                let files = info
                    .siblings
                    .into_iter()
                    .map(|s| s.rfilename)
                    // A listing is the server's word: never follow a name out of the repository.
                    .filter(|f| is_safe_path(f, |c| !c.is_control() && c != '\\'))
                    .collect();
                return choose(files);
            }
            // No answer (network, server error): what the cache holds may do.
            Err(e @ LlamaCppError::Download { .. }) => {
                tracing::warn!(error = %e, "could not list the repository; trying the cache");
                e
            }
            Err(e) => return Err(e),
        }
    };
    match choose(cached_files(&config.cache_dir, repo)) {
        Ok(file) => Ok(file),
        Err(e @ LlamaCppError::AmbiguousFile { .. }) => Err(e),
        Err(_) => Err(unreachable),
    }
}

/// The files of a revision's snapshot in the Hub cache whose blobs are present.
fn cached_files(cache_dir: &Path, repo: &Repo) -> Vec<String> {
    let repo_dir = cache_dir.join(repo.folder_name());
    let Ok(commit) = std::fs::read_to_string(repo_dir.join("refs").join(repo.revision())) else {
        return Vec::new();
    };
    let root = repo_dir.join("snapshots").join(commit.trim());
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if path.is_file()
                && let Ok(rel) = path.strip_prefix(&root)
            {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                files.push(parts.join("/"));
            }
        }
    }
    files.sort();
    files
}

/// hf-hub asserts a few things about the server's answers (a redirect has a location, a link
/// it made exists): should one fail, that is a download error, not a panic across our API.
fn no_panic<T>(url: &str, f: impl FnOnce() -> T) -> Result<T, LlamaCppError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| LlamaCppError::Download {
        url: url.to_string(),
        reason: "the Hub client failed on an unexpected response".into(),
    })
}

fn remove_all(paths: &[PathBuf]) {
    for path in paths {
        match std::fs::remove_file(path) {
            Ok(()) => tracing::debug!(path = %path.display(), "removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not remove"),
        }
    }
}

fn hub_error(url: &str, error: ApiError) -> LlamaCppError {
    let url = url.to_string();
    match error {
        ApiError::RequestError(e) => match *e {
            ureq::Error::StatusCode(status @ (401 | 403 | 404)) => {
                LlamaCppError::HubNotFound { url, status }
            }
            ureq::Error::StatusCode(status) => LlamaCppError::Download {
                url,
                reason: format!("HTTP {status}"),
            },
            other => LlamaCppError::Download {
                url,
                reason: other.to_string(),
            },
        },
        ApiError::MissingHeader(header) => LlamaCppError::Download {
            url,
            reason: format!("the server sent no {header} header (is it a Hugging Face Hub?)"),
        },
        other => LlamaCppError::Download {
            url,
            reason: other.to_string(),
        },
    }
}

/// hf-hub's [`Progress`] as [`DownloadEvent`]s, at most about 200 per file.
struct ProgressAdapter<'a> {
    file: String,
    total: u64,
    done: u64,
    reported: u64,
    started: bool,
    sink: &'a mut dyn FnMut(&DownloadEvent),
}

impl<'a> ProgressAdapter<'a> {
    fn new(file: &str, sink: &'a mut dyn FnMut(&DownloadEvent)) -> Self {
        ProgressAdapter {
            file: file.to_string(),
            total: 0,
            done: 0,
            reported: 0,
            started: false,
            sink,
        }
    }
}

impl Progress for &mut ProgressAdapter<'_> {
    fn init(&mut self, size: usize, _filename: &str) {
        self.total = size as u64;
        if !self.started {
            self.started = true;
            (self.sink)(&DownloadEvent::Started {
                file: self.file.clone(),
                total_bytes: self.total,
            });
        }
    }

    fn update(&mut self, size: usize) {
        self.done += size as u64;
        let step = (self.total / 200).max(64 * 1024);
        if self.done >= self.reported + step
            || (self.done == self.total && self.done > self.reported)
        {
            self.reported = self.done;
            (self.sink)(&DownloadEvent::Progress {
                file: self.file.clone(),
                downloaded: self.done,
                total_bytes: self.total,
            });
        }
    }

    fn finish(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        let sha = "AB".repeat(32);
        let texts = [
            "model.gguf".to_string(),
            "./smollm2".into(),
            "/abs/dir/x.Q4_K_M.gguf".into(),
            "gemma-3-270m".into(),
            "hf:o/r".into(),
            "hf:o/r@v2".into(),
            "hf:o/r:Q4_K_M@refs/pr/1".into(),
            "hf:owner.x/repo-y_z/dir/sub/file.gguf".into(),
            format!("hf:o/r/f.gguf#sha256={sha}"),
            format!("hf:o/r/f.gguf@abc123#sha256={sha}"),
        ];
        for text in &texts {
            let parsed: ModelSource = text.parse().unwrap();
            let again: ModelSource = parsed.to_string().parse().unwrap();
            assert_eq!(again, parsed, "{text}");
            let json = serde_json::to_string(&parsed).unwrap();
            assert_eq!(serde_json::from_str::<ModelSource>(&json).unwrap(), parsed);
        }
        assert!(matches!(texts[1].parse(), Ok(ModelSource::Path(_))));
        let ModelSource::Hub(hub) = texts[9].parse().unwrap() else {
            panic!("not a Hub source")
        };
        assert_eq!(
            hub.sha256.as_deref(),
            Some(sha.to_ascii_lowercase().as_str())
        );
        assert_eq!(hub.revision(), "abc123");
        assert_eq!(hub.file, HubFile::Name("f.gguf".into()));
    }

    #[test]
    fn malformed_hub_sources_are_typed_errors() {
        for text in [
            "hf:",
            "hf:repo-only",
            "hf:o/",
            "hf:/r",
            "hf:o/r/",
            "hf:o/r:",
            "hf:o/r/../../etc/passwd",
            "hf:o/r/a//b.gguf",
            "hf:o/r/f.gguf@",
            "hf:o/r/f.gguf@../x",
            "hf:o/r/f.gguf#md5=00",
            "hf:o/r/f.gguf#sha256=123",
            "hf:o w/r/f.gguf",
            "hf:../r/f.gguf",
            "",
        ] {
            let err = text.parse::<ModelSource>().unwrap_err();
            assert!(
                matches!(err, LlamaCppError::InvalidSource { .. }),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn quant_matching_ignores_case_and_needs_gguf() {
        let q = HubFile::Quant("q4_k_m".into());
        assert!(q.matches("SmolLM2-135M-Instruct-Q4_K_M.gguf"));
        assert!(!q.matches("SmolLM2-135M-Instruct-Q4_K_S.gguf"));
        assert!(!q.matches("Q4_K_M/README.md"));
    }
}
