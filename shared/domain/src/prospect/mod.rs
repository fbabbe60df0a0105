//! The CRM pool: people who have not applied (yet). One prospect per email address, keyed by the
//! address's keyed hash (which is also its id in the API, so nothing readable is in a URL): joining
//! from the career site with double opt-in, leaving (unsubscribe, RFC 8058 one-click), recruiter
//! edits and the import of prior applicants.
mod import;
mod links;

use crate::application::{parse_credential, Credential};
use crate::email::{Email, EmailHash};
use crate::error::Invalid;
use crate::parse::{Fields, Line};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use import::{
    csv_problem, merge_import, parse_credential_text, parse_import, reader_builder, ImportColumns, ImportRow,
    LineError, Merged, IMPORT_COLUMNS,
};
pub use links::{
    confirm_token, unsubscribe_token, unsubscribe_token_for, PersonRef, CONFIRM, CONFIRM_TTL_DAYS, UNSUBSCRIBE,
};

crate::choice!(Origin {
    Subscriber = "subscriber", SilverMedalist = "silver_medalist", DropOff = "drop_off", Imported = "imported",
    Sourced = "sourced",
});

crate::choice!(ProspectStatus {
    PendingConsent = "pending_consent", Active = "active", Paused = "paused", Applied = "applied",
    Unsubscribed = "unsubscribed", Bounced = "bounced", Complained = "complained",
});

crate::choice!(
    /// Why an address must not be mailed. A bounce or a complaint is for good; the person lifts an
    /// unsubscribe or an erasure's block by confirming a new sign-up.
    SuppressionReason { Unsubscribed = "unsubscribed", Bounced = "bounced", Complained = "complained", Erased = "erased" }
);

impl SuppressionReason {
    /// Whether confirming a new sign-up lifts it (an unsubscribe or an erasure, never a mailbox's word).
    pub fn lifted_by_confirming(self) -> bool {
        matches!(self, SuppressionReason::Unsubscribed | SuppressionReason::Erased)
    }
}

impl ProspectStatus {
    /// Statuses that are the person's own decision or their mailbox's: a recruiter cannot set them.
    pub fn set_by_recruiter(self) -> bool {
        matches!(self, ProspectStatus::Active | ProspectStatus::Paused)
    }

    /// Still nurtured by the CRM: applying ends that (the prospect becomes `applied`).
    pub fn nurtured(self) -> bool {
        matches!(self, ProspectStatus::PendingConsent | ProspectStatus::Active | ProspectStatus::Paused)
    }
}

/// A prospect as the API shows it and the campaign rules read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prospect {
    /// The keyed hash of the email address.
    pub id: EmailHash,
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub status: ProspectStatus,
    pub origins: Vec<Origin>,
    pub interests: Interests,
    pub credentials: Vec<Credential>,
    pub tags: Vec<String>,
    pub candidate_id: Option<String>,
    /// The job, furthest stage and exit reason of a silver medalist.
    pub silver_medal: Option<Value>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// When nurture emails went out lately (the last 30 days are kept), for `max_per_30_days`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_sends: Vec<DateTime<Utc>>,
    /// Stories already sent: none is sent twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stories_sent: Vec<String>,
}

impl Prospect {
    /// Credential types held and unexpired on `today` (a credential without an expiry never lapses).
    pub fn valid_credentials(&self, today: NaiveDate) -> Vec<&str> {
        self.credentials.iter().filter(|c| c.expires_on.is_none_or(|d| d >= today)).map(|c| c.kind.as_str()).collect()
    }
}

/// Lower-cased, trimmed, de-duplicated and sorted: tags are compared case-insensitively.
pub fn normalise_tags<I: IntoIterator<Item = String>>(tags: I) -> Vec<String> {
    let mut out: Vec<String> = tags.into_iter().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
    out.sort();
    out.dedup();
    out
}

/// `POST /api/prospects` (a sourced person, added by a recruiter) and `PATCH /api/prospects/{id}`.
#[derive(Debug, Clone, Default)]
pub struct ProspectInput {
    pub email: Option<Email>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub interests: Option<Interests>,
    pub credentials: Option<Vec<Credential>>,
    pub tags: Option<Vec<String>>,
    pub status: Option<ProspectStatus>,
    /// The recruiter records that the person agreed to hear from us (on their word).
    pub consent: Option<bool>,
}

fn parse_interests(f: &mut Fields) -> Option<Interests> {
    let departments: Option<Option<Vec<Line<1, 100>>>> = f.opt("departments");
    let locations: Option<Option<Vec<Line<1, 100>>>> = f.opt("locations");
    let workplace: Option<Option<Vec<crate::job::Workplace>>> = f.opt("workplace");
    let strings = |v: Option<Vec<Line<1, 100>>>| v.unwrap_or_default().into_iter().map(|l| l.0).collect();
    Some(Interests {
        departments: strings(departments?),
        locations: strings(locations?),
        workplace: workplace?.unwrap_or_default(),
    })
}

impl ProspectInput {
    /// `create`: email is required; a patch may not change it (the address is the identity).
    pub fn parse(body: Value, create: bool) -> Result<Self, Invalid> {
        Fields::parse(body, |f| {
            let email = if create { f.req::<Email>("email").map(Some) } else { Some(None) };
            let first_name: Option<Option<Line<1, 100>>> = f.opt("first_name");
            let last_name: Option<Option<Line<1, 100>>> = f.opt("last_name");
            let interests = f.object("interests", false, parse_interests);
            let credentials = f.objects("credentials", 50, parse_credential);
            let tags: Option<Option<Vec<Line<1, 50>>>> = f.opt("tags");
            let status: Option<Option<ProspectStatus>> = f.opt("status");
            if let Some(Some(st)) = status {
                if !st.set_by_recruiter() {
                    f.error("status", "only active or paused can be set; the others follow the person's actions");
                }
            }
            let consent: Option<Option<bool>> = f.opt("consent");
            if !create && f.has_errors() {
                return None;
            }
            Some(ProspectInput {
                email: email?,
                first_name: first_name?.map(|l| l.0),
                last_name: last_name?.map(|l| l.0),
                interests: interests?,
                credentials: credentials?,
                tags: tags?.map(|t| normalise_tags(t.into_iter().map(|l| l.0))),
                status: status?,
                consent: consent?,
            })
        })
    }
}

impl ProspectInput {
    /// A person a recruiter sourced (`id`: their email's hash; a create's input has the email).
    /// Without consent they wait as `pending_consent`.
    pub fn sourced(self, id: EmailHash, email: Email, now: DateTime<Utc>) -> Prospect {
        let status = match self.consent {
            Some(true) => self.status.unwrap_or(ProspectStatus::Active),
            _ => ProspectStatus::PendingConsent,
        };
        Prospect {
            id,
            email,
            first_name: self.first_name,
            last_name: self.last_name,
            status,
            origins: vec![Origin::Sourced],
            interests: self.interests.unwrap_or_default(),
            credentials: self.credentials.unwrap_or_default(),
            tags: self.tags.unwrap_or_default(),
            candidate_id: None,
            silver_medal: None,
            created_at: Some(now),
            updated_at: Some(now),
            recent_sends: vec![],
            stories_sent: vec![],
        }
    }

    /// A patch applied to `p`: what it names changes; a recorded consent makes a pending person
    /// active. `Err`: the status change is not the recruiter's to make (a conflict, with why).
    pub fn edit(self, p: &mut Prospect) -> Result<(), String> {
        if let Some(s) = self.status {
            // Pausing and resuming only apply to people we may mail.
            if !matches!(p.status, ProspectStatus::Active | ProspectStatus::Paused) {
                return Err(format!("a prospect who is {} cannot be set {s}", p.status));
            }
            p.status = s;
        }
        if self.consent == Some(true) && p.status == ProspectStatus::PendingConsent {
            p.status = ProspectStatus::Active;
        }
        p.first_name = self.first_name.or(p.first_name.take());
        p.last_name = self.last_name.or(p.last_name.take());
        if let Some(i) = self.interests {
            p.interests = i;
        }
        if let Some(c) = self.credentials {
            p.credentials = c;
        }
        if let Some(t) = self.tags {
            p.tags = t;
        }
        Ok(())
    }
}

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
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        Fields::parse(body, |f| {
            let email = f.req("email");
            let first_name: Option<Option<Line<1, 100>>> = f.opt("first_name");
            let last_name: Option<Option<Line<1, 100>>> = f.opt("last_name");
            let interests = f.object("interests", true, parse_interests);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A made-up email hash (the import and link tests use it too).
    pub(super) fn hash(n: u8) -> EmailHash {
        format!("{n:040x}").parse().unwrap()
    }

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
        let Invalid::Fields(e) = err else { panic!() };
        assert_eq!(e.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), vec!["email", "consent.talent_pool"]);
    }

    #[test]
    fn credentials_lapse_after_their_expiry() {
        let p = Prospect {
            id: hash(0),
            email: Email::parse("a@b.co").unwrap(),
            first_name: None,
            last_name: None,
            status: ProspectStatus::Active,
            origins: vec![],
            interests: Interests::default(),
            credentials: vec![parse_credential_text("RN@2026-06-30").unwrap(), parse_credential_text("BLS").unwrap()],
            tags: vec![],
            candidate_id: None,
            silver_medal: None,
            created_at: None,
            updated_at: None,
            recent_sends: vec![],
            stories_sent: vec![],
        };
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(p.valid_credentials(day("2026-06-30")), vec!["RN", "BLS"]);
        assert_eq!(p.valid_credentials(day("2026-07-01")), vec!["BLS"]);
    }

    #[test]
    fn a_recruiter_sources_and_edits_a_prospect() {
        let now = Utc::now();
        let input = ProspectInput::parse(json!({"email": "a@b.co", "tags": ["ICU"]}), true).unwrap();
        let email = input.email.clone().unwrap();
        let mut p = input.sourced(hash(0), email, now);
        assert_eq!(
            (p.status, p.origins.clone(), p.tags.clone()),
            (ProspectStatus::PendingConsent, vec![Origin::Sourced], vec!["icu".to_string()])
        );
        let pause = ProspectInput::parse(json!({"status": "paused"}), false).unwrap();
        assert!(pause.clone().edit(&mut p).is_err(), "pending people are not paused");
        ProspectInput::parse(json!({"consent": true, "first_name": "Ann"}), false).unwrap().edit(&mut p).unwrap();
        assert_eq!((p.status, p.first_name.as_deref()), (ProspectStatus::Active, Some("Ann")));
        pause.edit(&mut p).unwrap();
        assert_eq!(p.status, ProspectStatus::Paused);
        // A prospect's id is their email's hash: 40 lowercase hex digits, nothing else.
        assert!("0123456789abcdef0123456789abcdef01234567".parse::<EmailHash>().is_ok());
        for bad in [
            "0123456789abcdefABCDEF0123456789abcdef01",
            "0123456789abcdef0123456789abcdef0123456",
            "g".repeat(40).as_str(),
        ] {
            assert!(bad.parse::<EmailHash>().is_err(), "{bad}");
        }
    }
}
