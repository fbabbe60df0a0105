//! Every HTTP route of every function, in API Gateway's `METHOD /path/{param}` terms. The local
//! gateway serves exactly these; tests check that the SAM template and the OpenAPI document list the
//! same set and that each function's router answers each of its routes.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The Lambda function (crate `functions/<function>`) that serves the route.
    pub function: &'static str,
    pub method: &'static str,
    pub path: &'static str,
}

impl Route {
    /// `/api/*` sits behind the JWT authorizer; `/careers/*` and `/feeds/*` are public.
    pub fn needs_token(&self) -> bool {
        self.path.starts_with("/api/")
    }

    /// API Gateway's route key, e.g. `GET /api/jobs/{id}`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

const fn jobs(method: &'static str, path: &'static str) -> Route {
    Route { function: "jobs", method, path }
}

const fn pipeline(method: &'static str, path: &'static str) -> Route {
    Route { function: "pipeline", method, path }
}

const fn reports(method: &'static str, path: &'static str) -> Route {
    Route { function: "reports", method, path }
}

const fn crm(method: &'static str, path: &'static str) -> Route {
    Route { function: "crm", method, path }
}

const fn intake(method: &'static str, path: &'static str) -> Route {
    Route { function: "intake", method, path }
}

pub const ROUTES: &[Route] = &[
    jobs("POST", "/api/jobs"),
    jobs("GET", "/api/jobs"),
    jobs("GET", "/api/jobs/{id}"),
    jobs("PATCH", "/api/jobs/{id}"),
    jobs("PUT", "/api/jobs/{id}/description"),
    jobs("GET", "/api/jobs/{id}/description"),
    jobs("POST", "/api/jobs/{id}/publish"),
    jobs("POST", "/api/jobs/{id}/close"),
    jobs("GET", "/careers/jobs"),
    jobs("GET", "/careers/jobs/{id}"),
    jobs("GET", "/feeds/indeed.xml"),
    jobs("GET", "/feeds/linkedin.xml"),
    jobs("GET", "/feeds/jobs.json"),
    jobs("POST", "/api/webhooks"),
    jobs("GET", "/api/webhooks"),
    jobs("GET", "/api/webhooks/{id}"),
    jobs("PATCH", "/api/webhooks/{id}"),
    jobs("DELETE", "/api/webhooks/{id}"),
    jobs("POST", "/api/webhooks/{id}/rotate"),
    jobs("POST", "/api/webhooks/{id}/test"),
    jobs("GET", "/api/webhooks/{id}/deliveries"),
    jobs("POST", "/api/webhooks/{id}/deliveries/{event_id}/replay"),
    pipeline("GET", "/api/jobs/{id}/applications"),
    pipeline("GET", "/api/applications/{id}"),
    pipeline("POST", "/api/applications/{id}/transitions"),
    pipeline("POST", "/api/applications/{id}/interviews"),
    pipeline("POST", "/api/interviews/{id}/feedback"),
    pipeline("GET", "/api/candidates/{id}/export"),
    pipeline("DELETE", "/api/candidates/{id}"),
    pipeline("PUT", "/api/candidates/{id}/consents/{purpose}"),
    reports("GET", "/api/reports/sources"),
    reports("GET", "/api/reports/funnel"),
    reports("GET", "/api/reports/time-in-stage"),
    reports("PUT", "/api/reports/spend"),
    reports("GET", "/api/reports/nurture"),
    reports("GET", "/api/reports/demographics"),
    reports("GET", "/dashboard"),
    crm("GET", "/api/prospects"),
    crm("POST", "/api/prospects"),
    crm("PATCH", "/api/prospects/{id}"),
    crm("POST", "/api/prospects/import"),
    crm("POST", "/api/prospects/import/uploads"),
    crm("GET", "/api/prospects/imports/{id}"),
    crm("GET", "/api/content"),
    crm("POST", "/api/content"),
    crm("GET", "/api/campaigns"),
    crm("POST", "/api/campaigns"),
    crm("GET", "/api/campaigns/{id}"),
    crm("POST", "/api/campaigns/{id}/activate"),
    crm("POST", "/api/campaigns/{id}/preview"),
    intake("POST", "/careers/uploads"),
    intake("POST", "/careers/jobs/{id}/applications"),
    intake("POST", "/careers/jobs/{id}/drafts"),
    intake("GET", "/careers/thanks"),
    intake("GET", "/careers/widget.js"),
    intake("POST", "/careers/talent-pool"),
    intake("GET", "/careers/talent-pool/confirm"),
    intake("POST", "/careers/talent-pool/confirm"),
    intake("GET", "/careers/unsubscribe"),
    intake("POST", "/careers/unsubscribe"),
];

/// An EventBridge Scheduler schedule: the payload `{"task", "scheduled_time"}` to a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub task: &'static str,
    pub function: &'static str,
    /// `rate(N minutes)` or `rate(N hours)`, as EventBridge Scheduler writes it.
    pub expression: &'static str,
}

pub const SCHEDULES: &[Schedule] = &[
    Schedule { task: "drafts", function: "nurture", expression: "rate(15 minutes)" },
    // Builds only when a job change was marked, or hourly.
    Schedule { task: "feeds", function: "nurture", expression: "rate(5 minutes)" },
    // Always-on campaigns: enrolments, then what is due.
    Schedule { task: "nurture", function: "nurture", expression: "rate(15 minutes)" },
    // Erases people past the retention period; finishes erasures a crash interrupted.
    Schedule { task: "retention", function: "nurture", expression: "rate(1 day)" },
    // Imports a request left unfinished; the consent emails imports leave, at SES's pace.
    Schedule { task: "imports", function: "nurture", expression: "rate(5 minutes)" },
    // Webhook deliveries due for a retry (the first attempt is made when the event happens).
    Schedule { task: "webhooks", function: "nurture", expression: "rate(1 minute)" },
];

impl Schedule {
    /// The period of a `rate(...)` expression.
    pub fn period(&self) -> Option<std::time::Duration> {
        let inner = self.expression.strip_prefix("rate(")?.strip_suffix(')')?;
        let (n, unit) = inner.split_once(' ')?;
        let n: u64 = n.parse().ok()?;
        let secs = match unit {
            "minute" | "minutes" => 60,
            "hour" | "hours" => 3600,
            "day" | "days" => 86_400,
            _ => return None,
        };
        Some(std::time::Duration::from_secs(n * secs))
    }
}

/// The functions that serve HTTP routes, in a stable order.
pub fn functions() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ROUTES.iter().map(|r| r.function).collect();
    names.sort();
    names.dedup();
    names
}
