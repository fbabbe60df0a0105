//! Jobs (requisitions): what a recruiter sets up, what the career site and job boards show.
//!
//! Here: the job's lifecycle and its description files; `spec`: what a recruiter sets, and its parsing.
mod spec;

use crate::clock::rfc3339;
use crate::ids::JobId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use spec::{Country, Currency, JobSpec, Location, Salary, TeamMember, MAX_DESCRIPTION};

crate::choice!(Workplace { Onsite = "onsite", Hybrid = "hybrid", Remote = "remote" });
crate::choice!(EmploymentType {
    FullTime = "full_time", PartTime = "part_time", Contract = "contract", Temporary = "temporary",
    Internship = "internship", Volunteer = "volunteer", PerDiem = "per_diem",
});
crate::choice!(ExperienceLevel {
    Entry = "entry", Associate = "associate", MidSenior = "mid_senior", Director = "director",
    Executive = "executive", Internship = "internship",
});
crate::choice!(SalaryPeriod { Hour = "hour", Day = "day", Week = "week", Month = "month", Year = "year" });
crate::choice!(Board { Indeed = "indeed", Linkedin = "linkedin", Google = "google" });
crate::choice!(JobStatus { Draft = "draft", Open = "open", Closed = "closed" });
crate::choice!(CloseReason { Filled = "filled", Cancelled = "cancelled" });
crate::choice!(TeamRole {
    HiringManager = "hiring_manager", Recruiter = "recruiter", Interviewer = "interviewer", Coordinator = "coordinator",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    #[serde(flatten)]
    pub spec: JobSpec,
    pub status: JobStatus,
    pub close_reason: Option<CloseReason>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: u64,
    /// The job-description file kept in the bucket, if one was uploaded.
    #[serde(default)]
    pub description_file: Option<DescriptionFile>,
}

// Job-description files: what a recruiter may upload, and how a file's first bytes must look.
crate::choice!(DescriptionType {
    Markdown = "text/markdown",
    Html = "text/html",
    Pdf = "application/pdf",
    Docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
});

pub const MAX_DESCRIPTION_FILE: usize = 5 * 1024 * 1024;

impl DescriptionType {
    /// The file name's extension a download gets.
    pub fn extension(self) -> &'static str {
        match self {
            DescriptionType::Markdown => "md",
            DescriptionType::Html => "html",
            DescriptionType::Pdf => "pdf",
            DescriptionType::Docx => "docx",
        }
    }

    pub fn matches(self, bytes: &[u8]) -> bool {
        match self {
            DescriptionType::Pdf => bytes.starts_with(b"%PDF-"),
            DescriptionType::Docx => bytes.starts_with(b"PK\x03\x04"),
            DescriptionType::Markdown | DescriptionType::Html => {
                !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
            }
        }
    }

    /// Markdown and HTML become the job's sanitised `description_html`; PDF and Word are kept as files.
    pub fn to_html(self, bytes: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(bytes).ok()?;
        let html = match self {
            DescriptionType::Markdown => {
                let mut out = String::new();
                pulldown_cmark::html::push_html(&mut out, pulldown_cmark::Parser::new(text));
                out
            }
            DescriptionType::Html => text.to_string(),
            DescriptionType::Pdf | DescriptionType::Docx => return None,
        };
        let clean = ammonia::clean(&html);
        (!clean.trim().is_empty()).then_some(clean)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescriptionFile {
    pub content_type: DescriptionType,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
}

impl Job {
    pub fn new(id: JobId, spec: JobSpec, now: DateTime<Utc>) -> Self {
        Job {
            id,
            spec,
            status: JobStatus::Draft,
            close_reason: None,
            created_at: now,
            updated_at: now,
            published_at: None,
            closed_at: None,
            version: 1,
            description_file: None,
        }
    }

    fn next(&self, now: DateTime<Utc>) -> Job {
        Job { updated_at: now, version: self.version + 1, ..self.clone() }
    }

    pub fn with_spec(&self, spec: JobSpec, now: DateTime<Utc>) -> Job {
        Job { spec, ..self.next(now) }
    }

    /// Opens a draft, or reopens a closed job. `None`: already open, nothing to do.
    pub fn publish(&self, now: DateTime<Utc>) -> Option<Job> {
        match self.status {
            JobStatus::Open => None,
            JobStatus::Draft | JobStatus::Closed => Some(Job {
                status: JobStatus::Open,
                published_at: Some(now),
                closed_at: None,
                close_reason: None,
                ..self.next(now)
            }),
        }
    }

    /// Closes a draft or open job. `None`: already closed, nothing to do.
    pub fn close(&self, reason: CloseReason, now: DateTime<Utc>) -> Option<Job> {
        match self.status {
            JobStatus::Closed => None,
            JobStatus::Draft | JobStatus::Open => Some(Job {
                status: JobStatus::Closed,
                closed_at: Some(now),
                close_reason: Some(reason),
                ..self.next(now)
            }),
        }
    }

    /// Open and not past its expiry: shown on the career site and in feeds.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.status == JobStatus::Open && self.spec.expires_at.is_none_or(|t| t > now)
    }

    /// The career-site page of the job.
    pub fn url(&self, careers_url: &str) -> String {
        format!("{careers_url}/jobs/{}", self.id)
    }

    /// What anyone may see: no hiring team, stages, boards or internal dates.
    pub fn public_view(&self, careers_url: &str) -> Value {
        let s = &self.spec;
        serde_json::json!({
            "id": self.id,
            "title": s.title,
            "department": s.department,
            "location": s.location,
            "workplace": s.workplace,
            "employment_type": s.employment_type,
            "experience_level": s.experience_level,
            "salary": s.salary,
            "description_html": s.description_html,
            "required_credentials": s.required_credentials,
            "asks_demographics": s.asks_demographics,
            "published_at": self.published_at.map(rfc3339),
            "expires_at": s.expires_at.map(rfc3339),
            "url": self.url(careers_url),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A valid job body (the spec tests use it too).
    pub fn body() -> Value {
        json!({
            "title": "Registered Nurse",
            "department": "Nursing",
            "location": {"city": "Leeds", "region": "West Yorkshire", "country": "gb"},
            "workplace": "onsite",
            "employment_type": "full_time",
            "salary": {"min": 30000, "max": 40000, "currency": "gbp", "period": "year"},
            "description_html": "<p>Care for patients.</p><script>alert(1)</script>",
            "required_credentials": ["RN"],
            "hiring_team": [{"sub": "hm-1", "role": "hiring_manager"}]
        })
    }

    #[test]
    fn description_files() {
        assert!(DescriptionType::Pdf.matches(b"%PDF-1.7"));
        assert!(!DescriptionType::Pdf.matches(b"MZ\x90"));
        assert!(!DescriptionType::Markdown.matches(b"\xff\xfe"));
        let html = DescriptionType::Markdown.to_html(b"# Nurse\n\n**Care** <script>x</script>").unwrap();
        assert!(html.contains("<h1>Nurse</h1>") && html.contains("<strong>Care</strong>") && !html.contains("script"));
        assert_eq!(DescriptionType::Pdf.to_html(b"%PDF-"), None);
    }

    #[test]
    fn lifecycle() {
        let now = Utc::now();
        let job = Job::new(JobId::new(&crate::clock::SystemClock), JobSpec::parse(body()).unwrap(), now);
        assert!(!job.is_live(now));
        let open = job.publish(now).unwrap();
        assert_eq!((open.status, open.version), (JobStatus::Open, 2));
        assert!(open.publish(now).is_none(), "publishing twice changes nothing");
        assert!(open.is_live(now));
        let closed = open.close(CloseReason::Filled, now).unwrap();
        assert_eq!(closed.close_reason, Some(CloseReason::Filled));
        assert!(closed.close(CloseReason::Cancelled, now).is_none());
        let view = open.public_view("https://c.example");
        assert!(view.get("hiring_team").is_none());
        assert_eq!(view["url"], format!("https://c.example/jobs/{}", open.id));
    }
}
