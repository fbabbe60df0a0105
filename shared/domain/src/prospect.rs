//! The CRM pool: people who have not applied (yet). One prospect per email address, keyed by the
//! address's keyed hash (which is also its id in the API, so nothing readable is in a URL): joining
//! from the career site with double opt-in, leaving (unsubscribe, RFC 8058 one-click), recruiter
//! edits and the import of prior applicants.
use crate::application::{parse_credential, Credential};
use crate::email::{Email, EmailHash};
use crate::error::Invalid;
use crate::parse::{Fields, Line};
use crate::token::Signer;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// One row of an import, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub line: u64,
    pub email: Email,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub interests: Interests,
    pub credentials: Vec<Credential>,
    pub tags: Vec<String>,
    /// The file says the person agreed to hear from the employer (and when, if it says).
    pub consent: Option<Option<NaiveDate>>,
}

/// A line the import could not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

/// The columns an import understands (header names are case-insensitive; spaces and dashes count as
/// underscores; other columns are ignored). Lists are separated by `;`. A credential is
/// `TYPE[/JURISDICTION][@YYYY-MM-DD expiry]`, e.g. `RN/GB@2027-06-30`. `consent` is yes/true/1 when
/// the person agreed to hear about jobs (evidence the employer holds), with `consent_date` optional.
pub const IMPORT_COLUMNS: &[&str] =
    &["email", "first_name", "last_name", "tags", "departments", "locations", "credentials", "consent", "consent_date"];

/// Where each known column is in an import's header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportColumns {
    /// The header's names, normalised: kept with an import that resumes page by page.
    pub names: Vec<String>,
    email: usize,
    cols: Vec<Option<usize>>,
}

impl ImportColumns {
    pub fn from_header<'a>(header: impl IntoIterator<Item = &'a str>) -> Result<Self, Invalid> {
        let names: Vec<String> = header
            .into_iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase().replace([' ', '-'], "_"))
            .collect();
        let col = |name: &str| names.iter().position(|h| h == name || (name == "email" && h == "email_address"));
        let Some(email) = col("email") else {
            return Err(Invalid::field("body", "the header row has no email column"));
        };
        let cols = IMPORT_COLUMNS.iter().map(|c| col(c)).collect();
        Ok(Self { names, email, cols })
    }

    /// One record of the file (its line number given for errors).
    pub fn row(&self, record: &csv::StringRecord, line: u64) -> Result<ImportRow, LineError> {
        let get = |i: usize| self.cols[i].and_then(|c| record.get(c)).map(str::trim).filter(|v| !v.is_empty());
        let list = |i: usize| {
            get(i)
                .map(|v| v.split(';').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let mut problems = Vec::new();
        let email = match Email::parse(record.get(self.email).unwrap_or_default()) {
            Ok(e) => Some(e),
            Err(m) => {
                problems.push(format!("email {m}"));
                None
            }
        };
        let name = |i: usize, problems: &mut Vec<String>| match get(i) {
            Some(v) if v.chars().count() > 100 || v.chars().any(char::is_control) => {
                problems.push(format!("{} must be at most 100 characters of text", IMPORT_COLUMNS[i]));
                None
            }
            v => v.map(str::to_string),
        };
        let first_name = name(1, &mut problems);
        let last_name = name(2, &mut problems);
        let mut credentials = Vec::new();
        for raw in list(6) {
            match parse_credential_text(&raw) {
                Ok(c) => credentials.push(c),
                Err(m) => problems.push(m),
            }
        }
        let consent = match get(7).map(str::to_lowercase).as_deref() {
            None | Some("no") | Some("false") | Some("0") | Some("n") => None,
            Some("yes") | Some("true") | Some("1") | Some("y") => match get(8) {
                None => Some(None),
                Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                    Ok(d) => Some(Some(d)),
                    Err(_) => {
                        problems.push("consent_date must be YYYY-MM-DD".into());
                        None
                    }
                },
            },
            Some(other) => {
                problems.push(format!("consent must be yes or no, not {other:?}"));
                None
            }
        };
        let (Some(email), true) = (email, problems.is_empty()) else {
            return Err(LineError { line, message: problems.join("; ") });
        };
        Ok(ImportRow {
            line,
            email,
            first_name,
            last_name,
            interests: Interests { departments: list(4), locations: list(5), workplace: vec![] },
            credentials,
            tags: normalise_tags(list(3)),
            consent,
        })
    }
}

/// Parses a whole CSV of prior applicants (small files, tests): good rows, and an error per bad line
/// (the file's line number). Rows repeating an address already seen are reported, not taken twice.
pub fn parse_import(csv_text: &[u8]) -> Result<(Vec<ImportRow>, Vec<LineError>), Invalid> {
    let mut reader = reader_builder().from_reader(csv_text);
    let header = reader.headers().map_err(|_| Invalid::field("body", "not CSV"))?.clone();
    let columns = ImportColumns::from_header(header.iter())?;
    let (mut rows, mut errors, mut seen) = (Vec::new(), Vec::new(), std::collections::HashSet::new());
    for record in reader.records() {
        match record {
            Ok(r) => {
                let line = r.position().map(|p| p.line()).unwrap_or(0);
                match columns.row(&r, line) {
                    Ok(row) if !seen.insert(row.email.clone()) => {
                        errors.push(LineError { line, message: "the same email appears earlier in the file".into() })
                    }
                    Ok(row) => rows.push(row),
                    Err(e) => errors.push(e),
                }
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(LineError { line, message: csv_problem(&e) });
            }
        }
    }
    Ok((rows, errors))
}

/// How an import's CSV is read: rows may be short or long, cells are trimmed, and a record ends at
/// `\n` (a `\r` before it is trimmed), so line numbers count CRLF files' lines as an editor does.
pub fn reader_builder() -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    b.flexible(true).trim(csv::Trim::All).terminator(csv::Terminator::Any(b'\n'));
    b
}

/// What a CSV error may say: its kind, never the text it quotes.
pub fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid CSV: not UTF-8 text".into(),
        csv::ErrorKind::UnequalLengths { .. } => "not valid CSV: a row of another length".into(),
        _ => "not valid CSV".into(),
    }
}

/// What an import row does to the pool.
#[derive(Debug, Clone, PartialEq)]
pub enum Merged {
    New(Prospect),
    Changed(Prospect),
    Unchanged,
}

fn union(into: &mut Vec<String>, more: &[String]) {
    for m in more {
        if !into.iter().any(|x| x.eq_ignore_ascii_case(m)) {
            into.push(m.clone());
        }
    }
}

/// Merges an import row into the person's record: a new prospect (active with consent evidence,
/// else pending consent), or the existing one with `imported` added and the row's tags, interests
/// and credentials joined in (a later expiry wins). Nothing the person chose is overwritten, so
/// importing the same file again changes nothing.
pub fn merge_import(existing: Option<&Prospect>, row: &ImportRow, id: &EmailHash, now: DateTime<Utc>) -> Merged {
    let Some(p) = existing else {
        return Merged::New(Prospect {
            id: id.clone(),
            email: row.email.clone(),
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            status: if row.consent.is_some() { ProspectStatus::Active } else { ProspectStatus::PendingConsent },
            origins: vec![Origin::Imported],
            interests: row.interests.clone(),
            credentials: row.credentials.clone(),
            tags: row.tags.clone(),
            candidate_id: None,
            silver_medal: None,
            created_at: Some(now),
            updated_at: Some(now),
            recent_sends: vec![],
            stories_sent: vec![],
        });
    };
    let mut q = p.clone();
    if !q.origins.contains(&Origin::Imported) {
        q.origins.push(Origin::Imported);
        q.origins.sort_by_key(|o| o.as_str());
    }
    q.first_name = q.first_name.or_else(|| row.first_name.clone());
    q.last_name = q.last_name.or_else(|| row.last_name.clone());
    q.tags = normalise_tags(q.tags.iter().chain(&row.tags).cloned());
    union(&mut q.interests.departments, &row.interests.departments);
    union(&mut q.interests.locations, &row.interests.locations);
    for c in &row.credentials {
        match q
            .credentials
            .iter_mut()
            .find(|h| h.kind.eq_ignore_ascii_case(&c.kind) && h.jurisdiction == c.jurisdiction)
        {
            None => q.credentials.push(c.clone()),
            Some(h) => {
                if let (Some(new), Some(old)) = (c.expires_on, h.expires_on) {
                    if new > old {
                        h.expires_on = Some(new);
                    }
                }
            }
        }
    }
    if row.consent.is_some() && q.status == ProspectStatus::PendingConsent {
        q.status = ProspectStatus::Active;
    }
    if q == *p {
        Merged::Unchanged
    } else {
        Merged::Changed(q)
    }
}

/// `RN`, `RN/GB`, `RN/GB@2027-06-30`.
pub fn parse_credential_text(raw: &str) -> Result<Credential, String> {
    let (rest, expires_on) = match raw.split_once('@') {
        Some((r, d)) => (
            r,
            Some(
                NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                    .map_err(|_| format!("credential {raw:?}: expiry must be YYYY-MM-DD"))?,
            ),
        ),
        None => (raw, None),
    };
    let (kind, jurisdiction) = match rest.split_once('/') {
        Some((k, j)) => (k.trim(), Some(j.trim().to_string()).filter(|j| !j.is_empty())),
        None => (rest.trim(), None),
    };
    if kind.is_empty() || kind.chars().count() > 50 || kind.chars().any(char::is_control) {
        return Err(format!("credential {raw:?}: a type of 1 to 50 characters is required"));
    }
    Ok(Credential { kind: kind.to_string(), jurisdiction, expires_on })
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

/// What a confirmation or unsubscribe link carries: the person's keyed email hash, nothing readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    pub h: EmailHash,
    /// The campaign whose email carried the link, if any (so the unsubscribe is counted against it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<String>,
    /// The pending request a confirmation link confirms (see `Store::confirm_subscription`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
}

pub const CONFIRM: &str = "talent-pool-confirm";
pub const UNSUBSCRIBE: &str = "unsubscribe";
/// How long a double opt-in link works.
pub const CONFIRM_TTL_DAYS: i64 = 7;

/// A confirmation link's token: for the pending request under `nonce` (a sign-up, a drop-off's tick,
/// a silver medalist's request), or, without one, for an import's.
pub fn confirm_token(signer: &Signer, email_hash: &EmailHash, nonce: Option<&str>, now: DateTime<Utc>) -> String {
    signer.sign(
        CONFIRM,
        &PersonRef { h: email_hash.clone(), c: None, n: nonce.map(str::to_string) },
        Some(now + Duration::days(CONFIRM_TTL_DAYS)),
    )
}

/// Unsubscribe links never expire: a person may use an old email to leave.
pub fn unsubscribe_token(signer: &Signer, email_hash: &EmailHash) -> String {
    unsubscribe_token_for(signer, email_hash, None)
}

pub fn unsubscribe_token_for(signer: &Signer, email_hash: &EmailHash, campaign: Option<&str>) -> String {
    signer.sign(UNSUBSCRIBE, &PersonRef { h: email_hash.clone(), c: campaign.map(str::to_string), n: None }, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> EmailHash {
        format!("{n:040x}").parse().unwrap()
    }
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
        let Invalid::Fields(e) = err else { panic!() };
        assert_eq!(e.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), vec!["email", "consent.talent_pool"]);
    }

    #[test]
    fn imports_map_columns_and_report_bad_lines() {
        let csv = "Email,First Name,Tags,Credentials,Consent,Consent Date,Shoe size\n\
                   ada@example.com,Ada,Nurse; ICU,RN/GB@2027-06-30;BLS,yes,2025-01-02,9\n\
                   not-an-email,Bob,,,,,\n\
                   ADA@example.com,Ada again,,,,,\n\
                   cy@example.com,Cy,,RN@tomorrow,,,\n\
                   \"=cmd\"@example.com,Dee,,,maybe,,\n";
        let (rows, errors) = parse_import(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.line, r.email.0.as_str(), r.first_name.as_deref()), (2, "ada@example.com", Some("Ada")));
        assert_eq!(r.tags, vec!["icu", "nurse"]);
        assert_eq!(r.credentials[0].jurisdiction.as_deref(), Some("GB"));
        assert_eq!(r.credentials[1].kind, "BLS");
        assert_eq!(r.consent, Some(NaiveDate::from_ymd_opt(2025, 1, 2)));
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 4, 5, 6]);
        assert!(errors[1].message.contains("earlier"));
        assert!(parse_import(b"name\nAda\n").is_err(), "no email column");
    }

    #[test]
    fn importing_twice_changes_nothing_and_never_overwrites() {
        let csv = "email,first_name,tags,credentials,consent\nada@example.com,Ada,icu,RN@2027-01-01,yes\nbo@example.com,Bo,,,\n";
        let (rows, _) = parse_import(csv.as_bytes()).unwrap();
        let now = Utc::now();
        let Merged::New(ada) = merge_import(None, &rows[0], &hash(1), now) else { panic!() };
        assert_eq!(ada.status, ProspectStatus::Active);
        let Merged::New(bo) = merge_import(None, &rows[1], &hash(2), now) else { panic!() };
        assert_eq!(bo.status, ProspectStatus::PendingConsent, "no consent evidence");
        assert_eq!(merge_import(Some(&ada), &rows[0], &hash(1), now), Merged::Unchanged);

        let mut mine = ada.clone();
        mine.first_name = Some("Adaline".into());
        mine.origins = vec![Origin::Subscriber];
        mine.credentials[0].expires_on = NaiveDate::from_ymd_opt(2026, 1, 1);
        let Merged::Changed(m) = merge_import(Some(&mine), &rows[0], &hash(1), now) else { panic!() };
        assert_eq!(m.first_name.as_deref(), Some("Adaline"), "the person's own name stays");
        assert_eq!(m.origins, vec![Origin::Imported, Origin::Subscriber]);
        assert_eq!(m.credentials[0].expires_on, NaiveDate::from_ymd_opt(2027, 1, 1), "the later expiry wins");
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
    fn a_crlf_file_reports_its_own_line_numbers() {
        let csv = "email,first_name,notes\r\nnot-an-email,A,x\r\nok@example.com,B,\"n1\r\nn2\"\r\nbad2,D,y\r\n";
        let (rows, errors) = parse_import(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].first_name.as_deref(), Some("B"));
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 5]);
    }

    #[test]
    fn links_are_purpose_bound() {
        let s = Signer::new(crate::keys::Keyring::single("k1", &[7; 32]));
        let now = Utc::now();
        let h1 = hash(1);
        let c = confirm_token(&s, &h1, None, now);
        assert!(s.verify::<PersonRef>(UNSUBSCRIBE, &c, now).is_none());
        assert_eq!(s.verify::<PersonRef>(CONFIRM, &c, now).unwrap().h, h1);
        assert!(s.verify::<PersonRef>(CONFIRM, &c, now + Duration::days(8)).is_none());
        let u = unsubscribe_token(&s, &h1);
        assert_eq!(s.verify::<PersonRef>(UNSUBSCRIBE, &u, now + Duration::days(3650)).unwrap().h, h1);
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
