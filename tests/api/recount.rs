//! Every report against a recount of the raw records, over a long random history: thousands of
//! applications from mixed sources, drafts that are submitted or dropped, random moves, many days.
use crate::helpers::*;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rapport::application::Application;
use rapport::draft::{Draft, DraftStatus};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const DAYS: i64 = 40;
const APPLICATIONS_PER_DAY: u64 = 60;

/// A small deterministic generator, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn touchpoints(app: &TestApp, job: &str) -> Vec<Value> {
    let page = format!("{}/careers/jobs/{job}", app.url);
    vec![
        // Rapport's own links: the feeds' tracked URLs and the career site itself.
        json!({"landing_url": format!("{page}?utm_source=indeed&utm_medium=job_board")}),
        json!({"landing_url": format!("{page}?utm_source=linkedin&utm_medium=job_board")}),
        json!({"landing_url": page}),
        json!({"utm_source": "anna", "utm_medium": "referral"}),
        json!({"referrer": "https://www.google.com/search?q=nurse"}),
        json!({"referrer": "https://blog.example.org/post"}),
        json!({"utm_source": "=cmd|' /C calc'!A0", "utm_medium": "paid"}),
        // Nothing at all: the only way to be unattributed.
        json!({}),
    ]
}

/// Where each stage goes next at random: on, back, hired, or out.
fn random_move(rng: &mut Rng, stage: &str) -> Value {
    let order = ["applied", "screen", "interview", "offer", "hired"];
    let at = order.iter().position(|s| *s == stage).unwrap();
    match rng.below(10) {
        0..=5 => json!({"to": order[at + 1]}),
        6 if at > 1 => json!({"to": order[at - 1]}),
        6 | 7 => json!({"to": "hired"}),
        8 => {
            json!({"to": "rejected", "reason": {"category": "rejected_by_org", "code": "preferred_another_candidate"}})
        }
        _ => json!({"to": "withdrawn", "reason": {"category": "rejected_by_candidate", "code": "timing"}}),
    }
}

fn day(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

/// Nearest-rank quantile of exact durations, in days.
pub(crate) fn quantile(samples: &mut [i64], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort();
    let rank = ((q * samples.len() as f64).ceil() as usize).max(1);
    Some(samples[rank - 1] as f64 / 86_400.0)
}

/// Within the documented bound (5%) of the exact figure, or equal to it (to the reported 0.01 day) for
/// stages with fewer than 100 samples, which are kept exactly.
pub(crate) fn assert_close(got: &Value, exact: Option<f64>, samples: usize, what: &str) {
    match exact {
        None => assert!(got.is_null(), "{what}: {got}"),
        Some(x) => {
            let g = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
            let bound = if samples < 100 { 0.005 } else { 0.05 * x + 0.005 };
            assert!((g - x).abs() <= bound, "{what}: reported {g}, recount {x} ({samples} samples)");
        }
    }
}

#[tokio::test]
async fn every_report_equals_a_recount_of_a_long_random_history() {
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
    let clock = std::sync::Arc::new(rapport::clock::FixedClock::new(start));
    let shared: rapport::SharedClock = clock.clone();
    // The report counters over 5 shards: every figure below is a sum over shards.
    let app = spawn_app_with(|o| {
        o.clock = Some(shared);
        o.counter_shards = 5;
    })
    .await;
    let token = app.token("recruiter").await;
    let mut jobs = Vec::new();
    for title in ["Registered Nurse", "Porter", "Pharmacist"] {
        let mut body = job_body();
        body["title"] = json!(title);
        let id = app.create_job(&token, body).await["id"].as_str().unwrap().to_string();
        app.publish(&token, &id).await;
        jobs.push(id);
    }
    let mut rng = Rng(2026);
    // Open applications: id, stage, version.
    let mut open: Vec<(String, String, u64)> = Vec::new();
    let mut person = 0u64;
    let mut sent_without_source = 0u64;
    for d in 0..DAYS {
        let morning = start + Duration::days(d);
        for k in 0..APPLICATIONS_PER_DAY {
            person += 1;
            clock.set(morning + Duration::minutes((k * 11 + rng.below(10)) as i64));
            let job = &jobs[rng.below(jobs.len() as u64) as usize];
            let email = format!("p{person}@example.com");
            let tps = touchpoints(&app, job);
            let source = tps[rng.below(tps.len() as u64) as usize].clone();
            let without_source = source == json!({});
            let mut body = json!({"first_name": "P", "last_name": "Q", "email": email,
                                  "consent": {"processing": true}, "source": source});
            if rng.chance(20) {
                let res = app
                    .post(&format!("/careers/jobs/{job}/drafts"))
                    .json(&json!({"email": email, "source": source}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
                let draft: Value = res.json().await.unwrap();
                if rng.chance(50) {
                    // Dropped off: the drafts task abandons it a day later.
                    continue;
                }
                body["draft_id"] = draft["draft_id"].clone();
                clock.advance(Duration::minutes(rng.below(30) as i64));
            }
            let res = app.post(&format!("/careers/jobs/{job}/applications")).json(&body).send().await.unwrap();
            assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
            let id = res.json::<Value>().await.unwrap()["application_id"].as_str().unwrap().to_string();
            open.push((id, "applied".into(), 1));
            sent_without_source += u64::from(without_source);
        }
        // In the afternoon, a random share of the open applications moves.
        let afternoon = morning + Duration::hours(6);
        let mut still_open = Vec::new();
        for (n, (id, stage, version)) in std::mem::take(&mut open).into_iter().enumerate() {
            if !rng.chance(30) {
                still_open.push((id, stage, version));
                continue;
            }
            clock.set(afternoon + Duration::seconds(n as i64 * 7 + rng.below(3600) as i64));
            let mut body = random_move(&mut rng, &stage);
            body["expected_version"] = json!(version);
            let res = app
                .post(&format!("/api/applications/{id}/transitions"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let moved: Value = res.json().await.unwrap();
            assert_eq!(status, 200, "{id} {stage} v{version} {body}: {moved}");
            if moved["status"] == "active" {
                still_open.push((id, moved["stage"].as_str().unwrap().to_string(), moved["version"].as_u64().unwrap()));
            }
        }
        open = still_open;
        let evening = rapport::clock::rfc3339(morning + Duration::hours(15));
        let res = app.post("/_local/run/drafts").query(&[("now", &evening)]).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let after = rapport::clock::rfc3339(start + Duration::days(DAYS + 2));
    app.post("/_local/run/drafts").query(&[("now", &after)]).send().await.unwrap();

    // The raw records, read behind the API's back.
    let apps: Vec<Application> = app.docs("APP").await;
    let drafts: Vec<Draft> = app.drafts().await;
    assert!(apps.len() > 2000, "a history of thousands: {} applications", apps.len());
    assert!(drafts.iter().any(|d| d.status == DraftStatus::Abandoned));

    // Only what arrived with no trace at all is unattributed: Rapport's own links always credit a source.
    let unattributed = apps.iter().filter(|a| a.attribution.channel.as_str() == "unattributed").count() as u64;
    assert_eq!(unattributed, sent_without_source);

    let first = day(start);
    let last = day(start + Duration::days(DAYS - 1));
    let middle = (first + Duration::days(10), first + Duration::days(24));
    for (from, to) in [(first, last), middle] {
        let in_range = |t: DateTime<Utc>| (from..=to).contains(&day(t));
        for job in jobs.iter().map(Some).chain([None]) {
            let of_job = |a: &&Application| job.is_none_or(|j| a.job_id.to_string() == *j);
            let filter = |q: &str| match job {
                Some(j) => format!("{q}&from={from}&to={to}&job_id={j}"),
                None => format!("{q}&from={from}&to={to}"),
            };
            // Sources, by channel and by source.
            for group in ["channel", "source"] {
                let mut recount: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
                for a in apps.iter().filter(of_job) {
                    let at = &a.attribution;
                    let k = (
                        at.channel.as_str().to_string(),
                        if group == "source" { at.source.clone() } else { String::new() },
                    );
                    let hires = a.history.iter().filter(|h| h.to == "hired" && in_range(h.at)).count() as u64;
                    let applied = u64::from(in_range(a.created_at));
                    if applied + hires > 0 {
                        let e = recount.entry(k).or_default();
                        e.0 += applied;
                        e.1 += hires;
                    }
                }
                let res = app
                    .get(&filter(&format!("/api/reports/sources?group={group}")))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                let queries = calls(&res).iter().filter(|c| c.ends_with(".Query")).count();
                assert!(queries <= 2, "one query over counters and one for spend: {:?}", calls(&res));
                assert!(!calls(&res).iter().any(|c| c.ends_with(".Scan")));
                let r: Value = res.json().await.unwrap();
                let got: BTreeMap<(String, String), (u64, u64)> = r["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["applicants"].as_u64() != Some(0) || r["hires"].as_u64() != Some(0))
                    .map(|r| {
                        let k = (
                            r["channel"].as_str().unwrap().to_string(),
                            r["source"].as_str().unwrap_or("").to_string(),
                        );
                        (k, (r["applicants"].as_u64().unwrap(), r["hires"].as_u64().unwrap()))
                    })
                    .collect();
                assert_eq!(got, recount, "sources by {group} from {from} to {to}, job {job:?}");
            }
            let Some(job) = job else { continue };
            // The funnel.
            let started = drafts.iter().filter(|d| d.job_id.to_string() == *job && in_range(d.created_at)).count()
                + apps.iter().filter(of_job).filter(|a| a.draft_id.is_none() && in_range(a.created_at)).count();
            let submitted = apps.iter().filter(of_job).filter(|a| in_range(a.created_at)).count();
            let dropped = drafts
                .iter()
                .filter(|d| {
                    d.job_id.to_string() == *job && d.status == DraftStatus::Abandoned && in_range(d.created_at)
                })
                .count();
            let res = app.get(&filter("/api/reports/funnel?")).bearer_auth(&token).send().await.unwrap();
            assert!(calls(&res).iter().filter(|c| c.ends_with(".Query")).count() <= 2, "{:?}", calls(&res));
            let f: Value = res.json().await.unwrap();
            assert_eq!(
                (f["started"].as_u64(), f["submitted"].as_u64(), f["dropped"].as_u64()),
                (Some(started as u64), Some(submitted as u64), Some(dropped as u64)),
                "funnel from {from} to {to}"
            );
            for s in f["stages"].as_array().unwrap() {
                let stage = s["stage"].as_str().unwrap();
                let entered = apps
                    .iter()
                    .filter(of_job)
                    .map(|a| {
                        let created = usize::from(stage == "applied" && in_range(a.created_at));
                        created + a.history.iter().filter(|h| h.to == stage && in_range(h.at)).count()
                    })
                    .sum::<usize>();
                assert_eq!(s["entered"].as_u64(), Some(entered as u64), "{stage} entries from {from} to {to}");
            }
        }
    }

    // Time in stage and to hire: all time, per job.
    for job in &jobs {
        let mut in_stage: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut to_hire = Vec::new();
        for a in apps.iter().filter(|a| a.job_id.to_string() == *job) {
            let mut entered = a.created_at;
            for h in &a.history {
                in_stage.entry(h.from.clone()).or_default().push((h.at - entered).num_seconds());
                entered = h.at;
                if h.to == "hired" {
                    to_hire.push((h.at - a.created_at).num_seconds());
                }
            }
        }
        let res =
            app.get(&format!("/api/reports/time-in-stage?job_id={job}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(calls(&res).iter().filter(|c| c.ends_with(".Query")).count(), 1);
        let r: Value = res.json().await.unwrap();
        for s in r["stages"].as_array().unwrap() {
            let stage = s["stage"].as_str().unwrap();
            let mut samples = in_stage.remove(stage).unwrap_or_default();
            assert_eq!(s["samples"].as_u64(), Some(samples.len() as u64), "{stage}: {s}");
            let n = samples.len();
            assert_close(&s["median_days"], quantile(&mut samples, 0.5), n, &format!("{stage} median"));
            assert_close(&s["p90_days"], quantile(&mut samples, 0.9), n, &format!("{stage} p90"));
        }
        let t = &r["time_to_hire"];
        let n = to_hire.len();
        assert!(n > 0);
        assert_eq!(t["samples"].as_u64(), Some(n as u64));
        assert_close(&t["median_days"], quantile(&mut to_hire, 0.5), n, "time to hire median");
        assert_close(&t["p90_days"], quantile(&mut to_hire, 0.9), n, "time to hire p90");
    }

    // Exact durations are kept per shard until that shard's exact item holds EXACT_SAMPLES: the busy
    // stages filled some, and none grew past it.
    let exact: Vec<u64> = app
        .scan_table()
        .await
        .iter()
        .filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk.contains("#exact")))
        .map(|i| {
            i.iter()
                .filter(|(k, _)| k.strip_prefix('x').is_some_and(|s| s.parse::<u64>().is_ok()))
                .map(|(_, v)| v.as_n().unwrap().parse::<u64>().unwrap())
                .sum()
        })
        .collect();
    let most = rapport::store::EXACT_SAMPLES;
    assert!(exact.iter().all(|n| *n <= most) && exact.contains(&most), "{exact:?}");
}
