//! RFC 2047 encoded words in patch headers: `git format-patch` writes a subject or author
//! that is not ASCII as `=?UTF-8?q?core:=20when=20deserializing?=`, folded over lines. They are
//! decoded wherever a subject is shown or matched.
//!
//! Our own decoder: the crates that do this pull in a parser-combinator library for thirty
//! lines of work; charsets come from `encoding_rs` (already built for reqwest).

use base64::Engine as _;

static_regex!(
    WORD,
    r"=\?([A-Za-z0-9_.:-]+)(?:\*[A-Za-z-]+)?\?([QqBb])\?([^?\s]*)\?="
);

/// `text` with every encoded word decoded; whitespace between two encoded words is dropped
/// (RFC 2047 §6.2), anything that does not decode is kept as written.
pub fn decode(text: &str) -> String {
    if !text.contains("=?") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut after_word = false;
    for c in WORD.captures_iter(text) {
        let m = c.get(0).map_or(0..0, |m| m.range());
        let between = &text[last..m.start];
        let decoded = decode_word(&c[1], &c[2], &c[3]);
        if !(after_word && between.trim().is_empty() && decoded.is_some()) {
            out.push_str(between);
        }
        after_word = decoded.is_some();
        match decoded {
            Some(d) => out.push_str(&d),
            None => out.push_str(&text[m.clone()]),
        }
        last = m.end;
    }
    out.push_str(&text[last..]);
    out
}

fn decode_word(charset: &str, encoding: &str, text: &str) -> Option<String> {
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok()?,
        _ => quoted(text)?,
    };
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes())?;
    let (s, _, _) = enc.decode(&bytes);
    // A decoded word is one header's text: no line breaks or other controls in it.
    Some(
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

/// RFC 2047's "Q" encoding: `_` is a space, `=XX` a byte.
fn quoted(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn encoded_words_as_format_patch_writes_them() {
        assert_eq!(
            decode("=?UTF-8?q?core:=20when=20deserializing=20a=20=C3=A9l=C3=A9ment?="),
            "core: when deserializing a élément"
        );
        // Folded over two lines (joined with a space by the header reader).
        assert_eq!(
            decode("=?UTF-8?q?core:=20when=20deserial?= =?UTF-8?q?izing,=20keep?="),
            "core: when deserializing, keep"
        );
        assert_eq!(
            decode("=?utf-8?b?SsO2cmc=?= <j@example.org>"),
            "Jörg <j@example.org>"
        );
        assert_eq!(decode("=?ISO-8859-1?Q?J=F6rg?="), "Jörg");
        // Not encoded words: kept.
        assert_eq!(decode("a =? b ?= c"), "a =? b ?= c");
        assert_eq!(decode("=?nosuch?q?x?="), "=?nosuch?q?x?=");
        assert_eq!(decode("=?UTF-8?q?a=0Ab?="), "a b");
    }
}
