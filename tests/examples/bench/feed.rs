//! The 10,000-job feed: Indeed's XML feed as the product's writer renders it against a raw quick-xml
//! writer of the same elements, pure CPU, no emulator. The comparison runs in the release binary
//! `bench-feed` (tests/bin/bench_feed.rs), which `make bench` builds with the functions: this example is
//! a debug build, in which the ratio of two unoptimised writers would say little about Lambda's.
use rapport_local::runtime;
use serde_json::{json, Value};
use std::path::PathBuf;

const GOAL: f64 = 1.5;

/// Runs `bench-feed` from `RAPPORT_RELEASE_DIR` (default `target/release`); skipped with a note when
/// it is not there.
pub async fn feed() -> anyhow::Result<Value> {
    let dir = match std::env::var_os("RAPPORT_RELEASE_DIR") {
        Some(d) => PathBuf::from(d),
        None => runtime::target_dir()?.join("release"),
    };
    let binary = dir.join("bench-feed");
    println!();
    if !binary.is_file() {
        println!(
            "feed skipped: no release bench-feed in {} (`make bench` builds it: cargo build --release --bins \
             -p rapport-tests …)",
            dir.display()
        );
        return Ok(json!({"skipped": format!("no release bench-feed in {}", dir.display())}));
    }
    let out = tokio::process::Command::new(&binary).output().await?;
    anyhow::ensure!(out.status.success(), "bench-feed: {} {}", out.status, String::from_utf8_lossy(&out.stderr));
    let run: Value = serde_json::from_slice(&out.stdout)?;
    anyhow::ensure!(run["identical"] == true, "the product's feed and the raw writer's differ: no figure");
    let median = |k: &str| {
        let mut v: Vec<f64> = run[k].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    };
    let (product, raw) = (median("product_ms"), median("raw_ms"));
    let ratio = product / raw;
    let met = ratio <= GOAL;
    let (jobs, runs) = (run["jobs"].as_u64().unwrap_or(0), run["runs"].as_u64().unwrap_or(0));
    let mib = run["bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0;
    println!("feed: {jobs} jobs into Indeed's XML ({mib:.1} MiB, the same bytes both ways), median of {runs} runs, release build");
    println!("{:<28} {:>10} {:>8}  goal <= {GOAL}x", "writer", "ms", "x");
    println!("{:<28} {raw:>10.1} {:>8.2}", "raw quick-xml writer", 1.0);
    println!("{:<28} {product:>10.1} {ratio:>8.2}  {}", "product (IndeedFeed)", if met { "met" } else { "missed" });
    println!(
        "product: rapport_domain::feed::IndeedFeed as the feeds task drives it (pages of 100, a part handed off \
         each 5 MiB); raw: quick-xml's Writer given each element's text; interleaved, after a warm-up round"
    );
    Ok(json!({"jobs": jobs, "runs": runs, "bytes": run["bytes"], "profile": "release",
              "product_ms": product, "raw_ms": raw, "ratio": ratio, "goal": GOAL, "met": met, "samples": run}))
}
