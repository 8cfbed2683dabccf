//! The TOML inventory of policy deviations: what a downstream changes without a patch (a
//! different default backend, a build option) and which Fedora Change would retire it.
//!
//! ```toml
//! [[deviation]]
//! name = "iptables-legacy-default"
//! package = "iptables"                       # optional
//! description = "We ship the legacy backend as the default alternative"
//! change = "https://fedoraproject.org/wiki/Changes/..."   # or "Changes/<Name>"
//! refs = ["rhbz#1234567"]                    # optional, any reference text
//! ```

use super::refs::{self, TextContext};
use crate::model::{Deviation, RefKind, Role, Warning};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    deviation: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    package: Option<String>,
    #[serde(default)]
    description: String,
    change: Option<String>,
    #[serde(default)]
    refs: Vec<String>,
}

/// Parses one inventory file into `out`; a malformed file is one warning and adds nothing.
pub fn parse(text: &str, path: &str, out: &mut Vec<Deviation>, warnings: &mut Vec<Warning>) {
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() as u32 + 1);
            warnings.push(Warning {
                path: path.to_string(),
                line,
                message: format!("not a valid inventory: {}", e.message()),
            });
            return;
        }
    };
    for entry in file.deviation {
        let ctx = TextContext::new(
            None,
            format!("{path} (deviation {})", entry.name),
            Role::Origin,
        );
        let mut found = Vec::new();
        if let Some(change) = &entry.change {
            let c: Vec<_> = refs::extract(change, &ctx);
            if !c.iter().any(|r| r.kind == RefKind::FedoraChange) {
                warnings.push(Warning {
                    path: path.to_string(),
                    line: None,
                    message: format!(
                        "deviation {}: change `{change}` names no Fedora Change",
                        entry.name
                    ),
                });
            }
            found.extend(c);
        }
        for r in &entry.refs {
            found.extend(refs::extract(r, &ctx));
        }
        refs::dedup(&mut found);
        out.push(Deviation {
            name: entry.name,
            package: entry.package,
            description: entry.description,
            refs: found,
        });
    }
}
