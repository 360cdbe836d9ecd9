//! The crate's modules depend on each other one way (issue 12: "no import circles").
//!
//! A module depends on another when its code (tests excluded) names it through `crate::…` or
//! `super::…`, directly, inside a `use …::{…}` group, or through a module it imported by name
//! (`use super::screens;` then `screens::overview::draw`). A parent and its own children are not
//! a circle. The graph is read from the sources, so a new circle fails this test with the modules
//! in it and one reference per edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every module of `src/`, by path, with its source up to its tests.
fn modules() -> BTreeMap<Module, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeMap::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Module = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]") {
                Some(tests) => text[..tests].to_string(),
                None => text,
            };
            found.insert(module, code);
        }
    }
    found
}

/// Every path written in `code` (`a::b::c`, with `a::{b, c::d}` groups expanded).
fn paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let starts =
            is_ident(chars[at]) && (at == 0 || !(is_ident(chars[at - 1]) || chars[at - 1] == ':'));
        if starts {
            let (end, mut expanded) = path_at(&chars, at);
            out.append(&mut expanded);
            at = end.max(at + 1);
        } else {
            at += 1;
        }
    }
    out.retain(|path| path.len() > 1);
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The path starting at `at`, expanded over its groups; returns where it ends.
fn path_at(chars: &[char], mut at: usize) -> (usize, Vec<Vec<String>>) {
    let mut prefix = Vec::new();
    loop {
        let start = at;
        while at < chars.len() && is_ident(chars[at]) {
            at += 1;
        }
        prefix.push(chars[start..at].iter().collect::<String>());
        let separator = chars.get(at) == Some(&':') && chars.get(at + 1) == Some(&':');
        if !separator {
            return (at, vec![prefix]);
        }
        at += 2;
        match chars.get(at) {
            Some('{') => {
                let (end, items) = group_at(chars, at + 1);
                let expanded = items
                    .into_iter()
                    .map(|item| prefix.iter().cloned().chain(item).collect())
                    .collect();
                return (end, expanded);
            }
            Some(&c) if is_ident(c) => {}
            _ => return (at, vec![prefix]),
        }
    }
}

/// The items of a `{…}` group starting after its brace; returns where the group ends.
fn group_at(chars: &[char], mut at: usize) -> (usize, Vec<Vec<String>>) {
    let mut items = Vec::new();
    while at < chars.len() {
        match chars[at] {
            '}' => return (at + 1, items),
            c if is_ident(c) => {
                let (end, mut expanded) = path_at(chars, at);
                items.append(&mut expanded);
                at = skip_alias(chars, end);
            }
            _ => at += 1,
        }
    }
    (at, items)
}

/// Past an ` as name` after a group item.
fn skip_alias(chars: &[char], at: usize) -> usize {
    let rest: String = chars[at..chars.len().min(at + 4)].iter().collect();
    if !rest.starts_with(" as ") {
        return at;
    }
    let mut end = at + 4;
    while end < chars.len() && is_ident(chars[end]) {
        end += 1;
    }
    end
}

/// The module a path written in `module` names, and whether it names the module itself.
fn resolve(
    module: &Module,
    path: &[String],
    known: &BTreeMap<Module, String>,
) -> Option<(Module, bool)> {
    let absolute: Module = match path.first().map(String::as_str) {
        Some("crate") => path[1..].to_vec(),
        Some("self") => module.iter().chain(&path[1..]).cloned().collect(),
        Some("super") => {
            let mut base = module.clone();
            base.pop();
            let mut rest = &path[1..];
            while rest.first().is_some_and(|segment| segment == "super") {
                base.pop();
                rest = &rest[1..];
            }
            base.into_iter().chain(rest.iter().cloned()).collect()
        }
        _ => return None,
    };
    (1..=absolute.len()).rev().find_map(|len| {
        let candidate = absolute[..len].to_vec();
        known
            .contains_key(&candidate)
            .then_some((candidate, len == absolute.len()))
    })
}

/// Each module's dependencies, with one reference that shows each edge.
fn dependencies(known: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeMap<Module, String>> {
    let mut graph = BTreeMap::new();
    for (module, code) in known {
        let written = paths(code);
        let mut edges: BTreeMap<Module, String> = BTreeMap::new();
        let mut add = |target: Module, shown: String| {
            let related = target.starts_with(module) || module.starts_with(&target);
            if !related {
                edges.entry(target).or_insert(shown);
            }
        };
        let mut imported: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for path in &written {
            if let Some((target, whole)) = resolve(module, path, known) {
                if whole {
                    imported.insert(path[path.len() - 1].clone(), path.clone());
                }
                add(target, path.join("::"));
            }
        }
        for path in &written {
            let Some(prefix) = imported.get(&path[0]) else {
                continue;
            };
            let full: Vec<String> = prefix.iter().chain(&path[1..]).cloned().collect();
            if let Some((target, _)) = resolve(module, &full, known) {
                add(target, path.join("::"));
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan's algorithm).
fn circles(graph: &BTreeMap<Module, BTreeMap<Module, String>>) -> Vec<BTreeSet<Module>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Module, BTreeMap<Module, String>>,
        index: BTreeMap<&'g Module, usize>,
        low: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        on_stack: BTreeSet<&'g Module>,
        found: Vec<BTreeSet<Module>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, module: &'g Module) {
            let number = self.index.len();
            self.index.insert(module, number);
            self.low.insert(module, number);
            self.stack.push(module);
            self.on_stack.insert(module);
            for next in self.graph[module].keys() {
                let next = self.graph.get_key_value(next).map(|(key, _)| key).unwrap();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[module].min(self.low[next]);
                    self.low.insert(module, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[module].min(self.index[next]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut component = BTreeSet::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.insert(member.clone());
                    if member == module {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for module in graph.keys() {
        if !walk.index.contains_key(module) {
            walk.visit(module);
        }
    }
    walk.found
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let known = modules();
    let graph = dependencies(&known);
    let found = circles(&graph);
    let shown: Vec<String> = found
        .iter()
        .map(|circle| {
            let edges: Vec<String> = circle
                .iter()
                .flat_map(|from| {
                    graph[from]
                        .iter()
                        .filter(|(to, _)| circle.contains(*to))
                        .map(move |(to, why)| {
                            format!("{} -> {} ({why})", from.join("::"), to.join("::"))
                        })
                })
                .collect();
            edges.join("\n  ")
        })
        .collect();
    assert!(
        found.is_empty(),
        "import circles:\n  {}",
        shown.join("\n\n  ")
    );
}

#[test]
fn the_reader_sees_a_circle_where_there_is_one() {
    let known: BTreeMap<Module, String> = [
        (
            vec!["a".to_string()],
            "use crate::b::{self, Thing};".to_string(),
        ),
        (
            vec!["b".to_string()],
            "use super::c;\nfn f() { c::d::go(); }".to_string(),
        ),
        (vec!["c".to_string()], String::new()),
        (
            vec!["c".to_string(), "d".to_string()],
            "use crate::a::X;".to_string(),
        ),
        (
            vec!["e".to_string()],
            "use self::f::G; use crate::a;".to_string(),
        ),
        (
            vec!["e".to_string(), "f".to_string()],
            "use crate::e::H;".to_string(),
        ),
    ]
    .into_iter()
    .collect();
    let found = circles(&dependencies(&known));
    let module = |path: &[&str]| path.iter().map(|part| part.to_string()).collect::<Module>();
    let expected: BTreeSet<Module> = [module(&["a"]), module(&["b"]), module(&["c", "d"])]
        .into_iter()
        .collect();
    assert_eq!(found, vec![expected]);
}
