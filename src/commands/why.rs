//! `forkdebt why PACKAGE PATCH`: the evidence chain behind a patch's state.

use super::{Context, print_answer};
use forkdebt_core::answers;
use std::process::ExitCode;

pub async fn run(ctx: &Context, package: &str, patch: &str) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let answer = answers::why(&store, package, patch).await;
    store.close().await;
    print_answer(answer)
}
