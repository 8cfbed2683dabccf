//! forkdebt-scrapers: upstream sources, the HTTP politeness layer under them, and the sync
//! that stores what they observe. Never touches chat.
//!
//! - [`http`]: one client, per-host limits, retries that honour `Retry-After`, conditional
//!   requests, body caps.
//! - [`sources`]: one module per upstream service.
//! - [`sync`]: runs the configured sources, records per-source status.

pub mod bus;
pub mod forges;
pub mod http;
pub mod sources;
pub mod sync;
