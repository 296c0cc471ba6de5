//! A property: any generated organisation, changed any number of times,
//! replicates to the same replica over EWS and over Microsoft Graph — item
//! for item, exceptions with their own fields, deleted occurrences, zones
//! and attachments — with the ids each face shows, whatever the page and
//! batch sizes. The two faces serve one organisation from one simulator,
//! and the two clients share nothing but the item model.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use calrep_core::calendar::{CalendarId, CalendarItem};
use calrep_core::replica::{ReplicaReader, SqliteReplica};
use calrep_core::sim::{SimOptions, graph_id};
use calrep_core::{Config, EmailAddress};
use calrep_testkit::fixture::block;
use calrep_testkit::sim::{SimFixture, as_shown, failed};
use proptest::prelude::*;

/// A horizon wide enough for every generated item, so that Graph's window
/// holds what EWS lists.
const ENGINE: &str = "horizon_days_back = 1100\nhorizon_days_ahead = 1500\n";

fn parse(f: &SimFixture, text: &str) -> Config {
    let mut config = Config::parse(text, "props.toml").unwrap();
    config.base_dir = f.dir.clone();
    config
}

/// Every calendar of every mailbox Graph replicated equals the EWS
/// replica's under the ids Graph shows; returns the items compared.
fn assert_same(ews: &SqliteReplica, graph: &SqliteReplica) -> usize {
    let mut compared = 0;
    let replicated = block(graph.mailboxes()).unwrap();
    assert!(!replicated.is_empty());
    for mailbox in replicated {
        let address: EmailAddress = mailbox.address.parse().unwrap();
        let calendars = block(ews.calendar_ids(&address)).unwrap();
        assert!(!calendars.is_empty(), "{address} is not in the EWS replica");
        for calendar in calendars {
            let sorted = |mut items: Vec<CalendarItem>| {
                items.sort_by(|a, b| a.id.cmp(&b.id));
                items
            };
            let expected = sorted(
                block(ews.items(&address, &calendar))
                    .unwrap()
                    .into_iter()
                    .map(|i| as_shown(i, graph_id))
                    .collect(),
            );
            let shown = CalendarId::new(graph_id(calendar.as_str()));
            let got = sorted(block(graph.items(&address, &shown)).unwrap());
            assert_eq!(got, expected, "{address} {calendar}");
            compared += got.len();
        }
    }
    compared
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_organisation_replicates_identically_over_ews_and_graph(
        seed in any::<u64>(),
        rounds in 1u32..3,
        ews_page in 1u32..40,
        ews_batch in 1u32..20,
        graph_page in 1u32..40,
        graph_batch in 1u32..=4,
    ) {
        let f = SimFixture::with_seed("ews-graph-props", seed, 10, SimOptions::default());
        let ews = parse(&f, &format!(
            "{}{ENGINE}",
            calrep_testkit::ews::config_text(
                &f.sim.url(),
                &format!("timeout_seconds = 5\nmax_changes = {ews_page}\nbatch_size = {ews_batch}\n{}", calrep_testkit::ews::basic_account()),
                2,
            )
        ));
        let graph = parse(&f, &format!(
            "{}{ENGINE}",
            calrep_testkit::graph::config_text(
                &f.sim,
                &format!("timeout_seconds = 5\npage_size = {graph_page}\nbatch = {graph_batch}\n{}", calrep_testkit::graph::secret_app()),
                2,
            )
        ));
        let (ews_engine, ews_replica) = f.engine(ews);
        let (graph_engine, graph_replica) = f.engine(graph);
        for round in 0..=rounds {
            if round > 0 {
                // A round may change nothing in a small organisation;
                // equality is what is checked either way.
                f.demo.apply_changes(1);
            }
            prop_assert_eq!(failed(&f.run(&ews_engine)), Vec::<String>::new());
            prop_assert_eq!(failed(&f.run(&graph_engine)), Vec::<String>::new());
            let compared = assert_same(&ews_replica, &graph_replica);
            prop_assert!(compared > 50, "only {} items", compared);
        }
    }
}
