//! Indeed's XML feed.
use super::{cdata, end_source, money, rfc2822, start_source, tracked_url, Publisher};
use crate::job::{Board, EmploymentType, Job, Workplace};
use chrono::{DateTime, Utc};
use quick_xml::Writer;
use std::io;

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
pub struct IndeedFeed {
    w: Writer<Vec<u8>>,
}

impl IndeedFeed {
    pub fn start(out: Vec<u8>, p: &Publisher, built_at: DateTime<Utc>) -> io::Result<Self> {
        let mut w = start_source(out)?;
        cdata(&mut w, "publisher", p.company)?;
        cdata(&mut w, "publisherurl", p.careers_url)?;
        cdata(&mut w, "lastBuildDate", &rfc2822(built_at))?;
        Ok(Self { w })
    }

    /// Every element is present for every job, blank where unknown.
    /// Never inlined: see the module's note on where the writers are compiled.
    #[inline(never)]
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

    pub fn finish(self) -> io::Result<Vec<u8>> {
        end_source(self.w)
    }

    /// What has been written so far, for a caller that ships it in parts.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.w.get_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;

    #[test]
    fn indeed_snapshot_of_one_job() {
        let j = job("Nurse", "<p>Care</p>");
        let xml = String::from_utf8(indeed(std::slice::from_ref(&j))).unwrap();
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
}
