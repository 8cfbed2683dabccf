//! `POST /hooks/{github,gitlab,forgejo,pagure}`: a forge tells us a pull or merge request
//! moved. The call is verified against the forge's secret (`[hooks] *_secret_env`), its
//! delivery id recorded (a replay does nothing), and what it names among what is tracked
//! handed to `serve`'s focused-sync worker. An unverified call changes nothing.

use super::WebState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use forkdebt_core::config::{Config, HooksConfig, Secret};
use forkdebt_scrapers::bus::hooks::{self, Forge};
use forkdebt_scrapers::bus::message::Tracked;
use forkdebt_scrapers::sources::Focus;
use tokio::sync::mpsc;

/// The default cap on a webhook body.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What the webhook routes need.
pub struct Hooks {
    secrets: Vec<(Forge, Secret)>,
    sink: mpsc::Sender<Focus>,
    pub max_body: usize,
    downstreams: Vec<String>,
}

impl Hooks {
    /// The secrets `[hooks]` names, read now.
    ///
    /// # Errors
    /// A secret that is named but cannot be read (the key is said, never the value).
    pub fn new(
        config: &Config,
        hooks: &HooksConfig,
        sink: mpsc::Sender<Focus>,
    ) -> anyhow::Result<Hooks> {
        let mut secrets = Vec::new();
        for (forge, env, file) in [
            (
                Forge::Github,
                &hooks.github_secret_env,
                &hooks.github_secret_file,
            ),
            (
                Forge::Gitlab,
                &hooks.gitlab_secret_env,
                &hooks.gitlab_secret_file,
            ),
            (
                Forge::Forgejo,
                &hooks.forgejo_secret_env,
                &hooks.forgejo_secret_file,
            ),
            (
                Forge::Pagure,
                &hooks.pagure_secret_env,
                &hooks.pagure_secret_file,
            ),
        ] {
            let secret = Secret::load(env.as_deref(), file.as_deref())
                .map_err(|e| anyhow::anyhow!("[hooks] {}_secret: {e}", forge.name()))?;
            if let Some(s) = secret {
                secrets.push((forge, s));
            }
        }
        Ok(Hooks {
            secrets,
            sink,
            max_body: hooks.max_body_bytes.unwrap_or(MAX_BODY_BYTES),
            downstreams: config.downstream.iter().map(|d| d.name.clone()).collect(),
        })
    }
}

fn answer(status: StatusCode, text: &'static str) -> Response {
    (status, format!("{text}\n")).into_response()
}

/// The webhook route.
pub async fn receive(
    State(s): State<WebState>,
    Path(forge): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (Some(forge), Some(h)) = (Forge::parse(&forge), s.hooks.as_ref()) else {
        return answer(StatusCode::NOT_FOUND, "no such hook");
    };
    let Some((_, secret)) = h.secrets.iter().find(|(f, _)| *f == forge) else {
        return answer(
            StatusCode::FORBIDDEN,
            "this forge's webhook has no secret configured",
        );
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let verified = match hooks::verify(forge, secret.expose(), &header, &body) {
        Ok(v) => v,
        Err(refused) => {
            tracing::warn!("hook {}: refused: {}", forge.name(), refused.why);
            let status = StatusCode::from_u16(refused.status).unwrap_or(StatusCode::FORBIDDEN);
            return answer(status, refused.why);
        }
    };
    let origin = format!("hook {}", forge.name());
    match s
        .store
        .first_hearing(&origin, &verified.delivery, &verified.event, None)
        .await
    {
        Ok(true) => {}
        Ok(false) => return answer(StatusCode::OK, "already handled"),
        Err(e) => {
            tracing::warn!("{origin}: {e}");
            return answer(StatusCode::SERVICE_UNAVAILABLE, "the store is unreachable");
        }
    }
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return answer(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let tracked = match Tracked::load(&s.store, &h.downstreams).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("{origin}: {e}");
            return answer(StatusCode::SERVICE_UNAVAILABLE, "the store is unreachable");
        }
    };
    let focus = hooks::focus(forge, &verified.event, &payload, &tracked);
    let acted = i64::from(!focus.is_empty());
    if let Err(e) = s.store.record_hearing(&origin, 1, acted, None).await {
        tracing::warn!("{origin}: {e}");
    }
    if focus.is_empty() {
        return answer(StatusCode::ACCEPTED, "nothing tracked");
    }
    tracing::info!("{origin}: {} names {:?}", verified.event, focus.items);
    if h.sink.send(focus).await.is_err() {
        return answer(StatusCode::SERVICE_UNAVAILABLE, "not syncing now");
    }
    answer(StatusCode::ACCEPTED, "syncing")
}
