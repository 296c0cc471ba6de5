//! Configurations for tests, built instead of hand-written: each test says
//! only what matters to it, and a change to the format is made here once.

use calrep_core::Config;

/// Builds a configuration's TOML text section by section.
///
/// ```
/// use calrep_testkit::config::ConfigBuilder;
/// let config = ConfigBuilder::new()
///     .ews_site("hq", "https://mail.example.com/EWS/Exchange.asmx")
///     .definition("default", "")
///     .daily_schedule("nightly", "UTC", "02:00")
///     .task("alice", "hq", "default", "nightly", r#"{ mailbox = "alice@example.com" }"#)
///     .build();
/// assert_eq!(config.tasks.len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    sections: Vec<String>,
}

impl ConfigBuilder {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// A site with an `[ews]` endpoint at `url`, Basic account `svc`
    /// whose password is in `$PW` (read only when a run starts).
    pub fn ews_site(self, id: &str, url: &str) -> Self {
        self.site(
            id,
            &format!(r#"ews = {{ url = "{url}", username = "svc", password_env = "PW" }}"#),
        )
    }

    /// A site serving a generated demo organisation.
    pub fn demo_site(self, id: &str, seed: u64, mailboxes: u32) -> Self {
        self.site(
            id,
            &format!("demo = {{ seed = {seed}, mailboxes = {mailboxes} }}"),
        )
    }

    /// The demo fixture: site `demo` serving a generated organisation
    /// (`change_rounds` rounds of people's edits), definition `all` (every
    /// calendar), schedule `s` (daily at 02:00 UTC) and task `t`
    /// replicating the `All Staff` group.
    pub fn demo_everyone(seed: u64, mailboxes: u32, change_rounds: u32) -> Self {
        Self::new()
            .site(
                "demo",
                &format!(
                    "demo = {{ seed = {seed}, mailboxes = {mailboxes}, change_rounds = {change_rounds} }}"
                ),
            )
            .definition("all", "include = \"all\"")
            .daily_schedule("s", "UTC", "02:00")
            .task("t", "demo", "all", "s", "{ ad_group = \"All Staff\" }")
    }

    /// A site with these TOML lines after its id.
    pub fn site(self, id: &str, lines: &str) -> Self {
        self.section(&format!("[[sites]]\nid = \"{id}\"\n{lines}"))
    }

    /// A definition with these TOML lines after its id.
    pub fn definition(self, id: &str, lines: &str) -> Self {
        self.section(&format!("[[definitions]]\nid = \"{id}\"\n{lines}"))
    }

    /// A schedule running once a day at `at` in `zone`.
    pub fn daily_schedule(self, id: &str, zone: &str, at: &str) -> Self {
        self.schedule(id, zone, &format!("when.daily.once.start = \"{at}\""))
    }

    /// A schedule in `zone` with these TOML lines (its `when`).
    pub fn schedule(self, id: &str, zone: &str, lines: &str) -> Self {
        self.section(&format!(
            "[[schedules]]\nid = \"{id}\"\ntime_zone = \"{zone}\"\n{lines}"
        ))
    }

    /// A task replicating `group` (inline TOML) on `site`.
    pub fn task(self, id: &str, site: &str, definition: &str, schedule: &str, group: &str) -> Self {
        self.task_with(id, site, definition, schedule, group, "")
    }

    /// A task with extra TOML lines (`enabled = false`, say).
    pub fn task_with(
        self,
        id: &str,
        site: &str,
        definition: &str,
        schedule: &str,
        group: &str,
        lines: &str,
    ) -> Self {
        self.section(&format!(
            "[[tasks]]\nid = \"{id}\"\nsite = \"{site}\"\ndefinition = \"{definition}\"\nschedule = \"{schedule}\"\ngroup = {group}\n{lines}"
        ))
    }

    /// Any other section (`[engine]`, `[replica]`, …), as TOML text.
    pub fn section(mut self, text: &str) -> Self {
        self.sections.push(text.trim().to_owned());
        self
    }

    /// The TOML text.
    pub fn text(&self) -> String {
        let mut text = self.sections.join("\n\n");
        text.push('\n');
        text
    }

    /// The parsed configuration.
    ///
    /// # Panics
    ///
    /// If it is invalid (a bug in the test).
    #[allow(clippy::panic)]
    pub fn build(&self) -> Config {
        let text = self.text();
        Config::parse(&text, "test.toml")
            .unwrap_or_else(|e| panic!("invalid test configuration: {e}\n{text}"))
    }
}
