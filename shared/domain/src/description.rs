//! An uploaded job-description file: what type its bytes are, whether they are what the upload
//! declared, and the sanitised HTML a Markdown or HTML file becomes. Every check is made before
//! anything is stored, so a refused upload changes nothing.
use crate::job::{DescriptionFile, DescriptionType, MAX_DESCRIPTION, MAX_DESCRIPTION_FILE};
use chrono::{DateTime, Utc};

/// Why an upload is refused, in the order the checks are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The declared type is none of the four a description may be.
    UnsupportedType,
    Empty,
    /// Over [`MAX_DESCRIPTION_FILE`] bytes.
    TooLarge,
    /// The first bytes are not those of the declared type (its essence, e.g. `application/pdf`).
    NotDeclaredType(String),
    /// Markdown or HTML with nothing left once unsafe HTML is removed.
    NoContent,
    /// The HTML it makes is over [`MAX_DESCRIPTION`] bytes.
    HtmlTooLarge,
}

/// An upload that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub kind: DescriptionType,
    /// The job's new `description_html`, for Markdown and HTML; PDF and Word are kept as files only.
    pub html: Option<String>,
}

/// The media type's essence: `Text/HTML; charset=utf-8` is `text/html`.
pub fn essence(content_type: Option<&str>) -> String {
    content_type.and_then(|v| v.split(';').next()).map(|v| v.trim().to_ascii_lowercase()).unwrap_or_default()
}

/// Checks `bytes` uploaded as `content_type` (the header as sent, if any).
pub fn check(content_type: Option<&str>, bytes: &[u8]) -> Result<Checked, Refused> {
    let essence = essence(content_type);
    let kind: DescriptionType = essence.parse().map_err(|_| Refused::UnsupportedType)?;
    if bytes.is_empty() {
        return Err(Refused::Empty);
    }
    if bytes.len() > MAX_DESCRIPTION_FILE {
        return Err(Refused::TooLarge);
    }
    if !kind.matches(bytes) {
        return Err(Refused::NotDeclaredType(essence));
    }
    let html = match kind.to_html(bytes) {
        Some(html) => Some(html),
        None if matches!(kind, DescriptionType::Markdown | DescriptionType::Html) => return Err(Refused::NoContent),
        None => None,
    };
    // Bytes, not characters: the description lives in the job's item, which DynamoDB caps at 400 KB.
    if html.as_ref().is_some_and(|h| h.len() > MAX_DESCRIPTION) {
        return Err(Refused::HtmlTooLarge);
    }
    Ok(Checked { kind, html })
}

impl DescriptionFile {
    /// The record of `bytes` kept as a `kind` file at `now`; the file is stored under its hash.
    pub fn of(kind: DescriptionType, bytes: &[u8], now: DateTime<Utc>) -> Self {
        use sha2::Digest;
        DescriptionFile {
            content_type: kind,
            size: bytes.len() as u64,
            sha256: format!("{:x}", sha2::Sha256::digest(bytes)),
            uploaded_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_in_order() {
        assert_eq!(essence(Some(" Text/HTML ; charset=utf-8")), "text/html");
        assert_eq!(check(None, b"x"), Err(Refused::UnsupportedType));
        assert_eq!(check(Some("image/png"), b"x"), Err(Refused::UnsupportedType));
        assert_eq!(check(Some("application/pdf"), b""), Err(Refused::Empty));
        let big = vec![b'a'; MAX_DESCRIPTION_FILE + 1];
        assert_eq!(check(Some("text/markdown"), &big), Err(Refused::TooLarge));
        assert_eq!(check(Some("application/pdf"), b"MZ"), Err(Refused::NotDeclaredType("application/pdf".into())));
        assert_eq!(check(Some("text/html"), b"<script>x</script>"), Err(Refused::NoContent));
        let long = "a".repeat(MAX_DESCRIPTION + 1);
        assert_eq!(check(Some("text/markdown"), long.as_bytes()), Err(Refused::HtmlTooLarge));
        let pdf = check(Some("application/pdf"), b"%PDF-1.7").unwrap();
        assert_eq!((pdf.kind, pdf.html), (DescriptionType::Pdf, None));
        let md = check(Some("text/markdown; charset=utf-8"), b"# Nurse").unwrap();
        assert_eq!(md.html.as_deref(), Some("<h1>Nurse</h1>\n"));
    }

    #[test]
    fn a_file_is_named_by_its_hash() {
        let f = DescriptionFile::of(DescriptionType::Markdown, b"abc", chrono::Utc::now());
        assert_eq!(f.size, 3);
        assert_eq!(f.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
