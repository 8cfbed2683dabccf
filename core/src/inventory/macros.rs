//! RPM macro expansion and `%if` evaluation, without ever executing anything.
//!
//! Spec files are untrusted input: `%(shell)` and `%{lua:...}` are never run; they stay
//! literal and make the result "unresolved". Only `%global`/`%define` values, the preamble
//! tags rpm turns into macros (`%{name}`, `%{version}`...), and the downstream's configured
//! macros (`%{dist}`, `%{rhel}`) are substituted. Expansion is bounded in depth and size so
//! a recursive or exploding macro cannot hang the scan.

use std::collections::HashMap;

/// Nesting depth at which expansion stops (rpm's own limit is 64; real specs use 3 or 4).
const MAX_DEPTH: usize = 16;
/// Output size at which expansion stops: a "billion laughs" spec must not eat memory.
const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// All macro values of one spec together: each `%global` may stay under the output bound
/// and still add up (a 139 KB spec of 300 KB expansions asked for gigabytes).
const MAX_DEFINED_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Default, Clone)]
pub struct Macros {
    values: HashMap<String, String>,
    /// Bytes of every value defined so far (names included).
    defined_bytes: usize,
    /// In `%if` conditions an undefined `%{?x}` leaves the result unknown instead of empty:
    /// whether the build defines `rhel` or `fedora` is not in the spec, and a patch under
    /// `%if 0%{?rhel}` is carried all the same. Configure the downstream's macros to decide.
    strict_queries: std::cell::Cell<bool>,
}

/// The result of expanding one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// Something stayed literal: an undefined macro, shell, lua, or a limit was hit.
    pub unresolved: bool,
}

impl Macros {
    pub fn new(predefined: &HashMap<String, String>) -> Macros {
        Macros {
            values: predefined.clone(),
            defined_bytes: 0,
            strict_queries: std::cell::Cell::new(false),
        }
    }

    /// Expands a `%if` expression: like [`Macros::expand`], but an undefined `%{?x}` makes
    /// the result unresolved.
    pub fn expand_condition(&self, s: &str) -> Expanded {
        let mut out = String::with_capacity(s.len());
        let mut unresolved = false;
        // A flag for the duration of this call, not a copy of the table: specs with many
        // `%if` lines and many macros made that copy quadratic.
        self.strict_queries.set(true);
        self.expand_into(s, 0, &mut out, &mut unresolved);
        self.strict_queries.set(false);
        Expanded {
            text: out,
            unresolved,
        }
    }

    /// Defines `name`; past [`MAX_DEFINED_BYTES`] for the spec the macro stays undefined
    /// (what uses it is then unresolved) and `false` is returned.
    pub fn define(&mut self, name: &str, value: &str) -> bool {
        let cost = name.len() + value.len();
        if self.defined_bytes.saturating_add(cost) > MAX_DEFINED_BYTES {
            self.values.remove(name);
            return false;
        }
        self.defined_bytes += cost;
        self.values.insert(name.to_string(), value.to_string());
        true
    }

    pub fn is_defined(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn expand(&self, s: &str) -> Expanded {
        super::phases::time(super::phases::Phase::Macros, || {
            let mut out = String::with_capacity(s.len());
            let mut unresolved = false;
            self.expand_into(s, 0, &mut out, &mut unresolved);
            Expanded {
                text: out,
                unresolved,
            }
        })
    }

    fn expand_into(&self, s: &str, depth: usize, out: &mut String, unresolved: &mut bool) {
        if depth > MAX_DEPTH {
            out.push_str(s);
            *unresolved = true;
            return;
        }
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if out.len() > MAX_OUTPUT_BYTES {
                *unresolved = true;
                return;
            }
            if b[i] != b'%' {
                // Copy up to the next '%' in one go.
                let next = s[i..].find('%').map_or(b.len(), |p| i + p);
                out.push_str(&s[i..next]);
                i = next;
                continue;
            }
            match b.get(i + 1) {
                Some(b'%') => {
                    out.push('%');
                    i += 2;
                }
                Some(b'{') => match matching(s, i + 1, b'{', b'}') {
                    Some(end) => {
                        self.expand_braced(&s[i + 2..end], &s[i..=end], depth, out, unresolved);
                        i = end + 1;
                    }
                    None => {
                        out.push_str(&s[i..]);
                        *unresolved = true;
                        return;
                    }
                },
                Some(b'(') => {
                    // Shell expansion: never executed.
                    let end = matching(s, i + 1, b'(', b')').unwrap_or(b.len() - 1);
                    out.push_str(&s[i..=end]);
                    *unresolved = true;
                    i = end + 1;
                }
                Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                    let start = i + 1;
                    let end = s[start..]
                        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                        .map_or(b.len(), |p| start + p);
                    let name = &s[start..end];
                    match self.values.get(name) {
                        Some(v) => self.expand_into(v, depth + 1, out, unresolved),
                        None => {
                            out.push_str(&s[i..end]);
                            *unresolved = true;
                        }
                    }
                    i = end;
                }
                _ => {
                    out.push('%');
                    i += 1;
                }
            }
        }
    }

    fn expand_braced(
        &self,
        inner: &str,
        whole: &str,
        depth: usize,
        out: &mut String,
        unresolved: &mut bool,
    ) {
        // %{!?name:value}, %{?name:value}, %{?name}, %{!?name}
        let (negate, query, body) = if let Some(r) = inner.strip_prefix("!?") {
            (true, true, r)
        } else if let Some(r) = inner.strip_prefix("?!") {
            (true, true, r)
        } else if let Some(r) = inner.strip_prefix('?') {
            (false, true, r)
        } else {
            (false, false, inner)
        };
        if query {
            let (name, alt) = match body.split_once(':') {
                Some((n, a)) => (n, Some(a)),
                None => (body, None),
            };
            let defined = self.values.contains_key(name);
            if !defined && self.strict_queries.get() {
                out.push_str(whole);
                *unresolved = true;
                return;
            }
            match (defined != negate, alt) {
                (true, Some(a)) => self.expand_into(a, depth + 1, out, unresolved),
                (true, None) if !negate => {
                    let v = self
                        .values
                        .get(name)
                        .map(String::as_str)
                        .unwrap_or_default();
                    self.expand_into(v, depth + 1, out, unresolved);
                }
                _ => {}
            }
            return;
        }
        if let Some((func, arg)) = body.split_once(':') {
            match func {
                "expand" => return self.expand_into(arg, depth + 1, out, unresolved),
                // Never run: lua and anything else that is a function call.
                _ => {
                    out.push_str(whole);
                    *unresolved = true;
                    return;
                }
            }
        }
        if let Some((func, arg)) = body.split_once(char::is_whitespace) {
            let arg = arg.trim();
            match func {
                "defined" => out.push(if self.values.contains_key(arg) {
                    '1'
                } else {
                    '0'
                }),
                "undefined" => out.push(if self.values.contains_key(arg) {
                    '0'
                } else {
                    '1'
                }),
                _ => {
                    out.push_str(whole);
                    *unresolved = true;
                }
            }
            return;
        }
        match self.values.get(body) {
            Some(v) => self.expand_into(v, depth + 1, out, unresolved),
            None => {
                out.push_str(whole);
                *unresolved = true;
            }
        }
    }
}

/// Index of the bracket closing the one at `open`, with nesting.
fn matching(s: &str, open: usize, o: u8, c: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in s.as_bytes().iter().enumerate().skip(open) {
        if b == o {
            depth += 1;
        } else if b == c {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// Evaluates an already expanded `%if` expression: integers, "strings", `== != < > <= >=`,
/// `&& || !` and parentheses. `None` when it is anything else (the caller treats the branch
/// as "unknown": its patches are kept and marked with the condition).
pub fn eval_condition(expr: &str) -> Option<bool> {
    let tokens = tokenize(expr)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let v = p.or()?;
    if p.pos != p.tokens.len() {
        return None;
    }
    Some(v.truthy())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Str(String),
    Op(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Int(i64),
    Str(String),
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Int(i) => *i != 0,
            Val::Str(s) => !s.is_empty(),
        }
    }
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    const OPS: [&str; 12] = [
        "&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "(", ")", "-",
    ];
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let end = s[i..]
                .find(|ch: char| !ch.is_ascii_digit())
                .map_or(b.len(), |p| i + p);
            out.push(Tok::Int(s[i..end].parse().ok()?));
            i = end;
        } else if c == b'"' {
            let end = s[i + 1..].find('"').map(|p| i + 1 + p)?;
            out.push(Tok::Str(s[i + 1..end].to_string()));
            i = end + 1;
        } else if let Some(op) = OPS.iter().find(|op| s[i..].starts_with(**op)) {
            out.push(Tok::Op(op));
            i += op.len();
        } else {
            return None;
        }
    }
    Some(out)
}

/// Nesting of `(`, `!` and `-` at which evaluation gives up: bounds the recursion, so a
/// hostile `%if ((((...` cannot overflow the stack.
const MAX_EXPR_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek_op(&self, op: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Tok::Op(o)) if *o == op)
    }
    fn or(&mut self) -> Option<Val> {
        let mut v = self.and()?;
        while self.peek_op("||") {
            self.pos += 1;
            let r = self.and()?;
            v = Val::Int((v.truthy() || r.truthy()) as i64);
        }
        Some(v)
    }
    fn and(&mut self) -> Option<Val> {
        let mut v = self.cmp()?;
        while self.peek_op("&&") {
            self.pos += 1;
            let r = self.cmp()?;
            v = Val::Int((v.truthy() && r.truthy()) as i64);
        }
        Some(v)
    }
    fn cmp(&mut self) -> Option<Val> {
        let l = self.unary()?;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.peek_op(op) {
                self.pos += 1;
                let r = self.unary()?;
                let ord = match (&l, &r) {
                    (Val::Int(a), Val::Int(b)) => a.cmp(b),
                    (Val::Str(a), Val::Str(b)) => a.cmp(b),
                    _ => return None,
                };
                let t = match op {
                    "==" => ord.is_eq(),
                    "!=" => ord.is_ne(),
                    "<=" => ord.is_le(),
                    ">=" => ord.is_ge(),
                    "<" => ord.is_lt(),
                    _ => ord.is_gt(),
                };
                return Some(Val::Int(t as i64));
            }
        }
        Some(l)
    }
    fn unary(&mut self) -> Option<Val> {
        self.depth += 1;
        let v = if self.depth > MAX_EXPR_DEPTH {
            None
        } else {
            self.unary_inner()
        };
        self.depth -= 1;
        v
    }
    fn unary_inner(&mut self) -> Option<Val> {
        if self.peek_op("!") {
            self.pos += 1;
            return Some(Val::Int(!self.unary()?.truthy() as i64));
        }
        if self.peek_op("-") {
            self.pos += 1;
            return match self.unary()? {
                Val::Int(i) => Some(Val::Int(-i)),
                Val::Str(_) => None,
            };
        }
        if self.peek_op("(") {
            self.pos += 1;
            let v = self.or()?;
            if !self.peek_op(")") {
                return None;
            }
            self.pos += 1;
            return Some(v);
        }
        let t = self.tokens.get(self.pos)?.clone();
        self.pos += 1;
        match t {
            Tok::Int(i) => Some(Val::Int(i)),
            Tok::Str(s) => Some(Val::Str(s)),
            Tok::Op(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> Macros {
        let mut m = Macros::default();
        for (k, v) in pairs {
            m.define(k, v);
        }
        m
    }

    #[test]
    fn expands_the_forms_specs_use() {
        let m = m(&[
            ("name", "systemd"),
            ("version", "252"),
            ("gitcommit", "abc"),
            ("short", "%{name}-x"),
        ]);
        assert_eq!(
            m.expand("%{name}-%{version}.tar.gz").text,
            "systemd-252.tar.gz"
        );
        assert_eq!(m.expand("%name-%version").text, "systemd-252");
        assert_eq!(m.expand("1%{?dist}").text, "1");
        assert_eq!(m.expand("%{?gitcommit:git%{gitcommit}}").text, "gitabc");
        assert_eq!(m.expand("%{!?with_foo:nofoo}").text, "nofoo");
        assert_eq!(m.expand("%{short}").text, "systemd-x");
        assert_eq!(m.expand("100%%").text, "100%");
        assert!(!m.expand("%{name}").unresolved);
        // In conditions, whether the build defines a macro is unknown unless configured.
        assert!(m.expand_condition("0%{?rhel} >= 9").unresolved);
        assert!(!m.expand_condition("0%{?gitcommit:1}").unresolved);
    }

    #[test]
    fn never_runs_shell_or_lua_and_survives_bombs() {
        let m = m(&[("a", "%{a}%{a}"), ("b", "%b")]);
        let e = m.expand("%(rm -rf /)");
        assert_eq!(e.text, "%(rm -rf /)");
        assert!(e.unresolved);
        assert!(m.expand("%{lua: os.execute('x')}").unresolved);
        let e = m.expand("%{a}");
        assert!(e.unresolved && e.text.len() <= MAX_OUTPUT_BYTES + 1024 * 64);
        assert!(m.expand("%{b}").unresolved);
        assert!(m.expand("%{unterminated").unresolved);
    }

    #[test]
    fn a_condition_is_strict_only_while_it_is_expanded() {
        let mut m = m(&[("a", "1")]);
        // In a condition an undefined query stays unknown...
        assert!(m.expand_condition("%{?rhel}").unresolved);
        // ...and the table is the same one afterwards, strictness gone.
        assert!(!m.expand("%{?rhel}x").unresolved);
        assert!(m.define("b", "%{a}"));
        assert_eq!(m.expand("%{b}").text, "1");
        assert!(!m.define("huge", &"x".repeat(MAX_DEFINED_BYTES)));
        assert!(!m.is_defined("huge"));
    }

    #[test]
    fn evaluates_simple_conditions() {
        assert_eq!(eval_condition("0"), Some(false));
        assert_eq!(eval_condition("09 >= 9"), Some(true));
        assert_eq!(eval_condition("0 || 1 && !0"), Some(true));
        assert_eq!(eval_condition("\"systemd\" == \"systemd\""), Some(true));
        assert_eq!(eval_condition("(1 && 0) || (2 > 3)"), Some(false));
        assert_eq!(eval_condition("%{with foo}"), None);
        assert_eq!(eval_condition("1 +"), None);
        assert_eq!(eval_condition("((((1"), None);
        let deep = format!("{}1{}", "(".repeat(50_000), ")".repeat(50_000));
        assert_eq!(eval_condition(&deep), None);
    }
}
