//! Lambda entry point for EventBridge Scheduler (`{"task": …, "scheduled_time": …}`) and for SES
//! bounce and complaint events from EventBridge.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = rapport::startup::start().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let started = started.clone();
        async move {
            let state = started.state();
            // Leave a margin before Lambda's deadline so a page in progress finishes cleanly.
            let budget = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
            let report = rapport_nurture::handle(
                state,
                &event.payload,
                budget.saturating_sub(std::time::Duration::from_secs(3)),
            )
            .await?;
            Ok::<Value, Error>(report)
        }
    }))
    .await
}
