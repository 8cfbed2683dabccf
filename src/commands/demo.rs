//! `forkdebt demo`: the offline quick start. Scans the sample dist-git shipped in the
//! repository into a fresh SQLite file, serves recorded upstream responses on 127.0.0.1,
//! syncs against them twice ("today" and "a release later"), and shows what a maintainer
//! would be told: the debt, which patches can be dropped and why, and the events.
//!
//! Served as recorded (sample/recorded/, copied verbatim from the shared fixtures): three
//! GitHub pull requests. Generated here, and labelled so: the tag list and compare answers
//! of the fork, and the base distribution's repository.

use super::Context;
use anyhow::{Context as _, bail};
use forkdebt_core::config::Config;
use forkdebt_core::inventory::{self, ScanOptions};
use forkdebt_core::model::{PatchState, RefKind};
use forkdebt_core::store::Store;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// The demo's own database, rebuilt on every run so its output is always the same.
const DEMO_DB_FILE: &str = "forkdebt-demo.db";

fn repo_dir(rel: &str) -> PathBuf {
    let local = PathBuf::from(rel);
    if local.exists() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A primary.xml.gz in which the base distribution ships `python-github` at `version`.
fn primary(version: &str) -> anyhow::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    write!(
        gz,
        "<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\
         <package type=\"rpm\"><name>python-github</name><arch>src</arch><version epoch=\"0\" ver=\"{version}\" rel=\"1.el9\"/></package></metadata>"
    )?;
    Ok(gz.finish()?)
}

/// The recorded and generated upstream answers, by request path: (status, body).
fn answer(path: &str, recorded: &std::path::Path, shipped: &Mutex<Vec<u8>>) -> (u16, Vec<u8>) {
    let not_found = (404, b"{\"message\":\"Not Found\"}".to_vec());
    let file = match path {
        "/repos/austinsasko/PyGithub/pulls/21" => Some("pull_austinsasko_PyGithub_21_merged.json"),
        "/repos/MarcoFalke/PyGithub/pulls/1" => {
            Some("pull_MarcoFalke_PyGithub_1_closed_not_merged.json")
        }
        "/repos/PyGithub/PyGithub/pulls/1171" => Some("pull_PyGithub_PyGithub_1171_open.json"),
        _ => None,
    };
    if let Some(f) = file {
        return match std::fs::read(recorded.join("github").join(f)) {
            Ok(body) => (200, body),
            Err(_) => not_found,
        };
    }
    if path == "/repos/austinsasko/PyGithub/tags" {
        return (
            200,
            br#"[{"name":"v1.55"},{"name":"v1.54"},{"name":"v1.53"}]"#.to_vec(),
        );
    }
    if let Some(rest) = path.strip_prefix("/repos/austinsasko/PyGithub/compare/") {
        // The merge (December 2020) is first released in v1.54.
        let contains = !rest.starts_with("v1.53...");
        let status = if contains { "behind" } else { "ahead" };
        return (
            200,
            format!(r#"{{"status":"{status}","ahead_by":0,"behind_by":1,"total_commits":0}}"#)
                .into_bytes(),
        );
    }
    match path {
        "/repo/repodata/repomd.xml" => {
            let len = shipped.lock().map(|p| p.len()).unwrap_or(0);
            (
                200,
                format!(
                    "<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>{len}</revision><data type=\"primary\">\
                     <location href=\"repodata/{len}-primary.xml.gz\"/></data></repomd>"
                )
                .into_bytes(),
            )
        }
        p if p.starts_with("/repo/repodata/") => {
            (200, shipped.lock().map(|p| p.clone()).unwrap_or_default())
        }
        _ => not_found,
    }
}

/// Serves [`answer`] on a free loopback port until dropped: the base URL.
struct Replay {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn replay(recorded: PathBuf, shipped: Arc<Mutex<Vec<u8>>>) -> std::io::Result<Replay> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (recorded, shipped) = (recorded.clone(), Arc::clone(&shipped));
        async move {
            let (status, body) = answer(uri.path(), &recorded, &shipped);
            (
                axum::http::StatusCode::from_u16(status)
                    .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Replay { url, task })
}

pub async fn run(_ctx: &Context, sample: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let sample = sample.unwrap_or_else(|| repo_dir("sample/distgit"));
    let recorded = repo_dir("sample/recorded");
    if !sample.is_dir() || !recorded.is_dir() {
        bail!(
            "{}: the sample dist-git is not there (run from the repository, or pass --sample DIR)",
            sample.display()
        );
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{DEMO_DB_FILE}{suffix}"));
    }
    let shipped = Arc::new(Mutex::new(primary("1.53")?));
    let server = replay(recorded.clone(), shipped.clone())
        .await
        .context("starting the local server that replays recorded answers")?;
    let url = format!("sqlite://{DEMO_DB_FILE}");
    let config = Config::parse(
        &format!(
            "database = \"{url}\"\ncontact = \"mailto:demo@example.org\"\n\
             [[downstream]]\nname = \"demo\"\nbase = \"c9s\"\n\
             [[distro]]\nname = \"c9s\"\nrepodata_url = \"{u}/repo\"\n\
             [sources]\nmin_interval_ms = 0\nmax_retries = 0\ntimeout_secs = 10\n[sources.github]\nurl = \"{u}\"\n",
            u = server.url
        ),
        "demo configuration",
    )?;
    let store = Store::open(&url).await?;
    outln!(
        "== 1. Scan: {} and {} (offline, into {DEMO_DB_FILE})\n",
        sample.display(),
        recorded.join("distgit").display()
    )?;
    // The demo's dist-git as a real git repository beside the database (so `propose` works
    // on it afterwards); without git, the folders as they are.
    let sources = vec![sample.clone(), recorded.join("distgit")];
    let roots = match super::demo_fork::distgit_repo(&sources) {
        Ok(repo) => vec![repo],
        Err(e) => {
            outln!("(the demo dist-git stays as folders: {e:#})")?;
            sources
        }
    };
    let recorded_roots = roots.clone();
    let mut inv =
        tokio::task::spawn_blocking(move || inventory::scan(&roots, &ScanOptions::default()))
            .await
            .context("the scan stopped unexpectedly")?;
    // The fork kept as git branches, generated with real git beside the database.
    match fork_demo(&url, &store).await {
        Ok(scanned) => {
            let st = scanned.stats;
            outln!(
                "Fork python-github-hs ({}/python-github-hs, branch {}): {} carried commits, {} matched upstream by git, {} local-only, {} upstream follow-up fix missing",
                super::demo_fork::WORK_DIR,
                scanned.branch,
                st.carried,
                st.matched,
                st.local_only,
                st.missing_fixes
            )?;
            forkdebt_app::forks::merge_into(&mut inv, scanned);
        }
        Err(e) => outln!("(the fork part of the demo is skipped: {e:#})")?,
    }
    store.set_downstream_base("demo", Some("c9s")).await?;
    let s = store
        .apply_inventory("demo", &inv, chrono::Utc::now())
        .await?;
    let abs: Vec<String> = recorded_roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .map(|r| r.display().to_string())
        .collect();
    store.set_downstream_roots("demo", &abs).await?;
    outln!(
        "{} packages, {} carried patches, {} policy deviations, {} warnings (bare diffs nothing names the origin of, for example: `forkdebt scan` prints them)\n",
        s.packages,
        s.patches,
        inv.deviations.len(),
        s.warnings
    )?;
    let packages = store.load_packages(Some("demo"), None).await?;
    let ambiguous: Vec<String> = packages
        .iter()
        .flat_map(|p| p.carried().map(move |x| (p, x)))
        .flat_map(|(p, x)| {
            x.patch
                .refs
                .iter()
                .filter(|r| r.kind == RefKind::Ambiguous)
                .map(move |r| {
                    format!(
                        "  {} {}: {} ({})",
                        p.package.name,
                        x.patch.file,
                        r.id,
                        r.note.as_deref().unwrap_or("")
                    )
                })
        })
        .collect();
    outln!(
        "== References the context does not settle ({}), kept rather than guessed:",
        ambiguous.len()
    )?;
    for a in &ambiguous {
        outln!("{a}")?;
    }

    let sources = vec!["github".to_string(), "repodata".to_string()];
    let quiet = |_: &str| {};
    outln!(
        "\n== 2. Sync with GitHub (recorded answers) and the base distribution, served on {}",
        server.url
    )?;
    let results = forkdebt_scrapers::sync::run(&store, &config, &sources, &quiet).await?;
    print_results(&results)?;
    outln!("   (the first sync is the baseline: nothing old is announced)")?;

    // "A release later": the base distribution now ships 1.55.
    if let Ok(mut p) = shipped.lock() {
        *p = primary("1.55")?;
    }
    outln!("\n== 3. A release later, c9s ships python-github 1.55; sync again")?;
    let results = forkdebt_scrapers::sync::run(&store, &config, &sources, &quiet).await?;
    print_results(&results)?;

    let packages = store.load_packages(Some("demo"), None).await?;
    let decided = |name: Option<&str>| {
        packages
            .iter()
            .filter(move |p| name.is_none_or(|n| p.package.name == n))
            .flat_map(|p| p.carried().map(move |sp| (p, sp)))
            .map(|(p, sp)| {
                let v = &sp.verdict;
                (
                    p.package.name.clone(),
                    sp.patch.file.clone(),
                    v.state,
                    forkdebt_core::evidence::chain_text(&v.evidence),
                )
            })
            .collect::<Vec<_>>()
    };
    outln!("\n== Droppable patches, with their evidence")?;
    for (package, file, _, chain) in decided(None)
        .into_iter()
        .filter(|d| d.2 == PatchState::Droppable)
    {
        outln!("  {package} {file}: {chain}")?;
    }
    outln!("\n== The other patches of python-github")?;
    for (_, file, state, chain) in decided(Some("python-github"))
        .into_iter()
        .filter(|d| d.2 != PatchState::Droppable)
    {
        outln!("  {file}: {state} ({chain})")?;
    }
    outln!("\n== Events a maintainer is told about")?;
    for e in store.events(None).await? {
        outln!(
            "  {} {}: {} -> {} ({})",
            e.package,
            e.subject,
            e.from_state.as_deref().unwrap_or("-"),
            e.to_state,
            forkdebt_core::evidence::chain_text(&e.evidence)
        )?;
    }
    out!(
        "\n== Fork debt per package, as decided\n\n{}",
        super::report::table_with_trend(&store, &packages).await?
    )?;
    outln!(
        "\nNext: forkdebt --database {url} why python-github 1 | report --format json | events | show PACKAGE\n      forkdebt --database {url} propose python-github 0001-fix-pagination-of-review-comments.patch   (a branch in {}/distgit)",
        super::demo_fork::WORK_DIR
    )?;
    store.close().await;
    drop(server);
    Ok(ExitCode::SUCCESS)
}

/// Generates the demo fork and scans it as `forkdebt scan` would.
async fn fork_demo(url: &str, store: &Store) -> anyhow::Result<forkdebt_core::fork::ForkScan> {
    let (upstream, fork) = tokio::task::spawn_blocking(super::demo_fork::generate)
        .await
        .context("generating the demo fork stopped unexpectedly")??;
    let config = Config::parse(
        &format!(
            "contact = \"mailto:demo@example.org\"\n[[downstream]]\nname = \"demo\"\n\
             [git]\ncache_dir = \"{cache}\"\n\
             [[fork]]\nname = \"python-github-hs\"\npackage = \"python-github\"\nrepo = \"{fork}\"\n\
             branches = [\"hs-v*\"]\nupstream = \"{upstream}\"\nupstream_branch = \"main\"\n",
            cache = std::env::current_dir()?
                .join(super::demo_fork::WORK_DIR)
                .join("cache")
                .display(),
            fork = fork.display(),
            upstream = upstream.display(),
        ),
        "demo fork configuration",
    )?;
    let f = config.fork[0].clone();
    let ctx = Context {
        config,
        database: url.to_string(),
    };
    forkdebt_app::forks::scan(&ctx.config, store, &f).await
}

fn print_results(results: &[forkdebt_scrapers::sync::SourceResult]) -> std::io::Result<()> {
    for r in results {
        outln!(
            "   {:9} {} items, {} requests, {} not modified{}",
            r.source,
            r.run.items,
            r.run.requests,
            r.run.not_modified,
            r.run
                .error
                .as_ref()
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}
