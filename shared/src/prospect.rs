//! The CRM pool: people who have not applied (yet). This part: joining it from the career site with
//! double opt-in, and leaving it (unsubscribe, RFC 8058 one-click).
use crate::application::{parse_credential, Credential};
use crate::email::Email;
use crate::parse::{Fields, Line};
use crate::token::Signer;
use crate::ApiError;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

crate::choice!(Origin {
    Subscriber = "subscriber", SilverMedalist = "silver_medalist", DropOff = "drop_off", Imported = "imported",
    Sourced = "sourced",
});

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interests {
    pub departments: Vec<String>,
    pub locations: Vec<String>,
    pub workplace: Vec<crate::job::Workplace>,
}

/// `POST /careers/talent-pool`.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub interests: Interests,
    pub credentials: Vec<Credential>,
}

impl Subscription {
    pub fn parse(body: Value) -> Result<Self, ApiError> {
        Fields::parse(body, |f| {
            let email = f.req("email");
            let first_name: Option<Option<Line<1, 100>>> = f.opt("first_name");
            let last_name: Option<Option<Line<1, 100>>> = f.opt("last_name");
            let interests = f.object("interests", true, |f| {
                let departments: Option<Option<Vec<Line<1, 100>>>> = f.opt("departments");
                let locations: Option<Option<Vec<Line<1, 100>>>> = f.opt("locations");
                let workplace: Option<Option<Vec<crate::job::Workplace>>> = f.opt("workplace");
                let strings = |v: Option<Vec<Line<1, 100>>>| v.unwrap_or_default().into_iter().map(|l| l.0).collect();
                Some(Interests {
                    departments: strings(departments?),
                    locations: strings(locations?),
                    workplace: workplace?.unwrap_or_default(),
                })
            });
            let credentials = f.objects("credentials", 50, parse_credential);
            let consent = f.object("consent", true, |f| {
                let given: Option<bool> = f.req("talent_pool");
                if given == Some(false) {
                    f.error("talent_pool", "must be true to join the talent pool");
                    return None;
                }
                given
            });
            consent??;
            Some(Subscription {
                email: email?,
                first_name: first_name?.map(|l| l.0),
                last_name: last_name?.map(|l| l.0),
                interests: interests??,
                credentials: credentials?.unwrap_or_default(),
            })
        })
    }
}

/// What a confirmation or unsubscribe link carries: the person's keyed email hash, nothing readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    pub h: String,
}

pub const CONFIRM: &str = "talent-pool-confirm";
pub const UNSUBSCRIBE: &str = "unsubscribe";
/// How long a double opt-in link works.
pub const CONFIRM_TTL_DAYS: i64 = 7;

pub fn confirm_token(signer: &Signer, email_hash: &str, now: DateTime<Utc>) -> String {
    signer.sign(CONFIRM, &PersonRef { h: email_hash.to_string() }, Some(now + Duration::days(CONFIRM_TTL_DAYS)))
}

/// Unsubscribe links never expire: a person may use an old email to leave.
pub fn unsubscribe_token(signer: &Signer, email_hash: &str) -> String {
    signer.sign(UNSUBSCRIBE, &PersonRef { h: email_hash.to_string() }, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subscriptions() {
        let s = Subscription::parse(
            json!({"email": "A@B.co", "interests": {"departments": ["Nursing"], "workplace": ["remote"]},
            "credentials": [{"type": "RN"}], "consent": {"talent_pool": true}}),
        )
        .unwrap();
        assert_eq!(s.email.0, "a@b.co");
        assert_eq!(s.interests.workplace, vec![crate::job::Workplace::Remote]);
        let err =
            Subscription::parse(json!({"email": "x", "interests": {}, "consent": {"talent_pool": false}})).unwrap_err();
        let ApiError::Validation(e) = err else { panic!() };
        assert_eq!(e.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), vec!["email", "consent.talent_pool"]);
    }

    #[test]
    fn links_are_purpose_bound() {
        let s = Signer::new(&[7; 32]);
        let now = Utc::now();
        let c = confirm_token(&s, "h1", now);
        assert!(s.verify::<PersonRef>(UNSUBSCRIBE, &c, now).is_none());
        assert_eq!(s.verify::<PersonRef>(CONFIRM, &c, now).unwrap().h, "h1");
        assert!(s.verify::<PersonRef>(CONFIRM, &c, now + Duration::days(8)).is_none());
        let u = unsubscribe_token(&s, "h1");
        assert_eq!(s.verify::<PersonRef>(UNSUBSCRIBE, &u, now + Duration::days(3650)).unwrap().h, "h1");
    }
}
