//! Decoding untrusted files into lines: binary detection, lossy UTF-8 with a warning, a cap on
//! line length. Spec and patch parsers both read through here.

use crate::model::Warning;

/// A longer line is skipped with a warning: no real spec or patch header line comes near it,
/// and regexes over megabyte lines would let one hostile file stall the scan.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How much of a file is looked at to tell binary from text, as `git` and `grep` do.
const BINARY_SNIFF_BYTES: usize = 8000;

/// Whether `bytes` look binary (a NUL in the first 8000 bytes).
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

/// Decodes `bytes` as text. `None` (after a warning) when the file looks binary.
pub fn decode<'a>(
    bytes: &'a [u8],
    path: &str,
    warnings: &mut Vec<Warning>,
) -> Option<std::borrow::Cow<'a, str>> {
    if looks_binary(bytes) {
        warnings.push(Warning {
            path: path.to_string(),
            line: None,
            message: "binary data (NUL bytes), not read".into(),
        });
        return None;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Some(std::borrow::Cow::Borrowed(s)),
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u32
                + 1;
            warnings.push(Warning {
                path: path.to_string(),
                line: Some(line),
                message: "not valid UTF-8; invalid bytes replaced with U+FFFD".into(),
            });
            Some(String::from_utf8_lossy(bytes))
        }
    }
}

/// Iterates `(line_number, line)` over `text`, skipping (with a warning) lines longer than
/// [`MAX_LINE_BYTES`]. Line numbers start at 1; a trailing `\r` is removed.
pub fn lines<'a>(
    text: &'a str,
    path: &'a str,
    warnings: &'a mut Vec<Warning>,
) -> impl Iterator<Item = (u32, &'a str)> + 'a {
    text.split('\n').enumerate().filter_map(move |(i, l)| {
        let n = i as u32 + 1;
        if l.len() > MAX_LINE_BYTES {
            warnings.push(Warning {
                path: path.to_string(),
                line: Some(n),
                message: format!(
                    "line of {} bytes is longer than {MAX_LINE_BYTES}; skipped",
                    l.len()
                ),
            });
            return None;
        }
        Some((n, l.strip_suffix('\r').unwrap_or(l)))
    })
}
