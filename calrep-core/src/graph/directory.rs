//! Group expansion through Graph: the group found by its address
//! (`/groups?$filter=mail eq '…'`), then every user under it at any depth
//! (`/groups/{id}/transitiveMembers/microsoft.graph.user`), with
//! `accountEnabled` and assigned licences for the resolver's skip reasons.
//! Distribution groups, mail-enabled security groups and Microsoft 365
//! groups are all `group` objects in Graph.

use std::sync::Arc;

use async_trait::async_trait;

use super::client::{Call, json};
use super::mailbox::Shared;
use crate::address::EmailAddress;
use crate::encoding::path_segment;
use crate::group::{
    Directory, DirectoryEntry, DirectoryError, GroupMembers, GroupRef, expand_at_server,
    server_group_address,
};
use crate::mailbox::MailboxError;
use crate::retry::RetryPolicy;

/// A member list longer than this many pages is not one calrep trusts.
const MAX_MEMBER_PAGES: usize = 10_000;

/// Groups expanded by Microsoft Graph, looked up by address.
///
/// ```no_run
/// # async fn f(source: calrep_core::graph::GraphSource) -> Result<(), Box<dyn std::error::Error>> {
/// use calrep_core::group::{Directory, GroupRef};
/// let sales = source.directory().members(&GroupRef::Address("sales@contoso.com".parse()?)).await?;
/// println!("{} mailboxes at any depth", sales.members.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GraphDirectory {
    shared: Arc<Shared>,
    retry: RetryPolicy,
}

impl super::GraphSource {
    /// Group expansion with the site's app (application permission
    /// `GroupMember.Read.All`).
    pub fn directory(&self) -> GraphDirectory {
        GraphDirectory {
            shared: Arc::clone(self.shared()),
            retry: RetryPolicy::default(),
        }
    }
}

impl GraphDirectory {
    /// Retries (and stops waiting) as the engine says.
    pub(crate) fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    async fn get(&self, url: &str) -> Result<Option<serde_json::Value>, MailboxError> {
        let reply = match self
            .shared
            .client
            .send("the directory", Call::get(url))
            .await
        {
            // The mailbox advice (Calendars.Read, scopes) does not apply.
            Err(MailboxError::AccessDenied(_)) => {
                return Err(MailboxError::AccessDenied(
                    "the directory: the app may not read groups; grant it the application \
                     permission GroupMember.Read.All"
                        .into(),
                ));
            }
            other => other?,
        };
        json(reply, "a directory page")
    }

    /// One expansion; a retryable failure is the outer error, a final
    /// answer (members, or no such group) the inner result.
    async fn expand_once(
        &self,
        group: &GroupRef,
        address: &EmailAddress,
    ) -> Result<Result<GroupMembers, DirectoryError>, MailboxError> {
        let filter = format!("mail eq '{}'", address.as_str().replace('\'', "''"));
        let url = self.shared.client.url(&format!(
            "/groups?$filter={}&$select=id,displayName,mail",
            path_segment(&filter)
        ));
        let found = self.get(&url).await?.unwrap_or_default();
        let Some(entry) = found
            .get("value")
            .and_then(serde_json::Value::as_array)
            .and_then(|v| v.first())
        else {
            return Ok(Err(DirectoryError::GroupNotFound(group.to_string())));
        };
        let id = entry
            .get("id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let mut url = self.shared.client.url(&format!(
            "/groups/{}/transitiveMembers/microsoft.graph.user?$select=id,displayName,mail,accountEnabled,assignedLicenses&$top=999",
            path_segment(id)
        ));
        let mut members = Vec::new();
        for _ in 0..MAX_MEMBER_PAGES {
            let Some(page) = self.get(&url).await? else {
                return Ok(Err(DirectoryError::GroupNotFound(group.to_string())));
            };
            for user in page
                .get("value")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
            {
                let text = |k: &str| user.get(k).and_then(serde_json::Value::as_str);
                // A user without mail has no mailbox to replicate.
                let Some(mail) = text("mail").and_then(|m| m.parse::<EmailAddress>().ok()) else {
                    continue;
                };
                let mut member =
                    DirectoryEntry::user(text("displayName").unwrap_or_default(), mail);
                member.enabled = user
                    .get("accountEnabled")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(true);
                member.licensed = user
                    .get("assignedLicenses")
                    .and_then(serde_json::Value::as_array)
                    .is_none_or(|l| !l.is_empty());
                members.push(member);
            }
            match page
                .get("@odata.nextLink")
                .and_then(serde_json::Value::as_str)
            {
                Some(next) => url = next.to_owned(),
                None => {
                    let name = entry.get("displayName").and_then(serde_json::Value::as_str);
                    let mut group_entry = DirectoryEntry::group(name.unwrap_or(address.as_str()));
                    group_entry.primary_smtp = Some(address.clone());
                    return Ok(Ok(GroupMembers::new(group_entry, members)));
                }
            }
        }
        Err(MailboxError::Protocol(format!(
            "the members of {address} did not end after {MAX_MEMBER_PAGES} pages"
        )))
    }
}

#[async_trait]
impl Directory for GraphDirectory {
    async fn members(&self, group: &GroupRef) -> Result<GroupMembers, DirectoryError> {
        let address = server_group_address(group, "Graph")?;
        expand_at_server(address, "Graph", &self.retry, &self.shared.redactor, || {
            self.expand_once(group, address)
        })
        .await
    }
}
