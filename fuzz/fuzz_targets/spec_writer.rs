//! propose's spec edit, round-tripped through the scanner: the input is a spec and a hostile
//! text (split at the first NUL) that stands for the evidence, a version and an author. For
//! the first patch the scanner finds, the edited spec
//! - never uses a macro (`%{...}`, `%(...)`, `%name`) the input spec did not use: upstream
//!   text is written as data, `%` doubled;
//! - still reads as a spec in which that patch is gone and every other patch is still there.
#![no_main]

use forkdebt_core::inventory::spec;
use forkdebt_core::propose::{Entry, drop_patch, macro_uses};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let (spec_bytes, hostile) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"%{lua:os.exit(1)}%(id)"[..]),
    };
    let (Ok(text), Ok(hostile)) = (std::str::from_utf8(spec_bytes), std::str::from_utf8(hostile))
    else {
        return;
    };
    let none = HashMap::new();
    let mut warnings = Vec::new();
    let before = spec::parse(text.as_bytes(), "fuzz.spec", &none, &mut warnings);
    let Some(target) = before.patches.first() else {
        return;
    };
    let file = spec::patch_file_name(&target.value);
    let entry = Entry {
        date: "Mon Dec 07 2026",
        author: hostile,
        version: hostile,
        text: hostile,
    };
    let Ok(edited) = drop_patch(text, &file, Some(&entry)) else {
        return;
    };
    let new_macros: Vec<String> = macro_uses(&edited.text)
        .difference(&macro_uses(text))
        .cloned()
        .collect();
    assert!(new_macros.is_empty(), "new macros {new_macros:?} in\n{}", edited.text);
    let after = spec::parse(edited.text.as_bytes(), "fuzz.spec", &none, &mut warnings);
    let names = |s: &spec::SpecFile| -> Vec<String> {
        s.patches.iter().map(|p| spec::patch_file_name(&p.value)).collect()
    };
    let (old, new) = (names(&before), names(&after));
    // One fewer of that file; no other patch lost.
    let count = |v: &[String], f: &str| v.iter().filter(|x| *x == f).count();
    assert_eq!(count(&new, &file) + 1, count(&old, &file), "{}", edited.text);
    for other in old.iter().filter(|f| **f != file) {
        assert_eq!(count(&new, other), count(&old, other), "{other} lost:\n{}", edited.text);
    }
});
