//! The crate's import graph has no circles: no module imports a module that imports it
//! back, directly or around a longer loop, and the rooms (the top-level modules) depend
//! on each other one way only.
//!
//! The graph is read from the source, not from the compiler: every `crate::…` and
//! `super::…` path in a file (in `use` items and inline) is an edge from that file's module
//! to the longest module the path names. Test code is left out (files named `tests.rs`
//! and a trailing `#[cfg(test)] mod tests`): a test may reach anywhere. Comments are left
//! out too, so a doc link is not an import. The binary (`harness/main.rs`) is a separate
//! crate and is not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's source root.
const ROOT: &str = "harness";

/// A module's path below the crate root: `["world", "sim"]`; empty for lib.rs.
type Module = Vec<String>;

/// Every library source file and the module it defines.
fn modules() -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![PathBuf::from(ROOT)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the source tree is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && let Some(module) = module_of(&path)
            {
                found.insert(module, path);
            }
        }
    }
    found
}

/// `harness/world/sim.rs` -> `world::sim`; `harness/export/mod.rs` -> `export`; `None`
/// for the binary and for test files.
fn module_of(path: &Path) -> Option<Module> {
    let relative = path.strip_prefix(ROOT).expect("under the root");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("tests") => return None,
        Some("lib") if parts.len() == 1 => parts.clear(),
        Some("mod") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts)
}

/// The code of a file without comments and without its trailing test module.
fn code(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        let line = match line.find("//") {
            // A comment: at the line's start or after a space (not `http://` in a string).
            Some(at) if at == 0 || line[..at].ends_with(char::is_whitespace) => &line[..at],
            _ => line,
        };
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

/// Every path the code names starting with `crate::` or `super::`, with `use` groups
/// (`crate::a::{b, c::d}`) expanded, each as its segments after the prefix resolved
/// against `from`.
fn paths(code: &str, from: &Module, is_dir_module: bool) -> Vec<Module> {
    let mut found = Vec::new();
    for prefix in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let preceded = rest[..at].chars().next_back();
            let start = at + prefix.len();
            rest = &rest[start..];
            if preceded.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let base: Module = if prefix == "crate::" {
                Vec::new()
            } else {
                // `super` of `a::b` (a file a/b.rs) is `a`; of a directory module `a`
                // (a/mod.rs) it is the crate root.
                let mut parent = from.clone();
                if !is_dir_module || !parent.is_empty() {
                    parent.pop();
                }
                parent
            };
            for tail in expand(rest) {
                let mut path = base.clone();
                path.extend(tail);
                found.push(path);
            }
        }
    }
    found
}

/// The paths one use-tree names: `a::b::{c, d::e}` -> `a::b::c`, `a::b::d::e`.
fn expand(text: &str) -> Vec<Module> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        segments.push(rest[..end].to_string());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(next) => rest = next,
            None => return vec![segments],
        }
    }
    let Some(group) = rest.strip_prefix('{') else {
        return vec![segments];
    };
    let mut depth = 0;
    let mut items = Vec::new();
    let mut item_start = 0;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[item_start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[item_start..i]);
                item_start = i + 1;
            }
            _ => {}
        }
    }
    let mut expanded = Vec::new();
    for item in items {
        for tail in expand(item.trim_start()) {
            let mut path = segments.clone();
            path.extend(tail.into_iter().filter(|s| s != "self"));
            expanded.push(path);
        }
    }
    expanded
}

/// The longest known module `path` starts with.
fn resolve(path: &Module, known: &BTreeMap<Module, PathBuf>) -> Module {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| known.contains_key(prefix))
        .unwrap_or_default()
}

/// Module -> the modules it imports (itself and its ancestors left out: a file reaching
/// up to a parent's re-export is still one room).
fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let known = modules();
    let mut edges = BTreeMap::new();
    for (module, file) in &known {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        let is_dir_module = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        let targets: BTreeSet<Module> = paths(&code(&text), module, is_dir_module)
            .iter()
            .map(|p| resolve(p, &known))
            .filter(|target| !module.starts_with(target))
            .collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

/// The circles of a graph: its strongly connected components of more than one node
/// (Tarjan's algorithm).
fn circles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    struct State<N> {
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        found: Vec<Vec<N>>,
    }
    fn visit<N: Ord + Clone>(n: &N, edges: &BTreeMap<N, BTreeSet<N>>, s: &mut State<N>) {
        let i = s.index.len();
        s.index.insert(n.clone(), i);
        s.low.insert(n.clone(), i);
        s.stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            if !s.index.contains_key(m) {
                visit(m, edges, s);
                let low = s.low[n].min(s.low[m]);
                s.low.insert(n.clone(), low);
            } else if s.stack.contains(m) {
                let low = s.low[n].min(s.index[m]);
                s.low.insert(n.clone(), low);
            }
        }
        if s.low[n] == s.index[n] {
            let mut component = Vec::new();
            while let Some(m) = s.stack.pop() {
                let done = &m == n;
                component.push(m);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for n in edges.keys() {
        if !state.index.contains_key(n) {
            visit(n, edges, &mut state);
        }
    }
    state.found
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// Each circle's members and, for each member, whom in the circle it imports.
fn describe(found: &[Vec<Module>], edges: &BTreeMap<Module, BTreeSet<Module>>) -> String {
    let mut text = String::new();
    for circle in found {
        text.push_str("circle:\n");
        for m in circle {
            let inside: Vec<String> = edges[m]
                .iter()
                .filter(|t| circle.contains(t))
                .map(name)
                .collect();
            text.push_str(&format!("  {} imports {}\n", name(m), inside.join(", ")));
        }
    }
    text
}

/// Proves no module imports a module that imports it back, around a loop of any length.
#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let edges = graph();
    assert!(
        edges.len() > 50,
        "read only {} modules: is the source root right?",
        edges.len()
    );
    let found = circles(&edges);
    assert!(found.is_empty(), "{}", describe(&found, &edges));
}

/// Proves the rooms (the top-level modules: `world`, `scenario`, `services`...) depend on
/// each other one way only, so data flows one way through the house.
#[test]
fn rooms_depend_on_each_other_one_way() {
    let mut rooms: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, targets) in graph() {
        let room: Module = module.iter().take(1).cloned().collect();
        let entry = rooms.entry(room.clone()).or_default();
        for t in targets {
            let to: Module = t.iter().take(1).cloned().collect();
            if to != room && !to.is_empty() {
                entry.insert(to);
            }
        }
    }
    let found = circles(&rooms);
    assert!(found.is_empty(), "{}", describe(&found, &rooms));
}

/// Proves the reader sees the edges it must: a grouped `use`, an inline path, a `super`
/// path, and no edge from a comment or from a test module.
#[test]
fn the_reader_finds_imports_and_skips_comments_and_tests() {
    let from: Module = vec!["world".into(), "sim".into()];
    let text = "use crate::{events::{Event, Recorder}, net::Net};\n\
                // crate::report::Outcome is only mentioned\n\
                fn f() { crate::services::users::run(); super::clock::now(); }\n\
                #[cfg(test)]\nmod tests { use crate::scenario::load; }\n";
    let found: Vec<String> = paths(&code(text), &from, false)
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(
        found,
        [
            "events::Event",
            "events::Recorder",
            "net::Net",
            "services::users::run",
            "world::clock::now"
        ]
    );
    let mut edges: BTreeMap<u8, BTreeSet<u8>> = BTreeMap::new();
    edges.insert(1, [2].into());
    edges.insert(2, [3].into());
    edges.insert(3, [1].into());
    edges.insert(4, [1].into());
    assert_eq!(circles(&edges), vec![vec![1, 2, 3]]);
}

/// tokio's waits that the simulation cannot see unless they go through `harness::timers`
/// (which registers each deadline with turmoil, so a host with a timer due is not skipped
/// as idle).
const UNREGISTERED_WAITS: [&str; 7] = [
    "tokio::time::sleep(",
    "tokio::time::sleep_until(",
    "tokio::time::timeout(",
    "tokio::time::interval(",
    "TokioTimer::new(",
    // An import would let the waits above be called by their short names.
    "use tokio::time",
    "tokio::time::{",
];

/// Every wait a simulated service makes goes through `harness::timers`: outside it, no
/// library file's code (tests aside) names one of tokio's waits. `serve.rs` and `main.rs`
/// run only on real sockets.
#[test]
fn services_wait_only_through_the_timers_module() {
    let offenders: Vec<String> = modules()
        .into_iter()
        .filter(|(module, _)| {
            !matches!(module.first().map(String::as_str), Some("timers" | "serve"))
        })
        .flat_map(|(module, path)| {
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            let code = code(&text);
            UNREGISTERED_WAITS
                .iter()
                .filter(|wait| code.contains(**wait))
                .map(|wait| format!("{}: {wait}", name(&module)))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "waits the simulation cannot see: {offenders:?}"
    );
    assert!(
        code(&std::fs::read_to_string("harness/timers.rs").expect("timers.rs"))
            .contains("turmoil::wake_at("),
        "the timers module registers its deadlines"
    );
}
