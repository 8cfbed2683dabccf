//! End-to-end tests of forkdebt: one test binary, a module per area (see util.rs for the
//! helpers and the PostgreSQL harness).

mod bad_input;
mod base_fork;
mod basedistro;
mod bot_setup;
mod bugzilla;
mod builder;
mod config;
mod corpus;
mod crash;
mod discord;
mod distgit;
mod email;
mod evr;
mod faults;
mod fedora_wiki;
mod forges;
mod forks;
mod git_http;
mod github;
mod history;
mod http_politeness;
mod http_routing;
#[allow(dead_code)]
mod httpd;
mod init;
mod irc;
mod ircd;
mod leases;
mod matrix;
mod notify;
mod output;
mod propose;
mod recognition;
mod sample;
mod scan;
mod secrets;
mod smtpd;
mod store;
mod store_opening;
mod synapse;
mod transitions;
mod util;
mod verdicts;
mod web;
