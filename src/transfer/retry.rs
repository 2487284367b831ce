//! When to try again, and how long to wait: the one [`Failure`] every attempt returns, and the one
//! retry loop ([`RetryPolicy::run`]) that the stream, each range of a ranged transfer and each hub
//! request go through.
//!
//! Transient: connection errors, timeouts, a body cut short, a stall (no byte for the stall time),
//! and HTTP 408, 429 and 5xx. Final: every other 4xx, and a hash mismatch. Waits grow exponentially
//! from `base` with jitter (a random point in the upper half of the step, so retrying clients spread
//! out), and a server's `Retry-After` (seconds or an HTTP date) is honoured up to `max_wait`. Every
//! wait is announced as a [`Event::Retry`] before it starts.

use std::future::Future;
use std::time::Duration;

use reqwest::Url;

use super::progress::{Event, Progress};
use super::FetchError;

/// Why an attempt failed: worth another try, or not.
#[derive(Debug)]
pub enum Failure {
    /// Worth another try: `why` is reported with the retry, `retry_after` is the server's wish.
    Transient {
        /// What went wrong, for the retry event and the final `gave up` error.
        why: String,
        /// How long the server asked us to wait (`Retry-After`), if it did.
        retry_after: Option<Duration>,
    },
    /// Not worth another try: this error is the answer.
    Final(FetchError),
}

impl Failure {
    /// A transient failure without a `Retry-After`.
    pub fn transient(why: impl Into<String>) -> Failure {
        Failure::Transient { why: why.into(), retry_after: None }
    }
}

impl From<FetchError> for Failure {
    fn from(e: FetchError) -> Failure {
        Failure::Final(e)
    }
}

impl From<crate::fsx::FsError> for Failure {
    fn from(e: crate::fsx::FsError) -> Failure {
        Failure::Final(e.into())
    }
}

/// How many times to try, and how long to wait between tries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first wait; each later one doubles it (before jitter).
    pub base: Duration,
    /// The longest wait, also for a server's `Retry-After`.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 3, base: Duration::from_millis(500), max_wait: Duration::from_secs(60) }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based).
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_wait);
        }
        let step = self.base.saturating_mul(1u32 << retry.saturating_sub(1).min(16)).min(self.max_wait);
        let jitter = getrandom::u32().unwrap_or(0) as f64 / u32::MAX as f64;
        step.mul_f64(0.5 + 0.5 * jitter)
    }

    /// The retry loop: run `attempt` (given its number, from 1) until it succeeds, fails finally,
    /// or the retries run out (then [`FetchError::GaveUp`] names `url` and the last reason). Each
    /// wait is announced as [`Event::Retry`] for the file `id`.
    pub async fn run<T, F, Fut>(
        &self,
        id: &str,
        url: &Url,
        progress: &dyn Progress,
        mut attempt: F,
    ) -> Result<T, FetchError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut tries = 0u32;
        loop {
            tries += 1;
            match attempt(tries).await {
                Ok(t) => return Ok(t),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Transient { why, .. }) if tries > self.max_retries => {
                    return Err(FetchError::GaveUp { url: url.to_string(), attempts: tries, last: why });
                }
                Err(Failure::Transient { why, retry_after }) => {
                    let wait = self.wait(tries, retry_after);
                    let wait_ms = wait.as_millis() as u64;
                    progress.event(Event::Retry { id: id.to_string(), attempt: tries, wait_ms, reason: why });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// Transient HTTP statuses.
pub fn transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// `Retry-After`: delta-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some((when.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_with_jitter_and_obey_retry_after() {
        let p = RetryPolicy { max_retries: 5, base: Duration::from_millis(100), max_wait: Duration::from_secs(1) };
        let w1 = p.wait(1, None);
        let w3 = p.wait(3, None);
        assert!(w1 >= Duration::from_millis(50) && w1 <= Duration::from_millis(100), "{w1:?}");
        assert!(w3 >= Duration::from_millis(200) && w3 <= Duration::from_millis(400), "{w3:?}");
        assert!(p.wait(9, None) <= Duration::from_secs(1), "capped at max_wait");
        assert_eq!(p.wait(1, Some(Duration::from_secs(7))), Duration::from_secs(1));
    }

    #[test]
    fn retry_after_forms() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Sat, 21 Nov 2026 12:00:05 GMT", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("soon", now), None);
        assert!(transient_status(503) && transient_status(429) && !transient_status(404));
    }
}
