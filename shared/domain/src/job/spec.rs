//! What a recruiter sets on a job, parsed from the API's JSON (and re-parsed whole after a patch).
use super::{Board, EmploymentType, ExperienceLevel, SalaryPeriod, TeamRole, Workplace};
use crate::error::Invalid;
use crate::parse::Fields;
use crate::parse::{FromField, Line, Text};
use crate::stage::{check_stages, default_stages, parse_stage, Stage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Country(pub String);

impl FromField for Country {
    fn from_field(v: &Value) -> Result<Self, String> {
        let s = v.as_str().ok_or("must be a string")?.trim().to_ascii_uppercase();
        match isocountry::CountryCode::for_alpha2(&s) {
            Ok(_) => Ok(Country(s)),
            Err(_) => Err("must be an ISO 3166-1 alpha-2 country code".into()),
        }
    }
}

/// An ISO 4217 currency code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Currency(pub String);

impl FromField for Currency {
    fn from_field(v: &Value) -> Result<Self, String> {
        let s = v.as_str().ok_or("must be a string")?.trim().to_ascii_uppercase();
        match iso_currency::Currency::from_code(&s) {
            Some(_) => Ok(Currency(s)),
            None => Err("must be an ISO 4217 currency code".into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub city: String,
    pub region: String,
    pub country: Country,
    pub postal_code: Option<String>,
    pub street_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Salary {
    pub min: f64,
    pub max: f64,
    pub currency: Currency,
    pub period: SalaryPeriod,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamMember {
    pub sub: String,
    pub role: TeamRole,
}

/// Everything a recruiter sets on a job. Serialises to exactly the shape `POST /api/jobs` accepts,
/// which is how `PATCH` re-validates a merged job through the same parser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub title: String,
    pub department: String,
    pub location: Location,
    pub workplace: Workplace,
    pub employment_type: EmploymentType,
    pub experience_level: Option<ExperienceLevel>,
    pub salary: Option<Salary>,
    pub description_html: String,
    pub required_credentials: Vec<String>,
    pub hiring_team: Vec<TeamMember>,
    pub stages: Vec<Stage>,
    pub expires_at: Option<DateTime<Utc>>,
    pub boards: Vec<Board>,
    /// The application form asks the voluntary demographic (EEO) questions.
    #[serde(default)]
    pub asks_demographics: bool,
}

/// Upper bound on a stored description; the DynamoDB item limit is 400 KB.
/// The longest `description_html`, in characters (a file's converted HTML included).
pub const MAX_DESCRIPTION: usize = 100_000;

impl JobSpec {
    /// Parses a job from the request body, listing every bad field.
    pub fn parse(body: Value) -> Result<Self, Invalid> {
        Fields::parse(body, Self::from_fields)
    }

    fn from_fields(f: &mut Fields) -> Option<Self> {
        let title: Option<Line<1, 200>> = f.req("title");
        let department: Option<Line<1, 100>> = f.req("department");
        let location = f.object("location", true, |f| {
            let city: Option<Line<1, 100>> = f.req("city");
            let region: Option<Line<1, 100>> = f.req("region");
            let country: Option<Country> = f.req("country");
            let postal_code: Option<Option<Line<1, 20>>> = f.opt("postal_code");
            let street_address: Option<Option<Line<1, 200>>> = f.opt("street_address");
            Some(Location {
                city: city?.0,
                region: region?.0,
                country: country?,
                postal_code: postal_code?.map(|l| l.0),
                street_address: street_address?.map(|l| l.0),
            })
        });
        let workplace = f.req("workplace");
        let employment_type = f.req("employment_type");
        let experience_level = f.opt("experience_level");
        let salary = f.object("salary", false, |f| {
            let min: Option<f64> = f.req("min");
            let max: Option<f64> = f.req("max");
            let currency = f.req("currency");
            let period = f.req("period");
            let (min, max) = (min?, max?);
            if min < 0.0 {
                f.error("min", "must not be negative");
            }
            if max < min {
                f.error("max", "must not be less than min");
            }
            if max > 1e9 {
                f.error("max", "must be at most 1000000000");
            }
            if f.has_errors() {
                return None;
            }
            Some(Salary { min, max, currency: currency?, period: period? })
        });
        let description: Option<Text<1, MAX_DESCRIPTION>> = f.req("description_html");
        let description_html = description.and_then(|d| {
            let clean = ammonia::clean(&d.0);
            if clean.trim().is_empty() {
                f.error("description_html", "has no content once unsafe HTML is removed");
                None
            } else {
                Some(clean)
            }
        });
        let required_credentials: Option<Option<Vec<Line<1, 50>>>> = f.opt("required_credentials");
        let hiring_team = f.objects("hiring_team", 50, |f| {
            let sub: Option<Line<1, 128>> = f.req("sub");
            let role = f.req("role");
            Some(TeamMember { sub: sub?.0, role: role? })
        });
        let stages = f.objects("stages", 30, parse_stage).and_then(|s| match s {
            None => Some(default_stages()),
            Some(list) => match check_stages(&list) {
                Ok(()) => Some(list),
                Err(msg) => {
                    f.error("stages", msg);
                    None
                }
            },
        });
        let expires_at = f.opt("expires_at");
        let boards: Option<Option<Vec<Board>>> = f.opt("boards");
        let asks_demographics: Option<Option<bool>> = f.opt("asks_demographics");
        Some(JobSpec {
            title: title?.0,
            department: department?.0,
            location: location??,
            workplace: workplace?,
            employment_type: employment_type?,
            experience_level: experience_level?,
            salary: salary?,
            description_html: description_html?,
            required_credentials: required_credentials?.unwrap_or_default().into_iter().map(|l| l.0).collect(),
            hiring_team: hiring_team?.unwrap_or_default(),
            stages: stages?,
            expires_at: expires_at?,
            boards: boards?.unwrap_or_else(|| Board::ALL.to_vec()),
            asks_demographics: asks_demographics?.unwrap_or(false),
        })
    }

    /// Applies a JSON merge patch (RFC 7396) to the job's fields and parses the result as a whole,
    /// so a patch is held to every rule a new job is.
    pub fn patched(&self, patch: serde_json::Map<String, Value>) -> Result<Self, Invalid> {
        let mut current = serde_json::to_value(self).map_err(|e| Invalid::Malformed(e.to_string()))?;
        merge_patch(&mut current, Value::Object(patch));
        Self::parse(current)
    }

    pub fn team_subs(&self) -> Vec<&str> {
        self.hiring_team.iter().map(|m| m.sub.as_str()).collect()
    }
}

fn merge_patch(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(patch) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            let obj = target.as_object_mut().expect("made an object above");
            for (k, v) in patch {
                if v.is_null() {
                    obj.remove(&k);
                } else {
                    merge_patch(obj.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::tests::body;
    use serde_json::json;

    fn bad_fields(v: Value) -> Vec<String> {
        match JobSpec::parse(v) {
            Err(Invalid::Fields(e)) => e.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn parses_normalises_and_sanitises() {
        let spec = JobSpec::parse(body()).unwrap();
        assert_eq!(spec.location.country.0, "GB");
        assert_eq!(spec.salary.as_ref().unwrap().currency.0, "GBP");
        assert_eq!(spec.description_html, "<p>Care for patients.</p>");
        assert_eq!(spec.stages, default_stages());
        assert_eq!(spec.boards, Board::ALL.to_vec());
    }

    #[test]
    fn lists_every_bad_field() {
        let mut b = body();
        b["title"] = json!("x".repeat(201));
        b["location"]["country"] = json!("XX");
        b["salary"]["min"] = json!(-5);
        b["workplace"] = json!("moon");
        b["hiring_team"][0]["role"] = json!(7);
        b["status"] = json!("open");
        assert_eq!(
            bad_fields(b),
            vec!["title", "location.country", "workplace", "salary.min", "hiring_team[0].role", "status"]
        );
    }

    #[test]
    fn salary_max_below_min_is_refused() {
        let mut b = body();
        b["salary"]["max"] = json!(10);
        assert_eq!(bad_fields(b), vec!["salary.max"]);
    }

    #[test]
    fn spec_round_trips_through_its_own_parser() {
        let spec = JobSpec::parse(body()).unwrap();
        assert_eq!(JobSpec::parse(serde_json::to_value(&spec).unwrap()).unwrap(), spec);
    }

    #[test]
    fn patch_merges_and_revalidates() {
        let spec = JobSpec::parse(body()).unwrap();
        let patch = json!({"title": "Senior Nurse", "salary": null, "location": {"city": "York"}});
        let patched = spec.patched(patch.as_object().unwrap().clone()).unwrap();
        assert_eq!(patched.title, "Senior Nurse");
        assert_eq!(patched.salary, None);
        assert_eq!(patched.location.city, "York");
        assert_eq!(patched.location.region, "West Yorkshire");
        let bad = json!({"location": {"country": "ZZ"}, "id": "x"});
        assert!(matches!(spec.patched(bad.as_object().unwrap().clone()), Err(Invalid::Fields(e)) if e.len() == 2));
    }
}
