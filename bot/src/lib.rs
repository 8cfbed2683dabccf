//! forkdebt-bot: chat networks (IRC, Matrix, Discord), the command router, notification
//! delivery from the outbox, the weekly digest email, the web dashboard, and `serve`, which
//! runs them with the schedule.
//!
//! The bot reads the store and writes delivery bookkeeping (outbox outcomes, subscriptions,
//! snoozes); what chat commands and the schedule start (sync, scan, propose) are
//! `forkdebt_app`'s services.

pub mod command;
pub mod digest;
pub mod networks;
pub mod notify;
pub mod router;
pub mod serve;
pub mod text;
pub mod web;

pub use networks::{discord, irc, matrix};
