//! Files people upload from the career site. The browser PUTs straight to S3 through a presigned URL
//! (Lambda and API Gateway cannot carry large bodies); when an application references the upload, its
//! size and its first bytes are checked, since the declared type is only the client's word.
use crate::parse::Fields;
use crate::parse::{FromField, Line};
use serde_json::Value;

crate::choice!(FileType {
    Pdf = "application/pdf",
    Docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Txt = "text/plain",
    Rtf = "application/rtf",
});

pub const MAX_RESUME_BYTES: u64 = 10 * 1024 * 1024;
/// Uploads live under this prefix until an application takes them; a lifecycle rule expires the rest.
pub const UPLOADS_PREFIX: &str = "uploads/";

impl FileType {
    pub fn extension(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Docx => "docx",
            FileType::Txt => "txt",
            FileType::Rtf => "rtf",
        }
    }

    pub fn from_extension(ext: &str) -> Option<FileType> {
        FileType::ALL.iter().copied().find(|t| t.extension() == ext)
    }

    /// Does the file start the way this type must?
    pub fn sniff(self, head: &[u8]) -> bool {
        match self {
            FileType::Pdf => head.starts_with(b"%PDF-"),
            FileType::Docx => head.starts_with(b"PK\x03\x04"),
            FileType::Rtf => head.starts_with(b"{\\rtf"),
            // Plain text: no NUL bytes and valid UTF-8 (a cut multi-byte character at the end is fine).
            FileType::Txt => {
                !head.contains(&0)
                    && match std::str::from_utf8(head) {
                        Ok(_) => true,
                        Err(e) => e.error_len().is_none(),
                    }
            }
        }
    }
}

/// `POST /careers/uploads {content_type, size, purpose}`.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRequest {
    pub file_type: FileType,
    pub size: u64,
}

impl UploadRequest {
    pub fn parse(body: Value) -> Result<Self, crate::Invalid> {
        Fields::parse(body, |f| {
            let content_type: Option<Line<1, 200>> = f.req("content_type");
            let size: Option<u64> = f.req("size");
            let purpose: Option<Line<1, 20>> = f.req("purpose");
            if purpose.as_ref().is_some_and(|p| p.0 != "resume") {
                f.error("purpose", "must be resume");
            }
            let file_type = content_type.and_then(|ct| {
                let essence = ct.0.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                let t = if essence == "text/rtf" {
                    Some(FileType::Rtf)
                } else {
                    FileType::from_field(&Value::String(essence)).ok()
                };
                if t.is_none() {
                    f.error("content_type", "must be a PDF, Word (.docx), plain text or RTF file");
                }
                t
            });
            if let Some(size) = size {
                if size == 0 || size > MAX_RESUME_BYTES {
                    f.error("size", format!("must be from 1 to {MAX_RESUME_BYTES} bytes"));
                    return None;
                }
            }
            purpose?;
            Some(UploadRequest { file_type: file_type?, size: size? })
        })
    }
}

/// A key this API handed out: `uploads/<ulid>.<ext>`. Anything else is refused, so a form cannot
/// point an application at another object in the bucket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct UploadKey(pub String);

impl UploadKey {
    pub fn new(id: ulid::Ulid, t: FileType) -> Self {
        UploadKey(format!("{UPLOADS_PREFIX}{id}.{}", t.extension()))
    }

    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_extension(self.0.rsplit_once('.')?.1)
    }
}

impl FromField for UploadKey {
    fn from_field(v: &Value) -> Result<Self, String> {
        let bad = || "must be a key returned by POST /careers/uploads".to_string();
        let s = v.as_str().ok_or_else(bad)?;
        let rest = s.strip_prefix(UPLOADS_PREFIX).ok_or_else(bad)?;
        let (id, ext) = rest.split_once('.').ok_or_else(bad)?;
        ulid::Ulid::from_string(id).map_err(|_| bad())?;
        FileType::from_extension(ext).ok_or_else(bad)?;
        Ok(UploadKey(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upload_requests() {
        let ok = UploadRequest::parse(json!({"content_type": "application/pdf", "size": 1000, "purpose": "resume"}))
            .unwrap();
        assert_eq!(ok.file_type, FileType::Pdf);
        assert!(
            UploadRequest::parse(json!({"content_type": "image/svg+xml", "size": 1000, "purpose": "resume"})).is_err()
        );
        assert!(UploadRequest::parse(
            json!({"content_type": "application/pdf", "size": 20_000_000, "purpose": "resume"})
        )
        .is_err());
        assert!(
            UploadRequest::parse(json!({"content_type": "application/pdf", "size": 10, "purpose": "avatar"})).is_err()
        );
    }

    #[test]
    fn only_keys_we_handed_out_are_accepted() {
        let key = UploadKey::new(ulid::Ulid::generate(), FileType::Docx);
        assert_eq!(UploadKey::from_field(&json!(key.0)).unwrap(), key);
        for bad in [
            "resumes/01ARZ3NDEKTSV4RRFFQ69G5FAV.pdf",
            "uploads/../secrets.pdf",
            "uploads/01ARZ3NDEKTSV4RRFFQ69G5FAV.exe",
            "uploads/x.pdf",
        ] {
            assert!(UploadKey::from_field(&json!(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn sniffing() {
        assert!(FileType::Pdf.sniff(b"%PDF-1.7\n"));
        assert!(!FileType::Pdf.sniff(b"<html>"));
        assert!(FileType::Docx.sniff(b"PK\x03\x04rest"));
        assert!(FileType::Rtf.sniff(b"{\\rtf1\\ansi"));
        assert!(FileType::Txt.sniff("Ada Lovelace, é".as_bytes()));
        assert!(FileType::Txt.sniff(&"é".as_bytes()[..1]));
        assert!(!FileType::Txt.sniff(b"MZ\x90\x00\x03"));
    }
}
