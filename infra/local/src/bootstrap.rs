//! Creates what the SAM template creates in AWS (table, bucket, SES identity and configuration set),
//! from the same schema, and seeds demo data through the same repository the functions use.
use anyhow::Context as _;
use rapport::api::AppState;
use rapport::aws::Aws;
use rapport::ids::JobId;
use rapport::job::{Job, JobSpec};
use rapport::store::{schema, JobFilter, PageRequest};
use serde_json::{json, Value};

/// The secrets that hold the functions' keys (the template's `SigningKeys` and `EmailHashKey`),
/// created or brought up to date with the stack's values.
pub async fn secrets(aws: &Aws, opts: &crate::Options) -> anyhow::Result<crate::Secrets> {
    let prefix = opts.name_prefix.to_ascii_lowercase();
    let put = |name: String, value: String| async move {
        let created = aws.secrets().create_secret().name(&name).secret_string(&value).send().await;
        match created {
            Ok(out) => out.arn.context("CreateSecret returned no ARN"),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_exists_exception()) => {
                aws.secrets().put_secret_value().secret_id(&name).secret_string(&value).send().await?;
                let out = aws.secrets().describe_secret().secret_id(&name).send().await?;
                out.arn.context("DescribeSecret returned no ARN")
            }
            Err(e) => Err(e).context(format!("creating the secret {name}")),
        }
    };
    Ok(crate::Secrets {
        signing_keys: put(format!("{prefix}-signing-keys"), opts.signing_keys.clone()).await?,
        email_hash_key: put(format!("{prefix}-email-hash-key"), opts.email_hash_key.clone()).await?,
    })
}

pub async fn resources(aws: &Aws, cfg: &rapport::Config) -> anyhow::Result<()> {
    for table in schema::TABLES {
        schema::create(&aws.dynamo(), table, &cfg.table).await.context("creating the table")?;
    }
    if let Err(e) = aws.s3().create_bucket().bucket(&cfg.bucket).send().await {
        let e = aws_sdk_s3::Error::from(e);
        if !matches!(e, aws_sdk_s3::Error::BucketAlreadyOwnedByYou(_) | aws_sdk_s3::Error::BucketAlreadyExists(_)) {
            return Err(e).context("creating the bucket");
        }
    }
    // Browsers PUT resumes straight to the bucket, from the career site's origins.
    let mut origins = cfg.allowed_origins.clone();
    origins.push(cfg.careers_url.clone());
    let rule = aws_sdk_s3::types::CorsRule::builder()
        .set_allowed_origins(Some(origins))
        .allowed_methods("PUT")
        .allowed_headers("*")
        .max_age_seconds(600)
        .build()
        .context("a CORS rule")?;
    aws.s3()
        .put_bucket_cors()
        .bucket(&cfg.bucket)
        .cors_configuration(aws_sdk_s3::types::CorsConfiguration::builder().cors_rules(rule).build().context("CORS")?)
        .send()
        .await
        .context("setting the bucket's CORS rules")?;
    // SES refuses a sender it has not verified; the emulator too.
    let address = sender_address(&cfg.sender);
    let _ = aws.ses().create_email_identity().email_identity(address).send().await;
    if let Some(set) = &cfg.ses_configuration_set {
        let _ = aws.ses().create_configuration_set().configuration_set_name(set).send().await;
    }
    Ok(())
}

/// `Name <a@b>` → `a@b`.
pub fn sender_address(sender: &str) -> &str {
    match (sender.find('<'), sender.rfind('>')) {
        (Some(a), Some(b)) if a < b => &sender[a + 1..b],
        _ => sender.trim(),
    }
}

/// The hiring manager in the demo data; `/_local/token {"role": "hiring_manager"}` gets this subject.
pub const DEMO_HIRING_MANAGER: &str = "local-hiring-manager";

fn demo_jobs() -> Vec<(Value, bool)> {
    let desc =
        |what: &str| format!("<p>{what}</p><p>We offer a supportive team, training and a clear path to grow.</p>");
    vec![
        (
            json!({"title": "Registered Nurse, Cardiology", "department": "Nursing",
                "location": {"city": "Leeds", "region": "West Yorkshire", "country": "GB", "postal_code": "LS1 3EX"},
                "workplace": "onsite", "employment_type": "full_time", "experience_level": "associate",
                "salary": {"min": 31000, "max": 38000, "currency": "GBP", "period": "year"},
                "description_html": desc("Care for cardiology patients on a busy ward."),
                "required_credentials": ["RN"],
                "hiring_team": [{"sub": DEMO_HIRING_MANAGER, "role": "hiring_manager"}]}),
            true,
        ),
        (
            json!({"title": "Senior Rust Engineer", "department": "Engineering",
                "location": {"city": "Berlin", "region": "Berlin", "country": "DE"},
                "workplace": "remote", "employment_type": "full_time", "experience_level": "mid_senior",
                "salary": {"min": 85000, "max": 110000, "currency": "EUR", "period": "year"},
                "description_html": desc("Build the services behind our patient apps.")}),
            true,
        ),
        (
            json!({"title": "Product Designer", "department": "Design",
                "location": {"city": "New York", "region": "NY", "country": "US", "postal_code": "10001"},
                "workplace": "hybrid", "employment_type": "full_time",
                "salary": {"min": 120000, "max": 150000, "currency": "USD", "period": "year"},
                "description_html": desc("Design tools that clinicians love.")}),
            true,
        ),
        (
            json!({"title": "Patient Support Specialist", "department": "Support",
                "location": {"city": "Toronto", "region": "ON", "country": "CA"},
                "workplace": "remote", "employment_type": "part_time",
                "salary": {"min": 24, "max": 28, "currency": "CAD", "period": "hour"},
                "description_html": desc("Help patients and families by phone and chat.")}),
            true,
        ),
        (
            json!({"title": "Data Analyst", "department": "Engineering",
                "location": {"city": "Sydney", "region": "NSW", "country": "AU"},
                "workplace": "hybrid", "employment_type": "contract",
                "description_html": desc("Turn clinical operations data into decisions.")}),
            true,
        ),
        (
            json!({"title": "Night Nurse Practitioner", "department": "Nursing",
                "location": {"city": "Manchester", "region": "Greater Manchester", "country": "GB"},
                "workplace": "onsite", "employment_type": "per_diem",
                "description_html": desc("Lead night care on our acute ward."),
                "required_credentials": ["RN", "NP"]}),
            false,
        ),
    ]
}

/// Seeds the demo jobs once: a store that already holds jobs is left alone.
pub async fn seed(st: &AppState) -> anyhow::Result<usize> {
    let any = st.store.list_jobs(&JobFilter::default(), &PageRequest { limit: 1, cursor: None }).await;
    if !any.map_err(|e| anyhow::anyhow!("{e}"))?.items.is_empty() {
        return Ok(0);
    }
    let jobs = demo_jobs();
    for (body, publish) in &jobs {
        let spec = JobSpec::parse(body.clone()).map_err(|e| anyhow::anyhow!("demo job: {e:?}"))?;
        let now = st.clock.now();
        let mut job = Job::new(JobId::new(st.clock.as_ref()), spec, now);
        if *publish {
            job = job.publish(now).expect("a draft publishes");
        }
        st.store.create_job(&job).await?;
    }
    Ok(jobs.len())
}

/// Demo activity through the public routes, as real visitors and recruiters would make it:
/// applications from several sources, some moved through stages, some hired, and drop-offs.
pub async fn demo_activity(url: &str, recruiter_token: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let jobs: Value = http.get(format!("{url}/careers/jobs?limit=100")).send().await?.json().await?;
    let sources = [
        json!({"utm_source": "indeed", "utm_medium": "job_board"}),
        json!({"utm_source": "indeed", "utm_medium": "job_board"}),
        json!({"utm_source": "linkedin", "utm_medium": "job_board"}),
        json!({"utm_source": "google", "utm_medium": "job_board"}),
        json!({"utm_source": "anna.k", "utm_medium": "referral"}),
        json!({"landing_url": format!("{url}/")}),
        json!({"referrer": "https://www.facebook.com/"}),
        json!({}),
    ];
    let moves: [&[&str]; 6] = [
        &[],
        &["screen"],
        &["screen", "interview"],
        &["screen", "interview", "offer"],
        &["screen", "interview", "offer", "hired"],
        &["screen", "rejected"],
    ];
    let mut n = 0usize;
    for job in jobs["items"].as_array().into_iter().flatten() {
        let id = job["id"].as_str().unwrap_or_default();
        for i in 0..9 {
            n += 1;
            let email = format!("demo.applicant{n}@example.com");
            if i == 8 {
                // Started, never finished: a drop-off once the drafts task runs.
                http.post(format!("{url}/careers/jobs/{id}/drafts"))
                    .json(&json!({"email": email, "first_name": "Demo", "consent": {"talent_pool": true}}))
                    .send()
                    .await?;
                continue;
            }
            let body = json!({"first_name": "Demo", "last_name": format!("Applicant {n}"), "email": email,
                              "consent": {"processing": true, "talent_pool": n.is_multiple_of(2)}, "source": sources[(n * 7) % sources.len()]});
            let created: Value =
                http.post(format!("{url}/careers/jobs/{id}/applications")).json(&body).send().await?.json().await?;
            let Some(app) = created["application_id"].as_str() else { continue };
            for (v, to) in moves[(n * 5) % moves.len()].iter().enumerate() {
                let mut body = json!({"to": to, "expected_version": v + 1});
                if *to == "rejected" {
                    body["reason"] = json!({"category": "rejected_by_org", "code": "preferred_another_candidate"});
                    body["keep_in_touch"] = json!(true);
                }
                http.post(format!("{url}/api/applications/{app}/transitions"))
                    .bearer_auth(recruiter_token)
                    .json(&body)
                    .send()
                    .await?;
            }
        }
    }
    let later = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    http.post(format!("{url}/_local/run/drafts")).query(&[("now", &later)]).send().await?;
    http.post(format!("{url}/_local/run/feeds")).send().await?;

    // The CRM: a few sourced nurses (one with a lapsed RN), a story, and an active campaign with its
    // first emails out, so the dashboard's nurture panel and /_local/emails have something to show.
    let api = |path: &str| http.post(format!("{url}{path}")).bearer_auth(recruiter_token);
    for (n, rn) in [(1, Some("2028-06-30")), (2, Some("2025-01-31")), (3, None)] {
        let credentials =
            rn.map(|d| json!([{"type": "RN", "jurisdiction": "GB", "expires_on": d}])).unwrap_or(json!([]));
        api("/api/prospects")
            .json(&json!({"email": format!("demo.nurse{n}@example.com"), "first_name": format!("Nurse {n}"),
                          "consent": true, "interests": {"departments": ["Nursing"]}, "credentials": credentials,
                          "tags": ["nursing"]}))
            .send()
            .await?;
    }
    api("/api/content")
        .json(&json!({"kind": "story", "title": "A night on ward 4", "summary": "What nights are like on our surgical ward.",
                      "body_html": "<p>Twelve beds, three nurses and a lot of tea.</p>", "tags": ["nursing"]}))
        .send()
        .await?;
    let campaign: Value = api("/api/campaigns")
        .json(&json!({"name": "Nurses: jobs, then life on the ward", "segment": {"tags_any": ["nursing"]},
                      "steps": [{"after_days": 0, "content": {"kind": "jobs"}},
                                {"after_days": 3, "content": {"kind": "story", "tags_any": ["nursing"]}}]}))
        .send()
        .await?
        .json()
        .await?;
    if let Some(id) = campaign["id"].as_str() {
        api(&format!("/api/campaigns/{id}/activate")).send().await?;
        http.post(format!("{url}/_local/run/nurture")).send().await?;
    }
    Ok(())
}
