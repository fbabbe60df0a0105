//! LinkedIn's Limited Listings XML feed.
use super::{cdata, end_source, money, rfc2822, start_source, text, tracked_url, Publisher};
use crate::job::{Board, EmploymentType, ExperienceLevel, Job, SalaryPeriod, Workplace};
use chrono::{DateTime, Utc};
use quick_xml::Writer;
use std::io;

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
pub struct LinkedInFeed {
    w: Writer<Vec<u8>>,
}

impl LinkedInFeed {
    pub fn start(out: Vec<u8>, built_at: DateTime<Utc>) -> io::Result<Self> {
        let mut w = start_source(out)?;
        cdata(&mut w, "lastBuildDate", &rfc2822(built_at))?;
        Ok(Self { w })
    }

    /// Writes the job, or leaves it out (`Ok(false)`) when LinkedIn would refuse it.
    /// Never inlined: see the module's note on where the writers are compiled.
    #[inline(never)]
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

    pub fn finish(self) -> io::Result<Vec<u8>> {
        end_source(self.w)
    }

    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.w.get_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

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
}
