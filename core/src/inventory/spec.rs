//! Spec file scanning: the preamble tags forkdebt needs, every `Patch` line with the comment
//! block above it, and `%changelog`. Macros are expanded, never executed (see [`super::macros`]).
//!
//! The parser is line-based and forgiving: whatever it cannot read becomes a [`Warning`] with
//! file and line, and the rest of the file is still read. `rpm-spec` (crates.io) parses spec
//! syntax but keeps no comments and expands no macros, which is exactly what is needed here.

use super::macros::{Macros, eval_condition};
use super::text;
use crate::model::Warning;
use std::collections::HashMap;

/// One `PatchN:` line (or `%patchlist` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecPatch {
    pub number: Option<u32>,
    /// The value, macros expanded: a file name or a URL.
    pub value: String,
    pub line: u32,
    /// The comment block directly above, `(line, text without '#')`.
    pub comments: Vec<(u32, String)>,
    /// `%if` conditions that could not be evaluated, joined with ` && `.
    pub condition: Option<String>,
    /// `comments` sit above a run of Patch lines and are shared by all of them.
    pub shared_comments: bool,
}

/// What `%prep` says about a patch: the comment beside or above its `%patch` line, or the
/// backup suffix packagers name a bug in (`%patch -P27 -p1 -b .fontrendering-bz#209097`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepNote {
    /// The patch number; `None` for `%autopatch` (every patch).
    pub patch: Option<u32>,
    pub line: u32,
    /// `beside %patch -P 3`, `above %patch -P 3`...
    pub place: String,
    pub text: String,
}

/// One line of `%changelog` with the entry it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogLine {
    pub line: u32,
    pub text: String,
    pub entry_date: Option<String>,
    pub entry_evr: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecFile {
    pub name: Option<String>,
    pub epoch: Option<String>,
    pub version: Option<String>,
    pub release: Option<String>,
    pub url: Option<String>,
    /// `SourceN` values in order, macros expanded (`Source0` first when present).
    pub sources: Vec<String>,
    pub patches: Vec<SpecPatch>,
    pub prep_notes: Vec<PrepNote>,
    pub changelog: Vec<ChangelogLine>,
}

impl SpecFile {
    pub fn source0(&self) -> Option<&str> {
        self.sources.first().map(String::as_str)
    }
}

/// The local file a Patch (or Source) value stands for, as rpm names it: the last path
/// segment, and for a URL the name its fragment gives (`%{url}/pull/56.patch#/local.patch`,
/// `.../SHA.patch#./local.patch`), else the last segment without query or fragment.
pub fn patch_file_name(value: &str) -> String {
    if !value.contains("://") {
        return value.to_string();
    }
    if let Some((_, fragment)) = value.split_once('#')
        && let Some((_, local)) = fragment.rsplit_once('/')
        && !local.is_empty()
    {
        return local.to_string();
    }
    let no_query = value.split(['?', '#']).next().unwrap_or(value);
    no_query.rsplit('/').next().unwrap_or(no_query).to_string()
}

static_regex!(TAG, r"^([A-Za-z][A-Za-z0-9]*)(\([^)]*\))?\s*:\s*(.*?)\s*$");
static_regex!(
    CHANGELOG_ENTRY,
    r"^\*\s+(\w{3}\s+\w{3}\s+\d{1,2}\s+(?:\d\d:\d\d:\d\d\s+(?:\w+\s+)?)?\d{4})\s+(.*?)\s*$"
);

/// Sections that end the preamble. `%package` starts a sub-preamble (Patch lines allowed there).
pub const SECTIONS: &[&str] = &[
    "description",
    "prep",
    "build",
    "install",
    "check",
    "clean",
    "files",
    "changelog",
    "pre",
    "post",
    "preun",
    "postun",
    "pretrans",
    "posttrans",
    "preuninstall",
    "triggerin",
    "triggerun",
    "triggerpostun",
    "triggerprein",
    "filetriggerin",
    "filetriggerun",
    "filetriggerpostun",
    "transfiletriggerin",
    "transfiletriggerun",
    "transfiletriggerpostun",
    "verifyscript",
    "generate_buildrequires",
    "conf",
    "patchlist",
    "sourcelist",
    "package",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Preamble,
    Prep,
    SubPackage,
    PatchList,
    SourceList,
    Changelog,
    Other,
}

/// How much of conditions is kept with a patch.
const MAX_CONDITION_BYTES: usize = 512;

/// `%if <arg>`, the argument cut at a line's worth.
fn condition_text(directive: &str, arg: &str) -> String {
    let mut end = arg.len().min(200);
    while !arg.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < arg.len() { "..." } else { "" };
    format!("%{directive} {}{more}", &arg[..end])
}

#[derive(Debug, Clone)]
enum Truth {
    Known(bool),
    Unknown(String),
}

#[derive(Debug, Clone)]
struct CondFrame {
    line: u32,
    truth: Truth,
    /// A branch of this `%if`/`%elif` chain was already known-true.
    taken: bool,
    /// The enclosing frames all allowed this one to be read at all.
    parent_active: bool,
}

struct State<'a> {
    path: &'a str,
    macros: Macros,
    spec: SpecFile,
    section: Section,
    conds: Vec<CondFrame>,
    comments: Vec<(u32, String)>,
    /// The first patch of the current run of Patch lines under one comment block.
    patch_run: Option<usize>,
    /// The previous logical line was a Patch line; this one is.
    previous_was_patch: bool,
    this_is_patch: bool,
    next_patch_number: u32,
    entry_date: Option<String>,
    entry_evr: Option<String>,
    /// The macro size bound was hit (warned once).
    macro_budget_warned: bool,
    warnings: &'a mut Vec<Warning>,
}

/// Parses one spec file. `predefined` are the downstream's macros (`dist`, `rhel`...).
pub fn parse(
    bytes: &[u8],
    path: &str,
    predefined: &HashMap<String, String>,
    warnings: &mut Vec<Warning>,
) -> SpecFile {
    let Some(text) = text::decode(bytes, path, warnings) else {
        return SpecFile::default();
    };
    let mut local_warnings = Vec::new();
    let mut st = State {
        path,
        macros: Macros::new(predefined),
        spec: SpecFile::default(),
        section: Section::Preamble,
        conds: Vec::new(),
        comments: Vec::new(),
        patch_run: None,
        previous_was_patch: false,
        this_is_patch: false,
        next_patch_number: 0,
        entry_date: None,
        entry_evr: None,
        macro_budget_warned: false,
        warnings: &mut local_warnings,
    };
    // Join backslash continuations into logical lines, keeping the first line's number.
    let mut lines: Vec<(u32, String)> = Vec::new();
    let mut pending: Option<(u32, String)> = None;
    let mut line_warnings = Vec::new();
    for (n, l) in text::lines(&text, path, &mut line_warnings) {
        // rpm reads `%if`/`%endif` on every physical line, also inside a shell command
        // continued with `\` (`./configure \` / `%if %{with x}` / `--with-x \` / `%endif`).
        if pending.is_some() && is_conditional(l) {
            lines.push((n, l.to_string()));
            continue;
        }
        let (start, mut acc) = pending.take().unwrap_or((n, String::new()));
        if let Some(body) = l
            .strip_suffix('\\')
            .filter(|_| acc.len() < text::MAX_LINE_BYTES)
        {
            acc.push_str(body);
            acc.push('\n');
            pending = Some((start, acc));
        } else {
            acc.push_str(l);
            lines.push((start, acc));
        }
    }
    if let Some(p) = pending {
        lines.push(p);
    }
    st.warnings.append(&mut line_warnings);
    for (n, l) in &lines {
        st.line(*n, l);
    }
    for frame in &st.conds {
        st.warnings.push(Warning {
            path: path.to_string(),
            line: Some(frame.line),
            message: "%if is never closed by %endif".into(),
        });
    }
    let spec = std::mem::take(&mut st.spec);
    warnings.append(&mut local_warnings);
    spec
}

/// `%if`, `%ifarch`, `%elif`, `%else`, `%endif`...: a line rpm evaluates on its own.
fn is_conditional(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix('%') else {
        return false;
    };
    let word = rest
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("");
    matches!(
        word,
        "if" | "ifarch"
            | "ifnarch"
            | "ifos"
            | "ifnos"
            | "elif"
            | "elifarch"
            | "elifos"
            | "else"
            | "endif"
    )
}

impl State<'_> {
    fn warn(&mut self, line: u32, message: impl Into<String>) {
        self.warnings.push(Warning {
            path: self.path.to_string(),
            line: Some(line),
            message: message.into(),
        });
    }

    fn active(&self) -> bool {
        self.conds
            .last()
            .is_none_or(|f| f.parent_active && !matches!(f.truth, Truth::Known(false)))
    }

    /// The conditions this point of the spec is under that could not be decided, joined
    /// with ` && `. Stored with every patch under them, so bounded: built only up to
    /// [`MAX_CONDITION_BYTES`] (a spec of 10,000 nested unknown `%if`s must not make each
    /// patch carry, or even build, its whole chain).
    fn unknown_condition(&self) -> Option<String> {
        let mut out = String::new();
        let (mut count, mut included) = (0usize, 0usize);
        for f in &self.conds {
            let Truth::Unknown(part) = &f.truth else {
                continue;
            };
            count += 1;
            if out.len() < MAX_CONDITION_BYTES {
                if !out.is_empty() {
                    out.push_str(" && ");
                }
                out.push_str(part);
                included += 1;
            }
        }
        if count == 0 {
            return None;
        }
        if out.len() > MAX_CONDITION_BYTES || included < count {
            let mut cut = MAX_CONDITION_BYTES;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push_str(&format!(" ... ({count} conditions)"));
            out.shrink_to_fit();
        }
        Some(out)
    }

    fn evaluate(&self, directive: &str, arg: &str) -> Truth {
        match directive {
            "if" | "elif" => {
                let e = self.macros.expand_condition(arg);
                match (e.unresolved, eval_condition(&e.text)) {
                    (false, Some(b)) => Truth::Known(b),
                    _ => Truth::Unknown(condition_text(directive, arg)),
                }
            }
            // Architecture and OS conditions depend on the build host: patches under them are
            // carried all the same.
            _ => Truth::Unknown(condition_text(directive, arg)),
        }
    }

    fn line(&mut self, n: u32, raw: &str) {
        self.previous_was_patch = std::mem::take(&mut self.this_is_patch);
        let trimmed = raw.trim();
        if self.section == Section::Changelog {
            self.changelog_line(n, raw);
            return;
        }
        if let Some(rest) = trimmed.strip_prefix('%') {
            let (word, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let arg = arg.trim();
            if self.conditional(n, word, arg) {
                return;
            }
            if !self.active() {
                return;
            }
            match word {
                "global" | "define" => {
                    let (name, value) = arg.split_once(char::is_whitespace).unwrap_or((arg, ""));
                    let name = name.trim_end_matches("()");
                    let stored = if word == "global" {
                        // %global expands its body at definition time.
                        let v = self.macros.expand(value.trim()).text;
                        self.macros.define(name, &v)
                    } else {
                        self.macros.define(name, value.trim())
                    };
                    if !stored && !self.macro_budget_warned {
                        self.macro_budget_warned = true;
                        self.warn(
                            n,
                            format!("%{word} {name}: the spec's macros passed their size bound; left undefined"),
                        );
                    }
                    self.comments.clear();
                    return;
                }
                "undefine" => {
                    self.comments.clear();
                    return;
                }
                _ => {}
            }
            let section_word = word.split(['(', '{']).next().unwrap_or(word);
            if SECTIONS.contains(&section_word) {
                self.section = match section_word {
                    "changelog" => Section::Changelog,
                    "package" => Section::SubPackage,
                    "patchlist" => Section::PatchList,
                    "sourcelist" => Section::SourceList,
                    "prep" => Section::Prep,
                    _ => Section::Other,
                };
                self.comments.clear();
                return;
            }
        }
        if !self.active() {
            return;
        }
        match self.section {
            Section::Preamble | Section::SubPackage => self.preamble_line(n, trimmed),
            Section::PatchList => {
                if let Some(c) = trimmed.strip_prefix('#') {
                    self.comments.push((n, c.trim().to_string()));
                } else if trimmed.is_empty() {
                    self.comments.clear();
                } else {
                    let number = self.next_patch_number;
                    self.add_patch(n, Some(number), trimmed);
                }
            }
            Section::SourceList => {
                if !trimmed.is_empty() && !trimmed.starts_with('#') {
                    let v = self.macros.expand(trimmed).text;
                    self.spec.sources.push(v);
                }
            }
            Section::Prep => self.prep_line(n, trimmed),
            Section::Changelog | Section::Other => {}
        }
    }

    /// A `%prep` line: comments are kept until the next line; a `%patch` or `%autopatch`
    /// line takes them and its own comment and backup suffix.
    fn prep_line(&mut self, n: u32, trimmed: &str) {
        static_regex!(
            PATCH_NUMBER,
            r"^%\{?patch(?:(\d+)\b|\}?\s+(?:(\d+)\b|.*?-P\s*(\d+)\b))"
        );
        static_regex!(BACKUP_SUFFIX, r"\s-[bz]\s*(\S+)");
        if let Some(c) = trimmed.strip_prefix('#') {
            self.comments.push((n, c.trim().to_string()));
            return;
        }
        let above = std::mem::take(&mut self.comments);
        let (patch, shown) = if trimmed.starts_with("%autopatch") {
            (None, "%autopatch".to_string())
        } else if let Some(c) = PATCH_NUMBER.captures(trimmed) {
            let number = c
                .get(1)
                .or_else(|| c.get(2))
                .or_else(|| c.get(3))
                .and_then(|m| m.as_str().parse::<u32>().ok());
            match number {
                Some(num) => (Some(num), format!("%patch -P {num}")),
                None => return,
            }
        } else {
            return;
        };
        // A shell comment starts at a `#` after white space.
        let (command, beside) = match trimmed.find(" #").or_else(|| trimmed.find("\t#")) {
            Some(at) => (&trimmed[..at], Some(trimmed[at + 2..].trim())),
            None => (trimmed, None),
        };
        let mut note = |line: u32, place: String, text: &str| {
            if !text.is_empty() {
                self.spec.prep_notes.push(PrepNote {
                    patch,
                    line,
                    place,
                    text: text.to_string(),
                });
            }
        };
        for (line, text) in &above {
            note(*line, format!("comment above {shown}"), text);
        }
        if let Some(text) = beside {
            note(n, format!("comment beside {shown}"), text);
        }
        if let Some(c) = BACKUP_SUFFIX.captures(command) {
            note(
                n,
                format!("backup suffix of {shown}"),
                c[1].trim_start_matches('.'),
            );
        }
    }

    /// Handles `%if`-family lines; true when the line was one.
    fn conditional(&mut self, n: u32, word: &str, arg: &str) -> bool {
        match word {
            "if" | "ifarch" | "ifnarch" | "ifos" | "ifnos" => {
                let parent_active = self.active();
                let truth = self.evaluate(word, arg);
                let taken = matches!(truth, Truth::Known(true));
                self.conds.push(CondFrame {
                    line: n,
                    truth,
                    taken,
                    parent_active,
                });
                true
            }
            "elif" | "elifarch" | "elifos" => {
                let Some(frame) = self.conds.last().cloned() else {
                    self.warn(n, format!("%{word} without %if"));
                    return true;
                };
                let truth = if frame.taken {
                    Truth::Known(false)
                } else {
                    match (&frame.truth, self.evaluate(word, arg)) {
                        // An earlier branch might have been taken: this one is uncertain too.
                        (Truth::Unknown(_), Truth::Known(_)) => {
                            Truth::Unknown(format!("%{word} {arg}"))
                        }
                        (_, t) => t,
                    }
                };
                let taken = frame.taken || matches!(truth, Truth::Known(true));
                if let Some(f) = self.conds.last_mut() {
                    f.truth = truth;
                    f.taken = taken;
                }
                true
            }
            "else" => {
                match self.conds.last_mut() {
                    Some(f) => {
                        f.truth = match &f.truth {
                            _ if f.taken => Truth::Known(false),
                            Truth::Known(_) => Truth::Known(true),
                            Truth::Unknown(c) => Truth::Unknown(format!("!({c})")),
                        };
                        f.taken = true;
                    }
                    None => self.warn(n, "%else without %if"),
                }
                true
            }
            "endif" => {
                if self.conds.pop().is_none() {
                    self.warn(n, "%endif without %if");
                }
                true
            }
            _ => false,
        }
    }

    fn preamble_line(&mut self, n: u32, trimmed: &str) {
        if trimmed.is_empty() {
            self.comments.clear();
            return;
        }
        if let Some(c) = trimmed.strip_prefix('#') {
            self.comments.push((n, c.trim().to_string()));
            return;
        }
        let Some(caps) = TAG.captures(trimmed) else {
            self.comments.clear();
            return;
        };
        let tag = caps[1].to_ascii_lowercase();
        let raw_value = caps[3].to_string();
        let value = self.macros.expand(&raw_value).text;
        if let Some(num) = tag.strip_prefix("patch") {
            let number = if num.is_empty() {
                Some(self.next_patch_number)
            } else {
                match num.parse::<u32>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        self.warn(n, format!("patch tag `{}` has no valid number", &caps[1]));
                        None
                    }
                }
            };
            if num.is_empty() || number.is_some() {
                self.add_patch(n, number, &raw_value);
            }
            return;
        }
        self.comments.clear();
        let main = self.section == Section::Preamble;
        match tag.as_str() {
            "name" if main => {
                self.macros.define("name", &value);
                self.spec.name.get_or_insert(value);
            }
            "version" if main => {
                self.macros.define("version", &value);
                self.spec.version.get_or_insert(value);
            }
            "release" if main => {
                self.macros.define("release", &value);
                self.spec.release.get_or_insert(value);
            }
            "epoch" if main => {
                self.macros.define("epoch", &value);
                self.spec.epoch.get_or_insert(value);
            }
            "url" if main => {
                self.macros.define("url", &value);
                self.spec.url.get_or_insert(value);
            }
            t if t.starts_with("source") => {
                let idx = t.trim_start_matches("source");
                if idx == "0" || (idx.is_empty() && self.spec.sources.is_empty()) {
                    self.macros.define("SOURCE0", &value);
                    self.spec.sources.insert(0, value);
                } else {
                    self.spec.sources.push(value);
                }
            }
            _ => {}
        }
    }

    fn add_patch(&mut self, n: u32, number: Option<u32>, raw_value: &str) {
        let value = self.macros.expand(raw_value.trim()).text;
        // A comment block belongs to the Patch line right below it only. Specs also put one
        // comment above a whole series, but just as often above a section ("# RHEL-specific"
        // over 200 patches): the spec cannot tell which, the patch headers usually can.
        let mut comments = std::mem::take(&mut self.comments);
        // ... except a comment with nothing but Patch lines below it, up to a blank line or
        // another comment: that one speaks for the whole run.
        let mut shared_comments = false;
        if !comments.is_empty() {
            self.patch_run = Some(self.spec.patches.len());
        } else if !self.previous_was_patch {
            self.patch_run = None;
        } else if let Some(first) = self.patch_run
            && let Some(head) = self.spec.patches.get_mut(first)
            && !head.comments.is_empty()
        {
            comments = head.comments.clone();
            shared_comments = true;
            for p in &mut self.spec.patches[first..] {
                p.shared_comments = true;
            }
        }
        self.this_is_patch = true;
        if let Some(num) = number {
            self.next_patch_number = self.next_patch_number.max(num.saturating_add(1));
        }
        if value.is_empty() {
            self.warn(n, "Patch line with no file name");
            return;
        }
        let condition = self.unknown_condition();
        self.spec.patches.push(SpecPatch {
            number,
            value,
            line: n,
            comments,
            condition,
            shared_comments,
        });
    }

    fn changelog_line(&mut self, n: u32, raw: &str) {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed == "%autochangelog" {
            return;
        }
        if let Some(c) = CHANGELOG_ENTRY.captures(trimmed) {
            self.entry_date = Some(c[1].to_string());
            // "Name <mail> - 1:2.3-4.fb1" or "Name <mail> 2.3-4"
            let who = &c[2];
            let evr = who
                .rsplit_once(" - ")
                .map(|(_, e)| e)
                .or_else(|| who.rsplit_once("> ").map(|(_, e)| e))
                .map(str::trim)
                .filter(|e| !e.is_empty() && !e.contains(' '));
            self.entry_evr = evr.map(str::to_string);
            return;
        }
        self.spec.changelog.push(ChangelogLine {
            line: n,
            text: trimmed.to_string(),
            entry_date: self.entry_date.clone(),
            entry_evr: self.entry_evr.clone(),
        });
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod patch_name_tests {
    use super::patch_file_name;

    /// Issue 30 (5b): a URL whose fragment names the file as `#./name` (it builds in Fedora).
    #[test]
    fn a_url_patch_is_named_by_its_fragment() {
        assert_eq!(
            patch_file_name(
                "https://github.com/O/R/commit/0123456789abcdef0123456789abcdef01234567.patch#./no-custom-parsing.patch"
            ),
            "no-custom-parsing.patch"
        );
        assert_eq!(
            patch_file_name("https://example.org/p/x.patch#/renamed.patch"),
            "renamed.patch"
        );
        assert_eq!(
            patch_file_name("https://example.org/p/x.patch?raw=1"),
            "x.patch"
        );
    }
}
