//! Generators shared by the benchmarks and the integration tests.

use serde_json::{Value, json};

/// The shape of a generated directory.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryShape {
    /// Users with mailboxes (some disabled or unlicensed).
    pub users: usize,
    /// Leaf groups of ten users each.
    pub leaves: usize,
    /// Middle groups of ten leaves each.
    pub mids: usize,
}

impl DirectoryShape {
    /// 20,000 users and 2,000 nested groups (1,800 leaves, 180 middle
    /// groups and the root groups), the size the benchmarks use.
    pub const LARGE: Self = Self {
        users: 20_000,
        leaves: 1_800,
        mids: 180,
    };
}

/// A directory snapshot (the JSON of `SnapshotDirectory`) with nested groups:
/// leaf groups `leaf-<i>` hold ten users each, middle groups `mid-<j>` nest
/// ten leaves each, and root groups `root-<n>` nest middle groups so that they
/// reach `n` member users for each `n` in `roots` (a multiple of 100). Every
/// 20th user is disabled and every 33rd unlicensed; each root also holds a
/// cycle (its first middle group nests the root again) and a diamond (one leaf
/// nested twice).
///
/// ```
/// let text = calrep_benches::directory_snapshot(calrep_benches::DirectoryShape { users: 200, leaves: 20, mids: 2 }, &[100]);
/// let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
/// assert_eq!(doc["users"].as_array().unwrap().len(), 200);
/// ```
pub fn directory_snapshot(shape: DirectoryShape, roots: &[usize]) -> String {
    let users: Vec<Value> = (0..shape.users)
        .map(|i| {
            json!({
                "dn": format!("CN=User {i},OU=Staff,DC=example,DC=com"),
                "display_name": format!("User {i}"),
                "primary_smtp": format!("user{i}@example.com"),
                "enabled": i % 20 != 7,
                "licensed": i % 33 != 5,
            })
        })
        .collect();
    let mut groups = Vec::with_capacity(shape.leaves + shape.mids + roots.len());
    for l in 0..shape.leaves {
        let members: Vec<String> = (0..10)
            .map(|k| format!("user{}@example.com", (l * 10 + k) % shape.users))
            .collect();
        groups.push(json!({"name": format!("leaf-{l}"), "dn": format!("CN=leaf-{l},OU=Groups,DC=example,DC=com"), "members": members}));
    }
    for m in 0..shape.mids {
        let mut members: Vec<String> = (0..10)
            .map(|k| {
                format!(
                    "CN=leaf-{},OU=Groups,DC=example,DC=com",
                    (m * 10 + k) % shape.leaves
                )
            })
            .collect();
        // A diamond: the first leaf of this middle group is nested again.
        members.push(format!(
            "CN=leaf-{},OU=Groups,DC=example,DC=com",
            (m * 10) % shape.leaves
        ));
        if m == 0
            && let Some(first_root) = roots.first()
        {
            members.push(format!("root-{first_root}@example.com"));
        }
        groups.push(json!({"name": format!("mid-{m}"), "dn": format!("CN=mid-{m},OU=Groups,DC=example,DC=com"), "members": members}));
    }
    for &n in roots {
        let members: Vec<String> = (0..n / 100)
            .map(|j| format!("CN=mid-{},OU=Groups,DC=example,DC=com", j % shape.mids))
            .collect();
        groups.push(json!({"name": format!("root-{n}"), "address": format!("root-{n}@example.com"), "kind": "distribution", "members": members}));
    }
    json!({"users": users, "groups": groups}).to_string()
}
