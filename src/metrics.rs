//! Process-wide counters and histograms for `/metrics` (Prometheus text format 0.0.4). Labels
//! are fixed small sets (kind, priority, route class): never text, identifiers or tenants.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency bucket bounds, seconds.
pub const LATENCY_BOUNDS: [f64; 12] = [
    0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0,
];

/// A cumulative histogram with fixed bounds.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(
            d.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of `name` with one fixed label.
    pub fn render(&self, out: &mut String, name: &str, label: &str) {
        let mut cumulative = 0;
        let sep = if label.is_empty() { "" } else { "," };
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{label}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let braces = if label.is_empty() {
            String::new()
        } else {
            format!("{{{label}}}")
        };
        let _ = writeln!(out, "{name}_bucket{{{label}{sep}le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum{braces} {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// What the live pipeline and the API count.
pub struct Metrics {
    /// Utterance end (final handed to the recogniser) → final published.
    pub final_latency: Histogram,
    /// Interim requested → interim published.
    pub interim_latency: Histogram,
    /// Audio seconds transcribed and worker seconds spent, per kind (µs): the real-time factor.
    pub asr_audio_us: [AtomicU64; 2],
    pub asr_busy_us: [AtomicU64; 2],
    /// CPU time of the worker threads inside jobs (whisper's own), per kind.
    pub asr_cpu_us: [AtomicU64; 2],
    /// Requests refused by a rate limit, per class (0: read, 1: write, 2: sign-in).
    pub rate_limited: [AtomicU64; 3],
    /// Failed authentications, and requests refused because their address was backing off.
    pub auth_failures: AtomicU64,
    pub auth_blocked: AtomicU64,
    /// Connections closed at once because the server or their address had too many open.
    pub connections_refused: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            final_latency: Histogram::new(&LATENCY_BOUNDS),
            interim_latency: Histogram::new(&LATENCY_BOUNDS),
            asr_audio_us: Default::default(),
            asr_busy_us: Default::default(),
            asr_cpu_us: Default::default(),
            rate_limited: Default::default(),
            auth_failures: AtomicU64::new(0),
            auth_blocked: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// One recogniser job: `kind` 0 final, 1 interim; wall and CPU seconds of its worker.
    pub fn asr_job(&self, kind: usize, audio_s: f32, busy_s: f32, cpu_s: f32) {
        self.asr_audio_us[kind]
            .fetch_add((audio_s.max(0.0) as f64 * 1e6) as u64, Ordering::Relaxed);
        self.asr_busy_us[kind].fetch_add((busy_s.max(0.0) as f64 * 1e6) as u64, Ordering::Relaxed);
        self.asr_cpu_us[kind].fetch_add((cpu_s.max(0.0) as f64 * 1e6) as u64, Ordering::Relaxed);
    }

    /// Worker seconds per audio second over every job so far (0 before the first).
    pub fn real_time_factor(&self) -> f64 {
        let audio: u64 = self
            .asr_audio_us
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum();
        let busy: u64 = self
            .asr_busy_us
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum();
        if audio == 0 {
            0.0
        } else {
            busy as f64 / audio as f64
        }
    }
}

/// CPU seconds the calling thread has used (its own clock: nanosecond resolution, unlike
/// /proc's 10 ms ticks, so short jobs add up right).
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID exists on every
    // platform callscribe builds for (Linux, macOS).
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    } else {
        0.0
    }
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat (Linux; in
/// USER_HZ = 100 ticks per second, which the kernel fixes for this interface).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // the command name (field 2) may hold spaces: count from the closing parenthesis
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spins until `clock` has advanced by `secs` (on a loaded machine this takes longer in
    /// wall time, never forever: a clock that does not move fails after a minute).
    fn spin_until(clock: impl Fn() -> f64, secs: f64) {
        let (start, t) = (clock(), std::time::Instant::now());
        let mut x = 0u64;
        while clock() - start < secs {
            for _ in 0..10_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the clock did not advance by {secs} s in a minute of spinning"
            );
        }
        std::hint::black_box(x);
    }

    #[test]
    fn process_cpu_time_grows_with_work() {
        let before = process_cpu_seconds().expect("/proc/self/stat");
        // this thread's own clock (nanoseconds) drives the spin; the process clock (ticks of
        // 10 ms, scaled) must then have grown about as much
        spin_until(thread_cpu_seconds, 0.2);
        let after = process_cpu_seconds().unwrap();
        assert!(after - before >= 0.15, "{before} → {after}");
    }

    #[test]
    fn thread_cpu_time_counts_this_thread_only() {
        let before = thread_cpu_seconds();
        // another thread works 0.2 s of its own CPU while this one waits for it
        let other = std::thread::spawn(|| {
            let start = thread_cpu_seconds();
            spin_until(thread_cpu_seconds, 0.2);
            thread_cpu_seconds() - start
        });
        let theirs = other.join().unwrap();
        let waited = thread_cpu_seconds() - before;
        assert!(theirs >= 0.2, "{theirs}");
        assert!(
            waited < 0.05,
            "waiting for the other thread used {waited} s of this thread's CPU"
        );
        // this thread's own work counts, and the process's clock saw it too
        let process_before = process_cpu_seconds().unwrap();
        spin_until(thread_cpu_seconds, 0.2);
        assert!(thread_cpu_seconds() - before >= 0.2);
        assert!(process_cpu_seconds().unwrap() - process_before >= 0.15);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_sum_in_seconds() {
        let h = Histogram::new(&LATENCY_BOUNDS);
        h.observe(Duration::from_millis(80));
        h.observe(Duration::from_millis(900));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "kind=\"final\"");
        assert!(
            out.contains("x_seconds_bucket{kind=\"final\",le=\"0.1\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{kind=\"final\",le=\"1\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{kind=\"final\",le=\"21\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{kind=\"final\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_sum{kind=\"final\"} 60.98\n"),
            "{out}"
        );
        assert!(out.contains("x_seconds_count{kind=\"final\"} 3\n"), "{out}");
    }

    #[test]
    fn real_time_factor_is_busy_over_audio() {
        let m = Metrics::default();
        assert_eq!(m.real_time_factor(), 0.0);
        m.asr_job(0, 4.0, 1.0, 0.9);
        m.asr_job(1, 4.0, 0.0, 0.0);
        assert!((m.real_time_factor() - 0.125).abs() < 1e-9);
    }
}
