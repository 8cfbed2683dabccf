//! The configuration file (`--config`, `config/forkdebt.toml`, `$XDG_CONFIG_HOME/forkdebt/`).
//!
//! Every key of DESIGN.md is here with its default; an unknown key is an error that names it
//! and its line (serde's `deny_unknown_fields` + toml's spans). Secrets are never values in
//! this file: only `*_env` (a variable's name) or `*_file` (a path), read by [`Secret`].

mod redact;
mod secret;
mod sources;
mod validate;

pub use redact::redact_url;
pub use secret::{EnvName, Secret, is_env_name, looks_like_a_token};
pub use sources::{SourcesConfig, section_line};

use crate::evr::DEFAULT_RELEASE_MARKER;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: Option<String>,
    pub contact: Option<String>,
    #[serde(default)]
    pub downstream: Vec<DownstreamConfig>,
    #[serde(default)]
    pub distro: Vec<DistroConfig>,
    #[serde(default)]
    pub sources: SourcesConfig,
    pub chat: Option<ChatConfig>,
    pub email: Option<EmailConfig>,
    #[serde(default)]
    pub fork: Vec<ForkConfig>,
    #[serde(default)]
    pub git: GitConfig,
    #[serde(default)]
    pub upstream: Vec<UpstreamConfig>,
    pub web: Option<WebConfig>,
    pub propose: Option<ProposeConfig>,
    pub serve: Option<ServeConfig>,
    /// `[bus]`: Fedora's message bus (fedora-messaging), heard by `serve`.
    pub bus: Option<BusConfig>,
    /// `[hooks]`: forge webhooks, received by `serve`'s web server.
    pub hooks: Option<HooksConfig>,
}

/// `[bus]`: an AMQP consumer of fedora-messaging's public broker. A message names what it
/// concerns; the items forkdebt tracks among them are synced at once (the message is a hint,
/// the source's answer the fact). Off unless `enabled`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    #[serde(default)]
    pub enabled: bool,
    /// `amqps://fedora:@rabbitmq.fedoraproject.org/%2Fpublic_pubsub` (the default).
    pub url: Option<String>,
    /// The broker's CA, and the client certificate and key it accepts (Fedora's public
    /// `fedora-cert.pem`/`fedora-key.pem` as fedora-messaging ships them).
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The exchange topics are bound on (default `amq.topic`).
    pub exchange: Option<String>,
    /// Routing keys bound (default: Koji tags and build states, Bodhi updates, dist-git
    /// pushes, wiki edits, Bugzilla, Pagure and Forgejo pull requests, FESCo tickets).
    #[serde(default)]
    pub topics: Vec<String>,
    /// Where missed messages are read after a restart or an outage (default
    /// `https://apps.fedoraproject.org/datagrepper`; `""`: no backfill).
    pub datagrepper_url: Option<String>,
    /// How far back a backfill reaches at most, hours (default 72).
    pub backfill_max_hours: Option<f64>,
}

/// `[hooks]`: webhooks at `/hooks/github`, `/hooks/gitlab`, `/hooks/forgejo`, `/hooks/pagure`
/// on the web server. A forge without its secret configured is refused.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    pub github_secret_env: Option<EnvName>,
    pub github_secret_file: Option<PathBuf>,
    pub gitlab_secret_env: Option<EnvName>,
    pub gitlab_secret_file: Option<PathBuf>,
    pub forgejo_secret_env: Option<EnvName>,
    pub forgejo_secret_file: Option<PathBuf>,
    pub pagure_secret_env: Option<EnvName>,
    pub pagure_secret_file: Option<PathBuf>,
    /// The largest body accepted, bytes (default 1 MiB).
    pub max_body_bytes: Option<usize>,
}

/// `[serve]`: how several `serve` instances on one PostgreSQL share the work.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// How long a lease (the scheduler, a chat network's connection) outlives its holder
    /// before another instance takes over, seconds [default 30].
    pub lease_secs: Option<f64>,
}

/// `[propose]`: where `forkdebt propose --push` pushes and opens merge requests.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProposeConfig {
    /// `gitlab` (merge requests, v4 API; the default), `pagure` or `forgejo` (pull requests).
    pub forge: Option<crate::forge::ForgeKind>,
    /// The forge's API base (`https://gitlab.com`).
    pub url: Option<String>,
    /// The project of a package, `{package}` replaced (`CentOS/Hyperscale/rpms/{package}`).
    pub project: Option<String>,
    /// The git remote pushed to (default `origin`).
    pub remote: Option<String>,
    /// Where to push instead, `{package}` replaced (`ssh://git@gitlab.com/CentOS/Hyperscale/rpms/{package}.git`):
    /// needed when the dist-git is forkdebt's mirror, whose `origin` is the read-only URL.
    pub push_url: Option<String>,
    /// The branch merge requests target (default: the dist-git's current branch).
    pub target_branch: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// At most this many open proposals per downstream (default 10).
    pub max_open: Option<u32>,
    /// Whether anyone in chat may `propose` (default: admins only).
    #[serde(default)]
    pub open: bool,
    pub token_env: Option<EnvName>,
    pub token_file: Option<PathBuf>,
}

/// `[web]`: the read-only dashboard, served by `serve` (and `forkdebt web`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// `127.0.0.1:8080`.
    pub listen: String,
    /// Open connections at most (default 256); one more replaces the oldest idle one.
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// A request's head must arrive within this (default 10 s); also the keep-alive idle time.
    #[serde(default)]
    pub header_timeout_secs: Option<u64>,
    /// A client must take its whole response within this (default 120 s).
    #[serde(default)]
    pub response_timeout_secs: Option<u64>,
}

/// An upstream project answered from git instead of its forge's API (`[[upstream]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub name: String,
    /// The references it answers: `github:owner/repo`, `gitlab:host/group/project`,
    /// `pagure:host/path`.
    pub forge: crate::forge::ForgeProject,
    /// URL or local path of its git repository.
    pub repo: String,
    /// Regex whose group 1 is the release version.
    pub release_tags: Option<String>,
    /// Packages that come from this project whatever their spec's URLs say (a home page on
    /// a retired host, a tarball mirror).
    #[serde(default)]
    pub packages: Vec<String>,
}

impl UpstreamConfig {
    pub fn release_tags(&self) -> &str {
        self.release_tags.as_deref().unwrap_or(DEFAULT_RELEASE_TAGS)
    }
}

/// A fork kept as git branches (`[[fork]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkConfig {
    pub name: String,
    /// Whose debt it is: joins the package of that name from dist-git, if any.
    pub package: String,
    /// Whose base distribution decides "droppable"; default: the only `[[downstream]]`.
    pub downstream: Option<String>,
    /// Instead of `downstream`: this is the base distribution's own fork (its source-git),
    /// named as its `[[distro]]`. Its commits are not our debt; a change it carries is
    /// droppable for us once the base ships the build that has it. Its `release_tags` are the
    /// base's build tags, group 1 the build's release number (`'^v252-(\d+)$'`).
    pub distro: Option<String>,
    /// URL or local path of the fork.
    pub repo: String,
    /// Glob patterns; every matching branch is read and the newest version leads.
    pub branches: Vec<String>,
    /// URL or local path of upstream, or the name of an `[[upstream]]`.
    pub upstream: String,
    #[serde(default = "default_upstream_branch")]
    pub upstream_branch: String,
    /// Regex whose group 1 is the release version.
    pub release_tags: Option<String>,
    pub backports_file: Option<String>,
}

/// Release tags when `release_tags` is not set: `v254`, `254.1`, `systemd-254`.
pub const DEFAULT_RELEASE_TAGS: &str = r"^(?:v|[A-Za-z][\w.-]*-)?(\d+(?:\.\d+)*)$";

fn default_upstream_branch() -> String {
    "main".into()
}

impl ForkConfig {
    pub fn release_tags(&self) -> &str {
        self.release_tags.as_deref().unwrap_or(DEFAULT_RELEASE_TAGS)
    }

    /// Where upstream's repository is: the `[[upstream]]` of that name, else `upstream` as
    /// written (a URL or path).
    pub fn upstream_repo<'a>(&'a self, config: &'a Config) -> &'a str {
        config
            .upstream
            .iter()
            .find(|u| u.name == self.upstream)
            .map_or(self.upstream.as_str(), |u| u.repo.as_str())
    }
}

impl Config {
    /// A downstream without `base` whose dist-git branch is named after a configured
    /// `[[distro]]` (`c9s-hs`, `c10s-hs+fb`, `c9s-sig-hyperscale`) is based on it.
    fn infer_bases(&mut self) {
        let distros: Vec<String> = self.distro.iter().map(|d| d.name.clone()).collect();
        for d in self.downstream.iter_mut().filter(|d| d.base.is_none()) {
            let branch = d
                .branch
                .as_deref()
                .or_else(|| d.git.as_ref().and_then(|g| g.branch.as_deref()));
            if let Some(parts) = branch.and_then(crate::evr::branch_parts)
                && distros.contains(&parts.base)
            {
                d.base = Some(parts.base);
            }
        }
    }

    /// The `[[fork]]`s that are our debt (not the base distribution's own).
    pub fn downstream_forks(&self) -> impl Iterator<Item = &ForkConfig> {
        self.fork.iter().filter(|f| f.distro.is_none())
    }
}

/// `[git]`: where mirrors of remote repositories are kept.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GitConfig {
    pub cache_dir: Option<PathBuf>,
}

impl Config {
    /// The User-Agent of every request forkdebt makes (HTTP and git): forkdebt and the
    /// operator's contact, so upstream admins can reach them.
    pub fn user_agent(&self) -> String {
        user_agent(self.contact.as_deref())
    }
}

/// `forkdebt/0.1.0 (+mailto:admin@example.org)`.
pub fn user_agent(contact: Option<&str>) -> String {
    format!(
        "forkdebt/{} (+{})",
        env!("CARGO_PKG_VERSION"),
        contact.unwrap_or("no contact configured")
    )
}

impl GitConfig {
    /// `cache_dir`, else `$XDG_CACHE_HOME/forkdebt/git` (`~/.cache/forkdebt/git`).
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(d) = &self.cache_dir {
            return d.clone();
        }
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("forkdebt/git")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownstreamConfig {
    pub name: String,
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    pub base: Option<String>,
    pub release_marker: Option<String>,
    /// Macros the downstream's builds define, used for `%if` and `%{?dist}` (`rhel = "9"`).
    #[serde(default)]
    pub macros: HashMap<String, String>,
    /// The dist-git branch to read when dist-git comes from git.
    pub branch: Option<String>,
    /// Dist-git repositories in git (a forge group or a list), besides or instead of `paths`.
    pub git: Option<DistgitConfig>,
    /// Other `[[distro]]`s whose packaging ours starts from (`["fedora"]`): a patch only they
    /// carry is `from-fedora`.
    #[serde(default)]
    pub packaging_from: Vec<String>,
    /// The SIG's own package list (an hs-relmon manifest or a sandogasa inventory): only the
    /// packages it carries are scanned; archived, retired and unshipped ones are left out.
    pub manifest: Option<PathBuf>,
    /// Where the downstream itself builds (`https://cbs.centos.org/kojihub`) and the tags it
    /// ships from: what it ships per package, beside what its dist-git head says.
    pub koji_url: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Where a dist-git lives in git: every project of a forge group, or a list of repositories.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistgitConfig {
    /// `gitlab`, `pagure` or `forgejo`.
    pub forge: Option<crate::forge::ForgeKind>,
    /// The forge's web address (`https://gitlab.com`, `https://src.fedoraproject.org`).
    pub url: Option<String>,
    /// The group (GitLab), namespace (Pagure) or organisation (Forgejo) whose projects are
    /// packages.
    pub group: Option<String>,
    /// Repositories (URLs, `file://` or paths) instead of a group.
    #[serde(default)]
    pub repos: Vec<String>,
    /// The branch to read (a `[[distro]]`'s; a downstream's is `[[downstream]] branch`).
    pub branch: Option<String>,
}

/// A dist-git location is a group on a known forge, or a list of repositories.
fn check_distgit(g: &DistgitConfig, key: &str) -> Result<(), (String, String)> {
    if let Some(f) = g.forge.filter(|f| !f.hosts_distgit()) {
        return Err((
            format!("{key}.forge"),
            format!(
                "`{f}` is not one of {}",
                crate::forge::ForgeKind::distgit_names()
            ),
        ));
    }
    match (&g.group, g.repos.is_empty()) {
        (Some(_), true) if g.forge.is_none() || g.url.is_none() => Err((
            format!("{key}.group"),
            "a group needs `forge` and `url` to be listed".into(),
        )),
        (Some(_), false) => Err((
            format!("{key}.repos"),
            "give a group or a list of repositories, not both".into(),
        )),
        (None, true) => Err((
            key.to_string(),
            "give `group` (with `forge` and `url`) or `repos`".into(),
        )),
        _ => Ok(()),
    }
}

impl DownstreamConfig {
    pub fn release_marker(&self) -> &str {
        self.release_marker
            .as_deref()
            .unwrap_or(DEFAULT_RELEASE_MARKER)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistroConfig {
    pub name: String,
    pub koji_url: Option<String>,
    pub koji_tag: Option<String>,
    pub repodata_url: Option<String>,
    /// The distribution's own packaging, to tell inherited patches from ours.
    pub distgit: Option<DistgitConfig>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    pub prefix: Option<String>,
    /// Notifications posted per room and hour; beyond it, the rest collapse into one summary.
    pub posts_per_hour: Option<u32>,
    /// How often `serve` looks for notifications to post, seconds [default 30].
    pub poll_secs: Option<u64>,
    #[serde(default)]
    pub admins: Vec<String>,
    pub matrix: Option<MatrixConfig>,
    pub irc: Option<IrcConfig>,
    pub discord: Option<DiscordConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    pub homeserver: String,
    pub user: String,
    pub password_env: Option<EnvName>,
    pub password_file: Option<PathBuf>,
    pub token_env: Option<EnvName>,
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub rooms: Vec<String>,
    /// Where the Matrix session and sync token are kept across restarts
    /// [default `forkdebt-matrix-session.json` in the working directory].
    pub session_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrcConfig {
    pub server: String,
    pub port: Option<u16>,
    pub tls: Option<bool>,
    pub nick: Option<String>,
    pub sasl_password_env: Option<EnvName>,
    pub sasl_password_file: Option<PathBuf>,
    #[serde(default)]
    pub channels: Vec<String>,
    /// Extra CA certificates (PEM) to trust for the server's TLS certificate, besides the
    /// system's and the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Outgoing flood control: at most `flood_lines` lines per `flood_window_secs`
    /// [default 5 per 4 s].
    pub flood_lines: Option<u32>,
    pub flood_window_secs: Option<u64>,
    /// How long connecting and registering may take before the bot gives up and
    /// reconnects, seconds [default 30].
    pub register_timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    pub token_env: Option<EnvName>,
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub channels: Vec<u64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub smtp_url: Option<String>,
    /// An https URL for one-click unsubscribe (RFC 8058), besides the mailto link.
    pub unsubscribe_url: Option<String>,
    pub from: Option<String>,
    pub schedule: Option<String>,
    pub username_env: Option<EnvName>,
    pub password_env: Option<EnvName>,
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub recipient: Vec<Recipient>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub address: String,
    #[serde(default)]
    pub packages: Vec<String>,
}

/// The dotted key (`propose.token_env`) set on `line` (1-based) of `text`, if a key is.
fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let this = lines.get(line.checked_sub(1)?)?;
    let (key, _) = this.split_once('=')?;
    let key = key.trim().trim_matches('"');
    let table = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

/// The database used when neither `--database` nor `database =` says otherwise.
pub const DEFAULT_DATABASE: &str = "sqlite://forkdebt.db";

impl Config {
    /// Parses `text` read from `path` (the path only names errors).
    ///
    /// # Errors
    /// A TOML or schema error, with the line; an invalid regex or a duplicate name.
    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            // A value refused by its type (a token where a variable's name belongs) is not
            // named by the TOML error: say which key it was.
            let message = match key_at(text, line) {
                Some(key) if !e.message().contains('`') => format!("{key}: {}", e.message()),
                _ => e.message().to_string(),
            };
            ConfigError::Parse {
                path: path.to_string(),
                line,
                message,
            }
        })?;
        let mut cfg = cfg;
        cfg.sources.lines = sources::key_lines(text);
        cfg.infer_bases();
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Reads and parses a config file.
    ///
    /// # Errors
    /// As [`Config::parse`], or the file cannot be read.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&text, &shown)
    }

    /// The config file to use when `--config` is not given: `config/forkdebt.toml` in the
    /// working directory, else `$XDG_CONFIG_HOME/forkdebt/forkdebt.toml`; `None` if neither.
    pub fn default_path() -> Option<PathBuf> {
        let local = PathBuf::from("config/forkdebt.toml");
        if local.is_file() {
            return Some(local);
        }
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        let p = xdg.join("forkdebt/forkdebt.toml");
        p.is_file().then_some(p)
    }

    pub fn database_url(&self) -> &str {
        self.database.as_deref().unwrap_or(DEFAULT_DATABASE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_naming_key_and_line() {
        let err = Config::parse(
            "database = \"sqlite://x.db\"\n\n[[downstream]]\nname = \"a\"\npathz = []\n",
            "f.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("f.toml:5:"), "{err}");
        assert!(err.contains("pathz"), "{err}");
    }

    #[test]
    fn a_sig_branch_names_the_base() {
        let cfg = Config::parse(
            "[[downstream]]\nname = \"hs\"\nbranch = \"c10s-hs+fb\"\n\
             [[downstream]]\nname = \"other\"\nbranch = \"c9s-hs\"\n\
             [[downstream]]\nname = \"set\"\nbranch = \"c10s-hs\"\nbase = \"c9s\"\n\
             [[distro]]\nname = \"c10s\"\n[[distro]]\nname = \"c9s\"\n",
            "f",
        )
        .expect("config");
        let bases: Vec<Option<&str>> = cfg.downstream.iter().map(|d| d.base.as_deref()).collect();
        assert_eq!(bases, [Some("c10s"), Some("c9s"), Some("c9s")]);
        // A branch naming a distro that is not configured sets nothing.
        let cfg = Config::parse("[[downstream]]\nname = \"hs\"\nbranch = \"c9s-hs\"\n", "f")
            .expect("config");
        assert_eq!(cfg.downstream[0].base, None);
    }

    #[test]
    fn bad_regex_and_unknown_base_are_named() {
        let err = Config::parse(
            "[[downstream]]\nname = \"a\"\nrelease_marker = \"(\"\n",
            "f",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("downstream[0].release_marker"),
            "{err}"
        );
        let err = Config::parse("[[downstream]]\nname = \"a\"\nbase = \"c9s\"\n", "f").unwrap_err();
        assert!(
            err.to_string().contains("no [[distro]] is named `c9s`"),
            "{err}"
        );
        let err = Config::parse("[propose]\nforge = \"github\"\n", "f").unwrap_err();
        assert!(
            err.to_string().contains("propose.forge") && err.to_string().contains("not one of"),
            "{err}"
        );
    }

    #[test]
    fn secrets_and_passwords_never_print() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(
            redact_url("postgres://u:hunter2@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://forkdebt.db"), "sqlite://forkdebt.db");
        assert_eq!(
            redact_url("postgres://u@h/db?password=hunter2&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u:a@h/db?sslpassword=b"),
            "postgres://u:***@h/db?sslpassword=***"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?pass%77ord=hunter2&sslmode=require"),
            "postgres://u@h/db?pass%77ord=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?%70assword=x"),
            "postgres://u@h/db?%70assword=***"
        );
    }

    #[test]
    fn a_secret_pasted_into_an_env_setting_is_refused_and_not_echoed() {
        // (Source sections are checked by their sources: forkdebt-scrapers' registry tests.)
        let err = Config::parse(
            "[propose]\ntoken_env = \"ghp_s3cr3tT0ken/with+chars\"\n",
            "f.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("propose.token_env"), "{err}");
        assert!(!err.contains("ghp_s3cr3t"), "{err}");
        let err = Secret::load(Some("ghp s3cr3t"), None).unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
        // Shaped like a variable name, but a token: refused, never echoed.
        for token in [
            "ghp_Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78",
            "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5hJ7k",
            "0123456789abcdef0123456789abcdef01234567",
            "glpat_x7Y2z9",
        ] {
            for (section, key) in [
                ("propose", "token_env"),
                ("chat.discord", "token_env"),
                ("email", "password_env"),
            ] {
                let err = Config::parse(&format!("[{section}]\n{key} = \"{token}\"\n"), "f")
                    .unwrap_err()
                    .to_string();
                assert!(err.contains(&format!("{section}.{key}")), "{err}");
                assert!(!err.contains(token), "{err}");
            }
            let err = Secret::load(Some(token), None).unwrap_err();
            assert!(!err.contains(token), "{err}");
        }
        for name in [
            "GITHUB_TOKEN",
            "BUGZILLA_API_KEY",
            "github_token",
            "MATRIX_PASSWORD_2",
            "FORKDEBT_TEST_GH_TOKEN",
        ] {
            assert!(is_env_name(name), "{name}");
        }
        assert!(is_env_name("GITHUB_TOKEN") && !is_env_name("9X") && !is_env_name(""));
        assert!(
            Config::parse(
                "[chat.irc]\nserver = \"x\"\nsasl_password_env = \"IRC_PW\"\n",
                "f"
            )
            .is_ok()
        );
    }
}
