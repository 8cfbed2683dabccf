//! What the base distribution ships: Koji (XML-RPC multiCall) and yum repodata, from the
//! recorded responses; plus the other recorded distribution data (mdapi, Bodhi).

use crate::httpd::{Handler, Reply, Request, Server};
use crate::util::{forkdebt, stderr};
use forkdebt_core::store::Store;
use forkdebt_scrapers::sources::{koji, repodata, xmlrpc};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

fn fixture(rel: &str) -> Vec<u8> {
    let path = crate::util::repo_root()
        .join("../shared/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(rel: &str) -> Value {
    serde_json::from_slice(&fixture(rel)).expect("json")
}

#[test]
fn koji_recordings_parse() {
    let v = koji::parse_response("hub", &fixture("koji/kojihub_repoInfo_stg.response.xml"))
        .expect("repoInfo");
    let repo = koji::parse_repo_info("hub", &v).expect("repo");
    assert_eq!(
        (repo.id, repo.tag_name.as_str(), repo.state),
        (9000370, "f27-build", 1)
    );
    assert_eq!(
        repo.creation_time.as_deref(),
        Some("2018-02-13 17:14:49.050450")
    );

    let v = koji::parse_response(
        "hub",
        &fixture("koji/kojihub_getRPMHeaders_exclude.response.xml"),
    )
    .expect("headers");
    assert_eq!(v["EXCLUDEARCH"], serde_json::json!(["armv7hl"]));
    assert_eq!(v["BUILDARCHS"], serde_json::json!([]));
    let v = koji::parse_response(
        "hub",
        &fixture("koji/kojihub_getRPMHeaders_exclusivearch.response.xml"),
    )
    .expect("headers");
    // Checked against Python's xmlrpc.client reading the same file.
    assert_eq!(v["EXCLUDEARCH"], serde_json::json!([]));
    assert_eq!(v["EXCLUSIVEARCH"].as_array().map(Vec::len), Some(11), "{v}");
    assert_eq!(v["EXCLUSIVEARCH"][0], "armv3l");

    // The recorded requests are what our client writes for the same call.
    let ours = xmlrpc::method_call(
        "getRPMHeaders",
        &[xmlrpc::Param::Kwargs(vec![
            (
                "headers".into(),
                xmlrpc::Param::Array(
                    ["BUILDARCHS", "EXCLUDEARCH", "EXCLUSIVEARCH"]
                        .iter()
                        .map(|h| xmlrpc::Param::Str(h.to_string()))
                        .collect(),
                ),
            ),
            (
                "rpmID".into(),
                xmlrpc::Param::Struct(vec![
                    (
                        "release".into(),
                        xmlrpc::Param::Str("0.20170221git663ebfd.0.fc25".into()),
                    ),
                    ("version".into(), xmlrpc::Param::Str("0.34dev".into())),
                    ("arch".into(), xmlrpc::Param::Str("src".into())),
                    ("name".into(), xmlrpc::Param::Str("ghdl".into())),
                ]),
            ),
        ])],
    );
    let norm = |s: &[u8]| {
        String::from_utf8_lossy(s)
            .split_whitespace()
            .collect::<String>()
    };
    assert_eq!(
        norm(ours.as_bytes()),
        norm(&fixture("koji/kojihub_getRPMHeaders_exclude.request.xml"))
    );
    for req in [
        "koji/kojihub_getRPMHeaders_exclusivearch.request.xml",
        "koji/kojihub_repoInfo_stg.request.xml",
    ] {
        let text = String::from_utf8(fixture(req)).expect("utf-8");
        assert!(
            text.contains("<methodName>") && text.contains("</methodCall>"),
            "{req}"
        );
    }

    let tagged = koji::parse_builds(
        "hub",
        &json("koji/reserialized/listTagged_f29-build_latest_inherit.json"),
    )
    .expect("builds");
    let evrs: Vec<String> = tagged
        .iter()
        .map(|b| format!("{} {}", b.name, b.evr()))
        .collect();
    assert!(
        evrs.contains(&"eclipse 1:4.7.3-2.fc29".to_string())
            && evrs.contains(&"rnv 1.7.11-15.fc28".to_string()),
        "{evrs:?}"
    );
    let build = koji::parse_build(
        "hub",
        &json("koji/reserialized/getBuild_gumbo-parser-0.10.1-22.fc35.json"),
    )
    .expect("build");
    assert_eq!(
        (build.name.as_str(), build.evr(), build.nvr.as_deref()),
        (
            "gumbo-parser",
            "1:0.10.1-22.fc35".to_string(),
            Some("gumbo-parser-0.10.1-22.fc35")
        )
    );
}

#[test]
fn repodata_recordings_parse() {
    let md = repodata::parse_repomd("repo_01", &fixture("repodata/repo_01/repodata/repomd.xml"))
        .expect("repomd");
    let primary = md.primary().expect("primary");
    assert_eq!(
        primary.href,
        "repodata/6c662d665c24de9a0f62c17d8fa50622307739d7376f0d19097ca96c6d7f5e3e-primary.xml.gz"
    );
    assert_eq!(md.revision.as_deref(), Some("1334667230"));
    let gz = fixture(&format!("repodata/repo_01/{}", primary.href));
    let shipped = repodata::parse_primary(
        "p",
        repodata::decompress(&primary.href, &gz).expect("gz"),
        &|_| true,
    )
    .expect("primary");
    assert_eq!(shipped["super_kernel"].evr.to_string(), "6.0.1-2");

    // Two builds of dwm: the newer one is what the repository ships.
    let md = repodata::parse_repomd(
        "koji",
        &fixture("repodata/repo_koji_01/repodata/repomd.xml"),
    )
    .expect("repomd");
    let href = &md.primary().expect("primary").href;
    let gz = fixture(&format!("repodata/repo_koji_01/{href}"));
    let shipped =
        repodata::parse_primary("p", repodata::decompress(href, &gz).expect("gz"), &|_| true)
            .expect("primary");
    assert_eq!(shipped["dwm"].nvr, "dwm-6.1-7.fc28");

    // The same primary.xml compressed by the reference zstd tool reads the same.
    let p = repodata::parse_repomd("repo_01", &fixture("repodata/repo_01/repodata/repomd.xml"))
        .expect("repomd");
    let href = &p.primary().expect("primary").href;
    let mut xml = Vec::new();
    std::io::Read::read_to_end(
        &mut repodata::decompress(href, &fixture(&format!("repodata/repo_01/{href}"))).expect("gz"),
        &mut xml,
    )
    .expect("read");
    let mut child = std::process::Command::new("zstd")
        .args(["-q", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("zstd is needed for this test (apt-get install zstd)");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &xml).expect("write");
    let zst = child.wait_with_output().expect("zstd").stdout;
    let shipped = repodata::parse_primary(
        "zst",
        repodata::decompress("x-primary.xml.zst", &zst).expect("zst"),
        &|_| true,
    )
    .expect("primary");
    assert_eq!(shipped["super_kernel"].evr.to_string(), "6.0.1-2");

    // The bare primary.xml snippet (no <metadata> wrapper) reads too.
    let snippet = fixture("repodata/primary_snippet_01.xml");
    let shipped = repodata::parse_primary("s", &snippet[..], &|_| true).expect("snippet");
    assert_eq!(shipped["super_kernel"].evr.to_string(), "6.0.1-2");

    // The other metadata files of both repositories are well-formed and list the same packages.
    for (repo, md) in [
        ("repo_01", "repodata/repo_01/repodata/repomd.xml"),
        ("repo_koji_01", "repodata/repo_koji_01/repodata/repomd.xml"),
    ] {
        let md = repodata::parse_repomd(repo, &fixture(md)).expect("repomd");
        let primary_packages = {
            let p = md.primary().expect("primary");
            let gz = fixture(&format!("repodata/{repo}/{}", p.href));
            let mut xml = String::new();
            std::io::Read::read_to_string(
                &mut repodata::decompress(&p.href, &gz).expect("gz"),
                &mut xml,
            )
            .expect("read");
            xml.matches("<package ").count()
        };
        for kind in ["filelists", "other"] {
            let d = md.data.iter().find(|d| d.kind == kind).expect(kind);
            let gz = fixture(&format!("repodata/{repo}/{}", d.href));
            let mut xml = String::new();
            std::io::Read::read_to_string(
                &mut repodata::decompress(&d.href, &gz).expect("gz"),
                &mut xml,
            )
            .expect("read");
            assert_eq!(
                xml.matches("<package ").count(),
                primary_packages,
                "{repo} {kind}"
            );
        }
    }

    // zchunk metadata is listed; its compression is named as unsupported, not misread.
    let md =
        repodata::parse_repomd("zck", &fixture("repodata/repomd_zck_repo_03.xml")).expect("repomd");
    assert!(
        md.data
            .iter()
            .any(|d| d.kind == "primary_zck" && d.href.ends_with(".zck"))
    );
    let zck = md
        .data
        .iter()
        .find(|d| d.kind == "primary_zck")
        .expect("zck");
    assert!(repodata::decompress(&zck.href, b"").is_err());
    assert!(repodata::parse_repomd("html", b"<html><body>not found</body></html>").is_err());
}

#[test]
fn other_distribution_recordings_parse() {
    for (file, version, release) in [
        (
            "mdapi/mdapi_koji_srcpkg_flatpak_2019-03.json",
            "1.2.3",
            "2.fc30",
        ),
        ("mdapi/mdapi_koji_srcpkg_flatpak_2019-08.json", "", ""),
    ] {
        let v = json(file);
        assert_eq!(v["basename"], "flatpak", "{file}");
        if !version.is_empty() {
            assert_eq!(
                (v["version"].as_str(), v["release"].as_str()),
                (Some(version), Some(release))
            );
        } else {
            assert!(v["version"].as_str().is_some_and(|s| !s.is_empty()));
        }
    }
    let u = json("bodhi/reserialized/bodhi_update_FEDORA-2022-9515529c96.json");
    assert_eq!(
        (u["status"].as_str(), u["release"]["name"].as_str()),
        (Some("stable"), Some("F35"))
    );
    assert!(
        u["builds"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b["nvr"] == "openjpeg2-2.4.0-5.fc35"))
    );
    let u = json("bodhi/reserialized/bodhi_update_FEDORA-2022-6746739d52.json");
    assert_eq!(u["alias"], "FEDORA-2022-6746739d52");
}

/// A Koji hub's XML-RPC answer carrying `v` (one `<param>`).
pub(crate) fn xmlrpc_reply(v: &Value) -> Reply {
    Reply::Send {
        status: 200,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: format!(
            "<?xml version='1.0'?><methodResponse><params><param>{}</param></params></methodResponse>",
            xml_value(v)
        )
        .into_bytes(),
    }
}

/// An XML-RPC `<value>` for a JSON value (to answer Koji calls in the fake hub).
pub(crate) fn xml_value(v: &Value) -> String {
    match v {
        Value::Null => "<value><nil/></value>".into(),
        Value::Bool(b) => format!("<value><boolean>{}</boolean></value>", u8::from(*b)),
        Value::Number(n) if n.is_i64() => format!("<value><int>{n}</int></value>"),
        Value::Number(n) => format!("<value><double>{n}</double></value>"),
        Value::String(s) => format!(
            "<value><string>{}</string></value>",
            s.replace('&', "&amp;").replace('<', "&lt;")
        ),
        Value::Array(a) => format!(
            "<value><array><data>{}</data></array></value>",
            a.iter().map(xml_value).collect::<String>()
        ),
        Value::Object(o) => format!(
            "<value><struct>{}</struct></value>",
            o.iter()
                .map(|(k, v)| format!("<member><name>{k}</name>{}</member>", xml_value(v)))
                .collect::<String>()
        ),
    }
}

/// A fake Koji hub answering `multiCall` of `getLatestBuilds` from the recorded `listTagged`,
/// and a repository serving repo_koji_01's files.
async fn fake_distro() -> Server {
    Server::start(fake_distro_handler()).await
}

/// Koji (`/kojihub`, multiCall over the recorded builds) and yum repodata (`/repo/`, the
/// recorded repository) of a base distribution.
pub fn fake_distro_handler() -> Handler {
    let builds: Vec<Value> = json("koji/reserialized/listTagged_f29-build_latest_inherit.json")
        .as_array()
        .cloned()
        .unwrap_or_default();
    let repo = crate::util::repo_root().join("../shared/fixtures/repodata/repo_koji_01");
    let handler: Handler = Arc::new(move |req: &Request| {
        if req.path == "/kojihub" {
            let body = String::from_utf8_lossy(&req.body);
            assert!(
                body.contains("<methodName>multiCall</methodName>"),
                "{body}"
            );
            // Each call names its package after `<name>package</name>`.
            let results: Vec<Value> = body
                .split("<name>package</name><value><string>")
                .skip(1)
                .map(|rest| {
                    let pkg = rest.split('<').next().unwrap_or_default();
                    let found: Vec<Value> = builds
                        .iter()
                        .filter(|b| b["name"] == pkg)
                        .cloned()
                        .collect();
                    Value::Array(vec![Value::Array(found)])
                })
                .collect();
            return xmlrpc_reply(&Value::Array(results));
        }
        match req.path.strip_prefix("/repo/") {
            Some(rel) => match std::fs::read(repo.join(rel)) {
                Ok(bytes) => Reply::Send {
                    status: 200,
                    headers: vec![("ETag".into(), format!("\"{}\"", bytes.len()))],
                    body: bytes,
                }
                .with_conditional(req),
                Err(_) => Reply::status(404, &[], "not found"),
            },
            None => Reply::status(404, &[], "not found"),
        }
    });
    handler
}

trait Conditional {
    fn with_conditional(self, req: &Request) -> Reply;
}

impl Conditional for Reply {
    /// 304 when the request's If-None-Match is this reply's ETag.
    fn with_conditional(self, req: &Request) -> Reply {
        if let Reply::Send { headers, .. } = &self {
            let etag = headers
                .iter()
                .find(|(k, _)| k == "ETag")
                .map(|(_, v)| v.clone());
            if etag.is_some() && req.header("if-none-match") == etag.as_deref() {
                return Reply::status(304, &[], "");
            }
        }
        self
    }
}

fn downstream(dir: &Path, url: &str) {
    for name in ["rnv", "eclipse", "dwm", "only-here"] {
        let pkg = dir.join(format!("distgit/rpms/{name}"));
        std::fs::create_dir_all(&pkg).expect("mkdir");
        std::fs::write(
            pkg.join(format!("{name}.spec")),
            format!("Name: {name}\nVersion: 1\nRelease: 1.hs\n"),
        )
        .expect("write");
    }
    std::fs::write(
        dir.join("forkdebt.toml"),
        format!(
            "database = \"sqlite://{db}\"\n[[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"f29\"\n\
             [[distro]]\nname = \"f29\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"f29-build\"\nrepodata_url = \"{url}/repo\"\n\
             [sources]\ntimeout_secs = 2\nmax_retries = 1\nmin_interval_ms = 0\nbackoff_min_ms = 20\n",
            db = dir.join("f.db").display()
        ),
    )
    .expect("config");
    let out = forkdebt(dir, &["--config", "forkdebt.toml", "scan"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_learns_what_the_base_distribution_ships() {
    let server = fake_distro().await;
    let dir = tempfile::tempdir().expect("tempdir");
    downstream(dir.path(), &server.url);
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        forkdebt(
            &path,
            &[
                "--config",
                "forkdebt.toml",
                "sync",
                "--source",
                "koji",
                "--source",
                "repodata",
            ],
        )
    })
    .await
    .expect("join");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}\n{}", stderr(&out));
    assert!(
        said.contains("koji         4 items, 1 requests"),
        "one multiCall for four packages: {said}"
    );
    assert!(
        said.contains("repodata     4 items, 2 requests"),
        "repomd.xml and primary.xml: {said}"
    );

    let store = Store::open(&format!("sqlite://{}", dir.path().join("f.db").display()))
        .await
        .expect("open");
    let koji = store
        .observations(forkdebt_core::source::Dataset::Koji)
        .await
        .expect("koji");
    assert!(koji.contains_key("f29/eclipse"), "{koji:?}");
    let eclipse: Value = serde_json::from_str(
        koji["f29/eclipse"]
            .data
            .as_deref()
            .unwrap_or_else(|| panic!("{:?}", koji["f29/eclipse"])),
    )
    .expect("json");
    assert_eq!(
        (
            eclipse["build"]["epoch"].as_i64(),
            eclipse["build"]["version"].as_str()
        ),
        (Some(1), Some("4.7.3"))
    );
    let absent: Value =
        serde_json::from_str(koji["f29/only-here"].data.as_deref().expect("data")).expect("json");
    assert!(absent["build"].is_null(), "not in the tag: {absent}");
    let repo = store
        .observations(forkdebt_core::source::Dataset::Repodata)
        .await
        .expect("repodata");
    let dwm: Value =
        serde_json::from_str(repo["f29/dwm"].data.as_deref().expect("data")).expect("json");
    assert_eq!(dwm["evr"], "6.1-7.fc28");
    store.close().await;

    // Nothing changed: repomd.xml answers 304 and primary.xml is not fetched again.
    server.clear();
    let path = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        forkdebt(
            &path,
            &["--config", "forkdebt.toml", "sync", "--source", "repodata"],
        )
    })
    .await
    .expect("join");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("repodata     4 items, 1 requests, 1 not modified"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(server.requests().len(), 1);
}
