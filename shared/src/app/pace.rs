//! Sending at SES's pace: the account's send rate is shared by every email, so a task that sends
//! many spaces them out instead of being throttled.
use crate::api::AppState;
use std::time::{Duration, Instant};

/// One send every `interval`, the first at once.
pub struct Pace {
    interval: Duration,
    next: Instant,
}

impl Pace {
    /// Sends a second.
    pub fn rate(&self) -> f64 {
        1.0 / self.interval.as_secs_f64()
    }

    /// How many sends to keep in flight so that the rate is met while each waits on its round trips
    /// (`each`: how long one takes); the pace still spaces their starts, so the rate is never passed.
    pub fn in_flight(&self, each: Duration) -> usize {
        ((self.rate() * each.as_secs_f64()).ceil() as usize).clamp(1, 32)
    }
}

impl Pace {
    /// The account's send rate (or the configured one when SES does not say); `floor`: the lowest
    /// rate believed.
    pub async fn of_account(st: &AppState, floor: f64) -> Self {
        let rate = st.mailer.max_send_rate().await.unwrap_or(st.config.ses_max_send_rate);
        Pace { interval: Duration::from_secs_f64(1.0 / rate.max(floor)), next: Instant::now() }
    }

    /// Waits for the next send's turn.
    pub async fn wait(&mut self) {
        let wait = self.next.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        self.next = Instant::now() + self.interval;
    }
}
