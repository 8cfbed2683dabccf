//! `forkdebt whereis REF`: where a fix is — merged? in which upstream release? which of our
//! patches carry it, and what the base distributions ship of those packages.

use super::{Context, print_answer};
use forkdebt_core::answers;
use std::process::ExitCode;

pub async fn run(ctx: &Context, reference: &str) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let answer = answers::whereis(&store, reference).await;
    store.close().await;
    print_answer(answer)
}
