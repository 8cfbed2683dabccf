//! `forkdebt digest [--dry-run] [--to ADDRESS]`: this week's digest for each configured
//! recipient (or one address), sent once per recipient and ISO week, or printed.

use super::Context;
use forkdebt_bot::digest::{self, Outcome, mail};
use forkdebt_core::config::Recipient;
use std::process::ExitCode;

pub async fn run(ctx: &Context, dry_run: bool, to: Option<String>) -> anyhow::Result<ExitCode> {
    let email = ctx.config.email.clone().unwrap_or_default();
    let mut recipients: Vec<Recipient> = email.recipient.clone();
    if let Some(to) = &to {
        recipients.retain(|r| r.address == *to);
        if recipients.is_empty() {
            // Not configured: everything, to that address.
            recipients.push(Recipient {
                address: to.clone(),
                packages: Vec::new(),
            });
        }
    }
    if recipients.is_empty() {
        anyhow::bail!("no recipients: add [[email.recipient]] to the configuration or pass --to");
    }
    let store = ctx.store().await?;
    let now = chrono::Utc::now();
    let week = digest::iso_week(now.date_naive());
    if dry_run {
        for (i, r) in recipients.iter().enumerate() {
            let d = digest::build(&store, r, now).await?;
            if i > 0 {
                outln!("\n{}\n", "=".repeat(72))?;
            }
            outln!("To: {}\n", r.address)?;
            out!("{}", digest::render::plain(&d)?)?;
        }
        store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let transport = mail::transport(&email)?;
    let mut failed = 0;
    for r in &recipients {
        match digest::deliver(&store, &ctx.config, r, &week, &transport).await {
            Ok(Outcome::Sent) => outln!("{}: sent the {week} digest", r.address)?,
            Ok(Outcome::AlreadySent) => {
                outln!("{}: the {week} digest was already sent", r.address)?;
            }
            Err(e) => {
                failed += 1;
                errln!("forkdebt: {}: {e:#}", r.address);
            }
        }
    }
    store.close().await;
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
