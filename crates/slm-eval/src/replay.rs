//! A model that answers from a file of recorded answers, keyed by prompt.
//!
//! Used by the `replay:` model spec: for tests (a real file, a real CLI, no model), for
//! re-scoring answers recorded elsewhere, and as a perfect "oracle" when pointed at the dataset
//! itself (rows `{"prompt", "completion"}` answer with their reference).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use slm_core::{
    Capabilities, ChatModel, ChatRequest, ChatResponse, Error, ScriptedModel, async_trait,
};

use crate::{EvalError, Result};

#[derive(Deserialize)]
struct ReplayRow {
    prompt: String,
    #[serde(default)]
    reply: Option<String>,
    #[serde(default)]
    completion: Option<String>,
}

/// Answers each request with the recorded reply for its last user message.
///
/// ```
/// use slm_core::{ChatModel, ChatRequest};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let model = slm_eval::ReplayModel::from_pairs("recorded", [("2+2?", "4")]);
/// let answer = model.chat(ChatRequest::builder().user("2+2?").build()).await.unwrap();
/// assert_eq!(answer.text(), "4");
/// assert!(model.chat(ChatRequest::builder().user("3+3?").build()).await.is_err());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct ReplayModel {
    id: String,
    answers: HashMap<String, String>,
    delay: Duration,
}

impl ReplayModel {
    /// A model from `(prompt, reply)` pairs.
    ///
    /// ```
    /// let m = slm_eval::ReplayModel::from_pairs("m", [("q1", "a1"), ("q2", "a2")]);
    /// assert_eq!(m.len(), 2);
    /// ```
    pub fn from_pairs<P: Into<String>, R: Into<String>>(
        id: impl Into<String>,
        pairs: impl IntoIterator<Item = (P, R)>,
    ) -> Self {
        Self {
            id: id.into(),
            answers: pairs
                .into_iter()
                .map(|(p, r)| (p.into(), r.into()))
                .collect(),
            delay: Duration::ZERO,
        }
    }

    /// Reads a JSONL file of `{"prompt", "reply"}` rows (`completion` is used when `reply` is
    /// absent, so a dataset replays its own references).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("answers.jsonl");
    /// std::fs::write(&path, "{\"prompt\": \"p\", \"completion\": \"{}\"}\n").unwrap();
    /// let m = slm_eval::ReplayModel::load(&path, "oracle").unwrap();
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn load(path: &Path, id: impl Into<String>) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| EvalError::io(path, e))?;
        let rows: Vec<ReplayRow> = crate::data::parse_jsonl(path, &bytes)?;
        let mut answers = HashMap::new();
        for (i, row) in rows.into_iter().enumerate() {
            let reply = row
                .reply
                .or(row.completion)
                .ok_or_else(|| EvalError::Line {
                    path: path.into(),
                    line: i + 1,
                    message: "row has neither \"reply\" nor \"completion\"".into(),
                })?;
            answers.insert(row.prompt, reply);
        }
        Ok(Self {
            id: id.into(),
            answers,
            delay: Duration::ZERO,
        })
    }

    /// Waits this long before each answer (simulated latency).
    ///
    /// ```
    /// let m = slm_eval::ReplayModel::from_pairs("m", [("a", "b")]).with_delay(std::time::Duration::from_millis(5));
    /// assert_eq!(m.len(), 1);
    /// ```
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Number of recorded answers.
    ///
    /// ```
    /// assert_eq!(slm_eval::ReplayModel::from_pairs("m", [("q", "a")]).len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether there are no recorded answers.
    ///
    /// ```
    /// assert!(slm_eval::ReplayModel::from_pairs("m", Vec::<(String, String)>::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

#[async_trait]
impl ChatModel for ReplayModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            streaming: true,
            ..Capabilities::default()
        }
    }

    async fn chat(&self, request: ChatRequest) -> slm_core::Result<ChatResponse> {
        let prompt = request.last_user_text().unwrap_or_default();
        let Some(reply) = self.answers.get(prompt) else {
            let excerpt: String = prompt.chars().take(60).collect();
            return Err(Error::Backend(
                format!("no recorded answer for prompt {excerpt:?}"),
                None,
            ));
        };
        // ScriptedModel measures timings and counts words as tokens like a real backend.
        ScriptedModel::new(self.id.clone())
            .reply(reply.clone())
            .latency(self.delay, Duration::ZERO)
            .chat(request)
            .await
    }

    /// `replay:sha256=…` of the recorded answers (prompt and reply pairs, in prompt order):
    /// another answer file, or one changed answer, is another identity.
    async fn identity(&self) -> slm_core::Result<Option<String>> {
        let mut pairs: Vec<_> = self.answers.iter().collect();
        pairs.sort();
        let json = serde_json::to_string(&pairs).unwrap_or_default();
        Ok(Some(format!(
            "replay:sha256={}",
            crate::data::sha256_hex(json.as_bytes())
        )))
    }
}
