//! Which patch a `%changelog` line names. Packagers write a patch's file name, its stem, a
//! short or partial name (`- fix autostart.patch (#2001664)` for
//! `foo-1.2-autostart.patch`), its number (`Patch1002: backport #11778`) or only what it is
//! about (`- add patch for openssl4 (#2504317)` for `foo-openssl4.patch`). A line is said to
//! name a patch only when exactly one patch fits the strongest rule that matches.

use crate::model::Patch;
use std::collections::HashMap;

static_regex!(PATCH_NUMBER, r"\b(?:[Pp]atch|PATCH)\s?(\d{1,5})\b");
static_regex!(
    DROPPED,
    r"\b(?:remove[ds]?|drop(?:ped|s)?|delete[ds]?|obsolete)\b.*\bpatch"
);
static_regex!(FILE_TOKEN, r"[\w.+-]+\.(?:patch|diff)\b");

/// Words too common in patch names to tell one patch from another.
const COMMON: &[&str] = &[
    "add",
    "added",
    "adds",
    "allow",
    "also",
    "and",
    "backport",
    "build",
    "builds",
    "bump",
    "change",
    "changes",
    "check",
    "compile",
    "compiler",
    "config",
    "configure",
    "crash",
    "default",
    "diff",
    "disable",
    "don't",
    "enable",
    "error",
    "errors",
    "failure",
    "fedora",
    "file",
    "files",
    "fix",
    "fixed",
    "fixes",
    "fixing",
    "for",
    "from",
    "handle",
    "install",
    "into",
    "issue",
    "make",
    "missing",
    "more",
    "new",
    "newer",
    "not",
    "old",
    "only",
    "patch",
    "patches",
    "port",
    "remove",
    "rhel",
    "support",
    "test",
    "tests",
    "the",
    "this",
    "typo",
    "update",
    "updated",
    "upstream",
    "use",
    "using",
    "version",
    "warning",
    "warnings",
    "when",
    "with",
    "without",
    "work",
    "gcc",
    "python",
    "python3",
    "cmake",
    "system",
    "library",
    "libs",
    "lib",
    "doc",
    "docs",
    "man",
    "revert",
];

pub struct PatchNames {
    /// Lower-case file name, and its stem without `.patch`/`.diff`, per patch.
    files: Vec<(String, String)>,
    numbers: HashMap<u32, usize>,
    /// A distinctive word of a patch name → the patches whose names have it.
    words: HashMap<String, Vec<usize>>,
}

impl PatchNames {
    pub fn new(patches: &[Patch], package: &str) -> PatchNames {
        let package_words: Vec<String> = split_words(package).collect();
        let mut words: HashMap<String, Vec<usize>> = HashMap::new();
        let mut files = Vec::with_capacity(patches.len());
        let mut numbers = HashMap::new();
        for (i, p) in patches.iter().enumerate() {
            let file = p.file.to_ascii_lowercase();
            let stem = file
                .trim_end_matches(".patch")
                .trim_end_matches(".diff")
                .to_string();
            for w in split_words(&stem) {
                let distinctive = w.len() >= 5
                    && w.bytes().any(|b| b.is_ascii_alphabetic())
                    && !looks_like_version(&w)
                    && !COMMON.contains(&w.as_str())
                    && !package_words.contains(&w);
                if distinctive {
                    let owners = words.entry(w).or_default();
                    if owners.last() != Some(&i) {
                        owners.push(i);
                    }
                }
            }
            files.push((file, stem));
            if let Some(n) = p.number {
                numbers.insert(n, i);
            }
        }
        PatchNames {
            files,
            numbers,
            words,
        }
    }

    /// The patches `line` names by file name, stem or `PatchN`.
    pub fn named_exactly(&self, line: &str) -> Vec<usize> {
        let lower = line.to_ascii_lowercase();
        // 1. The whole file name, or its stem (long enough not to be a word).
        let mut found: Vec<usize> = self
            .files
            .iter()
            .enumerate()
            .filter(|(_, (file, stem))| {
                (file.len() > 4 && lower.contains(file.as_str()))
                    || (stem.len() >= 8 && contains_word(&lower, stem))
            })
            .map(|(i, _)| i)
            .collect();
        if !found.is_empty() {
            return found;
        }
        // 2. `PatchN`.
        found = PATCH_NUMBER
            .captures_iter(line)
            .filter_map(|c| c[1].parse::<u32>().ok())
            .filter_map(|n| self.numbers.get(&n).copied())
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The patches `line` names by a short name or a word only one patch's name has: weaker,
    /// used when nothing else says which patch a line is about.
    pub fn named_loosely(&self, line: &str) -> Vec<usize> {
        let lower = line.to_ascii_lowercase();
        let mut found = Vec::new();
        // 3. A short name: `autostart.patch` for `foo-1.2-autostart.patch`.
        for token in FILE_TOKEN.find_iter(&lower) {
            let token = token.as_str();
            found.extend(
                self.files
                    .iter()
                    .enumerate()
                    .filter(|(_, (file, _))| {
                        file.strip_suffix(token)
                            .is_some_and(|head| head.ends_with(['-', '_', '.']))
                    })
                    .map(|(i, _)| i),
            );
        }
        if !found.is_empty() {
            found.sort_unstable();
            found.dedup();
            return found;
        }
        // 4. A word only one patch's name has, in a line that talks about a patch ("add patch
        // for openssl4"): other lines name config files, features and packages by such words.
        let says_patch = lower.match_indices("patch").any(|(at, _)| {
            !lower[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '.')
                && !lower[at + 5..].starts_with(|c: char| c.is_ascii_alphanumeric())
        });
        // "Remove patch for ppc64le triple": about a patch no longer carried.
        if !says_patch || DROPPED.is_match(&lower) {
            return found;
        }
        for w in split_words(&lower) {
            if let Some(owners) = self.words.get(&w)
                && owners.len() == 1
            {
                found.push(owners[0]);
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

fn split_words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
}

/// `1`, `2.3`, `v5`, `3x`, `20240101`: numbers and versions, not names.
fn looks_like_version(w: &str) -> bool {
    let digits = w.bytes().filter(u8::is_ascii_digit).count();
    digits * 2 >= w.len() || (w.starts_with('v') && digits + 1 == w.len())
}

/// `needle` in `hay` as a name of its own: not inside a longer name (`ppolicy-check-password`
/// does not name `check-password`).
fn contains_word(hay: &str, needle: &str) -> bool {
    let joins = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    hay.match_indices(needle).any(|(at, _)| {
        let before = hay[..at].chars().next_back();
        let after = hay[at + needle.len()..].chars().next();
        !before.is_some_and(joins) && !after.is_some_and(joins)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patches(files: &[&str]) -> Vec<Patch> {
        files
            .iter()
            .enumerate()
            .map(|(i, f)| Patch {
                file: (*f).to_string(),
                number: Some(u32::try_from(i).unwrap_or(0)),
                ..Patch::default()
            })
            .collect()
    }

    #[test]
    fn a_short_name_names_the_one_patch_it_ends() {
        let p = patches(&["gnome-shell-1.2-autostart.patch", "gnome-shell-other.patch"]);
        let names = PatchNames::new(&p, "gnome-shell");
        assert_eq!(names.named_loosely("- fix autostart.patch (#2001664)"), [0]);
    }

    #[test]
    fn a_distinctive_word_names_its_patch() {
        let p = patches(&[
            "foo-openssl4.patch",
            "foo-gcc15.patch",
            "foo-fix-build.patch",
        ]);
        let names = PatchNames::new(&p, "foo");
        assert_eq!(
            names.named_loosely("- add patch for openssl4 (#2504317)"),
            [0]
        );
        // "build" and "fix" are in every other name: they name nothing.
        assert!(names.named_loosely("- fix the build (#2504318)").is_empty());
        // Without the word "patch", a word names nothing: "openssl4" may be the package.
        assert!(
            names
                .named_loosely("- rebuild for openssl4 (#2504319)")
                .is_empty()
        );
    }

    #[test]
    fn a_patch_number_names_its_patch() {
        let mut p = patches(&["a.patch", "b.patch"]);
        p[1].number = Some(1002);
        let names = PatchNames::new(&p, "foo");
        assert_eq!(names.named_exactly("Patch1002: backport #11778"), [1]);
    }

    #[test]
    fn two_names_are_two_patches() {
        let p = patches(&["foo-alpha.patch", "foo-beta.patch"]);
        let names = PatchNames::new(&p, "foo");
        assert_eq!(
            names.named_exactly("- foo-alpha.patch and foo-beta.patch (#123456)"),
            [0, 1]
        );
    }
}
