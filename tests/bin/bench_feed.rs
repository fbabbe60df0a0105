//! `make bench`'s feed figure, run by the bench as a release binary (the functions' profile: the
//! bench example itself is a debug build, where a CPU ratio would say little): 10,000 open jobs
//! rendered into Indeed's XML feed by the product's writer, as the feeds task drives it (pages of 100,
//! the buffer handed off at each part's size), and by a raw quick-xml writer that writes the same
//! elements with nothing else, interleaved, after one round each to warm up. Both must write the same
//! bytes. Prints JSON: each run's milliseconds for each.
use chrono::{DateTime, Utc};
use quick_xml::events::{BytesCData, BytesDecl, BytesEnd, BytesStart, Event};
use quick_xml::Writer;
use rapport_domain::clock::SystemClock;
use rapport_domain::feed::{IndeedFeed, Publisher};
use rapport_domain::ids::JobId;
use rapport_domain::job::{EmploymentType, Job, JobSpec, Workplace};
use serde_json::json;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io;
use std::time::Instant;

const JOBS: usize = 10_000;
const RUNS: usize = 21;
/// What the feeds task reads a query at a time and hands to the bucket a part at a time.
const PAGE: usize = 100;
const PART_SIZE: usize = 5 * 1024 * 1024;

fn main() -> io::Result<()> {
    let built = DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").expect("a date").with_timezone(&Utc);
    let p = Publisher {
        company: "Northside Health & Care",
        careers_url: "https://careers.northside.example",
        email: "jobs@northside.example",
    };
    let jobs = jobs(built);
    let (mut product_parts, mut raw_parts) = (Vec::new(), Vec::new());
    product(&jobs, &p, built, &mut |part| product_parts.extend_from_slice(&part))?;
    raw(&jobs, &p, built, &mut |part| raw_parts.extend_from_slice(&part))?;
    // The same bytes, or the figure compares two different feeds.
    let identical = product_parts == raw_parts;
    let bytes = product_parts.len();
    drop((product_parts, raw_parts));
    let (mut product_ms, mut raw_ms) = (Vec::new(), Vec::new());
    for round in 0..=RUNS {
        let mut sink = |part: Vec<u8>| {
            black_box(part);
        };
        // The order turns each round, so drift on the machine falls on both alike.
        for which in [round % 2, 1 - round % 2] {
            let start = Instant::now();
            if which == 0 {
                product(&jobs, &p, built, &mut sink)?;
            } else {
                raw(&jobs, &p, built, &mut sink)?;
            }
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            if round > 0 {
                if which == 0 { &mut product_ms } else { &mut raw_ms }.push(ms);
            }
        }
    }
    let out = json!({"jobs": JOBS, "runs": RUNS, "bytes": bytes, "identical": identical,
                     "product_ms": product_ms, "raw_ms": raw_ms});
    println!("{out}");
    Ok(())
}

/// Open jobs as recruiters write them: a few titles, places, contracts and pay, a description of a
/// few paragraphs and a list (sanitised on the way in, as every job is).
fn jobs(now: DateTime<Utc>) -> Vec<Job> {
    let titles =
        ["Registered Nurse", "Healthcare Assistant", "Theatre Practitioner", "Staff Pharmacist", "Data Analyst"];
    let places = [
        ("Leeds", "West Yorkshire", "GB", "GBP"),
        ("Austin", "TX", "US", "USD"),
        ("Lyon", "Auvergne-Rhône-Alpes", "FR", "EUR"),
    ];
    let types = ["full_time", "part_time", "contract", "per_diem"];
    let workplaces = ["onsite", "hybrid", "remote"];
    (0..JOBS)
        .map(|i| {
            let (city, region, country, currency) = places[i % places.len()];
            let mut body = json!({
                "title": format!("{} {}", titles[i % titles.len()], i / titles.len()),
                "department": if i % 3 == 0 { "Pharmacy & Labs" } else { "Nursing" },
                "location": {"city": city, "region": region, "country": country},
                "workplace": workplaces[i % workplaces.len()], "employment_type": types[i % types.len()],
                "description_html": format!(
                    "<h2>About the role</h2><p>{}</p><ul><li>Rotas agreed 6 weeks ahead</li><li>Paid CPD &amp; \
                     revalidation</li><li>Pension, 27 days' leave</li></ul><p>{}</p>",
                    "Care for patients on a busy ward, with a team that has your back. ".repeat(12 + i % 5),
                    "Questions? Ask Sam, the ward manager, on 0113 496 0000."),
            });
            if i % 3 != 2 {
                body["salary"] = json!({"min": 30000 + (i % 7) * 1000, "max": 38000 + (i % 7) * 1000,
                                        "currency": currency, "period": "year"});
            }
            if i % 4 == 0 {
                body["experience_level"] = json!("mid_senior");
                body["location"]["postal_code"] = json!("LS1 4AP");
            }
            let spec = JobSpec::parse(body).expect("a valid job");
            Job::new(JobId::new(&SystemClock), spec, now).publish(now).expect("a draft publishes")
        })
        .collect()
}

/// The product's writer, as the feeds task drives it.
fn product(jobs: &[Job], p: &Publisher, built: DateTime<Utc>, ship: &mut dyn FnMut(Vec<u8>)) -> io::Result<()> {
    let mut feed = IndeedFeed::start(Vec::new(), p, built)?;
    for page in jobs.chunks(PAGE) {
        for job in page {
            feed.job(job, p)?;
        }
        if feed.buffer().len() >= PART_SIZE {
            ship(std::mem::take(feed.buffer()));
        }
    }
    ship(feed.finish()?);
    Ok(())
}

/// The floor: quick-xml's writer given each element's text, with scratch strings reused.
fn raw(jobs: &[Job], p: &Publisher, built: DateTime<Utc>, ship: &mut dyn FnMut(Vec<u8>)) -> io::Result<()> {
    let mut w = Writer::new(Vec::new());
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.write_event(Event::Start(BytesStart::new("source")))?;
    let rfc2822 = "%a, %d %b %Y %H:%M:%S GMT";
    let mut s = String::new();
    element(&mut w, "publisher", p.company)?;
    element(&mut w, "publisherurl", p.careers_url)?;
    write!(s, "{}", built.format(rfc2822)).ok();
    element(&mut w, "lastBuildDate", &s)?;
    let (mut id, mut url, mut date, mut expiry, mut salary) =
        (String::new(), String::new(), String::new(), String::new(), String::new());
    for page in jobs.chunks(PAGE) {
        for job in page {
            let (j, l) = (&job.spec, &job.spec.location);
            id.clear();
            write!(id, "{}", job.id).ok();
            url.clear();
            write!(url, "{}/jobs/{id}?utm_source=indeed&utm_medium=job_board", p.careers_url).ok();
            date.clear();
            if let Some(t) = job.published_at {
                write!(date, "{}", t.format(rfc2822)).ok();
            }
            expiry.clear();
            if let Some(t) = j.expires_at {
                write!(expiry, "{}", t.format(rfc2822)).ok();
            }
            salary.clear();
            if let Some(pay) = &j.salary {
                let sym = match pay.currency.0.as_str() {
                    "USD" => "$",
                    "GBP" => "£",
                    "EUR" => "€",
                    _ => "",
                };
                write!(salary, "{sym}{:.0} - {sym}{:.0} per {}", pay.min, pay.max, pay.period).ok();
            }
            s.clear();
            if let Some(e) = j.experience_level {
                s.extend(e.as_str().chars().map(|c| if c == '_' { ' ' } else { c }));
            }
            let jobtype = match j.employment_type {
                EmploymentType::FullTime => "fulltime",
                EmploymentType::PartTime => "parttime",
                EmploymentType::Contract => "contract",
                EmploymentType::Temporary => "temporary",
                EmploymentType::Internship => "internship",
                EmploymentType::Volunteer => "volunteer",
                EmploymentType::PerDiem => "perdiem",
            };
            let remote = match j.workplace {
                Workplace::Remote => "Fully remote",
                Workplace::Hybrid => "Hybrid remote",
                Workplace::Onsite => "",
            };
            w.write_event(Event::Start(BytesStart::new("job")))?;
            for (name, text) in [
                ("title", j.title.as_str()),
                ("date", &date),
                ("referencenumber", &id),
                ("requisitionid", &id),
                ("url", &url),
                ("company", p.company),
                ("sourcename", p.company),
                ("city", &l.city),
                ("state", &l.region),
                ("country", &l.country.0),
                ("postalcode", l.postal_code.as_deref().unwrap_or("")),
                ("streetaddress", l.street_address.as_deref().unwrap_or("")),
                ("email", p.email),
                ("description", &j.description_html),
                ("salary", &salary),
                ("education", ""),
                ("jobtype", jobtype),
                ("experience", &s),
                ("expirationdate", &expiry),
                ("category", &j.department),
                ("remotetype", remote),
            ] {
                element(&mut w, name, text)?;
            }
            w.write_event(Event::End(BytesEnd::new("job")))?;
        }
        if w.get_ref().len() >= PART_SIZE {
            ship(std::mem::take(w.get_mut()));
        }
    }
    w.write_event(Event::End(BytesEnd::new("source")))?;
    ship(w.into_inner());
    Ok(())
}

fn element(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::CData(BytesCData::new(text)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}
