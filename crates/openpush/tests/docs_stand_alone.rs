//! The repository explains itself: its documents, code comments and CLI help never point a
//! reader at files or section numbers they do not have (a private specification's `§3.9`,
//! `shared/design.md`, "the spec", "the brief").

use std::path::{Path, PathBuf};

/// Citations of material outside the repository. A public standard may be cited by name
/// (`RFC 7518 §3.4`).
fn citations(line: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    let lower = line.to_lowercase();
    for needle in [
        "shared/design",
        "shared/spec",
        "design.md",
        "easemob-push-api.md",
        "sdk-compat.md",
        "the spec ",
        "the spec,",
        "the spec.",
        "the brief",
    ] {
        if lower.contains(needle) {
            found.push(needle);
        }
    }
    let chars: Vec<char> = line.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == '§' && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            let before: String = chars[..i].iter().collect();
            if !before.trim_end().ends_with(|c: char| c.is_ascii_digit()) || !before.contains("RFC")
            {
                found.push("§N");
            }
        }
    }
    found
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                files(&p, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".md") || name.ends_with(".toml") {
            out.push(p);
        }
    }
}

#[test]
fn docs_comments_and_help_cite_nothing_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut all = Vec::new();
    for d in ["crates", "docs", ".ci"] {
        files(&root.join(d), &mut all);
    }
    all.push(root.join("README.md"));
    assert!(all.len() > 50, "the walk found the sources: {}", all.len());
    let this = Path::new(file!()).file_name().unwrap();
    let mut bad = Vec::new();
    for f in &all {
        if f.file_name() == Some(this) {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let c = citations(line);
            if !c.is_empty() {
                bad.push(format!("{}:{}: {c:?}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "citations of material the repository does not have:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_citation_check_finds_what_it_should() {
    assert_eq!(citations("/// Limits (§3.9)."), ["§N"]);
    assert_eq!(
        citations("see shared/design.md"),
        ["shared/design", "design.md"]
    );
    assert!(citations("/push/label/shared/user").is_empty());
    assert_eq!(citations("as the spec says"), ["the spec "]);
    assert!(citations("(RFC 7518 §3.4)").is_empty());
    assert!(citations("the specification of Easemob's API").is_empty());
}
