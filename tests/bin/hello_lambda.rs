//! The baseline of `make bench`'s cold-start figures: the smallest `lambda_runtime` function,
//! built with the same release profile as Rapport's functions, in the same run.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<Value, Error>(json!({"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "hello"}))
    }))
    .await
}
