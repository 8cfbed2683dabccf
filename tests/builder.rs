//! One builder for the thing most tests start from: a dist-git folder with these packages
//! (spec, patches, the comments above each Patch line) and a `forkdebt.toml` beside it.
//!
//! ```ignore
//! let tree = DistGit::new(dir)
//!     .package(Package::new("demo").patch("0001-fix.patch", &header))
//!     .config("[sources.github]\nurl = \"...\"\n")
//!     .committed()
//!     .scanned();
//! ```

use crate::util::{forkdebt_ok, git};
use std::path::{Path, PathBuf};

/// One patch of a package: its file, the file's text, the comment above its `Patch` line.
pub struct Patch {
    file: String,
    text: String,
    comment: Option<String>,
}

/// One package of the dist-git: `<root>/<name>/<name>.spec` and its patch files.
pub struct Package {
    name: String,
    version: String,
    release: String,
    patches: Vec<Patch>,
    preamble: Vec<String>,
}

impl Package {
    /// A package at version 1.0, release `1.hs%{?dist}`, with no patch.
    pub fn new(name: &str) -> Package {
        Package {
            name: name.to_string(),
            version: "1.0".into(),
            release: "1.hs%{?dist}".into(),
            patches: Vec::new(),
            preamble: Vec::new(),
        }
    }

    pub fn version(mut self, version: &str) -> Package {
        self.version = version.to_string();
        self
    }

    /// A preamble line more (`URL: …`, `Source0: …`).
    pub fn preamble(mut self, line: &str) -> Package {
        self.preamble.push(line.to_string());
        self
    }

    pub fn release(mut self, release: &str) -> Package {
        self.release = release.to_string();
        self
    }

    /// A patch whose file holds `text` (its header and diff).
    pub fn patch(mut self, file: &str, text: &str) -> Package {
        self.patches.push(Patch {
            file: file.to_string(),
            text: text.to_string(),
            comment: None,
        });
        self
    }

    /// A patch with `comment` (one or more lines, without `#`) above its `Patch` line.
    pub fn commented_patch(self, comment: &str, file: &str, text: &str) -> Package {
        self.patch(file, text).with_last_comment(comment)
    }

    fn with_last_comment(mut self, comment: &str) -> Package {
        if let Some(p) = self.patches.last_mut() {
            p.comment = Some(comment.to_string());
        }
        self
    }

    /// The spec file's text.
    pub fn spec(&self) -> String {
        let mut s = format!(
            "Name: {}\nVersion: {}\nRelease: {}\nSummary: {0}\nLicense: MIT\n\n",
            self.name, self.version, self.release
        );
        for line in &self.preamble {
            s.push_str(line);
            s.push('\n');
        }
        for (n, p) in self.patches.iter().enumerate() {
            if let Some(c) = &p.comment {
                for line in c.lines() {
                    s.push_str(&format!("# {line}\n"));
                }
            }
            s.push_str(&format!("Patch{}: {}\n", n + 1, p.file));
        }
        s.push_str(&format!(
            "\n%description\n{}\n\n%prep\n%autosetup -p1\n\n%changelog\n",
            self.name
        ));
        s
    }

    fn write(&self, root: &Path) {
        let dir = root.join(&self.name);
        std::fs::create_dir_all(&dir).expect("package folder");
        for p in &self.patches {
            std::fs::write(dir.join(&p.file), &p.text).expect("patch file");
        }
        std::fs::write(dir.join(format!("{}.spec", self.name)), self.spec()).expect("spec");
    }
}

/// A dist-git in a test's folder.
pub struct DistGit {
    /// The test's folder: `forkdebt.toml` and the SQLite store are here.
    pub dir: PathBuf,
    /// The dist-git repository (`dir/distgit`); packages are in its `rpms/`.
    pub repo: PathBuf,
}

impl DistGit {
    /// An empty dist-git at `dir/distgit/rpms`.
    pub fn new(dir: &Path) -> DistGit {
        let repo = dir.join("distgit");
        std::fs::create_dir_all(repo.join("rpms")).expect("dist-git folder");
        DistGit {
            dir: dir.to_path_buf(),
            repo,
        }
    }

    /// Where the packages are.
    pub fn rpms(&self) -> PathBuf {
        self.repo.join("rpms")
    }

    pub fn package(self, package: Package) -> DistGit {
        package.write(&self.rpms());
        self
    }

    /// `forkdebt.toml`: a SQLite store in the folder, a contact, sources that neither wait nor
    /// retry long, and `extra` (more sections) after them.
    pub fn config(self, extra: &str) -> DistGit {
        std::fs::write(
            self.dir.join("forkdebt.toml"),
            format!(
                "database = \"sqlite://{}\"\ncontact = \"mailto:ops@example.org\"\n\
                 [sources]\ntimeout_secs = 5\nmax_retries = 1\nmin_interval_ms = 0\n{extra}",
                self.dir.join("f.db").display()
            ),
        )
        .expect("config");
        self
    }

    /// `forkdebt scan` of the dist-git with its config (see [`DistGit::config`]).
    pub fn scanned(self) -> DistGit {
        forkdebt_ok(&self.dir, &["--config", "forkdebt.toml", "scan", "distgit"]);
        self
    }

    /// The dist-git as a git repository with everything committed.
    pub fn committed(self) -> DistGit {
        git(&self.repo, &["init", "-q"]);
        git(&self.repo, &["add", "."]);
        git(&self.repo, &["commit", "-qm", "import"]);
        self
    }
}

/// A minimal patch file changing line `line` of `file`, with a `Subject` and, when given, a
/// header line more (`Forwarded: <url>`, a trailer).
pub fn patch_text(file: &str, line: usize, subject: &str, header: &str) -> String {
    let header = if header.is_empty() {
        String::new()
    } else {
        format!("{header}\n")
    };
    format!(
        "From: Dev <dev@example.org>\nSubject: [PATCH] {subject}\n{header}---\n\
         --- a/{file}\n+++ b/{file}\n@@ -{line} +{line} @@\n-a\n+b\n"
    )
}
