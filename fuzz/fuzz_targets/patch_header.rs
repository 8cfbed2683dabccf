//! Patch header parsing (and the reference extraction under it) never panics.
#![no_main]

use forkdebt_core::inventory::{filename, patch, refs};
use forkdebt_core::model::{Role, UpstreamProject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let upstream = UpstreamProject::Github {
        owner: "systemd".into(),
        repo: "systemd".into(),
    };
    let mut warnings = Vec::new();
    let info = patch::parse(data, "fuzz.patch", Some(&upstream), &mut warnings);
    for r in &info.refs {
        assert!(!r.id.is_empty());
    }
    // The first line doubles as a file name, as the scanner reads those too.
    if let Ok(text) = std::str::from_utf8(data) {
        let name = text.lines().next().unwrap_or_default();
        let ctx = refs::TextContext::new(Some(&upstream), "fuzz".into(), Role::Origin);
        let _ = filename::refs(name, &ctx);
        let _ = refs::classify_url(name, &ctx);
    }
});
