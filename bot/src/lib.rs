//! forkdebt-bot: chat networks (Matrix, IRC, Discord), the command router, notification
//! delivery from the outbox, the weekly digest email and the web dashboard.
//!
//! Empty until the bot lands (issue "Talk"); the crate exists so the dependency direction
//! (bot -> core, never bot -> scrapers internals) is fixed from the start.

/// What the bot will report on.
pub use forkdebt_core::model::{Package, Patch, PatchState};
