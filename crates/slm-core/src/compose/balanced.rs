//! [`Balanced`]: one model served by several replicas (llama-server or vLLM processes, `slm
//! serve` instances, deployments in several regions), spread by least requests in flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use crate::{Capabilities, ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, Error};

/// Spreads requests over replicas of one model: each request goes to the replica with the
/// fewest requests in flight among those under their concurrency limit. A replica that fails
/// with a retryable error (connection, timeout, 5xx, 429) is left out for a cooldown (a 429's
/// `retry_after` when it gives one) and the request is retried on another; a 429 also halves
/// that replica's concurrency limit, and each success raises it by one again up to the
/// maximum (additive increase, multiplicative decrease, as TCP does). Errors that another
/// replica would repeat (a bad request) are returned at once.
///
/// ```
/// use std::sync::Arc;
/// use slm_core::{Balanced, ChatModel, ChatRequest, Error, ScriptedModel};
/// # futures::executor::block_on(async {
/// let down = ScriptedModel::new("a").fail(Error::Connection("refused".into(), None));
/// let up = ScriptedModel::new("b").reply("hi");
/// let model = Balanced::new(vec![Arc::new(down), Arc::new(up)], 4);
/// let answer = model.chat(ChatRequest::builder().user("hello").build()).await.unwrap();
/// assert_eq!(answer.text(), "hi");
/// assert_eq!(model.id(), "balanced(a|b)");
/// # });
/// ```
#[derive(Clone)]
pub struct Balanced {
    replicas: Arc<Vec<Replica>>,
    max_in_flight: usize,
    cooldown: Duration,
    capacity: Arc<tokio::sync::Notify>,
    id: String,
}

struct Replica {
    model: Arc<dyn ChatModel>,
    in_flight: AtomicUsize,
    state: Mutex<ReplicaState>,
}

#[derive(Debug, Clone, Copy)]
struct ReplicaState {
    /// Requests it may have in flight now (adapted to 429s).
    limit: usize,
    /// Left out until then after a failure.
    down_until: Option<Instant>,
    /// Requests it has been sent.
    sent: usize,
}

impl std::fmt::Debug for Balanced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balanced")
            .field("id", &self.id)
            .field("max_in_flight", &self.max_in_flight)
            .field("cooldown", &self.cooldown)
            .finish()
    }
}

/// Where one replica stands, for logs and tests.
///
/// ```
/// use std::sync::Arc;
/// let b = slm_core::Balanced::new(vec![Arc::new(slm_core::ScriptedModel::new("a"))], 8);
/// let s = &b.replica_stats()[0];
/// assert_eq!((s.id.as_str(), s.in_flight, s.limit, s.sent, s.down), ("a", 0, 8, 0, false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplicaStats {
    /// The replica's model id.
    pub id: String,
    /// Requests in flight now.
    pub in_flight: usize,
    /// Its current concurrency limit.
    pub limit: usize,
    /// Requests sent to it so far (retries included).
    pub sent: usize,
    /// Whether it is left out after a failure.
    pub down: bool,
}

/// A request's hold on a replica: counts it in flight until dropped (also when a stream is
/// dropped half-way), then wakes requests waiting for capacity.
struct Lease {
    replicas: Arc<Vec<Replica>>,
    index: usize,
    capacity: Arc<tokio::sync::Notify>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.replicas[self.index]
            .in_flight
            .fetch_sub(1, Ordering::SeqCst);
        self.capacity.notify_waiters();
    }
}

impl Balanced {
    /// How long a replica that failed with a retryable error is left out when the error does
    /// not say (a 429's `retry_after` does).
    ///
    /// ```
    /// assert_eq!(slm_core::Balanced::DEFAULT_COOLDOWN.as_secs(), 5);
    /// ```
    pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);

    /// Spreads over `replicas`, at most `max_in_flight` requests at once on each.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use slm_core::{Balanced, ChatModel, ScriptedModel};
    /// let b = Balanced::new(vec![Arc::new(ScriptedModel::new("a")), Arc::new(ScriptedModel::new("b"))], 8);
    /// assert_eq!(b.id(), "balanced(a|b)");
    /// ```
    pub fn new(replicas: Vec<Arc<dyn ChatModel>>, max_in_flight: usize) -> Self {
        let max_in_flight = max_in_flight.max(1);
        let id = format!(
            "balanced({})",
            replicas
                .iter()
                .map(|m| m.id())
                .collect::<Vec<_>>()
                .join("|")
        );
        Self {
            replicas: Arc::new(
                replicas
                    .into_iter()
                    .map(|model| Replica {
                        model,
                        in_flight: AtomicUsize::new(0),
                        state: Mutex::new(ReplicaState {
                            limit: max_in_flight,
                            down_until: None,
                            sent: 0,
                        }),
                    })
                    .collect(),
            ),
            max_in_flight,
            cooldown: Self::DEFAULT_COOLDOWN,
            capacity: Arc::new(tokio::sync::Notify::new()),
            id,
        }
    }

    /// How long a failed replica is left out when its error gives no `retry_after` (default
    /// [`Balanced::DEFAULT_COOLDOWN`]).
    ///
    /// ```
    /// let b = slm_core::Balanced::new(vec![], 1).cooldown(std::time::Duration::from_millis(100));
    /// # let _ = b;
    /// ```
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Where each replica stands.
    ///
    /// ```
    /// let b = slm_core::Balanced::new(vec![], 1);
    /// assert!(b.replica_stats().is_empty());
    /// ```
    pub fn replica_stats(&self) -> Vec<ReplicaStats> {
        let now = Instant::now();
        self.replicas
            .iter()
            .map(|r| {
                let state = *r.state.lock().unwrap_or_else(|e| e.into_inner());
                ReplicaStats {
                    id: r.model.id().to_string(),
                    in_flight: r.in_flight.load(Ordering::SeqCst),
                    limit: state.limit,
                    sent: state.sent,
                    down: state.down_until.is_some_and(|t| t > now),
                }
            })
            .collect()
    }

    /// Takes the best replica not in `tried`, waiting for capacity when every candidate is at
    /// its limit. When every untried replica is down, the one back soonest is used anyway (a
    /// request is never refused for want of a healthy replica).
    async fn acquire(&self, tried: &[usize]) -> Option<Lease> {
        loop {
            let notified = self.capacity.notified();
            match self.pick(tried) {
                Pick::Replica(index) => {
                    return Some(Lease {
                        replicas: self.replicas.clone(),
                        index,
                        capacity: self.capacity.clone(),
                    });
                }
                Pick::None => return None,
                Pick::Wait => {
                    // Capacity frees when a lease drops; a cooldown ends on its own.
                    let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
                }
            }
        }
    }

    fn pick(&self, tried: &[usize]) -> Pick {
        let now = Instant::now();
        let mut best: Option<(usize, usize)> = None;
        let mut soonest_down: Option<(usize, Instant)> = None;
        let mut any_untried = false;
        for (index, replica) in self.replicas.iter().enumerate() {
            if tried.contains(&index) {
                continue;
            }
            any_untried = true;
            let state = *replica.state.lock().unwrap_or_else(|e| e.into_inner());
            let in_flight = replica.in_flight.load(Ordering::SeqCst);
            match state.down_until {
                Some(until) if until > now => {
                    soonest_down = match soonest_down {
                        Some((_, t)) if t <= until => soonest_down,
                        _ => Some((index, until)),
                    };
                }
                _ if in_flight < state.limit => {
                    best = match best {
                        Some((_, n)) if n <= in_flight => best,
                        _ => Some((index, in_flight)),
                    };
                }
                _ => {}
            }
        }
        let chosen = match (best, soonest_down) {
            (Some((index, _)), _) => index,
            (None, _) if self.any_up_but_full(tried, now) => return Pick::Wait,
            (None, Some((index, _))) => index,
            (None, None) if any_untried => return Pick::Wait,
            (None, None) => return Pick::None,
        };
        let replica = &self.replicas[chosen];
        replica.in_flight.fetch_add(1, Ordering::SeqCst);
        replica.state.lock().unwrap_or_else(|e| e.into_inner()).sent += 1;
        Pick::Replica(chosen)
    }

    fn any_up_but_full(&self, tried: &[usize], now: Instant) -> bool {
        self.replicas.iter().enumerate().any(|(index, r)| {
            let state = *r.state.lock().unwrap_or_else(|e| e.into_inner());
            !tried.contains(&index) && state.down_until.is_none_or(|t| t <= now)
        })
    }

    /// Adapts a replica to how its request ended.
    fn record(&self, index: usize, outcome: std::result::Result<(), &Error>) {
        let mut state = self.replicas[index]
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(()) => {
                state.down_until = None;
                state.limit = (state.limit + 1).min(self.max_in_flight);
            }
            Err(error) => {
                let wait = match error {
                    Error::RateLimited { retry_after, .. } => {
                        state.limit = (state.limit / 2).max(1);
                        retry_after.unwrap_or(self.cooldown)
                    }
                    Error::Http { status: 429, .. } => {
                        state.limit = (state.limit / 2).max(1);
                        self.cooldown
                    }
                    _ => self.cooldown,
                };
                state.down_until = Some(Instant::now() + wait);
            }
        }
    }
}

enum Pick {
    Replica(usize),
    Wait,
    None,
}

#[async_trait]
impl ChatModel for Balanced {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        self.replicas
            .first()
            .map(|r| Capabilities {
                batching: false,
                ..r.model.capabilities()
            })
            .unwrap_or_default()
    }

    async fn chat(&self, request: ChatRequest) -> crate::Result<ChatResponse> {
        let mut tried = Vec::new();
        let mut last_error = Error::InvalidRequest("Balanced has no replicas".into(), None);
        while let Some(lease) = self.acquire(&tried).await {
            let index = lease.index;
            tried.push(index);
            let answer = self.replicas[index].model.chat(request.clone()).await;
            drop(lease);
            match answer {
                Ok(response) => {
                    self.record(index, Ok(()));
                    return Ok(response);
                }
                Err(e) if e.is_retryable() => {
                    tracing::debug!(replica = self.replicas[index].model.id(), error = %e, "replica failed, retrying on another");
                    self.record(index, Err(&e));
                    last_error = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error)
    }

    /// Streams from the chosen replica; a replica whose stream fails before its first event
    /// with a retryable error is left out and the next one tried.
    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        let chosen = async move {
            let mut tried = Vec::new();
            let mut last_error = Error::InvalidRequest("Balanced has no replicas".into(), None);
            while let Some(lease) = self.acquire(&tried).await {
                let index = lease.index;
                tried.push(index);
                let mut stream = self.replicas[index].model.chat_stream(request.clone());
                match stream.next().await {
                    Some(Err(e)) if e.is_retryable() => {
                        self.record(index, Err(&e));
                        last_error = e;
                    }
                    first => {
                        let rest = futures::stream::iter(first)
                            .chain(stream)
                            .map(move |event| {
                                // The lease lives as long as the stream.
                                let _held = &lease;
                                if let Ok(ChatEvent::Done(_)) = &event {
                                    self.record(index, Ok(()));
                                }
                                event
                            });
                        return rest.boxed();
                    }
                }
            }
            futures::stream::iter(vec![Err(last_error)]).boxed()
        };
        Box::pin(futures::stream::once(chosen).flatten())
    }

    /// The replicas' identity when they all have one: theirs when they agree (one model
    /// served twice), else all of them (any may answer).
    async fn identity(&self) -> crate::Result<Option<String>> {
        let mut parts = Vec::new();
        for replica in self.replicas.iter() {
            match replica.model.identity().await? {
                Some(identity) => parts.push(identity),
                None => return Ok(None),
            }
        }
        parts.sort();
        parts.dedup();
        Ok(match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(format!("balanced[{}]", parts.join(","))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScriptedModel;

    fn request() -> ChatRequest {
        ChatRequest::builder().user("hi").build()
    }

    #[tokio::test]
    async fn identity_is_the_replicas_when_all_have_one() {
        let with = |ids: &[Option<&str>]| {
            let replicas = ids
                .iter()
                .map(|id| {
                    let model = ScriptedModel::new("m");
                    let model = match id {
                        Some(id) => model.with_identity(*id),
                        None => model,
                    };
                    Arc::new(model) as Arc<dyn ChatModel>
                })
                .collect();
            Balanced::new(replicas, 4)
        };
        let same = with(&[Some("w:a"), Some("w:a")]).identity().await.unwrap();
        assert_eq!(same.as_deref(), Some("w:a"));
        let mixed = with(&[Some("w:b"), Some("w:a")]).identity().await.unwrap();
        assert_eq!(mixed.as_deref(), Some("balanced[w:a,w:b]"));
        let unknown = with(&[Some("w:a"), None]).identity().await.unwrap();
        assert_eq!(unknown, None);
    }

    #[tokio::test]
    async fn spreads_concurrent_requests_by_least_in_flight() {
        let slow = |id: &str| {
            let mut m = ScriptedModel::new(id).latency(Duration::from_millis(50), Duration::ZERO);
            for _ in 0..8 {
                m = m.reply("ok");
            }
            Arc::new(m) as Arc<dyn ChatModel>
        };
        let balanced = Balanced::new(vec![slow("a"), slow("b")], 4);
        let answers = futures::future::join_all((0..8).map(|_| balanced.chat(request()))).await;
        assert!(answers.iter().all(|a| a.is_ok()));
        let stats = balanced.replica_stats();
        assert_eq!(stats[0].sent, 4, "{stats:?}");
        assert_eq!(stats[1].sent, 4, "{stats:?}");
        assert!(stats.iter().all(|s| s.in_flight == 0));
    }

    #[tokio::test]
    async fn never_exceeds_a_replicas_limit() {
        let mut m = ScriptedModel::new("a").latency(Duration::from_millis(20), Duration::ZERO);
        for _ in 0..6 {
            m = m.reply("ok");
        }
        let balanced = Balanced::new(vec![Arc::new(m)], 2);
        let watch = balanced.clone();
        let max_seen = Arc::new(AtomicUsize::new(0));
        let seen = max_seen.clone();
        let watcher = tokio::spawn(async move {
            for _ in 0..100 {
                let now = watch.replica_stats()[0].in_flight;
                seen.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let answers = futures::future::join_all((0..6).map(|_| balanced.chat(request()))).await;
        watcher.await.unwrap();
        assert!(answers.iter().all(|a| a.is_ok()));
        assert!(max_seen.load(Ordering::SeqCst) <= 2);
    }

    #[tokio::test]
    async fn a_rate_limited_replica_is_left_out_and_its_limit_halved() {
        let limited = ScriptedModel::new("a").fail(Error::RateLimited {
            retry_after: Some(Duration::from_secs(60)),
            source: None,
        });
        let mut healthy = ScriptedModel::new("b");
        for _ in 0..3 {
            healthy = healthy.reply("ok");
        }
        let balanced = Balanced::new(vec![Arc::new(limited), Arc::new(healthy)], 8);
        for _ in 0..3 {
            assert_eq!(balanced.chat(request()).await.unwrap().text(), "ok");
        }
        let stats = balanced.replica_stats();
        assert_eq!((stats[0].sent, stats[0].limit, stats[0].down), (1, 4, true));
        assert_eq!(stats[1].sent, 3);
    }

    #[tokio::test]
    async fn errors_another_replica_would_repeat_are_returned_at_once() {
        let a = ScriptedModel::new("a").fail(Error::InvalidRequest("bad schema".into(), None));
        let b = ScriptedModel::new("b").reply("never");
        let balanced = Balanced::new(vec![Arc::new(a), Arc::new(b)], 1);
        let err = balanced.chat(request()).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(..)));
        assert_eq!(balanced.replica_stats()[1].sent, 0);
    }

    #[tokio::test]
    async fn when_every_replica_fails_the_last_error_is_returned() {
        let refused = |id: &str| {
            ScriptedModel::new(id)
                .fail(Error::Connection(format!("refused {id}"), None))
                .fail(Error::Connection(format!("refused {id}"), None))
        };
        let (a, b) = (refused("a"), refused("b"));
        let balanced = Balanced::new(vec![Arc::new(a), Arc::new(b)], 1);
        let err = balanced.chat(request()).await.unwrap_err();
        assert!(matches!(err, Error::Connection(..)), "{err:?}");
        let stats = balanced.replica_stats();
        assert!(stats.iter().all(|s| s.sent == 1 && s.down), "{stats:?}");
        // Every replica is down: the next request still goes to the one back soonest.
        let err = balanced.chat(request()).await.unwrap_err();
        assert!(matches!(err, Error::Connection(..)));
    }

    #[tokio::test]
    async fn streams_fail_over_before_their_first_event() {
        let a = ScriptedModel::new("a").fail(Error::Timeout(Duration::from_secs(1), None));
        let b = ScriptedModel::new("b").reply("streamed");
        let balanced = Balanced::new(vec![Arc::new(a), Arc::new(b)], 1);
        let (text, response) = crate::collect_stream(balanced.chat_stream(request()))
            .await
            .unwrap();
        assert_eq!((text.as_str(), response.text()), ("streamed", "streamed"));
        assert!(balanced.replica_stats().iter().all(|s| s.in_flight == 0));
    }
}
