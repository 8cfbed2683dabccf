//! forkdebt-core: the domain model, RPM EVR ordering, dist-git inventory scanning, and the
//! store. Knows nothing of upstream services or chat (those crates build on this one).
//!
//! - [`model`]: packages, patches, references, states.
//! - [`evr`]: RPM version ordering and Release anatomy.
//! - [`inventory`]: scanning spec files and patches.
//! - [`git`], [`fork`]: forks kept as git branches, their carried commits matched upstream.
//! - [`config`]: the configuration file.
//! - [`store`]: SQLite / PostgreSQL persistence.
//! - [`report`]: the stable JSON report and its table and Markdown renderings.
//! - [`source`]: the one list of upstream sources and observation datasets.
//! - [`observation`]: what the sources store, typed.
//! - [`verdict`]: deciding a patch's state; run by the engine in [`store`] only.
//! - [`answers`]: the questions people ask, read from the store.

/// A regex compiled once, on first use. Every pattern is a constant exercised by the unit
/// tests, so compiling it cannot fail at run time.
macro_rules! static_regex {
    ($name:ident, $pat:expr) => {
        static $name: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new($pat).expect("static regex"));
    };
}

#[cfg(feature = "store")]
pub mod answers;
pub mod change;
pub mod config;
pub mod display;
pub mod distgit;
pub mod evidence;
pub mod evr;
pub mod forge;
pub mod fork;
pub mod git;
pub mod inventory;
#[cfg(test)]
mod layers;
pub mod manifest;
pub mod model;
pub mod observation;
pub mod origin;
pub mod propose;
pub mod releases;
#[cfg(feature = "store")]
pub mod report;
pub mod source;
#[cfg(feature = "store")]
pub mod store;
pub mod verdict;
