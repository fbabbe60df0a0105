//! The CRM through the local stack: prospects, content, an always-on campaign run day by day with
//! `/_local/run/nurture?now=`, credential-gated jobs, unsubscribe, bounces, and stop-on-apply.
mod campaigns;
mod imports;

use crate::helpers::*;
use serde_json::Value;

pub(super) fn unique(name: &str) -> String {
    format!("{name}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase())
}

pub(super) async fn add_prospect(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app.post("/api/prospects").bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

pub(super) fn header<'a>(email: &'a Value, name: &str) -> Option<&'a str> {
    email["headers"].as_array()?.iter().find(|h| h["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))?
        ["value"]
        .as_str()
}

/// What every email must carry (CAN-SPAM, RFC 8058).
pub(super) fn assert_compliant(e: &Value) {
    let list = header(e, "List-Unsubscribe").unwrap_or_else(|| panic!("List-Unsubscribe: {e}"));
    assert!(list.starts_with("<http") && list.contains("/careers/unsubscribe?token="), "{list}");
    assert_eq!(header(e, "List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    let text = e["text"].as_str().expect("a text part");
    // HTML escaping writes `/` as an entity inside attributes; a mail client reads it back.
    let html = e["html"].as_str().expect("an HTML part").replace("&#x2f;", "/").replace("&amp;", "&");
    assert!(html.contains("<a href=\"http") && html.contains(">Unsubscribe</a>"), "a link, not just text: {html}");
    for part in [text, html.as_str()] {
        assert!(part.contains("1 Infirmary Street"), "the postal address: {part}");
        assert!(part.contains("/careers/unsubscribe?token="), "a visible unsubscribe link: {part}");
    }
}
