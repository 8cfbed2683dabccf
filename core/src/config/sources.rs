//! `[sources]`: the HTTP layer's settings every source shares, and one section per source
//! (`[sources.github]`...). A section's keys belong to its source: each source module
//! declares its section as a type with `deny_unknown_fields`, and the source registry
//! (forkdebt-scrapers) reads every section through it, so a misspelled key, or a key its
//! source does not use, is an error naming it. Here a section is kept as it was written.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Deserialize, Default)]
pub struct SourcesConfig {
    /// Whole-request timeout, seconds [default 60].
    pub timeout_secs: Option<u64>,
    /// Retries after a failed attempt [default 4].
    pub max_retries: Option<u32>,
    /// Minimum time between two requests to one host, milliseconds [default 250].
    pub min_interval_ms: Option<u64>,
    /// First retry delay, doubling up to 30 s, milliseconds [default 500].
    pub backoff_min_ms: Option<u64>,
    /// The longest `Retry-After` waited out in a run, seconds [default 60].
    pub max_retry_after_secs: Option<u64>,
    /// The longest a host that asked for a longer wait is left alone, across runs, seconds
    /// [default 86400]. A `Retry-After: 100000000` must not silence a source for years.
    pub max_wait_secs: Option<u64>,
    /// How often `serve` syncs every source, minutes [default 360].
    pub sync_every_mins: Option<f64>,
    /// `forkdebt serve` reads dist-git repositories again this often (default 60).
    pub scan_every_mins: Option<f64>,
    /// Every other key: a source's section (or a mistake the registry names).
    #[serde(flatten)]
    pub sections: BTreeMap<String, toml::Value>,
    /// The line of each `sources.NAME.KEY` (and `sources.NAME`) in the file, for errors.
    #[serde(skip)]
    pub lines: HashMap<String, usize>,
}

impl SourcesConfig {
    /// The section `[sources.NAME]` read as its source's type (its default when absent).
    ///
    /// # Errors
    /// A key the type does not have, or a value of the wrong type: the message names the key.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, String> {
        match self.sections.get(name) {
            None => Ok(T::default()),
            Some(v) => T::deserialize(v.clone()).map_err(|e| e.message().to_string()),
        }
    }
}

/// The line of `sources.NAME.KEY` (or of `[sources.NAME]`), when the file says where.
pub fn section_line(sources: &SourcesConfig, name: &str, key: Option<&str>) -> Option<usize> {
    let k = match key {
        Some(key) => format!("{name}.{key}"),
        None => name.to_string(),
    };
    sources.lines.get(&k).copied()
}

/// `sources.NAME.KEY` -> its line, read from the text the way TOML writes sections: a
/// `[sources.NAME]` header, then `KEY = ...` lines until the next header. Inline tables and
/// dotted keys (`[sources]` with `github.url = ...`) are found too, as `NAME` alone.
pub(super) fn key_lines(text: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    let mut section: Option<String> = None;
    let mut in_sources = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        if t.starts_with('[') {
            let header = t.trim_matches(|c| c == '[' || c == ']').trim();
            in_sources = header == "sources";
            section = header
                .strip_prefix("sources.")
                .map(|s| s.trim_matches('"').to_string());
            if let Some(name) = &section {
                out.entry(name.clone()).or_insert(n);
            }
            continue;
        }
        let Some((key, _)) = t.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        if key.is_empty() || key.starts_with('#') {
            continue;
        }
        match (&section, in_sources) {
            (Some(name), _) => {
                out.entry(format!("{name}.{key}")).or_insert(n);
            }
            (None, true) => {
                let name = key.split('.').next().unwrap_or(key);
                out.entry(name.to_string()).or_insert(n);
                if let Some((_, rest)) = key.split_once('.') {
                    out.entry(format!("{name}.{rest}")).or_insert(n);
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_section_keys() {
        let text = "[sources]\ntimeout_secs = 5\nbodhi = { url = \"x\" }\n\n[sources.github]\nurl = \"u\"\ntokn_env = \"X\"\n[chat]\nprefix = \"!\"\n";
        let lines = key_lines(text);
        assert_eq!(lines.get("bodhi"), Some(&3));
        assert_eq!(lines.get("github"), Some(&5));
        assert_eq!(lines.get("github.tokn_env"), Some(&7));
        assert_eq!(lines.get("chat.prefix"), None);
    }
}
