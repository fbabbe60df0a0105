//! `/_local/emails`: the emails sent through SES, read back from the emulator's raw messages.
use mail_parser::MessageParser;
use serde_json::{json, Value};

/// Reads the emulator wrapper's `/_rapport/emails` (infra/local/emulator.py): SES's raw messages only, where
/// `/moto-api/data.json` would dump every model.
pub async fn list(http: &reqwest::Client, moto_url: &str) -> anyhow::Result<Value> {
    let data: Value = http.get(format!("{moto_url}/_rapport/emails")).send().await?.error_for_status()?.json().await?;
    let raw = data["ses"]["RawMessage"].as_array().cloned().unwrap_or_default();
    let items: Vec<Value> = raw
        .iter()
        .map(|m| {
            let raw = m["raw_data"].as_str().unwrap_or("");
            let parsed = MessageParser::default().parse(raw.as_bytes());
            let headers: Vec<Value> = parsed
                .as_ref()
                .map(|p| p.headers_raw().map(|(name, value)| json!({"name": name, "value": value.trim()})).collect())
                .unwrap_or_default();
            // The emulator lists a recipient twice when it is both in the envelope and the To header.
            let mut to: Vec<String> = m["destinations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str())
                .map(|d| rapport::email::split_sender(d).1.to_lowercase())
                .collect();
            to.sort();
            to.dedup();
            json!({
                "id": m["id"],
                "from": m["source"],
                "to": to,
                "subject": parsed.as_ref().and_then(|p| p.subject()),
                "headers": headers,
                "text": parsed.as_ref().and_then(|p| p.body_text(0)),
                "html": parsed.as_ref().and_then(|p| p.body_html(0)),
            })
        })
        .collect();
    Ok(json!({ "items": items }))
}
