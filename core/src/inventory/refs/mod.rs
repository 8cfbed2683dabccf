//! Upstream references in free text: URLs, CVE ids, bug numbers, PR and commit mentions.
//!
//! One line of text is read in passes, strongest first; each pass blanks what it took so a
//! weaker pass cannot read the same characters again (the number inside a PR URL is not also
//! a bare `#N`). A bare number is resolved from its context — the package's upstream project,
//! the words around it, the magnitude of Red Hat Bugzilla ids — or kept as
//! [`RefKind::Ambiguous`] with its candidates.

use crate::model::{Confidence, RefKind, Reference, Role, UpstreamProject};
use regex::{Captures, Regex};

mod urls;
pub use urls::classify_url;

/// Red Hat Bugzilla ids passed 100000 in 2003; GitHub PR and issue numbers of the projects a
/// distribution patches stay below that (systemd: ~40000 in 2026). So a bare number at or above
/// this is read as a Red Hat bug, below it the context must decide.
pub const RHBZ_MIN_BARE_ID: u64 = 100_000;

/// Where a piece of text sits, which decides defaults for what is found in it.
#[derive(Debug, Clone)]
pub struct TextContext<'a> {
    pub upstream: Option<&'a UpstreamProject>,
    /// `path:line (what)` recorded on each reference.
    pub found_in: String,
    pub role: Role,
    /// References found here are at most this sure (a comment shared by several patches).
    pub max_confidence: Confidence,
    /// The text is a Fedora/CentOS `%changelog` line, where `(#1234567)` is a Red Hat bug.
    pub changelog: bool,
}

impl<'a> TextContext<'a> {
    pub fn new(upstream: Option<&'a UpstreamProject>, found_in: String, role: Role) -> Self {
        TextContext {
            upstream,
            found_in,
            role,
            max_confidence: Confidence::High,
            changelog: false,
        }
    }

    /// The same context for a `%changelog` line.
    pub fn in_changelog(mut self) -> Self {
        self.changelog = true;
        self
    }

    /// The trackers that belong to the package's upstream project.
    fn project(&self) -> Option<Project> {
        match self.upstream? {
            UpstreamProject::Github { owner, repo } if owner == "python" && repo == "cpython" => {
                Some(Project::Cpython)
            }
            UpstreamProject::Other { url } => {
                let url = url.to_ascii_lowercase();
                if url.contains("python.org") && !url.contains("pypi") {
                    Some(Project::Cpython)
                } else if url.contains("mozilla.org") || url.contains("mozilla.net") {
                    Some(Project::Mozilla)
                } else if url.contains("cpan.org") {
                    Some(Project::Cpan)
                } else if url.contains("perl.org") {
                    Some(Project::Perl)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn make(
        &self,
        kind: RefKind,
        id: String,
        url: Option<String>,
        confidence: Confidence,
    ) -> Reference {
        Reference {
            kind,
            id,
            url,
            role: self.role,
            confidence: confidence.min(self.max_confidence),
            found_in: self.found_in.clone(),
            note: None,
        }
    }
}

/// Upstream projects with trackers of their own, whose ids the text names without a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Project {
    /// `gh-N` issues and `GH-N` pull requests of python/cpython, `bpo-N` on bugs.python.org.
    Cpython,
    /// `bug N` on bugzilla.mozilla.org.
    Mozilla,
    /// `RT#N` on rt.cpan.org.
    Cpan,
    /// `RT#N` on rt.perl.org (Perl itself; now Perl/perl5 GitHub issues).
    Perl,
}

static_regex!(URL, r#"https?://[^\s<>"'`\]\[)(]+"#);
static_regex!(CVE, r"(?i)\bCVE-(\d{4})-(\d{4,7})\b");
static_regex!(SUSE_BUG, r"(?i)\b(bnc|bsc|boo)\s*#\s*(\d+)");
static_regex!(LAUNCHPAD, r"(?i)\blp\s*:?\s*#\s*(\d+)");
static_regex!(JIRA_RHEL, r"\b(RHEL|RHELPLAN|OSCI)-(\d{3,})\b");
static_regex!(GH_SHORTHAND, r"(?i)\bgh#([\w.-]+)/([\w.-]+)#(\d+)");
static_regex!(
    RHBZ_WORD,
    r"(?i)\b(?:(?:rhbz|rh\s*bz|rhbug|bz|bugzilla)\s*[#:]?\s*#?|rh#)(\d{3,8})\b"
);
static_regex!(BUG_WORD, r"(?i)\bbug\s*#?\s*(\d{6,8})\b");
static_regex!(CHANGELOG_BUG_WORD, r"(?i)\bbugs?\s*#\s*(\d{4,8})\b");
static_regex!(
    REPO_NUMBER,
    r"\b([A-Za-z0-9][\w.-]*)/([\w.-]+)([#!])(\d+)\b"
);
static_regex!(
    PR_WORD,
    r"(?i)\b(?:PR|PRs|pull\s+requests?|pull-request|pull|merge\s+requests?|MR)\s*(?:#|!|no\.?|number)?\s*(\d+)((?:\s*(?:,|and|&|\+)\s*#?\d+)*)"
);
static_regex!(
    PR_MENTION,
    r"(?i)\b(?:PRs?|pull\s+requests?|pull-request|merge\s+requests?|MRs?)\b"
);
static_regex!(ISSUE_WORD, r"(?i)\b(?:issue|issues|gh)\s*#?\s*(\d+)\b");
static_regex!(
    CLOSING,
    r"(?i)\b(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?|related)\s*:?\s*#(\d+)\b"
);
static_regex!(HASH_NUMBER, r"(?:^|[^\w&/])#(\d+)\b");
static_regex!(BANG_NUMBER, r"(?:^|[\s(])!(\d+)\b");
static_regex!(LEADING_NUMBER, r"^\s*#?\s*(\d{3,8})\s*(?:[-:–]|\s+-)\s");
static_regex!(FULL_SHA, r"\b([0-9a-f]{40})\b");
static_regex!(
    SHORT_SHA,
    r"(?i)\b(?:commit|cherry[- ]?pick(?:ed)?(?:\s+from(?:\s+commit)?)?|backport(?:ed|s)?(?:\s+of)?(?:\s+commit)?|upstream(?:\s+commit)?|revert(?:s|ed)?)\s*:?\s+([0-9a-f]{7,39})\b"
);
static_regex!(
    REVERT_SHA,
    r"(?i)\brevert(?:s|ed|ing)?\s+(?:upstream\s+)?(?:the\s+)?(?:commit\s+)?([0-9a-f]{7,40})\b"
);
static_regex!(PYTHON_GH, r"\b(gh|GH|bpo)-(\d{1,7})\b");
static_regex!(MOZILLA_BUG, r"(?i)\b(?:mozilla|bmo|moz)\s*#\s*(\d{3,8})\b");
static_regex!(CPAN_RT, r"\b(CPAN\s+)?RT\s*#\s*(\d{2,7})\b");
static_regex!(DEBIAN_CLOSES, r"\bCloses:\s*#(\d{5,7})\b");
static_regex!(
    DEBIAN_BUG,
    r"(?i)\b(?:debbugs|debian\s+bug(?:\s+report)?)\s*#?\s*(\d{4,7})\b"
);
// "GNOME bug 338826", "KDE bug #12": a bug of a tracker named by its project.
static_regex!(
    NAMED_TRACKER_BUG,
    r"(?i)\b(gnome|kde|sourceware|glibc|gcc|kernel|freedesktop|fdo|xorg|novell|gentoo|mageia|mandriva|python|perl|mozilla)\s+bug(?:zilla)?\s*#?\s*(\d{2,8})\b"
);
// "Resolves: 234769", "Related: 216575", "fix for 880972": in a Fedora or CentOS spec a bare
// 6-8 digit number after these words is a Red Hat bug (magnitude), and lists follow them.
static_regex!(
    RESOLVES_BARE,
    r"(?i)\b(?:fix(?:es|ed)?\s+for|resolves?|related)\s*:?\s*(?:bugs?\s*)?#?(\d{6,8})\b((?:\s*[,.;]?\s*(?:and\s+)?#?\d{6,8}\b)*)"
);
static_regex!(FEDORA_CHANGE_TEXT, r"\bChanges/([A-Za-z0-9_.+-]+)");

/// Every pattern the passes take with, matched in one scan of the line: a line none of them
/// matches (most patch header and `%changelog` lines) costs one automaton pass instead of 27
/// searches, and a pass skips the patterns the line does not have. Reference extraction was
/// the scan's largest phase (`cargo bench --bench scan`).
static PATTERNS: [&std::sync::LazyLock<Regex>; 27] = [
    &URL,
    &CVE,
    &SUSE_BUG,
    &LAUNCHPAD,
    &JIRA_RHEL,
    &PYTHON_GH,
    &MOZILLA_BUG,
    &CPAN_RT,
    &DEBIAN_CLOSES,
    &DEBIAN_BUG,
    &NAMED_TRACKER_BUG,
    &GH_SHORTHAND,
    &RHBZ_WORD,
    &CHANGELOG_BUG_WORD,
    &BUG_WORD,
    &RESOLVES_BARE,
    &FEDORA_CHANGE_TEXT,
    &REVERT_SHA,
    &FULL_SHA,
    &SHORT_SHA,
    &REPO_NUMBER,
    &CLOSING,
    &PR_WORD,
    &ISSUE_WORD,
    &BANG_NUMBER,
    &LEADING_NUMBER,
    &HASH_NUMBER,
];
static ANY_PATTERN: std::sync::LazyLock<regex::RegexSet> = std::sync::LazyLock::new(|| {
    regex::RegexSet::new(PATTERNS.iter().map(|r| r.as_str())).expect("static regexes")
});

/// Which of [`PATTERNS`] the line, as written, matches.
struct Hits(regex::SetMatches);

impl Hits {
    fn of(line: &str) -> Self {
        Hits(ANY_PATTERN.matches(line))
    }

    /// Whether `re` can take anything: a pattern the line as written does not match is not
    /// searched for in what the earlier passes left of it (a pattern not listed always is).
    fn may_match(&self, re: &Regex) -> bool {
        PATTERNS
            .iter()
            .position(|p| std::ptr::eq(&***p, re))
            .is_none_or(|i| self.0.matched(i))
    }
}

/// Blanks `range` in `text` so later passes do not read it again.
fn blank(text: &mut String, range: std::ops::Range<usize>) {
    text.replace_range(range.clone(), &" ".repeat(range.len()));
}

/// Finds every reference in one line (or one header value) of text.
pub fn extract(line: &str, ctx: &TextContext<'_>) -> Vec<Reference> {
    let mut out = Vec::new();
    let hits = Hits::of(line);
    if !hits.0.matched_any() {
        return out;
    }
    let mut text = line.to_string();
    for pass in [
        urls_in,
        self_describing_ids,
        commit_ids,
        repository_numbers,
        worded_numbers,
        bare_numbers,
    ] {
        pass(&mut text, &hits, ctx, &mut out);
    }
    out
}

/// URLs: a full URL is the strongest evidence there is.
fn urls_in(text: &mut String, hits: &Hits, ctx: &TextContext<'_>, out: &mut Vec<Reference>) {
    if !hits.may_match(&URL) {
        return;
    }
    let urls: Vec<(std::ops::Range<usize>, String)> = URL
        .find_iter(text)
        .map(|m| (m.range(), m.as_str().to_string()))
        .collect();
    for (range, url) in urls {
        if let Some(r) = classify_url(&url, ctx) {
            out.push(r);
        }
        blank(text, range);
    }
}

/// Identifiers that need no context: CVEs, tracker-prefixed bugs, Jira keys, Fedora Changes.
fn self_describing_ids(
    text: &mut String,
    hits: &Hits,
    ctx: &TextContext<'_>,
    out: &mut Vec<Reference>,
) {
    take(text, hits, &CVE, |c| {
        let id = format!("CVE-{}-{}", &c[1], &c[2]);
        let url = format!("https://www.cve.org/CVERecord?id={id}");
        out.push(ctx.make(RefKind::Cve, id, Some(url), Confidence::High));
    });
    take(text, hits, &SUSE_BUG, |c| {
        let id = format!("{}#{}", c[1].to_lowercase(), &c[2]);
        let url = format!("https://bugzilla.suse.com/show_bug.cgi?id={}", &c[2]);
        out.push(ctx.make(RefKind::Url, id, Some(url), Confidence::High));
    });
    take(text, hits, &LAUNCHPAD, |c| {
        let url = format!("https://bugs.launchpad.net/bugs/{}", &c[1]);
        out.push(ctx.make(
            RefKind::Url,
            format!("lp#{}", &c[1]),
            Some(url),
            Confidence::High,
        ));
    });
    take(text, hits, &JIRA_RHEL, |c| {
        out.push(jira(ctx, &format!("{}-{}", &c[1], &c[2])));
    });
    take(text, hits, &PYTHON_GH, |c| {
        out.extend(python_tracker(ctx, &c[1], &c[2]));
    });
    take(text, hits, &MOZILLA_BUG, |c| {
        out.push(tracker(ctx, "bmo", &c[1]));
    });
    take(text, hits, &CPAN_RT, |c| {
        let perl_itself = ctx.project() == Some(Project::Perl) && c.get(1).is_none();
        let cpan = c.get(1).is_some() || ctx.project() == Some(Project::Cpan);
        if perl_itself {
            out.push(tracker(ctx, "rt.perl.org", &c[2]));
        } else if cpan {
            out.push(tracker(ctx, "rt.cpan.org", &c[2]));
        }
    });
    take(text, hits, &DEBIAN_CLOSES, |c| {
        out.push(tracker(ctx, "debian", &c[1]))
    });
    take(text, hits, &DEBIAN_BUG, |c| {
        out.push(tracker(ctx, "debian", &c[1]))
    });
    take(text, hits, &NAMED_TRACKER_BUG, |c| {
        let name = c[1].to_ascii_lowercase();
        out.push(tracker(ctx, named_tracker(&name), &c[2]));
    });
    take(text, hits, &GH_SHORTHAND, |c| {
        out.push(github_number(
            ctx,
            &c[1],
            &c[2],
            &c[3],
            None,
            Confidence::Medium,
        ));
    });
    take(text, hits, &RHBZ_WORD, |c| {
        out.push(rhbz(ctx, &c[1], Confidence::High))
    });
    if ctx.changelog {
        // Old Red Hat bugs had five digits: in a %changelog, "bug #81653" is one of them.
        take(text, hits, &CHANGELOG_BUG_WORD, |c| {
            out.push(rhbz(ctx, &c[1], Confidence::Medium))
        });
    }
    take(text, hits, &BUG_WORD, |c| {
        if ctx.project() == Some(Project::Mozilla) {
            out.push(tracker(ctx, "bmo", &c[1]));
        } else {
            out.push(rhbz(ctx, &c[1], Confidence::Medium));
        }
    });
    take(text, hits, &RESOLVES_BARE, |c| {
        let list = std::iter::once(&c[1]).chain(
            c[2].split(|ch: char| !ch.is_ascii_digit())
                .filter(|s| !s.is_empty()),
        );
        for n in list {
            out.push(rhbz(ctx, n, Confidence::Medium));
        }
    });
    take(text, hits, &FEDORA_CHANGE_TEXT, |c| {
        let url = format!("https://fedoraproject.org/wiki/Changes/{}", &c[1]);
        out.push(ctx.make(
            RefKind::FedoraChange,
            c[1].to_string(),
            Some(url),
            Confidence::Medium,
        ));
    });
}

/// Commits: what a patch reverts first, then a full sha anywhere, a short one only after a word that says "commit".
fn commit_ids(text: &mut String, hits: &Hits, ctx: &TextContext<'_>, out: &mut Vec<Reference>) {
    take(text, hits, &REVERT_SHA, |c| {
        let sha = &c[1];
        if sha.bytes().any(|b| b.is_ascii_alphabetic()) && sha.bytes().any(|b| b.is_ascii_digit()) {
            let mut r = commit(ctx, sha, Confidence::Medium);
            r.role = Role::Reverts;
            out.push(r);
        }
    });
    take(text, hits, &FULL_SHA, |c| {
        // An all-zero id is git's and hg's "no commit" (a root's parent), never a reference.
        if c[1].bytes().any(|b| b != b'0') {
            out.push(commit(ctx, &c[1], Confidence::Medium));
        }
    });
    take(text, hits, &SHORT_SHA, |c| {
        let sha = &c[1];
        // A run of digits is a number, not an abbreviated sha.
        if sha.bytes().any(|b| b.is_ascii_alphabetic()) && sha.bytes().any(|b| b.is_ascii_digit()) {
            out.push(commit(ctx, sha, Confidence::Medium));
        }
    });
}

/// Numbers with a repository: `owner/repo#N`, `group/project!N`.
fn repository_numbers(
    text: &mut String,
    hits: &Hits,
    ctx: &TextContext<'_>,
    out: &mut Vec<Reference>,
) {
    let said_pr = PR_MENTION.is_match(text);
    take(text, hits, &REPO_NUMBER, |c| {
        let (owner, repo, sigil, n) = (&c[1], &c[2], &c[3], &c[4]);
        if sigil == "!" {
            let path = format!("{owner}/{repo}");
            out.push(gitlab_mr(ctx, "gitlab.com", &path, n, Confidence::Medium));
        } else {
            let kind = said_pr.then_some(RefKind::GithubPr);
            out.push(github_number(ctx, owner, repo, n, kind, Confidence::Medium));
        }
    });
}

/// Numbers whose kind the words say; the project comes from the package's upstream.
fn worded_numbers(text: &mut String, hits: &Hits, ctx: &TextContext<'_>, out: &mut Vec<Reference>) {
    let closing_role = Role::Related;
    take(text, hits, &CLOSING, |c| {
        let n = &c[1];
        let mut r = if parse_id(n) >= RHBZ_MIN_BARE_ID {
            rhbz(ctx, n, Confidence::Medium)
        } else {
            issue_of_upstream(ctx, n)
        };
        r.role = closing_role;
        out.push(r);
    });
    take(text, hits, &PR_WORD, |c| {
        out.push(pr_of_upstream(ctx, &c[1]));
        // "PR 16838 and 16857", "PRs #12, #13"
        for extra in c[2]
            .split(|ch: char| !ch.is_ascii_digit())
            .filter(|s| !s.is_empty())
        {
            out.push(pr_of_upstream(ctx, extra));
        }
    });
    take(text, hits, &ISSUE_WORD, |c| {
        let mut r = issue_of_upstream(ctx, &c[1]);
        r.role = Role::Related;
        out.push(r);
    });
    if matches!(ctx.upstream, Some(UpstreamProject::Gitlab { .. })) {
        take(text, hits, &BANG_NUMBER, |c| {
            out.push(pr_of_upstream(ctx, &c[1]))
        });
    }
}

/// Bare numbers: their magnitude, or ambiguous.
fn bare_numbers(text: &mut String, hits: &Hits, ctx: &TextContext<'_>, out: &mut Vec<Reference>) {
    take(text, hits, &LEADING_NUMBER, |c| {
        out.push(bare_number(ctx, &c[1]))
    });
    take(text, hits, &HASH_NUMBER, |c| {
        let n = &c[1];
        if ctx.changelog && parse_id(n) >= RHBZ_MIN_BARE_ID {
            let mut r = rhbz(ctx, n, Confidence::Medium);
            r.note = Some("a (#N) in a Fedora or CentOS %changelog is a Red Hat bug".into());
            out.push(r);
        } else {
            out.push(bare_number(ctx, n));
        }
    });
}

/// A bug of a tracker known by a short name: `bmo#1512162`, `debian#970863`.
fn tracker(ctx: &TextContext<'_>, name: &str, n: &str) -> Reference {
    let n = n.trim_start_matches('0');
    let url = match name {
        "bmo" => format!("https://bugzilla.mozilla.org/show_bug.cgi?id={n}"),
        "debian" => format!("https://bugs.debian.org/{n}"),
        "bpo" => format!("https://bugs.python.org/issue{n}"),
        "rt.cpan.org" => format!("https://rt.cpan.org/Ticket/Display.html?id={n}"),
        "rt.perl.org" => format!("https://rt.perl.org/Ticket/Display.html?id={n}"),
        host => format!("https://{host}/show_bug.cgi?id={n}"),
    };
    ctx.make(
        RefKind::Url,
        format!("{name}#{n}"),
        Some(url),
        Confidence::High,
    )
}

/// The bug tracker host of a project named in "GNOME bug 338826".
fn named_tracker(name: &str) -> &'static str {
    match name {
        "gnome" => "bugzilla.gnome.org",
        "kde" => "bugs.kde.org",
        "sourceware" | "glibc" => "sourceware.org/bugzilla",
        "gcc" => "gcc.gnu.org/bugzilla",
        "kernel" => "bugzilla.kernel.org",
        "freedesktop" | "fdo" | "xorg" => "bugs.freedesktop.org",
        "novell" => "bugzilla.novell.com",
        "gentoo" => "bugs.gentoo.org",
        "mageia" => "bugs.mageia.org",
        "mandriva" => "qa.mandriva.com",
        "python" => "bpo",
        "perl" => "rt.perl.org",
        _ => "bmo",
    }
}

/// CPython's own ids: `gh-127906` an issue and `GH-28549` a pull request of python/cpython,
/// `bpo-1596321` a bugs.python.org issue. `gh-N` in another project is a GitHub number of
/// that project when it lives on GitHub.
fn python_tracker(ctx: &TextContext<'_>, prefix: &str, n: &str) -> Option<Reference> {
    let cpython = ctx.project() == Some(Project::Cpython);
    match prefix {
        "bpo" => Some(tracker(ctx, "bpo", n)),
        "gh" if cpython => Some(github_number(
            ctx,
            "python",
            "cpython",
            n,
            Some(RefKind::GithubIssue),
            Confidence::Medium,
        )),
        "GH" if cpython => Some(github_number(
            ctx,
            "python",
            "cpython",
            n,
            Some(RefKind::GithubPr),
            Confidence::Medium,
        )),
        _ if matches!(ctx.upstream, Some(UpstreamProject::Github { .. })) => {
            Some(github_ambiguous_ref(ctx, n))
        }
        _ => None,
    }
}

/// Runs `re` over `text`, hands each match to `f`, then blanks the matches.
fn take(text: &mut String, hits: &Hits, re: &Regex, mut f: impl FnMut(&Captures<'_>)) {
    if !hits.may_match(re) {
        return;
    }
    let mut ranges = Vec::new();
    for c in re.captures_iter(text) {
        f(&c);
        if let Some(m) = c.get(0) {
            ranges.push(m.range());
        }
    }
    for r in ranges {
        blank(text, r);
    }
}

fn parse_id(n: &str) -> u64 {
    n.parse().unwrap_or(0)
}

/// A Red Hat Jira issue key (`RHEL-12345`): the key names project and issue, so it is sure.
pub(crate) fn jira(ctx: &TextContext<'_>, key: &str) -> Reference {
    let url = format!("https://issues.redhat.com/browse/{key}");
    ctx.make(RefKind::Jira, key.to_string(), Some(url), Confidence::High)
}

fn rhbz(ctx: &TextContext<'_>, n: &str, confidence: Confidence) -> Reference {
    let n = n.trim_start_matches('0');
    let url = format!("https://bugzilla.redhat.com/show_bug.cgi?id={n}");
    ctx.make(RefKind::Rhbz, n.to_string(), Some(url), confidence)
}

fn commit(ctx: &TextContext<'_>, sha: &str, confidence: Confidence) -> Reference {
    let sha = sha.to_ascii_lowercase();
    match ctx.upstream {
        Some(UpstreamProject::Github { owner, repo }) => ctx.make(
            RefKind::UpstreamCommit,
            format!("{owner}/{repo}@{sha}"),
            Some(format!("https://github.com/{owner}/{repo}/commit/{sha}")),
            confidence,
        ),
        Some(UpstreamProject::Gitlab { host, path }) => ctx.make(
            RefKind::UpstreamCommit,
            format!("{path}@{sha}"),
            Some(format!("https://{host}/{path}/-/commit/{sha}")),
            confidence,
        ),
        Some(UpstreamProject::Pagure { host, path }) => ctx.make(
            RefKind::UpstreamCommit,
            format!("{path}@{sha}"),
            Some(format!("https://{host}/{path}/c/{sha}")),
            confidence,
        ),
        _ => ctx.make(RefKind::UpstreamCommit, sha, None, confidence),
    }
}

fn github_number(
    ctx: &TextContext<'_>,
    owner: &str,
    repo: &str,
    n: &str,
    kind: Option<RefKind>,
    confidence: Confidence,
) -> Reference {
    let n = n.trim_start_matches('0');
    let id = format!("{owner}/{repo}#{n}");
    match kind {
        Some(RefKind::GithubPr) => {
            let url = format!("https://github.com/{owner}/{repo}/pull/{n}");
            ctx.make(RefKind::GithubPr, id, Some(url), confidence)
        }
        Some(RefKind::GithubIssue) => {
            let url = format!("https://github.com/{owner}/{repo}/issues/{n}");
            ctx.make(RefKind::GithubIssue, id, Some(url), confidence)
        }
        // GitHub numbers PRs and issues in one sequence and `/issues/N` redirects to the PR,
        // so the URL is right either way; the kind waits for the sync to ask GitHub.
        _ => {
            let url = format!("https://github.com/{owner}/{repo}/issues/{n}");
            let mut r = ctx.make(RefKind::Ambiguous, id, Some(url), Confidence::Low);
            r.note = Some(format!("github-pr or github-issue of {owner}/{repo}"));
            r
        }
    }
}

fn gitlab_mr(
    ctx: &TextContext<'_>,
    host: &str,
    path: &str,
    n: &str,
    confidence: Confidence,
) -> Reference {
    let url = format!("https://{host}/{path}/-/merge_requests/{n}");
    ctx.make(
        RefKind::GitlabMr,
        format!("{path}!{n}"),
        Some(url),
        confidence,
    )
}

fn pagure_pr(
    ctx: &TextContext<'_>,
    host: &str,
    path: &str,
    n: &str,
    confidence: Confidence,
) -> Reference {
    let url = format!("https://{host}/{path}/pull-request/{n}");
    ctx.make(
        RefKind::PagurePr,
        format!("{path}#{n}"),
        Some(url),
        confidence,
    )
}

/// "PR 123": a pull/merge request of the package's upstream project.
pub(crate) fn pr_of_upstream(ctx: &TextContext<'_>, n: &str) -> Reference {
    let n = n.trim_start_matches('0');
    match ctx.upstream {
        Some(UpstreamProject::Github { owner, repo }) => github_number(
            ctx,
            owner,
            repo,
            n,
            Some(RefKind::GithubPr),
            Confidence::Medium,
        ),
        Some(UpstreamProject::Gitlab { host, path }) => {
            gitlab_mr(ctx, host, path, n, Confidence::Medium)
        }
        Some(UpstreamProject::Pagure { host, path }) => {
            pagure_pr(ctx, host, path, n, Confidence::Medium)
        }
        _ => ambiguous(
            ctx,
            n,
            "a pull request, but the package's upstream project is not on a known forge",
        ),
    }
}

fn issue_of_upstream(ctx: &TextContext<'_>, n: &str) -> Reference {
    match ctx.upstream {
        Some(UpstreamProject::Github { owner, repo }) => github_number(
            ctx,
            owner,
            repo,
            n,
            Some(RefKind::GithubIssue),
            Confidence::Medium,
        ),
        _ => ambiguous(
            ctx,
            n,
            "an issue, but of which tracker the context does not say",
        ),
    }
}

fn ambiguous(ctx: &TextContext<'_>, n: &str, why: &str) -> Reference {
    let mut r = ctx.make(RefKind::Ambiguous, format!("#{n}"), None, Confidence::Low);
    r.note = Some(why.to_string());
    r
}

/// A number with no word that names its kind.
fn bare_number(ctx: &TextContext<'_>, n: &str) -> Reference {
    if parse_id(n) >= RHBZ_MIN_BARE_ID {
        let mut r = rhbz(ctx, n, Confidence::Low);
        r.note = Some("bare number read as a Red Hat Bugzilla id by its magnitude".into());
        return r;
    }
    let candidates = match ctx.upstream {
        Some(p @ UpstreamProject::Github { .. }) => {
            format!("pull request or issue of {}", p.describe())
        }
        Some(p) => format!(
            "pull request or issue of {}, or an old Red Hat bug",
            p.describe()
        ),
        None => "a pull request, an issue or a bug of an unknown tracker".to_string(),
    };
    ambiguous(ctx, n, &candidates)
}

/// A request or bug "number 0" (`/pull/0`, `#000`): no forge or tracker counts from zero, so
/// it names nothing (and would be shown as `o/x#` once its zeros are trimmed).
fn numbers_nothing(r: &Reference) -> bool {
    let numbered = matches!(
        r.kind,
        RefKind::GithubPr
            | RefKind::GithubIssue
            | RefKind::GitlabMr
            | RefKind::PagurePr
            | RefKind::Rhbz
            | RefKind::Ambiguous
    );
    numbered
        && r.id
            .rsplit(['#', '!'])
            .next()
            .is_none_or(|n| n.is_empty() || n.bytes().all(|b| b == b'0'))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A commit id as people write it: 7 to 64 hex digits.
pub fn is_sha(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Public for the file-name and header parsers: a commit of the package's upstream.
pub(crate) fn commit_ref(ctx: &TextContext<'_>, sha: &str, confidence: Confidence) -> Reference {
    commit(ctx, sha, confidence)
}

/// Public for the file-name parser: a bug of a tracker known by a short name (`bmo`).
pub(crate) fn tracker_ref(ctx: &TextContext<'_>, name: &str, n: &str) -> Reference {
    let mut r = tracker(ctx, name, n);
    r.confidence = r.confidence.min(Confidence::Medium);
    r
}

/// Public for the file-name parser: a bug number known to be Red Hat's.
pub(crate) fn rhbz_ref(ctx: &TextContext<'_>, n: &str, confidence: Confidence) -> Reference {
    rhbz(ctx, n, confidence)
}

/// Public for the file-name parser: `gh123`, GitHub but PR or issue unknown.
pub(crate) fn github_ambiguous_ref(ctx: &TextContext<'_>, n: &str) -> Reference {
    match ctx.upstream {
        Some(UpstreamProject::Github { owner, repo }) => {
            github_number(ctx, owner, repo, n, None, Confidence::Low)
        }
        _ => ambiguous(
            ctx,
            n,
            "a GitHub number, but the package's upstream is not on GitHub",
        ),
    }
}

/// Keeps one reference per (kind, id, role), the most confident, in first-seen order.
pub fn dedup(refs: &mut Vec<Reference>) {
    refs.retain(|r| !numbers_nothing(r));
    let mut best: std::collections::HashMap<(RefKind, String, Role), usize> = Default::default();
    let mut keep: Vec<Reference> = Vec::with_capacity(refs.len());
    for r in refs.drain(..) {
        let key = (r.kind, r.id.clone(), r.role);
        match best.get(&key) {
            Some(&i) if keep[i].confidence >= r.confidence => {}
            Some(&i) => keep[i] = r,
            None => {
                best.insert(key, keep.len());
                keep.push(r);
            }
        }
    }
    // An ambiguous `#N` is settled when the same number was also found with a kind.
    let resolved: std::collections::HashSet<String> = keep
        .iter()
        .filter(|r| r.kind != RefKind::Ambiguous)
        .filter_map(|r| r.id.rsplit(['#', '!']).next().map(str::to_string))
        .collect();
    keep.retain(|r| {
        r.kind != RefKind::Ambiguous
            || !r
                .id
                .rsplit(['#', '!'])
                .next()
                .is_some_and(|n| resolved.contains(n))
    });
    // One commit named twice (a format-patch `From` line and a cherry-pick trailer, a full
    // and an abbreviated sha, with and without the repository): keep the surest, longest.
    let sha = |r: &Reference| r.id.rsplit('@').next().unwrap_or_default().to_string();
    let commits: Vec<(String, Confidence, usize)> = keep
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RefKind::UpstreamCommit)
        .map(|(i, r)| (sha(r), r.confidence, i))
        .collect();
    let mut drop = std::collections::HashSet::new();
    for (a, ca, ia) in &commits {
        for (b, cb, ib) in &commits {
            let same = ia != ib && a.len() >= 7 && b.starts_with(a.as_str());
            // `a` is covered by `b`: same or longer sha, at least as sure (ties: keep first).
            if same && (cb > ca || (cb == ca && (b.len() > a.len() || ib < ia))) {
                drop.insert(*ia);
            }
        }
    }
    let mut i = 0;
    keep.retain(|_| {
        i += 1;
        !drop.contains(&(i - 1))
    });
    *refs = keep;
}

#[cfg(test)]
mod tests;
