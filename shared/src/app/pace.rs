//! Sending at SES's pace: the account's send rate is shared by every email, so a task that sends
//! many holds them to it instead of being throttled.
use crate::api::AppState;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The slowest pace believed: one send an hour.
const SLOWEST: f64 = 1.0 / 3600.0;
/// The fastest: far above any SES account's rate.
const FASTEST: f64 = 10_000.0;

/// A token bucket: at most `per_window` sends start in any `window` (one second, at a rate of one a
/// second or more), each token back a window after it was spent. A send that starts late (a timer
/// that fired late, a stall on a slow call) delays only the one that reuses its token, not every one
/// after it, so the rate is met exactly rather than approached; and never passed, in any window.
/// The tokens start spent as if sending had gone at the rate until now: no burst at the start, so
/// that from the moment the pace is made sending never runs ahead of the rate.
pub struct Pace {
    per_window: usize,
    window: Duration,
    /// When the last sends started, at most `per_window`, oldest first.
    starts: VecDeque<Instant>,
}

impl Pace {
    /// `rate`: sends a second; whole sends a second at one or more (SES's rates are whole), else one
    /// send every `1 / rate` seconds.
    pub fn new(rate: f64) -> Self {
        Pace::starting_at(rate, Instant::now())
    }

    /// The first token free at `t0`, the next `window / per_window` later, and so on.
    fn starting_at(rate: f64, t0: Instant) -> Self {
        // NaN too is no faster than the slowest.
        let rate = if rate > SLOWEST { rate.min(FASTEST) } else { SLOWEST };
        let (per_window, window) = if rate >= 1.0 {
            (rate.floor() as usize, Duration::from_secs(1))
        } else {
            (1, Duration::from_secs_f64(1.0 / rate))
        };
        let step = window / per_window as u32;
        let starts = match t0.checked_sub(window) {
            Some(before) => (0..per_window as u32).map(|k| before + step * k).collect(),
            None => VecDeque::new(),
        };
        Pace { per_window, window, starts }
    }

    /// Sends a second.
    pub fn rate(&self) -> f64 {
        self.per_window as f64 / self.window.as_secs_f64()
    }

    /// How many sends to keep in flight so that the rate is met while each waits on its round trips
    /// (`each`: how long one takes); the bucket still holds their starts, so the rate is never passed.
    pub fn in_flight(&self, each: Duration) -> usize {
        ((self.rate() * each.as_secs_f64()).ceil() as usize).clamp(1, 32)
    }

    /// Starts a send at `now` if a token is free; else how long until one is.
    fn try_start(&mut self, now: Instant) -> Result<(), Duration> {
        if self.starts.len() >= self.per_window {
            let free_at = self.starts.front().map_or(now, |oldest| *oldest + self.window);
            if free_at > now {
                return Err(free_at - now);
            }
            self.starts.pop_front();
        }
        self.starts.push_back(now);
        Ok(())
    }
}

impl Pace {
    /// The account's send rate (or the configured one when SES does not say); `floor`: the lowest
    /// rate believed.
    pub async fn of_account(st: &AppState, floor: f64) -> Self {
        let rate = st.mailer.max_send_rate().await.unwrap_or(st.config.ses_max_send_rate);
        Pace::new(rate.max(floor))
    }

    /// Waits for the next send's turn.
    pub async fn wait(&mut self) {
        while let Err(wait) = self.try_start(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sender that always has a send waiting: starts `n` sends, each as soon as the bucket allows
    /// plus `late(i)` (when its timer fires late), on a clock of its own.
    fn greedy(rate: f64, n: usize, late: impl Fn(usize) -> Duration) -> Vec<Duration> {
        let t0 = Instant::now();
        let mut pace = Pace::starting_at(rate, t0);
        let mut t = t0;
        let mut starts = Vec::new();
        while starts.len() < n {
            match pace.try_start(t) {
                Ok(()) => starts.push(t - t0),
                Err(wait) => t += wait + late(starts.len()),
            }
        }
        starts
    }

    /// No window of `window` holds more than `most` starts: any `most + 1` in a row span it at least.
    fn at_most(starts: &[Duration], most: usize, window: Duration) -> bool {
        starts.windows(most + 1).all(|w| w[most] - w[0] >= window)
    }

    #[test]
    fn never_more_than_the_rate_in_any_second() {
        let second = Duration::from_secs(1);
        for rate in [1.0, 14.0, 50.0, 50.9, 200.0] {
            let on_time = greedy(rate, 2000, |_| Duration::ZERO);
            assert!(at_most(&on_time, rate as usize, second), "{rate}/s");
            // Timers that fire late by up to 7 ms: still never over.
            let late = greedy(rate, 2000, |i| Duration::from_millis((i % 8) as u64));
            assert!(at_most(&late, rate as usize, second), "{rate}/s, late");
        }
        let slow = greedy(0.5, 20, |_| Duration::ZERO);
        assert!(at_most(&slow, 1, Duration::from_secs(2)));
    }

    #[test]
    fn the_rate_is_met_exactly_and_never_passed_from_the_first_send() {
        // 1000 sends at 50 a second: one every 20 ms, the last 19.98 s after the first.
        let starts = greedy(50.0, 1000, |_| Duration::ZERO);
        assert_eq!(starts[999] - starts[0], Duration::from_millis(19_980));
        let slow = greedy(0.5, 10, |_| Duration::ZERO);
        assert_eq!(slow[9] - slow[0], Duration::from_secs(18));
        // No burst at the start, late or not: the n-th send never before n / rate.
        for late in [0, 3, 25] {
            let starts = greedy(50.0, 500, |i| Duration::from_millis((i as u64 * late) % 40));
            assert!(starts.iter().enumerate().all(|(n, t)| *t >= Duration::from_millis(20 * n as u64)), "{late}");
        }
    }

    #[test]
    fn a_late_start_delays_only_the_send_that_reuses_its_token() {
        // Every wait overshoots by 5 ms: a token comes back 5 ms later each time round (once a
        // second), so 1000 sends take 19.98 s + 20 × 5 ms (99.5% of the rate); spacing each send
        // 20 ms after the last one actually started would take 999 × 25 ms (80%).
        let starts = greedy(50.0, 1000, |_| Duration::from_millis(5));
        assert_eq!(starts[999] - starts[0], Duration::from_millis(19_980 + 20 * 5));
    }

    #[test]
    fn enough_in_flight_for_the_rate_and_no_more_than_32() {
        let each = Duration::from_millis(250);
        assert_eq!(Pace::new(50.0).in_flight(each), 13);
        assert_eq!(Pace::new(1.0).in_flight(each), 1);
        assert_eq!(Pace::new(1000.0).in_flight(each), 32);
        for nonsense in [0.0, -1.0, f64::NAN] {
            assert!((Pace::new(nonsense).rate() - SLOWEST).abs() < 1e-12, "{nonsense}");
        }
    }
}
