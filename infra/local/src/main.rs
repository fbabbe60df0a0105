//! `make dev`: starts the emulator (keeping its data across restarts), the local stack on
//! 127.0.0.1:$PORT, prints the URLs and tokens, and stops everything on Ctrl-C or SIGTERM.
use anyhow::Context as _;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use rand::RngCore;
use rapport_local::token::TokenRequest;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

/// Keys survive restarts so that printed tokens and cursors stay valid.
/// The stack's keys, kept in `.local/keys` (base64, a line each): signing, JWT, email hash. A file
/// from before the email hash had its own key gets the signing key as that key, which is what hashed
/// the addresses already stored.
fn keys(dir: &Path) -> anyhow::Result<(String, Vec<u8>, String)> {
    let path = dir.join("keys");
    let fresh = || {
        let mut k = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut k);
        B64.encode(k)
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut lines: Vec<String> =
        text.lines().map(|l| l.trim().to_string()).filter(|l| B64.decode(l).is_ok_and(|k| k.len() >= 32)).collect();
    if lines.len() < 2 {
        lines = vec![fresh(), fresh()];
    }
    if lines.len() < 3 {
        lines.push(lines[0].clone());
    }
    std::fs::write(&path, format!("{}\n", lines.join("\n")))?;
    let jwt = B64.decode(&lines[1])?;
    Ok((lines[0].clone(), jwt, lines[2].clone()))
}

async fn wait_ready(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..100 {
        if http.get(format!("{url}/moto-api/")).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the emulator did not start at {url}; see its log")
}

async fn start_moto(dir: &Path, port: &str) -> anyhow::Result<(String, Child)> {
    let python = env_or("EMULATOR_PYTHON", ".venv/bin/python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/emulator.py");
    let recording: PathBuf = dir.join("moto-recording.jsonl");
    let log = std::fs::File::create(dir.join("moto.log"))?;
    let child = Command::new(&python)
        .args([script, "-H", "127.0.0.1", "-p", port])
        .env("MOTO_ENABLE_RECORDING", "True")
        .env("MOTO_RECORDER_FILEPATH", &recording)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting the emulator with {python} (run `make dev`, which installs it)"))?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_ready(&http, &url).await?;
    // Replaying the recording restores everything made before the last stop; replays are not re-recorded.
    if std::fs::metadata(&recording).map(|m| m.len() > 0).unwrap_or(false) {
        http.post(format!("{url}/moto-api/recorder/replay-recording")).send().await?.error_for_status()?;
    }
    Ok((url, child))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rapport::logging::init();
    let dir = PathBuf::from(env_or("RAPPORT_DATA_DIR", ".local"));
    if env_or("RESET", "0") == "1" {
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::fs::create_dir_all(&dir)?;
    let port: u16 = env_or("PORT", "3000").parse().context("PORT must be a port number")?;
    let (moto_url, mut moto) = match std::env::var("MOTO_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => (url, None),
        None => {
            let (url, child) = start_moto(&dir, &env_or("MOTO_PORT", "4566")).await?;
            (url, Some(child))
        }
    };
    let (signing_key, jwt_key, email_hash_key) = keys(&dir)?;
    let origins = env_or("ALLOWED_ORIGINS", &format!("http://localhost:{port},http://127.0.0.1:{port}"));
    let stack = rapport_local::spawn(rapport_local::Options {
        moto_url: moto_url.clone(),
        name_prefix: env_or("RAPPORT_PREFIX", "rapport"),
        port,
        signing_keys: rapport_local::keyring(&signing_key),
        email_hash_key,
        jwt_key,
        seed: env_or("SEED", "1") != "0",
        run_schedules: true,
        adjust_policy: None,
        clock: None,
        rate_limit_per_minute: env_or("RATE_LIMIT_PER_MINUTE", "20")
            .parse()
            .context("RATE_LIMIT_PER_MINUTE must be a number")?,
        counter_shards: env_or("COUNTER_SHARDS", "8").parse().context("COUNTER_SHARDS must be a number")?,
        draft_abandon_after: rapport::config::parse_duration(&env_or("DRAFT_ABANDON_AFTER", "24h"))
            .context("DRAFT_ABANDON_AFTER must be a duration such as 24h")?,
        allowed_origins: origins.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
    })
    .await?;
    let token = |role: &str| {
        stack
            .issuer
            .issue(&TokenRequest { role: role.into(), sub: None, email: None, ttl_seconds: Some(12 * 3600), aud: None })
            .map(|i| i.token)
            .unwrap_or_default()
    };
    println!(
        "\nRapport is running.\n  API          {url}\n  career jobs  {url}/careers/jobs\n  emulator     {moto_url}\n  data         {dir}\n\n\
         Recruiter token (12 h):\n  export TOKEN={rec}\n\
         Hiring-manager token (12 h, on the seeded nursing job):\n  export HM_TOKEN={hm}\n\
         Admin token (12 h; privacy requests and the demographics report are admins' only):\n  export ADMIN_TOKEN={admin}\n\n\
         Try: curl -H \"Authorization: Bearer $TOKEN\" {url}/api/jobs\n\
         Ctrl-C stops everything (data is kept; RESET=1 starts empty).\n",
        url = stack.url,
        dir = dir.display(),
        rec = token("recruiter"),
        hm = token("hiring_manager"),
        admin = token("admin"),
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    println!("stopping");
    stack.stop().await;
    if let Some(child) = moto.as_mut() {
        let _ = child.kill().await;
    }
    Ok(())
}
