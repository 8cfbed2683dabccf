//! One file per subcommand; this module resolves the configuration and the database they share.

mod changes;
mod demo;
mod demo_fork;
mod digest;
mod events;
mod init;
mod propose;
mod rebase_check;
mod report;
mod scan;
mod serve;
mod show;
mod sources;
mod sync;
mod tags;
mod whereis;
mod why;

use crate::{Cli, Command};
use forkdebt_core::config::{Config, redact_url};
use forkdebt_core::store::Store;
use std::process::ExitCode;

/// What every command needs: the configuration as resolved from file and flags.
pub struct Context {
    pub config: Config,
    pub database: String,
}

impl Context {
    fn load(cli: &Cli) -> anyhow::Result<Context> {
        let path = cli.config.clone().or_else(Config::default_path);
        let config = match &path {
            Some(path) => {
                let config = Config::load(path)?;
                // Every `[sources.NAME]` section read by its source: a key it does not have
                // is an error now, not a setting silently ignored at sync time.
                forkdebt_scrapers::sources::check(&config, &path.display().to_string())?;
                config
            }
            None => Config::default(),
        };
        let database = cli
            .database
            .clone()
            .unwrap_or_else(|| config.database_url().to_string());
        Ok(Context { config, database })
    }

    pub async fn store(&self) -> anyhow::Result<Store> {
        // The error names the store (password hidden) and the cause.
        Ok(Store::open(&self.database).await?)
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // A preset is written before any configuration is read (there may be none yet).
    if let Command::Init {
        preset: Some(preset),
        ..
    } = cli.command
    {
        return init::write_preset(preset, cli.config.as_deref());
    }
    let ctx = Context::load(&cli)?;
    match cli.command {
        Command::Init { check: true, .. } => init::check(&ctx).await,
        Command::Init { .. } => {
            let store = ctx.store().await?;
            outln!("database ready: {}", redact_url(&ctx.database))?;
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Scan {
            paths,
            downstream,
            history,
        } => scan::run(&ctx, paths, downstream, history).await,
        Command::Report {
            format,
            downstream,
            dropped,
        } => report::run(&ctx, format, downstream, dropped).await,
        Command::Show {
            package,
            downstream,
        } => show::run(&ctx, &package, downstream).await,
        Command::Demo { sample } => demo::run(&ctx, sample).await,
        Command::Sync { source } => sync::run(&ctx, source).await,
        Command::Sources { reset } => sources::run(&ctx, reset).await,
        Command::Tags { upstream } => tags::run(&ctx, &upstream).await,
        Command::RebaseCheck { package, version } => {
            rebase_check::run(&ctx, &package, version).await
        }
        Command::Why { package, patch } => why::run(&ctx, &package, &patch).await,
        Command::Events { since } => events::run(&ctx, since).await,
        Command::Changes { release, state } => changes::run(&ctx, release, state).await,
        Command::Whereis { reference } => whereis::run(&ctx, &reference).await,
        Command::Serve => serve::run(&ctx).await,
        Command::Web { listen } => serve::web_only(&ctx, listen).await,
        Command::Propose {
            package,
            patch,
            change,
            force,
            push,
            downstream,
        } => propose::run(&ctx, package, patch, change, force, push, downstream).await,
        Command::Status => {
            let store = ctx.store().await?;
            let leases = store.leases().await?;
            if leases.is_empty() {
                outln!("leases: none (no `forkdebt serve` has run the scheduler)")?;
            }
            for l in leases {
                let state = if l.remaining_ms > 0 {
                    format!("held for {:.1} s more", l.remaining_ms as f64 / 1000.0)
                } else {
                    format!("expired {:.1} s ago", -l.remaining_ms as f64 / 1000.0)
                };
                outln!(
                    "lease {}: {} (fence {}), {state}",
                    l.name,
                    forkdebt_core::report::shown(&l.holder),
                    l.fence
                )?;
            }
            let backlog = store.outbox_backlog().await?;
            if backlog.is_empty() {
                outln!("outbox: nothing pending")?;
            }
            for (dest, n) in backlog {
                outln!(
                    "outbox {}: {n} pending",
                    forkdebt_core::report::shown(&dest)
                )?;
            }
            // Posts and digests a crash interrupted mid-send: not repeated (the network or
            // the SMTP server cannot deduplicate), so someone may want to look.
            for (dest, outcome, n) in store.delivery_counts().await? {
                if outcome == forkdebt_core::store::Delivery::Unconfirmed.as_str() {
                    outln!(
                        "outbox {}: {n} unconfirmed (a post interrupted by a stop, not repeated)",
                        forkdebt_core::report::shown(&dest)
                    )?;
                }
            }
            for (recipient, week) in store.unconfirmed_digests().await? {
                outln!(
                    "digest {week} to {}: sending or interrupted (not sent again)",
                    forkdebt_core::report::shown(&recipient)
                )?;
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Digest { dry_run, to } => digest::run(&ctx, dry_run, to).await,
    }
}

/// Prints an answer's lines; a question naming nothing known is an error (exit 1).
fn print_answer(answer: forkdebt_core::answers::Answer) -> anyhow::Result<ExitCode> {
    // Each answer line is one line; what it quotes from dist-git or upstream may hold
    // control characters (ESC, OSC, CR): they are written as escapes, never sent to the
    // terminal.
    for line in answer? {
        outln!("{}", forkdebt_core::report::shown(&line))?;
    }
    Ok(ExitCode::SUCCESS)
}
