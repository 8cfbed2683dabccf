//! Fedora Changes on the Fedora wiki (MediaWiki action API).
//!
//! - category membership (`list=categorymembers`, with continuation) tells where a Change
//!   stands: `ChangeReadyForWrangler`, `ChangeAnnounced`, `ChangeReadyForFesco`,
//!   `ChangeAcceptedF<NN>`;
//! - each Change page's wikitext (`prop=revisions`, 50 titles per request) gives its owner,
//!   type, targeted release, tracker bug, FESCo ticket and release-notes ticket;
//! - `Releases/<NN>/ChangeSet` (`action=parse`, HTML read with `scraper`) lists a release's
//!   Changes.

use super::{Context, Fetched, ParseError, Source, SourceError, fetch_conditional, json};
use crate::http::{Get, Http};
use forkdebt_core::config::Config;
use forkdebt_core::inventory::refs::{self, TextContext};
use forkdebt_core::model::{RefKind, Role};
use forkdebt_core::observation::{self, fedora::ChangeObservation};
use forkdebt_core::source::Dataset;
use forkdebt_core::store::{ItemOutcome, SourceRun, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};

pub use forkdebt_core::observation::fedora::ChangePage;

const DATASET: Dataset = Dataset::FedoraWiki;
pub const DEFAULT_URL: &str = "https://fedoraproject.org/w/api.php";
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Titles per `prop=revisions` request (the API's limit for ordinary clients).
pub const TITLES_PER_REQUEST: usize = 50;
/// Pages of category members followed per category: a runaway continuation stops here.
pub const MAX_CONTINUATIONS: usize = 50;

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The id in a field like `[https://bugzilla.redhat.com/show_bug.cgi?id=2028147 #2028147]`.
fn field_ref(value: &str, kind: RefKind) -> Option<String> {
    let ctx = TextContext::new(None, String::new(), Role::Related);
    refs::extract(value, &ctx)
        .into_iter()
        .find(|r| r.kind == kind || (kind == RefKind::Url && r.url.is_some()))
        .map(|r| r.url.unwrap_or(r.id))
}

/// Reads a Change page's wikitext (as `action=raw` or `prop=revisions` return it).
pub fn parse_change_page(title: &str, wikitext: &str) -> ChangePage {
    let text = strip_comments(wikitext);
    let mut page = ChangePage {
        title: title.to_string(),
        ..ChangePage::default()
    };
    let mut section = String::new();
    let mut summary = String::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix("==").and_then(|h| h.strip_suffix("==")) {
            section = h.trim_matches('=').trim().to_lowercase();
            continue;
        }
        if page.name.is_none()
            && let Some(h) = t.strip_prefix('=').and_then(|h| h.strip_suffix('='))
            && !t.starts_with("==")
        {
            page.name = Some(h.trim().to_string());
            continue;
        }
        let mut rest = t;
        while let Some(pos) = rest.find("[[Category:") {
            let after = &rest[pos + 11..];
            let end = after.find("]]").unwrap_or(after.len());
            let cat = after[..end]
                .split('|')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            match cat.as_str() {
                "SelfContainedChange" => page.kind = Some("self-contained".into()),
                "SystemWideChange" => page.kind = Some("system-wide".into()),
                _ => {}
            }
            if !cat.is_empty() {
                page.categories.push(cat);
            }
            rest = &after[end.min(after.len())..];
        }
        let field = |name: &str| {
            t.trim_start_matches('*')
                .trim()
                .strip_prefix(name)
                .map(|v| v.trim_start_matches(':').trim().to_string())
        };
        if let Some(v) = field("Targeted release") {
            page.targeted_release = v
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .find_map(|n| n.parse().ok().filter(|n: &u32| (20..1000).contains(n)));
        } else if let Some(v) = field("Tracker bug") {
            page.tracker_bug = field_ref(&v, RefKind::Rhbz);
        } else if let Some(v) = field("FESCo issue") {
            page.fesco_ticket = field_ref(&v, RefKind::Url);
        } else if let Some(v) = field("Release notes tracker") {
            page.release_notes_ticket = field_ref(&v, RefKind::Url);
        } else if section == "owner"
            && let Some(v) = field("Name")
        {
            page.owners = v
                .split("]]")
                .filter_map(|p| p.split('|').nth(1).map(|n| n.trim().to_string()))
                .filter(|n| !n.is_empty())
                .collect();
        } else if section == "summary" && !t.is_empty() {
            if !summary.is_empty() {
                summary.push(' ');
            }
            summary.push_str(t);
        }
    }
    page.summary = (!summary.is_empty()).then_some(summary);
    page
}

/// A MediaWiki list answer: the titles and the `continue` parameters for the next page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    pub titles: Vec<String>,
    pub continue_with: Option<BTreeMap<String, String>>,
}

fn envelope(url: &str, body: &[u8]) -> Result<serde_json::Value, ParseError> {
    let v: serde_json::Value = json(url, body)?;
    if let Some(e) = v.get("error") {
        let info = e.get("info").and_then(|i| i.as_str()).unwrap_or("error");
        return Err(ParseError::Service {
            url: url.into(),
            message: info.into(),
        });
    }
    Ok(v)
}

fn continuation(v: &serde_json::Value) -> Option<BTreeMap<String, String>> {
    let c = v.get("continue")?.as_object()?;
    let map: BTreeMap<String, String> = c
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect();
    // `{"continue": "-||"}` alone (a null list cursor) means there is nothing more.
    (map.keys().any(|k| k != "continue")).then_some(map)
}

/// `list=categorymembers` (or any `list=`): titles and continuation.
///
/// # Errors
/// Not a MediaWiki answer, or its `error`.
pub fn parse_listing(url: &str, body: &[u8], list: &str) -> Result<Listing, ParseError> {
    let v = envelope(url, body)?;
    let items = v
        .get("query")
        .and_then(|q| q.get(list))
        .and_then(|l| l.as_array())
        .cloned()
        .unwrap_or_default();
    Ok(Listing {
        titles: items
            .iter()
            .filter_map(|i| i.get("title").and_then(|t| t.as_str()).map(str::to_string))
            .collect(),
        continue_with: continuation(&v),
    })
}

/// One page of `prop=revisions`: title, last revision time, wikitext if asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRevision {
    pub title: String,
    pub missing: bool,
    pub timestamp: Option<String>,
    pub content: Option<String>,
}

/// `prop=revisions` (with or without `rvprop=content`, `rvslots=main` or the old layout).
///
/// # Errors
/// Not a MediaWiki answer, or its `error`.
pub fn parse_revisions(url: &str, body: &[u8]) -> Result<Vec<PageRevision>, ParseError> {
    let v = envelope(url, body)?;
    let pages: Vec<serde_json::Value> = match v.get("query").and_then(|q| q.get("pages")) {
        Some(serde_json::Value::Object(m)) => m.values().cloned().collect(),
        Some(serde_json::Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    Ok(pages
        .iter()
        .map(|p| {
            let rev = p
                .get("revisions")
                .and_then(|r| r.as_array())
                .and_then(|r| r.first());
            let content = rev.and_then(|r| {
                r.pointer("/slots/main/content")
                    .or_else(|| r.pointer("/slots/main/*"))
                    .or_else(|| r.get("*"))
                    .or_else(|| r.get("content"))
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            });
            PageRevision {
                title: p
                    .get("title")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_string(),
                missing: p.get("missing").is_some(),
                timestamp: rev
                    .and_then(|r| r.get("timestamp"))
                    .and_then(|t| t.as_str())
                    .map(str::to_string),
                content,
            }
        })
        .collect())
}

/// The Change titles a `Releases/<NN>/ChangeSet` page links to (its rendered HTML).
pub fn parse_changeset_html(html: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let Ok(links) = scraper::Selector::parse("a[href]") else {
        return Vec::new();
    };
    let mut out: Vec<String> = doc
        .select(&links)
        .filter_map(|a| {
            let href = a.value().attr("href")?;
            let pos = href.find("Changes/")?;
            let name = href[pos..].split(['#', '?']).next()?.to_string();
            Some(url_decode(&name).replace('_', " "))
        })
        .collect();
    let mut seen = BTreeSet::new();
    out.retain(|t| seen.insert(t.clone()));
    out
}

fn url_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// `action=parse&prop=text` answers: the rendered HTML.
///
/// # Errors
/// Not a MediaWiki answer, or its `error`.
pub fn parse_rendered(url: &str, body: &[u8]) -> Result<String, ParseError> {
    let v = envelope(url, body)?;
    Ok(v.pointer("/parse/text/*")
        .or_else(|| v.pointer("/parse/text"))
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_string())
}

/// The status categories, for the configured releases.
pub fn status_categories(releases: &[u32]) -> Vec<String> {
    let mut cats: Vec<String> = [
        "ChangeReadyForWrangler",
        "ChangeAnnounced",
        "ChangeReadyForFesco",
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    for r in releases {
        cats.push(format!("ChangeAcceptedF{r}"));
        // Deferral shows as the page moving to the next release's category.
        cats.push(format!("ChangeAcceptedF{}", r + 1));
    }
    cats.sort();
    cats.dedup();
    cats
}

/// The Fedora wiki source.
/// `[sources.fedora_wiki]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub url: Option<String>,
    /// The Fedora releases whose Change categories and ChangeSets are read.
    #[serde(default)]
    pub releases: Vec<u32>,
}

pub const SOURCE: super::Descriptor = super::Descriptor {
    name: "fedora_wiki",
    about: "the Fedora wiki: Change pages, their categories, ChangeSets, FESCo tickets",
    datasets: &[
        forkdebt_core::source::Dataset::FedoraWiki,
        forkdebt_core::source::Dataset::Fesco,
    ],
    section: Some(|c| super::read_section::<Section>(c, "fedora_wiki")),
    build: Some(|c| Ok(Box::new(FedoraWiki::from_config(c)?))),
};

pub struct FedoraWiki {
    pub api: String,
    pub releases: Vec<u32>,
    /// API bases by host for FESCo tickets (`pagure.io`, `forge.fedoraproject.org`), from
    /// `[sources.pagure] hosts` and `[sources.forgejo]`; otherwise `https://HOST`.
    pub ticket_hosts: std::collections::HashMap<String, String>,
}

impl FedoraWiki {
    fn url(&self, params: &[(&str, &str)]) -> String {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().copied())
            .extend_pairs([("format", "json"), ("formatversion", "2")])
            .finish();
        format!("{}?{q}", self.api)
    }

    async fn get(
        &self,
        http: &Http,
        store: &Store,
        url: String,
        run: &mut SourceRun,
    ) -> Result<Result<Option<Vec<u8>>, String>, StoreError> {
        let get = Get {
            url,
            max_bytes: MAX_BODY_BYTES,
            ..Get::default()
        };
        Ok(match fetch_conditional(http, store, get, run).await? {
            Ok(Fetched::Body(b)) => Ok(Some(b)),
            Ok(Fetched::NotModified) => Ok(None),
            Err(e) => Err(e.to_string()),
        })
    }

    /// # Errors
    /// Its section, or the Pagure and Forgejo sections (where FESCo tickets are), cannot be
    /// read.
    pub fn from_config(config: &Config) -> Result<FedoraWiki, String> {
        let cfg: Section = config.sources.section("fedora_wiki")?;
        let pagure: super::pagure::Section = config.sources.section("pagure")?;
        let forgejo: super::forgejo::Section = config.sources.section("forgejo")?;
        let mut ticket_hosts = std::collections::HashMap::new();
        ticket_hosts.extend(pagure.hosts);
        if let Some(u) = &forgejo.url
            && let Some(host) = super::host_of(u)
        {
            ticket_hosts.insert(host, u.clone());
        }
        ticket_hosts.extend(forgejo.hosts);
        Ok(FedoraWiki {
            api: cfg.url.unwrap_or_else(|| DEFAULT_URL.to_string()),
            releases: cfg.releases,
            ticket_hosts,
        })
    }

    /// 4. The FESCo ticket of every Change page: its state, labels and close time.
    async fn fesco_tickets(
        &self,
        cx: &Context<'_>,
        run: &mut SourceRun,
    ) -> Result<(), SourceError> {
        use forkdebt_core::observation::fedora::{FescoTicket, fesco_api};
        let (http, store) = (cx.http, cx.store);
        let mut links: Vec<String> = store
            .observations(DATASET)
            .await?
            .values()
            .filter_map(|o| observation::read::<ChangeObservation>(o.data.as_deref()))
            .filter_map(|c| c.page.fesco_ticket)
            .collect();
        links.sort();
        links.dedup();
        let base_for = |host: &str| {
            self.ticket_hosts
                .get(host)
                .cloned()
                .unwrap_or_else(|| format!("https://{host}"))
        };
        for link in links {
            let Some((api, forgejo)) = fesco_api(&link, &base_for) else {
                continue;
            };
            (cx.progress)(&format!("fesco: {link}"));
            let outcome = match self.get(http, store, api.clone(), run).await? {
                Ok(None) => ItemOutcome::Unchanged,
                Ok(Some(body)) => {
                    let parsed = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| {
                            if forgejo {
                                FescoTicket::from_forgejo(&v)
                            } else {
                                FescoTicket::from_pagure(&v)
                            }
                        });
                    match parsed {
                        Some(t) => ItemOutcome::Observed {
                            data: observation::to_data(&t),
                            upstream_changed_at: t.closed_at.clone(),
                        },
                        None => ItemOutcome::Failed(format!("{api}: not a ticket")),
                    }
                }
                Err(e) => ItemOutcome::Failed(e),
            };
            super::record(store, Dataset::Fesco, &[(link, outcome)], run).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Source for FedoraWiki {
    fn hosts(&self) -> Vec<String> {
        super::host_of(&self.api).into_iter().collect()
    }

    async fn sync(&self, cx: &Context<'_>, run: &mut SourceRun) -> Result<(), SourceError> {
        let (http, store, progress) = (cx.http, cx.store, cx.progress);
        // The Changes the inventory names (patches and policy deviations). With none, the
        // wiki has nothing to tell us: ask nothing.
        let mut titles: Vec<String> = store
            .reference_ids(RefKind::FedoraChange)
            .await?
            .into_iter()
            .filter(|id| cx.keeps_item(id))
            .map(|id| format!("Changes/{}", id.replace('_', " ")))
            .collect();
        titles.sort();
        titles.dedup();
        if titles.is_empty() {
            return Ok(());
        }
        // 1. Which status category each Change is in.
        let mut membership: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for cat in status_categories(&self.releases) {
            progress(&format!("fedora wiki: Category:{cat}"));
            let mut cont: Option<BTreeMap<String, String>> = None;
            for _ in 0..MAX_CONTINUATIONS {
                let title = format!("Category:{cat}");
                let mut params: Vec<(&str, &str)> = vec![
                    ("action", "query"),
                    ("list", "categorymembers"),
                    ("cmtitle", &title),
                    ("cmlimit", "500"),
                ];
                let extra: Vec<(String, String)> =
                    cont.clone().unwrap_or_default().into_iter().collect();
                for (k, v) in &extra {
                    params.push((k, v));
                }
                let url = self.url(&params);
                match self.get(http, store, url.clone(), run).await? {
                    Ok(Some(body)) => match parse_listing(&url, &body, "categorymembers") {
                        Ok(l) => {
                            for t in l.titles {
                                membership.entry(t).or_default().insert(cat.clone());
                            }
                            cont = l.continue_with;
                        }
                        Err(e) => {
                            run.error.get_or_insert(e.to_string());
                            cont = None;
                        }
                    },
                    // Unchanged since last time: keep the stored membership of this category.
                    Ok(None) => {
                        for (item, o) in store.observations(DATASET).await? {
                            let Some(c) = observation::read::<ChangeObservation>(o.data.as_deref())
                            else {
                                continue;
                            };
                            if c.status_categories.contains(&cat) {
                                membership.entry(item).or_default().insert(cat.clone());
                            }
                        }
                        cont = None;
                    }
                    Err(e) => {
                        run.error.get_or_insert(e);
                        cont = None;
                    }
                }
                if cont.is_none() {
                    break;
                }
            }
        }
        // 2. The pages of the Changes the inventory names, 50 per request.
        run.items = titles.len() as i64;
        for chunk in titles.chunks(TITLES_PER_REQUEST) {
            progress(&format!("fedora wiki: {} Change pages", chunk.len()));
            let joined = chunk.join("|");
            let url = self.url(&[
                ("action", "query"),
                ("prop", "revisions"),
                ("rvprop", "content|timestamp"),
                ("rvslots", "main"),
                ("titles", &joined),
            ]);
            let outcomes: Vec<(String, ItemOutcome)> = match self
                .get(http, store, url.clone(), run)
                .await?
            {
                // The pages did not change, but a Change can move category (accepted, deferred)
                // without its page changing: refresh the membership kept with the page.
                Ok(None) => {
                    let stored = store.observations(DATASET).await?;
                    chunk
                        .iter()
                        .map(|t| {
                            let cats: Vec<String> = membership
                                .get(t)
                                .map(|c| c.iter().cloned().collect())
                                .unwrap_or_default();
                            let old = stored.get(t).and_then(|o| {
                                observation::read::<ChangeObservation>(o.data.as_deref())
                            });
                            match old {
                                Some(mut c) if c.status_categories != cats => {
                                    c.status_categories = cats;
                                    let changed =
                                        stored.get(t).and_then(|o| o.upstream_changed_at.clone());
                                    (
                                        t.clone(),
                                        ItemOutcome::Observed {
                                            data: observation::to_data(&c),
                                            upstream_changed_at: changed,
                                        },
                                    )
                                }
                                _ => (t.clone(), ItemOutcome::Unchanged),
                            }
                        })
                        .collect()
                }
                Ok(Some(body)) => match parse_revisions(&url, &body) {
                    Ok(pages) => chunk
                        .iter()
                        .map(|t| {
                            let found = pages.iter().find(|p| p.title.replace('_', " ") == *t);
                            let outcome = match found {
                                Some(p) if !p.missing => {
                                    let page = parse_change_page(
                                        t,
                                        p.content.as_deref().unwrap_or_default(),
                                    );
                                    let status_categories: Vec<String> = membership
                                        .get(t)
                                        .map(|c| c.iter().cloned().collect())
                                        .unwrap_or_default();
                                    let data = observation::to_data(&ChangeObservation {
                                        page,
                                        status_categories,
                                    });
                                    ItemOutcome::Observed {
                                        data,
                                        upstream_changed_at: p.timestamp.clone(),
                                    }
                                }
                                _ => ItemOutcome::Failed(format!("{t}: no such page on the wiki")),
                            };
                            (t.clone(), outcome)
                        })
                        .collect(),
                    Err(e) => {
                        run.error.get_or_insert(e.to_string());
                        chunk
                            .iter()
                            .map(|t| (t.clone(), ItemOutcome::Failed(e.to_string())))
                            .collect()
                    }
                },
                Err(e) => {
                    run.error.get_or_insert(e.clone());
                    chunk
                        .iter()
                        .map(|t| (t.clone(), ItemOutcome::Failed(e.clone())))
                        .collect()
                }
            };
            super::record(store, DATASET, &outcomes, run).await?;
        }
        // 3. Each configured release's ChangeSet.
        for r in &self.releases {
            let page = format!("Releases/{r}/ChangeSet");
            progress(&format!("fedora wiki: {page}"));
            let url = self.url(&[("action", "parse"), ("page", &page), ("prop", "text")]);
            let outcome = match self.get(http, store, url.clone(), run).await? {
                Ok(None) => ItemOutcome::Unchanged,
                Ok(Some(body)) => match parse_rendered(&url, &body) {
                    Ok(html) => ItemOutcome::Observed {
                        data: serde_json::json!({ "changes": parse_changeset_html(&html) })
                            .to_string(),
                        upstream_changed_at: None,
                    },
                    Err(e) => ItemOutcome::Failed(e.to_string()),
                },
                Err(e) => ItemOutcome::Failed(e),
            };
            if let ItemOutcome::Failed(e) = &outcome {
                run.error.get_or_insert(e.clone());
            }
            super::record(store, DATASET, &[(page, outcome)], run).await?;
        }
        self.fesco_tickets(cx, run).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_pages_give_their_fields() {
        let p = parse_change_page(
            "Changes/X",
            "= X =\n== Summary ==\nDo x.\n== Owner ==\n* Name: [[User:a| A B]], [[User:c|C]]\n== Current status ==\n\
             [[Category:ChangeAcceptedF42]]\n<!-- [[Category:ChangePageIncomplete]] -->\n[[Category:SystemWideChange]]\n\
             * Targeted release: [[Releases/42 | Fedora Linux 42 ]]\n\
             * FESCo issue: [https://pagure.io/fesco/issue/3300 #3300]\n\
             * Tracker bug: [https://bugzilla.redhat.com/show_bug.cgi?id=2300001 #2300001]\n\
             * Release notes tracker: [https://gitlab.com/fedora/docs/fedora-linux-documentation/release-notes/-/issues/1200 #1200]\n",
        );
        assert_eq!(p.name.as_deref(), Some("X"));
        assert_eq!(p.summary.as_deref(), Some("Do x."));
        assert_eq!(p.owners, vec!["A B", "C"]);
        assert_eq!(p.kind.as_deref(), Some("system-wide"));
        assert_eq!(p.categories, vec!["ChangeAcceptedF42", "SystemWideChange"]);
        assert_eq!(p.targeted_release, Some(42));
        assert_eq!(
            p.tracker_bug.as_deref(),
            Some("https://bugzilla.redhat.com/show_bug.cgi?id=2300001")
        );
        assert_eq!(
            p.fesco_ticket.as_deref(),
            Some("https://pagure.io/fesco/issue/3300")
        );
        assert!(p.release_notes_ticket.is_some());
    }

    #[test]
    fn changesets_list_change_links_once() {
        let html = r#"<div><ul><li><a href="/wiki/Changes/Python_3.14" title="Changes/Python 3.14">Python 3.14</a></li>
            <li><a href="/wiki/Changes/Python_3.14#Scope">again</a></li><li><a href="/wiki/Releases/42">not a change</a></li>
            <li><a href="https://fedoraproject.org/wiki/Changes/RPM-4.20">RPM</a></li></ul></div>"#;
        assert_eq!(
            parse_changeset_html(html),
            vec!["Changes/Python 3.14", "Changes/RPM-4.20"]
        );
    }
}
