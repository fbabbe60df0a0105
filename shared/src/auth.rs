//! Who is calling, from the claims that API Gateway's JWT authorizer puts in the request context.
//!
//! In AWS the HTTP API authorizer has already checked the token's signature, `iss`, `aud` and `exp`; the
//! local stack does the same before it builds the event. Functions only read the claims and authorize.
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use http::request::Parts;
use lambda_http::request::RequestContext;
use std::collections::HashMap;

crate::choice!(
    /// A Cognito group.
    Role { Admin = "admin", Recruiter = "recruiter", HiringManager = "hiring_manager" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub sub: String,
    pub role: Role,
}

/// What a caller wants to do with a job and what hangs off it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    /// Read the job, its applications and interviews.
    Read,
    /// Give feedback on an interview of the job.
    Feedback,
    /// Edit, publish or close the job, move applications through stages.
    Manage,
}

impl Caller {
    /// Reads the authorizer's claims. API Gateway flattens array claims to strings, so
    /// `cognito:groups` arrives as `[admin recruiter]`; a JSON array string is accepted too.
    pub fn from_claims(claims: &HashMap<String, String>) -> Result<Self, ApiError> {
        let sub = claims
            .get("sub")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("the token has no subject".into()))?
            .clone();
        let groups = claims.get("cognito:groups").map(|g| parse_groups(g)).unwrap_or_default();
        // The strongest group wins: an admin who is also listed as a hiring manager stays an admin.
        let role = [Role::Admin, Role::Recruiter, Role::HiringManager]
            .into_iter()
            .find(|r| groups.iter().any(|g| g == r.as_str()))
            .ok_or_else(|| ApiError::Forbidden("the user belongs to no Rapport group".into()))?;
        Ok(Self { sub, role })
    }

    /// Admins and recruiters: the recruiting team, who see every job.
    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Recruiter)
    }

    pub fn require_staff(&self) -> Result<(), ApiError> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this needs the recruiter or admin role".into()))
        }
    }

    /// Admins only: what acts on a person as a whole rather than on a job's applicants (a person's
    /// export, erasure and consent records) and demographic data even in aggregate. Checked before
    /// anything is read, so the answer says nothing about whether the person exists.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this needs the admin role".into()))
        }
    }

    /// The one job-scope check. A hiring manager not on the job's team does not learn that it
    /// exists (404); one on the team may read and give feedback but not manage (403).
    pub fn authorize_job(&self, team_subs: &[&str], action: JobAction) -> Result<(), ApiError> {
        if self.is_staff() {
            return Ok(());
        }
        if !team_subs.contains(&self.sub.as_str()) {
            return Err(ApiError::NotFound);
        }
        match action {
            JobAction::Read | JobAction::Feedback => Ok(()),
            JobAction::Manage => Err(ApiError::Forbidden("hiring managers may not change this job".into())),
        }
    }
}

fn parse_groups(raw: &str) -> Vec<String> {
    if let Ok(v) = serde_json::from_str::<Vec<String>>(raw) {
        return v;
    }
    raw.trim_start_matches('[')
        .trim_end_matches(']')
        .split([' ', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let claims = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|j| &j.claims)
            }
            _ => None,
        };
        // Without an authorizer in front, refuse rather than trust anything in the request itself.
        let claims = claims.ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
        Caller::from_claims(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, groups: &str) -> HashMap<String, String> {
        HashMap::from([("sub".to_string(), sub.to_string()), ("cognito:groups".to_string(), groups.to_string())])
    }

    #[test]
    fn reads_flattened_and_json_groups() {
        assert_eq!(Caller::from_claims(&claims("u1", "[hiring_manager admin]")).unwrap().role, Role::Admin);
        assert_eq!(Caller::from_claims(&claims("u1", "[\"recruiter\"]")).unwrap().role, Role::Recruiter);
        assert_eq!(Caller::from_claims(&claims("u1", "hiring_manager")).unwrap().role, Role::HiringManager);
        assert!(matches!(Caller::from_claims(&claims("u1", "[guest]")), Err(ApiError::Forbidden(_))));
        assert!(matches!(Caller::from_claims(&claims("", "[admin]")), Err(ApiError::Unauthorized(_))));
    }

    #[test]
    fn job_scope() {
        let hm = Caller { sub: "hm".into(), role: Role::HiringManager };
        let rec = Caller { sub: "r".into(), role: Role::Recruiter };
        assert!(rec.authorize_job(&[], JobAction::Manage).is_ok());
        assert!(hm.authorize_job(&["hm"], JobAction::Read).is_ok());
        assert!(hm.authorize_job(&["hm"], JobAction::Feedback).is_ok());
        assert!(matches!(hm.authorize_job(&["hm"], JobAction::Manage), Err(ApiError::Forbidden(_))));
        assert!(matches!(hm.authorize_job(&["other"], JobAction::Read), Err(ApiError::NotFound)));
    }

    #[test]
    fn only_admins_pass_the_admin_check() {
        let admin = Caller { sub: "a".into(), role: Role::Admin };
        assert!(admin.require_admin().is_ok());
        for role in [Role::Recruiter, Role::HiringManager] {
            let caller = Caller { sub: "x".into(), role };
            assert!(matches!(caller.require_admin(), Err(ApiError::Forbidden(_))), "{role:?}");
        }
    }
}
