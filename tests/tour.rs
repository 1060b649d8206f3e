//! docs/TOUR.md walks one request through the code, naming `file:function` at each hop. This
//! keeps it true: every file it names exists, and defines a function of that name.

use std::collections::BTreeSet;
use std::path::Path;

/// The `path.rs:name` references in a text, in backticks.
fn references(text: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for quoted in text.split('`').skip(1).step_by(2) {
        let Some((file, function)) = quoted.split_once(".rs:") else {
            continue;
        };
        let is_name = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
        if is_name(function) && file.starts_with("src/") {
            found.insert((format!("{file}.rs"), function.to_string()));
        }
    }
    found
}

/// Whether `source` defines a function `name` (free, associated or a trait method).
fn defines(source: &str, name: &str) -> bool {
    source.match_indices(&format!("fn {name}")).any(|(at, m)| {
        let next = source[at + m.len()..].chars().next();
        matches!(next, Some('(' | '<'))
    })
}

#[test]
fn every_function_the_tour_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tour = std::fs::read_to_string(root.join("docs/TOUR.md")).unwrap();
    let refs = references(&tour);
    assert!(refs.len() >= 30, "the tour names {} functions", refs.len());
    let mut missing = Vec::new();
    for (file, function) in &refs {
        match std::fs::read_to_string(root.join(file)) {
            Ok(source) if defines(&source, function) => {}
            Ok(_) => missing.push(format!("{file}:{function} (no such function)")),
            Err(_) => missing.push(format!("{file}:{function} (no such file)")),
        }
    }
    assert!(
        missing.is_empty(),
        "docs/TOUR.md is out of date: {missing:#?}"
    );
}

#[test]
fn the_check_can_fail() {
    let refs = references("see `src/lib.rs:run` and `src/lib.rs:no_such_thing`, not `x.rs`");
    assert_eq!(refs.len(), 2);
    let lib = include_str!("../src/lib.rs");
    assert!(defines(lib, "run"));
    assert!(!defines(lib, "no_such_thing"));
    assert!(!defines(lib, "ru"), "a prefix is not a name");
}
