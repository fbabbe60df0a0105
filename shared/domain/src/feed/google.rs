//! Google for Jobs: the schema.org JobPosting (JSON-LD) a career page carries, and the JSON feed of
//! them all.
use super::{tracked_url, Publisher};
use crate::clock::rfc3339;
use crate::job::{Board, EmploymentType, Job, SalaryPeriod, Workplace};
use serde_json::{json, Map, Value};
use std::io::{self, Write};

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

/// JSON text made safe to put inside an HTML `<script>` element, as a career page does with a
/// JobPosting (`<script type="application/ld+json">`): `<`, `>` and `&` become `\u003c`, `\u003e`
/// and `\u0026` (and U+2028, U+2029 their escapes), so no text in it (`</script>`, `<!--`) can end
/// the element or change how it is read. Those characters occur in JSON only inside strings, so the
/// result is the same JSON value.
pub fn script_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The JSON feed: a JSON array of schema.org JobPostings, streamed.
pub struct JsonLdFeed {
    out: Vec<u8>,
    first: bool,
}

impl JsonLdFeed {
    pub fn start(mut out: Vec<u8>) -> io::Result<Self> {
        out.write_all(b"[")?;
        Ok(Self { out, first: true })
    }

    /// Never inlined: see the module's note on where the writers are compiled.
    #[inline(never)]
    pub fn job(&mut self, job: &Job, p: &Publisher) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        let posting = job_posting(job, p.company, p.careers_url, &tracked_url(job, p.careers_url, Board::Google));
        serde_json::to_writer(&mut self.out, &posting)?;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<Vec<u8>> {
        self.out.write_all(b"]\n")?;
        Ok(self.out)
    }

    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }
}

#[cfg(test)]
mod script_safe_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_title_cannot_end_the_script_element() {
        let v = json!({"title": "Nurse</script><script>alert(1)</script><!-- & \u{2028}\u{2029}"});
        let safe = script_safe_json(&v.to_string());
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'), "{safe}");
        assert!(!safe.contains('\u{2028}') && !safe.contains('\u{2029}'));
        assert!(safe.contains("\\u003c/script\\u003e"));
        assert_eq!(serde_json::from_str::<Value>(&safe).unwrap(), v);
    }

    proptest! {
        #[test]
        fn any_text_reads_back_the_same_and_holds_nothing_html_reads(text in "\\PC*|.*", tricky in prop::sample::select(vec!["</script>", "</SCRIPT >", "<!--", "-->", "]]>", "&amp;", "\u{2028}", "\u{2029}"])) {
            let v = json!({"title": format!("{text}{tricky}{text}"), "list": [tricky, {"k": text}]});
            let safe = script_safe_json(&v.to_string());
            let held = safe.contains(['<', '>', '&', '\u{2028}', '\u{2029}']);
            prop_assert!(!held, "{}", safe);
            prop_assert_eq!(serde_json::from_str::<Value>(&safe).unwrap(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{job as feed_job, publisher};
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

    #[test]
    fn json_snapshot_of_one_job() {
        let j = feed_job("Nurse", "<p>Care</p>");
        let mut f = JsonLdFeed::start(Vec::new()).unwrap();
        f.job(&j, &publisher()).unwrap();
        let out = String::from_utf8(f.finish().unwrap()).unwrap();
        let id = j.id.to_string();
        let expected = format!(
            "[{{\"@context\":\"https://schema.org/\",\"@type\":\"JobPosting\",\"baseSalary\":{{\"@type\":\"MonetaryAmount\",\"currency\":\"USD\",\
\"value\":{{\"@type\":\"QuantitativeValue\",\"maxValue\":60000.0,\"minValue\":50000.0,\"unitText\":\"YEAR\"}}}},\
\"datePosted\":\"2026-11-01T09:00:00.000Z\",\"description\":\"<p>Care</p>\",\"directApply\":true,\"employmentType\":\"FULL_TIME\",\
\"hiringOrganization\":{{\"@type\":\"Organization\",\"name\":\"Acme & Sons <Health>\",\"sameAs\":\"https://careers.acme.example\"}},\
\"identifier\":{{\"@type\":\"PropertyValue\",\"name\":\"Acme & Sons <Health>\",\"value\":\"{id}\"}},\"industry\":\"Nursing\",\
\"jobLocation\":{{\"@type\":\"Place\",\"address\":{{\"@type\":\"PostalAddress\",\"addressCountry\":\"GB\",\"addressLocality\":\"Leeds\",\
\"addressRegion\":\"West Yorkshire\"}}}},\"title\":\"Nurse\",\
\"url\":\"https://careers.acme.example/jobs/{id}?utm_source=google&utm_medium=job_board\"}}]\n"
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn json_feed_is_a_json_array_of_postings() {
        let mut f = JsonLdFeed::start(Vec::new()).unwrap();
        f.job(&feed_job("A", "<p>a</p>"), &publisher()).unwrap();
        f.job(&feed_job("B", "<p>b</p>"), &publisher()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&f.finish().unwrap()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert!(v[1]["url"].as_str().unwrap().ends_with("utm_source=google&utm_medium=job_board"));
    }
}
