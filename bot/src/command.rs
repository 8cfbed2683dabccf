//! The chat commands: ONE table ([`COMMANDS`]) that `help`, the usage lines and Discord's
//! slash commands are generated from, and the [`Command`] every network's input is parsed
//! into once (chat text word by word, Discord by named options).

/// An argument of a command.
#[derive(Debug, PartialEq, Eq)]
pub struct Arg {
    pub name: &'static str,
    pub about: &'static str,
    pub required: bool,
}

/// A command as people see it.
#[derive(Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub about: &'static str,
    pub args: &'static [Arg],
    /// What an argument looks like, added to the usage line.
    pub hint: &'static str,
    pub admin_only: bool,
}

impl Spec {
    /// `why PACKAGE PATCH`, `debt [PACKAGE]`, with the hint.
    pub fn usage(&self) -> String {
        let mut out = self.name.to_string();
        for a in self.args {
            let upper = a.name.to_ascii_uppercase();
            if a.required {
                out.push_str(&format!(" {upper}"));
            } else {
                out.push_str(&format!(" [{upper}]"));
            }
        }
        if !self.hint.is_empty() {
            out.push_str(&format!(" ({})", self.hint));
        }
        out
    }
}

const fn arg(name: &'static str, about: &'static str, required: bool) -> Arg {
    Arg {
        name,
        about,
        required,
    }
}

pub const COMMANDS: &[Spec] = &[
    Spec {
        name: "help",
        about: "What forkdebt answers",
        args: &[],
        hint: "",
        admin_only: false,
    },
    Spec {
        name: "debt",
        about: "Carried patches by state",
        args: &[arg("package", "Only this package", false)],
        hint: "",
        admin_only: false,
    },
    Spec {
        name: "show",
        about: "A package's patches and their references",
        args: &[arg("package", "The package", true)],
        hint: "",
        admin_only: false,
    },
    Spec {
        name: "droppable",
        about: "Patches the base distribution has caught up with",
        args: &[],
        hint: "",
        admin_only: false,
    },
    Spec {
        name: "whereis",
        about: "Where a fix is: merged, released, shipped",
        args: &[arg("ref", "A PR/MR URL, owner/repo#N or rhbz#N", true)],
        hint: "a PR/MR URL, owner/repo#N, rhbz#N",
        admin_only: false,
    },
    Spec {
        name: "why",
        about: "The evidence behind a patch's state",
        args: &[
            arg("package", "The package", true),
            arg("patch", "Patch file name or number", true),
        ],
        hint: "",
        admin_only: false,
    },
    Spec {
        name: "changes",
        about: "Fedora Changes we follow",
        args: &[arg("release", "Fedora release, like 43", false)],
        hint: "a number like 43",
        admin_only: false,
    },
    Spec {
        name: "bug",
        about: "A Red Hat bug as last seen",
        args: &[arg("id", "Bug number", true)],
        hint: "",
        admin_only: false,
    },
    Spec {
        name: "subscribe",
        about: "Post events about a target here",
        args: &[arg("target", "A package, Changes/Name or a state", true)],
        hint: "a package, Changes/Name, or a state like droppable",
        admin_only: false,
    },
    Spec {
        name: "unsubscribe",
        about: "Stop posting events about a target here",
        args: &[arg("target", "The target", true)],
        hint: "",
        admin_only: false,
    },
    Spec {
        name: "subscriptions",
        about: "What this channel is subscribed to",
        args: &[],
        hint: "",
        admin_only: false,
    },
    Spec {
        name: "snooze",
        about: "Mute a target for a while",
        args: &[
            arg("target", "The target", true),
            arg("duration", "30m, 12h, 3d, 2w", true),
        ],
        hint: "30m, 12h, 3d, 2w",
        admin_only: false,
    },
    Spec {
        name: "sync",
        about: "Sync with upstream now (admins)",
        args: &[],
        hint: "",
        admin_only: true,
    },
    Spec {
        name: "propose",
        about: "Open a merge request dropping a droppable patch (admins)",
        args: &[
            arg("package", "The package", true),
            arg("patch", "The patch file or PatchN", true),
        ],
        hint: "",
        admin_only: true,
    },
];

/// The one-line `help`: every command's usage, with the prefix.
pub fn help(prefix: &str) -> String {
    let list: Vec<String> = COMMANDS
        .iter()
        .filter(|s| s.name != "help")
        .map(|s| {
            let mut u = format!("{prefix}{}", s.name);
            for a in s.args {
                let upper = a.name.to_ascii_uppercase();
                u.push_str(&if a.required {
                    format!(" {upper}")
                } else {
                    format!(" [{upper}]")
                });
            }
            if s.admin_only {
                u.push_str(" (admins)");
            }
            u
        })
        .collect();
    format!("commands: {}", list.join(" | "))
}

/// A command, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Debt(Option<String>),
    Show(String),
    Droppable,
    Whereis(String),
    Why {
        package: String,
        patch: String,
    },
    Changes(Option<u32>),
    Bug(String),
    Subscribe(String),
    Unsubscribe(String),
    Subscriptions,
    Snooze {
        target: String,
        duration: chrono::Duration,
    },
    Sync,
    Propose {
        package: String,
        patch: String,
    },
}

/// Why input is no command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No such command (the name as given, cut short).
    Unknown(String),
    /// The command exists; its arguments do not fit.
    Usage(&'static Spec),
}

impl Command {
    /// The command `name` with its arguments in their declared order.
    ///
    /// # Errors
    /// An unknown name, or arguments that do not fit the command.
    pub fn parse(name: &str, args: &[&str]) -> Result<Command, Refused> {
        let lower = name.to_ascii_lowercase();
        let Some(spec) = COMMANDS.iter().find(|s| s.name == lower) else {
            return Err(Refused::Unknown(name.chars().take(40).collect()));
        };
        let required = spec.args.iter().filter(|a| a.required).count();
        if args.len() < required || args.len() > spec.args.len() {
            return Err(Refused::Usage(spec));
        }
        let usage = || Refused::Usage(spec);
        let first = || args.first().map(|s| (*s).to_string());
        let arg = |i: usize| args.get(i).map(|s| (*s).to_string()).ok_or_else(usage);
        Ok(match spec.name {
            "help" => Command::Help,
            "debt" => Command::Debt(first()),
            "show" => Command::Show(arg(0)?),
            "droppable" => Command::Droppable,
            "whereis" => Command::Whereis(arg(0)?),
            "why" => Command::Why {
                package: arg(0)?,
                patch: arg(1)?,
            },
            "changes" => Command::Changes(match args.first() {
                None => None,
                Some(r) => Some(
                    r.trim_start_matches(['f', 'F'])
                        .parse::<u32>()
                        .map_err(|_| usage())?,
                ),
            }),
            "bug" => Command::Bug(arg(0)?),
            "subscribe" => Command::Subscribe(arg(0)?),
            "unsubscribe" => Command::Unsubscribe(arg(0)?),
            "subscriptions" => Command::Subscriptions,
            "snooze" => Command::Snooze {
                target: arg(0)?,
                duration: parse_duration(args[1]).ok_or_else(usage)?,
            },
            "sync" => Command::Sync,
            "propose" => Command::Propose {
                package: arg(0)?,
                patch: arg(1)?,
            },
            _ => return Err(Refused::Unknown(name.chars().take(40).collect())),
        })
    }

    /// The command from named options (Discord's slash commands): each declared argument
    /// looked up by name. A value with spaces is one argument here, never two.
    ///
    /// # Errors
    /// As [`Command::parse`].
    pub fn from_options(
        name: &str,
        option: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Command, Refused> {
        let Some(spec) = COMMANDS.iter().find(|s| s.name == name) else {
            return Err(Refused::Unknown(name.chars().take(40).collect()));
        };
        let values: Vec<String> = spec
            .args
            .iter()
            .map_while(|a| option(a.name).filter(|v| !v.trim().is_empty()))
            .map(|v| v.trim().to_string())
            .collect();
        let words: Vec<&str> = values.iter().map(String::as_str).collect();
        Command::parse(name, &words)
    }
}

/// `30m`, `12h`, `3d`, `2w` (at most a year).
pub fn parse_duration(s: &str) -> Option<chrono::Duration> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let d = match unit {
        'm' => chrono::Duration::minutes(n),
        'h' => chrono::Duration::hours(n),
        'd' => chrono::Duration::days(n),
        'w' => chrono::Duration::weeks(n),
        _ => return None,
    };
    (n > 0 && d <= chrono::Duration::days(366)).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Some(chrono::Duration::minutes(30)));
        assert_eq!(parse_duration("2w"), Some(chrono::Duration::weeks(2)));
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("400d"), None);
        assert_eq!(parse_duration("5é"), None);
        assert_eq!(parse_duration("h"), None);
    }

    #[test]
    fn every_command_in_the_table_parses_with_its_arguments() {
        for spec in COMMANDS {
            let args: Vec<&str> = spec
                .args
                .iter()
                .map(|a| match a.name {
                    "duration" => "3d",
                    "release" => "43",
                    _ => "x",
                })
                .collect();
            assert!(Command::parse(spec.name, &args).is_ok(), "{}", spec.name);
            assert!(help("!").contains(&format!("!{}", spec.name)) || spec.name == "help");
        }
        assert_eq!(
            Command::parse("WHY", &["systemd", "2"]),
            Ok(Command::Why {
                package: "systemd".into(),
                patch: "2".into()
            })
        );
        assert!(matches!(
            Command::parse("why", &["systemd"]),
            Err(Refused::Usage(s)) if s.name == "why"
        ));
        assert!(matches!(
            Command::parse("changes", &["soon"]),
            Err(Refused::Usage(_))
        ));
        assert!(matches!(
            Command::parse("nope", &[]),
            Err(Refused::Unknown(_))
        ));
        let opt = |n: &str| (n == "ref").then(|| "systemd/systemd#1 extra".to_string());
        assert_eq!(
            Command::from_options("whereis", &opt),
            Ok(Command::Whereis("systemd/systemd#1 extra".into()))
        );
    }
}
