//! Checks the source tree itself, in the spirit of rust-analyzer's `tidy.rs`, so that the layout
//! ARCHITECTURE.md promises is kept by a test, not by memory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules that must stay pure: they decide or describe, and never do IO. A module is
/// `src/<name>.rs` or the directory `src/<name>/`.
const PURE: [&str; 22] = [
    "src/plan",
    "src/backoff",
    "src/azure_rbac",
    "src/entra/jwt",
    "src/entra/keys",
    "src/permissions",
    "src/methods",
    "src/method_policy",
    "src/caller",
    "src/request",
    "src/phone",
    "src/user",
    "src/report",
    "src/language",
    "src/notify/message",
    "src/runbook/wording",
    "src/openapi",
    "src/retirement",
    "src/spreadsheet",
    "src/readiness/classify",
    "src/readiness/dashboard",
    "src/readiness/trend",
];

/// What a pure module must not name.
const IO: [&str; 8] = [
    "crate::graph",
    "crate::owner",
    "crate::runbook",
    "crate::notify::Notifier",
    "Notifier",
    "reqwest",
    "tokio::net",
    "tokio::time",
];

/// Graph's words that only the graph module (and the simulator, which plays Graph) may use
/// to decide anything: error codes, sign-in states, user types, as string literals.
const GRAPH_WORDS: [&str; 8] = [
    "\"phoneNumberNotUnique\"",
    "\"invalidPhoneNumber\"",
    "\"Authentication_RequestFromNonPremiumTenantOrB2CTenant\"",
    "\"Directory_ConcurrencyViolation\"",
    "\"ready\"",
    "\"notEnabled\"",
    "\"Guest\"",
    "\"guest\"",
];

/// Where Graph's words may appear, and why.
const GRAPH_WORDS_ALLOWED: [&str; 3] = [
    "src/graph",
    "src/simulator",
    // The result contract names sign-in states as Graph does (`SmsSignInState::as_str`).
    "src/phone/registered.rs",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .expect("under the crate")
        .to_string_lossy()
        .replace('\\', "/")
}

fn under(path: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|prefix| {
        path == *prefix || path == format!("{prefix}.rs") || path.starts_with(&format!("{prefix}/"))
    })
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let missing: Vec<String> = rust_files(&root().join("src"))
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).expect("readable source");
            !text
                .lines()
                .find(|line| !line.trim().is_empty())
                .is_some_and(|line| line.starts_with("//!"))
        })
        .map(|path| relative(&path))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! module doc: {missing:?}"
    );
}

#[test]
fn pure_modules_name_no_io() {
    let files: Vec<String> = rust_files(&root().join("src"))
        .iter()
        .map(|path| relative(path))
        .collect();
    let gone: Vec<&str> = PURE
        .iter()
        .copied()
        .filter(|module| !files.iter().any(|file| under(file, &[module])))
        .collect();
    assert!(
        gone.is_empty(),
        "pure modules that no longer exist: {gone:?}"
    );
    let mut offences = Vec::new();
    for path in rust_files(&root().join("src")) {
        let name = relative(&path);
        if !under(&name, &PURE) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for io in IO {
                if code.contains(io) {
                    offences.push(format!("{name}:{}: names {io}", number + 1));
                }
            }
        }
    }
    assert!(offences.is_empty(), "pure modules doing IO: {offences:#?}");
}

#[test]
fn graphs_vocabulary_stays_in_the_graph_module() {
    let mut offences = Vec::new();
    for path in rust_files(&root().join("src")) {
        let name = relative(&path);
        if under(&name, &GRAPH_WORDS_ALLOWED) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in GRAPH_WORDS {
                if code.contains(word) {
                    offences.push(format!("{name}:{}: {word}", number + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "Graph's words outside graph/: {offences:#?}"
    );
}

#[test]
fn no_module_grows_past_about_five_hundred_lines_unless_listed() {
    // `WHOLE` lists the files that stay whole, and why: each is one seam that reads best
    // in one place.
    const WHOLE: [(&str, &str); 0] = [];
    let long: Vec<String> = rust_files(&root().join("src"))
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable source");
            // A module's own tests do not count against it.
            let lines = text
                .lines()
                .take_while(|line| *line != "#[cfg(test)]")
                .count();
            (relative(&path), lines)
        })
        .filter(|(name, lines)| *lines > 560 && !WHOLE.iter().any(|(whole, _)| whole == name))
        .map(|(name, lines)| format!("{name}: {lines} lines"))
        .collect();
    assert!(long.is_empty(), "split these along a seam: {long:?}");
}

/// Names the module a source file is: `src/bulk/endpoint.rs` is `bulk::endpoint`, `src/bulk/mod.rs`
/// is `bulk`, `src/lib.rs` the crate itself (empty).
fn module_path(name: &str) -> Vec<String> {
    let inner = name
        .trim_start_matches("src/")
        .trim_end_matches(".rs")
        .trim_end_matches("/mod");
    if matches!(inner, "lib" | "main") {
        return Vec::new();
    }
    inner.split('/').map(str::to_owned).collect()
}

/// A path code names, resolved from the crate's root, with the name a `use` binds it to: its
/// last segment, its `as` rename, or `*` for a glob.
type Named = (Vec<String>, String);

/// Lists the paths code names through `crate::`, `super::` or `self::`, use trees expanded
/// (`crate::{a::{b, c}, d}` names `a::b`, `a::c` and `d`), each resolved against `module`.
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    named(code, module)
        .into_iter()
        .map(|(path, _)| path)
        .collect()
}

/// Lists the paths [`named_paths`] lists, each with the name it is bound to.
fn named(code: &str, module: &[String]) -> Vec<Named> {
    let chars: Vec<char> = code.chars().collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let preceded = at > 0 && (is_ident(chars[at - 1]) || chars[at - 1] == ':');
        match path_start(&chars, at, module) {
            Some((base, length)) if !preceded => {
                at += length;
                use_tree(&chars, &mut at, base, &mut found);
            }
            _ => at += 1,
        }
    }
    found
}

/// Returns, when `crate::`, `super::` or `self::` starts at `at`, the module it stands for
/// and its length.
fn path_start(chars: &[char], at: usize, module: &[String]) -> Option<(Vec<String>, usize)> {
    let rest: String = chars[at..chars.len().min(at + 7)].iter().collect();
    let keyword = ["crate::", "super::", "self::"]
        .into_iter()
        .find(|keyword| rest.starts_with(keyword))?;
    let base = match keyword {
        "crate::" => Vec::new(),
        "super::" => module[..module.len().saturating_sub(1)].to_vec(),
        _ => module.to_vec(),
    };
    Some((base, keyword.len()))
}

/// Reads one use tree at `at` (after a path's `::`) below `prefix`, pushing every path it names.
fn use_tree(chars: &[char], at: &mut usize, prefix: Vec<String>, found: &mut Vec<Named>) {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let skip_blanks = |at: &mut usize| {
        while *at < chars.len() && chars[*at].is_whitespace() {
            *at += 1;
        }
    };
    let mut path = prefix;
    loop {
        skip_blanks(at);
        if *at < chars.len() && chars[*at] == '{' {
            *at += 1;
            loop {
                skip_blanks(at);
                if *at >= chars.len() || chars[*at] == '}' {
                    *at += 1;
                    return;
                }
                use_tree(chars, at, path.clone(), found);
                skip_blanks(at);
                match chars.get(*at) {
                    Some(',') => *at += 1,
                    Some('}') => {
                        *at += 1;
                        return;
                    }
                    _ => return,
                }
            }
        }
        if chars.get(*at) == Some(&'*') {
            *at += 1;
            found.push((path, "*".to_owned()));
            return;
        }
        let start = *at;
        while *at < chars.len() && is_ident(chars[*at]) {
            *at += 1;
        }
        let segment: String = chars[start..*at].iter().collect();
        match segment.as_str() {
            "" => {
                let name = path.last().cloned().unwrap_or_default();
                found.push((path, name));
                return;
            }
            "self" => {}
            "super" => {
                path.pop();
            }
            _ => path.push(segment),
        }
        if chars.get(*at) == Some(&':') && chars.get(*at + 1) == Some(&':') {
            *at += 2;
            continue;
        }
        // The path ends here, and an `as` renames what it binds.
        let mut name = path.last().cloned().unwrap_or_default();
        let mut after = *at;
        skip_blanks(&mut after);
        if chars
            .get(after..after + 3)
            .is_some_and(|word| word[0] == 'a' && word[1] == 's' && word[2].is_whitespace())
        {
            after += 3;
            skip_blanks(&mut after);
            let start = after;
            while after < chars.len() && is_ident(chars[after]) {
                after += 1;
            }
            name = chars[start..after].iter().collect();
            *at = after;
        }
        found.push((path, name));
        return;
    }
}

/// Collects what each module's own `use` items bind, by (module, name): a child reaches them as
/// `super::name`, and anyone as `crate::module::name` when they are re-exported (`pub use`).
/// Globs are not followed.
fn imports(files: &[(Vec<String>, String)]) -> BTreeMap<(Vec<String>, String), Vec<String>> {
    let mut bound = BTreeMap::new();
    for (module, code) in files {
        // A module's own items start at the line's start; a `use` further in is a block's.
        for (offset, line) in line_starts(code) {
            let after = ["use ", "pub use "]
                .into_iter()
                .find(|start| line.starts_with(start))
                .map(str::len)
                .or_else(|| {
                    line.strip_prefix("pub(")?;
                    line.find(") use ").map(|end| end + ") use ".len())
                });
            let Some(after) = after else {
                continue;
            };
            let statement = code[offset + after..].split(';').next().unwrap_or_default();
            let chars: Vec<char> = statement.chars().collect();
            let Some((base, length)) = path_start(&chars, 0, module) else {
                continue;
            };
            let mut at = length;
            let mut found = Vec::new();
            use_tree(&chars, &mut at, base, &mut found);
            for (path, name) in found {
                if name != "*" && name != "_" {
                    bound.insert((module.clone(), name), path);
                }
            }
        }
    }
    bound
}

/// Pairs every line of `text` with the byte offset it starts at.
fn line_starts(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n').scan(0, |offset, line| {
        let start = *offset;
        *offset += line.len() + 1;
        Some((start, line))
    })
}

/// Finds the module `path` lies in, following `use` items: `crate::bulk::Progress`, where `bulk`
/// imports `crate::progress::Progress`, lies in `progress`. `None` when it lies in no module of
/// the crate's (or the imports go round).
fn resolve(
    path: &[String],
    modules: &BTreeSet<Vec<String>>,
    bound: &BTreeMap<(Vec<String>, String), Vec<String>>,
) -> Option<Vec<String>> {
    let mut path = path.to_vec();
    for _ in 0..16 {
        let module = (0..=path.len())
            .rev()
            .map(|length| path[..length].to_vec())
            .find(|prefix| modules.contains(prefix))?;
        let Some(target) = path
            .get(module.len())
            .and_then(|name| bound.get(&(module.clone(), name.clone())))
        else {
            return Some(module);
        };
        path = target
            .iter()
            .chain(&path[module.len() + 1..])
            .cloned()
            .collect();
    }
    None
}

/// Who names whom: from a module to the modules it names, each with what it names there.
type Edges = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Builds the edges between modules and between top-level modules (`bulk`, `cli`: a module and all
/// below it as one). An edge runs from a file's module to the module each path it names lies
/// in, `use` items followed; naming an enclosing module's own items (`super::Run`) is how a
/// child reaches them and is no edge between modules (it stays within its top-level module).
fn module_edges(files: &[(Vec<String>, String)]) -> (Edges, Edges) {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(module, _)| module.clone()).collect();
    let bound = imports(files);
    let (mut between, mut top) = (Edges::new(), Edges::new());
    for (module, code) in files {
        let Some(first) = module.first() else {
            continue;
        };
        for path in named_paths(code, module) {
            let Some(target) = resolve(&path, &modules, &bound) else {
                continue;
            };
            let evidence = format!("{} names {}", module.join("::"), path.join("::"));
            if !target.is_empty() && !module.starts_with(&target) {
                between
                    .entry(module.join("::"))
                    .or_default()
                    .entry(target.join("::"))
                    .or_default()
                    .insert(evidence.clone());
            }
            if let Some(other) = target.first().filter(|other| *other != first) {
                top.entry(first.clone())
                    .or_default()
                    .entry(other.clone())
                    .or_default()
                    .insert(evidence);
            }
        }
    }
    (between, top)
}

/// Finds the circles in `edges`: each set of modules that all reach each other (a strongly
/// connected component of more than one, by Tarjan's algorithm), with the edges that join them.
fn circles(edges: &Edges) -> Vec<String> {
    struct Walk<'a> {
        edges: &'a Edges,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, node: &'a str) {
        let number = walk.index.len();
        walk.index.insert(node, number);
        walk.low.insert(node, number);
        walk.stack.push(node);
        let edges = walk.edges;
        for next in edges.get(node).into_iter().flat_map(BTreeMap::keys) {
            if !walk.index.contains_key(next.as_str()) {
                visit(walk, next);
                let low = walk.low[node].min(walk.low[next.as_str()]);
                walk.low.insert(node, low);
            } else if walk.stack.contains(&next.as_str()) {
                let low = walk.low[node].min(walk.index[next.as_str()]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let at = walk
                .stack
                .iter()
                .rposition(|member| *member == node)
                .unwrap_or_default();
            let mut component = walk.stack.split_off(at);
            component.sort_unstable();
            walk.found.push(component);
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.found.sort();
    walk.found
        .iter()
        .filter(|component| component.len() > 1)
        .map(|component| {
            let mut text = format!("{} modules: {}", component.len(), component.join(", "));
            for from in component {
                for (to, evidence) in &edges[*from] {
                    if component.contains(&to.as_str()) {
                        let shown: Vec<&str> =
                            evidence.iter().take(3).map(String::as_str).collect();
                        text.push_str(&format!("\n  {from} -> {to}: {}", shown.join("; ")));
                    }
                }
            }
            text
        })
        .collect()
}

/// Reads every source file's module and its code: comments and literals blanked, a module's own
/// tests (inline, or in its `tests.rs` or `*_tests.rs`) left out.
fn source_modules() -> Vec<(Vec<String>, String)> {
    rust_files(&root().join("src"))
        .iter()
        .map(|path| relative(path))
        .filter(|name| !name.ends_with("/tests.rs") && !name.ends_with("_tests.rs"))
        .map(|name| {
            let text = std::fs::read_to_string(root().join(&name)).expect("readable source");
            let text = text
                .lines()
                .take_while(|line| *line != "#[cfg(test)]")
                .collect::<Vec<_>>()
                .join("\n");
            (module_path(&name), code_only(&text))
        })
        .collect()
}

#[test]
fn use_trees_are_read_to_every_path_they_name() {
    let module = |path: &str| path.split("::").map(str::to_owned).collect::<Vec<_>>();
    let paths = named_paths(
        "use crate::{phone::{PhoneType}, plan::Write};\nlet x = crate::report::Action::None;",
        &module("runbook"),
    );
    assert_eq!(
        paths,
        [
            module("phone::PhoneType"),
            module("plan::Write"),
            module("report::Action::None")
        ]
    );
    let paths = named(
        "use crate::bulk::{delivery::Delivery, endpoint::HttpEndpoint as _E, echo};\n\
         use super::{Run, conflict::{self, resolve}};\nuse self::inner::*;",
        &module("bulk::queued"),
    );
    let names: Vec<(Vec<String>, &str)> = paths
        .iter()
        .map(|(path, name)| (path.clone(), name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (module("bulk::delivery::Delivery"), "Delivery"),
            (module("bulk::endpoint::HttpEndpoint"), "_E"),
            (module("bulk::echo"), "echo"),
            (module("bulk::Run"), "Run"),
            (module("bulk::conflict"), "conflict"),
            (module("bulk::conflict::resolve"), "resolve"),
            (module("bulk::queued::inner"), "*"),
        ]
    );
}

#[test]
fn the_circle_checks_follow_imports_and_see_circles_between_top_level_modules() {
    let file = |module: &str, code: &str| {
        (
            module.split("::").map(str::to_owned).collect::<Vec<_>>(),
            code.to_owned(),
        )
    };
    // `bulk::send` reaches `cli::progress` through its parent's import, and `cli` names
    // `bulk::options`: no two files name each other, but `bulk` and `cli` do.
    let files = [
        file(
            "bulk",
            "mod send;\npub(crate) use crate::cli::progress::Progress;\n",
        ),
        file("bulk::send", "fn f() { super::Progress::new(); }"),
        file("bulk::options", "pub struct BulkArgs;"),
        file(
            "cli",
            "pub mod progress;\nenum C { Bulk(crate::bulk::options::BulkArgs) }",
        ),
        file("cli::progress", "pub struct Progress;"),
        // Here the check must follow a re-export: `request::number` names `readiness::CleanupKey`,
        // which is `readiness::fingerprint`'s, and that names `request` back.
        file("readiness", "pub use self::fingerprint::CleanupKey;"),
        file("readiness::fingerprint", "use crate::request::Request;"),
        file("request", "pub mod number;"),
        file("request::number", "use crate::readiness::CleanupKey;"),
        // Here two siblings name each other, one through its parent's path.
        file("runbook", "mod conflict;\nmod converge;"),
        file("runbook::conflict", "use super::converge::converge;"),
        file(
            "runbook::converge",
            "fn f() { crate::runbook::conflict::resolve(); }",
        ),
    ];
    let (between, top) = module_edges(&files);
    assert!(between["bulk::send"].contains_key("cli::progress"));
    assert!(between["request::number"].contains_key("readiness::fingerprint"));
    assert_eq!(
        circles(&between),
        ["2 modules: runbook::conflict, runbook::converge\n  \
          runbook::conflict -> runbook::converge: \
          runbook::conflict names runbook::converge::converge\n  \
          runbook::converge -> runbook::conflict: \
          runbook::converge names runbook::conflict::resolve"]
    );
    let top = circles(&top);
    assert_eq!(top.len(), 2, "{top:#?}");
    assert!(top[0].starts_with("2 modules: bulk, cli\n"), "{top:#?}");
    assert!(
        top[1].starts_with("2 modules: readiness, request\n"),
        "{top:#?}"
    );
}

#[test]
fn no_two_modules_name_each_other_even_through_others() {
    let (between, _) = module_edges(&source_modules());
    let circles = circles(&between);
    assert!(
        circles.is_empty(),
        "modules that name each other (move what both need below them): {circles:#?}"
    );
}

#[test]
fn no_two_top_level_modules_name_each_other_even_through_others() {
    // `bulk` and all below it is one top-level module, `cli` another: `bulk::send` naming
    // `cli::progress` while `cli` names `bulk::options` is a circle between them, though no
    // two files name each other. What both need lives below both (`progress`, `files`, ...);
    // `cli`, `startup` and `app` are on top and nothing below names them.
    let (_, top) = module_edges(&source_modules());
    let circles = circles(&top);
    assert!(
        circles.is_empty(),
        "top-level modules that name each other (move what both need below them): {circles:#?}"
    );
}

/// Returns the top-level modules `from` reaches in `edges`, through others too.
fn reached<'a>(edges: &'a Edges, from: &str) -> BTreeSet<&'a str> {
    let mut reached = BTreeSet::new();
    let mut next: Vec<&str> = edges
        .get(from)
        .into_iter()
        .flat_map(BTreeMap::keys)
        .map(String::as_str)
        .collect();
    while let Some(module) = next.pop() {
        if reached.insert(module) {
            next.extend(
                edges
                    .get(module)
                    .into_iter()
                    .flat_map(BTreeMap::keys)
                    .map(String::as_str),
            );
        }
    }
    reached
}

#[test]
fn the_claim_on_a_user_sits_between_the_runbook_and_the_storage() {
    // The runbook asks the claim, the Graph client's writes take its window, and the claim
    // is made of the storage's lease: it knows neither the tenant nor the result's wording,
    // and the storage adapter knows neither the claim nor Graph.
    let (_, top) = module_edges(&source_modules());
    let claim = reached(&top, "claim");
    assert!(claim.contains("storage"), "{claim:?}");
    for above in ["runbook", "graph", "outcome", "report"] {
        assert!(!claim.contains(above), "claim reaches {above}: {claim:?}");
    }
    let storage = reached(&top, "storage");
    for above in ["claim", "graph", "runbook"] {
        assert!(
            !storage.contains(above),
            "storage reaches {above}: {storage:?}"
        );
    }
    for below in ["runbook", "graph"] {
        assert!(
            top.get(below)
                .is_some_and(|named| named.contains_key("claim")),
            "{below} asks the claim"
        );
    }
}

/// The longest a function in `src/` may be, counted from its `fn` line to its closing brace.
const FUNCTION_LINES: usize = 80;

/// Functions that are still longer than `FUNCTION_LINES`: where, how many lines they span now,
/// and why. The list only shrinks and no entry grows: the test fails when a listed function
/// fits (its entry goes with the change that split it) or grows past the length recorded here.
const LONG_FUNCTIONS: &[(&str, &str, usize, &str)] = &[];

/// Returns `text` with every comment, string and character literal blanked to spaces (line breaks
/// kept), so that the braces left are the code's own. Lifetimes (`'a`) stay as they are.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let blank = |slice: &[char]| -> String {
        slice
            .iter()
            .map(|c| if *c == '\n' { '\n' } else { ' ' })
            .collect()
    };
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < chars.len() {
        let next = |offset: usize| chars.get(at + offset).copied();
        let end = if chars[at] == '/' && next(1) == Some('/') {
            // A line comment runs to the end of its line.
            (at..chars.len())
                .find(|index| chars[*index] == '\n')
                .unwrap_or(chars.len())
        } else if chars[at] == '/' && next(1) == Some('*') {
            // Block comments nest.
            let (mut depth, mut index) = (0, at);
            while index < chars.len() {
                if chars[index] == '/' && chars.get(index + 1) == Some(&'*') {
                    depth += 1;
                    index += 2;
                } else if chars[index] == '*' && chars.get(index + 1) == Some(&'/') {
                    depth -= 1;
                    index += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    index += 1;
                }
            }
            index
        } else if let Some(end) = raw_string_end(&chars, at)
            && (at == 0 || !is_ident(chars[at - 1]))
        {
            end
        } else if chars[at] == '"' {
            let mut index = at + 1;
            while index < chars.len() && chars[index] != '"' {
                index += if chars[index] == '\\' { 2 } else { 1 };
            }
            (index + 1).min(chars.len())
        } else if chars[at] == '\'' && next(1) == Some('\\') {
            (at + 2..chars.len())
                .find(|index| chars[*index] == '\'')
                .map_or(chars.len(), |index| index + 1)
        } else if chars[at] == '\'' && next(2) == Some('\'') {
            at + 3
        } else {
            out.push(chars[at]);
            at += 1;
            continue;
        };
        out.push_str(&blank(&chars[at..end]));
        at = end;
    }
    out
}

/// Finds where a raw string (`r"…"`, `r#"…"#`, `br"…"`) that starts at `at` ends, if one does.
fn raw_string_end(chars: &[char], at: usize) -> Option<usize> {
    let mut index = at;
    if chars.get(index) == Some(&'b') {
        index += 1;
    }
    if chars.get(index) != Some(&'r') {
        return None;
    }
    index += 1;
    let hashes = chars[index..].iter().take_while(|c| **c == '#').count();
    index += hashes;
    if chars.get(index) != Some(&'"') {
        return None;
    }
    index += 1;
    while index < chars.len() {
        if chars[index] == '"' && chars[index + 1..].iter().take(hashes).all(|c| *c == '#') {
            return Some((index + 1 + hashes).min(chars.len()));
        }
        index += 1;
    }
    Some(chars.len())
}

/// Finds every function with a body in `code` (comments and literals blanked): its name, the line
/// its `fn` is on (from 1) and how many lines it spans up to its closing brace.
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let line_of = |index: usize| chars[..index].iter().filter(|c| **c == '\n').count() + 1;
    let mut found = Vec::new();
    for at in 0..chars.len().saturating_sub(2) {
        let keyword = chars[at] == 'f'
            && chars[at + 1] == 'n'
            && chars[at + 2].is_whitespace()
            && (at == 0 || !is_ident(chars[at - 1]));
        if !keyword {
            continue;
        }
        let start = (at + 2..chars.len())
            .find(|index| !chars[*index].is_whitespace())
            .unwrap_or(chars.len());
        let name: String = chars[start..]
            .iter()
            .take_while(|c| is_ident(**c))
            .collect();
        if name.is_empty() {
            continue;
        }
        // The body opens at the first `{` outside the signature's brackets; a `;` there first
        // means a declaration without a body.
        let mut depth = 0_i32;
        let mut open = None;
        for (index, c) in chars.iter().enumerate().skip(start) {
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                '{' if depth == 0 => {
                    open = Some(index);
                    break;
                }
                ';' if depth == 0 => break,
                _ => {}
            }
        }
        let Some(open) = open else { continue };
        let mut depth = 0_i32;
        let close = (open..chars.len()).find(|index| {
            match chars[*index] {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            depth == 0
        });
        let first = line_of(at);
        let last = close.map_or_else(|| line_of(chars.len() - 1), line_of);
        found.push((name, first, last - first + 1));
    }
    found
}

/// Lists every function in `src/` (test modules aside) as (file, name, line, length in lines).
fn source_functions() -> Vec<(String, String, usize, usize)> {
    let mut all = Vec::new();
    for path in rust_files(&root().join("src")) {
        let name = relative(&path);
        // A module's tests, inline or in their own `tests.rs` or `*_tests.rs`, do not count.
        if name.ends_with("/tests.rs") || name.ends_with("_tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        let text = text
            .lines()
            .take_while(|line| *line != "#[cfg(test)]")
            .collect::<Vec<_>>()
            .join("\n");
        for (function, line, length) in functions(&code_only(&text)) {
            all.push((name.clone(), function, line, length));
        }
    }
    all
}

#[test]
fn the_function_reader_measures_from_fn_to_the_closing_brace() {
    let code = code_only(
        "fn one() {\n    let s = \"}}\"; // }\n    let c = '{';\n}\n\
         impl A {\n    pub fn two<'a>(x: &'a [u8; 2]) -> Box<dyn Fn() -> u8> {\n\
         /* { */ let r = r#\"}\"#;\n        Box::new(|| { 1 })\n    }\n}\n\
         trait T { fn three(&self); }\n",
    );
    assert_eq!(
        functions(&code),
        [("one".to_owned(), 1, 4), ("two".to_owned(), 6, 4)]
    );
}

#[test]
fn no_function_grows_past_eighty_lines_unless_listed_and_no_listed_one_grows() {
    let all = source_functions();
    let long: Vec<String> = all
        .iter()
        .filter(|(file, function, _, length)| {
            *length > FUNCTION_LINES
                && !LONG_FUNCTIONS
                    .iter()
                    .any(|(listed, name, _, _)| listed == file && name == function)
        })
        .map(|(file, function, line, length)| format!("{file}:{line}: {function} ({length} lines)"))
        .collect();
    assert!(
        long.is_empty(),
        "split these into named steps (at most {FUNCTION_LINES} lines each): {long:#?}"
    );
    let fitting: Vec<String> = LONG_FUNCTIONS
        .iter()
        .filter(|(listed, name, _, _)| {
            !all.iter().any(|(file, function, _, length)| {
                file == listed && function == name && *length > FUNCTION_LINES
            })
        })
        .map(|(file, function, _, _)| format!("{file}: {function}"))
        .collect();
    assert!(
        fitting.is_empty(),
        "these fit now (or are gone): take them off LONG_FUNCTIONS: {fitting:#?}"
    );
    // A listed function may shrink, not grow: what it needs goes into a step of its own.
    let grown: Vec<String> = all
        .iter()
        .filter_map(|(file, function, line, length)| {
            let (_, _, recorded, _) = LONG_FUNCTIONS
                .iter()
                .find(|(listed, name, _, _)| listed == file && name == function)?;
            (length > recorded).then(|| {
                format!("{file}:{line}: {function} ({length} lines, listed at {recorded})")
            })
        })
        .collect();
    assert!(
        grown.is_empty(),
        "these grew past the length LONG_FUNCTIONS records: split out what was added: {grown:#?}"
    );
}

/// Collects the first segment of every path the code names under `mfa_phone_handler::`,
/// grouped imports (`mfa_phone_handler::{a, b::c}`) included.
fn library_names(code: &str) -> BTreeSet<String> {
    const CRATE: &str = "mfa_phone_handler::";
    let mut names = BTreeSet::new();
    for (start, _) in code.match_indices(CRATE) {
        let rest = &code[start + CRATE.len()..];
        let Some(group) = rest.strip_prefix('{') else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
            continue;
        };
        let mut depth = 0;
        let end = group
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => return true,
                    '}' => depth -= 1,
                    _ => {}
                }
                false
            })
            .map_or(group.len(), |(at, _)| at);
        let mut depth = 0;
        let items = group[..end].split(|c| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            c == ',' && depth == 0
        });
        for item in items {
            let name: String = item
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names
}

/// Modules `lib.rs` keeps `pub` though nothing outside the library names them, each with why.
/// This list only shrinks.
const STILL_PUB: [&str; 0] = [];

/// Everything `pub` is invisible to the dead-code lint, so `lib.rs` makes a module `pub` only
/// when a binary, a benchmark or a test names it; every other module is private and the lint
/// reports what nothing uses. (The compiler checks that a module the outside names is `pub`.)
#[test]
fn the_library_exports_only_the_modules_its_binaries_benches_and_tests_name() {
    let mut outside = BTreeSet::new();
    let mut files = vec![root().join("src/main.rs")];
    for dir in ["src/bin", "benches", "tests"] {
        if root().join(dir).is_dir() {
            files.extend(rust_files(&root().join(dir)));
        }
    }
    for file in files {
        let code = std::fs::read_to_string(&file).expect("a readable file");
        outside.extend(library_names(&code_only(&code)));
    }
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).expect("src/lib.rs");
    let exported: Vec<&str> = lib
        .lines()
        .filter_map(|line| line.strip_prefix("pub mod ")?.strip_suffix(';'))
        .collect();
    let unnamed: Vec<&&str> = exported
        .iter()
        .filter(|name| !outside.contains(**name) && !STILL_PUB.contains(name))
        .collect();
    assert!(
        unnamed.is_empty(),
        "src/lib.rs exports modules nothing outside the library names; make them private \
         (`mod`): {unnamed:?}"
    );
    let settled: Vec<&str> = STILL_PUB
        .into_iter()
        .filter(|name| !exported.contains(name) || outside.contains(*name))
        .collect();
    assert!(
        settled.is_empty(),
        "STILL_PUB lists modules that are private now or named outside; take them off: \
         {settled:?}"
    );
}

#[test]
fn the_library_reader_sees_plain_paths_and_grouped_imports() {
    let code = "use mfa_phone_handler::phone::PhoneType;\n\
                use mfa_phone_handler::{simulator::{SimOptions, Simulator}, storage};\n\
                fn f() { mfa_phone_handler::init_logging(); }";
    let names: Vec<String> = library_names(code).into_iter().collect();
    assert_eq!(names, ["init_logging", "phone", "simulator", "storage"]);
}
