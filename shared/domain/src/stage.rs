//! Interview stages of a job. The stage machine itself (transitions, history) builds on these.
use crate::parse::{Fields, Line};
use serde::{Deserialize, Serialize};

crate::choice!(
    /// What a stage means, whatever the employer calls it.
    StageKind { New = "new", Screen = "screen", Interview = "interview", Offer = "offer", Hired = "hired" }
);

/// The exits every pipeline has; they need a reason and are not listed among a job's stages.
pub const EXITS: [&str; 2] = ["rejected", "withdrawn"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub name: String,
    pub kind: StageKind,
}

fn stage(id: &str, name: &str, kind: StageKind) -> Stage {
    Stage { id: id.into(), name: name.into(), kind }
}

/// The template used when a job is created without stages.
pub fn default_stages() -> Vec<Stage> {
    vec![
        stage("applied", "Applied", StageKind::New),
        stage("screen", "Screen", StageKind::Screen),
        stage("interview", "Interview", StageKind::Interview),
        stage("offer", "Offer", StageKind::Offer),
        stage("hired", "Hired", StageKind::Hired),
    ]
}

/// Ids beginning with `_` are Rapport's own: report counters sit beside the stages' under such
/// names (`_to_hire`, see `report::TIME_TO_HIRE`), so a stage may never take one.
pub const RESERVED_PREFIX: char = '_';

/// Parses one stage object; its id is a slug so it is safe in keys and URLs.
pub fn parse_stage(f: &mut Fields) -> Option<Stage> {
    let id: Option<Line<1, 40>> = f.req("id");
    let name: Option<Line<1, 80>> = f.req("name");
    let kind: Option<StageKind> = f.req("kind");
    if let Some(id) = &id {
        if !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            f.error("id", "must use only a-z, 0-9 and _");
            return None;
        }
        if EXITS.contains(&id.0.as_str()) {
            f.error("id", "rejected and withdrawn are exits, not stages");
            return None;
        }
        if id.starts_with(RESERVED_PREFIX) {
            f.error("id", "must not begin with _ (reserved for Rapport's own keys)");
            return None;
        }
    }
    Some(Stage { id: id?.0, name: name?.0, kind: kind? })
}

/// A stage list has unique ids, starts with the one `new` stage and ends with the one `hired` stage.
pub fn check_stages(stages: &[Stage]) -> Result<(), String> {
    let count = |k| stages.iter().filter(|s| s.kind == k).count();
    if count(StageKind::New) != 1 || count(StageKind::Hired) != 1 {
        return Err("must have exactly one stage of kind new and one of kind hired".into());
    }
    if stages.first().map(|s| s.kind) != Some(StageKind::New) || stages.last().map(|s| s.kind) != Some(StageKind::Hired)
    {
        return Err("must start with the new stage and end with the hired stage".into());
    }
    for (i, s) in stages.iter().enumerate() {
        if stages[..i].iter().any(|o| o.id == s.id) {
            return Err(format!("stage id {} is used twice", s.id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_template_is_valid() {
        assert_eq!(check_stages(&default_stages()), Ok(()));
    }

    #[test]
    fn bad_lists_are_refused() {
        let mut two_new = default_stages();
        two_new.insert(1, stage("phone", "Phone", StageKind::New));
        assert!(check_stages(&two_new).is_err());
        let mut dup = default_stages();
        dup[2].id = "screen".into();
        assert!(check_stages(&dup).is_err());
        let mut reversed = default_stages();
        reversed.reverse();
        assert!(check_stages(&reversed).is_err());
        assert!(check_stages(&[]).is_err());
    }

    #[test]
    fn stage_ids_that_could_meet_internal_keys_are_refused() {
        use crate::error::Invalid;
        let parse = |id: &str| {
            Fields::parse(serde_json::json!({"id": id, "name": "X", "kind": "screen"}), parse_stage).map(|s| s.id)
        };
        assert_eq!(parse("phone_screen").unwrap(), "phone_screen");
        for id in [crate::report::TIME_TO_HIRE, "_", "_x"] {
            match parse(id) {
                Err(Invalid::Fields(errors)) => assert_eq!(errors[0].field, "id", "{id}"),
                other => panic!("{id}: {other:?}"),
            }
        }
    }
}

crate::choice!(
    /// Who ended the process.
    ReasonCategory { RejectedByOrg = "rejected_by_org", RejectedByCandidate = "rejected_by_candidate", Other = "other" }
);

/// Exit reason codes per category, modelled on what Greenhouse, Lever and Ashby ship by default.
pub const REASON_CODES: &[(ReasonCategory, &[&str])] = &[
    (
        ReasonCategory::RejectedByOrg,
        &[
            "lacking_qualifications",
            "preferred_another_candidate",
            "not_a_fit",
            "duplicate",
            "spam",
            "position_closed",
            "other",
        ],
    ),
    (
        ReasonCategory::RejectedByCandidate,
        &["accepted_other_offer", "compensation", "timing", "not_interested", "unresponsive", "other"],
    ),
    (ReasonCategory::Other, &["other"]),
];

/// The reason codes in force: the defaults above, or the employer's own (`EXIT_REASONS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonCodes(pub Vec<(ReasonCategory, Vec<String>)>);

impl Default for ReasonCodes {
    fn default() -> Self {
        ReasonCodes(REASON_CODES.iter().map(|(c, codes)| (*c, codes.iter().map(|s| s.to_string()).collect())).collect())
    }
}

impl ReasonCodes {
    /// `{"rejected_by_org": ["not_a_fit", …], "rejected_by_candidate": […], "other": […]}`: each list
    /// replaces that category's defaults; codes are `a-z0-9_`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let map: std::collections::BTreeMap<String, Vec<String>> =
            serde_json::from_str(raw).map_err(|e| format!("must be a JSON object of lists: {e}"))?;
        let mut codes = ReasonCodes::default();
        for (category, list) in map {
            let category: ReasonCategory = category.parse()?;
            if list.is_empty()
                || list.iter().any(|c| {
                    c.is_empty() || !c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                })
            {
                return Err(format!("{category} needs one or more codes of a-z, 0-9 and _"));
            }
            if let Some(entry) = codes.0.iter_mut().find(|(c, _)| *c == category) {
                entry.1 = list;
            }
        }
        Ok(codes)
    }

    pub fn of(&self, category: ReasonCategory) -> &[String] {
        self.0.iter().find(|(c, _)| *c == category).map(|(_, l)| l.as_slice()).unwrap_or(&[])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitReason {
    pub category: ReasonCategory,
    pub code: String,
    pub note: Option<String>,
}

/// One move through the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub from: String,
    pub to: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub by: String,
    pub reason: Option<ExitReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("{0} is not a stage of this job")]
    UnknownStage(String),
    #[error("the application is already in that stage")]
    SameStage,
    #[error("a hired application cannot move")]
    OutOfHired,
    #[error("rejected and withdrawn need a reason")]
    ReasonRequired,
    #[error("only rejected and withdrawn take a reason")]
    ReasonNotAllowed,
    #[error("{0}")]
    BadReason(String),
}

/// Where an application may go from `current`, and the history entry that records it. Pure: the
/// store writes the result conditionally on the version it read.
pub fn transition(
    stages: &[Stage],
    codes: &ReasonCodes,
    current: &str,
    to: &str,
    reason: Option<ExitReason>,
    by: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<HistoryEntry, TransitionError> {
    let is_exit = EXITS.contains(&to);
    if !is_exit && !stages.iter().any(|s| s.id == to) {
        return Err(TransitionError::UnknownStage(to.to_string()));
    }
    if current == to {
        return Err(TransitionError::SameStage);
    }
    if stages.iter().any(|s| s.id == current && s.kind == StageKind::Hired) {
        return Err(TransitionError::OutOfHired);
    }
    match (&reason, is_exit) {
        (None, true) => return Err(TransitionError::ReasonRequired),
        (Some(_), false) => return Err(TransitionError::ReasonNotAllowed),
        (Some(r), true) => {
            let allowed = match to {
                "rejected" => [ReasonCategory::RejectedByOrg, ReasonCategory::Other],
                _ => [ReasonCategory::RejectedByCandidate, ReasonCategory::Other],
            };
            if !allowed.contains(&r.category) {
                return Err(TransitionError::BadReason(format!(
                    "{to} takes a reason of category {} or other",
                    allowed[0]
                )));
            }
            let codes = codes.of(r.category);
            if !codes.contains(&r.code) {
                return Err(TransitionError::BadReason(format!("code must be one of: {}", codes.join(", "))));
            }
        }
        (None, false) => {}
    }
    Ok(HistoryEntry { from: current.to_string(), to: to.to_string(), at, by: by.to_string(), reason })
}

/// The further of two stages along the job's list (exits never count as progress).
pub fn furthest<'a>(stages: &[Stage], a: &'a str, b: &'a str) -> &'a str {
    let pos = |id: &str| stages.iter().position(|s| s.id == id);
    match (pos(a), pos(b)) {
        (Some(x), Some(y)) if y > x => b,
        (None, Some(_)) => b,
        _ => a,
    }
}

/// `active`, `hired`, `rejected` or `withdrawn`.
pub fn status_of(stages: &[Stage], stage: &str) -> ApplicationStatus {
    match stage {
        "rejected" => ApplicationStatus::Rejected,
        "withdrawn" => ApplicationStatus::Withdrawn,
        s if stages.iter().any(|x| x.id == s && x.kind == StageKind::Hired) => ApplicationStatus::Hired,
        _ => ApplicationStatus::Active,
    }
}

crate::choice!(
    /// Where an application stands, from its stage: still in process, or out by one of three doors.
    ApplicationStatus { Active = "active", Hired = "hired", Rejected = "rejected", Withdrawn = "withdrawn" }
);

#[cfg(test)]
mod machine_tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    fn reason(category: ReasonCategory, code: &str) -> Option<ExitReason> {
        Some(ExitReason { category, code: code.into(), note: None })
    }

    #[test]
    fn reason_codes_are_configurable() {
        let codes = ReasonCodes::parse(r#"{"rejected_by_org": ["failed_assessment", "other"]}"#).unwrap();
        assert_eq!(codes.of(ReasonCategory::RejectedByOrg), ["failed_assessment", "other"]);
        assert_eq!(
            codes.of(ReasonCategory::RejectedByCandidate),
            ReasonCodes::default().of(ReasonCategory::RejectedByCandidate)
        );
        let s = default_stages();
        let r = |code: &str| reason(ReasonCategory::RejectedByOrg, code);
        assert!(transition(&s, &codes, "screen", "rejected", r("failed_assessment"), "u", now()).is_ok());
        assert!(transition(&s, &codes, "screen", "rejected", r("not_a_fit"), "u", now()).is_err());
        assert!(ReasonCodes::parse(r#"{"vibes": ["x"]}"#).is_err());
        assert!(ReasonCodes::parse(r#"{"other": ["Not OK"]}"#).is_err());
        assert!(ReasonCodes::parse("[]").is_err());
    }

    #[test]
    fn the_rules() {
        let s = default_stages();
        let go = |from: &str, to: &str, why: Option<(ReasonCategory, &str)>| {
            transition(&s, &ReasonCodes::default(), from, to, why.and_then(|(c, code)| reason(c, code)), "u", now())
        };
        use ReasonCategory::{Other, RejectedByCandidate as ByCandidate, RejectedByOrg as ByOrg};
        assert!(go("applied", "screen", None).is_ok());
        assert!(go("applied", "offer", None).is_ok(), "stages may be skipped");
        assert!(go("offer", "screen", None).is_ok(), "and moved back");
        assert!(go("screen", "rejected", Some((ByOrg, "not_a_fit"))).is_ok());
        assert!(go("screen", "withdrawn", Some((ByCandidate, "compensation"))).is_ok());
        assert!(go("rejected", "screen", None).is_ok(), "an exit can be undone");
        for (from, to, why, refused) in [
            ("applied", "applied", None, TransitionError::SameStage),
            ("applied", "nope", None, TransitionError::UnknownStage("nope".into())),
            ("hired", "offer", None, TransitionError::OutOfHired),
            ("hired", "rejected", Some((Other, "other")), TransitionError::OutOfHired),
            ("screen", "rejected", None, TransitionError::ReasonRequired),
            ("screen", "offer", Some((Other, "other")), TransitionError::ReasonNotAllowed),
        ] {
            assert_eq!(go(from, to, why), Err(refused), "{from} -> {to}");
        }
        for (to, why) in [("rejected", (ByCandidate, "timing")), ("withdrawn", (ByCandidate, "bored"))] {
            assert!(matches!(go("screen", to, Some(why)), Err(TransitionError::BadReason(_))), "{to} {why:?}");
        }
        assert_eq!(furthest(&s, "interview", "screen"), "interview");
        assert_eq!(furthest(&s, "screen", "offer"), "offer");
        assert_eq!(furthest(&s, "offer", "rejected"), "offer");
        assert_eq!(status_of(&s, "hired"), ApplicationStatus::Hired);
        assert_eq!(status_of(&s, "screen"), ApplicationStatus::Active);
    }

    fn attempt() -> impl Strategy<Value = (String, Option<ExitReason>)> {
        let targets = prop_oneof![
            Just("applied"),
            Just("screen"),
            Just("interview"),
            Just("offer"),
            Just("hired"),
            Just("rejected"),
            Just("withdrawn"),
            Just("bogus")
        ];
        let reasons = prop_oneof![
            Just(None),
            Just(reason(ReasonCategory::RejectedByOrg, "not_a_fit")),
            Just(reason(ReasonCategory::RejectedByCandidate, "timing")),
            Just(reason(ReasonCategory::Other, "other")),
        ];
        (targets, reasons).prop_map(|(t, r)| (t.to_string(), r))
    }

    proptest! {
        /// Any sequence of accepted transitions leaves a history that replays to the current stage
        /// and version, never leaves hired, and never records a move to the same stage.
        #[test]
        fn history_replays_to_the_current_stage(attempts in proptest::collection::vec(attempt(), 0..40)) {
            let stages = default_stages();
            let (mut current, mut version, mut history) = ("applied".to_string(), 1u64, Vec::<HistoryEntry>::new());
            let mut best = "applied".to_string();
            for (to, reason) in attempts {
                if let Ok(entry) = transition(&stages, &ReasonCodes::default(), &current, &to, reason, "u", now()) {
                    best = furthest(&stages, &best, &entry.to).to_string();
                    current = entry.to.clone();
                    history.push(entry);
                    version += 1;
                }
            }
            let mut replay = "applied".to_string();
            for e in &history {
                prop_assert_eq!(&e.from, &replay);
                prop_assert_ne!(&e.from, &e.to);
                prop_assert!(status_of(&stages, &e.from) != ApplicationStatus::Hired);
                replay = e.to.clone();
            }
            prop_assert_eq!(replay, current);
            prop_assert_eq!(version, 1 + history.len() as u64);
            prop_assert!(stages.iter().any(|s| s.id == best));
        }
    }
}
