//! Group resolution: nesting, cycles, skips, de-duplication, the cache, and
//! snapshot files, checked against an independent reachability oracle.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use calrep_core::group::{
    Directory, DirectoryEntry, DirectoryError, GroupMembers, GroupRef, GroupResolver, SkipReason,
    SnapshotDirectory,
};
use calrep_core::{Clock, Group, ManualClock, SystemClock};
use chrono::TimeDelta;
use proptest::prelude::*;
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn example_directory() -> Arc<SnapshotDirectory> {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/directory.json"
    ));
    Arc::new(SnapshotDirectory::load(path).unwrap())
}

fn addresses(res: &calrep_core::group::Resolution) -> Vec<String> {
    res.mailboxes
        .iter()
        .map(|m| m.address.to_string())
        .collect()
}

#[test]
fn nested_groups_resolve_with_skips_and_cycles_reported() {
    let resolver = GroupResolver::new(Some(example_directory()), Arc::new(SystemClock));
    let res = runtime()
        .block_on(resolver.resolve(&Group::AdGroup("sales".into())))
        .unwrap();
    // Alice is listed twice (by DN, and by a secondary address in Sales EMEA).
    assert_eq!(
        addresses(&res),
        ["alice@example.com", "bob@example.com", "frank@example.com"]
    );
    let skipped: Vec<(String, SkipReason)> = res
        .skipped
        .iter()
        .map(|s| (s.entry.clone(), s.reason.clone()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("dave@example.com".to_owned(), SkipReason::Disabled),
            ("desk@partner.example".to_owned(), SkipReason::Contact),
            (
                "sales@example.com".to_owned(),
                SkipReason::Cycle {
                    path: vec!["Sales".into(), "Sales EMEA".into(), "Sales".into()]
                }
            ),
        ]
    );
    // The same group by DN and by address gives the same mailboxes.
    for group in [
        Group::AdDn("CN=Sales,OU=Groups,DC=example,DC=com".parse().unwrap()),
        Group::DistributionGroup("SALES@example.com".parse().unwrap()),
    ] {
        let again = runtime().block_on(resolver.resolve(&group)).unwrap();
        assert_eq!(again.mailboxes, res.mailboxes);
    }
}

#[test]
fn unknown_groups_and_missing_directories_are_errors() {
    let resolver = GroupResolver::new(Some(example_directory()), Arc::new(SystemClock));
    let err = runtime()
        .block_on(resolver.resolve(&Group::AdGroup("Nobody".into())))
        .unwrap_err();
    assert_eq!(err.to_string(), "group \"Nobody\" is not in the directory");
    let bare = GroupResolver::new(None, Arc::new(SystemClock));
    let err = runtime()
        .block_on(bare.resolve(&Group::AdGroup("Sales".into())))
        .unwrap_err();
    assert!(
        err.to_string().contains("no directory is configured"),
        "{err}"
    );
}

/// A directory over an in-memory graph that counts its calls and can fail.
#[derive(Debug, Default)]
struct GraphDirectory {
    groups: HashMap<String, Vec<DirectoryEntry>>,
    calls: AtomicUsize,
    unavailable: bool,
}

impl GraphDirectory {
    fn group_entry(name: &str) -> DirectoryEntry {
        let mut e = DirectoryEntry::group(name);
        e.primary_smtp = Some(format!("{name}@groups.example").parse().unwrap());
        e
    }
}

#[async_trait]
impl Directory for GraphDirectory {
    async fn members(&self, group: &GroupRef) -> Result<GroupMembers, DirectoryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.unavailable {
            return Err(DirectoryError::Unavailable("connection refused".into()));
        }
        let name = match group {
            GroupRef::Address(a) => a.as_str().split('@').next().unwrap().to_owned(),
            GroupRef::Name(n) => n.clone(),
            other => return Err(DirectoryError::GroupNotFound(other.to_string())),
        };
        let members = self
            .groups
            .get(&name)
            .ok_or_else(|| DirectoryError::GroupNotFound(group.to_string()))?;
        Ok(GroupMembers::new(Self::group_entry(&name), members.clone()))
    }
}

#[test]
fn the_cache_lasts_an_hour_and_refresh_bypasses_it() {
    let mut dir = GraphDirectory::default();
    dir.groups.insert(
        "g".into(),
        vec![DirectoryEntry::user("A", "a@x.com".parse().unwrap())],
    );
    let dir = Arc::new(dir);
    let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
    let resolver = GroupResolver::new(Some(dir.clone()), Arc::new(clock.clone()));
    let group = Group::AdGroup("g".into());
    let rt = runtime();
    rt.block_on(resolver.resolve(&group)).unwrap();
    clock.advance(TimeDelta::minutes(59));
    rt.block_on(resolver.resolve(&group)).unwrap();
    assert_eq!(
        dir.calls.load(Ordering::SeqCst),
        1,
        "a result younger than an hour is reused"
    );
    clock.advance(TimeDelta::minutes(1));
    let res = rt.block_on(resolver.resolve(&group)).unwrap();
    assert_eq!(
        dir.calls.load(Ordering::SeqCst),
        2,
        "an hour-old result is read again"
    );
    assert_eq!(res.resolved_at, clock.now());
    rt.block_on(resolver.refresh(&group)).unwrap();
    assert_eq!(dir.calls.load(Ordering::SeqCst), 3, "refresh always reads");
}

#[test]
fn an_unavailable_directory_is_a_retryable_error() {
    let dir = Arc::new(GraphDirectory {
        unavailable: true,
        ..GraphDirectory::default()
    });
    let resolver = GroupResolver::new(Some(dir), Arc::new(SystemClock));
    let err = runtime()
        .block_on(resolver.resolve(&Group::AdGroup("g".into())))
        .unwrap_err();
    assert!(calrep_core::Error::from(err).is_retryable());
}

#[test]
fn snapshot_problems_are_all_reported_with_paths() {
    let text = json!({
        "users": [
            {"dn": "CN=A,DC=x", "primary_smtp": "a@x.com", "shoe_size": 44},
            {"dn": "cn=a, dc=X", "primary_smtp": "b@x.com"},
            {"primary_smtp": "not an address"},
            {"display_name": "nobody"},
            {"primary_smtp": "c@x.com", "enabled": "yes"}
        ],
        "groups": [
            {"name": "G", "members": ["a@x.com", "ghost@x.com", "CN=Nowhere,DC=x"]},
            {"name": "g", "address": "A@x.com", "members": []}
        ],
        "computers": []
    })
    .to_string();
    let Err(DirectoryError::InvalidSnapshot(problems)) =
        SnapshotDirectory::from_json_str(&text, "dir.json")
    else {
        panic!("expected problems");
    };
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let expected = [
        "dir.json: computers: unknown key; expected one of: users, groups",
        "dir.json: users[1].dn: cn=a, dc=X appears twice in the file",
        "dir.json: users[2].primary_smtp: \"not an address\" is not a valid e-mail address: it has no '@'",
        "dir.json: users[3]: a user needs a dn or a primary_smtp",
        "dir.json: users[0].shoe_size: unknown key",
        "dir.json: groups[0].members[1]: no user, contact or group ghost@x.com in this file",
        "dir.json: groups[0].members[2]: no user, contact or group CN=Nowhere,DC=x in this file",
        "dir.json: groups[1].name: another group is also named \"g\"",
        "dir.json: groups[1].address: A@x.com belongs to two entries",
    ];
    for line in expected {
        assert!(
            lines.iter().any(|l| l == line),
            "missing {line:?} in\n{}",
            lines.join("\n")
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("dir.json: users[4].enabled: invalid type")),
        "{lines:?}"
    );
}

/// A random group graph: `members[g]` lists users (`u<n>`) and groups (`g<n>`).
#[derive(Debug, Clone)]
struct Graph {
    users: Vec<(bool, bool)>,
    members: Vec<Vec<(bool, usize)>>,
}

fn graph() -> impl Strategy<Value = Graph> {
    (1usize..30, 1usize..12).prop_flat_map(|(users, groups)| {
        (
            prop::collection::vec(
                (prop::bool::weighted(0.85), prop::bool::weighted(0.85)),
                users,
            ),
            prop::collection::vec(
                prop::collection::vec((prop::bool::weighted(0.3), 0usize..users.max(groups)), 0..8),
                groups,
            ),
        )
            .prop_map(move |(u, m)| Graph {
                members: m
                    .into_iter()
                    .map(|list| {
                        list.into_iter()
                            .map(|(is_group, n)| {
                                (is_group, if is_group { n % groups } else { n % users })
                            })
                            .collect()
                    })
                    .collect(),
                users: u,
            })
    })
}

fn snapshot(graph: &Graph) -> String {
    let users: Vec<_> = graph
        .users
        .iter()
        .enumerate()
        .map(|(i, (enabled, licensed))| {
            // Every other user is written in upper case, to exercise case-insensitive matching.
            let address = if i % 2 == 0 { format!("u{i}@x.com") } else { format!("U{i}@X.COM") };
            json!({"dn": format!("CN=u{i},DC=x"), "primary_smtp": address, "enabled": enabled, "licensed": licensed})
        })
        .collect();
    let groups: Vec<_> = graph
        .members
        .iter()
        .enumerate()
        .map(|(g, list)| {
            let members: Vec<String> = list
                .iter()
                .map(|(is_group, n)| {
                    if *is_group {
                        format!("CN=g{n},DC=x")
                    } else {
                        format!("u{n}@x.com")
                    }
                })
                .collect();
            json!({"name": format!("g{g}"), "dn": format!("CN=g{g},DC=x"), "members": members})
        })
        .collect();
    json!({"users": users, "groups": groups}).to_string()
}

/// The oracle: breadth-first reachability from g0, then the usable users.
fn reachable_mailboxes(graph: &Graph) -> BTreeSet<String> {
    let mut seen = vec![false; graph.members.len()];
    let mut queue = VecDeque::from([0]);
    let mut out = BTreeSet::new();
    seen[0] = true;
    while let Some(g) = queue.pop_front() {
        for &(is_group, n) in &graph.members[g] {
            if is_group {
                if !seen[n] {
                    seen[n] = true;
                    queue.push_back(n);
                }
            } else if graph.users[n] == (true, true) {
                out.insert(format!("u{n}@x.com"));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn resolution_equals_reachability_and_terminates_on_cycles(graph in graph()) {
        let dir = SnapshotDirectory::from_json_str(&snapshot(&graph), "g.json").unwrap();
        let resolver = GroupResolver::new(Some(Arc::new(dir)), Arc::new(SystemClock));
        let res = runtime().block_on(resolver.resolve(&Group::AdGroup("g0".into()))).unwrap();
        let got: BTreeSet<String> = res.mailboxes.iter().map(|m| m.address.key().to_owned()).collect();
        prop_assert_eq!(&got, &reachable_mailboxes(&graph));
        // Sorted, no duplicates.
        let keys: Vec<&str> = res.mailboxes.iter().map(|m| m.address.key()).collect();
        prop_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        // Every disabled or unlicensed reachable user is reported with a reason.
        for skipped in &res.skipped {
            prop_assert!(!got.contains(&skipped.entry.to_lowercase()));
        }
    }
}
