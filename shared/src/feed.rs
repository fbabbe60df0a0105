//! What job boards and search engines read about a job. This part: the schema.org JobPosting
//! (JSON-LD) that Google for Jobs reads from the career page and the JSON feed.
use crate::clock::rfc3339;
use crate::job::{EmploymentType, Job, SalaryPeriod, Workplace};
use serde_json::{json, Map, Value};

fn employment_type(t: EmploymentType) -> &'static str {
    match t {
        EmploymentType::FullTime => "FULL_TIME",
        EmploymentType::PartTime => "PART_TIME",
        EmploymentType::Contract => "CONTRACTOR",
        EmploymentType::Temporary => "TEMPORARY",
        EmploymentType::Internship => "INTERN",
        EmploymentType::Volunteer => "VOLUNTEER",
        EmploymentType::PerDiem => "PER_DIEM",
    }
}

fn unit(p: SalaryPeriod) -> &'static str {
    match p {
        SalaryPeriod::Hour => "HOUR",
        SalaryPeriod::Day => "DAY",
        SalaryPeriod::Week => "WEEK",
        SalaryPeriod::Month => "MONTH",
        SalaryPeriod::Year => "YEAR",
    }
}

/// A schema.org JobPosting with Google's required and recommended properties. `url` is the page
/// the posting is for (with any board tracking parameters already on it).
pub fn job_posting(job: &Job, company: &str, careers_url: &str, url: &str) -> Value {
    let s = &job.spec;
    let loc = &s.location;
    let mut address = Map::new();
    address.insert("@type".into(), json!("PostalAddress"));
    if let Some(street) = &loc.street_address {
        address.insert("streetAddress".into(), json!(street));
    }
    address.insert("addressLocality".into(), json!(loc.city));
    address.insert("addressRegion".into(), json!(loc.region));
    if let Some(pc) = &loc.postal_code {
        address.insert("postalCode".into(), json!(pc));
    }
    address.insert("addressCountry".into(), json!(loc.country.0));

    let mut posting = json!({
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": s.title,
        "description": s.description_html,
        "identifier": {"@type": "PropertyValue", "name": company, "value": job.id.to_string()},
        "datePosted": job.published_at.map(rfc3339),
        "employmentType": employment_type(s.employment_type),
        "hiringOrganization": {"@type": "Organization", "name": company, "sameAs": careers_url},
        "jobLocation": {"@type": "Place", "address": Value::Object(address)},
        "industry": s.department,
        "directApply": true,
        "url": url,
    });
    let obj = posting.as_object_mut().expect("a JSON object literal");
    if let Some(t) = s.expires_at {
        obj.insert("validThrough".into(), json!(rfc3339(t)));
    }
    if let Some(sal) = &s.salary {
        obj.insert(
            "baseSalary".into(),
            json!({
                "@type": "MonetaryAmount",
                "currency": sal.currency.0,
                "value": {"@type": "QuantitativeValue", "minValue": sal.min, "maxValue": sal.max, "unitText": unit(sal.period)},
            }),
        );
    }
    if s.workplace == Workplace::Remote {
        obj.insert("jobLocationType".into(), json!("TELECOMMUTE"));
        obj.insert("applicantLocationRequirements".into(), json!({"@type": "Country", "name": loc.country.0}));
    }
    posting
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::ids::JobId;
    use crate::job::JobSpec;

    #[test]
    fn remote_job_posting_has_google_properties() {
        let spec = JobSpec::parse(json!({
            "title": "Rust engineer", "department": "Engineering",
            "location": {"city": "Berlin", "region": "Berlin", "country": "DE"},
            "workplace": "remote", "employment_type": "contract",
            "salary": {"min": 80, "max": 100, "currency": "EUR", "period": "hour"},
            "description_html": "<p>Build things</p>"
        }))
        .unwrap();
        let now = chrono::Utc::now();
        let job = Job::new(JobId::new(&SystemClock), spec, now).publish(now).unwrap();
        let p = job_posting(&job, "Acme", "https://c.example", "https://c.example/jobs/1");
        assert_eq!(p["@type"], "JobPosting");
        assert_eq!(p["employmentType"], "CONTRACTOR");
        assert_eq!(p["jobLocationType"], "TELECOMMUTE");
        assert_eq!(p["applicantLocationRequirements"]["name"], "DE");
        assert_eq!(p["baseSalary"]["value"]["unitText"], "HOUR");
        assert_eq!(p["hiringOrganization"]["name"], "Acme");
        assert!(p["datePosted"].is_string());
    }
}
