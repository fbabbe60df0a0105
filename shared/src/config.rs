//! Typed configuration, read once from the environment at start.
use rapport_domain::keys::{Keyring, MIN_KEY_BYTES};
use std::collections::BTreeMap;

#[derive(Clone)]
pub struct Config {
    /// The DynamoDB table (`RAPPORT_TABLE`).
    pub table: String,
    /// The private bucket for JD files, resumes and feeds (`RAPPORT_BUCKET`).
    pub bucket: String,
    /// The verified SES sender, e.g. `Acme Careers <careers@acme.example>` (`RAPPORT_SENDER`).
    pub sender: String,
    /// The SES configuration set used for every send (`SES_CONFIGURATION_SET`, optional).
    pub ses_configuration_set: Option<String>,
    /// The employer's name, shown in feeds and emails (`COMPANY_NAME`).
    pub company_name: String,
    /// Where the career site lives; job URLs in feeds and JSON-LD point there (`CAREERS_URL`).
    pub careers_url: String,
    /// The public base URL of this API, for links in emails (`PUBLIC_API_URL`).
    pub public_api_url: String,
    /// Origins allowed to call the public routes from a browser (`ALLOWED_ORIGINS`, comma separated).
    pub allowed_origins: Vec<String>,
    /// The keys that sign cursors and email links (`SIGNING_KEYS`, or `SIGNING_KEYS_SECRET_ARN` in AWS).
    pub signing_keys: KeySource,
    /// The key of the email hash (`EMAIL_HASH_KEY`, or `EMAIL_HASH_SECRET_ARN` in AWS); never rotated.
    pub email_hash_key: KeySource,
    /// Path-style S3 addressing, needed by the local emulator (`S3_FORCE_PATH_STYLE`).
    pub s3_force_path_style: bool,
    /// How long a started application may sit before it counts as a drop-off (`DRAFT_ABANDON_AFTER`,
    /// e.g. `24h`, `90m`, `2d`; default 24 h).
    pub draft_abandon_after: chrono::Duration,
    /// Public form posts allowed per client address and minute, per form (`RATE_LIMIT_PER_MINUTE`,
    /// default 20). API Gateway throttling and a WAF rate rule in front are the outer layers.
    pub rate_limit_per_minute: u32,
    /// How many shards each hot report counter is spread over (`COUNTER_SHARDS`, 1 to 64, default 8):
    /// every application and move adds to the same day counters, and in AWS two transactions on one
    /// item at once cancel each other. Readers sum whatever shards exist, so N may change at any time.
    pub counter_shards: u32,
    /// Exit reason codes per category (`EXIT_REASONS`, JSON; default: the built-in lists).
    pub exit_reasons: crate::stage::ReasonCodes,
    /// The employer's postal address, printed in every email (`POSTAL_ADDRESS`; CAN-SPAM requires it).
    pub postal_address: String,
    /// Emails a second at most, when SES's own quota cannot be read (`SES_MAX_SEND_RATE`, default 1,
    /// the sandbox rate); in AWS the nurture task reads `MaxSendRate` from the account.
    pub ses_max_send_rate: f64,
    /// Whether imported people without consent evidence get one email asking for it
    /// (`IMPORT_CONSENT_POLICY`: `ask`, the default, or `none`: they wait as pending, unmailed).
    pub import_asks_consent: bool,
    /// People with no activity for this many days and no open application are erased, and
    /// talent-pool consent lapses after it (`RETENTION_DAYS`, default 730).
    pub retention_days: i64,
    /// Where the dashboard sends people to sign in (the Cognito hosted UI's implicit-grant URL,
    /// returning an `id_token`); unset on the local stack (`DASHBOARD_LOGIN_URL`).
    pub dashboard_login_url: Option<String>,
    /// How long one attempt of an AWS call may take before it is retried (`RAPPORT_AWS_ATTEMPT_TIMEOUT`:
    /// a duration, default `5s`, or `none`, which the tests use against a busy emulator).
    pub aws_attempt_timeout: Option<std::time::Duration>,
    /// Where told when a failing webhook endpoint is disabled (`ADMIN_EMAIL`, optional; unset: logged).
    pub admin_email: Option<crate::email::Email>,
    /// Whether webhook endpoints may be plain http and private, loopback or link-local addresses
    /// (`WEBHOOKS_ALLOW_PRIVATE`, default false). Only the local stack sets it, for receivers on
    /// 127.0.0.1; a deployment never should.
    pub webhooks_allow_private: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("bucket", &self.bucket)
            .field("sender", &self.sender)
            .field("company_name", &self.company_name)
            .field("careers_url", &self.careers_url)
            .field("public_api_url", &self.public_api_url)
            .field("allowed_origins", &self.allowed_origins)
            .field("signing_keys", &self.signing_keys)
            .field("email_hash_key", &self.email_hash_key)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {}", .0.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; "))]
pub struct ConfigError(pub BTreeMap<&'static str, String>);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads every variable and reports every problem at once, so a deploy fails with the full list.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut errors = BTreeMap::new();
        let mut required = |name: &'static str| match get(name).filter(|v| !v.trim().is_empty()) {
            Some(v) => v,
            None => {
                errors.insert(name, "is required".to_string());
                String::new()
            }
        };
        let table = required("RAPPORT_TABLE");
        let bucket = required("RAPPORT_BUCKET");
        let sender = required("RAPPORT_SENDER");
        let company_name = required("COMPANY_NAME");
        let careers_url = required("CAREERS_URL");
        let public_api_url = required("PUBLIC_API_URL");
        let postal_address = required("POSTAL_ADDRESS");
        let mut key = |(value, secret): (&'static str, &'static str), check: fn(&str) -> Result<(), String>| {
            let given = |k: &str| get(k).filter(|v| !v.trim().is_empty());
            match (given(value), given(secret)) {
                (Some(v), None) => {
                    if let Err(e) = check(&v) {
                        errors.insert(value, e);
                    }
                    KeySource::Value(v)
                }
                (None, Some(arn)) if arn.starts_with("arn:") => KeySource::Secret(arn),
                (None, Some(_)) => {
                    errors.insert(secret, "must be a secret's ARN".to_string());
                    KeySource::Secret(String::new())
                }
                (Some(_), Some(_)) => {
                    errors.insert(value, format!("set {value} or {secret}, not both"));
                    KeySource::Value(String::new())
                }
                (None, None) => {
                    errors.insert(secret, format!("is required (or {value}, locally)"));
                    KeySource::Value(String::new())
                }
            }
        };
        let signing_keys = key(SIGNING_VARS, check_signing);
        let email_hash_key = key(EMAIL_HASH_VARS, check_email_hash);
        for (name, url) in [("CAREERS_URL", &careers_url), ("PUBLIC_API_URL", &public_api_url)] {
            if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
                errors.insert(name, "must be an http(s) URL".to_string());
            }
        }
        let allowed_origins = get("ALLOWED_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let s3_force_path_style = match get("S3_FORCE_PATH_STYLE").as_deref() {
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => {
                errors.insert("S3_FORCE_PATH_STYLE", "must be true or false".to_string());
                false
            }
        };
        let counter_shards = match get("COUNTER_SHARDS").filter(|s| !s.is_empty()) {
            None => 8,
            Some(raw) => raw.parse().ok().filter(|n| (1..=64).contains(n)).unwrap_or_else(|| {
                errors.insert("COUNTER_SHARDS", "must be a whole number from 1 to 64".to_string());
                1
            }),
        };
        let ses_configuration_set = get("SES_CONFIGURATION_SET").filter(|s| !s.is_empty());
        let rate_limit_per_minute = match get("RATE_LIMIT_PER_MINUTE").filter(|s| !s.is_empty()) {
            None => 20,
            Some(raw) => raw.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
                errors.insert("RATE_LIMIT_PER_MINUTE", "must be a whole number above 0".to_string());
                0
            }),
        };
        let exit_reasons = match get("EXIT_REASONS").filter(|s| !s.trim().is_empty()) {
            None => crate::stage::ReasonCodes::default(),
            Some(raw) => crate::stage::ReasonCodes::parse(&raw).unwrap_or_else(|e| {
                errors.insert("EXIT_REASONS", e);
                crate::stage::ReasonCodes::default()
            }),
        };
        let ses_max_send_rate = match get("SES_MAX_SEND_RATE").filter(|s| !s.is_empty()) {
            None => 1.0,
            Some(raw) => raw.parse::<f64>().ok().filter(|r| *r > 0.0 && r.is_finite()).unwrap_or_else(|| {
                errors.insert("SES_MAX_SEND_RATE", "must be a number above 0".to_string());
                1.0
            }),
        };
        let retention_days = match get("RETENTION_DAYS").filter(|s| !s.is_empty()) {
            None => 730,
            Some(raw) => raw.parse::<i64>().ok().filter(|d| (30..=3650).contains(d)).unwrap_or_else(|| {
                errors.insert("RETENTION_DAYS", "must be a whole number of days from 30 to 3650".to_string());
                730
            }),
        };
        let import_asks_consent = match get("IMPORT_CONSENT_POLICY").as_deref() {
            None | Some("") | Some("ask") => true,
            Some("none") => false,
            Some(_) => {
                errors.insert("IMPORT_CONSENT_POLICY", "must be ask or none".to_string());
                true
            }
        };
        let draft_abandon_after = match get("DRAFT_ABANDON_AFTER").filter(|s| !s.is_empty()) {
            None => chrono::Duration::hours(24),
            Some(raw) => parse_duration(&raw).unwrap_or_else(|| {
                errors.insert("DRAFT_ABANDON_AFTER", "must be a duration such as 24h, 90m or 2d".to_string());
                chrono::Duration::zero()
            }),
        };
        let aws_attempt_timeout = match get("RAPPORT_AWS_ATTEMPT_TIMEOUT").filter(|s| !s.is_empty()).as_deref() {
            None => Some(std::time::Duration::from_secs(5)),
            Some("none") => None,
            Some(raw) => match parse_duration(raw).and_then(|d| d.to_std().ok()) {
                Some(d) => Some(d),
                None => {
                    errors.insert("RAPPORT_AWS_ATTEMPT_TIMEOUT", "must be a duration such as 5s, or none".to_string());
                    None
                }
            },
        };
        let admin_email = match get("ADMIN_EMAIL").filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(raw) => crate::email::Email::parse(&raw).map(Some).unwrap_or_else(|e| {
                errors.insert("ADMIN_EMAIL", e);
                None
            }),
        };
        let webhooks_allow_private = match get("WEBHOOKS_ALLOW_PRIVATE").as_deref() {
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => {
                errors.insert("WEBHOOKS_ALLOW_PRIVATE", "must be true or false".to_string());
                false
            }
        };
        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        Ok(Self {
            table,
            bucket,
            sender,
            ses_configuration_set,
            company_name,
            careers_url: careers_url.trim_end_matches('/').to_string(),
            public_api_url: public_api_url.trim_end_matches('/').to_string(),
            allowed_origins,
            signing_keys,
            email_hash_key,
            s3_force_path_style,
            draft_abandon_after,
            rate_limit_per_minute,
            counter_shards,
            exit_reasons,
            postal_address,
            ses_max_send_rate,
            import_asks_consent,
            retention_days,
            dashboard_login_url: get("DASHBOARD_LOGIN_URL").filter(|s| s.starts_with("https://")),
            aws_attempt_timeout,
            admin_email,
            webhooks_allow_private,
        })
    }

    /// Where webhook endpoints may be.
    pub fn webhook_reach(&self) -> crate::webhook::Reach {
        if self.webhooks_allow_private {
            crate::webhook::Reach::Anywhere
        } else {
            crate::webhook::Reach::Public
        }
    }
}

/// `90s`, `30m`, `24h`, `2d`; at least a second.
pub fn parse_duration(raw: &str) -> Option<chrono::Duration> {
    let raw = raw.trim();
    let (num, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok().filter(|n| *n > 0)?;
    match unit {
        "s" => Some(chrono::Duration::seconds(n)),
        "m" => Some(chrono::Duration::minutes(n)),
        "h" => Some(chrono::Duration::hours(n)),
        "d" => Some(chrono::Duration::days(n)),
        _ => None,
    }
}

/// Where a key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The value itself (local stack, tests).
    Value(String),
    /// A Secrets Manager secret's ARN, read at start.
    Secret(String),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Value(_) => f.write_str("Value(<redacted>)"),
            KeySource::Secret(arn) => write!(f, "Secret({arn})"),
        }
    }
}

/// Names of the variables behind each key: (value, secret ARN).
pub const SIGNING_VARS: (&str, &str) = ("SIGNING_KEYS", "SIGNING_KEYS_SECRET_ARN");
pub const EMAIL_HASH_VARS: (&str, &str) = ("EMAIL_HASH_KEY", "EMAIL_HASH_SECRET_ARN");

/// Checks a key's value as the config is read, so a bad one is listed with every other problem.
pub fn check_signing(raw: &str) -> Result<(), String> {
    Keyring::parse(raw).map(|_| ())
}

pub fn check_email_hash(raw: &str) -> Result<(), String> {
    if raw.len() < MIN_KEY_BYTES {
        return Err(format!("must be at least {MIN_KEY_BYTES} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_missing_variable_at_once() {
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert!(err.0.contains_key("RAPPORT_TABLE"));
        assert!(err.0.contains_key("SIGNING_KEYS_SECRET_ARN") && err.0.contains_key("EMAIL_HASH_SECRET_ARN"));
        assert!(err.0.len() >= 7, "{err}");
    }

    #[test]
    fn reads_a_full_environment() {
        let env = |k: &str| {
            Some(match k {
                "ALLOWED_ORIGINS" => "https://careers.acme.example/, http://localhost:8080".to_string(),
                "SIGNING_KEYS" => format!(r#"{{"current": "k1", "k1": "{}"}}"#, "x".repeat(32)),
                "EMAIL_HASH_KEY" => "h".repeat(32),
                "SIGNING_KEYS_SECRET_ARN" | "EMAIL_HASH_SECRET_ARN" => String::new(),
                "CAREERS_URL" => "https://careers.acme.example/".to_string(),
                "PUBLIC_API_URL" => "https://api.acme.example".to_string(),
                "S3_FORCE_PATH_STYLE" => "true".to_string(),
                "DRAFT_ABANDON_AFTER" => String::new(),
                "RATE_LIMIT_PER_MINUTE" => "5".to_string(),
                "COUNTER_SHARDS" => "3".to_string(),
                "SES_MAX_SEND_RATE" => "14".to_string(),
                "IMPORT_CONSENT_POLICY" => "none".to_string(),
                "RETENTION_DAYS" => "365".to_string(),
                "EXIT_REASONS" => String::new(),
                "RAPPORT_AWS_ATTEMPT_TIMEOUT" | "ADMIN_EMAIL" | "WEBHOOKS_ALLOW_PRIVATE" => String::new(),
                _ => "v".to_string(),
            })
        };
        let c = Config::from_lookup(env).unwrap();
        assert_eq!(c.allowed_origins, vec!["https://careers.acme.example", "http://localhost:8080"]);
        assert_eq!(c.careers_url, "https://careers.acme.example");
        assert!(c.s3_force_path_style);
        assert_eq!(c.draft_abandon_after, chrono::Duration::hours(24));
        assert_eq!(c.rate_limit_per_minute, 5);
        assert_eq!(c.counter_shards, 3);
        assert_eq!(c.ses_max_send_rate, 14.0);
        assert!(!c.import_asks_consent);
        assert_eq!(c.retention_days, 365);
        assert_eq!(parse_duration("90m"), Some(chrono::Duration::minutes(90)));
        assert_eq!(parse_duration("2d"), Some(chrono::Duration::days(2)));
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("24"), None);
        assert_eq!(c.aws_attempt_timeout, Some(std::time::Duration::from_secs(5)));
        let none =
            Config::from_lookup(|k| if k == "RAPPORT_AWS_ATTEMPT_TIMEOUT" { Some("none".into()) } else { env(k) });
        assert_eq!(none.unwrap().aws_attempt_timeout, None);
        let bad =
            Config::from_lookup(|k| if k == "RAPPORT_AWS_ATTEMPT_TIMEOUT" { Some("soon".into()) } else { env(k) });
        assert!(bad.unwrap_err().0.contains_key("RAPPORT_AWS_ATTEMPT_TIMEOUT"));
        assert!(!format!("{c:?}").contains("xxxx"), "the key never reaches logs");
        assert_eq!((c.admin_email.as_ref().map(|e| e.0.as_str()), c.webhooks_allow_private), (None, false));
        assert_eq!(c.webhook_reach(), crate::webhook::Reach::Public);
        let local = Config::from_lookup(|k| match k {
            "WEBHOOKS_ALLOW_PRIVATE" => Some("true".into()),
            "ADMIN_EMAIL" => Some("Admin@Acme.example".into()),
            _ => env(k),
        })
        .unwrap();
        assert_eq!(local.webhook_reach(), crate::webhook::Reach::Anywhere);
        assert_eq!(local.admin_email.unwrap().0, "admin@acme.example");
        let bad = Config::from_lookup(|k| match k {
            "WEBHOOKS_ALLOW_PRIVATE" => Some("yes".into()),
            "ADMIN_EMAIL" => Some("nobody".into()),
            _ => env(k),
        });
        let bad = bad.unwrap_err().0;
        assert!(bad.contains_key("WEBHOOKS_ALLOW_PRIVATE") && bad.contains_key("ADMIN_EMAIL"));
    }
}
