//! `forkdebt scan [DIR...] [--downstream NAME] [--history]`

use super::Context;
use forkdebt_app::{Said, scan};
use std::path::PathBuf;
use std::process::ExitCode;

pub async fn run(
    ctx: &Context,
    paths: Vec<PathBuf>,
    downstream: Option<String>,
    history: bool,
) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    // What the scan says is a report of work already stored: a closed or full stdout or
    // stderr (`scan 2>/dev/full`) must not abort it, so write errors are ignored here.
    let mut tell = |said: Said| match said {
        Said::Info(line) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "{line}");
        }
        // File names and spec text are not ours: control characters are escaped.
        Said::Warn(line) => errln!("{}", forkdebt_core::report::shown(&line)),
    };
    let request = scan::Request {
        paths,
        downstream,
        history,
    };
    let done = scan::run(&ctx.config, &store, request, &mut tell).await;
    store.close().await;
    Ok(if done?.failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
