//! Configuration loading: the example files, every kind of problem reported
//! at once with file and path, the removal API, and random documents that
//! must never panic the loaders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use calrep_core::group::SnapshotDirectory;
use calrep_core::{Config, ConfigError, Format};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
}

#[test]
fn example_configurations_load_in_both_formats() {
    let toml = Config::load(&examples().join("calrep.toml")).unwrap();
    assert_eq!(toml.tasks.len(), 5);
    assert!(toml.directory.is_some());
    let json = Config::load(&examples().join("calrep.json")).unwrap();
    assert_eq!(json.tasks.len(), 1);
    // Relative paths start at the file's folder.
    assert_eq!(
        toml.resolve_path(&toml.replica.path),
        examples().join("replica.db")
    );
}

#[test]
fn a_configuration_survives_a_round_trip_through_json() {
    let config = Config::load(&examples().join("calrep.toml")).unwrap();
    let text = serde_json::to_string(&config).unwrap();
    let again = Config::parse(&text, "roundtrip.json").unwrap();
    assert_eq!(again.sites, config.sites);
    assert_eq!(again.definitions, config.definitions);
    assert_eq!(again.schedules, config.schedules);
    assert_eq!(again.tasks, config.tasks);
}

fn problems(text: &str) -> Vec<String> {
    match Config::parse(text, "calrep.toml") {
        Err(ConfigError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn every_problem_is_reported_at_once_with_file_and_path() {
    let lines = problems(
        r#"
        [[sites]]
        id = "hq"
        ews = { url = "https://mail.example.com/EWS/Exchange.asmx", username = "svc" }

        [[sites]]
        id = "hq"
        graph = { tenant = "not a tenant", client_id = "xyz", secret_env = "S" }

        [[definitions]]
        id = "d"
        window = { days_back = 0, days_ahead = 0 }

        [[schedules]]
        id = "nightly"
        time_zone = "Europe/Atlantis"
        when.daily.many = { start = "09:00", end = "08:00", interval_minutes = 5 }

        [[schedules]]
        id = "weekly"
        time_zone = "UTC"
        when.weekly = { days = [], times.once.start = "01:00" }

        [[schedules]]
        id = "negative"
        time_zone = "UTC"
        when.daily.many = { start = "01:00", end = "02:00", interval_minutes = -15 }

        [[tasks]]
        id = "a"
        site = "hq"
        definition = "d"
        schedule = "missing"
        group = { ad_group = "Sales" }

        [[tasks]]
        id = "b"
        site = "hq"
        definition = "nope"
        schedule = "negative"
        group = { mailbox = "not-an-address" }

        [[tasks]]
        id = "c"
        site = "elsewhere"
        definition = "d"
        schedule = "weekly"
        group = { mailboxes = [] }
        "#,
    );
    let expected = [
        "calrep.toml: sites[0].ews.password: missing: give the secret by reference (password_env or password_file)",
        "calrep.toml: sites[1].id: another site is also named \"hq\"",
        "calrep.toml: sites[1].graph.client_id: \"xyz\" is not an application id (a GUID)",
        "calrep.toml: definitions[0].window: the window is empty; give days_back or days_ahead",
        "calrep.toml: schedules[0].when.daily.many.end: end 08:00 is not after start 09:00; a window must end later on the same day",
        "calrep.toml: schedules[1].when.weekly.days: a weekly schedule needs at least one day",
        "calrep.toml: schedules[2].when.daily.many.interval_minutes: interval_minutes must be between 1 and 1440, got -15",
        "calrep.toml: tasks[0].schedule: no schedule named \"missing\"",
        "calrep.toml: tasks[1].group.mailbox: \"not-an-address\" is not a valid e-mail address: it has no '@'",
        "calrep.toml: tasks[2].site: no site named \"elsewhere\"",
        "calrep.toml: tasks[2].group.mailboxes: the mailbox list is empty",
    ];
    for line in expected {
        assert!(
            lines.iter().any(|l| l == line),
            "missing {line:?} in\n{}",
            lines.join("\n")
        );
    }
    assert!(lines.iter().any(|l| l.starts_with(
        "calrep.toml: schedules[0].time_zone: unknown time zone \"Europe/Atlantis\""
    )));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("calrep.toml: sites[1].graph.tenant:"))
    );
    assert!(lines.iter().any(|l| {
        l.starts_with("calrep.toml: tasks[0].group: AD group \"Sales\" needs a directory")
    }));
    // Task b failed to parse, so its definition reference is not checked,
    // and the schedule that failed to parse is not reported as dangling.
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("no definition named \"nope\""))
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("no schedule named \"negative\""))
    );
    assert_eq!(lines.len(), expected.len() + 3, "{}", lines.join("\n"));
}

#[test]
fn host_tokens_stand_alone() {
    let site = |ews: &str| {
        format!(
            "[[sites]]\nid = \"online\"\n[sites.ews]\nurl = \"https://outlook.office365.com/EWS/Exchange.asmx\"\n{ews}\n"
        )
    };
    // Neither a username nor a secret is needed.
    let config = Config::parse(&site("host_tokens = true"), "calrep.toml").unwrap();
    assert!(config.sites[0].ews.as_ref().unwrap().host_tokens);
    assert_eq!(
        problems(&site("host_tokens = true\npassword_env = \"PW\"")),
        [
            "calrep.toml: sites[0].ews.password: give either a password (Basic) or host_tokens, not both"
        ]
    );
    let with_oauth = problems(&site(
        "host_tokens = true\noauth = { tenant = \"contoso.onmicrosoft.com\", client_id = \"6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\", secret_env = \"S\" }",
    ));
    assert_eq!(
        with_oauth,
        ["calrep.toml: sites[0].ews.oauth: give either oauth or host_tokens, not both"]
    );
}

#[test]
fn unknown_keys_are_reported_wherever_they_are() {
    let lines = problems(
        r#"
        colour = "blue"
        [replica]
        path = "r.db"
        paht = "typo.db"
        [[definitions]]
        id = "d"
        attachments = { enabled = true, max_byte = 5 }
        "#,
    );
    assert!(lines.contains(&"calrep.toml: colour: unknown key; expected one of: replica, engine, directory, access, sites, definitions, schedules, tasks".to_owned()), "{lines:?}");
    assert!(
        lines.contains(&"calrep.toml: replica.paht: unknown key".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"calrep.toml: definitions[0].attachments.max_byte: unknown key".to_owned()),
        "{lines:?}"
    );
}

#[test]
fn syntax_errors_name_the_file_and_the_place() {
    let lines = problems("[[tasks]\nid = 1");
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("calrep.toml: syntax error:"),
        "{lines:?}"
    );
    assert!(lines[0].contains("line 1"), "{lines:?}");
    let json = Config::parse("{\"tasks\": [}", "c.json")
        .unwrap_err()
        .to_string();
    assert!(json.starts_with("c.json: syntax error:"), "{json}");
}

#[test]
fn secrets_are_never_printed() {
    // SAFETY: this test binary sets this variable only here, before reading it.
    unsafe { std::env::set_var("CALREP_TEST_PW", "pa55w0rd-visible?") };
    let config = Config::parse(
        r#"
        [[sites]]
        id = "hq"
        ews = { url = "https://mail.example.com/EWS/Exchange.asmx", username = "svc", password_env = "CALREP_TEST_PW" }
        "#,
        "calrep.toml",
    )
    .unwrap();
    let secret = config.sites[0]
        .ews
        .as_ref()
        .unwrap()
        .password()
        .unwrap()
        .load(Path::new("."))
        .unwrap();
    assert_eq!(secret.expose(), "pa55w0rd-visible?");
    for text in [
        format!("{config:?}"),
        format!("{secret:?}"),
        serde_json::to_string(&config).unwrap(),
    ] {
        assert!(!text.contains("pa55w0rd"), "{text}");
    }
}

#[test]
fn passwords_in_urls_and_pasted_into_password_env_are_refused_unechoed() {
    let lines = problems(
        r#"
        [[sites]]
        id = "hq"
        ews = { url = "https://svc:Hunter2-secret@mail.example.com/EWS/Exchange.asmx", username = "svc", password_env = "Hunter2 secret!" }
        [[sites]]
        id = "online"
        ews = { url = "https://outlook.office365.com/EWS/Exchange.asmx", username = "svc", oauth = { tenant = "contoso.onmicrosoft.com", client_id = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", secret_env = "S", token_url = "https://app:Hunter2-secret@login.example.com/token" } }
        "#,
    );
    let all = lines.join("\n");
    assert!(!all.contains("Hunter2"), "{all}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("calrep.toml: sites[0].ews.url: ")
                && l.contains("https://***@mail.example.com")
                && l.contains("never in the URL")),
        "{all}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("calrep.toml: sites[1].ews.oauth.token_url: ")),
        "{all}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("calrep.toml: sites[0].ews.password: ")
                && l.contains("not an environment variable name")),
        "{all}"
    );
}

#[test]
fn removing_what_a_task_uses_is_refused() {
    let mut config = Config::load(&examples().join("calrep.toml")).unwrap();
    let err = config
        .remove_definition(&"everything-masked".into())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot remove definition \"everything-masked\": it is used by tasks \"board-office-hours\", \"ceo\"; change or remove those tasks first"
    );
    assert!(config.definition(&"everything-masked".into()).is_some());
    let err = config.remove_site(&"cloud".into()).unwrap_err();
    assert!(matches!(err, ConfigError::InUse { kind: "site", .. }));
    config.remove_task(&"cloud-pilot".into()).unwrap();
    config.remove_site(&"cloud".into()).unwrap();
    config.remove_schedule(&"migration-weekend".into()).unwrap();
    let err = config
        .remove_schedule(&"migration-weekend".into())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no schedule named \"migration-weekend\""
    );
    config.validate().unwrap();
}

const KEYS: &[&str] = &[
    "replica",
    "directory",
    "sites",
    "definitions",
    "schedules",
    "tasks",
    "id",
    "site",
    "definition",
    "schedule",
    "group",
    "enabled",
    "ews",
    "graph",
    "proxy",
    "url",
    "username",
    "password_env",
    "password_file",
    "tenant",
    "client_id",
    "secret_env",
    "time_zone",
    "when",
    "daily",
    "weekly",
    "one_off",
    "once",
    "many",
    "start",
    "end",
    "interval_minutes",
    "days",
    "times",
    "at",
    "include",
    "attachments",
    "max_bytes",
    "window",
    "days_back",
    "days_ahead",
    "private_items",
    "ad_group",
    "ad_dn",
    "mailbox",
    "mailboxes",
    "snapshot",
    "users",
    "groups",
    "members",
    "dn",
    "primary_smtp",
    "addresses",
    "kind",
    "name",
    "address",
    "licensed",
    "zz",
];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "02:00",
            "25:61",
            "2026-03-29T02:30",
            "Europe/Berlin",
            "W. Europe Standard Time",
            "mon",
            "a@b.com",
            "CN=x,DC=y",
            "hq",
            "d",
            "s",
            "default",
            "all",
            "mask",
            "https://x/EWS",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_json_documents_never_panic_the_loaders(doc in value()) {
        let text = doc.to_string();
        let _ = Config::parse_as(&text, "fuzz.json", Format::Json);
        let _ = SnapshotDirectory::from_json_str(&text, "fuzz.json");
        // TOML cannot hold nulls; everything else goes through the TOML path too.
        if let Ok(toml) = toml::to_string(&doc) {
            let _ = Config::parse_as(&toml, "fuzz.toml", Format::Toml);
        }
    }

    #[test]
    fn random_text_never_panics_the_loaders(text in "[\\[\\]{}=\",.:a-z0-9 \n#'-]{0,200}") {
        let _ = Config::parse_as(&text, "fuzz.toml", Format::Toml);
        let _ = Config::parse_as(&text, "fuzz.json", Format::Json);
        let _ = SnapshotDirectory::from_json_str(&text, "fuzz.json");
    }
}

#[test]
fn unknown_keys_inside_optional_tables_and_choices_are_named_exactly() {
    let lines = problems(
        r#"
        [[sites]]
        id = "hq"
        [sites.ews]
        url = "https://mail.example.com/EWS/Exchange.asmx"
        username = "svc"
        password_env = "PW"
        impersonate = true
        [[definitions]]
        id = "d"
        [[schedules]]
        id = "s"
        time_zone = "UTC"
        when.daily.once.start = "02:00"
        when.daily.once.jitter = 5
        [[tasks]]
        id = "t"
        site = "hq"
        definition = "d"
        schedule = "s"
        group = { mailbox = "a@b.com", extra = 1 }
        "#,
    );
    assert_eq!(
        lines,
        [
            "calrep.toml: sites[0].ews.impersonate: unknown key",
            "calrep.toml: schedules[0].when.daily.once.jitter: unknown key",
            "calrep.toml: tasks[0].group: takes exactly one key, naming its kind; found \"extra\", \"mailbox\"",
        ]
    );
}

#[test]
fn the_access_section_refuses_clear_text_on_the_network_and_bad_urls() {
    let lines = problems(
        r#"
        [access]
        listen = "0.0.0.0:8008"
        certificate_file = "cert.pem"
        public_url = "calendar.example.com"
        "#,
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "calrep.toml: access.listen: 0.0.0.0:8008 is reachable from the network without TLS"
        )),
        "{lines:?}"
    );
    assert!(
        lines.contains(
            &"calrep.toml: access: TLS needs both certificate_file and private_key_file".to_owned()
        ),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"calrep.toml: access.public_url: expected an http:// or https:// URL such as https://calendar.example.com, got \"calendar.example.com\"".to_owned()),
        "{lines:?}"
    );
    // Behind a TLS-terminating proxy, with the URL people use: accepted,
    // and feeds are made from that URL.
    let config = Config::parse(
        "[access]\nlisten = \"0.0.0.0:8008\"\nbehind_tls_proxy = true\npublic_url = \"https://calendar.example.com/\"\n",
        "calrep.toml",
    )
    .unwrap();
    assert_eq!(
        config.access.unwrap().base_url(),
        "https://calendar.example.com"
    );
}
