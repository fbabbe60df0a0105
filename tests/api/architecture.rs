//! The layers, as the compiler cannot enforce them all: the domain crate links no runtime, web or AWS
//! crate; no module imports a module that imports it back; use cases and functions name no SDK.
//! These read the source tree and `cargo tree`; they need no emulator.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every `.rs` file below `dir`, by module path (`store::jobs`, `feed`), with its text up to its
/// unit tests (test modules may import anything). A function's `main.rs` is a crate of its own that
/// only calls the library, so it is left out.
fn modules(dir: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("main.rs") {
                let rel = path.strip_prefix(base).unwrap().with_extension("");
                let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_string();
                out.insert(parts.join("::"), code);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The modules each module names through `crate::…` or `super::…`, outside comments.
fn imports(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (name, text) in mods {
        let mut deps = BTreeSet::new();
        let parent: Vec<&str> = name.split("::").filter(|p| !p.is_empty()).collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        for line in text.lines().map(|l| l.split("//").next().unwrap_or_default()) {
            for (prefix, base) in [("crate::", &[][..]), ("super::", parent)] {
                for (i, _) in line.match_indices(prefix) {
                    let before = line[..i].chars().last();
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        continue;
                    }
                    let path: Vec<&str> = line[i + prefix.len()..]
                        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                        .next()
                        .unwrap_or_default()
                        .split("::")
                        .collect();
                    // The longest prefix that is a module, other than this one or its own parents.
                    let target = (1..=path.len()).rev().find_map(|k| {
                        let m = base.iter().copied().chain(path[..k].iter().copied()).collect::<Vec<_>>().join("::");
                        (mods.contains_key(&m) && m != *name && !name.starts_with(&format!("{m}::"))).then_some(m)
                    });
                    deps.extend(target);
                }
            }
        }
        graph.insert(name.clone(), deps);
    }
    graph
}

/// A cycle in the graph, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, bool>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(true) => return None,
            Some(false) => {
                let from = stack.iter().position(|s| s == n).unwrap();
                return Some(stack[from..].iter().cloned().chain([n.to_string()]).collect());
            }
            None => {}
        }
        state.insert(n.to_string(), false);
        stack.push(n.to_string());
        for d in &graph[n] {
            if let Some(c) = visit(d, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), true);
        None
    }
    let mut state = BTreeMap::new();
    graph.keys().find_map(|n| visit(n, graph, &mut state, &mut Vec::new()))
}

fn crate_dirs() -> Vec<PathBuf> {
    let root = root();
    let mut dirs = vec![root.join("shared/domain/src"), root.join("shared/src"), root.join("infra/local/src")];
    for f in std::fs::read_dir(root.join("functions")).unwrap() {
        dirs.push(f.unwrap().path().join("src"));
    }
    dirs
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    for dir in crate_dirs() {
        let graph = imports(&modules(&dir));
        assert!(!graph.is_empty(), "{} read no modules", dir.display());
        if let Some(c) = cycle(&graph) {
            panic!("import circle in {}: {}", dir.display(), c.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mods = BTreeMap::from([
        ("a".to_string(), "use crate::b::X;".to_string()),
        ("b".to_string(), "fn f() { crate::c::g() } // crate::a is only a comment".to_string()),
        ("c".to_string(), "use super::a;".to_string()),
        ("d".to_string(), "use crate::a;".to_string()),
    ]);
    assert_eq!(cycle(&imports(&mods)), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    let mut acyclic = mods.clone();
    acyclic.insert("c".into(), String::new());
    assert_eq!(cycle(&imports(&acyclic)), None);
}

/// Crates the domain may never link, directly or through another crate.
const NOT_IN_THE_DOMAIN: [&str; 6] = ["tokio", "axum", "lambda_http", "lambda_runtime", "aws-", "hyper"];

#[test]
fn the_domain_crate_links_no_runtime_web_or_aws_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "--offline", "--locked", "-p", "rapport-domain", "-e", "normal", "--prefix", "none"])
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.lines().any(|l| l.starts_with("serde_json ")), "cargo tree listed nothing: {tree}");
    let linked: Vec<&str> = tree.lines().filter(|l| NOT_IN_THE_DOMAIN.iter().any(|bad| l.starts_with(bad))).collect();
    assert!(linked.is_empty(), "the domain links {linked:?}");
}

/// Lines of `dir`'s shipped code (not unit tests) that contain any of `words`.
fn naming(dir: &Path, words: &[&str]) -> Vec<String> {
    modules(dir)
        .into_iter()
        .flat_map(|(m, text)| {
            text.lines()
                .filter(|l| !l.trim_start().starts_with("//") && words.iter().any(|w| l.contains(w)))
                .map(|l| format!("{m}: {}", l.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn use_cases_name_no_sdk_and_no_http_type() {
    let found = naming(&root().join("shared/src/app"), &["aws_sdk_", "aws_smithy", "axum::", "lambda_http", "http::"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn functions_reach_aws_only_through_the_ports() {
    let mut found = Vec::new();
    for f in std::fs::read_dir(root().join("functions")).unwrap() {
        let dir = f.unwrap().path();
        found.extend(naming(&dir.join("src"), &["aws_sdk_", "aws_smithy"]));
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        found.extend(manifest.lines().filter(|l| l.starts_with("aws-")).map(|l| format!("{}: {l}", dir.display())));
    }
    assert!(found.is_empty(), "{found:#?}");
}

/// Whether a line holds a table key's prefix in a string: `"EMAIL#…`, `"APP#…`.
fn names_a_table_key(line: &str) -> bool {
    line.split('"').skip(1).step_by(2).any(|text| {
        let caps = text.chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').count();
        caps >= 2 && text[caps..].starts_with('#')
    })
}

#[test]
fn only_the_adapters_name_a_table_key_or_a_bucket_prefix() {
    assert!(names_a_table_key(r#"format!("EMAIL#{hash}")"#) && !names_a_table_key(r##"r#"x"#, "A#""##));
    let mut dirs = vec![root().join("shared/src/app"), root().join("shared/domain/src")];
    for f in std::fs::read_dir(root().join("functions")).unwrap() {
        dirs.push(f.unwrap().path().join("src"));
    }
    let prefixes = ["\"resumes/", "\"jd/", "\"feeds/", "\"imports/"];
    let mut found = Vec::new();
    for dir in dirs {
        for (m, text) in modules(&dir) {
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                if names_a_table_key(line) || prefixes.iter().any(|p| line.contains(p)) {
                    found.push(format!("{}/{m}: {}", dir.display(), line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
