//! forkdebt: how much a downstream carries on top of its distribution, and what upstream did
//! with it. `main` only parses arguments, runs one command and maps the result to an exit code.

/// `println!` that returns the write's `io::Result` instead of panicking: a closed pipe
/// (`forkdebt status | head -1`) or a full disk (`> /dev/full`) is an error the command
/// returns, said once by `main`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` as [`outln!`] is `println!`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `eprintln!` that never panics: when stderr itself is full or closed, nothing more can be
/// said, and the command's work must not be lost for it.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod commands;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "forkdebt",
    version,
    about = "Track the patches a downstream carries against upstream"
)]
struct Cli {
    /// Configuration file [default: config/forkdebt.toml, else $XDG_CONFIG_HOME/forkdebt/forkdebt.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB [default: config's `database`, else sqlite://forkdebt.db]
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "FORKDEBT_DATABASE",
        hide_env_values = true
    )]
    database: Option<String>,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Configurations `init --preset` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Preset {
    /// The CentOS Hyperscale SIG (c9s and c10s, CBS, systemd's source-git, its rooms).
    Hyperscale,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the database (or bring its schema up to date); or write a preset configuration,
    /// or check which configured endpoints answer.
    Init {
        /// Write the configuration of a known downstream to --config (default
        /// config/forkdebt.toml); never over an existing file.
        #[arg(long, value_enum)]
        preset: Option<Preset>,
        /// Ask every configured endpoint once and say which answer.
        #[arg(long, conflicts_with = "preset")]
        check: bool,
    },
    /// Scan dist-git folders for carried patches and their upstream references.
    Scan {
        /// Folders to scan [default: the configured downstreams' paths]
        paths: Vec<PathBuf>,
        /// Record the scan under this downstream [default: the only configured one, else "default"]
        #[arg(long)]
        downstream: Option<String>,
        /// Also walk each folder's git first-parent history for the debt trend.
        #[arg(long)]
        history: bool,
    },
    /// Ask upstream about every reference (only what is stale), and record what it says.
    Sync {
        /// Only these sources (repeatable) [default: every one, in this order]
        #[arg(long, value_name = "NAME", value_parser = source_names())]
        source: Vec<String>,
    },
    /// Per source: last checked, last error, items, requests, 304s; hosts that asked us to wait.
    Sources {
        /// Forget that HOST asked us to wait: the next sync asks it again.
        #[arg(long, value_name = "HOST")]
        reset: Option<String>,
    },
    /// How an upstream tags its releases: the inferred scheme, three tags with their
    /// versions, the tags that are not releases.
    Tags {
        /// An `[[upstream]]` name or its forge project (`owner/repo`).
        upstream: String,
    },
    /// Which carried patches a rebase to an upstream release drops (default: the newest
    /// release), which are still needed, which are unknown, with the commit that says so.
    RebaseCheck {
        package: String,
        /// The upstream version to rebase to (`2.13.6`).
        version: Option<String>,
    },
    /// Report carried patches per package.
    Report {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Only this downstream.
        #[arg(long)]
        downstream: Option<String>,
        /// JSON: also the patches dist-git dropped (from `scan --history`), with when each
        /// became droppable and how long it was carried after.
        #[arg(long)]
        dropped: bool,
    },
    /// Why a patch has its state: the evidence chain, hop by hop, with links.
    Why {
        package: String,
        /// The patch file name, or its number (`3` or `Patch3`).
        patch: String,
    },
    /// Where is this fix: merged? in which upstream release? which of our patches carry it,
    /// and what do the base distributions ship?
    Whereis {
        /// A PR/MR/commit URL, owner/repo#N, rhbz#N (or a bare bug number).
        reference: String,
    },
    /// The Fedora Changes we follow: where they stand, what they concern.
    Changes {
        /// Only Changes accepted for (or deferred to) this Fedora release.
        #[arg(long)]
        release: Option<u32>,
        /// Only this state: announced, ready-for-fesco, accepted, testable, code-complete, landed, deferred, withdrawn.
        #[arg(long)]
        state: Option<String>,
    },
    /// The transitions forkdebt recorded (a patch became droppable, was dropped...).
    Events {
        /// Only events at or after this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
    },
    /// Offline demo: scan the bundled sample dist-git into forkdebt-demo.db and show the debt.
    Demo {
        /// The dist-git to scan [default: sample/distgit of the repository]
        #[arg(long, value_name = "DIR")]
        sample: Option<PathBuf>,
    },
    /// The weekly digest email: send this week's to every recipient (once per ISO week).
    Digest {
        /// Print the plain-text digest instead of sending it.
        #[arg(long)]
        dry_run: bool,
        /// Only this recipient (configured or not).
        #[arg(long, value_name = "ADDRESS")]
        to: Option<String>,
    },
    /// Run the chat bots (IRC, Matrix, Discord), notifications, the periodic sync and the weekly digest until SIGTERM/SIGINT.
    Serve,
    /// Who holds which lease (the scheduler) and until when; the outbox backlog per destination.
    Status,
    /// Turn a droppable patch into a dist-git branch to review (spec edited, release bumped,
    /// changelog with the evidence); or, with --change, print a Fedora Change draft.
    Propose {
        /// The package (not with --change).
        package: Option<String>,
        /// The patch file, its number, or a carried commit's sha.
        patch: Option<String>,
        /// A policy deviation of forkdebt-inventory.toml: print a Change proposal draft.
        #[arg(long, value_name = "DEVIATION", conflicts_with_all = ["package", "patch"])]
        change: Option<String>,
        /// Propose even when the patch is not droppable yet.
        #[arg(long)]
        force: bool,
        /// Push the branch and open a merge request ([propose] in the config).
        #[arg(long)]
        push: bool,
        /// Only this downstream.
        #[arg(long)]
        downstream: Option<String>,
    },
    /// Serve the read-only web dashboard only (`[web] listen`, or --listen), until SIGTERM/SIGINT.
    Web {
        /// Address to listen on [default: [web] listen, else 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Show one package's patches with every reference and where it was found.
    Show {
        package: String,
        /// Only this downstream.
        #[arg(long)]
        downstream: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Markdown,
}

/// The sources `sync --source` takes, each with what it asks: from the source registry.
fn source_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        forkdebt_scrapers::sources::syncable()
            .map(|d| clap::builder::PossibleValue::new(d.name).help(d.about)),
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.only_prints() {
        quiet_on_closed_pipe();
    }
    // Two rustls crypto backends are compiled in (ring through some crates, aws-lc-rs through
    // others); TLS clients that ask for "the" process provider (irc) need one chosen.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("forkdebt: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(commands::run(cli)).and_then(|code| {
        use std::io::Write as _;
        std::io::stdout().flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        // The reader went away (`| head`): what it wanted was written; end quietly.
        Err(e) if output_error(&e).is_some_and(|k| k == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            use std::io::Write as _;
            let message = match output_error(&e) {
                Some(_) => format!("forkdebt: cannot write the output: {}", cause_chain(&e)),
                None => format!("forkdebt: {}", cause_chain(&e)),
            };
            // stderr may be full or closed too: nothing more can be said then.
            let _ = writeln!(std::io::stderr(), "{message}");
            ExitCode::FAILURE
        }
    }
}

/// The kind of the I/O error at the root of `e`, when writing the output is what failed.
fn output_error(e: &anyhow::Error) -> Option<std::io::ErrorKind> {
    e.chain()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .filter(|k| {
            matches!(
                k,
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::WriteZero
            )
        })
}

/// The error and its causes on one line, each said once: most of our errors already quote
/// their cause in their own message, so a cause whose text is already there is skipped.
fn cause_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

impl Command {
    /// Commands that read the store and print: a reader that closes the pipe early
    /// (`forkdebt report | head -1`) just ends them.
    fn only_prints(&self) -> bool {
        matches!(
            self,
            Command::Report { .. }
                | Command::Show { .. }
                | Command::Sources { .. }
                | Command::Why { .. }
                | Command::Events { .. }
                | Command::Changes { .. }
                | Command::Whereis { .. }
        )
    }
}

/// Rust ignores SIGPIPE, so `println!` to a closed pipe panics ("failed printing to
/// stdout"). For the commands that only print, the default action is what a shell user
/// expects: the process ends quietly, as `cat` does. Not for `serve`, `sync` or `scan`,
/// which hold sockets and child pipes and must see EPIPE as an error instead.
fn quiet_on_closed_pipe() {
    // SAFETY: setting a signal disposition before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: `serve` usually logs to a file or the journal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
