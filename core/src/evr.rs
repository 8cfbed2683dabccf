//! RPM epoch:version-release: parsing, ordering exactly like librpm, and splitting a Release
//! into its base, distribution tag and the downstream's local marker.
//!
//! The ordering itself is `rpm-version`'s (a port of `rpmvercmp`, checked against librpm by the
//! differential test in `tests/evr.rs`); this module adds owned values and Release anatomy.

use regex::Regex;
use std::cmp::Ordering;
use std::fmt;

/// An owned EVR. The epoch is kept as written ("" when absent, which orders as 0).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Evr {
    pub epoch: String,
    pub version: String,
    pub release: String,
}

impl Evr {
    pub fn new(
        epoch: impl Into<String>,
        version: impl Into<String>,
        release: impl Into<String>,
    ) -> Evr {
        Evr {
            epoch: epoch.into(),
            version: version.into(),
            release: release.into(),
        }
    }

    /// Parses `[epoch:]version[-release]`. The release is whatever follows the LAST `-`, as
    /// in an NVR (`systemd-252-14.el9` has version `252`); versions cannot contain `-`.
    pub fn parse(s: &str) -> Evr {
        let (epoch, vr) = match s.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (e, rest),
            _ => ("", s),
        };
        let (version, release) = vr.rsplit_once('-').unwrap_or((vr, ""));
        Evr::new(epoch, version, release)
    }

    fn as_rpm(&self) -> rpm_version::Evr<'_> {
        rpm_version::Evr::new(
            self.epoch.as_str(),
            self.version.as_str(),
            self.release.as_str(),
        )
    }
}

impl Ord for Evr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_rpm().cmp(&other.as_rpm())
    }
}

impl PartialOrd for Evr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Evr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.epoch.is_empty() {
            write!(f, "{}:", self.epoch)?;
        }
        if self.release.is_empty() {
            write!(f, "{}", self.version)
        } else {
            write!(f, "{}-{}", self.version, self.release)
        }
    }
}

/// Compares two version (or release) strings like librpm's `rpmvercmp`.
pub fn vercmp(a: &str, b: &str) -> Ordering {
    Evr::new("", a, "").cmp(&Evr::new("", b, ""))
}

/// A Release split into what the distribution set and what the downstream added.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReleaseParts {
    /// The downstream's local marker (`fb6`, `hs`, `hs+fb`), without the leading dot.
    pub local_marker: Option<String>,
    /// The distribution tag (`el9`, `fc34`, `eln130`), without the leading dot.
    pub dist_tag: Option<String>,
}

// Distribution tags as Fedora, CentOS Stream, RHEL and ELN set `%{dist}`.
static_regex!(DIST_TAG, r"\.((?:el|fc|eln|module\+el)\d+(?:[._]\d+)*)");

/// The default local marker: Hyperscale (`.hs`, `.hs1`, `.hsx`, `.hsk`, `.hs+fb`, before or
/// after `.elN`) and Meta (`.fb6`) releases.
pub const DEFAULT_RELEASE_MARKER: &str = r"\.(fb\d+|hs[xk]?\d*(?:\+\w+)?)(?:\.|$)";

/// A downstream dist-git branch named after the base's: `c9s-hs`, `c10s-hsx`, `c10s-hs+fb`,
/// `c9s-sig-hyperscale`, `c9s-sig-hyperscale-facebook` (CentOS SIG conventions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchParts {
    /// The base distribution's branch (`c9s`, `c10s`): also its `[[distro]]` name by custom.
    pub base: String,
    /// What the downstream adds (`hs`, `hsx`, `hs+fb`, `sig-hyperscale-facebook`).
    pub variant: String,
}

static_regex!(
    SIG_BRANCH,
    r"^(c\d+s|el\d+|rawhide|f\d+)-(hs[xk]?(?:\+\w+)?|sig-[a-z][\w.]*(?:-[\w.+-]+)?)$"
);

/// The base branch and the variant of a downstream branch, when it follows the conventions.
pub fn branch_parts(branch: &str) -> Option<BranchParts> {
    let c = SIG_BRANCH.captures(branch.trim())?;
    Some(BranchParts {
        base: c[1].to_string(),
        variant: c[2].to_string(),
    })
}

/// Splits `release` with the downstream's marker regex. The marker is the first capture group
/// when the regex has one, else the whole match without its leading dot.
pub fn split_release(release: &str, marker: &Regex) -> ReleaseParts {
    let local_marker = marker.captures(release).map(|c| {
        let m = c
            .get(1)
            .or_else(|| c.get(0))
            .map(|m| m.as_str())
            .unwrap_or_default();
        m.trim_start_matches('.').to_string()
    });
    let dist_tag = DIST_TAG.captures(release).map(|c| c[1].to_string());
    ReleaseParts {
        local_marker: local_marker.filter(|m| !m.is_empty()),
        dist_tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyperscale_markers_and_branches_are_read() {
        let marker = Regex::new(DEFAULT_RELEASE_MARKER).expect("regex");
        for (release, local, dist) in [
            ("14.el9.hs1", Some("hs1"), Some("el9")),
            ("1.hs.el9", Some("hs"), Some("el9")),
            ("1.hs+fb.el9", Some("hs+fb"), Some("el9")),
            ("3.hsx.el10", Some("hsx"), Some("el10")),
            ("2.hsk.el10_0", Some("hsk"), Some("el10_0")),
            ("2.fb6", Some("fb6"), None),
            ("5.el9", None, Some("el9")),
            ("1.hsfoo.el9", None, Some("el9")),
        ] {
            let parts = split_release(release, &marker);
            assert_eq!(
                (parts.local_marker.as_deref(), parts.dist_tag.as_deref()),
                (local, dist),
                "{release}"
            );
        }
        for (branch, base, variant) in [
            ("c9s-hs", "c9s", "hs"),
            ("c10s-hs", "c10s", "hs"),
            ("c10s-hsx", "c10s", "hsx"),
            ("c10s-hs+fb", "c10s", "hs+fb"),
            ("c9s-sig-hyperscale", "c9s", "sig-hyperscale"),
            (
                "c9s-sig-hyperscale-facebook",
                "c9s",
                "sig-hyperscale-facebook",
            ),
        ] {
            assert_eq!(
                branch_parts(branch),
                Some(BranchParts {
                    base: base.into(),
                    variant: variant.into()
                }),
                "{branch}"
            );
        }
        assert_eq!(branch_parts("main"), None);
        assert_eq!(branch_parts("c9s"), None);
    }

    #[test]
    fn orders_like_rpm_on_the_classic_cases() {
        let lt = |a: &str, b: &str| {
            assert_eq!(
                Evr::parse(a).cmp(&Evr::parse(b)),
                Ordering::Less,
                "{a} < {b}"
            )
        };
        lt("1.0-1", "1.0-2");
        lt("1.0~rc1-1", "1.0-1");
        lt("1.0-1", "1.0^git1-1");
        lt("1.0^git1-1", "1.0.1-1");
        lt("0:2.0-1", "1:1.0-1");
        lt("1.01-1", "1.2-1");
        lt("1.a-1", "1.1-1");
        lt("252-14.el9", "252-14.el9.hs1");
        lt("247.1-1.fc34", "250-1.el9");
        assert_eq!(
            Evr::parse("1.001-1").cmp(&Evr::parse("1.1-1")),
            Ordering::Equal
        );
        assert_eq!(Evr::parse("0:1-1"), Evr::new("0", "1", "1"));
    }

    #[test]
    fn parses_nvr_tails_and_epochs() {
        let e = Evr::parse("2:252-14.el9.hs+fb");
        assert_eq!(
            (e.epoch.as_str(), e.version.as_str(), e.release.as_str()),
            ("2", "252", "14.el9.hs+fb")
        );
        assert_eq!(Evr::parse("1.0").release, "");
        assert_eq!(Evr::parse("1.0").to_string(), "1.0");
    }

    #[test]
    fn splits_local_markers_and_dist_tags() {
        let re = Regex::new(DEFAULT_RELEASE_MARKER).unwrap();
        let p = split_release("1.fb6", &re);
        assert_eq!(p.local_marker.as_deref(), Some("fb6"));
        assert_eq!(p.dist_tag, None);
        let p = split_release("3.hs.el9", &re);
        assert_eq!(p.local_marker.as_deref(), Some("hs"));
        assert_eq!(p.dist_tag.as_deref(), Some("el9"));
        let p = split_release("14.el9.hs+fb", &re);
        assert_eq!(p.local_marker.as_deref(), Some("hs+fb"));
        assert_eq!(p.dist_tag.as_deref(), Some("el9"));
        let p = split_release("1.el9", &re);
        assert_eq!(
            p,
            ReleaseParts {
                local_marker: None,
                dist_tag: Some("el9".into())
            }
        );
    }
}
