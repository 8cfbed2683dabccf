//! forkdebt-bot: chat networks (IRC, Matrix, Discord), the command router, notification
//! delivery from the outbox, and the weekly digest email.
//!
//! The bot reads the store and writes only delivery bookkeeping (outbox outcomes,
//! subscriptions, snoozes); syncing is handed in by the binary, so the bot does not depend
//! on the scrapers.

pub mod command;
pub mod digest;
pub mod networks;
pub mod notify;
pub mod router;
pub mod text;
pub mod web;

pub use networks::{discord, irc, matrix};
