//! forkdebt-scrapers: one module per upstream source (Red Hat Bugzilla, the Fedora wiki,
//! Pagure, GitLab, GitHub, Koji, yum repodata), an HTTP politeness layer under all of them,
//! and the sync that stores typed observations. Never touches chat.
//!
//! Empty until the sync lands (issue "Know what upstream did"); the crate exists so the
//! dependency direction (scrapers -> core) is fixed from the start.

/// The inventory types the sources will look up.
pub use forkdebt_core::model::{RefKind, Reference};
