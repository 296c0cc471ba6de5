//! The `calrep` command as an operator runs it: a real process, real files,
//! exit codes and output lines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use chrono::DateTime;

fn calrep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calrep"))
        .args(args)
        .output()
        .unwrap()
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn check_accepts_the_examples_with_a_one_line_summary() {
    for file in ["calrep.toml", "calrep.json"] {
        let out = calrep(&["check", "--config", &example(file)]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(stdout.contains(": ok: "), "{stdout}");
    }
}

#[test]
fn check_lists_every_problem_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("calrep-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("calrep.toml");
    std::fs::write(
        &config,
        r#"
        directory = { snapshot = "directory.json" }
        [[sites]]
        id = "hq"
        ews = { url = "https://mail.example.com/EWS/Exchange.asmx", username = "svc", password_env = "PW" }
        [[tasks]]
        id = "t"
        site = "hq"
        definition = "default"
        schedule = "nightly"
        group = { ad_group = "Sales" }
        "#,
    )
    .unwrap();
    let out = calrep(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    let name = config.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{name}: tasks[0].definition: no definition named \"default\""
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{name}: tasks[0].schedule: no schedule named \"nightly\""
        )),
        "{stderr}"
    );
    // Once the configuration is right, the snapshot it names is checked too.
    let fixed = std::fs::read_to_string(&config).unwrap()
        + "[[definitions]]\nid = \"default\"\n[[schedules]]\nid = \"nightly\"\ntime_zone = \"UTC\"\nwhen.daily.once.start = \"01:00\"\n";
    std::fs::write(&config, fixed).unwrap();
    std::fs::write(
        dir.join("directory.json"),
        r#"{"groups": [{"name": "Sales", "members": ["x@y.z"]}]}"#,
    )
    .unwrap();
    let out = calrep(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "directory.json: groups[0].members[0]: no user, contact or group x@y.z in this file"
        ),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_reports_a_missing_file() {
    let out = calrep(&["check", "--config", "/nonexistent/calrep.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("/nonexistent/calrep.toml: cannot read the file"));
}

#[test]
fn next_runs_prints_rfc3339_with_the_zone_offset() {
    let out = calrep(&[
        "next-runs",
        "--config",
        &example("calrep.toml"),
        "--schedule",
        "nightly",
        "--after",
        "2027-03-26T12:00:00Z",
        "--count",
        "4",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 4);
    let runs: Vec<_> = lines
        .iter()
        .map(|l| DateTime::parse_from_rfc3339(l).unwrap())
        .collect();
    assert!(runs.windows(2).all(|w| w[0] < w[1]));
    // Berlin switches to summer time at 02:00 on 28 March 2027, so 02:30 does
    // not exist that night: the run happens when the gap ends, at 03:00 CEST.
    let offsets: Vec<i32> = runs
        .iter()
        .map(|t| t.offset().local_minus_utc() / 3600)
        .collect();
    assert_eq!(offsets, [1, 2, 2, 2]);
    assert_eq!(lines[1], "2027-03-28T03:00:00+02:00");
}

#[test]
fn next_runs_refuses_bad_arguments() {
    let out = calrep(&[
        "next-runs",
        "--config",
        &example("calrep.toml"),
        "--schedule",
        "hourly",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no schedule named \"hourly\""));
    let out = calrep(&[
        "next-runs",
        "--config",
        &example("calrep.toml"),
        "--schedule",
        "nightly",
        "--after",
        "tomorrow",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--after \"tomorrow\" is not an RFC 3339 instant"));
    let out = calrep(&["next-runs", "--schedule", "nightly"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap's usage errors also exit 2"
    );
}

#[test]
fn groups_lists_mailboxes_then_skips_and_speaks_json() {
    let out = calrep(&[
        "groups",
        "--config",
        &example("calrep.toml"),
        "--task",
        "sales-nightly",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("task sales-nightly: AD group \"Sales\": 3 mailboxes, 3 skipped"),
        "{stdout}"
    );
    assert!(lines[1].trim_start().starts_with("alice@example.com"));
    assert_eq!(lines[4], "skipped:");
    assert!(stdout.contains("dave@example.com") && stdout.contains("account disabled"));

    let out = calrep(&[
        "groups",
        "--config",
        &example("calrep.toml"),
        "--task",
        "board-office-hours",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["mailboxes"][0]["address"], "carol.chen@example.com");
    assert_eq!(doc["skipped"][0]["entry"], "erin@example.com");
    assert_eq!(doc["skipped"][0]["reason"], "unlicensed");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("calrep-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `calrep sim` process serving the demo organisation of the test below
/// (seed 7, 20 mailboxes) after `rounds` rounds of changes; killed on drop.
struct SimProcess(
    std::process::Child,
    // Kept open: the simulator goes on writing to it.
    #[allow(dead_code)] std::io::BufReader<std::process::ChildStdout>,
);

impl SimProcess {
    fn start(port: &str, rounds: u32) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_calrep"))
            .args(["sim", "--port", port, "--seed", "7", "--mailboxes", "20"])
            .args(["--change-rounds", &rounds.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // It prints its address once it listens.
        let mut first = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        assert!(first.contains(&format!("127.0.0.1:{port}")), "{first}");
        Self(child, stdout)
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `calrep serve`, waits for its first lines, sends SIGTERM and
/// expects a clean stop within a few seconds.
fn serve_stops_on_sigterm(config: &str) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_calrep"))
        .args(["serve", "--config", config])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        lines.push(line);
    }
    assert!(
        lines[1].starts_with("next run of task all-staff: "),
        "{lines:?}"
    );
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "serve ignored SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopping on SIGTERM"), "{stderr}");
}

#[test]
fn demo_run_plan_verify_export_status_work_together() {
    let dir = temp_dir("demo");
    let demo_dir = dir.join("calrep-demo");
    let stdout = run_demo(&demo_dir, "ews");
    assert!(stdout.contains("over HTTP"), "{stdout}");
    let config = demo_dir.join("calrep.toml");
    let port = demo_port(&std::fs::read_to_string(&config).unwrap());
    let config = config.to_str().unwrap();
    // The demo's simulator is gone; `calrep sim` serves the organisation
    // again, as the demo's last lines say.
    let _sim = SimProcess::start(&port, 1);

    // The demo's configuration expands groups through Exchange: check
    // accepts it and groups resolves through the simulator's ExpandDL.
    let out = calrep(&["check", "--config", config]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("resolved through Exchange"),
        "{}",
        text(&out.stdout)
    );
    let out = calrep(&["groups", "--config", config, "--task", "all-staff"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(": 20 mailboxes"),
        "{}",
        text(&out.stdout)
    );

    // serve stops on SIGTERM (what systemd and containers send) and says
    // when each task runs next.
    serve_stops_on_sigterm(config);

    // Nothing changed since the demo's second run.
    let out = calrep(&["plan", "--config", config, "--task", "all-staff"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("would change: items +0 ~0 -0"),
        "{}",
        text(&out.stdout)
    );
    // verify shows its progress as a run does: each mailbox at RUST_LOG=info.
    let out = Command::new(env!("CARGO_BIN_EXE_calrep"))
        .args(["verify", "--config", config, "--task", "all-staff"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr).matches(": healthy").count(),
        20,
        "{}",
        text(&out.stderr)
    );

    // Another round of changes at the source: verify sees it (exit 5), plan
    // predicts it, run applies it, and verify agrees again.
    drop(_sim);
    let _sim = SimProcess::start(&port, 2);
    let out = calrep(&["verify", "--config", config, "--task", "all-staff"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(
        text(&out.stdout).contains("difference"),
        "{}",
        text(&out.stdout)
    );
    let out = calrep(&["plan", "--config", config, "--task", "all-staff", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["dry_run"], true);
    let planned = plan["totals"]["items_created"].as_u64().unwrap();
    assert!(planned > 0);
    let out = calrep(&["run", "--config", config, "--task", "all-staff", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "Enabled With Warning");
    assert_eq!(
        report["totals"]["items_created"].as_u64().unwrap(),
        planned,
        "the plan predicted the run"
    );
    let out = calrep(&["verify", "--config", config, "--task", "all-staff"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // Status and export read the replica.
    let out = calrep(&["status", "--config", config, "--json"]);
    let mailboxes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = mailboxes[0]["address"].as_str().unwrap().to_owned();
    let ics = dir.join("first.ics");
    let out = calrep(&[
        "export",
        "--config",
        config,
        "--mailbox",
        &first,
        "--out",
        ics.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let exported = std::fs::read_to_string(&ics).unwrap();
    assert!(
        exported.starts_with("BEGIN:VCALENDAR\r\n")
            && exported.contains("RRULE:")
            && exported.contains("BEGIN:VTIMEZONE")
    );
    let out = calrep(&[
        "export",
        "--config",
        config,
        "--mailbox",
        "nobody@demo.example",
    ]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn run_explains_why_a_task_cannot_start() {
    // A copy, so the replica file it creates stays out of the repository.
    let dir = temp_dir("ews");
    for file in ["calrep.toml", "directory.json"] {
        std::fs::copy(example(file), dir.join(file)).unwrap();
    }
    let config = dir.join("calrep.toml").display().to_string();
    let out = calrep(&["run", "--config", &config, "--task", "sales-nightly"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("EWS for site hq: environment variable CALREP_HQ_PASSWORD is not set"),
        "{stderr}"
    );
    let out = calrep(&["run", "--config", &config, "--task", "cloud-pilot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("task cloud-pilot is disabled"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// RFC 5545 section 3.8.5.3 prints the instances of its examples; two of
/// them, with US Eastern time as the example's TZID, through the command.
#[test]
fn expand_prints_the_rfc_5545_examples_as_utc_instants() {
    let out = calrep(&[
        "expand",
        "--rrule",
        "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,TH;COUNT=8",
        "--dtstart",
        "1997-09-02T09:00:00",
        "--tz",
        "America/New_York",
        "--from",
        "1997-01-01T00:00:00Z",
        "--to",
        "1998-01-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // "==> (1997 9:00 AM EDT) September 2,4,16,18,30;October 2,14,16"
    let expected = [
        "1997-09-02T13:00:00Z",
        "1997-09-04T13:00:00Z",
        "1997-09-16T13:00:00Z",
        "1997-09-18T13:00:00Z",
        "1997-09-30T13:00:00Z",
        "1997-10-02T13:00:00Z",
        "1997-10-14T13:00:00Z",
        "1997-10-16T13:00:00Z",
    ];
    assert_eq!(text(&out.stdout).lines().collect::<Vec<_>>(), expected);

    // "The last work day of the month": all-day, printed as dates.
    let out = calrep(&[
        "expand",
        "--rrule",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "--dtstart",
        "1997-09-30",
        "--from",
        "1997-09-01T00:00:00Z",
        "--to",
        "1998-01-01T00:00:00Z",
    ]);
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        ["1997-09-30", "1997-10-31", "1997-11-28", "1997-12-31"]
    );
}

#[test]
fn expand_names_the_bad_part_and_exits_2() {
    let window = [
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2027-01-01T00:00:00Z",
    ];
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "--rrule",
                "FREQ=DAILY;BYHOUR=24",
                "--dtstart",
                "2026-03-01T09:00:00",
            ],
            "BYHOUR",
        ),
        (
            &[
                "--rrule",
                "FREQ=DAILY;BYDAY=1MO",
                "--dtstart",
                "2026-03-01T09:00:00",
            ],
            "BYDAY",
        ),
        (
            &["--rrule", "FREQ=DAILY", "--dtstart", "yesterday"],
            "--dtstart",
        ),
        (
            &[
                "--rrule",
                "FREQ=DAILY",
                "--dtstart",
                "2026-03-01T09:00:00",
                "--tz",
                "Mars/Base",
            ],
            "Mars/Base",
        ),
        (
            &[
                "--rrule",
                "FREQ=DAILY",
                "--dtstart",
                "2026-03-01T09:00:00",
                "--exdate",
                "soon",
            ],
            "--exdate",
        ),
    ];
    for (args, part) in cases {
        let mut all = vec!["expand"];
        all.extend_from_slice(args);
        all.extend_from_slice(&window);
        let out = calrep(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(part), "{args:?}: {err}");
    }
}

#[test]
fn expand_reads_every_series_of_an_ics_file_with_overrides() {
    let dir = std::env::temp_dir().join(format!("calrep-cli-ics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cal.ics");
    std::fs::write(
        &file,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:weekly\r\n\
         DTSTART;TZID=Europe/London:20260323T090000\r\nDURATION:PT1H\r\n\
         RRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:weekly\r\nRECURRENCE-ID;TZID=Europe/London:20260330T090000\r\n\
         DTSTART;TZID=Europe/London:20260331T120000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:once\r\nDTSTART;VALUE=DATE:20260325\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let out = calrep(&[
        "expand",
        "--ics",
        file.to_str().unwrap(),
        "--from",
        "2026-03-01T00:00:00Z",
        "--to",
        "2026-05-01T00:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // London is GMT until 29 March, then BST (UTC+1).
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        [
            "2026-03-23T09:00:00Z",
            "2026-03-25",
            "2026-03-31T11:00:00Z",
            "2026-04-06T08:00:00Z"
        ]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The CalendarItem of Microsoft's GetItem documentation (last weekday of
/// each month, one occurrence moved, one deleted), as a fragment with the
/// usual undeclared `t:` prefix. The pattern's dates (python-dateutil:
/// MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1 from 2026-03-02) are 31 Mar,
/// 30 Apr, 29 May, 30 Jun, 31 Jul, 31 Aug, 30 Sep, 30 Oct, 30 Nov, 31 Dec.
#[test]
fn expand_reads_an_ews_calendar_item() {
    let dir = std::env::temp_dir().join(format!("calrep-cli-ews-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("item.xml");
    let item = r#"<t:CalendarItem>
  <t:ItemId Id="AAMk2" ChangeKey="DwAA"/><t:Subject>Team sync</t:Subject>
  <t:UID>040000008200E00074C5B7101A82E008</t:UID>
  <t:Start>2026-03-02T09:00:00Z</t:Start><t:End>2026-03-02T09:30:00Z</t:End>
  <t:Recurrence>
    <t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Weekday</t:DaysOfWeek>
      <t:DayOfWeekIndex>Last</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>
    <t:EndDateRecurrence><t:StartDate>2026-03-02</t:StartDate><t:EndDate>2026-12-31</t:EndDate></t:EndDateRecurrence>
  </t:Recurrence>
  <t:ModifiedOccurrences><t:Occurrence><t:ItemId Id="AAMkx"/><t:Start>2026-04-30T13:00:00Z</t:Start>
    <t:End>2026-04-30T13:30:00Z</t:End><t:OriginalStart>2026-04-30T09:00:00Z</t:OriginalStart></t:Occurrence></t:ModifiedOccurrences>
  <t:DeletedOccurrences><t:DeletedOccurrence><t:Start>2026-05-29T09:00:00Z</t:Start></t:DeletedOccurrence></t:DeletedOccurrences>
  <t:StartTimeZoneId>UTC</t:StartTimeZoneId>
</t:CalendarItem>"#;
    std::fs::write(&file, item).unwrap();
    let args = |f: &std::path::Path| {
        calrep(&[
            "expand",
            "--ews",
            f.to_str().unwrap(),
            "--from",
            "2026-01-01T00:00:00Z",
            "--to",
            "2027-01-01T00:00:00Z",
        ])
    };
    let out = args(&file);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let days: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l[5..16].to_owned())
        .collect();
    assert_eq!(
        days,
        [
            "03-31T09:00",
            "04-30T13:00",
            "06-30T09:00",
            "07-31T09:00",
            "08-31T09:00",
            "09-30T09:00",
            "10-30T09:00",
            "11-30T09:00",
            "12-31T09:00"
        ]
    );
    // Without its End, the item is refused, and the message names both.
    std::fs::write(
        &file,
        item.replace("<t:End>2026-03-02T09:30:00Z</t:End>", ""),
    )
    .unwrap();
    let out = args(&file);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("AAMk2") && err.contains("End"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn expand_of_a_file_has_one_budget_for_all_its_series() {
    let dir = temp_dir("ics-budget");
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n");
    for i in 0..60 {
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:endless-{i}\r\nDTSTART:20260101T000000Z\r\nRRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\n"
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    let file = dir.join("endless.ics");
    std::fs::write(&file, ics).unwrap();
    let out = calrep(&[
        "expand",
        "--ics",
        file.to_str().unwrap(),
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2027-01-01T00:00:00Z",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("more than 1000000 occurrences"), "{stderr}");
    assert!(stderr.contains("endless-"), "{stderr}");
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_reports_schema_problems_and_missing_files_in_one_pass() {
    let dir = temp_dir("one-pass");
    let config = dir.join("calrep.toml");
    std::fs::write(
        &config,
        r#"
        [directory]
        snapshot = "nope/directory.json"
        [[sites]]
        id = "hq"
        ews = { url = "https://mail.example.com/EWS/Exchange.asmx", username = "svc", password_file = "missing-pw" }
        [[definitions]]
        id = "d"
        [[schedules]]
        id = "s"
        time_zone = "Europe/Atlantis"
        when.daily.once.start = "02:00"
        [[tasks]]
        id = "t"
        site = "hq"
        definition = "d"
        schedule = "s"
        group = { mailbox = 5 }
        "#,
    )
    .unwrap();
    let out = calrep(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for expected in [
        "schedules[0].time_zone: unknown time zone",
        "tasks[0].group.mailbox: invalid type",
        &format!(
            "sites[0].ews.password_file: no file at {}",
            dir.join("missing-pw").display()
        ),
        &dir.join("nope/directory.json").display().to_string(),
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from:\n{stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `calrep demo` of 20 mailboxes into `at` over `backend`, which must
/// verify equal; its output.
fn run_demo(at: &std::path::Path, backend: &str) -> String {
    let at = at.to_str().unwrap();
    let stdout = succeeded(&[
        "demo",
        "--dir",
        at,
        "--mailboxes",
        "20",
        "--backend",
        backend,
    ]);
    assert!(stdout.contains("the replica equals the source"), "{stdout}");
    stdout
}

/// The output of a `calrep` command that must exit 0.
fn succeeded(args: &[&str]) -> String {
    let out = calrep(args);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

/// The port of the simulator a demo's configuration names.
fn demo_port(toml: &str) -> String {
    toml.split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(['/', '"']).next())
        .unwrap()
        .to_owned()
}

#[test]
fn the_demo_runs_over_graph_and_an_ews_replica_moves_to_graph_from_the_command_line() {
    let dir = temp_dir("graph");
    let (graph_dir, ews_dir) = (dir.join("graph"), dir.join("ews"));
    assert!(run_demo(&graph_dir, "graph").contains("served over Microsoft Graph"));
    run_demo(&ews_dir, "ews");

    // The EWS demo's site gains the Graph demo's [graph] section, pointed
    // at the same simulator, serving the organisation as the demo left it.
    let graph_toml = std::fs::read_to_string(graph_dir.join("calrep.toml")).unwrap();
    let ews_toml = std::fs::read_to_string(ews_dir.join("calrep.toml")).unwrap();
    let port = demo_port(&ews_toml);
    let graph_section = graph_toml
        .split("[sites.graph]\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap()
        .replace(&demo_port(&graph_toml), &port);
    std::fs::copy(
        graph_dir.join("sim-app-secret"),
        ews_dir.join("sim-app-secret"),
    )
    .unwrap();
    let both = ews_toml.replace(
        "impersonation = true\n",
        &format!("impersonation = true\n[sites.graph]\n{graph_section}\n"),
    );
    let config = ews_dir.join("calrep.toml");
    std::fs::write(&config, &both).unwrap();
    let config = config.to_str().unwrap();
    let _sim = SimProcess::start(&port, 1);

    let stdout = succeeded(&["move-to-graph", "--config", config, "--site", "demo"]);
    assert!(stdout.contains("20 of 20 mailboxes moved"), "{stdout}");
    assert!(
        stdout.contains("remove the site's [ews] section"),
        "{stdout}"
    );

    // Without [ews], the site reads Graph: the first run writes nothing.
    let ews_lines = both
        .split("[sites.ews]\n")
        .nth(1)
        .and_then(|rest| rest.split("[sites.graph]").next())
        .unwrap();
    let graph_only = both
        .replace(&format!("[sites.ews]\n{ews_lines}"), "")
        .replace("directory = \"exchange\"", "directory = \"graph\"");
    std::fs::write(config, graph_only).unwrap();
    let out = calrep(&["run", "--config", config, "--task", "all-staff", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for count in [
        "items_created",
        "items_updated",
        "items_deleted",
        "attachment_bytes",
    ] {
        assert_eq!(report["totals"][count], 0, "{count}: {report}");
    }
    let out = calrep(&["verify", "--config", config, "--task", "all-staff"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = calrep(&["move-to-graph", "--config", config, "--site", "demo"]);
    assert!(
        text(&out.stdout).contains("0 of 0 mailboxes moved"),
        "{}",
        text(&out.stdout)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A raw HTTP/1.1 request to `addr`; the status code and the body.
fn http(addr: &str, method: &str, path: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let authorization = auth.map_or_else(String::new, |(user, password)| {
        let credentials = calrep_core::base64::encode(format!("{user}:{password}").as_bytes());
        format!("Authorization: Basic {credentials}\r\n")
    });
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nDepth: 0\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Sends SIGTERM (what systemd and containers send) and expects exit 0.
fn terminate(child: &mut std::process::Child) {
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn access_accounts_and_serve_access_only_from_the_command_line() {
    use std::io::BufRead;
    let dir = temp_dir("access");
    let demo_dir = dir.join("calrep-demo");
    run_demo(&demo_dir, "ews");
    let config = demo_dir.join("calrep.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[access]\nlisten = \"127.0.0.1:0\"\n"),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let status = succeeded(&["status", "--config", config, "--json"]);
    let mailboxes: serde_json::Value = serde_json::from_str(&status).unwrap();
    let mailbox = mailboxes[0]["address"].as_str().unwrap().to_owned();

    let issued = succeeded(&[
        "access",
        "grant",
        "--config",
        config,
        "--account",
        "ann",
        "--mailbox",
        &mailbox,
    ]);
    let password = issued.lines().nth(1).unwrap().trim().to_owned();
    assert_eq!(password.len(), 27, "{issued}");
    let listed = succeeded(&["access", "list", "--config", config, "--json"]);
    assert!(
        listed.contains("\"ann\"") && !listed.contains(&password),
        "{listed}"
    );
    assert!(
        !listed.contains("argon2"),
        "no hash in the listing: {listed}"
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_calrep"))
        .args(["serve", "--access-only", "--config", config])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let (status, _) = http(&addr, "PROPFIND", "/dav/", None);
    assert_eq!(status, 401);
    let (status, body) = http(&addr, "PROPFIND", "/dav/", Some(("ann", &password)));
    assert_eq!(status, 207, "{body}");
    assert!(body.contains("/dav/principals/ann/"), "{body}");
    let (status, _) = http(&addr, "PROPFIND", "/dav/", Some(("ann", "guess")));
    assert_eq!(status, 401);
    // Revoked while the server runs: refused at once.
    succeeded(&["access", "revoke", "--config", config, "--account", "ann"]);
    let (status, _) = http(&addr, "PROPFIND", "/dav/", Some(("ann", &password)));
    assert_eq!(status, 401);
    terminate(&mut child);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_demo_with_serve_gives_a_person_a_web_page_caldav_and_a_feed_over_its_replica() {
    use std::io::BufRead;
    let dir = temp_dir("demo-serve");
    let demo_dir = dir.join("calrep-demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_calrep"))
        .args([
            "demo",
            "--mailboxes",
            "10",
            "--serve",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(&demo_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("calrep serve --access-only");
        printed.push(line);
        if done {
            break;
        }
    }
    let printed = printed.join("\n");
    let after = |label: &str| {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label:?} in:\n{printed}"))
            .trim()
            .to_owned()
    };
    let password = after("app password (shown only now):");
    let page = after("in a browser:");
    let addr = page
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/web/"))
        .unwrap()
        .to_owned();
    assert!(!addr.ends_with(":0"), "{printed}");
    assert_eq!(http(&addr, "GET", "/web/signin", None).0, 200);
    // The printed address serves both: a browser is led to the page, a
    // CalDAV client finds its principal there.
    assert_eq!(http(&addr, "GET", "/", None).0, 303);
    let (status, body) = http(&addr, "PROPFIND", "/", Some(("demo", &password)));
    assert_eq!(status, 207, "{body}");
    assert!(body.contains("/dav/principals/demo/"), "{body}");
    let feed = printed
        .lines()
        .filter_map(|l| {
            l.split_once(&format!("http://{addr}"))
                .map(|(_, p)| p.to_owned())
        })
        .find(|p| p.starts_with("/feeds/"))
        .unwrap_or_else(|| panic!("no feed URL in:\n{printed}"));
    let (status, body) = http(&addr, "GET", &feed, None);
    assert_eq!(status, 200);
    assert!(body.starts_with("BEGIN:VCALENDAR"), "{body}");
    terminate(&mut child);
    std::fs::remove_dir_all(dir).unwrap();
}
