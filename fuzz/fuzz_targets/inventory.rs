//! The whole spec → inventory path on a real folder: a spec and a patch (the input split at
//! the first NUL), scanned as `forkdebt scan` does. Never panics, stays bounded in memory
//! (run with `-rss_limit_mb=256`), and what it returns is usable.
#![no_main]

use forkdebt_core::inventory::{self, ScanOptions};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn folder() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir")).path()
}

fuzz_target!(|data: &[u8]| {
    let (spec, patch) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let pkg = folder().join("rpms/fuzz");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    std::fs::write(pkg.join("fuzz.spec"), spec).expect("spec");
    // Every Patch line that names a plain file name finds this patch.
    std::fs::write(pkg.join("fuzz.patch"), patch).expect("patch");
    let opts = ScanOptions {
        macros: [("rhel".to_string(), "9".to_string())].into(),
        release_marker: regex::Regex::new(r"\.hs").expect("regex"),
        upstreams: Default::default(),
    };
    let inv = inventory::scan(&[folder().to_path_buf()], &opts);
    for p in &inv.packages {
        assert!(!p.name.is_empty());
        for patch in &p.patches {
            assert!(patch.condition.as_ref().is_none_or(|c| c.len() < 1024));
        }
    }
});
