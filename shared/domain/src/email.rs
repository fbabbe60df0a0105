//! Email addresses, parsed and normalised at the edge, and messages: rendered from templates (escaping on)
//! into MIME (multipart/alternative, text and HTML), so every header is exactly what this code wrote.
use crate::parse::FromField;
use mail_builder::headers::raw::Raw;
use mail_builder::MessageBuilder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::OnceLock;

/// A normalised email address: trimmed and lower-cased whole. Mail providers treat the local part
/// case-insensitively in practice, and applicants retype their address in any case; dots and
/// `+tags` are kept, since only some providers ignore them and two people must never merge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(pub String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, String> {
        let s = raw.trim().to_lowercase();
        if s.len() > 254 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("must be a valid email address".into());
        }
        let parsed: email_address::EmailAddress = s.parse().map_err(|_| "must be a valid email address".to_string())?;
        let domain = parsed.domain();
        if !domain.contains('.') || domain.starts_with('[') || s.contains('"') {
            return Err("must be a valid email address".into());
        }
        Ok(Email(s))
    }
}

impl FromField for Email {
    fn from_field(v: &Value) -> Result<Self, String> {
        Email::parse(v.as_str().ok_or("must be a string")?)
    }
}

/// The keyed hash under which a person's address is stored, looked up, suppressed and erased: 40
/// lowercase hex digits, never the address itself. Made only by [`crate::token::Hasher::email`] or
/// parsed from a stored item or a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailHash(String);

impl EmailHash {
    pub const LEN: usize = 40;

    pub(crate) fn from_hex(hex: String) -> Self {
        debug_assert!(Self::valid(&hex));
        EmailHash(hex)
    }

    fn valid(s: &str) -> bool {
        s.len() == Self::LEN && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for EmailHash {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if Self::valid(s) {
            Ok(EmailHash(s.to_string()))
        } else {
            Err("is not a person's id".into())
        }
    }
}

impl TryFrom<String> for EmailHash {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<EmailHash> for String {
    fn from(h: EmailHash) -> String {
        h.0
    }
}

impl From<&EmailHash> for String {
    fn from(h: &EmailHash) -> String {
        h.0.clone()
    }
}

impl std::fmt::Display for EmailHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A hash reads as the text it is, so it goes into keys and token payloads as before.
impl std::ops::Deref for EmailHash {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// One message to one person.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: Email,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Extra headers, such as `List-Unsubscribe`.
    pub headers: Vec<(&'static str, String)>,
}

/// `Name <a@b>` → (`Name`, `a@b`).
pub fn split_sender(sender: &str) -> (Option<&str>, &str) {
    match (sender.find('<'), sender.rfind('>')) {
        (Some(a), Some(b)) if a < b => {
            let name = sender[..a].trim().trim_matches('"').trim();
            ((!name.is_empty()).then_some(name), sender[a + 1..b].trim())
        }
        _ => (None, sender.trim()),
    }
}

/// Builds the MIME message. Names and subjects are RFC 2047-encoded by the builder, and CR/LF are
/// removed first, so nothing a candidate typed can start a header of its own.
pub fn to_mime(sender: &str, msg: &Outgoing) -> Result<Vec<u8>, std::io::Error> {
    let clean = |s: &str| s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>();
    let (from_name, from_addr) = split_sender(sender);
    let mut b = MessageBuilder::new()
        .from((from_name.map(clean).unwrap_or_default(), from_addr.to_string()))
        .subject(clean(&msg.subject))
        .text_body(msg.text.clone())
        .html_body(msg.html.clone());
    b = match &msg.to_name {
        Some(name) => b.to((clean(name), msg.to.0.clone())),
        None => b.to(msg.to.0.clone()),
    };
    for (name, value) in &msg.headers {
        b = b.header(*name, Raw::new(clean(value)));
    }
    b.write_to_vec()
}

fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        // HTML templates escape every value; text templates are plain.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        for (name, src) in [
            ("confirmation.txt", include_str!("../templates/confirmation.txt")),
            ("confirmation.html", include_str!("../templates/confirmation.html")),
            ("optin.txt", include_str!("../templates/optin.txt")),
            ("optin.html", include_str!("../templates/optin.html")),
            ("consent_request.txt", include_str!("../templates/consent_request.txt")),
            ("consent_request.html", include_str!("../templates/consent_request.html")),
            ("import_consent.txt", include_str!("../templates/import_consent.txt")),
            ("import_consent.html", include_str!("../templates/import_consent.html")),
            ("footer.txt", include_str!("../templates/footer.txt")),
            ("footer.html", include_str!("../templates/footer.html")),
            ("nurture_story.txt", include_str!("../templates/nurture_story.txt")),
            ("nurture_story.html", include_str!("../templates/nurture_story.html")),
            ("nurture_jobs.txt", include_str!("../templates/nurture_jobs.txt")),
            ("nurture_jobs.html", include_str!("../templates/nurture_jobs.html")),
            ("webhook_disabled.txt", include_str!("../templates/webhook_disabled.txt")),
            ("webhook_disabled.html", include_str!("../templates/webhook_disabled.html")),
        ] {
            env.add_template(name, src).expect("templates compile");
        }
        env
    })
}

/// Renders `<name>.txt` and `<name>.html` with the same context.
pub fn render(name: &str, ctx: &Value) -> Result<(String, String), minijinja::Error> {
    let env = templates();
    let ctx = minijinja::Value::from(minijinja::value::Serde(ctx));
    let text = env.get_template(&format!("{name}.txt"))?.render(ctx.clone())?;
    let html = env.get_template(&format!("{name}.html"))?.render(ctx)?;
    Ok((text, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised_or_refused() {
        assert_eq!(Email::parse("  Ada.Lovelace+Jobs@Example.COM ").unwrap().0, "ada.lovelace+jobs@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "ada@example.com\r\nBcc: x@y.z",
            "\"a\"@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_cannot_inject_headers_and_templates_escape_html() {
        let (text, html) = render(
            "confirmation",
            &serde_json::json!({"first_name": "<script>x</script>", "job_title": "Nurse & Midwife", "company": "Acme", "application_id": "A1"}),
        )
        .unwrap();
        assert!(text.contains("<script>x</script>") && text.contains("Nurse & Midwife"));
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>x") && html.contains("Nurse &amp; Midwife"));
        let msg = Outgoing {
            to: Email::parse("ada@example.com").unwrap(),
            to_name: Some("Ada\r\nBcc: evil@example.com".into()),
            subject: "Hello\r\nBcc: evil@example.com".into(),
            text,
            html,
            headers: vec![("List-Unsubscribe", "<https://x.example/u>\r\nBcc: evil@example.com".into())],
        };
        let raw = String::from_utf8(to_mime("Acme Careers <careers@acme.example>", &msg).unwrap()).unwrap();
        assert!(!raw.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{raw}");
        let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        assert_eq!(parsed.subject(), Some("Hello  Bcc: evil@example.com"));
        assert!(parsed.body_html(0).unwrap().contains("&lt;script&gt;"));
        assert!(parsed.body_text(0).unwrap().contains("Nurse & Midwife"));
    }
}
