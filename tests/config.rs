//! The configuration file: the shipped example parses, typos are errors naming key and line.

use crate::util::{forkdebt, forkdebt_ok, repo_root, stderr};
use forkdebt_core::config::Config;

#[test]
fn the_example_config_is_valid_and_has_a_section_for_every_source_with_settings() {
    let path = repo_root().join("config/forkdebt.example.toml");
    let cfg = Config::load(&path).expect("example config parses");
    forkdebt_scrapers::sources::check(&cfg, "example").expect("every source section checks");
    assert_eq!(cfg.downstream[0].name, "hyperscale");
    assert_eq!(cfg.downstream[0].base.as_deref(), Some("c9s"));
    assert!(cfg.chat.is_some() && cfg.email.is_some() && cfg.web.is_some());
    for d in forkdebt_scrapers::sources::REGISTRY {
        assert_eq!(
            cfg.sources.sections.contains_key(d.name),
            d.section.is_some(),
            "{}: a source with settings is documented in the example, one without is not",
            d.name
        );
    }
}

#[test]
fn a_misspelled_source_key_names_the_key_and_line_and_nothing_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("c.toml"),
        "database = \"sqlite://x.db\"\n[sources.gitlab]\nurl = \"https://gitlab.com\"\ntoken_env = \"GL\"\n",
    )
    .expect("write");
    let out = forkdebt(dir.path(), &["--config", "c.toml", "init"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("c.toml:4:") && err.contains("sources.gitlab.token_env"),
        "{err}"
    );
    assert!(!dir.path().join("x.db").exists());
}

#[test]
fn an_unknown_key_names_the_key_and_line_and_nothing_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("c.toml"),
        "database = \"sqlite://x.db\"\n[[downstream]]\nname = \"hs\"\npath = [\"d\"]\n",
    )
    .expect("write");
    let out = forkdebt(dir.path(), &["--config", "c.toml", "init"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("c.toml:4:") && err.contains("unknown field `path`"),
        "{err}"
    );
    assert!(!dir.path().join("x.db").exists());
}

#[test]
fn configured_downstreams_are_scanned_with_their_macros_and_marker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = crate::util::sample_distgit();
    let cfg = format!(
        "database = \"sqlite://c.db\"\n[[downstream]]\nname = \"hyperscale\"\npaths = [\"{}\"]\n\
         release_marker = '\\.(hs\\d*)'\n[downstream.macros]\nrhel = \"9\"\ndist = \".el9\"\n",
        sample.display()
    );
    std::fs::write(dir.path().join("c.toml"), cfg).expect("write");
    let out = forkdebt_ok(dir.path(), &["--config", "c.toml", "scan"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("hyperscale: 12 packages, 63 patches")),
        "{out}"
    );
    let show = forkdebt_ok(dir.path(), &["--config", "c.toml", "show", "glibc"]);
    // rhel = 9 decides the %if: the patch is carried unconditionally, and %{?dist} expands.
    assert!(
        show.contains("glibc 2.34-100.el9.hs1 (hyperscale)"),
        "{show}"
    );
    assert!(!show.contains("only when"), "{show}");
    assert!(show.contains("local release marker: hs1"), "{show}");
}
