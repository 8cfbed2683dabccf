//! yum/dnf repository metadata: `repomd.xml`, then `primary.xml` (gz, zst or plain), read as
//! a stream, to learn the newest EVR of every source package a repository ships.

use super::{Context, DistroPart, Fetched, PerDistro, SourceError, fetch_conditional};
use crate::http::Get;
use forkdebt_core::config::Config;
use forkdebt_core::evr::Evr;
use forkdebt_core::observation::{self, shipped};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun};
use quick_xml::Reader;
use quick_xml::events::Event;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Read};

const DATASET: Dataset = Dataset::Repodata;
pub const MAX_REPOMD_BYTES: usize = 1024 * 1024;
/// A compressed primary.xml of a large distribution is ~30 MB.
pub const MAX_PRIMARY_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RepodataError {
    #[error("{what}: malformed XML: {message}")]
    Xml { what: String, message: String },
    #[error("{0}: no primary metadata in repomd.xml")]
    NoPrimary(String),
    #[error("{0}: unsupported compression (gz, zst and plain XML are read)")]
    Compression(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// One `<data>` of repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    pub kind: String,
    pub href: String,
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repomd {
    pub revision: Option<String>,
    pub data: Vec<DataFile>,
}

impl Repomd {
    pub fn primary(&self) -> Option<&DataFile> {
        self.data.iter().find(|d| d.kind == "primary")
    }
}

fn xml_err(what: &str, e: impl std::fmt::Display) -> RepodataError {
    RepodataError::Xml {
        what: what.to_string(),
        message: e.to_string(),
    }
}

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.0 == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Parses repomd.xml.
///
/// # Errors
/// Malformed XML.
pub fn parse_repomd(what: &str, xml: &[u8]) -> Result<Repomd, RepodataError> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut md = Repomd::default();
    let mut current: Option<DataFile> = None;
    let mut in_el = String::new();
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| xml_err(what, e))?
        {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name().into_inner().to_string();
                match name.as_str() {
                    "data" => {
                        current = Some(DataFile {
                            kind: attr(&e, "type").unwrap_or_default(),
                            href: String::new(),
                            checksum: None,
                        })
                    }
                    "location" => {
                        if let (Some(d), Some(h)) = (current.as_mut(), attr(&e, "href")) {
                            d.href = h;
                        }
                    }
                    _ => {}
                }
                in_el = name;
            }
            Event::Text(t) => {
                let text = t.xml10_content().trim().to_string();
                match in_el.as_str() {
                    "revision" => md.revision = Some(text),
                    "checksum" => {
                        if let Some(d) = current.as_mut() {
                            d.checksum = Some(text);
                        }
                    }
                    _ => {}
                }
            }
            Event::End(e) => {
                if e.local_name().into_inner() == "data" {
                    md.data.extend(current.take());
                }
                in_el.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if md.data.is_empty() && md.revision.is_none() {
        return Err(xml_err(what, "not a repomd document"));
    }
    Ok(md)
}

/// The newest source package of each name found in primary.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipped {
    pub evr: Evr,
    pub nvr: String,
}

/// Reads primary.xml as a stream, keeping the newest EVR per source package name, for names
/// `wanted` accepts. Binary packages count for their source RPM (`rpm:sourcerpm`).
///
/// # Errors
/// Malformed XML or a read error.
pub fn parse_primary<R: BufRead>(
    what: &str,
    input: R,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<BTreeMap<String, Shipped>, RepodataError> {
    let mut reader = Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut out: BTreeMap<String, Shipped> = BTreeMap::new();
    let mut name = String::new();
    let mut arch = String::new();
    let mut evr: Option<Evr> = None;
    let mut sourcerpm = String::new();
    let mut in_el = String::new();
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| xml_err(what, e))?
        {
            Event::Start(e) | Event::Empty(e) => {
                let el = e.local_name().into_inner().to_string();
                match el.as_str() {
                    "package" => {
                        name.clear();
                        arch.clear();
                        sourcerpm.clear();
                        evr = None;
                    }
                    "version" if evr.is_none() => {
                        let epoch = attr(&e, "epoch").filter(|e| e != "0").unwrap_or_default();
                        evr = Some(Evr::new(
                            epoch,
                            attr(&e, "ver").unwrap_or_default(),
                            attr(&e, "rel").unwrap_or_default(),
                        ));
                    }
                    _ => {}
                }
                in_el = el;
            }
            Event::Text(t) => {
                let text = t.xml10_content();
                match in_el.as_str() {
                    "name" if name.is_empty() => name = text.trim().to_string(),
                    "arch" if arch.is_empty() => arch = text.trim().to_string(),
                    "sourcerpm" => sourcerpm = text.trim().to_string(),
                    _ => {}
                }
            }
            Event::End(e) => {
                if e.local_name().into_inner() == "package"
                    && let Some(v) = evr.take()
                {
                    // A binary package stands for its source: name from `name-ver-rel.src.rpm`.
                    let source_name = if arch == "src" || arch == "nosrc" || sourcerpm.is_empty() {
                        name.clone()
                    } else {
                        source_name(&sourcerpm).unwrap_or_else(|| name.clone())
                    };
                    if wanted(&source_name) {
                        let nvr = format!("{source_name}-{}-{}", v.version, v.release);
                        let newer = out.get(&source_name).is_none_or(|s| v > s.evr);
                        if newer {
                            out.insert(source_name, Shipped { evr: v, nvr });
                        }
                    }
                }
                in_el.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

/// `systemd-252-14.el9.src.rpm` -> `systemd`.
fn source_name(sourcerpm: &str) -> Option<String> {
    let stem = sourcerpm
        .strip_suffix(".src.rpm")
        .or_else(|| sourcerpm.strip_suffix(".nosrc.rpm"))?;
    let (nv, _release) = stem.rsplit_once('-')?;
    let (n, _version) = nv.rsplit_once('-')?;
    Some(n.to_string())
}

/// A reader over primary.xml's bytes, decompressing by the file name.
///
/// # Errors
/// A compression this code does not read.
pub fn decompress<'a>(href: &str, bytes: &'a [u8]) -> Result<Box<dyn BufRead + 'a>, RepodataError> {
    let limited = |r: Box<dyn Read + 'a>| -> Box<dyn BufRead + 'a> {
        Box::new(std::io::BufReader::new(TextNodeLimit { inner: r, run: 0 }))
    };
    if href.ends_with(".gz") {
        Ok(limited(Box::new(flate2::bufread::GzDecoder::new(bytes))))
    } else if href.ends_with(".zst") {
        let d = ruzstd::decoding::StreamingDecoder::new(bytes).map_err(|e| RepodataError::Io {
            what: href.to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(limited(Box::new(d)))
    } else if href.ends_with(".xml") {
        Ok(limited(Box::new(bytes)))
    } else {
        Err(RepodataError::Compression(href.to_string()))
    }
}

/// The longest run of bytes without a `<`: no text node or tag of primary.xml comes near
/// it, and the XML reader buffers a whole text node, so a small download that inflates to
/// one gigabyte-long node would otherwise be held in memory.
pub const MAX_TEXT_RUN: usize = 1024 * 1024;

/// Fails the read once more than [`MAX_TEXT_RUN`] bytes pass without a `<`.
struct TextNodeLimit<'a> {
    inner: Box<dyn Read + 'a>,
    run: usize,
}

impl Read for TextNodeLimit<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for b in &buf[..n] {
            if *b == b'<' {
                self.run = 0;
            } else {
                self.run += 1;
            }
        }
        if self.run > MAX_TEXT_RUN {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("more than {MAX_TEXT_RUN} bytes without markup: not a primary.xml"),
            ));
        }
        Ok(n)
    }
}

/// The repodata source: the repository of every base distribution that has one.
pub type Repodata = PerDistro<Repo>;

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "repodata",
    about: "what each base distribution's yum repository ships ([[distro]] repodata_url)",
    datasets: &[forkdebt_core::source::Dataset::Repodata],
    section: None,
    build: Some(|c| Ok(Box::new(from_config(c)))),
};

pub fn from_config(config: &Config) -> Repodata {
    PerDistro::from_config(config, |d| {
        Some(Repo {
            distro: d.name.clone(),
            url: d.repodata_url.clone()?,
        })
    })
}

/// The yum repository of one base distribution.
pub struct Repo {
    pub distro: String,
    /// The repository's base URL (the folder that holds `repodata/`).
    pub url: String,
}

#[async_trait::async_trait]
impl DistroPart for Repo {
    fn distro(&self) -> &str {
        &self.distro
    }

    fn url(&self) -> &str {
        &self.url
    }

    async fn sync(
        &self,
        cx: &Context<'_>,
        packages: &[String],
        run: &mut SourceRun,
    ) -> Result<(), SourceError> {
        let (http, store, progress) = (cx.http, cx.store, cx.progress);
        let base = format!("{}/", self.url.trim_end_matches('/'));
        let item = |p: &String| shipped::item(&self.distro, p);
        let fail = |run: &mut SourceRun, e: String| -> Vec<(String, ItemOutcome)> {
            run.error.get_or_insert(e.clone());
            packages
                .iter()
                .map(|p| (item(p), ItemOutcome::Failed(e.clone())))
                .collect()
        };
        progress(&format!("repodata {}: repomd.xml", self.distro));
        let repomd_url = format!("{base}repodata/repomd.xml");
        let get = Get {
            url: repomd_url.clone(),
            max_bytes: MAX_REPOMD_BYTES,
            ..Get::default()
        };
        let outcomes = match fetch_conditional(http, store, get, run).await? {
            Ok(Fetched::NotModified) => packages
                .iter()
                .map(|p| (item(p), ItemOutcome::Unchanged))
                .collect(),
            Ok(Fetched::Body(xml)) => match parse_repomd(&repomd_url, &xml) {
                Ok(md) => match md.primary() {
                    Some(primary) => {
                        progress(&format!("repodata {}: {}", self.distro, primary.href));
                        let url = format!("{base}{}", primary.href);
                        let get = Get {
                            url: url.clone(),
                            max_bytes: MAX_PRIMARY_BYTES,
                            ..Get::default()
                        };
                        // primary.xml is named by its checksum: it never changes under one name.
                        store.store_validators(&url, None, None).await?;
                        match http.get_counted(&get).await {
                            (Ok(crate::http::Response::Fresh { body, .. }), n) => {
                                run.requests += n as i64;
                                let wanted: HashSet<&str> =
                                    packages.iter().map(String::as_str).collect();
                                let parsed = decompress(&primary.href, &body)
                                    .and_then(|r| parse_primary(&url, r, &|n| wanted.contains(n)));
                                match parsed {
                                    Ok(newest) => packages
                                        .iter()
                                        .map(|p| {
                                            let found = newest.get(p);
                                            let latest = shipped::RepoLatest {
                                                evr: found.map(|s| s.evr.to_string()),
                                                nvr: found.map(|s| s.nvr.clone()),
                                                revision: md.revision.clone(),
                                            };
                                            (
                                                item(p),
                                                ItemOutcome::Observed {
                                                    data: observation::to_data(&latest),
                                                    upstream_changed_at: md.revision.clone(),
                                                },
                                            )
                                        })
                                        .collect(),
                                    Err(e) => fail(run, e.to_string()),
                                }
                            }
                            (Ok(crate::http::Response::NotModified), n) => {
                                run.requests += n as i64;
                                packages
                                    .iter()
                                    .map(|p| (item(p), ItemOutcome::Unchanged))
                                    .collect()
                            }
                            (Err(e), n) => {
                                run.requests += n as i64;
                                fail(run, e.to_string())
                            }
                        }
                    }
                    None => fail(
                        run,
                        RepodataError::NoPrimary(repomd_url.clone()).to_string(),
                    ),
                },
                Err(e) => fail(run, e.to_string()),
            },
            Err(e) => fail(run, e.to_string()),
        };
        super::record(store, DATASET, &outcomes, run).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_node_that_inflates_to_gigabytes_is_refused_early() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write as _;
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(b"<metadata><package><name>").expect("gz");
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&chunk).expect("gz");
        }
        gz.write_all(b"</name></package></metadata>").expect("gz");
        let gz = gz.finish().expect("gz");
        assert!(gz.len() < 1 << 20, "a small download");
        let reader = decompress("primary.xml.gz", &gz).expect("reader");
        let err = parse_primary("primary.xml.gz", reader, &|_| true).expect_err("refused");
        assert!(err.to_string().contains("without markup"), "{err}");
    }
}
