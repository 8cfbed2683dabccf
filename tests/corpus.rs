//! 600 real Fedora spec files (`../shared/corpus/fedora-specs`, specs only): every one is read
//! without a panic or a false "%if is never closed", and a hand-checked table of patches
//! (`tests/data/corpus-labels.txt`) is matched exactly, reference by reference.

use crate::util::{forkdebt, forkdebt_ok, repo_root, stderr};
use std::collections::{BTreeMap, BTreeSet};

fn corpus() -> std::path::PathBuf {
    repo_root().join("../shared/corpus/fedora-specs")
}

/// `(spec, patch file) -> "kind id"` set, as the table says.
fn labels() -> BTreeMap<(String, String), BTreeSet<String>> {
    let text =
        std::fs::read_to_string(repo_root().join("tests/data/corpus-labels.txt")).expect("labels");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '|').collect();
            assert_eq!(f.len(), 4, "a label row has spec|file|refs|why: {l}");
            assert!(!f[3].trim().is_empty(), "a label row says why: {l}");
            let refs = f[2]
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            ((f[0].to_string(), f[1].to_string()), refs)
        })
        .collect()
}

#[test]
fn the_fedora_corpus_is_read_as_a_packager_reads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("corpus.db").display());
    let corpus = corpus();
    let corpus = corpus.to_str().expect("utf-8 path");
    let scan = forkdebt(dir.path(), &["--database", &db, "scan", corpus]);
    let err = stderr(&scan);
    assert!(scan.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // rpm accepts every spec of the corpus: none has an unclosed %if.
    let unclosed: Vec<&str> = err.lines().filter(|l| l.contains("never closed")).collect();
    assert!(unclosed.is_empty(), "{unclosed:#?}");
    let out = String::from_utf8_lossy(&scan.stdout);
    assert!(out.contains("600 packages"), "{out}");

    let report = forkdebt_ok(
        dir.path(),
        &["--database", &db, "report", "--format", "json"],
    );
    let json: serde_json::Value = serde_json::from_str(&report).expect("json");
    let mut got: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for p in json["packages"].as_array().expect("packages") {
        let spec = p["spec"].as_str().expect("spec").to_string();
        for patch in p["patches"].as_array().expect("patches") {
            let refs = patch["refs"]
                .as_array()
                .expect("refs")
                .iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r["kind"].as_str().unwrap_or("?"),
                        r["id"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            let file = patch["file"].as_str().expect("file").to_string();
            got.insert((spec.clone(), file), refs);
        }
    }
    let want = labels();
    assert!(want.len() >= 150, "the table has {} patches", want.len());
    let mut wrong = Vec::new();
    for (key, refs) in &want {
        match got.get(key) {
            None => wrong.push(format!("{key:?}: not found")),
            Some(found) if found != refs => {
                let missing: Vec<_> = refs.difference(found).collect();
                let extra: Vec<_> = found.difference(refs).collect();
                wrong.push(format!("{key:?}: missing {missing:?}, extra {extra:?}"));
            }
            Some(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows differ:\n{}",
        wrong.len(),
        want.len(),
        wrong.join("\n")
    );
}
