//! Sharded report counters: reports equal a recount whatever number of shards wrote each counter
//! (the number may change between writes), and many writes do spread over several items.
use crate::helpers::*;
use crate::reports::apply;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The shard a report counter's sort key names: 0 for the unsharded key, `k` for `<key>#<k>`.
fn shard_of(sk: &str) -> u32 {
    let parts: Vec<&str> = sk.split('#').collect();
    let unsharded = match parts[0] {
        "DAY" => 4,
        "FUNNEL" if parts.get(2) == Some(&"STAGE") => 4,
        "FUNNEL" => 2,
        "EEO" => 3,
        "TIS" if parts.get(2) == Some(&"exact") => 3,
        "TIS" => 2,
        "TOTALS" => 1,
        other => panic!("not a report counter: {other} in {sk}"),
    };
    match parts.len() - unsharded {
        0 => 0,
        1 => parts[unsharded].parse().unwrap_or_else(|_| panic!("{sk}")),
        _ => panic!("{sk}"),
    }
}

/// The report counters of a table: (partition, sort key), spend and the jobs' stage lists left out.
async fn counter_keys(app: &TestApp) -> Vec<(String, String)> {
    let text = |i: &std::collections::HashMap<_, aws_sdk_dynamodb::types::AttributeValue>, k: &str| {
        i.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
    };
    app.scan_table()
        .await
        .iter()
        .map(|i| (text(i, "pk"), text(i, "sk")))
        .filter(|(pk, sk)| pk.starts_with("STATS#") && !sk.starts_with("SPEND#") && sk != "FUNNEL#~STAGES")
        .collect()
}

#[tokio::test]
async fn reports_equal_a_recount_whatever_number_of_shards_wrote_each_counter() {
    use chrono::{Duration, TimeZone, Utc};
    use rapport::attribution::{Channel, TokenClaims};
    use rapport::clock::Clock;
    let start = Utc.with_ymd_and_hms(2026, 5, 4, 8, 0, 0).unwrap();
    let clock = std::sync::Arc::new(rapport::clock::FixedClock::new(start));
    // One table written by stacks with 1 shard (today's keys), then 8, then 3.
    let stacks = stacks_over_one_table(&[1, 8, 3], &clock).await;
    let first = &stacks[0];
    let token = first.token("recruiter").await;
    let job = first.open_job(&token, |b| b["asks_demographics"] = json!(true)).await;
    let steps = json!([{"after_days": 0, "content": {"kind": "jobs"}}]);
    let campaign = first.active_campaign(&token, json!({"name": "Shards", "segment": {}, "steps": steps})).await;
    let claims = TokenClaims {
        channel: Channel::CrmCampaign,
        source: campaign.to_lowercase(),
        campaign: Some(campaign.clone()),
    };
    let link =
        first.stack.state.signer().await.unwrap().sign("attribution", &claims, Some(start + Duration::days(365)));
    let sources = [
        json!({"utm_source": "indeed", "utm_medium": "job_board"}),
        json!({"utm_source": "anna", "utm_medium": "referral"}),
        json!({}),
        json!({"token": link}),
    ];
    let order = ["applied", "screen", "interview", "offer", "hired"];
    let mut seed = 11u64;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    // Open applications (id, stage, version), and each application's answer to the gender question.
    let mut open: Vec<(String, String, u64)> = Vec::new();
    let mut genders: BTreeMap<String, &str> = BTreeMap::new();
    for (round, app) in stacks.iter().enumerate() {
        // Each round within one day, every other day; the last day's counters end the reports' range.
        clock.set(start + Duration::days(2 * round as i64));
        let token = app.token("recruiter").await;
        for k in 0..14 {
            clock.advance(Duration::minutes(11));
            let gender = ["female", "male", "non_binary"][next(3) as usize];
            let body = json!({"first_name": "S", "last_name": "H", "email": format!("s{round}.{k}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase()),
                "consent": {"processing": true, "demographics": true}, "source": sources[next(4) as usize],
                "demographics": {"gender": gender, "veteran": "not_a_veteran"}});
            let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
            assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
            let id = res.json::<Value>().await.unwrap()["application_id"].as_str().unwrap().to_string();
            genders.insert(id.clone(), gender);
            open.push((id, "applied".into(), 1));
        }
        for k in 0..3 {
            let email = format!("d{round}.{k}.{}@example.com", ulid::Ulid::generate().to_string().to_lowercase());
            let res = app.post(&format!("/careers/jobs/{job}/drafts")).json(&json!({"email": email})).send().await;
            assert_eq!(res.unwrap().status(), 201);
        }
        // This stack moves applications that earlier stacks wrote too.
        for (id, stage, version) in std::mem::take(&mut open) {
            if next(3) == 0 {
                open.push((id, stage, version));
                continue;
            }
            clock.advance(Duration::minutes(1 + next(25) as i64));
            let to = if next(4) == 0 { "hired" } else { order[order.iter().position(|s| *s == stage).unwrap() + 1] };
            let res = app.transition(&token, &id, json!({"to": to, "expected_version": version})).await;
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
            if to != "hired" {
                open.push((id, to.to_string(), version + 1));
            }
        }
        let later = rapport::clock::rfc3339(clock.now() + Duration::hours(25));
        assert_eq!(app.post("/_local/run/drafts").query(&[("now", &later)]).send().await.unwrap().status(), 200);
        if round == 0 {
            let keys = counter_keys(app).await;
            assert!(
                keys.len() > 10 && keys.iter().all(|(_, sk)| shard_of(sk) == 0),
                "one shard: today's keys {keys:?}"
            );
        }
    }
    let shards: std::collections::BTreeSet<u32> =
        counter_keys(first).await.iter().map(|(_, sk)| shard_of(sk)).collect();
    assert!(shards.len() > 3 && shards.iter().all(|s| *s < 8), "{shards:?}");

    // The recount, from the applications and drafts themselves.
    let apps: Vec<rapport::application::Application> = first.docs("APP").await;
    assert_eq!(apps.len(), 42);
    let drafts: Vec<rapport::draft::Draft> = first.drafts().await;
    let hired = |a: &rapport::application::Application| a.history.iter().any(|h| h.to == "hired");
    let mut by_source: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut eeo: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let (mut in_stage, mut to_hire): (BTreeMap<String, Vec<i64>>, Vec<i64>) = Default::default();
    for a in &apps {
        let e = by_source.entry((a.attribution.channel.as_str().into(), a.attribution.source.clone())).or_default();
        (e.0, e.1) = (e.0 + 1, e.1 + u64::from(hired(a)));
        for cell in [("gender", genders[&a.id.to_string()]), ("veteran", "not_a_veteran")] {
            let e = eeo.entry((cell.0.into(), cell.1.into())).or_default();
            (e.0, e.1) = (e.0 + 1, e.1 + u64::from(hired(a)));
        }
        let mut entered = a.created_at;
        for h in &a.history {
            in_stage.entry(h.from.clone()).or_default().push((h.at - entered).num_seconds());
            entered = h.at;
            if h.to == "hired" {
                to_hire.push((h.at - a.created_at).num_seconds());
            }
        }
    }
    let eeo: Vec<_> = eeo.into_iter().map(|((q, a), (n, h))| (q, a, n, h)).collect();
    let from_campaign = apps.iter().filter(|a| a.attribution.campaign.as_deref() == Some(campaign.as_str()));
    let campaign_counts = (from_campaign.clone().count() as u64, from_campaign.filter(|a| hired(a)).count() as u64);
    let entered = |stage: &str| {
        apps.iter()
            .map(|a| usize::from(stage == "applied") + a.history.iter().filter(|h| h.to == stage).count())
            .sum::<usize>()
    };
    // To the last round's day: its shards sort after the unsharded `FUNNEL#<to>`.
    assert_eq!(clock.now().date_naive(), (start + Duration::days(4)).date_naive(), "each round within its day");
    let range = format!("from={}&to={}", start.date_naive(), clock.now().date_naive());

    // Every stack reads the same figures, whatever its own number of shards.
    for app in &stacks {
        let token = app.token("recruiter").await;
        let res = app.get(&format!("/api/reports/sources?group=source&job_id={job}&{range}")).bearer_auth(&token);
        let res = res.send().await.unwrap();
        assert_eq!(calls(&res).iter().filter(|c| c.ends_with(".Query")).count(), 1);
        let r: Value = res.json().await.unwrap();
        let got: BTreeMap<(String, String), (u64, u64)> = r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let k = (r["channel"].as_str().unwrap().into(), r["source"].as_str().unwrap().into());
                (k, (r["applicants"].as_u64().unwrap(), r["hires"].as_u64().unwrap()))
            })
            .collect();
        assert_eq!(got, by_source, "sources");

        let f = app.get_json(&format!("/api/reports/funnel?job_id={job}&{range}"), &token).await;
        let started = drafts.len() + apps.iter().filter(|a| a.draft_id.is_none()).count();
        let dropped = drafts.iter().filter(|d| d.status == rapport::draft::DraftStatus::Abandoned).count();
        assert_eq!(dropped, 9, "every draft was dropped");
        assert_eq!(
            (f["started"].as_u64(), f["submitted"].as_u64(), f["dropped"].as_u64()),
            (Some(started as u64), Some(42), Some(dropped as u64)),
            "{f}"
        );
        for s in f["stages"].as_array().unwrap() {
            let stage = s["stage"].as_str().unwrap();
            assert_eq!(s["entered"].as_u64(), Some(entered(stage) as u64), "{stage} entries: {f}");
        }

        let t = app.get_json(&format!("/api/reports/time-in-stage?job_id={job}"), &token).await;
        for s in t["stages"].as_array().unwrap() {
            let mut samples = in_stage.get(s["stage"].as_str().unwrap()).cloned().unwrap_or_default();
            let n = samples.len();
            assert_eq!(s["samples"].as_u64(), Some(n as u64), "{s}");
            for (field, q) in [("median_days", 0.5), ("p90_days", 0.9)] {
                // Under 100 samples: exact, from the exact samples of every shard.
                crate::recount::assert_close(&s[field], crate::recount::quantile(&mut samples, q), n, field);
            }
        }
        let mut hires = to_hire.clone();
        assert_eq!(t["time_to_hire"]["samples"].as_u64(), Some(hires.len() as u64));
        let exact = crate::recount::quantile(&mut hires, 0.5);
        crate::recount::assert_close(&t["time_to_hire"]["median_days"], exact, hires.len(), "to hire");

        let admin = app.token("admin").await;
        let d = app.get_json(&format!("/api/reports/demographics?job_id={job}"), &admin).await;
        assert_eq!(d["questions"], rapport::demographics::report(&eeo), "demographics");
        let c = app.get_json(&format!("/api/reports/nurture?campaign_id={campaign}"), &token).await;
        assert_eq!((c["applied"].as_u64().unwrap(), c["hired"].as_u64().unwrap()), campaign_counts, "{c}");
    }
}

#[tokio::test]
async fn with_eight_shards_the_counters_of_many_applications_spread_over_several_items() {
    let app = spawn_app_with(|o| o.counter_shards = 8).await;
    let token = app.token("recruiter").await;
    let job = app.open_job(&token, |_| {}).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(apply(&app, &job, n, json!({"utm_source": "indeed", "utm_medium": "job_board"})).await);
    }
    for id in &ids[..20] {
        let res = app.transition(&token, id, json!({"to": "screen", "expected_version": 1})).await;
        assert_eq!(res.status(), 200);
    }
    // One day, one source: without shards, one item each. With them, one of 8 per transaction.
    let keys = counter_keys(&app).await;
    let job_pk = format!("STATS#JOB#{job}");
    let is_stage = |sk: &str| sk.contains("#STAGE#");
    for (pk, prefix, stages) in [
        (job_pk.as_str(), "FUNNEL#", false),
        ("STATS#ALL", "DAY#", false),
        (&job_pk, "FUNNEL#", true),
        (&job_pk, "TIS#", false),
    ] {
        let shards: std::collections::BTreeSet<u32> = keys
            .iter()
            .filter(|(p, sk)| p == pk && sk.starts_with(prefix) && is_stage(sk) == stages)
            .map(|(_, sk)| shard_of(sk))
            .collect();
        assert!(shards.len() > 2 && shards.iter().all(|s| *s < 8), "{pk} {prefix} (stages: {stages}): {shards:?}");
    }
    let r = app.get_json(&format!("/api/reports/sources?job_id={job}"), &token).await;
    assert_eq!((r["totals"]["applicants"].as_u64(), r["totals"]["hires"].as_u64()), (Some(40), Some(0)));
    let f = app.get_json(&format!("/api/reports/funnel?job_id={job}"), &token).await;
    assert_eq!((f["started"].as_u64(), f["submitted"].as_u64()), (Some(40), Some(40)));
    assert_eq!(f["stages"][1]["entered"].as_u64(), Some(20));
    let t = app.get_json(&format!("/api/reports/time-in-stage?job_id={job}"), &token).await;
    assert_eq!(t["stages"][0]["samples"].as_u64(), Some(20));
}
