//! Spec parsing never panics, never hangs, and whatever it returns can be used.
#![no_main]

use forkdebt_core::inventory::spec;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let mut macros = HashMap::new();
    macros.insert("rhel".to_string(), "9".to_string());
    let mut warnings = Vec::new();
    let s = spec::parse(data, "fuzz.spec", &macros, &mut warnings);
    for p in &s.patches {
        assert!(!p.value.is_empty());
    }
    for w in &warnings {
        assert_eq!(w.path, "fuzz.spec");
    }
});
