//! Where the binaries are and what environment each gets: Lambda's own variables, the emulator's
//! endpoint, and the template's variables filled for a local stack.
use super::*;
use crate::sam::SamFunction;
use anyhow::bail;
use rapport::Config;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Cargo's target directory: the ancestor of this executable that holds `CACHEDIR.TAG`, else
/// `CARGO_TARGET_DIR`.
pub fn target_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    if let Some(dir) = exe.ancestors().skip(1).find(|d| d.join("CACHEDIR.TAG").is_file()) {
        return Ok(dir.to_path_buf());
    }
    // A target directory something else created first has no CACHEDIR.TAG: find the profile's
    // directory (`<target>/<profile>/deps/<test>`, `…/examples/<bench>`) by what cargo keeps in it.
    if let Some(profile) = exe.ancestors().skip(1).find(|d| d.join("deps").is_dir() && d.join(".fingerprint").is_dir())
    {
        if let Some(dir) = profile.parent() {
            return Ok(dir.to_path_buf());
        }
    }
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => bail!("cannot find cargo's target directory from {}; set CARGO_TARGET_DIR", exe.display()),
    }
}

/// A function's binary name (`[[bin]]` in functions/<name>/Cargo.toml): the function's own name.
pub const BINARIES: &[&str] = &["jobs", "intake", "pipeline", "reports", "crm", "nurture", "events"];

/// The binary `name` of a cargo profile (`debug`, `release`); an error says how to build it.
pub fn binary(profile: &str, name: &str) -> anyhow::Result<PathBuf> {
    let path = target_dir()?.join(profile).join(name);
    if !path.is_file() {
        let flag = if profile == "release" { " --release" } else { "" };
        bail!("no {} binary at {}: run `cargo build --workspace --bins{flag}` first", name, path.display());
    }
    Ok(path)
}

/// What Lambda itself puts in every function's environment (less `AWS_LAMBDA_RUNTIME_API`, which
/// [`Function::spawn`] sets), for the deployed function called `function_name`.
pub fn lambda_environment(function_name: &str, memory_mb: u64) -> BTreeMap<String, String> {
    let day = chrono::Utc::now().format("%Y/%m/%d");
    let stream = format!("{day}/[$LATEST]{:032x}", rand::random::<u128>());
    [
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_DEFAULT_REGION", REGION.to_string()),
        ("_HANDLER", "bootstrap".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// What running against the emulator adds: its endpoint for every client, dummy credentials (a
/// role's in AWS) and path-style S3.
pub fn emulator_environment(endpoint: &str) -> BTreeMap<String, String> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("S3_FORCE_PATH_STYLE", "true"),
        // A busy machine slows the emulator: no attempt timeout for it to trip (Lambda keeps 5 s).
        ("RAPPORT_AWS_ATTEMPT_TIMEOUT", "none"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn duration_parameter(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The values of the template's `{{Name}}` placeholders (resources and parameters) that give a
/// function the same settings as the local stack whose config this is.
pub fn template_values(config: &Config) -> anyhow::Result<HashMap<&'static str, String>> {
    let secret = |source: &rapport::config::KeySource, name: &str| match source {
        rapport::config::KeySource::Secret(arn) => Ok(arn.clone()),
        rapport::config::KeySource::Value(_) => anyhow::bail!("the template reads {name} from a secret: give its ARN"),
    };
    let exit_reasons = if config.exit_reasons == rapport::stage::ReasonCodes::default() {
        String::new()
    } else {
        let map: BTreeMap<&str, &Vec<String>> = config.exit_reasons.0.iter().map(|(c, v)| (c.as_str(), v)).collect();
        serde_json::to_string(&map).unwrap_or_default()
    };
    Ok(HashMap::from([
        ("MainTable", config.table.clone()),
        ("FilesBucket", config.bucket.clone()),
        ("EmailConfigurationSet", config.ses_configuration_set.clone().unwrap_or_default()),
        ("CompanyName", config.company_name.clone()),
        ("PostalAddress", config.postal_address.clone()),
        ("CareersUrl", config.careers_url.clone()),
        ("PublicApiUrl", config.public_api_url.clone()),
        ("Sender", config.sender.clone()),
        ("AllowedOrigins", config.allowed_origins.join(",")),
        ("SigningKeys", secret(&config.signing_keys, "SigningKeys")?),
        ("EmailHashKey", secret(&config.email_hash_key, "EmailHashKey")?),
        ("SesMaxSendRate", config.ses_max_send_rate.to_string()),
        ("DraftAbandonAfter", duration_parameter(config.draft_abandon_after)),
        ("RateLimitPerMinute", config.rate_limit_per_minute.to_string()),
        ("CounterShards", config.counter_shards.to_string()),
        ("ExitReasons", exit_reasons),
        ("DashboardLoginUrl", config.dashboard_login_url.clone().unwrap_or_default()),
        ("ImportConsentPolicy", if config.import_asks_consent { "ask" } else { "none" }.to_string()),
        ("RetentionDays", config.retention_days.to_string()),
        ("AdminEmail", config.admin_email.as_ref().map(|e| e.0.clone()).unwrap_or_default()),
        ("LogLevel", "info".to_string()),
    ]))
}

/// A function's whole environment: the template's variables with their placeholders filled from
/// `values`, plus [`emulator_environment`] and [`lambda_environment`].
pub fn function_environment(
    function: &SamFunction,
    values: &HashMap<&str, String>,
    endpoint: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for (k, v) in &function.environment {
        let filled = crate::sam::fill(v, values).with_context(|| format!("{}: {k}", function.logical_id))?;
        env.insert(k.clone(), filled);
    }
    env.extend(emulator_environment(endpoint));
    env.extend(lambda_environment(&format!("rapport-{}", function.logical_id), function.memory_size));
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_values_round_trip_through_the_config() {
        assert_eq!(duration_parameter(chrono::Duration::hours(24)), "1d");
        assert_eq!(duration_parameter(chrono::Duration::minutes(90)), "90m");
        assert_eq!(duration_parameter(chrono::Duration::seconds(61)), "61s");
        assert_eq!(request_id().len(), 36);
    }
}
