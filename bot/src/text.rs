//! Making text safe for chat: no line breaks or control characters smuggled in through a
//! package, patch or subject name (IRC would read `\r\nQUIT` as a command), lines cut to
//! the protocol's size on UTF-8 boundaries, and HTML escaped for Matrix and email.

/// `s` as one line: every control character (CR, LF, NUL, IRC formatting codes, CTCP's
/// `\x01`...) and Unicode line/paragraph separators become a space.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Splits `s` into pieces of at most `max` bytes, each ending on a character boundary, and
/// preferring to break after a space in the last quarter of the piece.
pub fn split_bytes(s: &str, max: usize) -> Vec<String> {
    let max = max.max(4);
    let mut out = Vec::new();
    let mut rest = s;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(space) = rest[..cut].rfind(' ').filter(|&i| i > cut * 3 / 4) {
            cut = space + 1;
        }
        out.push(rest[..cut].trim_end().to_string());
        rest = &rest[cut..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_string());
    }
    out
}

/// `s` with `&`, `<`, `>`, `"` and `'` escaped for HTML text and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_start_a_new_line() {
        assert_eq!(one_line("a.patch\r\nQUIT :bye"), "a.patch  QUIT :bye");
        assert_eq!(one_line("\x01ACTION x\x01\x03 4red\0"), " ACTION x   4red ");
        assert_eq!(one_line("a\u{2028}b"), "a b");
    }

    #[test]
    fn splitting_keeps_characters_whole_and_loses_nothing() {
        let s = "é".repeat(300); // 600 bytes of two-byte characters
        let parts = split_bytes(&s, 401);
        assert!(parts.iter().all(|p| p.len() <= 401));
        assert_eq!(parts.concat(), s);
        let words = "word ".repeat(200);
        let parts = split_bytes(words.trim_end(), 400);
        assert!(parts.iter().all(|p| p.len() <= 400 && !p.ends_with(' ')));
        assert_eq!(parts.join(" "), words.trim_end());
        assert_eq!(split_bytes("", 400), vec![String::new()]);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }
}
