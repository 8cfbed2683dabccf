//! The checks serde cannot make: names used twice, regexes that do not compile, references
//! to a `[[distro]]` that is not there, a forge that is not one.

use super::{Config, ConfigError, check_distgit};

impl Config {
    pub(super) fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_string(),
            key,
            message,
        };
        let mut names = std::collections::HashSet::new();
        for (i, d) in self.downstream.iter().enumerate() {
            if !names.insert(d.name.as_str()) {
                return Err(invalid(
                    format!("downstream[{i}].name"),
                    format!("`{}` is used twice", d.name),
                ));
            }
            if !d.tags.is_empty() && d.koji_url.is_none() {
                return Err(invalid(
                    format!("downstream[{i}].tags"),
                    "tags need the hub they are on: set koji_url (`https://cbs.centos.org/kojihub`)"
                        .into(),
                ));
            }
            if let Err(e) = regex::Regex::new(d.release_marker()) {
                return Err(invalid(
                    format!("downstream[{i}].release_marker"),
                    e.to_string(),
                ));
            }
            for (j, from) in d.packaging_from.iter().enumerate() {
                if !self.distro.iter().any(|x| &x.name == from) {
                    return Err(invalid(
                        format!("downstream[{i}].packaging_from[{j}]"),
                        format!("no [[distro]] is named `{from}`"),
                    ));
                }
            }
            if let Some(g) = &d.git {
                check_distgit(g, &format!("downstream[{i}].git"))
                    .map_err(|(k, m)| invalid(k, m))?;
                if d.branch.is_none() && g.branch.is_none() {
                    return Err(invalid(
                        format!("downstream[{i}].branch"),
                        "name the dist-git branch to read (`branch = \"c9s-sig-hyperscale\"`)"
                            .into(),
                    ));
                }
            }
            if let Some(base) = &d.base
                && !self.distro.iter().any(|x| &x.name == base)
            {
                return Err(invalid(
                    format!("downstream[{i}].base"),
                    format!("no [[distro]] is named `{base}`"),
                ));
            }
        }
        for (i, d) in self.distro.iter().enumerate() {
            if let Some(g) = &d.distgit {
                check_distgit(g, &format!("distro[{i}].distgit"))
                    .map_err(|(k, m)| invalid(k, m))?;
                if g.branch.is_none() {
                    return Err(invalid(
                        format!("distro[{i}].distgit.branch"),
                        "name the branch of the distribution's packaging (`c9s`, `rawhide`)".into(),
                    ));
                }
            }
        }
        if let Some(f) = self
            .propose
            .as_ref()
            .and_then(|p| p.forge)
            .filter(|f| !f.hosts_distgit())
        {
            return Err(invalid(
                "propose.forge".into(),
                format!(
                    "`{f}` is not one of {}",
                    crate::forge::ForgeKind::distgit_names()
                ),
            ));
        }
        let mut forks = std::collections::HashSet::new();
        for (i, f) in self.fork.iter().enumerate() {
            if !forks.insert(f.name.as_str()) {
                return Err(invalid(
                    format!("fork[{i}].name"),
                    format!("`{}` is used twice", f.name),
                ));
            }
            match regex::Regex::new(f.release_tags()) {
                Err(e) => return Err(invalid(format!("fork[{i}].release_tags"), e.to_string())),
                Ok(re) if re.captures_len() < 2 => {
                    return Err(invalid(
                        format!("fork[{i}].release_tags"),
                        "needs a group (...) around the version".into(),
                    ));
                }
                Ok(_) => {}
            }
            if f.branches.is_empty() {
                return Err(invalid(
                    format!("fork[{i}].branches"),
                    "name at least one branch or glob (\"hs-v*\")".into(),
                ));
            }
            for b in &f.branches {
                if let Err(e) = glob::Pattern::new(b) {
                    return Err(invalid(
                        format!("fork[{i}].branches"),
                        format!("`{b}`: {e}"),
                    ));
                }
            }
            if let Some(distro) = &f.distro {
                if f.downstream.is_some() {
                    return Err(invalid(
                        format!("fork[{i}].distro"),
                        "a fork is ours (`downstream`) or the base's (`distro`), not both".into(),
                    ));
                }
                if !self.distro.iter().any(|d| &d.name == distro) {
                    return Err(invalid(
                        format!("fork[{i}].distro"),
                        format!("no [[distro]] is named `{distro}`"),
                    ));
                }
            }
            if let Some(ds) = &f.downstream
                && !self.downstream.iter().any(|d| &d.name == ds)
            {
                return Err(invalid(
                    format!("fork[{i}].downstream"),
                    format!("no [[downstream]] is named `{ds}`"),
                ));
            }
        }
        for (key, v) in [
            ("sources.scan_every_mins", self.sources.scan_every_mins),
            ("sources.sync_every_mins", self.sources.sync_every_mins),
        ] {
            if let Some(m) = v
                && !(m.is_finite() && m > 0.0)
            {
                return Err(invalid(
                    key.into(),
                    format!("{m} is not a positive number of minutes"),
                ));
            }
        }
        for (i, u) in self.upstream.iter().enumerate() {
            match regex::Regex::new(u.release_tags()) {
                Err(e) => {
                    return Err(invalid(
                        format!("upstream[{i}].release_tags"),
                        e.to_string(),
                    ));
                }
                Ok(re) if re.captures_len() < 2 => {
                    return Err(invalid(
                        format!("upstream[{i}].release_tags"),
                        "needs a group (...) around the version".into(),
                    ));
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }
}
