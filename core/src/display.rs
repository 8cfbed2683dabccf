//! Small helpers every layer uses to show or key untrusted text.

/// `s` with control characters written as escapes (`\r`, `\n`, `\u{1b}`): file names and
/// subjects come from untrusted trees and must not move a terminal's cursor or start a new
/// line in chat.
pub fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    // Bidirectional overrides reorder what a terminal shows as much as an escape sequence.
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if s.chars().any(hidden) {
        std::borrow::Cow::Owned(
            s.chars()
                .map(|c| {
                    if hidden(c) {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Characters a URL path segment may hold as they are (RFC 3986 unreserved); everything else
/// is percent-encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` as one URL path segment: a tag, branch, package or project name from upstream can
/// hold `/`, `?`, `#` or `%`, and must not change which resource a URL names. The one encoder
/// for every URL forkdebt builds (forge APIs, source APIs, dashboard links).
pub fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// A stable 64-bit FNV-1a of `bytes`, hex (16 characters). Used to see whether a stored row
/// changed and to derive short stable ids from keys; std's hasher is not guaranteed stable
/// across Rust releases, and a crate is overkill for this.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
