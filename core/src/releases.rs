//! Release tags as versions, the way each upstream tags: `v252`, `FILE5_46` (file 5.46),
//! `rel_1_14_1`, `sf_17.1`, `1.3.0.post6`, `0.94n`, `libp11-0.4.13`, one repository tagging
//! several components (`jpegxl-rs-v0.11.2` beside `jpegxl-src-v0.11.2`), dated tags
//! (`2025-02-10-Release-2.10.0`), and pre-releases (`v3.0.0rc1`, `2.9.1-beta`,
//! `2024-06-16-Development-…`) which are never "the first release" of a change.
//!
//! Without a configured `release_tags` pattern, a repository's scheme is inferred from its
//! own tags ([`Scheme::infer`]): the component prefix that names the package, else the
//! prefix most of its tags share. Behaviour learned from Anitya's version prefixes and
//! libversion's pre/post-release order; versions are then ordered as rpm orders them.

use std::collections::HashMap;

/// A tag read as a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagVersion {
    /// What comes before the version (`jpegxl-rs-`, `FILE`, `rel_`, `v`), as written.
    pub prefix: String,
    /// The version as rpm orders it (`_` read as `.`, a pre-release after `~`).
    pub version: String,
    pub pre: bool,
}

static_regex!(DATED, r"^\d{4}-\d{2}-\d{2}[-_]([A-Za-z]+)[-_](.+)$");
static_regex!(GLUED, r"^([A-Za-z]+)(\d+(?:_\d+)+)$");
static_regex!(
    SHAPED,
    r"^((?:[A-Za-z][A-Za-z0-9._-]*?[-_])?)([vV]?)(\d+(?:[._]\d+)*)(.*)$"
);
static_regex!(
    PRE,
    r"(?i)^[-_.~]?(rc|beta|alpha|dev|pre|preview|a|b)[-_.]?\d*$"
);
static_regex!(POST, r"(?i)^[-_.]?(post|p|pl|patch)[-_.]?\d+$");
// `rpm-4.19.1-release`: a word saying it is the release itself.
static_regex!(RELEASE_WORD, r"(?i)^[-_.](release|final)$");

/// Reads `tag` as a version, or `None` when it is not one (`latest`, `debian/1.2-3`).
pub fn read(tag: &str) -> Option<TagVersion> {
    // `2025-02-10-Release-2.10.0`, `2024-06-16-Development-2.9.1-beta`.
    if let Some(c) = DATED.captures(tag) {
        let kind = c.get(1)?.as_str();
        // The date and the kind word differ from tag to tag: they are not a component
        // prefix, so the prefix is the version part's own and all dated tags are one scheme.
        let mut v = read(c.get(2)?.as_str())?;
        if kind.eq_ignore_ascii_case("development") && !v.pre {
            v.pre = true;
            v.version.push_str("~dev");
        }
        return Some(v);
    }
    // `FILE5_46`: letters glued to a `_`-separated version.
    if let Some(c) = GLUED.captures(tag) {
        return Some(TagVersion {
            prefix: c.get(1)?.as_str().to_string(),
            version: c.get(2)?.as_str().replace('_', "."),
            pre: false,
        });
    }
    let c = SHAPED.captures(tag)?;
    let prefix = format!("{}{}", c.get(1)?.as_str(), c.get(2)?.as_str());
    let core = c.get(3)?.as_str().replace('_', ".");
    let suffix = c.get(4)?.as_str();
    let (version, pre) = if suffix.is_empty() || RELEASE_WORD.is_match(suffix) {
        (core, false)
    } else if suffix.len() == 1 && suffix.bytes().all(|b| b.is_ascii_lowercase()) {
        // `0.94n`: the letter is part of the version.
        (format!("{core}{suffix}"), false)
    } else if POST.is_match(suffix) {
        let digits: String = suffix.chars().filter(char::is_ascii_digit).collect();
        let word: String = suffix
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_lowercase();
        if word == "p" {
            // OpenSSH's `V_9_8_P1` is the `9.8p1` its packages' Version says.
            (format!("{core}p{digits}"), false)
        } else {
            // `1.3.0.post6`: after 1.3.0.
            (format!("{core}.post{digits}"), false)
        }
    } else if PRE.is_match(suffix) {
        let mark: String = suffix
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        (format!("{core}~{mark}"), true)
    } else {
        return None;
    };
    Some(TagVersion {
        prefix,
        version,
        pre,
    })
}

/// A prefix compared as a name: lower case, `_` as `-`, separators and a `v` at the end off.
fn prefix_key(prefix: &str) -> String {
    let p = prefix.to_ascii_lowercase().replace('_', "-");
    let p = p.trim_end_matches(['-', '.']);
    let p = p.strip_suffix("-v").unwrap_or(p);
    let p = if p == "v" { "" } else { p };
    p.trim_end_matches(['-', '.']).to_string()
}

/// How one repository tags its releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    /// The prefix (as a name, see [`prefix_key`]) of the tags that are this package's.
    pub prefix: String,
}

/// The package's name as a tag prefix wins while it reads at least 1/this of the tags the
/// most common prefix reads.
const NAME_PREFIX_SHARE: usize = 4;

impl Scheme {
    /// The scheme of a repository with `tags`, for a package known as any of `names` (its
    /// name, its crate's, the repository's): the tags whose prefix is one of the names, else
    /// those sharing the most common prefix.
    pub fn infer<'a>(tags: impl IntoIterator<Item = &'a str>, names: &[&str]) -> Scheme {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for t in tags {
            if let Some(v) = read(t) {
                *counts.entry(prefix_key(&v.prefix)).or_default() += 1;
            }
        }
        let wanted: Vec<String> = names
            .iter()
            .flat_map(|n| {
                let n = n.to_ascii_lowercase().replace('_', "-");
                let bare = n
                    .strip_prefix("rust-")
                    .or_else(|| n.strip_prefix("python-"))
                    .or_else(|| n.strip_prefix("python3-"))
                    .unwrap_or(&n)
                    .to_string();
                [n, bare]
            })
            .collect();
        // The package's own component prefix, unless it is a handful of old tags beside the
        // project's usual scheme (NetworkManager: `NETWORKMANAGER_0_6_5_99` and
        // `NetworkManager-0_3_1` from 2005, then 600 tags like `1.48.0`).
        let most = counts.values().copied().max().unwrap_or(0);
        if let Some(p) = wanted.iter().find(|w| {
            counts
                .get(*w)
                .is_some_and(|n| n * NAME_PREFIX_SHARE >= most)
        }) {
            return Scheme { prefix: p.clone() };
        }
        let prefix = counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(p, _)| p)
            .unwrap_or_default();
        Scheme { prefix }
    }

    /// `tag` as this scheme reads it: `None` for another component's tag or no version.
    pub fn read(&self, tag: &str) -> Option<TagVersion> {
        read(tag).filter(|v| prefix_key(&v.prefix) == self.prefix)
    }

    /// The release version of `tag` (pre-releases left out).
    pub fn release(&self, tag: &str) -> Option<String> {
        self.read(tag).filter(|v| !v.pre).map(|v| v.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(tag: &str) -> Option<(String, bool)> {
        read(tag).map(|t| (t.version, t.pre))
    }

    #[test]
    fn every_real_tag_shape_reads_as_its_version() {
        for (tag, version) in [
            ("FILE5_46", "5.46"),
            ("rel_1_14_1", "1.14.1"),
            ("1.3.0.post6", "1.3.0.post6"),
            ("jpegxl-rs-v0.11.2", "0.11.2"),
            ("2025-02-10-Release-2.10.0", "2.10.0"),
            ("sf_17.1", "17.1"),
            ("0.94n", "0.94n"),
            ("cursive-core-v0.4.6", "0.4.6"),
            ("libp11-0.4.13", "0.4.13"),
            ("v668", "668"),
            ("25.01.19", "25.01.19"),
            ("v252", "252"),
            ("util-linux-2.39.1", "2.39.1"),
            ("V_9_8_P1", "9.8p1"),
            ("rpm-4.19.1-release", "4.19.1"),
        ] {
            assert_eq!(v(tag), Some((version.to_string(), false)), "{tag}");
        }
        for tag in [
            "v3.0.0rc1",
            "2024-06-16-Development-2.9.1-beta",
            "2.9.1-beta",
            "1.0.0-a.1",
            "v2.0.0-alpha.3",
        ] {
            assert!(v(tag).is_some_and(|(_, pre)| pre), "{tag}: {:?}", v(tag));
        }
        for tag in ["latest", "debian/1.2-3", "v1.2-android-weird", ""] {
            assert_eq!(v(tag), None, "{tag}");
        }
    }

    #[test]
    fn dated_release_and_development_tags_are_one_scheme() {
        let tags = [
            "2024-01-10-Release-2.9.0",
            "2024-06-16-Development-2.9.1-beta",
            "2025-02-10-Release-2.10.0",
        ];
        let s = Scheme::infer(tags, &["gsl"]);
        assert_eq!(
            s.release("2025-02-10-Release-2.10.0").as_deref(),
            Some("2.10.0")
        );
        assert_eq!(
            s.release("2024-01-10-Release-2.9.0").as_deref(),
            Some("2.9.0")
        );
        assert_eq!(s.release("2024-06-16-Development-2.9.1-beta"), None);
        assert!(
            s.read("2024-06-16-Development-2.9.1-beta")
                .is_some_and(|v| v.pre)
        );
    }

    #[test]
    fn pre_releases_sort_before_their_release() {
        use crate::evr::vercmp;
        let rc = read("v3.0.0rc1").expect("rc").version;
        assert_eq!(vercmp(&rc, "3.0.0"), std::cmp::Ordering::Less);
        assert_eq!(vercmp(&rc, "2.13.6"), std::cmp::Ordering::Greater);
        let post = read("1.3.0.post6").expect("post").version;
        assert_eq!(vercmp(&post, "1.3.0"), std::cmp::Ordering::Greater);
    }

    #[test]
    fn a_repository_of_several_components_is_read_for_the_package() {
        let tags = [
            "jpegxl-rs-v0.11.1",
            "jpegxl-rs-v0.11.2",
            "jpegxl-src-v0.11.2",
            "jpegxl-sys-v0.11.2",
            "jpegxl-sys-v0.11.3",
            "jpegxl-sys-v0.11.4",
        ];
        let s = Scheme::infer(tags, &["rust-jpegxl-rs"]);
        assert_eq!(s.release("jpegxl-rs-v0.11.2").as_deref(), Some("0.11.2"));
        assert_eq!(s.release("jpegxl-sys-v0.11.4"), None);
        let cursive = Scheme::infer(
            ["cursive-v0.21.0", "cursive-core-v0.4.6"],
            &["cursive_core"],
        );
        assert_eq!(
            cursive.release("cursive-core-v0.4.6").as_deref(),
            Some("0.4.6")
        );
        assert_eq!(cursive.release("cursive-v0.21.0"), None);
        // One scheme for all: the common prefix wins, others are left out.
        let file = Scheme::infer(["FILE5_45", "FILE5_46", "release-test"], &["file"]);
        assert_eq!(file.release("FILE5_46").as_deref(), Some("5.46"));
        let plain = Scheme::infer(["v1.0", "v1.1", "v2.0rc1", "nightly"], &["other"]);
        assert_eq!(plain.release("v1.1").as_deref(), Some("1.1"));
        assert_eq!(plain.release("v2.0rc1"), None);
        assert_eq!(plain.read("v2.0rc1").map(|v| v.pre), Some(true));
        // A few ancient tags with the package's name do not outvote the project's scheme.
        let mut nm: Vec<String> = (0..40).map(|i| format!("1.{i}.0")).collect();
        nm.extend([
            "NETWORKMANAGER_0_6_5_99".into(),
            "NetworkManager-0_3_1".into(),
        ]);
        let nm = Scheme::infer(nm.iter().map(String::as_str), &["NetworkManager"]);
        assert_eq!(nm.release("1.39.0").as_deref(), Some("1.39.0"));
        // rpm: `rpm-4.19.1-release` beside `rpm-4.19.0-beta1`.
        let rpm = Scheme::infer(
            [
                "rpm-4.19.0-beta1",
                "rpm-4.19.0-release",
                "rpm-4.19.1-release",
            ],
            &["rpm"],
        );
        assert_eq!(rpm.release("rpm-4.19.1-release").as_deref(), Some("4.19.1"));
        assert_eq!(rpm.release("rpm-4.19.0-beta1"), None);
    }
}
