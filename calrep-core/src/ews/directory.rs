//! Group expansion through EWS `ExpandDL`: one level per call, as Exchange
//! answers it; the [`GroupResolver`](crate::group::GroupResolver) recurses
//! with its visited set.

use async_trait::async_trait;

use super::client::EwsMailbox;
use super::request;
use super::response;
use super::xml::TYPES;
use crate::address::EmailAddress;
use crate::group::{
    Directory, DirectoryEntry, DirectoryError, EntryKind, GroupMembers, GroupRef, expand_at_server,
    server_group_address,
};
use crate::mailbox::{Mailbox, MailboxError};
use crate::retry::RetryPolicy;

/// Distribution groups expanded by Exchange, looked up by address.
///
/// ```no_run
/// # async fn f(source: calrep_core::ews::EwsSource) -> Result<(), Box<dyn std::error::Error>> {
/// use calrep_core::group::{Directory, GroupRef};
/// let directory = source.directory(&"svc-calrep@example.com".parse()?);
/// let sales = directory.members(&GroupRef::Address("sales@example.com".parse()?)).await?;
/// println!("{} direct members", sales.members.len());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EwsDirectory {
    account: EwsMailbox,
    retry: RetryPolicy,
}

impl EwsDirectory {
    pub(crate) fn new(account: EwsMailbox) -> Self {
        Self {
            account,
            retry: RetryPolicy::default(),
        }
    }

    /// Retries (and stops waiting) as the engine says.
    pub(crate) fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

#[async_trait]
impl Directory for EwsDirectory {
    async fn members(&self, group: &GroupRef) -> Result<GroupMembers, DirectoryError> {
        let address = server_group_address(group, "ExpandDL")?;
        expand_at_server(
            address,
            "ExpandDL",
            &self.retry,
            self.account.redactor(),
            || self.expand_once(group, address),
        )
        .await
    }
}

impl EwsDirectory {
    /// One `ExpandDL`; a retryable failure is the outer error, a final
    /// answer (members, or no such group) the inner result.
    async fn expand_once(
        &self,
        group: &GroupRef,
        address: &EmailAddress,
    ) -> Result<Result<GroupMembers, DirectoryError>, MailboxError> {
        let answer = self
            .account
            .call_as_service(&request::expand_dl(address.as_str()))
            .await?;
        let doc = self.account.read(&answer)?;
        let root = doc.root();
        let messages = response::messages(root, self.account.address().as_str())?;
        let message = messages
            .first()
            .ok_or_else(|| MailboxError::Protocol("no response message".into()))?;
        if matches!(
            message.code,
            "ErrorNameResolutionNoResults" | "ErrorNameResolutionNoMailbox"
        ) {
            return Ok(Err(DirectoryError::GroupNotFound(group.to_string())));
        }
        message.check(self.account.address().as_str(), None)?;
        let expansion = message.element.message_child("DLExpansion");
        let members = expansion
            .map(|x| x.children().filter(|c| c.is(TYPES, "Mailbox")))
            .into_iter()
            .flatten()
            .map(|m| {
                let kind = match m.text_of("MailboxType").unwrap_or("Mailbox") {
                    "PublicDL" | "PrivateDL" | "GroupMailbox" => EntryKind::Group,
                    "Contact" | "OneOff" => EntryKind::Contact,
                    _ => EntryKind::User,
                };
                let smtp = m
                    .text_of("EmailAddress")
                    .and_then(|a| a.parse::<EmailAddress>().ok());
                let mut entry = match (kind, smtp) {
                    (EntryKind::User, Some(a)) => DirectoryEntry::user("", a),
                    (_, smtp) => {
                        let mut e = DirectoryEntry::group("");
                        e.primary_smtp = smtp;
                        e
                    }
                };
                entry.kind = kind;
                entry.display_name = m.text_of("Name").unwrap_or_default().to_owned();
                entry
            })
            .collect();
        let mut entry = DirectoryEntry::group(address.as_str());
        entry.primary_smtp = Some(address.clone());
        Ok(Ok(GroupMembers::new(entry, members)))
    }
}
