//! When to try a request again, how long to wait, and when to give up.

use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::RemoteError;

/// Retry, timeout and deadline settings of a remote model.
///
/// A call makes at most `max_attempts` attempts. Each attempt may take `request_timeout`; the
/// whole call, queueing and waits included, at most `total_deadline`. Between attempts it waits
/// what the server asked for (`retry-after-ms` or `retry-after`), or else an exponential
/// backoff from `initial_backoff` doubling up to `max_backoff`, with jitter (a random wait in
/// the upper half of the step). It does not wait past the deadline: if the server asks for
/// longer than is left, the call fails at once with the server's error.
///
/// Durations serialize as milliseconds.
///
/// ```
/// use std::time::Duration;
/// use slm_remote::RetryPolicy;
/// let p = RetryPolicy::default().with_max_attempts(2).with_request_timeout(Duration::from_secs(5));
/// assert_eq!(p.max_attempts, 2);
/// let json = serde_json::to_value(&p).unwrap();
/// assert_eq!(json["request_timeout_ms"], 5000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The first backoff step.
    #[serde(rename = "initial_backoff_ms", with = "millis")]
    pub initial_backoff: Duration,
    /// The largest backoff step.
    #[serde(rename = "max_backoff_ms", with = "millis")]
    pub max_backoff: Duration,
    /// The longest one attempt may take (for streams: until the headers, and between chunks).
    #[serde(rename = "request_timeout_ms", with = "millis")]
    pub request_timeout: Duration,
    /// The longest a whole call may take.
    #[serde(rename = "total_deadline_ms", with = "millis")]
    pub total_deadline: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff 250 ms doubling to 8 s, 120 s per attempt, 300 s per call.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            request_timeout: Duration::from_secs(120),
            total_deadline: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// A policy that tries once.
    ///
    /// ```
    /// assert_eq!(slm_remote::RetryPolicy::no_retries().max_attempts, 1);
    /// ```
    pub fn no_retries() -> Self {
        Self::default().with_max_attempts(1)
    }

    /// Sets the number of attempts (at least 1).
    ///
    /// ```
    /// assert_eq!(slm_remote::RetryPolicy::default().with_max_attempts(0).max_attempts, 1);
    /// ```
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first and the largest backoff step.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = slm_remote::RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(4));
    /// assert_eq!(p.max_backoff, Duration::from_millis(4));
    /// ```
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the per-attempt timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = slm_remote::RetryPolicy::default().with_request_timeout(Duration::from_secs(3));
    /// assert_eq!(p.request_timeout, Duration::from_secs(3));
    /// ```
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the deadline of a whole call.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = slm_remote::RetryPolicy::default().with_total_deadline(Duration::from_secs(9));
    /// assert_eq!(p.total_deadline, Duration::from_secs(9));
    /// ```
    pub fn with_total_deadline(mut self, deadline: Duration) -> Self {
        self.total_deadline = deadline;
        self
    }

    /// The backoff before retry number `retry` (1 = the first retry), before jitter:
    /// `initial_backoff · 2^(retry-1)`, capped at `max_backoff`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = slm_remote::RetryPolicy::default()
    ///     .with_backoff(Duration::from_millis(100), Duration::from_millis(350));
    /// assert_eq!(p.backoff_step(1), Duration::from_millis(100));
    /// assert_eq!(p.backoff_step(2), Duration::from_millis(200));
    /// assert_eq!(p.backoff_step(3), Duration::from_millis(350));
    /// ```
    pub fn backoff_step(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(31));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// The attempts of one call: counts them, bounds each by the timeout, decides on retries.
#[derive(Debug)]
pub(crate) struct Attempts {
    policy: RetryPolicy,
    deadline: Instant,
    made: u32,
}

impl Attempts {
    pub(crate) fn new(policy: RetryPolicy, started: Instant) -> Self {
        Self {
            policy,
            deadline: started + policy.total_deadline,
            made: 0,
        }
    }

    /// The instant the whole call must be over.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Attempts started so far.
    pub(crate) fn made(&self) -> u32 {
        self.made
    }

    /// The error for a passed deadline.
    pub(crate) fn deadline_error(&self) -> RemoteError {
        RemoteError::DeadlineExceeded(self.policy.total_deadline)
    }

    /// How long the next wait for the server may last: the per-request timeout, or less when
    /// the deadline is nearer.
    pub(crate) fn remaining_timeout(&self) -> Result<Limit, RemoteError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.deadline_error());
        }
        Ok(Limit {
            duration: self.policy.request_timeout.min(left),
            by_deadline: left < self.policy.request_timeout,
        })
    }

    /// Runs one attempt, counted and bounded by [`Attempts::remaining_timeout`].
    pub(crate) async fn run<T>(
        &mut self,
        attempt: impl Future<Output = Result<T, RemoteError>>,
    ) -> Result<T, RemoteError> {
        let limit = self.remaining_timeout()?;
        self.made += 1;
        match tokio::time::timeout(limit.duration, attempt).await {
            Ok(result) => result,
            Err(_) => Err(limit.error(self)),
        }
    }

    /// After a failed attempt: `Ok(wait)` when it should be retried after `wait`, or the error
    /// to give up with.
    pub(crate) fn retry_delay(&self, error: RemoteError) -> Result<Duration, RemoteError> {
        if !error.is_retryable() || self.made >= self.policy.max_attempts {
            return Err(error);
        }
        let wait = error.retry_after().unwrap_or_else(|| {
            let step = self.policy.backoff_step(self.made);
            jitter(step)
        });
        if Instant::now() + wait >= self.deadline {
            return Err(error);
        }
        tracing::warn!(
            attempt = self.made,
            max_attempts = self.policy.max_attempts,
            wait_ms = wait.as_millis() as u64,
            error = %error,
            "retrying remote chat request"
        );
        Ok(wait)
    }

    /// Waits `wait` after a failure, or gives up with `error` when it is not worth retrying.
    pub(crate) async fn backoff(&self, error: RemoteError) -> Result<(), RemoteError> {
        let wait = self.retry_delay(error)?;
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// A bound on one wait for the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) duration: Duration,
    /// Whether the total deadline, not the per-request timeout, set the bound.
    by_deadline: bool,
}

impl Limit {
    /// The error for a wait that ran out: [`RemoteError::DeadlineExceeded`] when the deadline
    /// set the bound, else [`RemoteError::Timeout`] (which may be retried).
    pub(crate) fn error(&self, attempts: &Attempts) -> RemoteError {
        if self.by_deadline {
            attempts.deadline_error()
        } else {
            RemoteError::Timeout(self.duration)
        }
    }
}

/// A random duration in the upper half of `step` ("equal jitter").
fn jitter(step: Duration) -> Duration {
    let half = step / 2;
    let extra = rand::rng().random_range(0..=half.as_micros().min(u64::MAX as u128) as u64);
    half + Duration::from_micros(extra)
}

/// Parses the wait a server asked for: `retry-after-ms` (milliseconds, Azure) first, then
/// `retry-after` in seconds. HTTP dates are not honoured (neither Azure nor OpenAI send them).
pub(crate) fn parse_retry_after(ms: Option<&str>, secs: Option<&str>) -> Option<Duration> {
    let from_ms = ms
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| Duration::from_secs_f64(v / 1000.0));
    from_ms.or_else(|| {
        secs.and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9)
            .map(Duration::from_secs_f64)
    })
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis().min(u64::MAX as u128) as u64)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_milliseconds() {
        assert_eq!(
            parse_retry_after(Some("1500"), Some("9")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(None, Some("2")),
            Some(Duration::from_secs(2))
        );
        assert_eq!(parse_retry_after(Some("x"), Some("-1")), None);
        assert_eq!(
            parse_retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(100));
            assert!(j >= Duration::from_millis(50) && j <= Duration::from_millis(100));
        }
    }

    #[test]
    fn gives_up_on_non_retryable_errors_and_after_the_last_attempt() {
        let policy = RetryPolicy::default().with_max_attempts(2);
        let mut attempts = Attempts::new(policy, Instant::now());
        attempts.made += 1;
        assert!(
            attempts
                .retry_delay(RemoteError::Parse("x".into()))
                .is_err()
        );
        assert!(
            attempts
                .retry_delay(RemoteError::Connection("x".into()))
                .is_ok()
        );
        attempts.made += 1;
        assert!(
            attempts
                .retry_delay(RemoteError::Connection("x".into()))
                .is_err()
        );
    }

    #[test]
    fn does_not_wait_past_the_deadline() {
        let policy = RetryPolicy::default().with_total_deadline(Duration::from_secs(1));
        let mut attempts = Attempts::new(policy, Instant::now());
        attempts.made += 1;
        let long_wait = RemoteError::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
            message: String::new(),
        };
        assert!(matches!(
            attempts.retry_delay(long_wait),
            Err(RemoteError::RateLimited { .. })
        ));
    }
}
