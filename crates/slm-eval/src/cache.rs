//! The response cache: a model's answer to a request, stored under a key made of what decides
//! the answer (the model's [`ChatModel::identity`](slm_core::ChatModel::identity) and the whole
//! request: messages, sampling options, constraint, tools), so a rerun of an unchanged
//! evaluation asks the model nothing.
//!
//! One SQLite file (`responses.sqlite3` in the cache directory), in WAL mode: several processes
//! may read and write it at once (a writer waits for the others), and a process killed in the
//! middle of a write leaves the last committed answers intact.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use slm_core::{ChatRequest, ChatResponse};

use crate::{EvalError, Result};

/// The file a cache directory holds.
pub const CACHE_FILE: &str = "responses.sqlite3";

/// Bumped when the key or the stored answer changes meaning: old entries then never match.
const KEY_VERSION: &str = "slm-eval-response-cache/1";

/// How long a writer waits for another process's write before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A model's stored answer, with the latencies measured when it was asked.
///
/// ```
/// let a = slm_eval::cache::CachedAnswer {
///     response: slm_core::ChatResponse::from_text("m", "{}"),
///     ttft_ms: 12.0,
///     total_ms: 40.0,
/// };
/// let json = serde_json::to_string(&a).unwrap();
/// assert_eq!(serde_json::from_str::<slm_eval::cache::CachedAnswer>(&json).unwrap(), a);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    /// The whole response (message, tool calls, usage, the backend's timings).
    pub response: ChatResponse,
    /// Time to first token measured when the model answered (ms).
    pub ttft_ms: f64,
    /// Total latency measured when the model answered (ms).
    pub total_ms: f64,
}

/// An open response cache; clones share one connection.
///
/// ```
/// use slm_core::{ChatRequest, ChatResponse};
/// use slm_eval::cache::{CachedAnswer, ResponseCache};
/// let dir = tempfile::tempdir().unwrap();
/// let cache = ResponseCache::open(dir.path()).unwrap();
/// let request = ChatRequest::builder().user("Give me JSON").build();
/// let key = ResponseCache::key("llamacpp:sha256=ab12", &request);
/// assert_eq!(cache.get(&key).unwrap(), None);
/// let answer = CachedAnswer { response: ChatResponse::from_text("m", "{}"), ttft_ms: 5.0, total_ms: 9.0 };
/// cache.put(&key, "llamacpp:sha256=ab12", &answer).unwrap();
/// // Another process (here: another connection) sees it.
/// let again = ResponseCache::open(dir.path()).unwrap();
/// assert_eq!(again.get(&key).unwrap(), Some(answer));
/// assert_eq!(again.len().unwrap(), 1);
/// ```
#[derive(Clone)]
pub struct ResponseCache {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Two handles are equal when they use the same file.
impl PartialEq for ResponseCache {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl ResponseCache {
    /// Opens (or creates) the cache in `dir`, creating the directory.
    ///
    /// A file there that is not an SQLite database is an error ([`EvalError::Cache`]), never
    /// overwritten.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join(slm_eval::cache::CACHE_FILE), "not a database").unwrap();
    /// let err = slm_eval::cache::ResponseCache::open(dir.path()).unwrap_err();
    /// assert!(err.to_string().contains("responses.sqlite3"), "{err}");
    /// ```
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
        let path = dir.join(CACHE_FILE);
        let failed = |e: rusqlite::Error| EvalError::Cache {
            path: path.clone(),
            message: e.to_string(),
        };
        let connection = Connection::open(&path).map_err(failed)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
        // WAL: readers never wait for a writer, and a killed writer's transaction is rolled
        // back on the next open. NORMAL sync is durable against a crashed process (not against
        // a power cut, which at worst loses the last answers: they are asked again). Switching
        // to WAL and creating the table take locks SQLite does not wait for through the busy
        // timeout when several processes open a new file at once: retried.
        retry_while_busy(|| {
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", "NORMAL")?;
            connection.execute_batch(
                "CREATE TABLE IF NOT EXISTS responses (
                    key TEXT PRIMARY KEY,
                    identity TEXT NOT NULL,
                    answer TEXT NOT NULL,
                    stored_at TEXT NOT NULL
                )",
            )
        })
        .map_err(failed)?;
        Ok(Self {
            path,
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// The database file.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = slm_eval::cache::ResponseCache::open(dir.path()).unwrap();
    /// assert!(cache.path().ends_with("responses.sqlite3"));
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key of a request to a model: sha256 (hex) of the model's identity and the whole
    /// request as JSON. Any change to either (one sampling option, one word of the system
    /// prompt, another weights file) is another key.
    ///
    /// ```
    /// use slm_core::{ChatRequest, GenerationOptions};
    /// use slm_eval::cache::ResponseCache;
    /// let request = ChatRequest::builder().user("hi").build();
    /// let key = ResponseCache::key("m1", &request);
    /// assert_eq!(key.len(), 64);
    /// assert_eq!(key, ResponseCache::key("m1", &request.clone()));
    /// assert_ne!(key, ResponseCache::key("m2", &request));
    /// let hotter = ChatRequest::builder().user("hi").options(GenerationOptions::default().with_temperature(0.7)).build();
    /// assert_ne!(key, ResponseCache::key("m1", &hotter));
    /// ```
    pub fn key(identity: &str, request: &ChatRequest) -> String {
        let key = serde_json::json!([KEY_VERSION, identity, request]);
        crate::data::sha256_hex(key.to_string().as_bytes())
    }

    /// The stored answer under `key`. An entry that no longer parses (written by another
    /// version) counts as absent.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = slm_eval::cache::ResponseCache::open(dir.path()).unwrap();
    /// assert_eq!(cache.get("0123").unwrap(), None);
    /// ```
    pub fn get(&self, key: &str) -> Result<Option<CachedAnswer>> {
        let text: Option<String> = self.with_connection(|c| {
            c.query_row(
                "SELECT answer FROM responses WHERE key = ?1",
                params![key],
                |row| row.get(0),
            )
            .optional()
        })?;
        Ok(text.and_then(|text| match serde_json::from_str(&text) {
            Ok(answer) => Some(answer),
            Err(e) => {
                tracing::warn!(key, error = %e, "unreadable cache entry; asking the model again");
                None
            }
        }))
    }

    /// Stores an answer under `key` (replacing any), in one transaction.
    ///
    /// ```
    /// use slm_eval::cache::{CachedAnswer, ResponseCache};
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = ResponseCache::open(dir.path()).unwrap();
    /// let answer = CachedAnswer { response: slm_core::ChatResponse::from_text("m", "x"), ttft_ms: 1.0, total_ms: 2.0 };
    /// cache.put("k", "m", &answer).unwrap();
    /// cache.put("k", "m", &answer).unwrap();
    /// assert_eq!(cache.len().unwrap(), 1);
    /// ```
    pub fn put(&self, key: &str, identity: &str, answer: &CachedAnswer) -> Result<()> {
        let text = serde_json::to_string(answer).map_err(|e| EvalError::Cache {
            path: self.path.clone(),
            message: format!("serializing an answer: {e}"),
        })?;
        let stored_at = crate::runner::now_rfc3339();
        self.with_connection(|c| {
            // IMMEDIATE takes the write lock up front (waiting through the busy timeout) rather
            // than upgrading a read, which SQLite refuses at once when another writer came first.
            let transaction = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            transaction.execute(
                "INSERT OR REPLACE INTO responses (key, identity, answer, stored_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![key, identity, text, stored_at],
            )?;
            transaction.commit()
        })?;
        Ok(())
    }

    /// Stored answers.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// assert_eq!(slm_eval::cache::ResponseCache::open(dir.path()).unwrap().len().unwrap(), 0);
    /// ```
    pub fn len(&self) -> Result<usize> {
        let n: i64 = self
            .with_connection(|c| c.query_row("SELECT COUNT(*) FROM responses", [], |r| r.get(0)))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Whether the cache holds no answer.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// assert!(slm_eval::cache::ResponseCache::open(dir.path()).unwrap().is_empty().unwrap());
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// SQLite's own check of the file: `Ok(())` when it reports "ok".
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// slm_eval::cache::ResponseCache::open(dir.path()).unwrap().check_integrity().unwrap();
    /// ```
    pub fn check_integrity(&self) -> Result<()> {
        let verdict: String =
            self.with_connection(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))?;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(EvalError::Cache {
                path: self.path.clone(),
                message: format!("integrity check: {verdict}"),
            })
        }
    }

    fn with_connection<T>(
        &self,
        mut work: impl FnMut(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let failed = |message: String| EvalError::Cache {
            path: self.path.clone(),
            message,
        };
        let mut connection = self
            .connection
            .lock()
            .map_err(|_| failed("a thread panicked while using the cache".into()))?;
        retry_while_busy(|| work(&mut connection)).map_err(|e| failed(e.to_string()))
    }
}

/// Runs `work` again while SQLite answers "busy" or "locked" without having waited (some lock
/// upgrades skip the busy timeout), for at most [`BUSY_TIMEOUT`].
fn retry_while_busy<T>(mut work: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match work() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}
