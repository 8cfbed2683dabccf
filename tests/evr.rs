//! RPM EVR ordering checked against librpm itself (Debian's python3-rpm `labelCompare`) on
//! 100,000 generated pairs: zero disagreements allowed.

use forkdebt_core::evr::Evr;
use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

/// Deterministic xorshift64*, so a disagreement can be reproduced from its index.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A version-like string from the pieces real versions are made of: numbers (with leading
/// zeros), letters, separators, `~` (pre-release) and `^` (post-release snapshot).
fn version(rng: &mut Rng) -> String {
    let mut s = String::new();
    let parts = 1 + rng.below(5);
    for i in 0..parts {
        if i > 0 || rng.below(8) == 0 {
            s.push_str(rng.pick(&[
                ".", ".", ".", "-", "_", "+", "~", "^", "~~", ".~", "^.", "%", "",
            ]));
        }
        match rng.below(6) {
            0..=2 => s.push_str(&rng.below(30).to_string()),
            3 => s.push_str(&format!("0{}", rng.below(12))),
            4 => s.push_str(rng.pick(&[
                "a", "b", "rc", "alpha", "beta", "el", "fc", "git", "Z", "pre",
            ])),
            _ => s.push_str(&format!(
                "{}{}",
                rng.pick(&["rc", "b", "p", "el", "fc"]),
                rng.below(10)
            )),
        }
    }
    if s.is_empty() { "0".into() } else { s }
}

fn evr(rng: &mut Rng) -> Evr {
    let epoch = match rng.below(6) {
        0 => "1".to_string(),
        1 => "0".to_string(),
        2 => rng.below(3).to_string(),
        _ => String::new(),
    };
    let v = version(rng);
    // Releases: the shapes of dist-git releases, plus random ones.
    let r = match rng.below(4) {
        0 => format!("{}.el9", rng.below(20)),
        1 => format!("{}.fb{}", rng.below(5), rng.below(8)),
        2 => format!(
            "{}{}",
            rng.below(5),
            rng.pick(&[".hs.el9", ".hs+fb", ".hsx", ".fc34", ""])
        ),
        _ => version(rng).replace('-', "."),
    };
    Evr::new(epoch, v.replace('-', "_"), r)
}

const PAIRS: usize = 100_000;

#[test]
fn evr_order_agrees_with_librpm_on_100000_pairs() {
    let mut rng = Rng(0x5eed_f00d_cafe_b0ba);
    let mut pairs = Vec::with_capacity(PAIRS);
    for i in 0..PAIRS {
        let a = evr(&mut rng);
        // Every fourth pair compares near-identical values, where the subtle rules live.
        let b = if i % 4 == 0 {
            let mut b = a.clone();
            b.release
                .push_str(rng.pick(&["", "~1", "^1", ".1", "a", "0"]));
            b
        } else {
            evr(&mut rng)
        };
        pairs.push((a, b));
    }
    let python = "/usr/bin/python3";
    let script = r#"
import sys, rpm
out = []
for line in sys.stdin:
    e1, v1, r1, e2, v2, r2 = line.rstrip("\n").split("\t")
    out.append(str(rpm.labelCompare((e1 or None, v1, r1), (e2 or None, v2, r2))))
sys.stdout.write("\n".join(out) + "\n")
"#;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{python} is needed (apt-get install python3-rpm): {e}"));
    let mut input = String::with_capacity(PAIRS * 48);
    for (a, b) in &pairs {
        input.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            a.epoch, a.version, a.release, b.epoch, b.version, b.release
        ));
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python");
    writer.join().expect("writer").expect("write pairs");
    assert!(
        out.status.success(),
        "librpm oracle failed (apt-get install python3-rpm): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<i32> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| l.parse().expect("-1, 0 or 1"))
        .collect();
    assert_eq!(answers.len(), PAIRS);
    let mut disagreements = Vec::new();
    for (i, ((a, b), rpm)) in pairs.iter().zip(&answers).enumerate() {
        let ours = match a.cmp(b) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        };
        if ours != *rpm {
            disagreements.push(format!("#{i}: {a} vs {b}: librpm {rpm}, forkdebt {ours}"));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements, first: {:?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(10)]
    );
}
