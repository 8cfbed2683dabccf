//! `forkdebt serve`: the chat networks, notifications, the web dashboard and the schedule in
//! one process (`forkdebt_bot::serve`), until SIGTERM or SIGINT (then every network says
//! goodbye and the store is closed).

use super::Context;
use anyhow::Context as _;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let config = Arc::new(ctx.config.clone());
    // SQLite serves one process: a second `serve` on the same file would post everything
    // twice. Held until this process exits.
    let _single = single_instance(&ctx.database)?;
    let store = ctx.store().await?;
    let (stop, stopped) = watch::channel(false);
    let serving = tokio::spawn(forkdebt_bot::serve::run(config, store.clone(), stopped));
    errln!("forkdebt: serving (SIGTERM or Ctrl-C stops)");
    tokio::pin!(serving);
    let result = tokio::select! {
        r = &mut serving => r,
        () = wait_for_signal() => {
            errln!("forkdebt: stopping");
            let _ = stop.send(true);
            serving.await
        }
    };
    store.close().await;
    result.context("serve stopped unexpectedly")??;
    Ok(ExitCode::SUCCESS)
}

/// An exclusive lock beside a SQLite database, for as long as the returned file is open.
/// PostgreSQL needs none (several instances share it).
fn single_instance(database: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
    else {
        return Ok(None);
    };
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return Ok(None);
    }
    let lock_path = format!("{path}.serve-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("{lock_path}: cannot create the instance lock"))?;
    use std::os::fd::AsRawFd as _;
    // SAFETY: flock(2) on a descriptor we own; the lock goes with the file.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        anyhow::bail!(
            "another `forkdebt serve` is running on {path} (SQLite serves one process; run several instances on PostgreSQL)"
        );
    }
    Ok(Some(file))
}

/// `forkdebt web`: the dashboard alone.
pub async fn web_only(ctx: &Context, listen: Option<String>) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let listen = listen
        .or_else(|| ctx.config.web.as_ref().map(|w| w.listen.clone()))
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let (stop, stopped) = watch::channel(false);
    let state = forkdebt_bot::web::WebState::new(
        store.clone(),
        Arc::new(forkdebt_bot::web::metrics::Process::default()),
    );
    let limits = forkdebt_bot::web::Limits::from_config(ctx.config.web.as_ref());
    let server =
        tokio::spawn(
            async move { forkdebt_bot::web::serve(&listen, limits, state, stopped).await },
        );
    tokio::select! {
        r = server => {
            store.close().await;
            return r.context("the web server stopped unexpectedly")?.map(|()| ExitCode::SUCCESS);
        }
        () = wait_for_signal() => {}
    }
    let _ = stop.send(true);
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
