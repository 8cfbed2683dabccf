//! `forkdebt show PACKAGE [--downstream NAME]`

use super::{Context, print_answer};
use forkdebt_core::answers;
use std::process::ExitCode;

pub async fn run(
    ctx: &Context,
    package: &str,
    downstream: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let answer = answers::show(&store, package, downstream.as_deref()).await;
    store.close().await;
    print_answer(answer)
}
