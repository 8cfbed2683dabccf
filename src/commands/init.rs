//! `forkdebt init --preset NAME` (write a known downstream's configuration) and
//! `forkdebt init --check` (which configured endpoints answer).

use super::Context;
use crate::Preset;
use forkdebt_core::config::Config;
use forkdebt_scrapers::http::{Get, Http, HttpError};
use std::path::Path;
use std::process::ExitCode;

const HYPERSCALE: &str = include_str!("../../config/presets/hyperscale.toml");

/// Where a preset goes when `--config` does not say.
const DEFAULT_TARGET: &str = "config/forkdebt.toml";

/// Writes the preset, refusing to replace a file (a configuration is someone's work).
pub fn write_preset(preset: Preset, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let text = match preset {
        Preset::Hyperscale => HYPERSCALE,
    };
    let target = config.unwrap_or(Path::new(DEFAULT_TARGET));
    if target.exists() {
        anyhow::bail!(
            "{}: already exists; not replaced (move it away, or pass --config NEW_FILE)",
            target.display()
        );
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    std::fs::write(target, text).map_err(|e| anyhow::anyhow!("{}: {e}", target.display()))?;
    outln!(
        "wrote {}; set `contact`, then see what answers: forkdebt --config {} init --check",
        target.display(),
        target.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The one key of a `[sources.NAME]` section the check reads (the source checks the rest).
#[derive(Debug, Default, serde::Deserialize)]
struct UrlOnly {
    url: Option<String>,
}

/// What to ask of each configured service, and what it is called.
fn endpoints(config: &Config) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |what: String, url: String| {
        if !out.iter().any(|(_, u)| u == &url) {
            out.push((what, url));
        }
    };
    // A Koji hub answers XML-RPC POSTs only: it is asked `getAPIVersion` (see `check`).
    let slash = |u: &str| u.trim_end_matches('/').to_string();
    for d in &config.downstream {
        if let Some(k) = &d.koji_url {
            add(format!("{} koji", d.name), slash(k));
        }
        if let Some(g) = d.git.as_ref().and_then(|g| g.url.as_deref()) {
            add(format!("{} dist-git", d.name), slash(g));
        }
    }
    for d in &config.distro {
        if let Some(k) = &d.koji_url {
            add(format!("{} koji", d.name), slash(k));
        }
        if let Some(r) = &d.repodata_url {
            add(
                format!("{} repodata", d.name),
                format!("{}/repodata/repomd.xml", slash(r)),
            );
        }
        if let Some(g) = d.distgit.as_ref().and_then(|g| g.url.as_deref()) {
            add(format!("{} dist-git", d.name), slash(g));
        }
    }
    for (name, path) in [
        ("bugzilla", "/rest/version"),
        ("jira", "/rest/api/2/serverInfo"),
        ("gitlab", "/api/v4/version"),
        ("github", ""),
    ] {
        let section: Result<UrlOnly, String> = config.sources.section(name);
        if let Some(url) = section.ok().and_then(|s| s.url) {
            add(name.to_string(), format!("{}{path}", slash(&url)));
        }
    }
    if let Some(m) = config.chat.as_ref().and_then(|c| c.matrix.as_ref()) {
        add(
            "matrix".into(),
            format!("{}/_matrix/client/versions", slash(&m.homeserver)),
        );
    }
    out
}

/// Asks each endpoint once (no token is sent). An HTTP answer of any status means the
/// service is there; no answer at all is a failure. Exit status 1 when one does not answer.
pub async fn check(ctx: &Context) -> anyhow::Result<ExitCode> {
    let list = endpoints(&ctx.config);
    if list.is_empty() {
        outln!("nothing to check: the configuration names no service")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut options = forkdebt_scrapers::sync::http_options(&ctx.config);
    options.max_retries = 0;
    let http = Http::new(options)?;
    let mut failed = 0;
    for (what, url) in &list {
        let koji = what.ends_with(" koji");
        let get = Get {
            url: url.clone(),
            max_bytes: 1024 * 1024,
            post: koji.then(|| {
                (
                    "text/xml",
                    b"<?xml version='1.0'?><methodCall><methodName>getAPIVersion</methodName><params></params></methodCall>".to_vec(),
                )
            }),
            ..Get::default()
        };
        let said = match http.get(&get).await {
            Ok(_) => "answers (HTTP 2xx)".to_string(),
            Err(HttpError::Status { status, .. }) => format!("answers (HTTP {status})"),
            Err(e) => {
                failed += 1;
                format!("does not answer: {e}")
            }
        };
        outln!(
            "{:24} {}  {said}",
            forkdebt_core::report::shown(what),
            forkdebt_core::config::redact_url(url)
        )?;
    }
    outln!(
        "{} of {} endpoints answer; git repositories are checked by `forkdebt sync --source git`",
        list.len() - failed,
        list.len()
    )?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
