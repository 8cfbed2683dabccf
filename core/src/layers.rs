//! core's layers, lowest first. A module may use its own layer and those below it, never one
//! above: the pure verdict code compiles without the store, and a change to how answers are
//! worded cannot reach what the engine decides. The test reads every source file and fails
//! on an import that points up.

/// `crate::` modules by layer.
const LAYERS: &[&[&str]] = &[
    // Data and what is said of it: the domain model, versions, upstream observations,
    // typed evidence, forges, datasets.
    &[
        "model",
        "evr",
        "display",
        "source",
        "forge",
        "evidence",
        "observation",
        "releases",
    ],
    // Pure decisions, and the configuration.
    &["verdict", "change", "config"],
    // Reading dist-git and git.
    &[
        "git",
        "inventory",
        "fork",
        "distgit",
        "origin",
        "propose",
        "manifest",
    ],
    // The store (with the engine that decides inside its transactions).
    &["store"],
    // Words for people: answers, reports.
    &["answers", "report"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn no_module_uses_a_layer_above_its_own() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut wrong = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&src).expect("under src");
            let top = rel
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .unwrap_or_default()
                .trim_end_matches(".rs")
                .to_string();
            if matches!(top.as_str(), "lib" | "layers") || rel.ends_with("tests.rs") {
                continue;
            }
            let layer = layer_of(&top).unwrap_or_else(|| {
                panic!("core module `{top}` is in no layer: add it to LAYERS in layers.rs")
            });
            let text = std::fs::read_to_string(&file).expect("read");
            // Tests may reach anywhere.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for used in code.split("crate::").skip(1) {
                let name: String = used
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(l) = layer_of(&name)
                    && l > layer
                {
                    wrong.push(format!("{} uses crate::{name}", rel.display()));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports that point up:\n{}",
            wrong.join("\n")
        );
    }
}
