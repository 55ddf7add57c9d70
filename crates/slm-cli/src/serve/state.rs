//! What the server holds: its models (loading, ready or failed), their slots and queues, the API
//! keys and the counters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use slm::{ChatModel, ModelSpec};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::errors::ApiError;
use super::metrics::{Metrics, ModelGauges};

/// An API key the server accepts. Its `Debug` never shows it; it is compared in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl std::str::FromStr for ApiKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim();
        if key.is_empty() {
            return Err("an API key must not be empty".into());
        }
        Ok(Self(key.to_string()))
    }
}

impl ApiKey {
    /// Whether `given` is this key, in time that depends on the lengths only.
    pub fn matches(&self, given: &[u8]) -> bool {
        let key = self.0.as_bytes();
        let mut diff = key.len() ^ given.len();
        for i in 0..key.len().max(given.len()) {
            let a = key.get(i).copied().unwrap_or(0);
            let b = given.get(i).copied().unwrap_or(0);
            diff |= usize::from(a ^ b);
        }
        std::hint::black_box(diff) == 0
    }
}

/// Whether `given` is one of `keys` (every key is compared, whatever matches).
pub fn key_accepted(keys: &[ApiKey], given: &[u8]) -> bool {
    keys.iter().fold(false, |ok, key| key.matches(given) | ok)
}

/// A loaded model and its slots.
pub struct Ready {
    /// The model.
    pub model: Arc<dyn ChatModel>,
    /// One permit per request it answers at once.
    permits: Arc<Semaphore>,
    /// How many.
    pub slots: usize,
}

enum Load {
    Loading,
    Ready(Arc<Ready>),
    Failed(String),
}

/// One served model.
pub struct ModelSlot {
    /// Its name in the API: the spec's label.
    pub label: String,
    /// The spec, as parsed.
    pub spec: ModelSpec,
    /// Other names it answers to: the spec as given and as written back.
    aliases: Vec<String>,
    load: RwLock<Load>,
    in_flight: AtomicUsize,
    queued: AtomicUsize,
    queue_limit: usize,
}

impl ModelSlot {
    /// A model not loaded yet.
    pub fn new(given: &str, spec: ModelSpec, queue_limit: usize) -> Self {
        let label = spec.label();
        let mut aliases = vec![given.trim().to_string(), spec.to_string()];
        aliases.retain(|a| *a != label);
        aliases.dedup();
        Self {
            label,
            spec,
            aliases,
            load: RwLock::new(Load::Loading),
            in_flight: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            queue_limit,
        }
    }

    fn load(&self) -> std::sync::RwLockReadGuard<'_, Load> {
        self.load.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the model loaded.
    pub fn set_ready(&self, model: Arc<dyn ChatModel>, slots: usize) {
        let slots = slots.max(1);
        let ready = Ready {
            model,
            permits: Arc::new(Semaphore::new(slots)),
            slots,
        };
        *self.load.write().unwrap_or_else(|e| e.into_inner()) = Load::Ready(Arc::new(ready));
    }

    /// Marks the model failed.
    pub fn set_failed(&self, message: String) {
        *self.load.write().unwrap_or_else(|e| e.into_inner()) = Load::Failed(message);
    }

    /// Whether requests naming `name` go to this model: its label, its spec (as given or
    /// written back) or, once loaded, the model's own id.
    pub fn answers_to(&self, name: &str) -> bool {
        self.label == name
            || self.aliases.iter().any(|a| a == name)
            || matches!(&*self.load(), Load::Ready(r) if r.model.id() == name)
    }

    /// The other names it answers to.
    pub fn aliases(&self) -> Vec<String> {
        let mut names = self.aliases.clone();
        if let Load::Ready(r) = &*self.load()
            && r.model.id() != self.label
            && !names.iter().any(|n| n == r.model.id())
        {
            names.push(r.model.id().to_string());
        }
        names
    }

    /// `loading`, `ready` or `failed`.
    pub fn status(&self) -> &'static str {
        match &*self.load() {
            Load::Loading => "loading",
            Load::Ready(_) => "ready",
            Load::Failed(_) => "failed",
        }
    }

    /// The loaded model, or 503.
    pub fn ready(&self) -> Result<Arc<Ready>, ApiError> {
        match &*self.load() {
            Load::Ready(ready) => Ok(ready.clone()),
            Load::Loading => Err(ApiError::loading(&self.label)),
            Load::Failed(message) => Err(ApiError::unavailable(format!(
                "the model `{}` failed to load: {message}",
                self.label
            ))),
        }
    }

    /// Waits for a free slot of the model: at once when one is free, in its queue when the
    /// queue has room, else 429. Dropping the future leaves the queue.
    pub async fn admit(self: &Arc<Self>, ready: &Ready) -> Result<Lease, ApiError> {
        let permit = match ready.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => {
                return Err(ApiError::unavailable("the model is shutting down"));
            }
            Err(TryAcquireError::NoPermits) => {
                if self.queued.fetch_add(1, Ordering::SeqCst) >= self.queue_limit {
                    self.queued.fetch_sub(1, Ordering::SeqCst);
                    return Err(ApiError::queue_full(&self.label, self.queue_limit));
                }
                let _waiting = Waiting(self);
                ready
                    .permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| ApiError::unavailable("the model is shutting down"))?
            }
        };
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Ok(Lease {
            _permit: permit,
            slot: self.clone(),
        })
    }

    /// The model's gauges now.
    pub fn gauges(&self) -> ModelGauges {
        let (ready, slots) = match &*self.load() {
            Load::Ready(r) => (true, r.slots),
            _ => (false, 0),
        };
        ModelGauges {
            model: self.label.clone(),
            ready,
            in_flight: self.in_flight.load(Ordering::SeqCst),
            queued: self.queued.load(Ordering::SeqCst),
            slots,
        }
    }
}

/// A place in a model's queue, left on drop.
struct Waiting<'a>(&'a ModelSlot);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A model's slot, held while a request is answered and given back on drop.
pub struct Lease {
    _permit: OwnedSemaphorePermit,
    slot: Arc<ModelSlot>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Everything the handlers share.
pub struct AppState {
    /// The models, in the order given (the first answers requests that name none).
    pub models: Vec<Arc<ModelSlot>>,
    /// Accepted API keys; empty: no key needed.
    pub api_keys: Vec<ApiKey>,
    /// Counters and histograms.
    pub metrics: Metrics,
    /// Per-request deadline.
    pub timeout: Option<Duration>,
    /// Body size limit in bytes.
    pub max_body: usize,
    /// Unix seconds at start (`created` of `/v1/models`).
    pub started: u64,
}

impl AppState {
    /// The model a request names (the first when it names none), or 404.
    pub fn find(&self, name: Option<&str>) -> Result<&Arc<ModelSlot>, ApiError> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        let found = match name {
            None => self.models.first(),
            Some(name) => self.models.iter().find(|m| m.answers_to(name)),
        };
        found.ok_or_else(|| {
            let served: Vec<String> = self
                .models
                .iter()
                .map(|m| format!("`{}`", m.label))
                .collect();
            ApiError::model_not_found(name.unwrap_or(""), &served)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_whole_and_never_print() {
        let key: ApiKey = "sk-secret".parse().unwrap();
        assert!(key.matches(b"sk-secret"));
        assert!(!key.matches(b"sk-secre"));
        assert!(!key.matches(b"sk-secret2"));
        assert!(!key.matches(b""));
        assert!(!format!("{key:?}").contains("secret"));
        let keys = vec![key, "other".parse().unwrap()];
        assert!(key_accepted(&keys, b"other"));
        assert!(!key_accepted(&keys, b"nope"));
        assert!(" ".parse::<ApiKey>().is_err());
    }

    #[tokio::test]
    async fn a_full_queue_answers_429_and_leases_free_their_slot() {
        let spec: ModelSpec = "replay:a.jsonl".parse().unwrap();
        let slot = Arc::new(ModelSlot::new("replay:a.jsonl", spec, 1));
        assert_eq!(slot.ready().err().unwrap().status.as_u16(), 503);
        let model: Arc<dyn ChatModel> = Arc::new(slm::core::ScriptedModel::new("m"));
        slot.set_ready(model, 1);
        assert!(slot.answers_to("a") && slot.answers_to("replay:a.jsonl") && slot.answers_to("m"));
        let ready = slot.ready().unwrap();
        let first = slot.admit(&ready).await.unwrap();
        assert_eq!(slot.gauges().in_flight, 1);
        let slot2 = slot.clone();
        let ready2 = ready.clone();
        let waiter = tokio::spawn(async move { slot2.admit(&ready2).await.map(|_| ()) });
        while slot.gauges().queued == 0 {
            tokio::task::yield_now().await;
        }
        let third = slot.admit(&ready).await.err().unwrap();
        assert_eq!(third.status.as_u16(), 429);
        drop(first);
        waiter.await.unwrap().unwrap();
        let g = slot.gauges();
        assert_eq!((g.in_flight, g.queued), (0, 0));
    }
}
