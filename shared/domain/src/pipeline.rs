//! Moving an application through its job's stages: the request, and the application it makes. Pure:
//! the use case writes the result conditionally on the version it read.
use crate::application::Application;
use crate::error::Invalid;
use crate::parse::{Fields, Line, Text};
use crate::stage::{
    furthest, status_of, transition, ExitReason, ReasonCategory, ReasonCodes, Stage, TransitionError, EXITS,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A move asked for: where to, on which version the client decided, why, and what to keep.
#[derive(Debug, Clone)]
pub struct Move {
    pub to: String,
    pub expected_version: u64,
    pub reason: Option<ExitReason>,
    /// Tag the person a silver medalist, kept in the talent pool on their way out.
    pub keep_in_touch: bool,
    pub tags: Vec<String>,
}

impl Move {
    pub fn parse(body: Value) -> Result<Move, Invalid> {
        Fields::parse(body, |f| {
            let to: Option<Line<1, 40>> = f.req("to");
            let expected_version: Option<u64> = f.req("expected_version");
            let reason = f.object("reason", false, |f| {
                let category: Option<ReasonCategory> = f.req("category");
                let code: Option<Line<1, 60>> = f.req("code");
                let note: Option<Option<Text<0, 2000>>> = f.opt("note");
                Some(ExitReason {
                    category: category?,
                    code: code?.0,
                    note: note?.map(|n| n.0).filter(|n| !n.is_empty()),
                })
            });
            let keep_in_touch: Option<Option<bool>> = f.opt("keep_in_touch");
            let tags: Option<Option<Vec<Line<1, 50>>>> = f.opt("tags");
            Some(Move {
                to: to?.0,
                expected_version: expected_version?,
                reason: reason?,
                keep_in_touch: keep_in_touch?.unwrap_or(false),
                tags: tags?.unwrap_or_default().into_iter().map(|t| t.0).collect(),
            })
        })
    }

    pub fn to_exit(&self) -> bool {
        EXITS.contains(&self.to.as_str())
    }
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The client decided on an older version: a conflict whatever it asks for.
    Stale { current: u64 },
    /// The stages' rules say no.
    Rule(TransitionError),
    /// Keeping in touch is for people on their way out.
    KeepInTouchNotExit,
}

impl Refused {
    /// The field a client should fix, for every refusal but a stale version.
    pub fn invalid(&self) -> Option<Invalid> {
        match self {
            Refused::Stale { .. } => None,
            Refused::KeepInTouchNotExit => {
                Some(Invalid::field("keep_in_touch", "applies only to rejected and withdrawn"))
            }
            Refused::Rule(e) => {
                let field = match e {
                    TransitionError::ReasonRequired
                    | TransitionError::ReasonNotAllowed
                    | TransitionError::BadReason(_) => "reason",
                    _ => "to",
                };
                Some(Invalid::field(field, e.to_string()))
            }
        }
    }
}

/// The application after the move: its stage, status, furthest stage, history and tags, one version on.
pub fn moved(
    a: &Application,
    stages: &[Stage],
    codes: &ReasonCodes,
    m: &Move,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Application, Refused> {
    if m.expected_version != a.version {
        return Err(Refused::Stale { current: a.version });
    }
    let entry = transition(stages, codes, &a.stage, &m.to, m.reason.clone(), by, now).map_err(Refused::Rule)?;
    if m.keep_in_touch && !m.to_exit() {
        return Err(Refused::KeepInTouchNotExit);
    }
    let mut moved = a.clone();
    moved.stage = m.to.clone();
    moved.status = status_of(stages, &m.to);
    moved.furthest_stage =
        furthest(stages, if a.furthest_stage.is_empty() { &a.stage } else { &a.furthest_stage }, &m.to).to_string();
    moved.version = a.version + 1;
    moved.history.push(entry);
    for t in &m.tags {
        if !moved.tags.contains(t) {
            moved.tags.push(t.clone());
        }
    }
    Ok(moved)
}
