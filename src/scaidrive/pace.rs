//! Pacing by ScaiDrive's rate-limit headers, per token (ScaiDrive's budget is per token).
//!
//! Every response's `X-RateLimit-Limit` / `-Remaining` / `-Reset` are remembered for the token
//! that made the request, and a 429's `Retry-After` blocks that token until it has passed. Before
//! a request is sent:
//!
//! - while the token is blocked, the request waits for the end of the block (every concurrent
//!   request, not only the one that was refused);
//! - while less than 10 % of the budget is left, requests of the token are spaced at the rate
//!   the window refills (`limit` units per 60 s, each request weighed by its documented cost:
//!   listing 2, metadata 1, content 5, other writes 2), and a request that the remaining budget
//!   cannot pay for waits until `X-RateLimit-Reset`.
//!
//! So a busy client slows down to what ScaiDrive allows instead of running into 429s. No wait is
//! longer than [`MAX_PACE`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::Method;

use super::token::Token;

/// The longest a request waits before it is sent.
pub const MAX_PACE: Duration = Duration::from_secs(60);

/// The rate-limit window ScaiDrive documents.
const WINDOW: Duration = Duration::from_secs(60);

/// The documented cost of a request: listing 2, metadata 1, content (download, chunk) 5, other
/// writes 2.
pub fn cost(method: &Method, path: &str) -> u64 {
    if (*method == Method::GET && path.ends_with("/content"))
        || (*method == Method::PUT && path.contains("/chunks/"))
    {
        5
    } else if *method == Method::GET && path.ends_with("/children") {
        2
    } else if *method == Method::GET || *method == Method::HEAD {
        1
    } else {
        2
    }
}

#[derive(Debug, Default)]
struct TokenPace {
    limit: Option<u64>,
    remaining: Option<u64>,
    /// `X-RateLimit-Reset` (epoch seconds).
    reset: Option<u64>,
    observed: Option<Instant>,
    blocked_until: Option<Instant>,
    next_slot: Option<Instant>,
}

/// Per-token pacing state.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    tokens: Mutex<HashMap<Token, TokenPace>>,
}

impl Pacer {
    fn with<R>(&self, token: &Token, f: impl FnOnce(&mut TokenPace) -> R) -> R {
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry(token.clone()).or_default())
    }

    /// Remembers the rate-limit headers of a response to `token`'s request.
    pub fn observe(
        &self,
        token: &Token,
        limit: Option<u64>,
        remaining: Option<u64>,
        reset: Option<u64>,
    ) {
        self.with(token, |p| {
            p.limit = limit.or(p.limit);
            p.remaining = remaining;
            p.reset = reset;
            p.observed = Some(Instant::now());
        });
    }

    /// The last budget ScaiDrive reported for `token` (limit, remaining), if seen within the
    /// window and not yet reset.
    pub fn budget(&self, token: &Token) -> Option<(u64, u64)> {
        self.with(token, |p| {
            let fresh = p.observed.is_some_and(|o| o.elapsed() < WINDOW);
            let blocked = p.blocked_until.is_some_and(|b| b > Instant::now());
            match (fresh || blocked, p.limit, p.remaining) {
                (true, Some(limit), Some(remaining)) => Some((limit, remaining)),
                (true, Some(limit), None) if blocked => Some((limit, 0)),
                _ => None,
            }
        })
    }

    /// A 429 told `token` to wait this long.
    pub fn block(&self, token: &Token, retry_after: Duration) {
        let until = Instant::now() + retry_after.min(MAX_PACE);
        self.with(token, |p| {
            p.blocked_until = Some(p.blocked_until.map_or(until, |b| b.max(until)));
            p.remaining = Some(0);
            p.observed = Some(Instant::now());
        });
    }

    /// How long to wait before sending this request (and count it against the budget).
    pub fn delay(&self, token: &Token, method: &Method, path: &str) -> Option<Duration> {
        let now = Instant::now();
        let cost = cost(method, path);
        let wait_until = self.with(token, |p| {
            let mut at = now;
            if let Some(b) = p.blocked_until {
                if b > now {
                    at = b;
                } else {
                    p.blocked_until = None;
                }
            }
            let fresh = p.observed.is_some_and(|o| o.elapsed() < WINDOW);
            if let (true, Some(limit), Some(remaining)) = (fresh, p.limit, p.remaining)
                && limit > 0
            {
                let reserve = (limit / 10).max(1);
                if remaining < reserve + cost {
                    let spacing = WINDOW.mul_f64(cost as f64 / limit as f64);
                    let slot = p.next_slot.map_or(at, |n| n.max(at));
                    p.next_slot = Some(slot + spacing);
                    at = slot;
                    if remaining < cost
                        && let Some(reset) = p.reset
                    {
                        let secs = reset.saturating_sub(epoch_secs());
                        let reset_at = now + Duration::from_secs(secs).min(WINDOW);
                        at = at.max(reset_at);
                    }
                }
                // Count this request until ScaiDrive's next answer says otherwise.
                p.remaining = Some(remaining.saturating_sub(cost));
            }
            at
        });
        let wait = wait_until.saturating_duration_since(now).min(MAX_PACE);
        (!wait.is_zero()).then_some(wait)
    }
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn token() -> Token {
        Token::new("t")
    }

    #[test]
    fn no_headers_no_wait() {
        let p = Pacer::default();
        assert_eq!(p.delay(&token(), &Method::GET, "/api/v1/files/x"), None);
    }

    #[test]
    fn plenty_of_budget_no_wait() {
        let p = Pacer::default();
        p.observe(&token(), Some(1000), Some(900), Some(epoch_secs() + 60));
        for _ in 0..10 {
            assert_eq!(p.delay(&token(), &Method::POST, "/api/v1/files"), None);
        }
    }

    #[test]
    fn low_budget_spaces_requests_at_the_refill_rate() {
        let p = Pacer::default();
        p.observe(&token(), Some(600), Some(50), Some(epoch_secs() + 30));
        // 600 units a minute = 10 per second: a 2-unit request every 200 ms.
        let first = p.delay(&token(), &Method::POST, "/api/v1/files");
        let second = p.delay(&token(), &Method::POST, "/api/v1/files").unwrap();
        let third = p.delay(&token(), &Method::POST, "/api/v1/files").unwrap();
        assert!(first.is_none_or(|d| d < Duration::from_millis(50)));
        assert!(second >= Duration::from_millis(150) && second <= Duration::from_millis(200));
        assert!(third >= Duration::from_millis(350) && third <= Duration::from_millis(400));
    }

    #[test]
    fn a_429_blocks_every_request_of_the_token_only() {
        let p = Pacer::default();
        p.block(&token(), Duration::from_secs(3));
        let d = p.delay(&token(), &Method::GET, "/api/v1/files/x").unwrap();
        assert!(d > Duration::from_millis(2500) && d <= Duration::from_secs(3));
        assert_eq!(
            p.delay(&Token::new("other"), &Method::GET, "/api/v1/files/x"),
            None
        );
    }

    #[test]
    fn the_budget_is_the_last_seen_and_a_block_empties_it() {
        let p = Pacer::default();
        assert_eq!(p.budget(&token()), None);
        p.observe(&token(), Some(100), Some(40), None);
        assert_eq!(p.budget(&token()), Some((100, 40)));
        assert_eq!(p.budget(&Token::new("other")), None);
        p.block(&token(), Duration::from_secs(5));
        assert_eq!(p.budget(&token()), Some((100, 0)));
    }

    #[test]
    fn costs_follow_the_documented_classes() {
        assert_eq!(cost(&Method::GET, "/api/v1/folders/root/children"), 2);
        assert_eq!(cost(&Method::GET, "/api/v1/files/f/content"), 5);
        assert_eq!(cost(&Method::PUT, "/api/v1/uploads/u/chunks/0"), 5);
        assert_eq!(cost(&Method::GET, "/api/v1/files/f"), 1);
        assert_eq!(cost(&Method::POST, "/api/v1/files"), 2);
    }
}
