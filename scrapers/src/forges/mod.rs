//! One forge interface for dist-git: listing the repositories of a group and naming a
//! package's repository. GitLab (v4 `groups/:id/projects`), Pagure (v0 `projects?namespace=`)
//! and Forgejo (Gitea-compatible `orgs/{org}/repos`) are its implementations, so moving
//! src.fedoraproject.org from Pagure to Forgejo is a change of one config value.
//! Requests go through the one polite HTTP layer.

pub mod requests;

use crate::http::{Get, Http, Response};
use forkdebt_core::forge::ForgeKind;
use serde::Deserialize;

/// Pages read per group at most (100 projects a page for GitLab and Pagure).
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
    /// Every (non-archived) repository of `group`.
    async fn list_repos(&self, http: &Http, group: &str) -> Result<Vec<ForgeRepo>, String>;
    /// The clone URL of `name` in `group`, without asking (the base's packages).
    fn repo_url(&self, group: &str, name: &str) -> String;
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

async fn get_json<T: serde::de::DeserializeOwned>(http: &Http, url: &str) -> Result<T, String> {
    let get = Get {
        url: url.to_string(),
        max_bytes: MAX_BODY_BYTES,
        ..Get::default()
    };
    match http.get(&get).await.map_err(|e| e.to_string())? {
        Response::Fresh { body, .. } => serde_json::from_slice(&body).map_err(|e| {
            format!(
                "{url}: not the expected JSON ({e}); it starts with {:?}",
                String::from_utf8_lossy(&body[..body.len().min(80)])
            )
        }),
        Response::NotModified => Err(format!("{url}: 304 to an unconditional request")),
    }
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

#[async_trait::async_trait]
impl Forge for Gitlab {
    async fn list_repos(&self, http: &Http, group: &str) -> Result<Vec<ForgeRepo>, String> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!(
                "{}/api/v4/groups/{}/projects?per_page=100&page={page}&archived=false&order_by=path&sort=asc",
                self.base,
                crate::http::path_segment(group)
            );
            let projects: Vec<GitlabProject> = get_json(http, &url).await?;
            let n = projects.len();
            out.extend(
                projects
                    .into_iter()
                    .filter(|p| !p.archived)
                    .map(|p| ForgeRepo {
                        name: p.path,
                        clone_url: p.http_url_to_repo,
                        updated: p.last_activity_at,
                    }),
            );
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    fn repo_url(&self, group: &str, name: &str) -> String {
        format!("{}/{}/{name}.git", self.base, group.trim_matches('/'))
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

#[async_trait::async_trait]
impl Forge for Pagure {
    async fn list_repos(&self, http: &Http, group: &str) -> Result<Vec<ForgeRepo>, String> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!(
                "{}/api/0/projects?namespace={}&fork=false&short=true&per_page=100&page={page}",
                self.base,
                crate::http::path_segment(group)
            );
            let list: PagureProjects = get_json(http, &url).await?;
            out.extend(list.projects.into_iter().map(|p| ForgeRepo {
                clone_url: format!("{}/{}.git", self.base, p.fullname),
                name: p.name,
                updated: p.date_modified.map(|d| d.to_string()),
            }));
            if list.pagination.and_then(|p| p.next).is_none() {
                break;
            }
        }
        Ok(out)
    }

    fn repo_url(&self, group: &str, name: &str) -> String {
        format!("{}/{}/{name}.git", self.base, group.trim_matches('/'))
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

#[async_trait::async_trait]
impl Forge for Forgejo {
    async fn list_repos(&self, http: &Http, group: &str) -> Result<Vec<ForgeRepo>, String> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!(
                "{}/api/v1/orgs/{}/repos?limit={FORGEJO_LIMIT}&page={page}",
                self.base,
                crate::http::path_segment(group)
            );
            let repos: Vec<ForgejoRepo> = get_json(http, &url).await?;
            let n = repos.len();
            out.extend(
                repos
                    .into_iter()
                    .filter(|r| !r.archived)
                    .map(|r| ForgeRepo {
                        name: r.name,
                        clone_url: r.clone_url,
                        updated: r.updated_at,
                    }),
            );
            if n < FORGEJO_LIMIT {
                break;
            }
        }
        Ok(out)
    }

    fn repo_url(&self, group: &str, name: &str) -> String {
        format!("{}/{}/{name}.git", self.base, group.trim_matches('/'))
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
