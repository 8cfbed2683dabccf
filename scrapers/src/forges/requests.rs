//! Merge and pull requests on the dist-git forge: opening one for a proposal, and reading its
//! state back at each sync. GitLab (v4 merge requests), Pagure (v0 pull requests) and Forgejo
//! (Gitea-compatible pulls) behind one pair of functions.
//!
//! Opening is a POST that is never retried: a second attempt after a lost answer could open a
//! second request, and a proposal is for a human to review once.

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

/// What forge requests go out with: a client with our User-Agent and a minute's timeout, and
/// the `[propose]` token.
///
/// # Errors
/// The token's env variable or file is missing, or the client cannot be built.
pub fn client(
    config: &forkdebt_core::config::Config,
) -> Result<(reqwest::Client, Option<forkdebt_core::config::Secret>), String> {
    let cfg = config.propose.clone().unwrap_or_default();
    let token =
        forkdebt_core::config::Secret::load(cfg.token_env.as_deref(), cfg.token_file.as_deref())
            .map_err(|e| format!("[propose] {e}"))?;
    let http = reqwest::Client::builder()
        .user_agent(config.user_agent())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    Ok((http, token))
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The forge's answer: a JSON body of a successful status, or an error naming the URL.
async fn answer<T: serde::de::DeserializeOwned>(
    what: &str,
    url: &str,
    resp: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, String> {
    let resp = resp.map_err(|e| format!("{what} at {url}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let shown: String = text.chars().take(300).collect();
        return Err(format!("{what} at {url}: {status}: {}", shown.trim()));
    }
    serde_json::from_str(&text).map_err(|e| format!("{what} at {url}: not the expected JSON ({e})"))
}

/// Authenticates a request the way `kind` wants its token.
fn with_token(
    req: reqwest::RequestBuilder,
    kind: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    match (kind, token) {
        ("gitlab", Some(t)) => req.header("PRIVATE-TOKEN", t),
        (_, Some(t)) => req.header("Authorization", format!("token {t}")),
        (_, None) => req,
    }
}

#[derive(Deserialize)]
struct GitlabMr {
    iid: u64,
    web_url: String,
    #[serde(default)]
    state: String,
}

#[derive(Deserialize)]
struct PagurePr {
    id: u64,
    #[serde(default)]
    full_url: Option<String>,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct ForgejoPr {
    number: u64,
    #[serde(default)]
    html_url: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    merged: bool,
}

#[derive(Deserialize)]
struct ForgejoLabel {
    id: i64,
    name: String,
}

/// Opens a request on the forge `kind` (`gitlab`, `pagure`, `forgejo`) at `base`.
///
/// # Errors
/// An unknown forge, a refused or unreadable answer (named with its URL; the token is never
/// part of it).
pub async fn open(
    http: &reqwest::Client,
    kind: &str,
    base: &str,
    token: Option<&str>,
    new: &NewRequest<'_>,
) -> Result<Opened, String> {
    let base = base.trim_end_matches('/');
    match kind {
        "gitlab" => {
            let api = format!(
                "{base}/api/v4/projects/{}/merge_requests",
                encode(new.project)
            );
            let body = serde_json::json!({
                "source_branch": new.source_branch,
                "target_branch": new.target_branch,
                "title": new.title,
                "description": new.description,
                "labels": new.labels.join(","),
                "remove_source_branch": true,
            });
            let sent = with_token(http.post(&api).json(&body), kind, token)
                .send()
                .await;
            let mr: GitlabMr = answer("opening a merge request", &api, sent).await?;
            Ok(Opened {
                api_url: format!("{api}/{}", mr.iid),
                web_url: mr.web_url,
                labels_not_set: Vec::new(),
            })
        }
        "pagure" => {
            let api = format!("{base}/api/0/{}/pull-request/new", new.project);
            let form = [
                ("title", new.title),
                ("branch_to", new.target_branch),
                ("branch_from", new.source_branch),
                ("initial_comment", new.description),
            ];
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            let post = http
                .post(&api)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body);
            let sent = with_token(post, kind, token).send().await;
            let pr: PagurePr = answer("opening a pull request", &api, sent).await?;
            Ok(Opened {
                web_url: pr
                    .full_url
                    .unwrap_or_else(|| format!("{base}/{}/pull-request/{}", new.project, pr.id)),
                api_url: format!("{base}/api/0/{}/pull-request/{}", new.project, pr.id),
                // Pagure's pull requests take no labels when opened.
                labels_not_set: new.labels.to_vec(),
            })
        }
        "forgejo" => {
            let repo = format!("{base}/api/v1/repos/{}", new.project);
            // Forgejo takes label ids: the repository's labels by name.
            let (ids, labels_not_set) = if new.labels.is_empty() {
                (Vec::new(), Vec::new())
            } else {
                let url = format!("{repo}/labels?limit=100");
                let sent = with_token(http.get(&url), kind, token).send().await;
                let known: Vec<ForgejoLabel> = answer("listing labels", &url, sent).await?;
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
            let sent = with_token(http.post(&api).json(&body), kind, token)
                .send()
                .await;
            let pr: ForgejoPr = answer("opening a pull request", &api, sent).await?;
            Ok(Opened {
                api_url: format!("{api}/{}", pr.number),
                web_url: pr.html_url,
                labels_not_set,
            })
        }
        other => Err(format!(
            "[propose] forge = {other:?}: expected gitlab, pagure or forgejo"
        )),
    }
}

/// The state of the request at `api_url` (as [`open`] returned it) on the forge `kind`.
///
/// # Errors
/// A refused or unreadable answer.
pub async fn state(
    http: &reqwest::Client,
    kind: &str,
    api_url: &str,
    token: Option<&str>,
) -> Result<RequestState, String> {
    let sent = with_token(http.get(api_url), kind, token).send().await;
    Ok(match kind {
        "gitlab" => {
            let mr: GitlabMr = answer("reading a merge request", api_url, sent).await?;
            match mr.state.as_str() {
                "merged" => RequestState::Merged,
                "closed" => RequestState::Closed,
                _ => RequestState::Open,
            }
        }
        "pagure" => {
            let pr: PagurePr = answer("reading a pull request", api_url, sent).await?;
            match pr.status.to_ascii_lowercase().as_str() {
                "merged" => RequestState::Merged,
                "closed" => RequestState::Closed,
                _ => RequestState::Open,
            }
        }
        "forgejo" => {
            let pr: ForgejoPr = answer("reading a pull request", api_url, sent).await?;
            match (pr.merged, pr.state.as_str()) {
                (true, _) => RequestState::Merged,
                (false, "closed") => RequestState::Closed,
                _ => RequestState::Open,
            }
        }
        other => return Err(format!("unknown forge {other:?}")),
    })
}
