//! Applications from the career site and the candidates behind them.
use crate::attribution::{Attribution, Touchpoint};
use crate::consent::{Consent, Method, Purpose};
use crate::email::Email;
use crate::error::Invalid;
use crate::ids::{ApplicationId, CandidateId, DraftId, JobId};
use crate::job::{Job, JobStatus};
use crate::parse::{Fields, FromField, Line, Text};
use crate::upload::UploadKey;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The version of the consent wording the career site shows; recorded with every consent.
pub const CONSENT_TEXT_VERSION: &str = "2026-11-01";

/// Form fields that are checkboxes (see [`crate::parse::form_to_json`]).
pub const CHECKBOXES: &[&str] = &["consent.processing", "consent.talent_pool", "consent.demographics"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    #[serde(rename = "type")]
    pub kind: String,
    pub jurisdiction: Option<String>,
    pub expires_on: Option<NaiveDate>,
}

/// A consent given: when, and to which wording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub given: bool,
    pub at: DateTime<Utc>,
    pub text_version: String,
    /// How it was given: `form`, `import`, `confirmation_link`, `recruiter`.
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consents {
    pub processing: ConsentRecord,
    pub talent_pool: ConsentRecord,
}

impl Consents {
    pub fn from_form(talent_pool: bool, at: DateTime<Utc>) -> Self {
        let rec = |given| ConsentRecord { given, at, text_version: CONSENT_TEXT_VERSION.into(), method: "form".into() };
        Consents { processing: rec(true), talent_pool: rec(talent_pool) }
    }
}

pub fn parse_touchpoint(f: &mut Fields) -> Option<Touchpoint> {
    let utm_source: Option<Option<Line<0, 200>>> = f.opt("utm_source");
    let utm_medium: Option<Option<Line<0, 200>>> = f.opt("utm_medium");
    let utm_campaign: Option<Option<Line<0, 200>>> = f.opt("utm_campaign");
    let utm_content: Option<Option<Line<0, 200>>> = f.opt("utm_content");
    let referrer: Option<Option<Line<0, 2000>>> = f.opt("referrer");
    let landing_url: Option<Option<Line<0, 2000>>> = f.opt("landing_url");
    let token: Option<Option<Line<0, 2000>>> = f.opt("token");
    let s = |v: Option<Line<0, 200>>| v.map(|l| l.0).filter(|s| !s.is_empty());
    let l = |v: Option<Line<0, 2000>>| v.map(|l| l.0).filter(|s| !s.is_empty());
    Some(Touchpoint {
        utm_source: s(utm_source?),
        utm_medium: s(utm_medium?),
        utm_campaign: s(utm_campaign?),
        utm_content: s(utm_content?),
        referrer: l(referrer?),
        landing_url: l(landing_url?),
        token: l(token?),
    })
}

pub fn parse_credential(f: &mut Fields) -> Option<Credential> {
    let kind: Option<Line<1, 50>> = f.req("type");
    let jurisdiction: Option<Option<Line<1, 50>>> = f.opt("jurisdiction");
    let expires_on = f.opt("expires_on");
    Some(Credential { kind: kind?.0, jurisdiction: jurisdiction?.map(|j| j.0), expires_on: expires_on? })
}

/// A phone number as people type it: digits and `+ ( ) - . ` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(pub String);

impl FromField for Phone {
    fn from_field(v: &Value) -> Result<Self, String> {
        let s = Line::<1, 40>::from_field(v)?.0;
        let digits = s.chars().filter(char::is_ascii_digit).count();
        if s.chars().all(|c| c.is_ascii_digit() || " +()-.".contains(c)) && (5..=20).contains(&digits) {
            Ok(Phone(s))
        } else {
            Err("must be a phone number".into())
        }
    }
}

/// Answers to a job's questions: short keys, plain values.
fn parse_answers(v: Value) -> Result<Map<String, Value>, String> {
    let Value::Object(map) = v else { return Err("must be an object".into()) };
    if map.len() > 100 {
        return Err("must have at most 100 answers".into());
    }
    for (k, v) in &map {
        Line::<1, 64>::from_field(&Value::String(k.clone())).map_err(|m| format!("question id {m}"))?;
        let ok = match v {
            Value::String(s) => s.chars().count() <= 10_000,
            Value::Number(_) | Value::Bool(_) => true,
            Value::Array(items) => {
                items.len() <= 50 && items.iter().all(|i| i.as_str().is_some_and(|s| s.len() <= 500))
            }
            _ => false,
        };
        if !ok {
            return Err(format!("answer {k} must be text, a number, true/false or a list of short texts"));
        }
    }
    Ok(map)
}

/// A submission: the honeypot is checked before anything else, and a bot learns nothing from it.
#[derive(Debug)]
pub enum Submission {
    Honeypot,
    /// Boxed: the honeypot's answer carries nothing.
    Apply(Box<ApplicationInput>),
}

#[derive(Debug, Clone)]
pub struct ApplicationInput {
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub phone: Option<Phone>,
    pub resume_key: Option<UploadKey>,
    pub answers: Map<String, Value>,
    pub credentials: Vec<Credential>,
    pub talent_pool: bool,
    /// Voluntary EEO answers, only for jobs that ask, with their own consent.
    pub demographics: Option<crate::demographics::Demographics>,
    pub demographics_consent: bool,
    pub source: Touchpoint,
    pub draft_id: Option<DraftId>,
    pub redirect: Option<String>,
}

impl Submission {
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        if body.get("website").and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty()) {
            return Ok(Submission::Honeypot);
        }
        Fields::parse(body, |f| {
            let _honeypot: Option<Option<Text<0, 1000>>> = f.opt("website");
            let first_name: Option<Line<1, 100>> = f.req("first_name");
            let last_name: Option<Line<1, 100>> = f.req("last_name");
            let email: Option<Email> = f.req("email");
            let phone = f.opt("phone");
            let resume_key = f.opt("resume_key");
            let answers = match f.take("answers") {
                None => Some(Map::new()),
                Some(v) => match parse_answers(v) {
                    Ok(m) => Some(m),
                    Err(msg) => {
                        f.error("answers", msg);
                        None
                    }
                },
            };
            let credentials = f.objects("credentials", 50, parse_credential);
            let consent = f.object("consent", true, |f| {
                let processing: Option<bool> = f.req("processing");
                let talent_pool: Option<Option<bool>> = f.opt("talent_pool");
                let demographics: Option<Option<bool>> = f.opt("demographics");
                if processing == Some(false) {
                    f.error("processing", "must be true: we cannot consider an application without it");
                    return None;
                }
                processing?;
                Some((talent_pool?.unwrap_or(false), demographics?.unwrap_or(false)))
            });
            let demographics = f.object("demographics", false, crate::demographics::parse);
            let source = f.object("source", false, parse_touchpoint);
            let draft_id: Option<Option<Line<1, 40>>> = f.opt("draft_id");
            let draft_id = draft_id.map(|d| d.and_then(|d| d.0.parse::<DraftId>().ok()));
            let redirect: Option<Option<Line<1, 2000>>> = f.opt("redirect");
            Some(Submission::Apply(Box::new(ApplicationInput {
                first_name: first_name?.0,
                last_name: last_name?.0,
                email: email?,
                phone: phone?,
                resume_key: resume_key?,
                answers: answers?,
                credentials: credentials?.unwrap_or_default(),
                talent_pool: consent.flatten().map(|c| c.0).unwrap_or(false),
                demographics_consent: consent??.1,
                demographics: demographics?,
                source: source?.unwrap_or_default(),
                draft_id: draft_id?,
                redirect: redirect?.map(|r| r.0),
            })))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: CandidateId,
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<Phone>,
    pub credentials: Vec<Credential>,
    /// Where the person first came from; never overwritten.
    pub first_touch: Attribution,
    pub consents: Consents,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub id: ApplicationId,
    pub job_id: JobId,
    pub candidate_id: CandidateId,
    pub stage: String,
    pub status: crate::stage::ApplicationStatus,
    pub answers: Map<String, Value>,
    pub credentials: Vec<Credential>,
    /// The resume's key in the bucket (under `resumes/`), once checked.
    pub resume_key: Option<String>,
    /// Where this application came from (the last touch).
    pub attribution: Attribution,
    pub consents: Consents,
    pub draft_id: Option<DraftId>,
    pub created_at: DateTime<Utc>,
    pub version: u64,
    /// Every move through the pipeline, oldest first; replays to `stage`.
    #[serde(default)]
    pub history: Vec<crate::stage::HistoryEntry>,
    /// The furthest stage reached (exits do not count), kept for silver medalists.
    #[serde(default)]
    pub furthest_stage: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Application {
    /// When the application entered its current stage.
    pub fn entered_stage_at(&self) -> DateTime<Utc> {
        self.history.last().map(|h| h.at).unwrap_or(self.created_at)
    }
}

/// Why a career-site form may not post to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotTaking {
    /// No such job, or one still a draft: to the career site it does not exist.
    Unknown,
    Closed,
    Expired,
}

/// The job a career-site form posts to (an application or a draft), if it takes them at `now`.
pub fn taking_applications(job: Option<Job>, now: DateTime<Utc>) -> Result<Job, NotTaking> {
    let job = job.ok_or(NotTaking::Unknown)?;
    match job.status {
        JobStatus::Draft => Err(NotTaking::Unknown),
        JobStatus::Closed => Err(NotTaking::Closed),
        JobStatus::Open if !job.is_live(now) => Err(NotTaking::Expired),
        JobStatus::Open => Ok(job),
    }
}

/// Whether `url` is an http(s) URL whose origin (scheme, host and port, the default port filled in)
/// is exactly that of one of `allowed`: never a prefix or a look-alike (`https://jobs.acme.co` is
/// not `https://jobs.acme.com`). Decides whether a form's `redirect` is the career site's.
pub fn same_origin_as_any<'a>(url: &str, mut allowed: impl Iterator<Item = &'a str>) -> bool {
    let origin = |u: &str| {
        url::Url::parse(u)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
            .map(|u| (u.scheme().to_string(), u.host_str().map(str::to_ascii_lowercase), u.port_or_known_default()))
    };
    let Some(wanted) = origin(url) else { return false };
    allowed.any(|a| origin(a).as_ref() == Some(&wanted))
}

/// Whose application it is: the candidate who owns the address, or a new one created with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applicant {
    Known(CandidateId),
    New(CandidateId),
}

/// What goes into an application besides the form, as the use case found or made it.
#[derive(Debug, Clone)]
pub struct Filing {
    pub id: ApplicationId,
    pub applicant: Applicant,
    /// Where this application came from (a new candidate's first touch too).
    pub attribution: Attribution,
    /// The resume as kept, under `resumes/`.
    pub resume_key: Option<String>,
    /// The open draft this submission completes.
    pub draft_id: Option<DraftId>,
    pub at: DateTime<Utc>,
}

impl ApplicationInput {
    /// The application this submission makes for `job`, at the job's first stage, and the candidate
    /// to create with it when the applicant is new.
    pub fn file(&self, job: &Job, f: Filing) -> (Application, Option<Candidate>) {
        let consents = Consents::from_form(self.talent_pool, f.at);
        let candidate = match f.applicant {
            Applicant::Known(_) => None,
            Applicant::New(id) => Some(Candidate {
                id,
                email: self.email.clone(),
                first_name: self.first_name.clone(),
                last_name: self.last_name.clone(),
                phone: self.phone.clone(),
                credentials: self.credentials.clone(),
                first_touch: f.attribution.clone(),
                consents: consents.clone(),
                created_at: f.at,
            }),
        };
        let (Applicant::Known(candidate_id) | Applicant::New(candidate_id)) = f.applicant;
        let first_stage = job.spec.stages.first().map(|s| s.id.clone()).unwrap_or_else(|| "applied".into());
        let application = Application {
            id: f.id,
            job_id: job.id,
            candidate_id,
            stage: first_stage.clone(),
            status: crate::stage::ApplicationStatus::Active,
            answers: self.answers.clone(),
            credentials: self.credentials.clone(),
            resume_key: f.resume_key,
            attribution: f.attribution,
            consents,
            draft_id: f.draft_id,
            created_at: f.at,
            version: 1,
            history: vec![],
            furthest_stage: first_stage,
            tags: vec![],
        };
        (application, candidate)
    }

    /// The consent records the form's boxes make: processing always, demographics with answers, and
    /// the talent pool's when ticked.
    pub fn consent_records(&self, now: DateTime<Utc>) -> Vec<Consent> {
        let mut records = vec![Consent::new(Purpose::Processing, true, now, Method::Form, CONSENT_TEXT_VERSION)];
        if self.demographics.is_some() {
            records.push(Consent::new(Purpose::Demographics, true, now, Method::Form, CONSENT_TEXT_VERSION));
        }
        if self.talent_pool {
            records.extend(Consent::talent_pool(now, Method::Form, CONSENT_TEXT_VERSION));
        }
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com",
               "consent": {"processing": true, "talent_pool": true},
               "credentials": [{"type": "RN", "jurisdiction": "GB", "expires_on": "2030-01-31"}],
               "answers": {"visa": false, "years": 7, "langs": ["en", "fr"]},
               "source": {"utm_source": "indeed", "utm_medium": "job_board"}})
    }

    fn fields(v: Value) -> Vec<String> {
        match Submission::parse(v) {
            Err(Invalid::Fields(e)) => e.into_iter().map(|e| e.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_good_submission_parses() {
        let Submission::Apply(a) = Submission::parse(body()).unwrap() else { panic!() };
        assert_eq!(a.email.0, "ada@example.com");
        assert!(a.talent_pool);
        assert_eq!(a.credentials[0].kind, "RN");
        assert_eq!(a.source.utm_source.as_deref(), Some("indeed"));
    }

    #[test]
    fn consent_email_types_and_unknown_fields() {
        let mut b = body();
        b["consent"]["processing"] = json!(false);
        b["email"] = json!("not an email");
        b["first_name"] = json!(["Ada"]);
        b["role"] = json!("admin");
        assert_eq!(fields(b), vec!["first_name", "email", "consent.processing", "role"]);
        let mut b = body();
        b.as_object_mut().unwrap().remove("consent");
        assert_eq!(fields(b), vec!["consent"]);
        let mut b = body();
        b["first_name"] = json!("Ada\r\nBcc: x@y.z");
        assert_eq!(fields(b), vec!["first_name"]);
    }

    #[test]
    fn the_honeypot_short_circuits() {
        let mut b = body();
        b["website"] = json!("http://spam.example");
        b["email"] = json!("garbage");
        assert!(matches!(Submission::parse(b), Ok(Submission::Honeypot)));
        let mut b = body();
        b["website"] = json!("");
        assert!(matches!(Submission::parse(b), Ok(Submission::Apply(_))));
    }

    #[test]
    fn a_redirect_must_have_exactly_an_allowed_origin() {
        let allowed = ["https://jobs.acme.com", "http://localhost:3000"];
        let ok = |u: &str| same_origin_as_any(u, allowed.iter().copied());
        assert!(ok("https://jobs.acme.com/thanks?x=1"));
        assert!(ok("https://JOBS.acme.com:443/thanks"));
        assert!(ok("http://localhost:3000/"));
        assert!(!ok("https://jobs.acme.co/thanks"), "a prefix of an allowed origin");
        assert!(!ok("https://jobs.acme.com.evil.example/"));
        assert!(!ok("http://jobs.acme.com/thanks"), "another scheme");
        assert!(!ok("https://jobs.acme.com:8443/thanks"), "another port");
        assert!(!ok("http://localhost/"));
        assert!(!ok("http://localhost:30/"));
        assert!(!ok("javascript:alert(1)"));
        assert!(!ok("/careers/thanks"));
    }
}
