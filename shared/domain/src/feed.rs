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

use crate::job::{Board, ExperienceLevel};
use quick_xml::events::{BytesCData, BytesDecl, BytesText, Event};
use quick_xml::Writer;
use std::io::{self, Write};

/// A board's tracking parameters: an application that arrives through the link is credited to it.
pub fn tracked_url(job: &Job, careers_url: &str, board: Board) -> String {
    format!("{}?utm_source={board}&utm_medium=job_board", job.url(careers_url))
}

/// Removes what XML 1.0 cannot carry at all, even escaped (most C0 controls, U+FFFE, U+FFFF).
pub fn xml_safe(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(*c, '\t' | '\n' | '\r') || (*c >= ' ' && !matches!(*c, '\u{FFFE}' | '\u{FFFF}')))
        .collect()
}

/// Who publishes the feeds.
pub struct Publisher<'a> {
    pub company: &'a str,
    pub careers_url: &'a str,
    /// Where boards send questions about a job.
    pub email: &'a str,
}

fn rfc2822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

use chrono::{DateTime, Utc};

/// `<name><![CDATA[text]]></name>`; a `]]>` inside is split across two sections.
fn cdata<W: Write>(w: &mut Writer<W>, name: &str, text: &str) -> io::Result<()> {
    let text = xml_safe(text);
    w.create_element(name).write_inner_content(|w| {
        let parts: Vec<&str> = text.split("]]>").collect();
        for (i, part) in parts.iter().enumerate() {
            let mut chunk = String::new();
            if i > 0 {
                chunk.push('>');
            }
            chunk.push_str(part);
            if i + 1 < parts.len() {
                chunk.push_str("]]");
            }
            w.write_event(Event::CData(BytesCData::new(chunk)))?;
        }
        Ok(())
    })?;
    Ok(())
}

fn text<W: Write>(w: &mut Writer<W>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(&xml_safe(value)))?;
    Ok(())
}

fn money(amount: f64) -> String {
    if amount.fract() == 0.0 {
        format!("{amount:.0}")
    } else {
        format!("{amount:.2}")
    }
}

/// Indeed's salary text: `$50000 - $60000 per year`.
pub fn salary_text(job: &Job) -> String {
    let Some(s) = &job.spec.salary else { return String::new() };
    let symbol = match s.currency.0.as_str() {
        "USD" | "CAD" | "AUD" | "NZD" | "SGD" | "HKD" | "MXN" => "$".to_string(),
        "GBP" => "£".to_string(),
        "EUR" => "€".to_string(),
        "JPY" | "CNY" => "¥".to_string(),
        "INR" => "₹".to_string(),
        other => format!("{other} "),
    };
    format!("{symbol}{} - {symbol}{} per {}", money(s.min), money(s.max), s.period)
}

/// The Indeed XML feed, written job by job so memory does not grow with the number of jobs.
pub struct IndeedFeed<W: Write> {
    w: Writer<W>,
}

impl<W: Write> IndeedFeed<W> {
    pub fn start(out: W, p: &Publisher, built_at: DateTime<Utc>) -> io::Result<Self> {
        let mut w = Writer::new(out);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        w.write_event(Event::Start(quick_xml::events::BytesStart::new("source")))?;
        cdata(&mut w, "publisher", p.company)?;
        cdata(&mut w, "publisherurl", p.careers_url)?;
        cdata(&mut w, "lastBuildDate", &rfc2822(built_at))?;
        Ok(Self { w })
    }

    /// Every element is present for every job, blank where unknown.
    pub fn job(&mut self, job: &Job, p: &Publisher) -> io::Result<()> {
        let s = &job.spec;
        let l = &s.location;
        let jobtype = match s.employment_type {
            EmploymentType::FullTime => "fulltime",
            EmploymentType::PartTime => "parttime",
            EmploymentType::Contract => "contract",
            EmploymentType::Temporary => "temporary",
            EmploymentType::Internship => "internship",
            EmploymentType::Volunteer => "volunteer",
            EmploymentType::PerDiem => "perdiem",
        };
        let remote = match s.workplace {
            Workplace::Remote => "Fully remote",
            Workplace::Hybrid => "Hybrid remote",
            Workplace::Onsite => "",
        };
        let experience = s.experience_level.map(|e| e.as_str().replace('_', " ")).unwrap_or_default();
        let url = tracked_url(job, p.careers_url, Board::Indeed);
        let id = job.id.to_string();
        let w = &mut self.w;
        w.create_element("job").write_inner_content(|w| {
            cdata(w, "title", &s.title)?;
            cdata(w, "date", &job.published_at.map(rfc2822).unwrap_or_default())?;
            cdata(w, "referencenumber", &id)?;
            cdata(w, "requisitionid", &id)?;
            cdata(w, "url", &url)?;
            cdata(w, "company", p.company)?;
            cdata(w, "sourcename", p.company)?;
            cdata(w, "city", &l.city)?;
            cdata(w, "state", &l.region)?;
            cdata(w, "country", &l.country.0)?;
            cdata(w, "postalcode", l.postal_code.as_deref().unwrap_or(""))?;
            cdata(w, "streetaddress", l.street_address.as_deref().unwrap_or(""))?;
            cdata(w, "email", p.email)?;
            cdata(w, "description", &s.description_html)?;
            cdata(w, "salary", &salary_text(job))?;
            cdata(w, "education", "")?;
            cdata(w, "jobtype", jobtype)?;
            cdata(w, "experience", &experience)?;
            cdata(w, "expirationdate", &s.expires_at.map(rfc2822).unwrap_or_default())?;
            cdata(w, "category", &s.department)?;
            cdata(w, "remotetype", remote)
        })?;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_event(Event::End(quick_xml::events::BytesEnd::new("source")))?;
        Ok(self.w.into_inner())
    }

    /// What has been written so far, for a caller that ships it in parts.
    pub fn buffer(&mut self) -> &mut W {
        self.w.get_mut()
    }
}

/// LinkedIn wants a description of at least this many characters of text.
pub const LINKEDIN_MIN_DESCRIPTION: usize = 100;

/// The text of some HTML, for length checks.
pub fn html_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The LinkedIn Limited Listings XML feed.
pub struct LinkedInFeed<W: Write> {
    w: Writer<W>,
}

impl<W: Write> LinkedInFeed<W> {
    pub fn start(out: W, built_at: DateTime<Utc>) -> io::Result<Self> {
        let mut w = Writer::new(out);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        w.write_event(Event::Start(quick_xml::events::BytesStart::new("source")))?;
        cdata(&mut w, "lastBuildDate", &rfc2822(built_at))?;
        Ok(Self { w })
    }

    /// Writes the job, or leaves it out (`Ok(false)`) when LinkedIn would refuse it.
    pub fn job(&mut self, job: &Job, p: &Publisher, company_id: &str) -> io::Result<bool> {
        let s = &job.spec;
        if html_text(&s.description_html).chars().count() < LINKEDIN_MIN_DESCRIPTION {
            return Ok(false);
        }
        let l = &s.location;
        let workplace = match s.workplace {
            Workplace::Onsite => "On-site",
            Workplace::Hybrid => "Hybrid",
            Workplace::Remote => "Remote",
        };
        let level = s
            .experience_level
            .map(|e| match e {
                ExperienceLevel::Entry => "ENTRY_LEVEL",
                ExperienceLevel::Associate => "ASSOCIATE",
                ExperienceLevel::MidSenior => "MID_SENIOR_LEVEL",
                ExperienceLevel::Director => "DIRECTOR",
                ExperienceLevel::Executive => "EXECUTIVE",
                ExperienceLevel::Internship => "INTERNSHIP",
            })
            .unwrap_or("");
        let jobtype = match s.employment_type {
            EmploymentType::FullTime => "FULL_TIME",
            EmploymentType::PartTime => "PART_TIME",
            EmploymentType::Contract => "CONTRACT",
            EmploymentType::Temporary => "TEMPORARY",
            EmploymentType::Internship => "INTERNSHIP",
            EmploymentType::Volunteer => "VOLUNTEER",
            EmploymentType::PerDiem => "OTHER",
        };
        let url = tracked_url(job, p.careers_url, Board::Linkedin);
        let location = format!("{}, {}, {}", l.city, l.region, l.country.0);
        let w = &mut self.w;
        w.create_element("job").write_inner_content(|w| {
            cdata(w, "partnerJobId", &job.id.to_string())?;
            cdata(w, "company", p.company)?;
            cdata(w, "companyId", company_id)?;
            cdata(w, "title", &s.title)?;
            cdata(w, "description", &s.description_html)?;
            cdata(w, "applyUrl", &url)?;
            cdata(w, "location", &location)?;
            cdata(w, "city", &l.city)?;
            cdata(w, "state", &l.region)?;
            cdata(w, "country", &l.country.0)?;
            cdata(w, "postalCode", l.postal_code.as_deref().unwrap_or(""))?;
            cdata(w, "workplaceTypes", workplace)?;
            cdata(w, "experienceLevel", level)?;
            cdata(w, "jobtype", jobtype)?;
            w.create_element("salaries").write_inner_content(|w| {
                if let Some(sal) = &s.salary {
                    let period = match sal.period {
                        SalaryPeriod::Hour => "HOURLY",
                        SalaryPeriod::Day => "DAILY",
                        SalaryPeriod::Week => "WEEKLY",
                        SalaryPeriod::Month => "MONTHLY",
                        SalaryPeriod::Year => "YEARLY",
                    };
                    w.create_element("salary").write_inner_content(|w| {
                        for (name, amount) in [("highEnd", sal.max), ("lowEnd", sal.min)] {
                            w.create_element(name).write_inner_content(|w| {
                                text(w, "amount", &money(amount))?;
                                text(w, "currencyCode", &sal.currency.0)
                            })?;
                        }
                        text(w, "period", period)?;
                        text(w, "type", "BASE_SALARY")
                    })?;
                }
                Ok(())
            })?;
            cdata(w, "listDate", &job.published_at.map(crate::clock::rfc3339).unwrap_or_default())?;
            cdata(w, "expirationDate", &s.expires_at.map(crate::clock::rfc3339).unwrap_or_default())?;
            cdata(w, "posterEmail", p.email)
        })?;
        Ok(true)
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_event(Event::End(quick_xml::events::BytesEnd::new("source")))?;
        Ok(self.w.into_inner())
    }

    pub fn buffer(&mut self) -> &mut W {
        self.w.get_mut()
    }
}

/// The JSON feed: a JSON array of schema.org JobPostings, streamed.
pub struct JsonLdFeed<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> JsonLdFeed<W> {
    pub fn start(mut out: W) -> io::Result<Self> {
        out.write_all(b"[")?;
        Ok(Self { out, first: true })
    }

    pub fn job(&mut self, job: &Job, p: &Publisher) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",\n")?;
        }
        self.first = false;
        let posting = job_posting(job, p.company, p.careers_url, &tracked_url(job, p.careers_url, Board::Google));
        serde_json::to_writer(&mut self.out, &posting)?;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"]\n")?;
        Ok(self.out)
    }

    pub fn buffer(&mut self) -> &mut W {
        &mut self.out
    }
}

#[cfg(test)]
mod feed_tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::ids::JobId;
    use crate::job::JobSpec;
    use proptest::prelude::*;
    use quick_xml::events::Event as Ev;
    use quick_xml::Reader;

    fn publisher() -> Publisher<'static> {
        Publisher {
            company: "Acme & Sons <Health>",
            careers_url: "https://careers.acme.example",
            email: "jobs@acme.example",
        }
    }

    fn job(title: &str, description: &str) -> Job {
        let spec = JobSpec {
            title: title.to_string(),
            department: "Nursing".into(),
            location: crate::job::Location {
                city: "Leeds".into(),
                region: "West Yorkshire".into(),
                country: crate::job::Country("GB".into()),
                postal_code: None,
                street_address: None,
            },
            workplace: Workplace::Hybrid,
            employment_type: EmploymentType::FullTime,
            experience_level: None,
            salary: Some(crate::job::Salary {
                min: 50000.0,
                max: 60000.0,
                currency: crate::job::Currency("USD".into()),
                period: SalaryPeriod::Year,
            }),
            description_html: description.to_string(),
            required_credentials: vec![],
            hiring_team: vec![],
            stages: crate::stage::default_stages(),
            expires_at: None,
            boards: Board::ALL.to_vec(),
            asks_demographics: false,
        };
        let at = DateTime::parse_from_rfc3339("2026-11-01T09:00:00Z").unwrap().with_timezone(&Utc);
        Job::new(JobId::new(&SystemClock), spec, at).publish(at).unwrap()
    }

    /// Every element's text, in order, as a parser reads it back.
    fn texts(xml: &[u8], element: &str) -> Vec<String> {
        let mut r = Reader::from_reader(xml);
        let mut out = Vec::new();
        let mut inside = false;
        let mut current = String::new();
        let mut buf = Vec::new();
        loop {
            match r.read_event_into(&mut buf).expect("well-formed XML") {
                Ev::Start(e) if e.name().as_ref() == element => {
                    inside = true;
                    current.clear();
                }
                Ev::End(e) if e.name().as_ref() == element => {
                    inside = false;
                    out.push(current.clone());
                }
                Ev::CData(t) if inside => current.push_str(&t.into_inner()),
                Ev::Text(t) if inside => current.push_str(&t.into_inner()),
                Ev::GeneralRef(r) if inside => {
                    let name = r.into_inner().into_owned();
                    current.push_str(match name.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        other => panic!("unexpected entity {other}"),
                    });
                }
                Ev::Eof => return out,
                _ => {}
            }
            buf.clear();
        }
    }

    fn indeed(jobs: &[Job]) -> Vec<u8> {
        let built = DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").unwrap().with_timezone(&Utc);
        let mut f = IndeedFeed::start(Vec::new(), &publisher(), built).unwrap();
        for j in jobs {
            f.job(j, &publisher()).unwrap();
        }
        f.finish().unwrap()
    }

    #[test]
    fn indeed_snapshot_of_one_job() {
        let j = job("Nurse", "<p>Care</p>");
        let xml = String::from_utf8(indeed(&[j.clone()])).unwrap();
        let id = j.id.to_string();
        let expected = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><source><publisher><![CDATA[Acme & Sons <Health>]]></publisher>\
<publisherurl><![CDATA[https://careers.acme.example]]></publisherurl><lastBuildDate><![CDATA[Thu, 26 Nov 2026 12:00:00 GMT]]></lastBuildDate>\
<job><title><![CDATA[Nurse]]></title><date><![CDATA[Sun, 01 Nov 2026 09:00:00 GMT]]></date><referencenumber><![CDATA[{id}]]></referencenumber>\
<requisitionid><![CDATA[{id}]]></requisitionid><url><![CDATA[https://careers.acme.example/jobs/{id}?utm_source=indeed&utm_medium=job_board]]></url>\
<company><![CDATA[Acme & Sons <Health>]]></company><sourcename><![CDATA[Acme & Sons <Health>]]></sourcename><city><![CDATA[Leeds]]></city>\
<state><![CDATA[West Yorkshire]]></state><country><![CDATA[GB]]></country><postalcode><![CDATA[]]></postalcode><streetaddress><![CDATA[]]></streetaddress>\
<email><![CDATA[jobs@acme.example]]></email><description><![CDATA[<p>Care</p>]]></description><salary><![CDATA[$50000 - $60000 per year]]></salary>\
<education><![CDATA[]]></education><jobtype><![CDATA[fulltime]]></jobtype><experience><![CDATA[]]></experience><expirationdate><![CDATA[]]></expirationdate>\
<category><![CDATA[Nursing]]></category><remotetype><![CDATA[Hybrid remote]]></remotetype></job></source>"
        );
        assert_eq!(xml, expected);
    }

    #[test]
    fn linkedin_snapshot_of_one_job() {
        let j = job("Nurse", &format!("<p>{}</p>", "a".repeat(100)));
        let built = DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").unwrap().with_timezone(&Utc);
        let mut f = LinkedInFeed::start(Vec::new(), built).unwrap();
        assert!(f.job(&j, &publisher(), "42").unwrap());
        let xml = String::from_utf8(f.finish().unwrap()).unwrap();
        let id = j.id.to_string();
        let a = "a".repeat(100);
        let expected = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><source><lastBuildDate><![CDATA[Thu, 26 Nov 2026 12:00:00 GMT]]></lastBuildDate>\
<job><partnerJobId><![CDATA[{id}]]></partnerJobId><company><![CDATA[Acme & Sons <Health>]]></company><companyId><![CDATA[42]]></companyId>\
<title><![CDATA[Nurse]]></title><description><![CDATA[<p>{a}</p>]]></description>\
<applyUrl><![CDATA[https://careers.acme.example/jobs/{id}?utm_source=linkedin&utm_medium=job_board]]></applyUrl>\
<location><![CDATA[Leeds, West Yorkshire, GB]]></location><city><![CDATA[Leeds]]></city><state><![CDATA[West Yorkshire]]></state>\
<country><![CDATA[GB]]></country><postalCode><![CDATA[]]></postalCode><workplaceTypes><![CDATA[Hybrid]]></workplaceTypes>\
<experienceLevel><![CDATA[]]></experienceLevel><jobtype><![CDATA[FULL_TIME]]></jobtype><salaries><salary><highEnd><amount>60000</amount>\
<currencyCode>USD</currencyCode></highEnd><lowEnd><amount>50000</amount><currencyCode>USD</currencyCode></lowEnd><period>YEARLY</period>\
<type>BASE_SALARY</type></salary></salaries><listDate><![CDATA[2026-11-01T09:00:00.000Z]]></listDate><expirationDate><![CDATA[]]></expirationDate>\
<posterEmail><![CDATA[jobs@acme.example]]></posterEmail></job></source>"
        );
        assert_eq!(xml, expected);
    }

    #[test]
    fn json_snapshot_of_one_job() {
        let j = job("Nurse", "<p>Care</p>");
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
    fn linkedin_requires_a_long_description_and_writes_salaries() {
        let long = format!("<p>{}</p>", "Care for patients on a busy ward. ".repeat(4));
        let mut f = LinkedInFeed::start(Vec::new(), Utc::now()).unwrap();
        assert!(!f.job(&job("Short", "<p>Too short</p>"), &publisher(), "").unwrap());
        assert!(f.job(&job("Nurse", &long), &publisher(), "1234").unwrap());
        let xml = f.finish().unwrap();
        assert_eq!(texts(&xml, "title"), vec!["Nurse"]);
        assert_eq!(texts(&xml, "workplaceTypes"), vec!["Hybrid"]);
        assert_eq!(texts(&xml, "period"), vec!["YEARLY"]);
        assert_eq!(texts(&xml, "amount"), vec!["60000", "50000"]);
        assert!(texts(&xml, "applyUrl")[0].ends_with("utm_source=linkedin&utm_medium=job_board"));
    }

    #[test]
    fn json_feed_is_a_json_array_of_postings() {
        let mut f = JsonLdFeed::start(Vec::new()).unwrap();
        f.job(&job("A", "<p>a</p>"), &publisher()).unwrap();
        f.job(&job("B", "<p>b</p>"), &publisher()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&f.finish().unwrap()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert!(v[1]["url"].as_str().unwrap().ends_with("utm_source=google&utm_medium=job_board"));
    }

    proptest! {
        /// Any text yields well-formed XML that reads back as the same text, less what XML 1.0 forbids.
        #[test]
        fn any_text_round_trips_through_the_xml_feeds(title in "\\PC*|.*", description in ".*", tricky in prop::sample::select(vec!["]]>", "&amp;", "<![CDATA[", "\u{202E}", "😀", "\u{0}", "\u{1b}[31m", "\u{FFFF}"])) {
            let title = format!("{title}{tricky}]]>");
            let description = format!("{tricky}{description}]]]]>>");
            let j = job(&title, &description);
            let xml = indeed(&[j.clone()]);
            prop_assert_eq!(texts(&xml, "title"), vec![xml_safe(&title)]);
            prop_assert_eq!(texts(&xml, "description"), vec![xml_safe(&description)]);
            let mut f = LinkedInFeed::start(Vec::new(), Utc::now()).unwrap();
            let long = format!("{description}{}", "x".repeat(120));
            f.job(&job(&title, &long), &publisher(), "").unwrap();
            let xml = f.finish().unwrap();
            prop_assert_eq!(texts(&xml, "title"), vec![xml_safe(&title)]);
        }
    }
}
