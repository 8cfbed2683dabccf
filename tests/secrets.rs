//! Secrets: a secret pasted where its variable's name belongs, or a password in a URL, is
//! never printed.

use crate::util::{forkdebt, stderr};

#[test]
fn a_secret_pasted_into_an_env_setting_is_never_echoed() {
    for (section, secret) in [
        ("sources.github", "ghp_AbC123sEcReT/+="),
        // Shaped like a variable name: letters, digits and `_` only.
        (
            "sources.github",
            "ghp_AbC123sEcReTx9Y8z7W6v5U4t3S2r1Q0pO9n8",
        ),
        (
            "sources.forgejo",
            "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5hJ7k",
        ),
        ("propose", "0123456789abcdef0123456789abcdef01234567"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("forkdebt.toml"),
            format!("[{section}]\ntoken_env = \"{secret}\"\n"),
        )
        .expect("config");
        let out = forkdebt(dir.path(), &["--config", "forkdebt.toml", "init"]);
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(!out.status.success());
        assert!(all.contains(&format!("{section}.token_env")), "{all}");
        assert!(!all.contains(&secret[4..12]), "{all}");
    }
}

#[test]
fn a_percent_encoded_password_in_a_database_url_is_hidden() {
    let port = crate::util::free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("postgres://u@127.0.0.1:{port}/db?pass%77ord=hunter2&sslmode=disable");
    let out = forkdebt(dir.path(), &["--database", &url, "init"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("pass%77ord=***"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}
