//! The shape of the source, checked on the files: no module imports one that imports it
//! back (parents and their own submodules aside), and `lib.rs`'s Layout section names
//! every module of the library.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// Every module of the library: its path (`extract::generic`) → its file. Test-only
/// files (`tests.rs`, `*_tests.rs`) are left out.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|l| l == "mod") {
            parts.pop();
        }
        if parts == ["lib"] || parts == ["main"] {
            continue;
        }
        if parts
            .last()
            .is_some_and(|l| l == "tests" || l.ends_with("_tests"))
        {
            continue;
        }
        out.insert(parts.join("::"), f);
    }
    out
}

/// The modules `file` (module `path`) refers to through `crate::…` or `super::…`, test
/// sections and comments left out.
fn references(path: &str, file: &Path, known: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let comment = Regex::new(r"//.*").unwrap();
    let text = comment.replace_all(text, "");
    let parts: Vec<&str> = path.split("::").collect();
    let parent = &parts[..parts.len() - 1];
    let resolve = |root: &str, rest: &[&str]| -> Option<String> {
        let mut full: Vec<&str> = if root == "crate" {
            Vec::new()
        } else {
            parent.to_vec()
        };
        full.extend_from_slice(rest);
        (1..=full.len())
            .rev()
            .map(|k| full[..k].join("::"))
            .find(|c| known.contains_key(c))
    };
    let mut out = BTreeSet::new();
    let paths = Regex::new(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)").unwrap();
    for c in paths.captures_iter(&text) {
        let rest: Vec<&str> = c[2].trim_start_matches(':').split("::").collect();
        out.extend(resolve(&c[1], &rest));
    }
    let groups = Regex::new(r"\buse (crate|super)::\{([^}]*)\}").unwrap();
    for c in groups.captures_iter(&text) {
        for name in c[2].split(|ch: char| ch == ',' || ch.is_whitespace()) {
            let first = name.split("::").next().unwrap_or("");
            if !first.is_empty() {
                let rest = [first];
                out.extend(resolve(&c[1], &rest).filter(|m| m.ends_with(first)));
            }
        }
    }
    out.remove(path);
    out
}

fn related(a: &str, b: &str) -> bool {
    b.starts_with(&format!("{a}::")) || a.starts_with(&format!("{b}::"))
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    assert!(mods.len() > 30, "{} modules found", mods.len());
    let refs: BTreeMap<&String, BTreeSet<String>> = mods
        .iter()
        .map(|(m, f)| (m, references(m, f, &mods)))
        .collect();
    let mut cycles = Vec::new();
    for (a, rs) in &refs {
        for b in rs {
            if !related(a, b) && a.as_str() < b.as_str() && refs[b].contains(a.as_str()) {
                cycles.push(format!("{a} <-> {b}"));
            }
        }
    }
    // The same between the top-level modules (store using daemon using store …).
    let top = |m: &str| m.split("::").next().unwrap_or("").to_string();
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, rs) in &refs {
        for b in rs {
            if top(a) != top(b) {
                tops.entry(top(a)).or_default().insert(top(b));
            }
        }
    }
    for (a, bs) in &tops {
        for b in bs {
            if a < b && tops.get(b).is_some_and(|x| x.contains(a)) {
                cycles.push(format!("{a} <-> {b} (top level)"));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
    // The check itself finds a cycle where there is one.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.rs"), "use crate::b::X;\n").unwrap();
    std::fs::write(dir.path().join("b.rs"), "use super::a::Y;\n").unwrap();
    let m = modules(dir.path());
    assert!(references("a", &m["a"], &m).contains("b"));
    assert!(references("b", &m["b"], &m).contains("a"));
}

#[test]
fn the_layout_section_of_lib_rs_names_every_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let layout = lib
        .split("# Layout")
        .nth(1)
        .expect("lib.rs has a Layout section");
    let missing: Vec<String> = modules(&root.join("src"))
        .into_keys()
        .filter(|m| !layout.contains(&format!("[`{m}`]")))
        .collect();
    assert!(
        missing.is_empty(),
        "lib.rs's Layout section does not name: {missing:?}"
    );
}
