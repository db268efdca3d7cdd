//! Retry policy: which failures are retried, and how long to wait before the next attempt.
//!
//! - 429 → retried for every request whose body can be replayed, after `Retry-After`
//!   (header or `error.retry_after`) stretched by 0–20 % jitter — never sooner than asked. A
//!   `Retry-After` longer than [`MAX_RETRY_AFTER`] is not waited for: the error goes back to the
//!   caller, who can pace itself (S3 `SlowDown`, WebDAV 503).
//! - 5xx, 408 and transport errors → retried only for idempotent requests (GET, HEAD, PUT of an
//!   upload chunk, DELETE), with exponential back-off and full jitter. A failure to *connect* is
//!   retried for any replayable request: nothing reached the server.
//! - Everything else is final.

use std::time::Duration;

use rand::Rng;

use super::error::{Error, ErrorKind};

/// The longest `Retry-After` the client sleeps through on its own.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Upper bound of the jitter added to a `Retry-After` (20 %).
const RETRY_AFTER_JITTER: f64 = 0.2;

/// What the retry loop knows about a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestClass {
    /// Repeating it has the same effect as doing it once.
    pub idempotent: bool,
    /// Its body can be sent again (false for streamed uploads).
    pub replayable: bool,
}

/// Exponential back-off with full jitter: a uniform draw in `[0, min(max, base · 2^attempt)]`.
/// `attempt` is 0 for the first retry.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let ceiling = backoff_ceiling(attempt, base, max);
    if ceiling.is_zero() {
        return ceiling;
    }
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// The upper bound of [`backoff`] for `attempt`.
pub fn backoff_ceiling(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}

/// `retry_after` stretched by a random 0–20 %: never shorter than the server asked.
pub fn jittered_retry_after(retry_after: Duration) -> Duration {
    let extra = rand::rng().random_range(0.0..=RETRY_AFTER_JITTER);
    retry_after.mul_f64(1.0 + extra)
}

/// How long to wait before retry number `attempt` (0-based) after `err`, or `None` to give up.
pub(crate) fn delay_for(
    err: &Error,
    class: RequestClass,
    attempt: u32,
    max_retries: u32,
    base: Duration,
    max: Duration,
) -> Option<Duration> {
    if attempt >= max_retries || !class.replayable {
        return None;
    }
    match err.kind() {
        ErrorKind::RateLimited => match err.retry_after() {
            Some(ra) if ra > MAX_RETRY_AFTER => None,
            Some(ra) => Some(jittered_retry_after(ra)),
            None => Some(backoff(attempt, base, max).max(base)),
        },
        ErrorKind::Unavailable | ErrorKind::Transport
            if class.idempotent || is_connect_failure(err) =>
        {
            let wait = backoff(attempt, base, max);
            match err.retry_after() {
                Some(ra) if ra > MAX_RETRY_AFTER => None,
                Some(ra) => Some(wait.max(jittered_retry_after(ra))),
                None => Some(wait),
            }
        }
        _ => None,
    }
}

/// A transport error raised before the request reached the server.
fn is_connect_failure(err: &Error) -> bool {
    use std::error::Error as _;
    err.kind() == ErrorKind::Transport
        && err
            .source()
            .and_then(|s| s.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_connect)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http::HeaderMap;

    const BASE: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(2);

    #[test]
    fn backoff_stays_within_its_ceiling() {
        for attempt in 0..40 {
            let ceiling = backoff_ceiling(attempt, BASE, MAX);
            assert!(ceiling <= MAX);
            for _ in 0..50 {
                assert!(backoff(attempt, BASE, MAX) <= ceiling);
            }
        }
        assert_eq!(backoff_ceiling(0, BASE, MAX), BASE);
        assert_eq!(backoff_ceiling(1, BASE, MAX), BASE * 2);
        assert_eq!(backoff_ceiling(3, BASE, MAX), BASE * 8);
        assert_eq!(backoff_ceiling(5, BASE, MAX), MAX);
        assert_eq!(backoff_ceiling(u32::MAX, BASE, MAX), MAX);
    }

    #[test]
    fn backoff_is_jittered() {
        let draws: std::collections::HashSet<_> = (0..50).map(|_| backoff(4, BASE, MAX)).collect();
        assert!(draws.len() > 1);
    }

    #[test]
    fn retry_after_is_never_shortened_and_at_most_twenty_percent_longer() {
        let ra = Duration::from_secs(5);
        for _ in 0..200 {
            let d = jittered_retry_after(ra);
            assert!(d >= ra);
            assert!(d <= ra.mul_f64(1.2) + Duration::from_millis(1));
        }
    }

    fn err(status: u16, retry_after: Option<&str>) -> Error {
        let mut h = HeaderMap::new();
        if let Some(ra) = retry_after {
            h.insert(http::header::RETRY_AFTER, ra.parse().unwrap());
        }
        Error::from_response(status, &h, b"")
    }

    const GET: RequestClass = RequestClass {
        idempotent: true,
        replayable: true,
    };
    const POST: RequestClass = RequestClass {
        idempotent: false,
        replayable: true,
    };
    const STREAM: RequestClass = RequestClass {
        idempotent: false,
        replayable: false,
    };

    #[test]
    fn which_failures_are_retried() {
        let d = |e: &Error, c| delay_for(e, c, 0, 3, BASE, MAX);
        assert!(d(&err(503, None), GET).is_some());
        assert!(d(&err(500, None), GET).is_some());
        assert!(d(&err(503, None), POST).is_none());
        assert!(d(&err(429, Some("1")), POST).is_some());
        assert!(d(&err(429, Some("1")), STREAM).is_none());
        assert!(d(&err(404, None), GET).is_none());
        assert!(d(&err(409, None), GET).is_none());
        assert!(d(&err(507, None), GET).is_none());
        assert!(d(&Error::new(ErrorKind::Transport, "reset"), GET).is_some());
        assert!(d(&Error::new(ErrorKind::Transport, "reset"), POST).is_none());
    }

    #[test]
    fn gives_up_after_max_retries() {
        let e = err(503, None);
        assert!(delay_for(&e, GET, 2, 3, BASE, MAX).is_some());
        assert!(delay_for(&e, GET, 3, 3, BASE, MAX).is_none());
        assert!(delay_for(&e, GET, 0, 0, BASE, MAX).is_none());
    }

    #[test]
    fn rate_limit_waits_at_least_retry_after() {
        let e = err(429, Some("2"));
        for _ in 0..50 {
            let d = delay_for(&e, GET, 0, 3, BASE, MAX).unwrap();
            assert!(d >= Duration::from_secs(2));
            assert!(d <= Duration::from_millis(2401));
        }
        let too_long = err(429, Some("3600"));
        assert!(delay_for(&too_long, GET, 0, 3, BASE, MAX).is_none());
    }
}
