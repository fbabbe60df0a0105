//! Voluntary demographic (EEO) answers. They are kept apart from the application (their own item,
//! never in the application's document, its views or its export), never shown to hiring managers,
//! and reported only as counts per answer, with counts under five shown as "<5" so that no one can
//! be picked out.
use crate::error::Invalid;
use crate::parse::Fields;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

crate::choice!(Gender { Female = "female", Male = "male", NonBinary = "non_binary", Decline = "decline_to_answer" });
crate::choice!(Ethnicity {
    HispanicOrLatino = "hispanic_or_latino", White = "white", Black = "black_or_african_american",
    PacificIslander = "native_hawaiian_or_pacific_islander", Asian = "asian",
    AmericanIndian = "american_indian_or_alaska_native", TwoOrMore = "two_or_more_races", Decline = "decline_to_answer",
});
crate::choice!(Veteran { Protected = "protected_veteran", NotAVeteran = "not_a_veteran", Decline = "decline_to_answer" });
crate::choice!(Disability { Yes = "yes", No = "no", Decline = "decline_to_answer" });

/// One applicant's answers; any may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demographics {
    pub gender: Option<Gender>,
    pub ethnicity: Option<Ethnicity>,
    pub veteran: Option<Veteran>,
    pub disability: Option<Disability>,
}

pub fn parse(f: &mut Fields) -> Option<Demographics> {
    let gender: Option<Option<Gender>> = f.opt("gender");
    let ethnicity: Option<Option<Ethnicity>> = f.opt("ethnicity");
    let veteran: Option<Option<Veteran>> = f.opt("veteran");
    let disability: Option<Option<Disability>> = f.opt("disability");
    Some(Demographics { gender: gender?, ethnicity: ethnicity?, veteran: veteran?, disability: disability? })
}

impl Demographics {
    /// `(question, answer)` pairs, the counters' keys.
    pub fn cells(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if let Some(v) = self.gender {
            out.push(("gender", v.as_str()));
        }
        if let Some(v) = self.ethnicity {
            out.push(("ethnicity", v.as_str()));
        }
        if let Some(v) = self.veteran {
            out.push(("veteran", v.as_str()));
        }
        if let Some(v) = self.disability {
            out.push(("disability", v.as_str()));
        }
        out
    }
}

/// Below this, a count is shown as "<5".
pub const SMALLEST_SHOWN: u64 = 5;

/// A count as the report shows it.
pub fn shown(n: u64) -> Value {
    if n > 0 && n < SMALLEST_SHOWN {
        json!("<5")
    } else {
        json!(n)
    }
}

/// The aggregate report: per question, per answer, applicants and hires (small cells suppressed).
pub fn report(counts: &[(String, String, u64, u64)]) -> Value {
    let mut out = Map::new();
    for (question, answer, applicants, hires) in counts {
        let q = out.entry(question.clone()).or_insert_with(|| json!({}));
        q[answer] = json!({"applicants": shown(*applicants), "hires": shown(*hires)});
    }
    Value::Object(out)
}

/// Refuses answers a job does not ask for, and answers without the consent that covers them.
pub fn check(given: Option<&Demographics>, job_asks: bool, consented: bool) -> Result<(), Invalid> {
    match given {
        Some(_) if !job_asks => Err(Invalid::field("demographics", "this job does not ask for demographic answers")),
        Some(_) if !consented => {
            Err(Invalid::field("consent.demographics", "must be true to give demographic answers"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cells_are_suppressed() {
        let r = report(&[
            ("gender".into(), "female".into(), 12, 3),
            ("gender".into(), "male".into(), 4, 0),
            ("veteran".into(), "protected_veteran".into(), 5, 1),
        ]);
        assert_eq!(r["gender"]["female"], json!({"applicants": 12, "hires": "<5"}));
        assert_eq!(r["gender"]["male"], json!({"applicants": "<5", "hires": 0}));
        assert_eq!(r["veteran"]["protected_veteran"]["applicants"], 5);
        let d = Demographics { gender: Some(Gender::Female), ..Default::default() };
        assert!(check(Some(&d), false, true).is_err());
        assert!(check(Some(&d), true, false).is_err());
        assert!(check(Some(&d), true, true).is_ok() && check(None, false, false).is_ok());
    }
}
