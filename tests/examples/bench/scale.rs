//! Flat with size: apply, move and the reports on a table holding `BASE_ITEMS` items and on one ten
//! times as full, each on a stack of its own, the two measured in turn in one run.
//!
//! The tables are filled alike: the same few applications, moves and prospects made through the
//! routes on each stack, then those items copied with fresh ids (and the email hashes of fresh
//! addresses, so every key stays consistent) by `BatchWriteItem` until the table holds its size.
//!
//! The emulator's time is not DynamoDB's: moto answers every `Query` by walking the whole table (its
//! gets, batch gets and transactions look items up by key), so a report's time there grows with the
//! table where DynamoDB's does not. Times are printed, but the goal is judged on what sets
//! DynamoDB's time and bill whatever else the table holds: the AWS calls of each operation and the
//! items they read (a query's `ScannedCount`, the items a get found), counted by a relay in front of
//! the emulator ([`reads`]) that both stacks go through.
mod reads;

use super::{calls, options};
use futures_util::{stream, StreamExt, TryStreamExt};
use rapport_local::{spawn, Stack};
use reads::Reads;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

type Item = HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// Items in the smaller table. Large enough that the template's items are a small part of it, small
/// enough that both tables (22,000 items in all) fill in seconds and the emulator's full-table walks
/// keep the section to a minute or two on a small machine.
const BASE_ITEMS: usize = 2_000;
const TIMES: usize = 10;
/// Applications (then moves) measured on each stack, one on each in turn.
const SAMPLES: usize = 40;
/// Reads of each report on each stack.
const REPORT_SAMPLES: usize = 10;
const GOAL: f64 = 1.1;
/// Applicants of the template (each consenting to the talent pool), and sourced prospects.
const APPLICANTS: usize = 8;
const PROSPECTS: usize = 4;

const OPERATIONS: [&str; 4] = ["apply (new application)", "move an application", "sources report", "funnel report"];

/// One operation's samples on one stack: (ms, AWS calls, items read).
type Samples = Vec<(f64, usize, u64)>;

struct Sized {
    stack: Stack,
    reads: Reads,
    token: String,
    items: usize,
    /// Copies of the template, and a copy's items by the kind its key starts with.
    copies: usize,
    copied: BTreeMap<String, usize>,
    job: String,
    apps: Vec<String>,
    samples: HashMap<&'static str, Samples>,
}

pub async fn scale(moto_url: &str) -> anyhow::Result<Value> {
    let start = Instant::now();
    // Ten times what the first table came to, its template and the copies' granularity included.
    let small = Sized::filled(moto_url, BASE_ITEMS).await?;
    let large = Sized::filled(moto_url, small.items * TIMES).await?;
    let mut sized = [small, large];
    let filled = start.elapsed().as_secs_f64();
    let http = reqwest::Client::new();
    for s in &mut sized {
        s.job = s.published_job(&http).await?;
    }
    // Each operation on one stack then the other, so a busy moment of the machine hits both alike.
    for i in 0..SAMPLES {
        for s in &mut sized {
            let body = json!({"first_name": "S", "last_name": "M", "email": format!("measured{i}@example.com"),
                "consent": {"processing": true, "talent_pool": true}, "source": {"utm_source": "indeed", "utm_medium": "job_board"}});
            let url = format!("{}/careers/jobs/{}/applications", s.stack.url, s.job);
            let v = s.timed(OPERATIONS[0], http.post(url).json(&body)).await?;
            s.apps.push(v["application_id"].as_str().unwrap_or_default().to_string());
        }
    }
    for i in 0..SAMPLES {
        for s in &mut sized {
            let url = format!("{}/api/applications/{}/transitions", s.stack.url, s.apps[i]);
            let req = http.post(url).bearer_auth(&s.token).json(&json!({"to": "screen", "expected_version": 1}));
            s.timed(OPERATIONS[1], req).await?;
        }
    }
    for _ in 0..REPORT_SAMPLES {
        for s in &mut sized {
            for (op, path) in [(OPERATIONS[2], "sources"), (OPERATIONS[3], "funnel")] {
                let url = format!("{}/api/reports/{path}?job_id={}", s.stack.url, s.job);
                s.timed(op, http.get(url).bearer_auth(&s.token)).await?;
            }
        }
    }
    let out = report(&sized, filled, start.elapsed().as_secs_f64());
    for s in sized {
        s.stack.stop().await;
        s.reads.stop();
    }
    Ok(out)
}

impl Sized {
    /// A stack behind its own relay, its table filled to about `target` items.
    async fn filled(moto_url: &str, target: usize) -> anyhow::Result<Self> {
        let reads = Reads::start(moto_url).await?;
        let stack = spawn(options(&reads.url, 8)?).await?;
        let http = reqwest::Client::new();
        let token: Value = http
            .post(format!("{}/_local/token", stack.url))
            .json(&json!({"role": "recruiter"}))
            .send()
            .await?
            .json()
            .await?;
        let token = token["token"].as_str().unwrap_or_default().to_string();
        let mut s = Sized {
            stack,
            reads,
            token,
            items: 0,
            copies: 0,
            copied: BTreeMap::new(),
            job: String::new(),
            apps: Vec::new(),
            samples: HashMap::new(),
        };
        let people = s.template(&http).await?;
        s.items = s.fill(target, &people).await?;
        Ok(s)
    }

    async fn published_job(&self, http: &reqwest::Client) -> anyhow::Result<String> {
        let url = &self.stack.url;
        let job = json!({"title": "Ward Nurse", "department": "Nursing",
            "location": {"city": "Leeds", "region": "West Yorkshire", "country": "GB"}, "workplace": "onsite",
            "employment_type": "full_time", "salary": {"min": 32000, "max": 38000, "currency": "GBP", "period": "year"},
            "description_html": format!("<p>{}</p>", "Care for patients on a busy surgical ward. ".repeat(20))});
        let created: Value =
            http.post(format!("{url}/api/jobs")).bearer_auth(&self.token).json(&job).send().await?.json().await?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        let res = http.post(format!("{url}/api/jobs/{id}/publish")).bearer_auth(&self.token).send().await?;
        anyhow::ensure!(res.status() == 200, "publishing: {}", res.status());
        Ok(id)
    }

    /// What the copies are made from, through the routes: a job, applicants from several sources (some
    /// moved on, one rejected and kept in touch), sourced prospects, and the events function's run.
    /// Returns the people's addresses.
    async fn template(&self, http: &reqwest::Client) -> anyhow::Result<Vec<String>> {
        let url = &self.stack.url;
        let job = self.published_job(http).await?;
        let sources = [
            json!({"utm_source": "indeed", "utm_medium": "job_board"}),
            json!({"utm_source": "linkedin", "utm_medium": "job_board"}),
            json!({"utm_source": "anna.k", "utm_medium": "referral"}),
            json!({"referrer": "https://www.facebook.com/"}),
        ];
        let moves: [&[&str]; 4] = [&[], &["screen"], &["screen", "interview"], &["screen", "rejected"]];
        let mut people = Vec::new();
        for i in 0..APPLICANTS {
            let email = format!("tplapplicant{i}@example.com");
            let body = json!({"first_name": "Tpl", "last_name": format!("Applicant {i}"), "email": email,
                "consent": {"processing": true, "talent_pool": true}, "source": sources[i % sources.len()]});
            let res = http.post(format!("{url}/careers/jobs/{job}/applications")).json(&body).send().await?;
            anyhow::ensure!(res.status().is_success(), "template application: {}", res.status());
            let app = res.json::<Value>().await?["application_id"].as_str().unwrap_or_default().to_string();
            for (v, to) in moves[i % moves.len()].iter().enumerate() {
                let mut body = json!({"to": to, "expected_version": v + 1});
                if *to == "rejected" {
                    body["reason"] = json!({"category": "rejected_by_org", "code": "preferred_another_candidate"});
                    body["keep_in_touch"] = json!(true);
                }
                let res = http
                    .post(format!("{url}/api/applications/{app}/transitions"))
                    .bearer_auth(&self.token)
                    .json(&body)
                    .send()
                    .await?;
                anyhow::ensure!(res.status().is_success(), "template move: {}", res.status());
            }
            people.push(email);
        }
        for i in 0..PROSPECTS {
            let email = format!("tplprospect{i}@example.com");
            let body = json!({"email": email, "first_name": "Tpl", "consent": true, "tags": ["nursing"],
                "interests": {"departments": ["Nursing"]}});
            let res = http.post(format!("{url}/api/prospects")).bearer_auth(&self.token).json(&body).send().await?;
            anyhow::ensure!(res.status().is_success(), "template prospect: {}", res.status());
            people.push(email);
        }
        http.post(format!("{url}/_local/run/events")).send().await?;
        Ok(people)
    }

    /// Copies the template's items, each copy with fresh ids and people, 25 to a `BatchWriteItem`,
    /// until the table holds about `target` items. Items whose key no id is part of (the all-jobs
    /// counters, the feeds' state) are not copied. Returns the table's item count.
    async fn fill(&mut self, target: usize, people: &[String]) -> anyhow::Result<usize> {
        let (db, table) = (&self.stack.aws.dynamo(), &self.stack.state.config.table);
        let mut template: Vec<Item> = Vec::new();
        let mut pages = db.scan().table_name(table).into_paginator().send();
        while let Some(page) = pages.next().await {
            template.extend(page?.items.unwrap_or_default());
        }
        let mut held = template.len();
        let hasher = self.stack.state.hasher().await?;
        let hash = |email: &str| -> anyhow::Result<String> {
            let e = rapport::email::Email::parse(email).map_err(|e| anyhow::anyhow!("{email}: {e}"))?;
            Ok(hasher.email(&e).as_str().to_string())
        };
        let (mut puts, mut kinds) = (Vec::new(), BTreeMap::<String, usize>::new());
        let mut copy = 0;
        while held < target {
            let mut fresh = Fresh::default();
            for (k, email) in people.iter().enumerate() {
                let local = format!("fill{copy}p{k}");
                let (old, new) = (email.split('@').next().unwrap_or_default(), format!("{local}@example.com"));
                fresh.map.insert(old.to_string(), local);
                fresh.map.insert(hash(email)?, hash(&new)?);
            }
            for item in &template {
                let copied: Item = item.iter().map(|(k, v)| (k.clone(), fresh.value(v))).collect();
                if copied.get("pk") == item.get("pk") && copied.get("sk") == item.get("sk") {
                    continue;
                }
                if copy == 0 {
                    let pk = copied.get("pk").and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or_default();
                    *kinds.entry(pk.split('#').next().unwrap_or_default().to_string()).or_default() += 1;
                }
                puts.push(
                    aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(aws_sdk_dynamodb::types::PutRequest::builder().set_item(Some(copied)).build()?)
                        .build(),
                );
                held += 1;
            }
            copy += 1;
        }
        let batches: Vec<Vec<_>> = puts.chunks(25).map(<[_]>::to_vec).collect();
        stream::iter(batches)
            .map(|batch| async move {
                let out = db.batch_write_item().request_items(table, batch).send().await?;
                let left = out.unprocessed_items.map(|u| u.values().map(Vec::len).sum::<usize>()).unwrap_or(0);
                anyhow::ensure!(left == 0, "{left} items left unprocessed");
                anyhow::Ok(())
            })
            .buffer_unordered(4)
            .try_collect::<Vec<()>>()
            .await?;
        // The copies' keys hold together: a copied person is found by their address.
        let last: rapport::email::EmailHash = hash(&format!("fill{}p{}@example.com", copy - 1, people.len() - 1))?
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(self.stack.state.store.prospect(&last).await?.is_some(), "a copied prospect is missing");
        let described = db.describe_table().table_name(table).send().await?;
        (self.copies, self.copied) = (copy, kinds);
        Ok(described.table.and_then(|t| t.item_count).unwrap_or(held as i64) as usize)
    }

    /// Sends one request and keeps its time, AWS calls and items read under `op`.
    async fn timed(&mut self, op: &'static str, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let before = self.reads.items();
        let start = Instant::now();
        let res = req.send().await?;
        let took = start.elapsed().as_secs_f64() * 1000.0;
        let status = res.status();
        let n = calls(&res);
        let body: Value = res.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "{op}: {status} {body}");
        self.samples.entry(op).or_default().push((took, n, self.reads.items() - before));
        Ok(body)
    }
}

/// One copy's replacements: every id (a ULID) for a fresh one, every other 40-hex-digit hash for a
/// fresh one, and the template's people (their addresses' local parts and hashes) as `map` says.
#[derive(Default)]
struct Fresh {
    map: HashMap<String, String>,
}

impl Fresh {
    fn value(&mut self, v: &aws_sdk_dynamodb::types::AttributeValue) -> aws_sdk_dynamodb::types::AttributeValue {
        use aws_sdk_dynamodb::types::AttributeValue as A;
        match v {
            A::S(s) => A::S(self.text(s)),
            A::Ss(ss) => A::Ss(ss.iter().map(|s| self.text(s)).collect()),
            A::L(l) => A::L(l.iter().map(|v| self.value(v)).collect()),
            A::M(m) => A::M(m.iter().map(|(k, v)| (k.clone(), self.value(v))).collect()),
            other => other.clone(),
        }
    }

    /// The text with each alphanumeric run replaced when it is an id, a hash or a template person.
    fn text(&mut self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut run = String::new();
        for c in s.chars() {
            if c.is_ascii_alphanumeric() {
                run.push(c);
                continue;
            }
            if !run.is_empty() {
                out.push_str(&self.token(&run));
                run.clear();
            }
            out.push(c);
        }
        if !run.is_empty() {
            out.push_str(&self.token(&run));
        }
        out
    }

    fn token(&mut self, t: &str) -> String {
        if let Some(m) = self.map.get(t) {
            return m.clone();
        }
        let ulid = t.len() == 26 && t.parse::<ulid::Ulid>().is_ok() && t.bytes().all(|b| !b.is_ascii_lowercase());
        let hex = t.len() == 40 && t.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !(ulid || hex) {
            return t.to_string();
        }
        let new = if ulid {
            ulid::Ulid::generate().to_string()
        } else {
            format!("{:032x}{:08x}", ulid::Ulid::generate().0, ulid::Ulid::generate().0 as u32)
        };
        self.map.insert(t.to_string(), new.clone());
        new
    }
}

fn p50(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

/// 10x over 1x; two zeros are level.
fn ratio(small: f64, large: f64) -> f64 {
    if small == 0.0 && large == 0.0 {
        1.0
    } else {
        large / small
    }
}

fn report(sized: &[Sized], filled: f64, total: f64) -> Value {
    let (small, large) = (sized[0].items, sized[1].items);
    println!();
    println!(
        "flat with size: tables of {small} and {large} items ({:.1}x, filled in {filled:.0} s of {total:.0}), \
         {SAMPLES} applications and moves, {REPORT_SAMPLES} reads of each report on each, in turn",
        large as f64 / small.max(1) as f64
    );
    let kinds: Vec<String> = sized[0].copied.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!(
        "made through the routes on each stack: a job, {APPLICANTS} applicants (some moved on), {PROSPECTS} sourced \
         prospects; copied {} and {} times with fresh ids, {} items a copy by key ({})",
        sized[0].copies,
        sized[1].copies,
        sized[0].copied.values().sum::<usize>(),
        kinds.join(", ")
    );
    println!(
        "{:<26} {:>8} {:>8} {:>7} {:>9} {:>11} {:>7} {:>12}",
        "operation", "p50 1x", "p50 10x", "time x", "calls", "items read", "cost x", "goal <=1.1x"
    );
    let mut rows = Vec::new();
    for op in OPERATIONS {
        let figures = |s: &Sized| {
            let samples = s.samples.get(op).cloned().unwrap_or_default();
            let mut ms: Vec<f64> = samples.iter().map(|x| x.0).collect();
            let mut calls: Vec<f64> = samples.iter().map(|x| x.1 as f64).collect();
            let mut items: Vec<f64> = samples.iter().map(|x| x.2 as f64).collect();
            (p50(&mut ms), p50(&mut calls), p50(&mut items))
        };
        let (a, b) = (figures(&sized[0]), figures(&sized[1]));
        let cost = ratio(a.1, b.1).max(ratio(a.2, b.2));
        let met = cost <= GOAL;
        println!(
            "{op:<26} {:>8.1} {:>8.1} {:>7.2} {:>9} {:>11} {:>7.2} {:>12}",
            a.0,
            b.0,
            ratio(a.0, b.0),
            format!("{}/{}", a.1, b.1),
            format!("{}/{}", a.2, b.2),
            cost,
            if met { "met" } else { "missed" }
        );
        rows.push(json!({"operation": op, "p50_ms_1x": a.0, "p50_ms_10x": b.0, "time_ratio": ratio(a.0, b.0),
            "aws_calls_1x": a.1, "aws_calls_10x": b.1, "items_read_1x": a.2, "items_read_10x": b.2,
            "ratio": cost, "goal": GOAL, "met": met}));
    }
    println!(
        "p50 in ms through the emulator; calls and items read: medians per request, 1x/10x. The goal is judged \
         on cost x, the larger of the calls' and the items' ratio: what DynamoDB's time and bill follow. \
         time x is the emulator's (both stacks through the same counting relay), and moto walks the whole \
         table for every Query, so a report's time grows with the table there and not in DynamoDB."
    );
    json!({"items_1x": small, "items_10x": large, "samples": SAMPLES, "report_samples": REPORT_SAMPLES,
           "copies_1x": sized[0].copies, "copies_10x": sized[1].copies,
           "copy_items": sized[0].copied, "fill_seconds": filled, "seconds": total, "goal": GOAL, "rows": rows})
}
