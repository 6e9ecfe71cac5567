//! Token-bucket rate limits per workspace, and exponential back-off for addresses that keep
//! failing to authenticate. In memory, per node.

use crate::config::ConfigError;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The burst window.
const WINDOW: Duration = Duration::from_secs(1);

/// Request classes with their own buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Every authenticated API request of a workspace (reads and writes).
    Any = 0,
    /// State-changing requests (POST, PUT, PATCH, DELETE).
    Write = 1,
    /// Sign-in attempts, per client address.
    SignIn = 2,
}

/// Limits (the defaults are the origin documents': 300/min sustained, 15/s burst; writes 30/min).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Sustained requests per minute per workspace.
    pub per_minute: u32,
    /// Requests a workspace may make at once before the sustained rate applies.
    pub burst: u32,
    /// Sustained state-changing requests per minute per workspace.
    pub writes_per_minute: u32,
    pub writes_burst: u32,
    /// Sign-in attempts per minute per client address.
    pub sign_ins_per_minute: u32,
    pub sign_ins_burst: u32,
    /// Failed authentications from one address before it must wait; each further failure
    /// doubles the wait (1 s, 2 s, 4 s …) up to `auth_backoff_max_s`.
    pub auth_failures_allowed: u32,
    pub auth_backoff_max_s: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            per_minute: 300,
            burst: 15,
            writes_per_minute: 30,
            writes_burst: 5,
            sign_ins_per_minute: 10,
            sign_ins_burst: 5,
            auth_failures_allowed: 5,
            auth_backoff_max_s: 900,
        }
    }
}

impl LimitsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("per_minute", self.per_minute),
            ("burst", self.burst),
            ("writes_per_minute", self.writes_per_minute),
            ("writes_burst", self.writes_burst),
            ("sign_ins_per_minute", self.sign_ins_per_minute),
            ("sign_ins_burst", self.sign_ins_burst),
        ] {
            if v == 0 {
                return Err(ConfigError::new(format!(
                    "[web.limits] {name} must be at least 1"
                )));
            }
        }
        if self.auth_backoff_max_s == 0 {
            return Err(ConfigError::new(
                "[web.limits] auth_backoff_max_s must be at least 1",
            ));
        }
        Ok(())
    }

    fn rate(&self, class: Class) -> (f64, f64) {
        let (per_min, burst) = match class {
            Class::Any => (self.per_minute, self.burst),
            Class::Write => (self.writes_per_minute, self.writes_burst),
            Class::SignIn => (self.sign_ins_per_minute, self.sign_ins_burst),
        };
        (per_min as f64 / 60.0, burst as f64)
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
    /// When the last `burst` admitted requests came: at most `burst` in any one second, however
    /// fast the bucket refills meanwhile ("15/s burst" holds for a client slower than the refill).
    recent: VecDeque<Instant>,
}

/// Token buckets keyed by (workspace or address, class): a request needs a token (the bucket
/// holds `burst`, refilled at the sustained rate) and fewer than `burst` others in the last second.
pub struct RateLimiter {
    config: LimitsConfig,
    buckets: Mutex<HashMap<(String, Class), Bucket>>,
}

impl RateLimiter {
    pub fn new(config: LimitsConfig) -> Self {
        RateLimiter {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&self, key: &str, class: Class, now: Instant) -> Result<(), Duration> {
        let (rate, burst) = self.config.rate(class);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // forget buckets that have refilled completely: they are equal to new ones
            buckets.retain(|(_, c), b| {
                let (r, burst) = self.config.rate(*c);
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * r < burst
            });
        }
        let b = buckets
            .entry((key.to_string(), class))
            .or_insert_with(|| Bucket {
                tokens: burst,
                at: now,
                recent: VecDeque::new(),
            });
        b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        while b
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            b.recent.pop_front();
        }
        let window_wait = (b.recent.len() as f64 >= burst)
            .then(|| WINDOW - now.saturating_duration_since(b.recent[0]));
        let token_wait = (b.tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - b.tokens) / rate));
        match (token_wait, window_wait) {
            (None, None) => {
                b.tokens -= 1.0;
                b.recent.push_back(now);
                Ok(())
            }
            (a, b) => Err(a.unwrap_or_default().max(b.unwrap_or_default())),
        }
    }
}

struct Failures {
    count: u32,
    last: Instant,
}

/// Who is trying to authenticate: the client's address and the public id of the key it
/// presents ("malformed" when it is not a well-formed key). Back-off is per attempt key, so a
/// client guessing at one key — or sending garbage — cannot lock out another key used from the
/// same address (a NAT, a proxy, a provider's shared egress).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attempt {
    pub ip: IpAddr,
    pub key_id: String,
}

impl Attempt {
    pub fn new(ip: IpAddr, presented: &str) -> Attempt {
        Attempt {
            ip,
            key_id: crate::store::public_key_id(presented)
                .unwrap_or("malformed")
                .to_string(),
        }
    }
}

/// Failed authentications per [`Attempt`].
pub struct AuthGuard {
    allowed: u32,
    max_wait: Duration,
    failures: Mutex<HashMap<Attempt, Failures>>,
}

impl AuthGuard {
    pub fn new(config: &LimitsConfig) -> Self {
        AuthGuard {
            allowed: config.auth_failures_allowed,
            max_wait: Duration::from_secs(config.auth_backoff_max_s),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn wait_after(&self, count: u32) -> Duration {
        if count <= self.allowed {
            return Duration::ZERO;
        }
        let doublings = (count - self.allowed - 1).min(30);
        Duration::from_secs(1u64 << doublings).min(self.max_wait)
    }

    /// How long this address must still wait, if it is backing off.
    pub fn blocked(&self, who: &Attempt, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let f = failures.get(who)?;
        let until = f.last + self.wait_after(f.count);
        (until > now).then(|| until - now)
    }

    pub fn failure(&self, who: &Attempt, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 100_000 {
            let max = self.max_wait;
            failures.retain(|_, f| now.saturating_duration_since(f.last) < max);
        }
        let f = failures.entry(who.clone()).or_insert(Failures {
            count: 0,
            last: now,
        });
        // an address quiet for longer than the longest wait starts again
        if now.saturating_duration_since(f.last) > self.max_wait {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
    }

    pub fn success(&self, who: &Attempt) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(who);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_15_passes_then_the_sustained_rate_applies() {
        let l = RateLimiter::new(LimitsConfig::default());
        let t0 = Instant::now();
        for i in 0..15 {
            assert!(l.take("w1", Class::Any, t0).is_ok(), "request {i}");
        }
        let wait = l.take("w1", Class::Any, t0).unwrap_err();
        assert_eq!(
            wait,
            Duration::from_secs(1),
            "the burst window is the longer wait"
        );
        // another workspace and another class have their own buckets
        assert!(l.take("w2", Class::Any, t0).is_ok());
        assert!(l.take("w1", Class::Write, t0).is_ok());
        // a second later 5 tokens are back (300/min), and only 5
        let t1 = t0 + Duration::from_millis(1000);
        assert_eq!(
            (0..10)
                .filter(|_| l.take("w1", Class::Any, t1).is_ok())
                .count(),
            5
        );
        assert!(
            (l.take("w1", Class::Any, t1).unwrap_err().as_secs_f64() - 0.2).abs() < 1e-6,
            "then one per 200 ms"
        );
        // a minute of quiet refills the burst, not more
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(
            (0..20)
                .filter(|_| l.take("w1", Class::Any, t2).is_ok())
                .count(),
            15
        );
    }

    #[test]
    fn no_more_than_the_burst_in_any_second_even_while_the_bucket_refills() {
        let l = RateLimiter::new(LimitsConfig::default());
        let t0 = Instant::now();
        // a client doing one request every 20 ms: the bucket refills 1.5 tokens in 300 ms,
        // but the 16th request within a second is still refused
        for i in 0..15 {
            assert!(
                l.take("w", Class::Any, t0 + Duration::from_millis(20 * i))
                    .is_ok(),
                "request {i}"
            );
        }
        let t15 = t0 + Duration::from_millis(300);
        assert_eq!(
            l.take("w", Class::Any, t15).unwrap_err(),
            Duration::from_millis(700),
            "the first leaves the window at 1 s"
        );
        // one second after the first, one more fits (one token refilled, window has room)
        assert!(
            l.take("w", Class::Any, t0 + Duration::from_millis(1000))
                .is_ok()
        );
    }

    #[test]
    fn writes_are_limited_to_30_per_minute() {
        let l = RateLimiter::new(LimitsConfig::default());
        let t0 = Instant::now();
        assert_eq!(
            (0..10)
                .filter(|_| l.take("w", Class::Write, t0).is_ok())
                .count(),
            5
        );
        let t1 = t0 + Duration::from_secs(60);
        // 30 more tokens arrived over the minute, capped at the burst
        assert_eq!(
            (0..10)
                .filter(|_| l.take("w", Class::Write, t1).is_ok())
                .count(),
            5
        );
        assert_eq!(
            l.take("w", Class::Write, t1).unwrap_err(),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn failed_authentications_back_off_exponentially_and_success_resets() {
        let g = AuthGuard::new(&LimitsConfig::default());
        let ip = Attempt::new("127.0.0.1".parse().unwrap(), "not a key");
        let other = Attempt::new("::1".parse().unwrap(), "not a key");
        let t = Instant::now();
        for _ in 0..5 {
            assert_eq!(g.blocked(&ip, t), None);
            g.failure(&ip, t);
        }
        assert_eq!(g.blocked(&ip, t), None, "five failures are allowed");
        g.failure(&ip, t);
        assert_eq!(g.blocked(&ip, t), Some(Duration::from_secs(1)));
        g.failure(&ip, t);
        assert_eq!(g.blocked(&ip, t), Some(Duration::from_secs(2)));
        g.failure(&ip, t);
        assert_eq!(g.blocked(&ip, t), Some(Duration::from_secs(4)));
        assert_eq!(g.blocked(&ip, t + Duration::from_secs(4)), None);
        assert_eq!(
            g.blocked(&other, t),
            None,
            "other addresses are not affected"
        );
        for _ in 0..40 {
            g.failure(&ip, t);
        }
        assert_eq!(g.blocked(&ip, t), Some(Duration::from_secs(900)), "capped");
        g.success(&ip);
        assert_eq!(g.blocked(&ip, t), None);
    }

    #[test]
    fn back_off_is_per_address_and_key_so_guessing_cannot_lock_out_another_key() {
        let g = AuthGuard::new(&LimitsConfig::default());
        let t = Instant::now();
        let nat: IpAddr = "10.0.0.1".parse().unwrap();
        let secret = "A".repeat(43);
        let guessed = Attempt::new(nat, &format!("csk_aaaa1111_{secret}"));
        let garbage = Attempt::new(nat, "garbage");
        for _ in 0..20 {
            g.failure(&guessed, t);
            g.failure(&garbage, t);
        }
        assert!(g.blocked(&guessed, t).is_some());
        assert!(g.blocked(&garbage, t).is_some());
        assert_eq!(
            g.blocked(&Attempt::new(nat, "other garbage"), t),
            g.blocked(&garbage, t)
        );
        let other_key = Attempt::new(nat, &format!("csk_bbbb2222_{secret}"));
        assert_eq!(
            g.blocked(&other_key, t),
            None,
            "another key from the same address"
        );
    }
}
