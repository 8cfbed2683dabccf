//! A source that exists only in this crate's tests, added by its one line in the registry:
//! what every source gets from the registry — a place in the sync's list and its help, a
//! checked config section, a checked secret — follows from that line alone.

use super::{Context, Source, SourceError};
use forkdebt_core::store::SourceRun;

/// `[sources.testing]` (read only to be checked).
#[allow(dead_code)]
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub url: Option<String>,
    pub token_env: Option<forkdebt_core::config::EnvName>,
}

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "testing",
    about: "a source only the tests know",
    datasets: &[],
    section: Some(|c| super::read_section::<Section>(c, "testing")),
    build: Some(|_| Ok(Box::new(Testing))),
};

struct Testing;

#[async_trait::async_trait]
impl Source for Testing {
    fn hosts(&self) -> Vec<String> {
        Vec::new()
    }

    async fn sync(&self, _cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        run.items = 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use forkdebt_core::config::Config;

    fn checked(text: &str) -> Result<Config, String> {
        let c = Config::parse(text, "f.toml").map_err(|e| e.to_string())?;
        super::super::check(&c, "f.toml").map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn one_registry_line_is_a_source_everywhere() {
        // Listed for `sync --source` and its help, in sync order, and in `forkdebt sources`
        // before it ever ran.
        assert!(super::super::names().split(", ").any(|n| n == "testing"));
        assert!(super::super::syncable().any(|d| d.name == "testing" && !d.about.is_empty()));
        assert!(
            super::super::every_status(Vec::new())
                .iter()
                .any(|s| s.source == "testing" && s.last_checked.is_none())
        );
        assert!(super::super::build("testing", &Config::default()).is_ok());
        // Its section is checked: a known key passes, a misspelled one is named with its line.
        assert!(checked("[sources.testing]\nurl = \"https://t.example\"\n").is_ok());
        let err = checked(
            "[sources]\ntimeout_secs = 5\n\n[sources.testing]\nurl = \"u\"\nurll = \"v\"\n",
        )
        .expect_err("a misspelled key");
        assert!(
            err.starts_with("f.toml:6:") && err.contains("sources.testing.urll"),
            "{err}"
        );
        // Its secret is checked as every `*_env` is: a token pasted there is refused unshown.
        let err = checked(
            "[sources.testing]\ntoken_env = \"ghp_AbC123sEcReTx9Y8z7W6v5U4t3S2r1Q0pO9n8\"\n",
        )
        .expect_err("a token as a name");
        assert!(err.contains("NAME of an environment variable"), "{err}");
        assert!(!err.contains("sEcReT"), "{err}");
        assert!(checked("[sources.testing]\ntoken_env = \"TESTING_TOKEN\"\n").is_ok());
    }

    #[test]
    fn every_source_section_refuses_what_its_source_does_not_read() {
        for (section, key) in [
            ("github", "api_key_env"),
            ("gitlab", "token_env"),
            ("bodhi", "api_key_env"),
            ("bugzilla", "mirror"),
            ("pagure", "url"),
            ("fedora_wiki", "token_env"),
            ("forgejo", "tokenenv"),
        ] {
            let err = checked(&format!("[sources.{section}]\n{key} = \"X\"\n"))
                .expect_err("an unsupported key");
            assert!(
                err.contains(&format!("sources.{section}.{key}")) && err.starts_with("f.toml:2:"),
                "{err}"
            );
        }
        let err = checked("[sources.githb]\nurl = \"x\"\n").expect_err("no such source");
        assert!(
            err.contains("sources.githb") && err.contains("f.toml:1:"),
            "{err}"
        );
        let err = checked("[sources.koji]\nurl = \"x\"\n").expect_err("koji has no section");
        assert!(err.contains("sources.koji"), "{err}");
    }
}
