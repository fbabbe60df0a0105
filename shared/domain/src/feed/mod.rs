//! What job boards and search engines read about a job: one writer a board, each streaming its feed
//! job by job so memory does not grow with the number of jobs. [`google`]: the schema.org JobPosting
//! (JSON-LD) that Google for Jobs reads from the career page and the JSON feed; [`indeed`] and
//! [`linkedin`]: their XML feeds. Here: what the writers share (the publisher, tracking links, XML
//! text that survives any input).
//!
//! The writers write into memory (a `Vec<u8>`, which the feeds task ships in parts) and are not
//! generic, so they are compiled once, here (at opt-level 3 before the link), not in each crate that
//! uses them; a job's writing is never inlined into a caller. What is fast in them does not count on
//! the compiler vectorizing loops: the functions' binaries are optimized for size, and with LTO that
//! is the level the whole program is finished at.
use crate::job::{Board, Job};
use chrono::{DateTime, Utc};
use quick_xml::events::{BytesCData, BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use std::io::{self, Write};

pub mod google;
pub mod indeed;
pub mod linkedin;

pub use google::{job_posting, script_safe_json, JsonLdFeed};
pub use indeed::{salary_text, IndeedFeed};
pub use linkedin::{html_text, LinkedInFeed, LINKEDIN_MIN_DESCRIPTION};

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

/// The feeds the boards fetch, one file each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFile {
    Indeed,
    Linkedin,
    JobsJson,
}

impl FeedFile {
    pub const ALL: [FeedFile; 3] = [FeedFile::Indeed, FeedFile::Linkedin, FeedFile::JobsJson];

    /// The name a build records the feed's hash under and reports it by.
    pub fn name(self) -> &'static str {
        match self {
            FeedFile::Indeed => "indeed",
            FeedFile::Linkedin => "linkedin",
            FeedFile::JobsJson => "jobs_json",
        }
    }

    /// The file's name, as the boards fetch it (`/feeds/<name>`).
    pub fn file_name(self) -> &'static str {
        match self {
            FeedFile::Indeed => "indeed.xml",
            FeedFile::Linkedin => "linkedin.xml",
            FeedFile::JobsJson => "jobs.json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FeedFile::Indeed | FeedFile::Linkedin => "application/xml; charset=utf-8",
            FeedFile::JobsJson => "application/ld+json; charset=utf-8",
        }
    }
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

/// An XML feed's opening: the declaration and `<source>`.
fn start_source<W: Write>(out: W) -> io::Result<Writer<W>> {
    let mut w = Writer::new(out);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.write_event(Event::Start(BytesStart::new("source")))?;
    Ok(w)
}

/// Closes `<source>` and hands back what was written to.
fn end_source<W: Write>(mut w: Writer<W>) -> io::Result<W> {
    w.write_event(Event::End(BytesEnd::new("source")))?;
    Ok(w.into_inner())
}

/// True when `s` goes into one CDATA section as it is: nothing [`xml_safe`] removes, no `]]>`.
fn cdata_as_is(s: &str) -> bool {
    // What almost no text holds: a C0 control (one byte in UTF-8), 0xEF (which U+FFFE and U+FFFF
    // start with) or `]`. Looked for eight bytes at a time with integer arithmetic, which is fast
    // whatever the optimization level (the functions' binaries are optimized for size, which turns
    // the compiler's own vectorization off), then byte by byte in a word where one may be.
    let unusual = |c: u8| (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')) || c == 0xEF || c == b']';
    let bytes = s.as_bytes();
    let mut words = bytes.chunks_exact(8);
    let any_unusual = words.by_ref().any(|chunk| {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        maybe_unusual(u64::from_le_bytes(word)) && chunk.iter().any(|&c| unusual(c))
    }) || words.remainder().iter().any(|&c| unusual(c));
    !any_unusual
        || (s.bytes().all(|c| c >= 0x20 || matches!(c, b'\t' | b'\n' | b'\r'))
            && !s.contains("]]>")
            && !s.contains(['\u{FFFE}', '\u{FFFF}']))
}

/// Whether a word may hold a byte below 0x20, 0xEF or `]`: never false when one does (the usual
/// tests for a byte below n and for a zero byte, the latter on the word xor'ed with the byte looked for).
fn maybe_unusual(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGH != 0;
    below(x, 0x20) || below(x ^ (ONES * 0xEF), 1) || below(x ^ (ONES * u64::from(b']')), 1)
}

/// `<name><![CDATA[text]]></name>`; a `]]>` inside is split across two sections.
fn cdata<W: Write>(w: &mut Writer<W>, name: &str, text: &str) -> io::Result<()> {
    if cdata_as_is(text) {
        // Nearly every text: written from where it is, without the copies the general case makes
        // (they were most of a 10,000-job feed's time).
        w.create_element(name).write_cdata_content(BytesCData::new(text))?;
        return Ok(());
    }
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

#[cfg(test)]
mod fixtures {
    //! What the writers' tests share: a publisher, a job, and a reader of the XML they write.
    use super::*;
    use crate::clock::SystemClock;
    use crate::ids::JobId;
    use crate::job::{EmploymentType, JobSpec, SalaryPeriod, Workplace};
    use quick_xml::events::Event as Ev;
    use quick_xml::Reader;

    pub fn publisher() -> Publisher<'static> {
        Publisher {
            company: "Acme & Sons <Health>",
            careers_url: "https://careers.acme.example",
            email: "jobs@acme.example",
        }
    }

    pub fn job(title: &str, description: &str) -> Job {
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
    pub fn texts(xml: &[u8], element: &str) -> Vec<String> {
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

    pub fn indeed(jobs: &[Job]) -> Vec<u8> {
        let built = DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").unwrap().with_timezone(&Utc);
        let mut f = IndeedFeed::start(Vec::new(), &publisher(), built).unwrap();
        for j in jobs {
            f.job(j, &publisher()).unwrap();
        }
        f.finish().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text yields well-formed XML that reads back as the same text, less what XML 1.0 forbids.
        #[test]
        fn any_text_round_trips_through_the_xml_feeds(title in "\\PC*|.*", description in ".*", tricky in prop::sample::select(vec!["]]>", "&amp;", "<![CDATA[", "\u{202E}", "😀", "\u{0}", "\u{1b}[31m", "\u{FFFF}"])) {
            let title = format!("{title}{tricky}]]>");
            let description = format!("{tricky}{description}]]]]>>");
            let j = job(&title, &description);
            let xml = indeed(std::slice::from_ref(&j));
            prop_assert_eq!(texts(&xml, "title"), vec![xml_safe(&title)]);
            prop_assert_eq!(texts(&xml, "description"), vec![xml_safe(&description)]);
            let mut f = LinkedInFeed::start(Vec::new(), Utc::now()).unwrap();
            let long = format!("{description}{}", "x".repeat(120));
            f.job(&job(&title, &long), &publisher(), "").unwrap();
            let xml = f.finish().unwrap();
            prop_assert_eq!(texts(&xml, "title"), vec![xml_safe(&title)]);
        }

        /// The shortcut is taken exactly when the general way would write the text whole, in one section.
        #[test]
        fn a_text_is_written_as_it_is_only_when_nothing_is_removed_or_split(text in "\\PC*|.*", tricky in prop::sample::select(vec!["", "]", "]]", "]]>", "] ]>", "\u{0}", "\t\r\n", "\u{1f}", "\u{7f}", "\u{FFFE}", "\u{FFFF}", "\u{FFFD}", "\u{F8FF}", "😀"])) {
            let text = format!("{text}{tricky}");
            prop_assert_eq!(cdata_as_is(&text), xml_safe(&text) == text && !text.contains("]]>"));
        }
    }
}
