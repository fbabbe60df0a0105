//! Consent, per purpose: what the person agreed to (or withdrew), when, how, and to which wording.
//! Each purpose's latest record decides; every change is also kept as history. Every email Rapport
//! sends names the purpose it needs (see `rapport::mailer::Needs`), so a withdrawal takes effect at once.
use crate::error::Invalid;
use crate::parse::{Fields, Text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

crate::choice!(Purpose {
    Processing = "processing", TalentPool = "talent_pool", MarketingEmail = "marketing_email", Demographics = "demographics",
});

crate::choice!(Method {
    Form = "form", Import = "import", ConfirmationLink = "confirmation_link", Recruiter = "recruiter",
    UnsubscribeLink = "unsubscribe_link",
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub purpose: Purpose,
    pub given: bool,
    pub at: DateTime<Utc>,
    pub method: Method,
    /// The version of the wording the person saw (the career site's, the import's, …).
    pub text_version: String,
    /// The recruiter who recorded it on the person's word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Consent {
    pub fn new(purpose: Purpose, given: bool, at: DateTime<Utc>, method: Method, text_version: &str) -> Self {
        Consent { purpose, given, at, method, text_version: text_version.to_string(), by: None, note: None }
    }

    /// Joining the talent pool is agreeing to hear about jobs by email: both purposes, one act, the
    /// same wording. Unsubscribing withdraws the email purpose alone.
    pub fn talent_pool(at: DateTime<Utc>, method: Method, text_version: &str) -> Vec<Consent> {
        vec![
            Consent::new(Purpose::TalentPool, true, at, method, text_version),
            Consent::new(Purpose::MarketingEmail, true, at, method, text_version),
        ]
    }
}

/// `PUT /api/candidates/{id}/consents/{purpose} {given, note?}`: a recruiter records what the person
/// said (given or withdrawn).
pub fn parse_recorded(body: Value) -> Result<(bool, Option<String>), Invalid> {
    Fields::parse(body, |f| {
        let given: Option<bool> = f.req("given");
        let note: Option<Option<Text<1, 500>>> = f.opt("note");
        Some((given?, note?.map(|n| n.0)))
    })
}

/// The consents a nurture email needs, read from the person's latest records.
pub fn may_nurture(records: &[Consent]) -> bool {
    let given = |p: Purpose| records.iter().any(|c| c.purpose == p && c.given);
    given(Purpose::TalentPool) && given(Purpose::MarketingEmail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nurture_needs_both_pool_and_email_consent_and_withdrawal_wins() {
        let now = Utc::now();
        let mut records = Consent::talent_pool(now, Method::Form, "v1");
        assert!(may_nurture(&records));
        records[1] = Consent::new(Purpose::MarketingEmail, false, now, Method::UnsubscribeLink, "v1");
        assert!(!may_nurture(&records));
        assert!(!may_nurture(&[]));
        assert!(parse_recorded(serde_json::json!({"given": "yes"})).is_err());
        assert_eq!(
            parse_recorded(serde_json::json!({"given": false, "note": "by phone"})).unwrap(),
            (false, Some("by phone".into()))
        );
    }
}
