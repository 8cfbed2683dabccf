//! One forge interface for dist-git: listing the repositories of a group and naming a
//! package's repository. GitLab (v4 `groups/:id/projects`), Pagure (v0 `projects?namespace=`)
//! and Forgejo (Gitea-compatible `orgs/{org}/repos`) are its implementations, so moving
//! src.fedoraproject.org from Pagure to Forgejo is a change of one config value.
//! Requests go through the one polite HTTP layer.

pub mod requests;

use crate::http::{Get, Http, Response};
use forkdebt_core::forge::ForgeKind;
use serde::Deserialize;

/// Pages read per group at most.
const MAX_PAGES: usize = 200;
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// One repository of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgeRepo {
    /// The package name (the repository's name).
    pub name: String,
    pub clone_url: String,
    /// When the forge last saw activity in it (GitLab `last_activity_at`, Pagure
    /// `date_modified`, Forgejo `updated_at`): unchanged means nothing was pushed.
    pub updated: Option<String>,
}

#[async_trait::async_trait]
pub trait Forge: Send + Sync {
    /// The forge's base URL, without a trailing `/`.
    fn base(&self) -> &str;
    /// The URL of page `page` (from 1) of `group`'s repositories.
    fn page_url(&self, group: &str, page: usize) -> String;
    /// The (non-archived) repositories on one page, and whether another page follows.
    ///
    /// # Errors
    /// The page is not the JSON this forge answers.
    fn read_page(&self, url: &str, body: &[u8]) -> Result<(Vec<ForgeRepo>, bool), String>;

    /// Every (non-archived) repository of `group`, page by page.
    async fn list_repos(&self, http: &Http, group: &str) -> Result<Vec<ForgeRepo>, String> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = self.page_url(group, page);
            let body = get(http, &url).await?;
            let (repos, more) = self.read_page(&url, &body)?;
            out.extend(repos);
            if !more {
                break;
            }
        }
        Ok(out)
    }

    /// The clone URL of `name` in `group`, without asking (the base's packages).
    fn repo_url(&self, group: &str, name: &str) -> String {
        format!("{}/{}/{name}.git", self.base(), group.trim_matches('/'))
    }
}

/// The forge `kind` at `url` (`None`: dist-git is not read from that kind).
pub fn forge(kind: ForgeKind, url: &str) -> Option<Box<dyn Forge>> {
    let base = url.trim_end_matches('/').to_string();
    match kind {
        ForgeKind::Gitlab => Some(Box::new(Gitlab { base })),
        ForgeKind::Pagure => Some(Box::new(Pagure { base })),
        ForgeKind::Forgejo => Some(Box::new(Forgejo { base })),
        ForgeKind::Github => None,
    }
}

async fn get(http: &Http, url: &str) -> Result<Vec<u8>, String> {
    let get = Get {
        url: url.to_string(),
        max_bytes: MAX_BODY_BYTES,
        ..Get::default()
    };
    match http.get(&get).await.map_err(|e| e.to_string())? {
        Response::Fresh { body, .. } => Ok(body),
        Response::NotModified => Err(format!("{url}: 304 to an unconditional request")),
    }
}

fn json<T: serde::de::DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| {
        format!(
            "{url}: not the expected JSON ({e}); it starts with {:?}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        )
    })
}

struct Gitlab {
    base: String,
}

#[derive(Deserialize)]
struct GitlabProject {
    path: String,
    http_url_to_repo: String,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    last_activity_at: Option<String>,
}

/// Projects per page for GitLab and Pagure (both allow 100).
const PER_PAGE: usize = 100;

impl Forge for Gitlab {
    fn base(&self) -> &str {
        &self.base
    }

    fn page_url(&self, group: &str, page: usize) -> String {
        format!(
            "{}/api/v4/groups/{}/projects?per_page={PER_PAGE}&page={page}&archived=false&order_by=path&sort=asc",
            self.base,
            crate::http::path_segment(group)
        )
    }

    fn read_page(&self, url: &str, body: &[u8]) -> Result<(Vec<ForgeRepo>, bool), String> {
        let projects: Vec<GitlabProject> = json(url, body)?;
        let more = projects.len() >= PER_PAGE;
        let repos = projects
            .into_iter()
            .filter(|p| !p.archived)
            .map(|p| ForgeRepo {
                name: p.path,
                clone_url: p.http_url_to_repo,
                updated: p.last_activity_at,
            })
            .collect();
        Ok((repos, more))
    }
}

struct Pagure {
    base: String,
}

#[derive(Deserialize)]
struct PagureProjects {
    projects: Vec<PagureProject>,
    #[serde(default)]
    pagination: Option<PagurePagination>,
}

#[derive(Deserialize)]
struct PagureProject {
    name: String,
    fullname: String,
    #[serde(default)]
    date_modified: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct PagurePagination {
    next: Option<String>,
}

impl Forge for Pagure {
    fn base(&self) -> &str {
        &self.base
    }

    fn page_url(&self, group: &str, page: usize) -> String {
        format!(
            "{}/api/0/projects?namespace={}&fork=false&short=true&per_page={PER_PAGE}&page={page}",
            self.base,
            crate::http::path_segment(group)
        )
    }

    fn read_page(&self, url: &str, body: &[u8]) -> Result<(Vec<ForgeRepo>, bool), String> {
        let list: PagureProjects = json(url, body)?;
        let more = list.pagination.and_then(|p| p.next).is_some();
        let repos = list
            .projects
            .into_iter()
            .map(|p| ForgeRepo {
                clone_url: format!("{}/{}.git", self.base, p.fullname),
                name: p.name,
                updated: p.date_modified.map(|d| d.to_string()),
            })
            .collect();
        Ok((repos, more))
    }
}

struct Forgejo {
    base: String,
}

#[derive(Deserialize)]
struct ForgejoRepo {
    name: String,
    clone_url: String,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    updated_at: Option<String>,
}

/// Repositories per page: Forgejo's default maximum.
const FORGEJO_LIMIT: usize = 50;

impl Forge for Forgejo {
    fn base(&self) -> &str {
        &self.base
    }

    fn page_url(&self, group: &str, page: usize) -> String {
        format!(
            "{}/api/v1/orgs/{}/repos?limit={FORGEJO_LIMIT}&page={page}",
            self.base,
            crate::http::path_segment(group)
        )
    }

    fn read_page(&self, url: &str, body: &[u8]) -> Result<(Vec<ForgeRepo>, bool), String> {
        let repos: Vec<ForgejoRepo> = json(url, body)?;
        let more = repos.len() >= FORGEJO_LIMIT;
        let repos = repos
            .into_iter()
            .filter(|r| !r.archived)
            .map(|r| ForgeRepo {
                name: r.name,
                clone_url: r.clone_url,
                updated: r.updated_at,
            })
            .collect();
        Ok((repos, more))
    }
}

/// A package's repository among explicit `repos`: the one whose last path segment (without
/// `.git`) is the package's name.
pub fn repo_named<'a>(repos: &'a [String], name: &str) -> Option<&'a String> {
    repos.iter().find(|r| repo_name(r) == name)
}

/// `https://host/rpms/systemd.git` -> `systemd`.
pub fn repo_name(repo: &str) -> String {
    let last = repo
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(repo);
    last.trim_end_matches(".git").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls() {
        assert_eq!(
            repo_name("https://gitlab.com/redhat/centos-stream/rpms/systemd.git"),
            "systemd"
        );
        assert_eq!(repo_name("file:///srv/rpms/bash/"), "bash");
        let f = forge(ForgeKind::Pagure, "https://src.fedoraproject.org/").expect("pagure");
        assert_eq!(
            f.repo_url("rpms", "systemd"),
            "https://src.fedoraproject.org/rpms/systemd.git"
        );
        let repos = vec![
            "/x/rpms/bash".to_string(),
            "/x/rpms/systemd.git".to_string(),
        ];
        assert_eq!(
            repo_named(&repos, "systemd").map(String::as_str),
            Some("/x/rpms/systemd.git")
        );
        assert!(forge(ForgeKind::Github, "x").is_none());
    }
}
