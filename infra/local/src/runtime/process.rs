//! A function's real binary, started against its own Runtime API: spawn, wait for init, invoke, stop.
use super::*;
use anyhow::bail;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A function's binary running against its own [`RuntimeApi`].
pub struct Function {
    pub name: String,
    /// Bounds every wait below.
    pub timeout: Duration,
    /// Just before the process was spawned.
    pub spawned_at: Instant,
    api: RuntimeApi,
    child: Child,
    exit: Option<ExitStatus>,
    log: PathBuf,
}

enum Woke {
    Changed,
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
}

impl Function {
    /// Starts `binary` with exactly `env` (the parent's environment is cleared) plus
    /// `AWS_LAMBDA_RUNTIME_API` pointing at `api`. Its stdout and stderr go to a file, shown in errors.
    pub fn spawn(name: &str, api: RuntimeApi, binary: &FsPath, env: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        if !binary.is_file() {
            bail!("{name}: no binary at {}", binary.display());
        }
        let log = std::env::temp_dir().join(format!("rapport-{name}-{}.log", ulid::Ulid::generate()));
        let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let child = cmd.spawn().with_context(|| format!("{name}: starting {}", binary.display()))?;
        Ok(Self { name: name.to_string(), timeout: DEFAULT_TIMEOUT, spawned_at, api, child, exit: None, log })
    }

    pub fn api(&self) -> &RuntimeApi {
        &self.api
    }

    /// What the binary has written to stdout and stderr so far (the last 8 KiB).
    pub fn output(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let tail = &text[text.len().saturating_sub(8 * 1024)..];
        String::from_utf8_lossy(tail).into_owned()
    }

    fn exited(&self, status: ExitStatus, what: &str) -> anyhow::Error {
        let init = match self.api.init_error() {
            Some(e) => format!(" after posting init error {:?}: {}", e.error_type, e.error_message),
            None => String::new(),
        };
        anyhow::anyhow!("{} exited ({status}) before {what}{init}; its output:\n{}", self.name, self.output())
    }

    /// Waits until `check` finds what it looks for, the process exits, or the timeout passes.
    async fn wait_for<T>(&mut self, what: &str, mut check: impl FnMut(&mut Inner) -> Option<T>) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let shared = self.api.shared.clone();
            let notified = shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = check(&mut shared.lock()) {
                return Ok(found);
            }
            if let Some(status) = self.exit {
                return Err(self.exited(status, what));
            }
            let woke = tokio::select! {
                biased;
                _ = &mut notified => Woke::Changed,
                status = self.child.wait() => Woke::Exited(status),
                _ = tokio::time::sleep_until(deadline) => Woke::TimedOut,
            };
            match woke {
                Woke::Changed => {}
                // Checked once more above: what it posted before exiting counts.
                Woke::Exited(status) => self.exit = Some(status.with_context(|| format!("waiting for {}", self.name))?),
                Woke::TimedOut => {
                    bail!("{}: no {what} within {:?}; its output:\n{}", self.name, self.timeout, self.output())
                }
            }
        }
    }

    /// Waits for the first `GET .../invocation/next`: the end of init.
    pub async fn ready(&mut self) -> anyhow::Result<Instant> {
        self.wait_for("asking for an event", |i| i.first_next).await
    }

    /// Queues `payload` and waits for its answer.
    pub async fn invoke(&mut self, payload: &Value) -> anyhow::Result<Invocation> {
        let id = self.api.queue(payload);
        self.result(&id).await
    }

    /// Waits for the answer to an event queued with [`RuntimeApi::queue`].
    pub async fn result(&mut self, request_id: &str) -> anyhow::Result<Invocation> {
        self.wait_for(&format!("answering invocation {request_id}"), |i| i.done.remove(request_id)).await
    }

    /// Waits for a post to `/init/error`.
    pub async fn init_error(&mut self) -> anyhow::Result<InitError> {
        self.wait_for("posting an init error", |i| i.init_error.clone()).await
    }

    /// Waits for the process to exit (a function that failed its init must).
    pub async fn exit_status(&mut self) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.exit {
            return Ok(status);
        }
        match tokio::time::timeout(self.timeout, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                self.exit = Some(status);
                Ok(status)
            }
            Err(_) => bail!("{} did not exit within {:?}; its output:\n{}", self.name, self.timeout, self.output()),
        }
    }

    /// Ends the process (as Lambda does when it retires an environment) and the Runtime API.
    pub async fn stop(mut self) {
        if self.exit.is_none() {
            let _ = self.child.start_kill();
            let _ = tokio::time::timeout(self.timeout, self.child.wait()).await;
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_binary_that_exits_before_answering_is_an_error_not_a_hang() {
        let binary = FsPath::new("/bin/false");
        if !binary.is_file() {
            return;
        }
        let api = RuntimeApi::start("quitter").await.unwrap();
        let mut f = Function::spawn("quitter", api, binary, &BTreeMap::new()).unwrap();
        let err = f.invoke(&json!({})).await.unwrap_err().to_string();
        assert!(err.starts_with("quitter exited (exit status: 1) before answering invocation"), "{err}");
        assert!(f.ready().await.is_err());
        assert!(f.init_error().await.is_err());
        assert!(!f.exit_status().await.unwrap().success());
    }
}
