//! The Discord adapter at the level of its slash commands, command handler and outgoing
//! messages (Discord itself cannot run here): what would be registered, answered and posted,
//! as the JSON serenity sends.

use crate::bot_setup::scan_with_lab;
use forkdebt_bot::discord::{self, answer, command_text, notification, slash_commands};
use forkdebt_bot::router::Router;
use forkdebt_core::config::Config;
use forkdebt_core::store::Store;
use serde_json::Value;
use serenity::all::{CommandDataOption, CommandDataOptionValue};
use std::sync::Arc;

/// An option as Discord sends it (type 3: a string).
fn opt(name: &str, value: &str) -> CommandDataOption {
    let o: CommandDataOption =
        serde_json::from_value(serde_json::json!({"name": name, "type": 3, "value": value}))
            .expect("an option");
    assert!(matches!(&o.value, CommandDataOptionValue::String(v) if v == value));
    o
}

#[test]
fn slash_commands_mirror_the_router() {
    let commands: Vec<Value> = slash_commands()
        .iter()
        .map(|c| serde_json::to_value(c).expect("json"))
        .collect();
    let names: Vec<&str> = commands.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "help",
            "debt",
            "show",
            "droppable",
            "whereis",
            "why",
            "changes",
            "bug",
            "subscribe",
            "unsubscribe",
            "subscriptions",
            "snooze",
            "sync",
            "propose"
        ]
    );
    let why = commands.iter().find(|c| c["name"] == "why").expect("why");
    let options: Vec<(&str, bool)> = why["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| (o["name"].as_str().unwrap_or(""), o["required"] == true))
        .collect();
    assert_eq!(options, [("package", true), ("patch", true)]);
    assert!(
        commands
            .iter()
            .all(|c| c["description"].as_str().is_some_and(|d| !d.is_empty()))
    );

    // Options arrive by name, in any order; they are put in the declared order.
    assert_eq!(
        command_text("why", &[opt("patch", "2"), opt("package", "systemd")]),
        "why systemd 2"
    );
    assert_eq!(command_text("debt", &[]), "debt");
    assert_eq!(
        command_text("snooze", &[opt("duration", "2h"), opt("target", "a b")]),
        "snooze a_b 2h"
    );
}

#[tokio::test]
async fn commands_are_answered_escaped_and_without_pings() {
    let dir = tempfile::tempdir().expect("tempdir");
    scan_with_lab(dir.path(), "").await;
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = Store::open(&url).await.expect("open");
    let router = Router::new(store.clone(), Arc::new(Config::default()), None);
    let respond = |name: &'static str, options: Vec<CommandDataOption>, in_guild: bool| {
        let router = &router;
        async move {
            let r = answer(router, "42", 1234, in_guild, name, &options).await;
            serde_json::to_value(&r).expect("json")
        }
    };

    let r = respond("debt", vec![opt("package", "systemd")], true).await;
    assert_eq!(r["type"], 4, "a message in answer to the command: {r}");
    assert_eq!(
        r["data"]["content"],
        "systemd 252.23\\-2.hs \\(default\\)\\: 9 carried patches\\: 0 droppable, 2 merged upstream, 0 sent, 1 kept, 6 unknown"
    );
    assert_eq!(
        r["data"]["allowed_mentions"]["parse"],
        serde_json::json!([])
    );

    // Markdown and mass pings in what is echoed are neutralised.
    let r = respond("subscribe", vec![opt("target", "@everyone*bold*")], true).await;
    assert_eq!(
        r["data"]["content"],
        "subscribed\\: events about @\u{200B}everyone\\*bold\\* are posted here"
    );
    assert_eq!(
        store.subscriptions("discord:1234").await.expect("subs"),
        ["@everyone*bold*"]
    );

    // In a server channel, bounded; in a DM, the whole answer.
    let r = respond("show", vec![opt("package", "systemd")], true).await;
    let content = r["data"]["content"].as_str().expect("content");
    assert_eq!(content.lines().count(), 4, "{content}");
    assert!(content.ends_with("in a private message"), "{content}");
    let r = respond("show", vec![opt("package", "systemd")], false).await;
    let content = r["data"]["content"].as_str().expect("content");
    assert!(content.lines().count() > 4 && content.chars().count() <= discord::MAX_CONTENT);

    let r = respond("sync", vec![], true).await;
    assert_eq!(r["data"]["content"], "only admins can start a sync");
    // Admins are named per network; the sync itself is handed in by `serve`.
    let config: Config =
        toml::from_str("[chat]\nadmins = [\"discord:42\", \"irc:alice\"]\n").expect("config");
    let hook: forkdebt_bot::router::SyncHook =
        Arc::new(|| Box::pin(async { "sync done: 3 items checked".to_string() }));
    let admin_router = Router::new(store.clone(), Arc::new(config), Some(hook));
    let r = serde_json::to_value(answer(&admin_router, "42", 1234, true, "sync", &[]).await)
        .expect("json");
    assert_eq!(r["data"]["content"], "sync done\\: 3 items checked");
    let r = serde_json::to_value(answer(&admin_router, "43", 1234, true, "sync", &[]).await)
        .expect("json");
    assert_eq!(r["data"]["content"], "only admins can start a sync");

    // `propose PACKAGE PATCH`: admins only, unless [propose] open; the proposal itself is
    // handed in by `serve` (it makes the branch and opens the merge request).
    let asked: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
    let propose_hook =
        |asked: Arc<std::sync::Mutex<Vec<(String, String)>>>| -> forkdebt_bot::router::ProposeHook {
            Arc::new(move |package: String, patch: String| {
                asked
                    .lock()
                    .expect("lock")
                    .push((package.clone(), patch.clone()));
                Box::pin(async move {
                    vec![format!(
                        "proposed: https://gitlab.example/{package}/-/merge_requests/1 ({patch})"
                    )]
                })
            })
        };
    let admin_router = admin_router.with_propose(propose_hook(Arc::clone(&asked)));
    let options = [opt("package", "systemd"), opt("patch", "0001-fix.patch")];
    let r =
        serde_json::to_value(answer(&admin_router, "43", 1234, true, "propose", &options).await)
            .expect("json");
    assert_eq!(
        r["data"]["content"],
        "only admins can propose changes \\(\\[propose\\] open lets anyone\\)"
    );
    assert!(asked.lock().expect("lock").is_empty());
    let r =
        serde_json::to_value(answer(&admin_router, "42", 1234, true, "propose", &options).await)
            .expect("json");
    assert!(
        r["data"]["content"]
            .as_str()
            .expect("content")
            .starts_with("proposed\\: https\\://gitlab.example/systemd"),
        "{r}"
    );
    assert_eq!(
        *asked.lock().expect("lock"),
        vec![("systemd".to_string(), "0001-fix.patch".to_string())]
    );
    let open: Config = toml::from_str("[propose]\nopen = true\n").expect("config");
    let open_router = Router::new(store.clone(), Arc::new(open), None)
        .with_propose(propose_hook(Arc::clone(&asked)));
    let r = serde_json::to_value(answer(&open_router, "43", 1234, true, "propose", &options).await)
        .expect("json");
    assert!(
        r["data"]["content"]
            .as_str()
            .expect("content")
            .starts_with("proposed\\:"),
        "{r}"
    );
    // Typed in a channel: the same command, word by word.
    let said = admin_router
        .handle(
            &forkdebt_bot::router::Asked {
                sender: "alice".into(),
                in_channel: true,
                destination: "irc:#hs".into(),
            },
            "!propose bash 2",
        )
        .await
        .expect("a command");
    assert_eq!(
        said,
        vec!["proposed: https://gitlab.example/bash/-/merge_requests/1 (2)".to_string()]
    );

    let r = respond(
        "why",
        vec![opt("package", "nosuch"), opt("patch", "1")],
        true,
    )
    .await;
    assert_eq!(
        r["data"]["content"],
        "no package named \\`nosuch\\` has been scanned \\(see \\`forkdebt report\\`\\)"
    );
    store.close().await;
}

#[test]
fn notifications_carry_a_nonce_from_the_outbox_key() {
    let key = "discord:1234:event:7";
    let a = serde_json::to_value(notification(
        key,
        "[hs] bash 1.patch: released -> droppable",
    ))
    .expect("json");
    let b = serde_json::to_value(notification(
        key,
        "[hs] bash 1.patch: released -> droppable",
    ))
    .expect("json");
    assert_eq!(a["nonce"], b["nonce"], "the same key, the same nonce");
    let nonce = a["nonce"].as_str().expect("nonce");
    assert!(nonce.len() <= 25, "{nonce}");
    assert_eq!(a["enforce_nonce"], true);
    assert_ne!(
        serde_json::to_value(notification("discord:1234:event:8", "x")).expect("json")["nonce"],
        a["nonce"]
    );
    assert_eq!(
        a["content"],
        "\\[hs\\] bash 1.patch\\: released \\-\\> droppable"
    );
    assert_eq!(a["allowed_mentions"]["parse"], serde_json::json!([]));
}
