//! Merge and pull requests on the dist-git forge: opening one for a proposal, and reading its
//! state back at each sync. GitLab (v4 merge requests), Pagure (v0 pull requests) and Forgejo
//! (Gitea-compatible pulls) behind one pair of functions.
//!
//! Opening is a POST that is never retried: a second attempt after a lost answer could open a
//! second request, and a proposal is for a human to review once.

use forkdebt_core::forge::ForgeKind;
use serde::Deserialize;

/// What to open.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    /// The project on the forge (`CentOS/Hyperscale/rpms/systemd`, `rpms/systemd`).
    pub project: &'a str,
    pub source_branch: &'a str,
    pub target_branch: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub labels: &'a [String],
}

/// An opened request: where people see it, and where its state is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub web_url: String,
    pub api_url: String,
    /// Labels that the forge does not know (Forgejo takes label ids; Pagure none at all).
    pub labels_not_set: Vec<String>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    Open,
    Merged,
    Closed,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Open => "open",
            RequestState::Merged => "merged",
            RequestState::Closed => "closed",
        }
    }
}

/// The largest forge answer read: a merge request is a few kilobytes; a 1 GiB answer is an
/// error, not a gigabyte of memory.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What forge requests go out with: the one polite HTTP layer (our User-Agent, timeouts, body
/// caps, same-origin redirects only) and the `[propose]` token, which goes only to the
/// `[propose] url` origin.
pub struct ForgeClient {
    http: crate::http::Http,
    token: Option<forkdebt_core::config::Secret>,
    /// The forge's origin (`[propose] url`): the only place the token is sent.
    origin: Option<url::Origin>,
}

impl ForgeClient {
    /// The token, for a request to `url`: only on the forge's own origin.
    fn token_for(&self, url: &str) -> Option<&str> {
        let origin = reqwest::Url::parse(url).ok()?.origin();
        (Some(&origin) == self.origin.as_ref())
            .then(|| self.token.as_ref().map(|t| t.expose()))
            .flatten()
    }
}

/// The client for the `[propose]` forge.
///
/// # Errors
/// The token's env variable or file is missing, or the client cannot be built.
pub fn client(config: &forkdebt_core::config::Config) -> Result<ForgeClient, String> {
    let cfg = config.propose.clone().unwrap_or_default();
    let token =
        forkdebt_core::config::Secret::load(cfg.token_env.as_deref(), cfg.token_file.as_deref())
            .map_err(|e| format!("[propose] {e}"))?;
    let mut opts = crate::sync::http_options(config);
    opts.user_agent = config.user_agent();
    let http = crate::http::Http::new(opts).map_err(|e| e.to_string())?;
    let origin = cfg
        .url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u).ok())
        .map(|u| u.origin());
    Ok(ForgeClient {
        http,
        token,
        origin,
    })
}

/// Sends one forge request: `post` once and never retried, a read like any GET.
async fn send<T: serde::de::DeserializeOwned>(
    client: &ForgeClient,
    kind: ForgeKind,
    what: &str,
    url: &str,
    post: Option<(&'static str, Vec<u8>)>,
) -> Result<T, String> {
    let mut headers = Vec::new();
    if let Some(t) = client.token_for(url) {
        headers.push(match kind {
            ForgeKind::Gitlab => ("PRIVATE-TOKEN", t.to_string()),
            _ => ("Authorization", format!("token {t}")),
        });
    }
    let get = crate::http::Get {
        url: url.to_string(),
        headers,
        max_bytes: MAX_BODY_BYTES,
        send_once: post.is_some(),
        post,
        ..crate::http::Get::default()
    };
    match client.http.get(&get).await {
        Ok(crate::http::Response::Fresh { body, .. }) => serde_json::from_slice(&body)
            .map_err(|e| format!("{what} at {url}: not the expected JSON ({e})")),
        Ok(crate::http::Response::NotModified) => {
            Err(format!("{what} at {url}: 304 to an unconditional request"))
        }
        Err(e) => Err(format!("{what}: {e}")),
    }
}

// The answers are read as the same observation types the sources store, so a request's
// state means one thing wherever it is read (Forgejo's pull requests are GitHub's shape).
use forkdebt_core::observation::github::PullRequest as ForgejoPr;
use forkdebt_core::observation::gitlab::MergeRequest as GitlabMr;
use forkdebt_core::observation::pagure::PullRequest as PagurePr;

#[derive(Deserialize)]
struct ForgejoLabel {
    id: i64,
    name: String,
}

/// A project path (`rpms/{package}` filled in) as URL path segments, each percent-encoded:
/// a name from a spec never adds or leaves a path segment.
fn project_path(project: &str) -> String {
    project
        .split('/')
        .map(crate::http::path_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Opens a request on the forge `kind` (`gitlab`, `pagure`, `forgejo`) at `base`.
///
/// # Errors
/// An unknown forge, a refused or unreadable answer (named with its URL; the token is never
/// part of it).
pub async fn open(
    client: &ForgeClient,
    kind: ForgeKind,
    base: &str,
    new: &NewRequest<'_>,
) -> Result<Opened, String> {
    let base = base.trim_end_matches('/');
    match kind {
        ForgeKind::Gitlab => {
            let api = format!(
                "{base}/api/v4/projects/{}/merge_requests",
                crate::http::path_segment(new.project)
            );
            let body = serde_json::json!({
                "source_branch": new.source_branch,
                "target_branch": new.target_branch,
                "title": new.title,
                "description": new.description,
                "labels": new.labels.join(","),
                "remove_source_branch": true,
            });
            let post = ("application/json", body.to_string().into_bytes());
            let mr: GitlabMr =
                send(client, kind, "opening a merge request", &api, Some(post)).await?;
            Ok(Opened {
                api_url: format!("{api}/{}", mr.iid),
                web_url: mr.web_url.unwrap_or_default(),
                labels_not_set: Vec::new(),
            })
        }
        ForgeKind::Pagure => {
            let api = format!(
                "{base}/api/0/{}/pull-request/new",
                project_path(new.project)
            );
            let form = [
                ("title", new.title),
                ("branch_to", new.target_branch),
                ("branch_from", new.source_branch),
                ("initial_comment", new.description),
            ];
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            let post = ("application/x-www-form-urlencoded", body.into_bytes());
            let pr: PagurePr =
                send(client, kind, "opening a pull request", &api, Some(post)).await?;
            let project = project_path(new.project);
            Ok(Opened {
                web_url: pr
                    .full_url
                    .unwrap_or_else(|| format!("{base}/{project}/pull-request/{}", pr.id)),
                api_url: format!("{base}/api/0/{project}/pull-request/{}", pr.id),
                // Pagure's pull requests take no labels when opened.
                labels_not_set: new.labels.to_vec(),
            })
        }
        ForgeKind::Forgejo => {
            let repo = format!("{base}/api/v1/repos/{}", project_path(new.project));
            // Forgejo takes label ids: the repository's labels by name.
            let (ids, labels_not_set) = if new.labels.is_empty() {
                (Vec::new(), Vec::new())
            } else {
                let url = format!("{repo}/labels?limit=100");
                let known: Vec<ForgejoLabel> =
                    send(client, kind, "listing labels", &url, None).await?;
                let mut ids = Vec::new();
                let mut missing = Vec::new();
                for l in new.labels {
                    match known.iter().find(|k| k.name == *l) {
                        Some(k) => ids.push(k.id),
                        None => missing.push(l.clone()),
                    }
                }
                (ids, missing)
            };
            let api = format!("{repo}/pulls");
            let body = serde_json::json!({
                "head": new.source_branch,
                "base": new.target_branch,
                "title": new.title,
                "body": new.description,
                "labels": ids,
            });
            let post = ("application/json", body.to_string().into_bytes());
            let pr: ForgejoPr =
                send(client, kind, "opening a pull request", &api, Some(post)).await?;
            Ok(Opened {
                api_url: format!("{api}/{}", pr.number),
                web_url: pr.html_url.unwrap_or_default(),
                labels_not_set,
            })
        }
        ForgeKind::Github => Err(format!(
            "[propose] forge = github: expected {}",
            ForgeKind::distgit_names()
        )),
    }
}

/// The state of the request at `api_url` (as [`open`] returned it) on the forge `kind`.
///
/// # Errors
/// A refused or unreadable answer.
pub async fn state(
    client: &ForgeClient,
    kind: ForgeKind,
    api_url: &str,
) -> Result<RequestState, String> {
    let fact = match kind {
        ForgeKind::Gitlab => {
            let mr: GitlabMr = send(client, kind, "reading a merge request", api_url, None).await?;
            mr.fact()
        }
        ForgeKind::Pagure => {
            let pr: PagurePr = send(client, kind, "reading a pull request", api_url, None).await?;
            pr.fact()
        }
        ForgeKind::Forgejo => {
            let pr: ForgejoPr = send(client, kind, "reading a pull request", api_url, None).await?;
            pr.fact()
        }
        ForgeKind::Github => return Err("proposals are not opened on GitHub".into()),
    };
    Ok(if fact.merged {
        RequestState::Merged
    } else if fact.open {
        RequestState::Open
    } else {
        RequestState::Closed
    })
}
