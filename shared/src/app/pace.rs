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
