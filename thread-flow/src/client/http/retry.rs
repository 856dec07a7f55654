//! Retry policy and client-side rate limit of the HTTP transport.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// When and how long the HTTP transport retries a failed request.
///
/// A request is retried on HTTP 429 (after `retry-after` when the server sends it), on 5xx,
/// on connection errors and timeouts, and on the messages D1 documents as transient
/// ([`crate::client::retryable_message`]). It is never retried on SQL errors (HTTP 400,
/// code 7500), authentication errors (401/403), redirects or oversized answers. Retrying after
/// a lost answer is safe because every write thread-flow sends is idempotent (upserts and
/// deletes by key); raw SQL sent with [`crate::D1Database::execute`] / `batch` is retried only
/// after failures that prove it did not run (see [`crate::client::Idempotency`]).
///
/// Whatever stops the retries (this policy's attempts or deadline, or a failure that is not
/// transient), the error is the last failure's own kind (an API error keeps its HTTP status
/// and D1 code) with the attempt count and the reason ([`crate::client::RetryStop`]). An
/// attempt the deadline cuts short does not replace the failure before it.
///
/// ```
/// use std::time::Duration;
/// use thread_flow::client::http::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(4)
///     .with_deadline(Duration::from_secs(30));
/// assert_eq!(policy.max_attempts, 4);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (default 8). `1` disables retries.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles on each further retry (default 250 ms).
    pub base_delay: Duration,
    /// Upper bound of one backoff delay (default 20 s).
    pub max_delay: Duration,
    /// Upper bound of a server-requested `retry-after` delay (default 60 s).
    pub max_retry_after: Duration,
    /// Total time budget of one request, all attempts and delays included (default 120 s).
    /// The transport gives up early rather than sleep past it.
    pub deadline: Duration,
    /// Randomise each backoff delay within `[delay / 2, delay]` so that many writers
    /// do not retry in lockstep (default on).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
            deadline: Duration::from_secs(120),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (one attempt).
    pub fn never() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Sets [`RetryPolicy::max_attempts`] (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> RetryPolicy {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets [`RetryPolicy::base_delay`] and [`RetryPolicy::max_delay`].
    pub fn with_backoff(mut self, base_delay: Duration, max_delay: Duration) -> RetryPolicy {
        self.base_delay = base_delay;
        self.max_delay = max_delay.max(base_delay);
        self
    }

    /// Sets [`RetryPolicy::max_retry_after`].
    pub fn with_max_retry_after(mut self, max: Duration) -> RetryPolicy {
        self.max_retry_after = max;
        self
    }

    /// Sets [`RetryPolicy::deadline`].
    pub fn with_deadline(mut self, deadline: Duration) -> RetryPolicy {
        self.deadline = deadline;
        self
    }

    /// Sets [`RetryPolicy::jitter`].
    pub fn with_jitter(mut self, jitter: bool) -> RetryPolicy {
        self.jitter = jitter;
        self
    }

    /// The delay before retry number `retry` (1 for the first retry), honouring a
    /// server-sent `retry-after` when there is one.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after.filter(|d| !d.is_zero()) {
            return after.min(self.max_retry_after);
        }
        let exponent = retry.saturating_sub(1).min(30);
        let delay = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        if self.jitter && !delay.is_zero() {
            let half = delay / 2;
            let spread = u64::try_from((delay - half).as_micros()).unwrap_or(u64::MAX);
            half + Duration::from_micros(fastrand::u64(0..=spread))
        } else {
            delay
        }
    }
}

/// A client-side request budget: at most `requests` HTTP requests (attempts) in any sliding
/// window of `window`. Cloudflare allows 1200 requests per 5 minutes per API token and then
/// blocks the token for minutes; staying under it is cheaper than a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The sliding window.
    pub window: Duration,
}

impl RateLimit {
    /// Cloudflare's documented API limit: 1200 requests per 300 seconds.
    pub const CLOUDFLARE: RateLimit = RateLimit {
        requests: 1200,
        window: Duration::from_secs(300),
    };

    /// `requests` per `window`.
    pub fn new(requests: u32, window: Duration) -> RateLimit {
        RateLimit {
            requests: requests.max(1),
            window,
        }
    }
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit::CLOUDFLARE
    }
}

/// Sliding-window log of request start times.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    sent: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more request fits the window, then records it.
    pub(crate) async fn acquire(&self) {
        loop {
            let wait = {
                let mut sent = self
                    .sent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.limit.window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.limit.requests as usize {
                    sent.push_back(now);
                    return;
                }
                match sent.front() {
                    Some(oldest) => (*oldest + self.limit.window).saturating_duration_since(now),
                    None => Duration::ZERO,
                }
            };
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "client-side D1 rate limit reached, waiting"
            );
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(500))
            .with_jitter(false);
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(400));
        assert_eq!(p.delay(4, None), Duration::from_millis(500));
        assert_eq!(p.delay(40, None), Duration::from_millis(500));
    }

    #[test]
    fn jitter_stays_within_half_and_full_delay() {
        let p =
            RetryPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..200 {
            let d = p.delay(2, None);
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(200),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::default().with_max_retry_after(Duration::from_secs(10));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(600))),
            Duration::from_secs(10)
        );
    }

    // Virtual time: the test is about time, not about how fast this machine is.
    #[tokio::test(start_paused = true)]
    async fn rate_limiter_holds_the_window() {
        let limiter = RateLimiter::new(RateLimit::new(3, Duration::from_millis(300)));
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "the first three pass at once"
        );
        limiter.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(300),
            "the fourth waits a window"
        );
    }
}
