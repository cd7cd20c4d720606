//! The services crate's top-level modules form layers: no module reaches, through the others,
//! back to itself. The engine (`records`) never names a record type (`objects`); settings
//! below it (`roles`, `custom_fields`) find types through the store's registry; queued work is
//! run by `worker`, above everything it runs. A `crate::x` path in one module's code (tests
//! and comments aside) is an edge; a cycle fails this test and names its path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments and without its test module.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            // Attributes may follow; a `mod` ends the code that ships.
            let mut ahead = lines.clone();
            while let Some(next) = ahead.peek() {
                if next.trim_start().starts_with("#[") {
                    ahead.next();
                } else {
                    break;
                }
            }
            if ahead.peek().is_some_and(|l| {
                let l = l.trim_start();
                l.starts_with("mod ") || l.starts_with("pub mod ")
            }) {
                break;
            }
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let line = match line.find("//") {
            // A trailing comment (not a URL inside a string: those have a quote before).
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a piece of code names: `crate::x...` and `use crate::{x, y::z}`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        item_start = false;
                        let name = ident_at(&group[j..]);
                        if !name.is_empty() {
                            found.insert(name.to_string());
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident_at(after);
            if !name.is_empty() {
                found.insert(name.to_string());
            }
        }
        rest = after;
    }
    found
}

/// Module → the modules its code names.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" {
            continue;
        }
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path.clone());
        } else {
            continue;
        }
        let mut names = BTreeSet::new();
        for f in files {
            if f.to_string_lossy().ends_with("_tests.rs") {
                continue;
            }
            names.extend(named_modules(&code_of(
                &std::fs::read_to_string(&f).unwrap(),
            )));
        }
        modules.insert(name, names);
    }
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .into_iter()
        .map(|(m, names)| {
            let edges = names
                .into_iter()
                .filter(|n| known.contains(n) && *n != m)
                .collect();
            (m, edges)
        })
        .collect()
}

/// A cycle, as the path that closes it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(m.to_string(), Mark::Open);
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            match marks.get(next.as_str()).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = path.iter().position(|p| p == next).unwrap();
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, graph, marks, path) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(m.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for m in graph.keys() {
        if marks.get(m.as_str()).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(c) = visit(m, graph, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_services_modules_have_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    // The scan sees the modules and their references (a broken scan would find no cycle).
    assert!(graph.len() > 20, "{graph:?}");
    assert!(
        graph["objects"].contains("records"),
        "{:?}",
        graph["objects"]
    );
    assert!(graph["worker"].contains("jobs"), "{:?}", graph["worker"]);
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between modules of rapport-services: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_scan_finds_a_cycle_when_there_is_one() {
    let code = "use crate::{audit, records::{self, Record}};\nfn f() { crate::objects::def_of(x) }\n// crate::mail in a comment\n#[cfg(test)]\n#[allow(x)]\nmod tests { use crate::jobs; }\n";
    let names = named_modules(&code_of(code));
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["audit", "objects", "records"]
    );
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("a".into(), ["b".to_string()].into());
    graph.insert("b".into(), ["c".to_string()].into());
    graph.insert("c".into(), ["a".to_string()].into());
    assert_eq!(find_cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    graph.insert("c".into(), BTreeSet::new());
    assert_eq!(find_cycle(&graph), None);
}
