//! The simulator's SOAP core: one request body answered from a
//! [`MemoryOrganisation`] the way Exchange answers it — `m:`/`t:`
//! namespaces, `ResponseClass` and `ResponseCode`, sync states that are real
//! positions in each calendar's change log, and errors as Exchange reports
//! them. The HTTP server around it is [`super::server`].

use std::fmt::Write as _;

use quick_xml::escape::escape;

use crate::address::EmailAddress;
use crate::calendar::{CalendarId, ItemId};
use crate::ews::write::calendar_item_xml;
use crate::ews::xml::{self, Document, Element, MESSAGES, SOAP, TYPES};
use crate::group::{Directory, DirectoryError, EntryKind, GroupRef};
use crate::mailbox::{
    Mailbox, MailboxError, MailboxSource, MemoryMailbox, MemoryOrganisation, SyncState,
};

const ERRORS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";

/// An HTTP status and a body.
pub(crate) type Reply = (u16, String);

/// Who is asking: the authenticated account, and whether it may act for
/// other mailboxes (the `ApplicationImpersonation` role, or an app with
/// `full_access_as_app`).
#[derive(Debug, Clone)]
pub(crate) struct Caller<'a> {
    pub(crate) account: &'a EmailAddress,
    pub(crate) may_impersonate: bool,
    pub(crate) out_of_scope: &'a [EmailAddress],
}

/// A parsed request: its operation element and the mailbox it acts on.
pub(crate) struct Request<'a> {
    doc: Document<'a>,
    pub(crate) operation: String,
    pub(crate) mailbox: Option<EmailAddress>,
}

impl<'a> Request<'a> {
    /// Parses a request body; a SOAP fault when it is not a request.
    pub(crate) fn parse(body: &'a str) -> Result<Self, Reply> {
        let doc = xml::parse(body).map_err(|e| {
            fault(
                "ErrorSchemaValidation",
                &format!("The request is not XML: {e}"),
            )
        })?;
        let envelope = doc
            .root()
            .children()
            .find(|e| e.is(SOAP, "Envelope"))
            .ok_or_else(|| {
                fault(
                    "ErrorSchemaValidation",
                    "The request is not a SOAP envelope.",
                )
            })?;
        let operation = envelope
            .children()
            .find(|e| e.is(SOAP, "Body"))
            .and_then(|b| b.first_child())
            .ok_or_else(|| fault("ErrorSchemaValidation", "The request has no body."))?;
        let header = envelope.children().find(|e| e.is(SOAP, "Header"));
        let impersonated = header
            .and_then(|h| h.child("ExchangeImpersonation"))
            .and_then(|i| i.child("ConnectingSID"))
            .and_then(|s| s.text_of("PrimarySmtpAddress"));
        // Delegate access names the mailbox in a distinguished folder id.
        let delegate = (operation.name() != "ExpandDL")
            .then(|| delegate_mailbox(operation))
            .flatten();
        let mailbox = match impersonated.or(delegate) {
            Some(a) => Some(a.parse::<EmailAddress>().map_err(|_| {
                fault(
                    "ErrorInvalidSmtpAddress",
                    "The mailbox address is not valid.",
                )
            })?),
            None => None,
        };
        let operation = operation.name().to_owned();
        Ok(Self {
            doc,
            operation,
            mailbox,
        })
    }

    fn operation_element(&self) -> Option<Element<'_>> {
        self.doc.root().soap_body().and_then(|b| b.first_child())
    }
}

fn delegate_mailbox(e: Element<'_>) -> Option<&str> {
    if e.is(TYPES, "DistinguishedFolderId") {
        return e.child("Mailbox").and_then(|m| m.text_of("EmailAddress"));
    }
    e.children().find_map(delegate_mailbox)
}

/// Answers one parsed request for `caller`.
pub(crate) async fn answer(
    org: &MemoryOrganisation,
    directory: Option<&dyn Directory>,
    caller: &Caller<'_>,
    request: &Request<'_>,
) -> Reply {
    let Some(operation) = request.operation_element() else {
        return fault("ErrorSchemaValidation", "The request has no body.");
    };
    let address = request
        .mailbox
        .clone()
        .unwrap_or_else(|| caller.account.clone());
    let denied = !caller.may_impersonate || caller.out_of_scope.contains(&address);
    if &address != caller.account && denied {
        return fault(
            "ErrorImpersonateUserDenied",
            "The account does not have permission to impersonate the requested user.",
        );
    }
    // Exchange resolves an impersonated account before any operation: one
    // without a mailbox fails, ExpandDL included.
    if request.mailbox.is_some() && org.open(&address).await.is_err() {
        let e = MailboxError::MailboxNotFound(address.to_string());
        return (200, error_response(operation.name(), &e));
    }
    if operation.name() == "ExpandDL" {
        return (200, expand_dl(directory, operation).await);
    }
    if org.open(&address).await.is_err() {
        let e = MailboxError::MailboxNotFound(address.to_string());
        return (200, error_response(operation.name(), &e));
    }
    let mailbox = org.mailbox(&address);
    let reply = match operation.name() {
        "SyncFolderHierarchy" => hierarchy(&mailbox).await,
        "GetFolder" => get_folder(&mailbox).await,
        "SyncFolderItems" => sync_items(&mailbox, operation).await,
        "GetItem" => get_item(&mailbox, operation).await,
        "GetAttachment" => get_attachment(&mailbox, operation),
        other => {
            return fault(
                "ErrorInvalidRequest",
                &format!("The simulator does not implement {other}."),
            );
        }
    };
    match reply {
        Ok(body) => (200, envelope_of(&body)),
        Err(e) => (200, error_response(operation.name(), &e)),
    }
}

pub(crate) fn envelope_of(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP}\">\
         <s:Header><h:ServerVersionInfo xmlns:h=\"{TYPES}\" MajorVersion=\"15\" MinorVersion=\"20\" Version=\"V2018_01_08\"/></s:Header>\
         <s:Body>{body}</s:Body></s:Envelope>"
    )
}

/// A response of `operation` whose messages (one, or `count`) carry `code`.
pub(crate) fn code_response(
    operation: &str,
    code: &str,
    text: &str,
    extra: &str,
    count: usize,
) -> String {
    let message = format!(
        "<m:{operation}ResponseMessage ResponseClass=\"Error\"><m:MessageText>{}</m:MessageText>\
         <m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{extra}\
         </m:{operation}ResponseMessage>",
        escape(text)
    );
    envelope_of(&format!(
        "<m:{operation}Response xmlns:m=\"{MESSAGES}\" xmlns:t=\"{TYPES}\"><m:ResponseMessages>{}</m:ResponseMessages></m:{operation}Response>",
        message.repeat(count.max(1))
    ))
}

/// `ErrorServerBusy` with the back-off Exchange sends.
pub(crate) fn server_busy(operation: &str, back_off_ms: u128) -> String {
    code_response(
        operation,
        "ErrorServerBusy",
        "The server cannot service this request right now. Try again later.",
        &format!(
            "<m:MessageXml><t:Value Name=\"BackOffMilliseconds\">{back_off_ms}</t:Value></m:MessageXml>"
        ),
        1,
    )
}

/// A response of `operation` with one error message.
fn error_response(operation: &str, e: &MailboxError) -> String {
    let code = match e {
        MailboxError::Throttled { retry_after } => {
            return server_busy(operation, retry_after.as_millis());
        }
        MailboxError::ThrottledTooLong { .. } => "ErrorServerBusy",
        MailboxError::ResyncRequired => "ErrorInvalidSyncStateData",
        MailboxError::CalendarGone(_) => "ErrorSyncFolderNotFound",
        MailboxError::MailboxNotFound(_) => "ErrorNonExistentMailbox",
        MailboxError::AccessDenied(_) | MailboxError::Unauthorized(_) => "ErrorAccessDenied",
        MailboxError::Transport(_) | MailboxError::Protocol(_) => "ErrorInternalServerError",
    };
    code_response(operation, code, &e.to_string(), "", 1)
}

/// A SOAP fault, as Exchange sends it with HTTP 500.
pub(crate) fn fault(code: &str, text: &str) -> Reply {
    (
        500,
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP}\"><s:Body><s:Fault>\
             <faultcode xmlns:a=\"{TYPES}\">a:{code}</faultcode><faultstring xml:lang=\"en-US\">{}</faultstring>\
             <detail><e:ResponseCode xmlns:e=\"{ERRORS}\">{code}</e:ResponseCode>\
             <e:Message xmlns:e=\"{ERRORS}\">{}</e:Message></detail>\
             </s:Fault></s:Body></s:Envelope>",
            escape(text),
            escape(text)
        ),
    )
}

fn success(operation: &str, inner: &str) -> String {
    format!(
        "<m:{operation}Response xmlns:m=\"{MESSAGES}\" xmlns:t=\"{TYPES}\"><m:ResponseMessages>\
         <m:{operation}ResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode>{inner}\
         </m:{operation}ResponseMessage></m:ResponseMessages></m:{operation}Response>"
    )
}

fn folder_xml(id: &CalendarId, name: &str) -> String {
    format!(
        "<t:CalendarFolder><t:FolderId Id=\"{}\" ChangeKey=\"AgAAAA==\"/><t:DisplayName>{}</t:DisplayName>\
         <t:FolderClass>IPF.Appointment</t:FolderClass></t:CalendarFolder>",
        escape(id.as_str()),
        escape(name)
    )
}

async fn hierarchy(mailbox: &MemoryMailbox) -> Result<String, MailboxError> {
    let mut changes = String::new();
    // Real mailboxes list mail folders too; the client must skip them.
    changes.push_str(
        "<t:Create><t:Folder><t:FolderId Id=\"inbox\" ChangeKey=\"AQAAAA==\"/><t:DisplayName>Inbox</t:DisplayName>\
         <t:FolderClass>IPF.Note</t:FolderClass></t:Folder></t:Create>",
    );
    for c in mailbox.calendars().await? {
        let _ = write!(
            changes,
            "<t:Create>{}</t:Create>",
            folder_xml(&c.id, &c.name)
        );
    }
    Ok(success(
        "SyncFolderHierarchy",
        &format!(
            "<m:SyncState>hierarchy</m:SyncState><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange><m:Changes>{changes}</m:Changes>"
        ),
    ))
}

async fn default_calendar(mailbox: &MemoryMailbox) -> Result<(CalendarId, String), MailboxError> {
    mailbox
        .calendars()
        .await?
        .into_iter()
        .find(|c| c.is_default)
        .map(|c| (c.id, c.name))
        .ok_or_else(|| MailboxError::CalendarGone(CalendarId::new("calendar")))
}

async fn get_folder(mailbox: &MemoryMailbox) -> Result<String, MailboxError> {
    let (id, name) = default_calendar(mailbox).await?;
    Ok(success(
        "GetFolder",
        &format!("<m:Folders>{}</m:Folders>", folder_xml(&id, &name)),
    ))
}

/// The folder a request names: an id, or the distinguished `calendar`.
async fn folder(mailbox: &MemoryMailbox, request: Element<'_>) -> Result<CalendarId, MailboxError> {
    let folder = request
        .message_child("SyncFolderId")
        .ok_or_else(|| MailboxError::Protocol("SyncFolderId is missing".into()))?;
    if let Some(id) = folder.child("FolderId").and_then(|f| f.attribute("Id")) {
        return Ok(CalendarId::new(id));
    }
    Ok(default_calendar(mailbox).await?.0)
}

async fn sync_items(mailbox: &MemoryMailbox, request: Element<'_>) -> Result<String, MailboxError> {
    let calendar = folder(mailbox, request).await?;
    let text_of = |name: &str| {
        request
            .message_child(name)
            .map(|c| c.text().trim().to_owned())
    };
    let state = text_of("SyncState")
        .filter(|s| !s.is_empty())
        .map(SyncState::new);
    let max: usize = text_of("MaxChangesReturned")
        .and_then(|m| m.parse().ok())
        .filter(|m| (1..=512).contains(m))
        .ok_or_else(|| MailboxError::Protocol("MaxChangesReturned must be 1 to 512".into()))?;
    let page = mailbox
        .changes(&calendar, state.as_ref(), crate::mailbox::Window::ALL, max)
        .await?;
    let mut changes = String::new();
    for id in &page.changed {
        let _ = write!(
            changes,
            "<t:Update><t:CalendarItem><t:ItemId Id=\"{}\" ChangeKey=\"1\"/></t:CalendarItem></t:Update>",
            escape(id.as_str())
        );
    }
    for id in &page.deleted {
        let _ = write!(
            changes,
            "<t:Delete><t:ItemId Id=\"{}\"/></t:Delete>",
            escape(id.as_str())
        );
    }
    Ok(success(
        "SyncFolderItems",
        &format!(
            "<m:SyncState>{}</m:SyncState><m:IncludesLastItemInRange>{}</m:IncludesLastItemInRange><m:Changes>{changes}</m:Changes>",
            escape(page.state.as_ref().map_or("", SyncState::as_str)),
            !page.more
        ),
    ))
}

/// One response message per requested id, as Exchange answers GetItem: a
/// series or single item, or a modified occurrence by its own id.
async fn get_item(mailbox: &MemoryMailbox, request: Element<'_>) -> Result<String, MailboxError> {
    let ids: Vec<ItemId> = request
        .message_child("ItemIds")
        .map(|list| {
            list.children_named("ItemId")
                .filter_map(|i| i.attribute("Id"))
                .map(ItemId::new)
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    for calendar in mailbox.calendars().await? {
        found.extend(mailbox.items(&calendar.id, &ids).await?);
    }
    let items: Vec<Option<String>> = ids
        .iter()
        .map(|id| match found.iter().find(|i| &i.id == id) {
            Some(item) => Some(calendar_item_xml(item)),
            None => mailbox
                .occurrence_by_id(id)
                .map(|(series, m)| occurrence_xml(id, &series, &m)),
        })
        .collect();
    Ok(get_item_body(&items))
}

/// A `GetItemResponse`: one message per requested item, its XML or
/// `ErrorItemNotFound`.
fn get_item_body(items: &[Option<String>]) -> String {
    let mut messages = String::new();
    for xml in items {
        match xml {
            Some(xml) => {
                let _ = write!(
                    messages,
                    "<m:GetItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Items>{xml}</m:Items></m:GetItemResponseMessage>"
                );
            }
            None => messages.push_str(
                "<m:GetItemResponseMessage ResponseClass=\"Error\"><m:MessageText>The specified object was not found in the store.</m:MessageText><m:ResponseCode>ErrorItemNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/></m:GetItemResponseMessage>",
            ),
        }
    }
    format!(
        "<m:GetItemResponse xmlns:m=\"{MESSAGES}\" xmlns:t=\"{TYPES}\"><m:ResponseMessages>{messages}</m:ResponseMessages></m:GetItemResponse>"
    )
}

/// The whole HTTP body the simulator sends for a `GetItem` of these items
/// (for benchmarks and hosts' own parser tests).
///
/// ```
/// use calrep_core::calendar::{CalendarItem, ItemTime};
/// let item = CalendarItem::new("AAMk1", "uid-1", "Planning", ItemTime::Timed {
///     start: "2026-01-05T09:00:00Z".parse()?, end: "2026-01-05T10:00:00Z".parse()? });
/// let body = calrep_core::sim::get_item_response(&[item]);
/// assert_eq!(calrep_core::ews::read_calendar_items(&body)?[0].subject, "Planning");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn get_item_response(items: &[crate::calendar::CalendarItem]) -> String {
    let items: Vec<Option<String>> = items.iter().map(|i| Some(calendar_item_xml(i))).collect();
    envelope_of(&get_item_body(&items))
}

/// An exception as `GetItem` returns it by its own id: the series' fields
/// with the occurrence's own values, and its times.
fn occurrence_xml(
    id: &ItemId,
    series: &crate::calendar::CalendarItem,
    m: &crate::calendar::ModifiedOccurrence,
) -> String {
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        "<t:CalendarItem><t:ItemId Id=\"{}\" ChangeKey=\"{}\"/><t:Subject>{}</t:Subject>\
         <t:Body BodyType=\"Text\">{}</t:Body><t:UID>{}</t:UID><t:Start>{}</t:Start><t:End>{}</t:End>\
         <t:Location>{}</t:Location><t:CalendarItemType>Exception</t:CalendarItemType>\
         <t:OriginalStart>{}</t:OriginalStart></t:CalendarItem>",
        escape(id.as_str()),
        escape(&series.change_key),
        escape(m.subject.as_deref().unwrap_or(&series.subject)),
        escape(m.body.as_deref().unwrap_or(&series.body)),
        escape(&series.uid),
        at(m.start),
        at(m.end),
        escape(m.location.as_deref().unwrap_or(&series.location)),
        at(m.original_start),
    )
}

fn get_attachment(mailbox: &MemoryMailbox, request: Element<'_>) -> Result<String, MailboxError> {
    let ids: Vec<&str> = request
        .message_child("AttachmentIds")
        .map(|l| {
            l.children_named("AttachmentId")
                .filter_map(|a| a.attribute("Id"))
                .collect()
        })
        .unwrap_or_default();
    let mut messages = String::new();
    for id in ids {
        match mailbox.attachment_by_id(id) {
            Some(content) => {
                let _ = write!(
                    messages,
                    "<m:GetAttachmentResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode>\
                     <m:Attachments><t:FileAttachment><t:AttachmentId Id=\"{}\"/><t:Size>{}</t:Size>\
                     <t:Content>{}</t:Content></t:FileAttachment></m:Attachments></m:GetAttachmentResponseMessage>",
                    escape(id),
                    content.len(),
                    crate::base64::encode(&content)
                );
            }
            None => messages.push_str(
                "<m:GetAttachmentResponseMessage ResponseClass=\"Error\"><m:MessageText>The attachment could not be found.</m:MessageText>\
                 <m:ResponseCode>ErrorAttachmentNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:GetAttachmentResponseMessage>",
            ),
        }
    }
    Ok(format!(
        "<m:GetAttachmentResponse xmlns:m=\"{MESSAGES}\" xmlns:t=\"{TYPES}\"><m:ResponseMessages>{messages}</m:ResponseMessages></m:GetAttachmentResponse>"
    ))
}

/// One level of a group, as Exchange's `ExpandDL` returns it: the whole
/// answer, in its envelope.
async fn expand_dl(directory: Option<&dyn Directory>, request: Element<'_>) -> String {
    let address = request
        .message_child("Mailbox")
        .and_then(|m| m.text_of("EmailAddress"))
        .and_then(|a| a.parse::<EmailAddress>().ok());
    let not_found = || {
        code_response(
            "ExpandDL",
            "ErrorNameResolutionNoResults",
            "No results were found.",
            "",
            1,
        )
    };
    let (Some(directory), Some(address)) = (directory, address) else {
        return not_found();
    };
    let group = match directory.members(&GroupRef::Address(address)).await {
        Ok(g) => g,
        Err(DirectoryError::GroupNotFound(_)) => return not_found(),
        Err(e) => {
            return code_response(
                "ExpandDL",
                "ErrorInternalServerError",
                &e.to_string(),
                "",
                1,
            );
        }
    };
    let mut members = String::new();
    for m in &group.members {
        let kind = match m.kind {
            EntryKind::User => "Mailbox",
            EntryKind::Group => "PublicDL",
            EntryKind::Contact => "Contact",
        };
        let address = m.primary_smtp.as_ref().map_or("", |a| a.as_str());
        let _ = write!(
            members,
            "<t:Mailbox><t:Name>{}</t:Name><t:EmailAddress>{}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>\
             <t:MailboxType>{kind}</t:MailboxType></t:Mailbox>",
            escape(&m.display_name),
            escape(address)
        );
    }
    envelope_of(&success(
        "ExpandDL",
        &format!(
            "<m:DLExpansion TotalItemsInView=\"{}\" IncludesLastItemInRange=\"true\">{members}</m:DLExpansion>",
            group.members.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::demo::DemoOrganisation;
    use crate::ews::{read_calendar_items, request, response};

    /// Answers one request body (parse and answer).
    async fn respond(
        org: &MemoryOrganisation,
        account: &EmailAddress,
        may_impersonate: bool,
        body: &str,
    ) -> Reply {
        match Request::parse(body) {
            Ok(request) => {
                let caller = Caller {
                    account,
                    may_impersonate,
                    out_of_scope: &[],
                };
                answer(org, None, &caller, &request).await
            }
            Err(reply) => reply,
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// The client's requests, answered by the simulator, read by the
    /// client's response readers: a mailbox's default calendar synced page
    /// by page and fetched in batches equals the source.
    #[test]
    fn the_client_layers_and_the_simulator_agree_on_a_whole_mailbox() {
        let demo = DemoOrganisation::generate(5, 10, 1);
        let service: EmailAddress = "svc@demo.example".parse().unwrap();
        let alice = demo.addresses[0].clone();
        let source = Arc::clone(&demo.source);
        let send = |body: String| {
            let request = request::envelope("Exchange2013_SP1", Some(&alice), &body);
            let (status, reply) = run(respond(source.as_ref(), &service, true, &request));
            (status, reply)
        };
        let mut state: Option<String> = None;
        let mut ids = Vec::new();
        loop {
            let (status, reply) = send(request::sync_folder_items(
                request::Folder::DefaultCalendar,
                state.as_deref(),
                7,
            ));
            let doc = response::parse_body(status, &reply).unwrap();
            let root = doc.root();
            let messages = response::messages(root, alice.as_str()).unwrap();
            messages[0].check(alice.as_str(), None).unwrap();
            let page = response::items_page(&messages[0]).unwrap();
            ids.extend(page.changed);
            state = Some(page.state);
            if page.last {
                break;
            }
        }
        let mut fetched = Vec::new();
        for chunk in ids.chunks(10) {
            let chunk: Vec<&str> = chunk.iter().map(ItemId::as_str).collect();
            let (status, reply) = send(request::get_item(&chunk));
            assert_eq!(status, 200);
            fetched.extend(read_calendar_items(&reply).unwrap());
        }
        let mailbox = demo.source.mailbox(&alice);
        let calendar = run(mailbox.calendars())
            .unwrap()
            .into_iter()
            .find(|c| c.is_default)
            .unwrap();
        let mut expected = mailbox.items_of(&calendar.id);
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        fetched.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(fetched.len(), expected.len());
        assert!(fetched.len() > 5);
        for (got, want) in fetched.iter().zip(&expected) {
            assert_eq!(
                (&got.id, &got.subject, got.time),
                (&want.id, &want.subject, want.time)
            );
            assert_eq!(
                got.recurrence,
                want.recurrence.as_ref().map(|r| {
                    let mut r = r.clone();
                    for m in &mut r.modified {
                        m.subject = None;
                        m.location = None;
                        m.body = None;
                    }
                    r
                })
            );
        }
    }

    #[test]
    fn impersonation_without_the_right_is_refused_with_a_fault() {
        let demo = DemoOrganisation::generate(5, 10, 0);
        let service: EmailAddress = "svc@demo.example".parse().unwrap();
        let request = request::envelope(
            "Exchange2013_SP1",
            Some(&demo.addresses[1]),
            &request::sync_folder_hierarchy(None, None),
        );
        let (status, reply) = run(respond(demo.source.as_ref(), &service, false, &request));
        assert_eq!(status, 500);
        let doc = response::parse_body(status, &reply).unwrap();
        let root = doc.root();
        let err = response::messages(root, demo.addresses[1].as_str()).unwrap_err();
        assert_eq!(
            err,
            MailboxError::AccessDenied(demo.addresses[1].to_string())
        );
    }

    #[test]
    fn an_invalidated_sync_state_is_reported_as_exchange_does() {
        let demo = DemoOrganisation::generate(5, 10, 0);
        let alice = demo.addresses[0].clone();
        let service: EmailAddress = "svc@demo.example".parse().unwrap();
        let send = |body: String| {
            let request = request::envelope("Exchange2013_SP1", Some(&alice), &body);
            run(respond(demo.source.as_ref(), &service, true, &request))
        };
        let (_, reply) = send(request::sync_folder_items(
            request::Folder::DefaultCalendar,
            None,
            512,
        ));
        let doc = response::parse_body(200, &reply).unwrap();
        let root = doc.root();
        let state = response::items_page(&response::messages(root, "a").unwrap()[0])
            .unwrap()
            .state;
        demo.source.mailbox(&alice).invalidate_states();
        let (status, reply) = send(request::sync_folder_items(
            request::Folder::DefaultCalendar,
            Some(&state),
            512,
        ));
        let doc = response::parse_body(status, &reply).unwrap();
        let root = doc.root();
        let messages = response::messages(root, alice.as_str()).unwrap();
        assert_eq!(
            messages[0].check(alice.as_str(), None).unwrap_err(),
            MailboxError::ResyncRequired
        );
    }
}
