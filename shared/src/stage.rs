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
}
