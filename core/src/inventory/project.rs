//! Which upstream project a package comes from, read from `Source0`, the other sources and
//! `URL`, in that order: a tarball URL names the forge repository more reliably than a home page.

use crate::model::UpstreamProject;

/// GitHub repositories that publish releases while pull requests live in another repository.
/// `systemd/systemd-stable` backports are merged in `systemd/systemd` first.
fn github_pr_home(owner: &str, repo: &str) -> (String, String) {
    match repo.strip_suffix("-stable") {
        Some(base) if !base.is_empty() => (owner.to_string(), base.to_string()),
        _ => (owner.to_string(), repo.to_string()),
    }
}

/// Reads a forge project out of one URL, `None` when the URL names no known forge.
pub fn from_url(url: &str) -> Option<UpstreamProject> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let host = host.to_ascii_lowercase();
    let segs: Vec<&str> = path
        .split(['?', '#'])
        .next()?
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match host.as_str() {
        "github.com" | "www.github.com" | "codeload.github.com" if segs.len() >= 2 => {
            let repo = segs[1].trim_end_matches(".git");
            let (owner, repo) = github_pr_home(segs[0], repo);
            Some(UpstreamProject::Github { owner, repo })
        }
        "pagure.io" | "src.fedoraproject.org" if !segs.is_empty() => {
            // pagure.io/<name>, pagure.io/<namespace>/<name>, src.fedoraproject.org/rpms/<name>
            let stop = segs
                .iter()
                .position(|s| matches!(*s, "archive" | "raw" | "blob" | "releases" | "tree" | "c"))
                .unwrap_or(segs.len());
            let path = segs[..stop.min(2)].join("/");
            Some(UpstreamProject::Pagure { host, path })
        }
        // GitHub Pages of a project (`martine.github.com/ninja/`, `owner.github.io/repo/`):
        // the repository is the first path segment.
        h if (h.ends_with(".github.io") || h.ends_with(".github.com")) && !segs.is_empty() => {
            let owner = h
                .trim_end_matches(".github.io")
                .trim_end_matches(".github.com");
            (!owner.is_empty() && !owner.contains('.')).then(|| UpstreamProject::Github {
                owner: owner.to_string(),
                repo: segs[0].trim_end_matches(".git").to_string(),
            })
        }
        h if h.starts_with("gitlab.") || h == "salsa.debian.org" || h == "invent.kde.org" => {
            let dash = segs.iter().position(|s| *s == "-").unwrap_or(segs.len());
            if dash < 2 {
                return None;
            }
            let path = segs[..dash].join("/").trim_end_matches(".git").to_string();
            Some(UpstreamProject::Gitlab { host, path })
        }
        _ => None,
    }
}

/// Picks the upstream project from the spec's sources and URL.
pub fn detect<'a>(
    sources: impl IntoIterator<Item = &'a str>,
    url: Option<&str>,
) -> Option<UpstreamProject> {
    let mut candidates: Vec<&str> = sources.into_iter().collect();
    candidates.extend(url);
    candidates.iter().find_map(|u| from_url(u)).or_else(|| {
        url.filter(|u| u.starts_with("http"))
            .map(|u| UpstreamProject::Other { url: u.to_string() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_forges_from_source_urls() {
        assert_eq!(
            from_url(
                "https://github.com/systemd/systemd-stable/archive/v252.4/systemd-stable-252.4.tar.gz"
            ),
            Some(UpstreamProject::Github {
                owner: "systemd".into(),
                repo: "systemd".into()
            })
        );
        assert_eq!(
            from_url(
                "https://gitlab.freedesktop.org/NetworkManager/NetworkManager/-/archive/1.42/x.tar.bz2"
            ),
            Some(UpstreamProject::Gitlab {
                host: "gitlab.freedesktop.org".into(),
                path: "NetworkManager/NetworkManager".into()
            })
        );
        assert_eq!(
            from_url("https://pagure.io/libaio/archive/libaio-0.3.111/libaio-0.3.111.tar.gz"),
            Some(UpstreamProject::Pagure {
                host: "pagure.io".into(),
                path: "libaio".into()
            })
        );
        assert_eq!(
            from_url("https://www.kernel.org/pub/linux/utils/util-linux/v2.39/x.tar.xz"),
            None
        );
        // GitHub Pages name the repository.
        assert_eq!(
            from_url("http://martine.github.com/ninja/"),
            Some(UpstreamProject::Github {
                owner: "martine".into(),
                repo: "ninja".into()
            })
        );
        assert_eq!(
            from_url("https://fedora-sysv.github.io/initscripts/x.tar.gz"),
            Some(UpstreamProject::Github {
                owner: "fedora-sysv".into(),
                repo: "initscripts".into()
            })
        );
        assert_eq!(from_url("https://www.github.io/"), None);
        let p = detect(
            ["https://www.kernel.org/pub/x.tar.xz"],
            Some("https://github.com/util-linux/util-linux"),
        );
        assert_eq!(
            p,
            Some(UpstreamProject::Github {
                owner: "util-linux".into(),
                repo: "util-linux".into()
            })
        );
    }
}
