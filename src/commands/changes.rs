//! `forkdebt changes [--release N] [--state S]`: the Fedora Changes we follow, where they
//! stand, and which of our packages and deviations they concern.

use super::{Context, print_answer};
use forkdebt_core::answers;
use std::process::ExitCode;

pub async fn run(
    ctx: &Context,
    release: Option<u32>,
    state: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let answer = answers::changes(&store, release, state.as_deref()).await;
    store.close().await;
    print_answer(answer)
}
