//! Who a campaign is for, and every reason a person is left out, so a preview can say why.
use super::any_match;
use crate::prospect::{Origin, Prospect, ProspectStatus};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Who a campaign is for. Every rule given must hold; an empty rule holds for everyone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    #[serde(default)]
    pub origins: Vec<Origin>,
    /// Credential types the person must all hold, unexpired.
    #[serde(default)]
    pub credentials_all: Vec<String>,
    #[serde(default)]
    pub departments_any: Vec<String>,
    #[serde(default)]
    pub locations_any: Vec<String>,
    #[serde(default)]
    pub tags_any: Vec<String>,
}

/// Why a prospect is left out of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Exclusion {
    /// Only active prospects are mailed (not pending consent, paused, applied, unsubscribed…).
    Status {
        status: ProspectStatus,
    },
    Origin {
        wanted: Vec<Origin>,
    },
    MissingCredential {
        credential: String,
    },
    ExpiredCredential {
        credential: String,
    },
    Department {
        wanted: Vec<String>,
    },
    Location {
        wanted: Vec<String>,
    },
    Tag {
        wanted: Vec<String>,
    },
}

/// Every reason the prospect is outside the segment on `today`; empty means in.
pub fn exclusions(seg: &Segment, p: &Prospect, today: NaiveDate) -> Vec<Exclusion> {
    let mut out = Vec::new();
    if p.status != ProspectStatus::Active {
        out.push(Exclusion::Status { status: p.status });
    }
    if !seg.origins.is_empty() && !seg.origins.iter().any(|o| p.origins.contains(o)) {
        out.push(Exclusion::Origin { wanted: seg.origins.clone() });
    }
    let valid = p.valid_credentials(today);
    for c in &seg.credentials_all {
        if !valid.iter().any(|v| v.eq_ignore_ascii_case(c)) {
            if p.credentials.iter().any(|h| h.kind.eq_ignore_ascii_case(c)) {
                out.push(Exclusion::ExpiredCredential { credential: c.clone() });
            } else {
                out.push(Exclusion::MissingCredential { credential: c.clone() });
            }
        }
    }
    if !seg.departments_any.is_empty() && !any_match(&seg.departments_any, &p.interests.departments) {
        out.push(Exclusion::Department { wanted: seg.departments_any.clone() });
    }
    if !seg.locations_any.is_empty() && !any_match(&seg.locations_any, &p.interests.locations) {
        out.push(Exclusion::Location { wanted: seg.locations_any.clone() });
    }
    if !seg.tags_any.is_empty() && !any_match(&seg.tags_any, &p.tags) {
        out.push(Exclusion::Tag { wanted: seg.tags_any.clone() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::tests::prospect;

    #[test]
    fn segments_explain_every_exclusion() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let seg = Segment {
            origins: vec![Origin::SilverMedalist],
            credentials_all: vec!["RN".into(), "BLS".into()],
            departments_any: vec!["nursing".into()],
            tags_any: vec!["icu".into()],
            ..Default::default()
        };
        let p = prospect(&["RN@2026-01-01"], &["Nursing"]);
        assert_eq!(
            exclusions(&seg, &p, today),
            vec![
                Exclusion::Origin { wanted: vec![Origin::SilverMedalist] },
                Exclusion::ExpiredCredential { credential: "RN".into() },
                Exclusion::MissingCredential { credential: "BLS".into() },
            ]
        );
        let mut q = prospect(&["RN@2027-01-01", "BLS"], &["Nursing"]);
        q.origins.push(Origin::SilverMedalist);
        assert!(exclusions(&seg, &q, today).is_empty());
        q.status = ProspectStatus::Applied;
        assert_eq!(exclusions(&seg, &q, today), vec![Exclusion::Status { status: ProspectStatus::Applied }]);
    }
}
