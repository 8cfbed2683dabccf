//! Inventory: scanning downstream dist-git folders for carried patches and their upstream
//! references. Reads files, never executes them.
//!
//! - [`text`]: untrusted bytes to lines (binary, UTF-8, line length).
//! - [`macros`]: RPM macro expansion and `%if` evaluation, no shell, no lua.
//! - [`spec`]: spec files: tags, `Patch` lines with their comments, `%changelog`.
//! - [`patch`]: patch headers (format-patch, trailers, DEP-3, Yocto, SUSE) and change size.
//! - [`refs`]: references in free text; [`filename`]: references in patch file names.
//! - [`project`]: the upstream project from `Source0`/`URL`.
//! - [`deviations`]: the TOML inventory of policy deviations.
//! - [`history`]: carried patches over a git repository's first-parent history.
//! - this module: walking the tree and putting a [`Package`] together.

mod changelog_names;
pub mod deviations;
pub mod encoded_words;
pub mod filename;
pub mod history;
pub mod macros;
pub mod patch;
pub mod phases;
pub mod project;
pub mod refs;
pub mod spec;
pub mod status_words;
pub mod text;
pub mod trailers;

use crate::evr::{DEFAULT_RELEASE_MARKER, split_release};
use crate::model::{
    Claim, Confidence, Deviation, Package, Patch, PatchState, RefKind, Reference, Role,
    UpstreamProject, Warning,
};
use rayon::prelude::*;
use refs::TextContext;
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The file a dist-git root may hold for what no spec shows.
pub const INVENTORY_FILE: &str = "forkdebt-inventory.toml";

/// Spec and patch files larger than this are not read: no real one comes near, and a hostile
/// tree must not make the scan read gigabytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// `forkdebt-inventory.toml` lists policy deviations: a few KB. Parsing TOML takes many
/// times its size in memory, so a huge (or sparse) file is refused.
pub const MAX_INVENTORY_BYTES: u64 = 4 * 1024 * 1024;

/// How a downstream's specs are read.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Macros the downstream's builds define (`dist = ".el9"`, `rhel = "9"`).
    pub macros: HashMap<String, String>,
    /// The local Release marker (`[[downstream]] release_marker`).
    pub release_marker: Regex,
    /// Packages whose upstream the configuration names (`[[upstream]] packages`): it wins
    /// over what the spec's URLs say (an old home page, a tarball mirror).
    pub upstreams: HashMap<String, UpstreamProject>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            macros: HashMap::new(),
            release_marker: Regex::new(DEFAULT_RELEASE_MARKER).expect("static regex"),
            upstreams: HashMap::new(),
        }
    }
}

/// What a scan found.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub packages: Vec<Package>,
    pub deviations: Vec<Deviation>,
    pub warnings: Vec<Warning>,
    /// Specs and folders that could not be read (relative to their root, as `spec_path`):
    /// the packages stored from them keep their last state instead of looking removed.
    pub unreadable: Vec<String>,
    /// The `[[fork]]` branches were read in this scan: carried commits not seen are gone.
    /// A dist-git-only scan (`scan DIR`) leaves them as they are.
    pub forks_read: bool,
}

/// Scans every `*.spec` below `roots`. Never fails: unreadable parts become warnings (and
/// [`Inventory::unreadable`] entries).
pub fn scan(roots: &[PathBuf], opts: &ScanOptions) -> Inventory {
    let mut inv = Inventory::default();
    let mut specs: Vec<(PathBuf, PathBuf)> = Vec::new();
    phases::time(phases::Phase::Walk, || {
        for root in roots {
            find_specs(root, &mut specs, &mut inv.warnings, &mut inv.unreadable);
        }
    });
    drop_stray_copies(&mut specs, &mut inv.warnings);
    specs.sort();
    let scanned: Vec<(SpecScan, Vec<Warning>)> = specs
        .par_iter()
        .map(|(root, spec)| {
            let mut w = Vec::new();
            let p = scan_spec(root, spec, opts, &mut w);
            (p, w)
        })
        .collect();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (pkg, mut w) in scanned {
        inv.warnings.append(&mut w);
        let pkg = match pkg {
            Ok(Some(pkg)) => pkg,
            Ok(None) => continue,
            Err(unreadable) => {
                inv.unreadable.push(unreadable);
                continue;
            }
        };
        if let Some(first) = seen.get(&pkg.name) {
            inv.warnings.push(Warning {
                path: pkg.spec_path.clone(),
                line: None,
                message: format!(
                    "package {} is already defined by {first}; this spec is ignored",
                    pkg.name
                ),
            });
            continue;
        }
        seen.insert(pkg.name.clone(), pkg.spec_path.clone());
        inv.packages.push(pkg);
    }
    for root in roots {
        let file = root.join(INVENTORY_FILE);
        if file.symlink_metadata().is_ok() {
            let shown = display(&file);
            let read = match inside(root, &file) {
                Ok(real) => read_file(&real, &shown, MAX_INVENTORY_BYTES, &mut inv.warnings).ok(),
                Err(why) => {
                    inv.warnings.push(Warning {
                        path: shown.clone(),
                        line: None,
                        message: format!("{why}; not read"),
                    });
                    None
                }
            };
            match read.map(String::from_utf8) {
                Some(Ok(text)) => {
                    deviations::parse(&text, &shown, &mut inv.deviations, &mut inv.warnings)
                }
                Some(Err(_)) => inv.warnings.push(Warning {
                    path: shown,
                    line: None,
                    message: "not UTF-8 text; not read".into(),
                }),
                None => {}
            }
        }
    }
    inv
}

/// A spec under `sources/` or `SOURCES/` (an old copy kept with the sources) must not shadow
/// the package's own spec beside that folder or in `specfiles/`: it is skipped with a warning.
fn drop_stray_copies(specs: &mut Vec<(PathBuf, PathBuf)>, warnings: &mut Vec<Warning>) {
    let is_sources = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n == "sources" || n == "SOURCES")
    };
    let own: HashSet<PathBuf> = specs
        .iter()
        .filter_map(|(_, spec)| spec.parent())
        .filter(|dir| !is_sources(dir))
        .map(|dir| package_folder(dir).to_path_buf())
        .collect();
    specs.retain(|(root, spec)| {
        let Some(dir) = spec.parent().filter(|d| is_sources(d)) else {
            return true;
        };
        if !dir.parent().is_some_and(|f| own.contains(f)) {
            return true;
        }
        let shown = |p: &Path| display(p.strip_prefix(root).unwrap_or(p));
        warnings.push(Warning {
            path: shown(spec),
            line: None,
            message: format!(
                "a stray copy of a spec in {}; the package's own spec beside it is read instead",
                shown(dir)
            ),
        });
        false
    });
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn find_specs(
    root: &Path,
    out: &mut Vec<(PathBuf, PathBuf)>,
    warnings: &mut Vec<Warning>,
    unreadable: &mut Vec<String>,
) {
    if !root.exists() {
        warnings.push(Warning {
            path: display(root),
            line: None,
            message: "no such folder".into(),
        });
        return;
    }
    // Links are followed (dist-git trees link shared folders) while they stay inside the
    // scanned folder: a link to /usr must not add the system's packages. walkdir reports
    // loops as errors.
    let root_real = root.canonicalize().ok();
    let mut outward: Vec<String> = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            if e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.') {
                return false;
            }
            if e.path_is_symlink() {
                let stays = match (&root_real, e.path().canonicalize()) {
                    (Some(r), Ok(real)) => real.starts_with(r),
                    _ => false,
                };
                if !stays {
                    outward.push(display(e.path()));
                    return false;
                }
            }
            true
        });
    for entry in walker {
        match entry {
            Ok(e)
                if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "spec") =>
            {
                out.push((root.to_path_buf(), e.into_path()));
            }
            Ok(_) => {}
            Err(e) => {
                let path = e.path().map(display).unwrap_or_else(|| display(root));
                let message = if e.loop_ancestor().is_some() {
                    "symbolic link loop; not followed".to_string()
                } else {
                    if let Some(p) = e.path() {
                        unreadable.push(display(p.strip_prefix(root).unwrap_or(p)));
                    }
                    format!(
                        "cannot read: {}",
                        e.io_error().map_or(e.to_string(), |io| io.to_string())
                    )
                };
                warnings.push(Warning {
                    path,
                    line: None,
                    message,
                });
            }
        }
    }
    for path in outward {
        warnings.push(Warning {
            path,
            line: None,
            message: "a symbolic link that leads out of the scanned folder; not followed".into(),
        });
    }
}

/// Why a file was not read: too large (skipped on purpose) or an I/O error.
enum NotRead {
    Skipped,
    Failed,
}

/// Reads a file of at most [`MAX_FILE_BYTES`]; a warning otherwise.
fn read_limited(path: &Path, shown: &str, warnings: &mut Vec<Warning>) -> Option<Vec<u8>> {
    read_file(path, shown, MAX_FILE_BYTES, warnings).ok()
}

/// As [`read_limited`] with another cap, saying why a file was not read.
fn read_file(
    path: &Path,
    shown: &str,
    cap: u64,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<u8>, NotRead> {
    let warn = |warnings: &mut Vec<Warning>, message: String| {
        warnings.push(Warning {
            path: shown.to_string(),
            line: None,
            message,
        })
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > cap => {
            warn(
                warnings,
                format!("{} bytes is more than the {cap} read; skipped", m.len()),
            );
            Err(NotRead::Skipped)
        }
        Ok(_) => std::fs::read(path).map_err(|e| {
            warn(warnings, format!("cannot read: {e}"));
            NotRead::Failed
        }),
        Err(e) => {
            warn(warnings, format!("cannot read: {e}"));
            Err(NotRead::Failed)
        }
    }
}

/// A spec's package (`None`: nothing to record), or the spec's path when it cannot be read.
type SpecScan = Result<Option<Package>, String>;

fn scan_spec(
    root: &Path,
    spec_path: &Path,
    opts: &ScanOptions,
    warnings: &mut Vec<Warning>,
) -> SpecScan {
    let rel = spec_path.strip_prefix(root).unwrap_or(spec_path);
    let shown = display(rel);
    let read = phases::time(phases::Phase::ReadSpec, || {
        read_file(spec_path, &shown, MAX_FILE_BYTES, warnings)
    });
    let bytes = match read {
        Ok(b) => b,
        Err(NotRead::Skipped) => return Ok(None),
        // Not a package that went away: one we cannot see now.
        Err(NotRead::Failed) => return Err(shown),
    };
    let stem = spec_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spec_dir = spec_path.parent().unwrap_or(root);
    let folder = ResolvedFolder::new(package_folder(spec_dir));
    let lookup = |file: &str, warnings: &mut Vec<Warning>| {
        phases::time(phases::Phase::ReadPatches, || {
            lookup_on_disk(root, spec_dir, &folder, file, warnings)
        })
    };
    Ok(scan_spec_bytes(
        &bytes, &shown, &stem, opts, &lookup, warnings,
    ))
}

/// A patch file as a spec's lookup found it.
pub enum Found {
    /// Its path as shown (relative to the scanned folder or repository) and its bytes (`None`:
    /// found, but not read; a warning says why).
    File(String, Option<Vec<u8>>),
    /// Found, but refused (a link out of the package folder); the warning says why.
    Refused(String),
    Missing,
}

/// How a spec's patch files are found: on disk, or in a git tree.
pub type Lookup<'a> = dyn Fn(&str, &mut Vec<Warning>) -> Found + 'a;

fn lookup_on_disk(
    root: &Path,
    spec_dir: &Path,
    folder: &ResolvedFolder,
    file: &str,
    warnings: &mut Vec<Warning>,
) -> Found {
    match locate_patch(spec_dir, file) {
        Some(found) => match folder.holds(&found) {
            Ok(_) => {
                let rel = display(found.strip_prefix(root).unwrap_or(&found));
                let bytes = read_limited(&found, &rel, warnings);
                Found::File(rel, bytes)
            }
            Err(why) => Found::Refused(why.to_string()),
        },
        None => Found::Missing,
    }
}

/// The folders, relative to a spec's folder, where its patches may live (see
/// [`locate_patch`]), for lookups that are not on disk.
pub fn patch_dirs(spec_dir: &str) -> Vec<String> {
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else if b.is_empty() {
            a.to_string()
        } else {
            format!("{a}/{b}")
        }
    };
    let parent = spec_dir.rsplit_once('/').map_or("", |(p, _)| p);
    let mut dirs = vec![
        spec_dir.to_string(),
        join(spec_dir, "sources"),
        join(spec_dir, "SOURCES"),
    ];
    let in_spec_folder = spec_dir
        .rsplit('/')
        .next()
        .is_some_and(|n| matches!(n, "specfiles" | "SPECS" | "specs"));
    if in_spec_folder {
        dirs.push(join(parent, "sources"));
        dirs.push(join(parent, "SOURCES"));
    }
    dirs
}

/// Scans one spec's text (`shown` is its path as reported; `stem` names the package when the
/// spec has no usable Name). Patch files come from `lookup`.
pub fn scan_spec_bytes(
    bytes: &[u8],
    shown: &str,
    stem: &str,
    opts: &ScanOptions,
    lookup: &Lookup<'_>,
    warnings: &mut Vec<Warning>,
) -> Option<Package> {
    let shown = shown.to_string();
    if text::looks_binary(bytes) {
        warnings.push(Warning {
            path: shown,
            line: None,
            message: "binary data (NUL bytes), not read".into(),
        });
        return None;
    }
    let spec = phases::time(phases::Phase::Parse, || {
        spec::parse(bytes, &shown, &opts.macros, warnings)
    });
    let name = match &spec.name {
        Some(n) if crate::model::is_package_name(n) => n.clone(),
        other => {
            let why = match other {
                Some(n) if !n.is_empty() && !n.contains('%') => format!(
                    "Name `{}` is not a package name rpm accepts (letters, digits, `._+-`)",
                    crate::display::shown(n)
                ),
                _ => "no usable Name: tag".to_string(),
            };
            if !crate::model::is_package_name(stem) {
                warnings.push(Warning {
                    path: shown.clone(),
                    line: None,
                    message: format!("{why}, nor is the file name; not read"),
                });
                return None;
            }
            warnings.push(Warning {
                path: shown.clone(),
                line: None,
                message: format!("{why}; using the file name `{stem}`"),
            });
            stem.to_string()
        }
    };
    let upstream =
        opts.upstreams.get(&name).cloned().or_else(|| {
            project::detect(spec.sources.iter().map(String::as_str), spec.url.as_deref())
        });
    let release = spec.release.clone().unwrap_or_default();
    let parts = split_release(&release, &opts.release_marker);
    let epoch = spec
        .epoch
        .as_deref()
        .and_then(|e| match e.trim().parse::<u32>() {
            Ok(v) => Some(v),
            Err(_) => {
                warnings.push(Warning {
                    path: shown.clone(),
                    line: None,
                    message: format!("Epoch `{e}` is not a number; ignored"),
                });
                None
            }
        });
    let mut pkg = Package {
        name,
        spec_path: shown.clone(),
        epoch,
        version: spec.version.clone().unwrap_or_default(),
        release,
        local_marker: parts.local_marker,
        dist_tag: parts.dist_tag,
        upstream,
        url: spec.url.clone(),
        source0: spec.source0().map(str::to_string),
        patches: Vec::with_capacity(spec.patches.len()),
        changelog_refs: Vec::new(),
    };
    // Bare diffs, reported below if nothing else in the spec names their origin either.
    let mut bare_diffs: Vec<Option<Warning>> = Vec::with_capacity(spec.patches.len());
    let started = std::time::Instant::now();
    let read_before = phases::read_patches_nanos();
    for sp in &spec.patches {
        let mut bare = None;
        let p = build_patch(
            sp,
            &spec.prep_notes,
            &pkg,
            &shown,
            lookup,
            warnings,
            &mut bare,
        );
        pkg.patches.push(p);
        bare_diffs.push(bare);
    }
    attach_changelog(&mut pkg, &spec.changelog, &shown);
    for (p, bare) in pkg.patches.iter().zip(bare_diffs) {
        if p.refs.is_empty() && p.claims.is_empty() {
            warnings.extend(bare);
        }
    }
    for p in &mut pkg.patches {
        refs::dedup(&mut p.refs);
    }
    refs::dedup(&mut pkg.changelog_refs);
    // Building the patches, less the time spent reading their files: references.
    phases::add_references(started.elapsed(), read_before);
    Some(pkg)
}

/// Where a spec's patches live: beside it, in `sources/` or `SOURCES/` beside it, or in the
/// package folder's `sources/` when the spec is in `specfiles/` (or `SPECS/`).
fn locate_patch(spec_dir: &Path, file: &str) -> Option<PathBuf> {
    let parent = spec_dir.parent();
    let dirs = [
        Some(spec_dir.to_path_buf()),
        Some(spec_dir.join("sources")),
        Some(spec_dir.join("SOURCES")),
        parent.map(|p| p.join("sources")),
        parent.map(|p| p.join("SOURCES")),
    ];
    dirs.into_iter()
        .flatten()
        .map(|d| d.join(file))
        .find(|p| p.is_file())
}

/// The folder a spec's package owns: the spec's folder, or its parent when the spec sits in
/// `specfiles/`, `SPECS/` or `specs/`. Nothing outside it is read for the package.
fn package_folder(spec_dir: &Path) -> &Path {
    let is_spec_folder = spec_dir
        .file_name()
        .is_some_and(|n| matches!(n.to_str(), Some("specfiles" | "SPECS" | "specs")));
    match spec_dir.parent() {
        Some(parent) if is_spec_folder => parent,
        _ => spec_dir,
    }
}

/// `path` resolved (links followed) if it is a regular file inside `folder` (resolved):
/// a `..`, an absolute path or a link pointing out of the tree must never make the scanner
/// read, and publish, another file (a bot's password file, say).
fn inside(folder: &Path, path: &Path) -> Result<PathBuf, &'static str> {
    let folder = folder
        .canonicalize()
        .map_err(|_| "its folder cannot be resolved")?;
    inside_resolved(&folder, path)
}

/// [`inside`] for a folder already resolved.
fn inside_resolved(folder: &Path, path: &Path) -> Result<PathBuf, &'static str> {
    let real = path.canonicalize().map_err(|_| "it cannot be resolved")?;
    if !real.starts_with(folder) {
        return Err("it resolves outside the package folder");
    }
    if !std::fs::metadata(&real).is_ok_and(|m| m.is_file()) {
        return Err("it is not a regular file");
    }
    Ok(real)
}

/// A package folder resolved once for all its patches, and the folders its patches were found
/// in: resolving every patch's full path was a tenth of a 20,000-patch scan (a `readlink` per
/// path component), where one `lstat` tells a plain file in a known folder.
struct ResolvedFolder {
    real: Result<PathBuf, &'static str>,
    parents: std::cell::RefCell<HashMap<PathBuf, Option<PathBuf>>>,
}

impl ResolvedFolder {
    fn new(folder: &Path) -> Self {
        ResolvedFolder {
            real: folder
                .canonicalize()
                .map_err(|_| "its folder cannot be resolved"),
            parents: Default::default(),
        }
    }

    /// As [`inside`].
    fn holds(&self, path: &Path) -> Result<PathBuf, &'static str> {
        let folder = self.real.as_ref().map_err(|e| *e)?;
        let plain_file = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
        let (Some(parent), Some(name), true) = (path.parent(), path.file_name(), plain_file) else {
            return inside_resolved(folder, path);
        };
        let real_parent = self
            .parents
            .borrow_mut()
            .entry(parent.to_path_buf())
            .or_insert_with(|| parent.canonicalize().ok())
            .clone();
        match real_parent {
            Some(p) if p.starts_with(folder) => Ok(p.join(name)),
            Some(_) => Err("it resolves outside the package folder"),
            None => Err("it cannot be resolved"),
        }
    }
}

/// Whether a name from a spec stays below the folder it is looked up in.
fn stays_below(file: &str) -> bool {
    let p = Path::new(file);
    !p.is_absolute()
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

fn build_patch(
    sp: &spec::SpecPatch,
    prep_notes: &[spec::PrepNote],
    pkg: &Package,
    spec_shown: &str,
    lookup: &Lookup<'_>,
    warnings: &mut Vec<Warning>,
    bare_diff: &mut Option<Warning>,
) -> Patch {
    let upstream = pkg.upstream.as_ref();
    let is_url = sp.value.starts_with("http://")
        || sp.value.starts_with("https://")
        || sp.value.starts_with("ftp://");
    let file = spec::patch_file_name(&sp.value);
    let mut patch = Patch {
        file: file.clone(),
        number: sp.number,
        condition: sp.condition.clone(),
        ..Patch::default()
    };
    let tag = sp
        .number
        .map_or("Patch".to_string(), |n| format!("Patch{n}"));
    if is_url {
        let ctx = TextContext::new(
            upstream,
            format!("{spec_shown}:{} ({tag} URL)", sp.line),
            Role::Origin,
        );
        patch.refs.extend(refs::classify_url(&sp.value, &ctx));
    }
    // A comment over a run of Patch lines speaks for each of them less surely.
    let (place, max_confidence) = if sp.shared_comments {
        (
            "comment above a run of Patch lines incl.",
            Confidence::High.lower(),
        )
    } else {
        ("comment above", Confidence::High)
    };
    for (line, comment) in &sp.comments {
        let mut ctx = TextContext::new(
            upstream,
            format!("{spec_shown}:{line} ({place} {tag})"),
            Role::Origin,
        );
        ctx.max_confidence = max_confidence;
        patch.refs.extend(refs::extract(comment, &ctx));
        let claim = patch::suse_tag_claim(comment).or_else(|| status_words::claim(comment));
        if let Some(state) = claim {
            patch.claims.push(Claim {
                state,
                evidence: format!("{spec_shown}:{line}: {comment}"),
            });
        }
    }
    // What `%prep` says beside or above this patch's `%patch` line (`%autopatch`: every
    // patch, less surely).
    for note in prep_notes
        .iter()
        .filter(|n| n.patch.is_none() || n.patch == sp.number)
    {
        let mut ctx = TextContext::new(
            upstream,
            format!("{spec_shown}:{} ({})", note.line, note.place),
            Role::Origin,
        );
        if note.patch.is_none() {
            ctx.max_confidence = Confidence::High.lower();
        }
        patch.refs.extend(refs::extract(&note.text, &ctx));
        if let Some(state) = status_words::claim(&note.text) {
            patch.claims.push(Claim {
                state,
                evidence: format!("{spec_shown}:{}: {}", note.line, note.text),
            });
        }
    }
    let base = file.rsplit('/').next().unwrap_or(&file);
    let ctx = TextContext::new(upstream, format!("{base} (file name)"), Role::Origin);
    patch.refs.extend(filename::refs(base, &ctx));

    if !stays_below(&file) {
        warnings.push(Warning {
            path: spec_shown.to_string(),
            line: Some(sp.line),
            message: format!(
                "{tag} names `{file}`, a path that leaves the package folder; not read"
            ),
        });
        return patch;
    }
    match lookup(&file, warnings) {
        Found::Refused(why) => {
            warnings.push(Warning {
                path: spec_shown.to_string(),
                line: Some(sp.line),
                message: format!("{tag} names `{file}`, but {why}; not read"),
            });
            return patch;
        }
        Found::File(rel, bytes) => {
            if let Some(bytes) = bytes {
                let info = patch::parse(&bytes, &rel, upstream, warnings);
                patch.subject = info.subject;
                patch.author = info.author;
                patch.date = info.date;
                patch.lines_added = info.lines_added;
                patch.lines_removed = info.lines_removed;
                patch.refs.extend(info.refs);
                patch.claims.extend(info.claims);
                if info.header_lines == 0 {
                    *bare_diff = Some(Warning {
                        path: rel.clone(),
                        line: info.first_diff_line,
                        message: "no header before the first diff, and no reference in the spec: \
                                  nothing says where this patch comes from"
                            .into(),
                    });
                }
            }
            patch.path = Some(rel);
        }
        Found::Missing if is_url => {}
        Found::Missing => warnings.push(Warning {
            path: spec_shown.to_string(),
            line: Some(sp.line),
            message: format!("{tag} names `{file}`, which is not beside the spec nor in sources/"),
        }),
    }
    patch.refs.truncate(patch::MAX_REFS_PER_PATCH);
    mark_revert(&mut patch, base);
    patch
}

/// A patch whose file name or subject says it is a revert (`FB-revert-c58fd466.patch`,
/// `Revert "tests: …"`) carries the reverted commit's id in its name or header: that commit
/// is what it undoes, never its origin, so it is never droppable on that commit's release.
fn mark_revert(patch: &mut Patch, file_name: &str) {
    static_regex!(REVERT_NAME, r"(?i)(?:^|[-_.\s])revert");
    static_regex!(REVERT_SUBJECT, r#"(?i)^\s*(?:\[[^\]]*\]\s*)*revert\b"#);
    let says_revert = REVERT_NAME.is_match(file_name)
        || patch
            .subject
            .as_deref()
            .is_some_and(|s| REVERT_SUBJECT.is_match(s));
    if !says_revert {
        return;
    }
    for r in &mut patch.refs {
        if r.kind == RefKind::UpstreamCommit && r.role == Role::Origin {
            r.role = Role::Reverts;
            r.note = Some("its name and header say so".into());
        }
    }
}

/// Puts `%changelog` references on the patches they talk about; the rest stay on the package.
///
/// A reference goes to the patches that already carry it (a CVE a file name names); the others
/// to the one patch the line is about: the one it names (file name, stem, `PatchN`, a word only
/// that patch's name has) or the one that carries its other references. A line about no patch,
/// or about several, leaves them on the package.
fn attach_changelog(pkg: &mut Package, lines: &[spec::ChangelogLine], spec_shown: &str) {
    static_regex!(
        BACKPORT,
        r"(?i)\b(?:backport(?:ed|s)?|cherry[- ]?pick(?:ed)?)\b"
    );
    let names = changelog_names::PatchNames::new(&pkg.patches, &pkg.name);
    for cl in lines {
        let ctx = TextContext::new(
            pkg.upstream.as_ref(),
            format!("{spec_shown}:{} (%changelog)", cl.line),
            Role::Origin,
        )
        .in_changelog();
        let found = refs::extract(&cl.text, &ctx);
        let named = names.named_exactly(&cl.text);
        let mut touched: HashSet<usize> = HashSet::new();
        let mut leftover = Vec::new();
        for r in found {
            let carriers: Vec<usize> = pkg
                .patches
                .iter()
                .enumerate()
                .filter(|(_, p)| p.refs.iter().any(|pr| same_target(pr, &r)))
                .map(|(i, _)| i)
                .collect();
            for &i in &carriers {
                pkg.patches[i].refs.push(r.clone());
                touched.insert(i);
            }
            if carriers.is_empty() {
                leftover.push(r);
            }
        }
        // The rest goes to the one patch the line is about: named, or the only one that
        // carries another of its references ("Backport 156a5fd to mitigate CVE-2020-13776").
        if named.is_empty() && touched.is_empty() {
            touched.extend(names.named_loosely(&cl.text));
        }
        touched.extend(named);
        match touched.iter().collect::<Vec<_>>().as_slice() {
            [one] => pkg.patches[**one].refs.append(&mut leftover),
            _ => pkg.changelog_refs.append(&mut leftover),
        }
        let claim = if BACKPORT.is_match(&cl.text) {
            Some(PatchState::Merged)
        } else {
            status_words::claim(&cl.text)
        };
        if let Some(state) = claim {
            for &i in &touched {
                pkg.patches[i].claims.push(Claim {
                    state,
                    evidence: format!("{spec_shown}:{}: {}", cl.line, cl.text),
                });
            }
        }
    }
}

/// Two references name the same thing: equal ids, or a commit and its abbreviation.
fn same_target(a: &Reference, b: &Reference) -> bool {
    use crate::model::RefKind::*;
    if a.kind == b.kind && a.id == b.id && a.kind != Url {
        return true;
    }
    if a.kind == UpstreamCommit && b.kind == UpstreamCommit {
        let sha = |r: &Reference| r.id.rsplit('@').next().unwrap_or_default().to_string();
        let (x, y) = (sha(a), sha(b));
        return x.len() >= 7 && y.len() >= 7 && (x.starts_with(&y) || y.starts_with(&x));
    }
    // "#16803" in the changelog and PR #16803 found in a file name.
    if b.kind == Ambiguous && b.id.starts_with('#') {
        let n = &b.id[1..];
        return a.id.contains(['#', '!']) && a.id.rsplit(['#', '!']).next() == Some(n);
    }
    false
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod conventions_tests;
