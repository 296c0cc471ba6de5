//! The configuration that points calrep at an EWS simulator serving a
//! demo organisation (tests and benchmarks share it).

use calrep_core::demo::DemoOrganisation;
use calrep_core::sim::SimOptions;

use crate::config::ConfigBuilder;

/// The task of [`config_text`]: every demo mailbox, through ExpandDL of
/// All Staff.
pub const TASK: &str = "everyone";

/// A configuration whose site `sim` reads `url` with the simulator's
/// Basic account (password in the file `password`), plus `ews_extra`
/// lines in its `[sites.ews]` table; everything in every calendar,
/// attachments up to 1 MiB; engine concurrency `concurrency`.
pub fn config_text(url: &str, ews_extra: &str, concurrency: usize) -> String {
    everyone(
        &format!("directory = \"exchange\"\n[sites.ews]\nurl = \"{url}\"\n{ews_extra}"),
        concurrency,
    )
}

/// A configuration whose site `sim` has `site_lines`: everything in every
/// calendar, attachments up to 1 MiB, of every mailbox in All Staff
/// ([`TASK`]); engine concurrency `concurrency`.
pub(crate) fn everyone(site_lines: &str, concurrency: usize) -> String {
    ConfigBuilder::new()
        .site("sim", site_lines)
        .definition(
            "everything",
            "include = \"all\"\nattachments = { enabled = true, max_bytes = 1048576 }",
        )
        .daily_schedule("nightly", "UTC", "02:00")
        .task(
            TASK,
            "sim",
            "everything",
            "nightly",
            &format!(
                "{{ distribution_group = \"{}\" }}",
                DemoOrganisation::ALL_STAFF_ADDRESS
            ),
        )
        .section(&format!("[engine]\nconcurrency = {concurrency}"))
        .text()
}

/// The `[sites.ews]` lines of the simulator's Basic account.
pub fn basic_account() -> String {
    format!(
        "username = \"{}\"\npassword_file = \"password\"",
        SimOptions::USERNAME
    )
}
