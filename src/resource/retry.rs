//! Retry timing shared by HTTP and TFTP: the backoff schedule and its per-process jitter.

use std::time::Duration;

/// A small xorshift generator for backoff jitter, seeded from the clock and the pid: a fleet
/// booting at the same instant must not retry in lockstep.
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Jitter(t ^ (u64::from(std::process::id()) << 32) | 1)
    }

    /// A factor in [0.5, 1.5).
    pub(crate) fn factor(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        0.5 + (self.0 % 1000) as f64 / 1000.0
    }
}

/// Backoff before retry `n` (1-based): 200 ms doubling, capped at 5 s, times a jitter factor.
pub fn backoff(n: u32, jitter: f64) -> Duration {
    let base = 200u64.saturating_mul(1 << (n.saturating_sub(1)).min(10));
    Duration::from_millis(base.min(5000)).mul_f64(jitter)
}
