//! forkdebt's application services: what the CLI, the chat commands and `serve`'s scheduler
//! all call, as functions over the configuration and a [`Store`] handle (`serve` passes the
//! handle its lease fences). Nothing here prints or parses arguments: a service says what it
//! did through [`Said`] lines and returns typed results.
//!
//! - [`scan`]: dist-git folders, dist-git in git, forks, the base's packaging, upstream
//!   mirrors — one scan stored per downstream;
//! - [`distgit`]: dist-git repositories of a forge group, mirrored and read from git objects;
//! - [`forks`]: `[[fork]]` branches matched upstream;
//! - [`propose`]: a droppable patch as a branch (and a merge request) for review;
//! - [`sync`]: one sync of every source, said in one line.
//!
//! Git and file work runs under `spawn_blocking`, never on a runtime worker: a chat answer
//! must not wait for a `git push`.
//!
//! [`Store`]: forkdebt_core::store::Store

pub mod added;
pub mod distgit;
pub mod forks;
pub mod propose;
pub mod scan;
pub mod sync;

/// A line a service says to whoever ran it: the CLI prints `Info` on stdout and `Warn` on
/// stderr; `serve` logs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Info(String),
    Warn(String),
}

/// Where a service's lines go.
pub type Tell<'a> = &'a mut (dyn FnMut(Said) + Send);
