//! The import of prior applicants from a CSV: its columns, its rows (with an error per line it
//! cannot take) and how a row merges into the person's record without overwriting their choices.
use super::{normalise_tags, Interests, Origin, Prospect, ProspectStatus};
use crate::application::Credential;
use crate::email::{Email, EmailHash};
use crate::error::Invalid;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prospect::tests::hash;

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
    fn a_crlf_file_reports_its_own_line_numbers() {
        let csv = "email,first_name,notes\r\nnot-an-email,A,x\r\nok@example.com,B,\"n1\r\nn2\"\r\nbad2,D,y\r\n";
        let (rows, errors) = parse_import(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].first_name.as_deref(), Some("B"));
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 5]);
    }
}
