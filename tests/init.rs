//! `forkdebt init --preset hyperscale` writes a configuration forkdebt reads, never over an
//! existing file; `forkdebt init --check` says which configured endpoints answer.

use crate::util::{forkdebt, forkdebt_ok, stderr};

#[test]
fn the_hyperscale_preset_is_a_configuration_forkdebt_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let said = forkdebt_ok(
        dir.path(),
        &["--config", "conf/hs.toml", "init", "--preset", "hyperscale"],
    );
    assert!(said.contains("wrote conf/hs.toml"), "{said}");
    let path = dir.path().join("conf/hs.toml");
    let config = forkdebt_core::config::Config::load(&path).expect("the preset parses");
    forkdebt_scrapers::sources::check(&config, "hs.toml").expect("every source section reads");
    let bases: Vec<_> = config.downstream.iter().map(|d| d.base.clone()).collect();
    assert_eq!(bases, [Some("c9s".to_string()), Some("c10s".to_string())]);
    assert!(
        config
            .fork
            .iter()
            .any(|f| f.distro.as_deref() == Some("c9s"))
    );
    // Never over someone's file.
    let out = forkdebt(
        dir.path(),
        &["--config", "conf/hs.toml", "init", "--preset", "hyperscale"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already exists; not replaced"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn init_check_says_which_endpoints_answer() {
    let distro = crate::basedistro::fake_distro_handler();
    let server = crate::httpd::Server::start(std::sync::Arc::new(move |req: &crate::httpd::Request| {
        if String::from_utf8_lossy(&req.body).contains("<methodName>getAPIVersion</methodName>") {
            // Koji's answer to getAPIVersion.
            return crate::httpd::Reply::Send {
                status: 200,
                headers: vec![("Content-Type".into(), "text/xml".into())],
                body: b"<?xml version='1.0'?><methodResponse><params><param><value><int>1</int></value></param></params></methodResponse>".to_vec(),
            };
        }
        distro(req)
    }))
    .await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("f.toml"),
        format!(
            "[[downstream]]\nname = \"hs\"\nkoji_url = \"{dead}/kojihub\"\ntags = [\"t\"]\n\
             [[distro]]\nname = \"c9s\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"c9s-candidate\"\nrepodata_url = \"{url}/repo\"\n\
             [sources]\ntimeout_secs = 2\nmax_retries = 0\nmin_interval_ms = 0\n\
             [sources.jira]\nurl = \"{url}\"\n",
            url = server.url
        ),
    )
    .expect("config");
    let d = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        forkdebt(&d, &["--config", "f.toml", "init", "--check"])
    })
    .await
    .expect("join");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "one does not answer: {said}");
    let line = |what: &str| {
        said.lines()
            .find(|l| l.starts_with(what))
            .unwrap_or_else(|| panic!("{what} in {said}"))
            .to_string()
    };
    assert!(
        line("c9s repodata").ends_with("answers (HTTP 2xx)"),
        "{said}"
    );
    assert!(line("jira").contains("answers (HTTP 404)"), "{said}");
    assert!(line("hs koji").contains("does not answer"), "{said}");
    assert!(line("c9s koji").ends_with("answers (HTTP 2xx)"), "{said}");
    assert!(said.contains("3 of 4 endpoints answer"), "{said}");
}
