//! Secrets: never values in the config file, only the name of an environment variable
//! (`*_env`, an [`EnvName`], checked as it is read) or a file (`*_file`). A [`Secret`] never
//! prints its value.

use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// Whether `s` can be an environment variable's name as a shell writes one, and does not
/// look like a token pasted where its variable's name belongs.
pub fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 128
        && !looks_like_a_token(s)
}

/// Token prefixes of the services forkdebt talks to (GitHub, GitLab, Slack-style bots).
const TOKEN_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat",
    "gloas",
    "xox",
];

/// A value shaped like a secret rather than a variable name: a known token prefix, or a long
/// run of mixed-case letters and digits (people name variables `GITHUB_TOKEN`, not
/// `aB3xQ9...`). Checked so that such a value is never printed or stored as a "name".
pub fn looks_like_a_token(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if TOKEN_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    let letters_digits = s.chars().filter(char::is_ascii_alphanumeric).count();
    let has_lower = s.chars().any(|c| c.is_ascii_lowercase());
    let has_upper = s.chars().any(|c| c.is_ascii_uppercase());
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let underscores = s.chars().filter(|c| *c == '_').count();
    // A hex digest or a mixed-case random string: long, few separators, many digits.
    (letters_digits >= 20 && underscores <= 1 && digits >= 4 && (has_lower && has_upper))
        || (s.len() >= 32 && underscores == 0 && digits >= 8)
}

/// A secret read from an environment variable or a file. Its `Debug` and `Display` never
/// show the value, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(super) String);

impl Secret {
    /// Reads a secret from `env` (a variable name) or `file`; `Ok(None)` when neither is set.
    ///
    /// # Errors
    /// The variable is named but unset or empty, or the file cannot be read.
    pub fn load(env: Option<&str>, file: Option<&Path>) -> Result<Option<Secret>, String> {
        if let Some(var) = env {
            if !is_env_name(var) {
                return Err(
                    "the `*_env` setting is not the name of an environment variable \
                            (it is not shown: it may be the secret itself)"
                        .into(),
                );
            }
            return match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(Secret(v.trim().to_string()))),
                _ => Err(format!("environment variable {var} is not set")),
            };
        }
        if let Some(path) = file {
            return std::fs::read_to_string(path)
                .map(|v| Some(Secret(v.trim().to_string())))
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display()));
        }
        Ok(None)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The name of the environment variable a `*_env` key names. Checked while the config is
/// read: a value that is not a variable's name (often the secret itself, pasted by mistake)
/// is an error naming the key and its line, without the value.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvName(String);

impl EnvName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for EnvName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvName({})", self.0)
    }
}

impl<'de> Deserialize<'de> for EnvName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if is_env_name(&s) {
            Ok(EnvName(s))
        } else {
            // Never echo the value: it is often the secret itself.
            Err(serde::de::Error::custom(
                "must be the NAME of an environment variable (letters, digits and underscores); \
                 the value given is not one and is not shown",
            ))
        }
    }
}
