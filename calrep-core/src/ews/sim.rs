//! The EWS simulator's core: a SOAP request answered from any
//! [`MailboxSource`] (the demo organisation, a test's in-memory one) the way
//! Exchange answers it — `m:`/`t:` namespaces, `ResponseClass` and
//! `ResponseCode`, sync states that are real positions in the source's
//! change log, and errors as Exchange reports them. The HTTP server around
//! it (axum on 127.0.0.1, with auth, latency and faults) is the next step of
//! issue 4.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::write::calendar_item_xml;
use super::xml::{self, Element, MESSAGES, TYPES};
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, ItemId};
use crate::mailbox::{Mailbox, MailboxError, MailboxSource, SyncState};

const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// An HTTP status and a body.
pub(crate) type Reply = (u16, String);

/// Answers one request body. `account` is the authenticated account's
/// address; a request for another mailbox needs `may_impersonate`.
pub(crate) async fn respond(
    source: &dyn MailboxSource,
    account: &EmailAddress,
    may_impersonate: bool,
    body: &str,
) -> Reply {
    let root = match xml::parse(body) {
        Ok(root) => root,
        Err(e) => {
            return fault(
                "ErrorSchemaValidation",
                &format!("The request is not XML: {e}"),
            );
        }
    };
    let Some(envelope) = root.children.iter().find(|e| e.is(SOAP, "Envelope")) else {
        return fault(
            "ErrorSchemaValidation",
            "The request is not a SOAP envelope.",
        );
    };
    let header = envelope.children.iter().find(|e| e.is(SOAP, "Header"));
    let impersonated = header
        .and_then(|h| h.child("ExchangeImpersonation"))
        .and_then(|i| i.child("ConnectingSID"))
        .and_then(|s| s.text_of("PrimarySmtpAddress"));
    let address = match impersonated {
        Some(a) => match a.parse::<EmailAddress>() {
            Ok(a) => a,
            Err(_) => {
                return fault(
                    "ErrorInvalidSmtpAddress",
                    "The impersonated address is not valid.",
                );
            }
        },
        None => account.clone(),
    };
    if impersonated.is_some() && !may_impersonate && &address != account {
        return fault(
            "ErrorImpersonateUserDenied",
            "The account does not have permission to impersonate the requested user.",
        );
    }
    let Some(operation) = envelope
        .children
        .iter()
        .find(|e| e.is(SOAP, "Body"))
        .and_then(|b| b.children.first())
    else {
        return fault("ErrorSchemaValidation", "The request has no body.");
    };
    let mailbox = match source.open(&address).await {
        Ok(m) => m,
        Err(e) => return (200, error_response(&operation.name, &e)),
    };
    let reply = match operation.name.as_str() {
        "SyncFolderHierarchy" => hierarchy(mailbox.as_ref()).await,
        "SyncFolderItems" => sync_items(mailbox.as_ref(), operation).await,
        "GetItem" => get_item(mailbox.as_ref(), operation).await,
        other => {
            return fault(
                "ErrorInvalidRequest",
                &format!("The simulator does not implement {other}."),
            );
        }
    };
    match reply {
        Ok(body) => (200, envelope_of(&body)),
        Err(e) => (200, error_response(&operation.name, &e)),
    }
}

fn envelope_of(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP}\">\
         <s:Header><h:ServerVersionInfo xmlns:h=\"{TYPES}\" MajorVersion=\"15\" MinorVersion=\"20\" Version=\"V2018_01_08\"/></s:Header>\
         <s:Body>{body}</s:Body></s:Envelope>"
    )
}

/// A response of `operation` with one error message.
fn error_response(operation: &str, e: &MailboxError) -> String {
    let (code, extra) = match e {
        MailboxError::Throttled { retry_after } => (
            "ErrorServerBusy",
            format!(
                "<m:MessageXml><t:Value Name=\"BackOffMilliseconds\">{}</t:Value></m:MessageXml>",
                retry_after.as_millis()
            ),
        ),
        MailboxError::ResyncRequired => ("ErrorInvalidSyncStateData", String::new()),
        MailboxError::CalendarGone(_) => ("ErrorSyncFolderNotFound", String::new()),
        MailboxError::MailboxNotFound(_) => ("ErrorNonExistentMailbox", String::new()),
        MailboxError::AccessDenied(_) => ("ErrorAccessDenied", String::new()),
        MailboxError::Transport(_) | MailboxError::Protocol(_) => {
            ("ErrorInternalServerError", String::new())
        }
    };
    envelope_of(&format!(
        "<m:{operation}Response xmlns:m=\"{MESSAGES}\" xmlns:t=\"{TYPES}\"><m:ResponseMessages>\
         <m:{operation}ResponseMessage ResponseClass=\"Error\"><m:MessageText>{}</m:MessageText>\
         <m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{extra}\
         </m:{operation}ResponseMessage></m:ResponseMessages></m:{operation}Response>",
        escape(e.to_string())
    ))
}

/// A SOAP fault, as Exchange sends it with HTTP 500.
fn fault(code: &str, text: &str) -> Reply {
    (
        500,
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP}\"><s:Body><s:Fault>\
             <faultcode xmlns:a=\"{TYPES}\">a:{code}</faultcode><faultstring xml:lang=\"en-US\">{}</faultstring>\
             <detail><e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">{code}</e:ResponseCode>\
             <e:Message xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">{}</e:Message></detail>\
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

async fn hierarchy(mailbox: &dyn Mailbox) -> Result<String, MailboxError> {
    let mut changes = String::new();
    for c in mailbox.calendars().await? {
        let _ = write!(
            changes,
            "<t:Create><t:CalendarFolder><t:FolderId Id=\"{}\" ChangeKey=\"1\"/><t:DisplayName>{}</t:DisplayName>\
             <t:FolderClass>IPF.Appointment</t:FolderClass></t:CalendarFolder></t:Create>",
            escape(c.id.as_str()),
            escape(&c.name)
        );
    }
    Ok(success(
        "SyncFolderHierarchy",
        &format!(
            "<m:SyncState>hierarchy</m:SyncState><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange><m:Changes>{changes}</m:Changes>"
        ),
    ))
}

/// The folder a request names: an id, or the distinguished `calendar` (the
/// mailbox's default calendar).
async fn folder(mailbox: &dyn Mailbox, request: &Element) -> Result<CalendarId, MailboxError> {
    let folder = request
        .children
        .iter()
        .find(|c| c.is(MESSAGES, "SyncFolderId"))
        .ok_or_else(|| MailboxError::Protocol("SyncFolderId is missing".into()))?;
    if let Some(id) = folder.child("FolderId").and_then(|f| f.attribute("Id")) {
        return Ok(CalendarId::new(id));
    }
    mailbox
        .calendars()
        .await?
        .into_iter()
        .find(|c| c.is_default)
        .map(|c| c.id)
        .ok_or_else(|| MailboxError::CalendarGone(CalendarId::new("calendar")))
}

async fn sync_items(mailbox: &dyn Mailbox, request: &Element) -> Result<String, MailboxError> {
    let calendar = folder(mailbox, request).await?;
    let text_of = |name: &str| {
        request
            .children
            .iter()
            .find(|c| c.is(MESSAGES, name))
            .map(|c| c.text.trim().to_owned())
    };
    let state = text_of("SyncState")
        .filter(|s| !s.is_empty())
        .map(SyncState::new);
    let max: usize = text_of("MaxChangesReturned")
        .and_then(|m| m.parse().ok())
        .filter(|m| (1..=512).contains(m))
        .ok_or_else(|| MailboxError::Protocol("MaxChangesReturned must be 1 to 512".into()))?;
    let page = mailbox.changes(&calendar, state.as_ref(), max).await?;
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

/// One response message per requested id, as Exchange answers GetItem.
async fn get_item(mailbox: &dyn Mailbox, request: &Element) -> Result<String, MailboxError> {
    let ids: Vec<ItemId> = request
        .children
        .iter()
        .find(|c| c.is(MESSAGES, "ItemIds"))
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
    let mut messages = String::new();
    for id in &ids {
        match found.iter().find(|i| &i.id == id) {
            Some(item) => {
                let _ = write!(
                    messages,
                    "<m:GetItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Items>{}</m:Items></m:GetItemResponseMessage>",
                    calendar_item_xml(item)
                );
            }
            None => messages.push_str(
                "<m:GetItemResponseMessage ResponseClass=\"Error\"><m:MessageText>The specified object was not found in the store.</m:MessageText><m:ResponseCode>ErrorItemNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/></m:GetItemResponseMessage>",
            ),
        }
    }
    Ok(format!(
        "<m:GetItemResponse xmlns:m=\"{MESSAGES}\" xmlns:t=\"{TYPES}\"><m:ResponseMessages>{messages}</m:ResponseMessages></m:GetItemResponse>"
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{read_calendar_items, request, response};
    use super::*;
    use crate::demo::DemoOrganisation;

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
        let source: Arc<dyn MailboxSource> = demo.source.clone();
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
            let root = response::parse_body(status, &reply).unwrap();
            let messages = response::messages(&root, alice.as_str()).unwrap();
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
            &request::sync_folder_hierarchy(None),
        );
        let (status, reply) = run(respond(demo.source.as_ref(), &service, false, &request));
        assert_eq!(status, 500);
        let root = response::parse_body(status, &reply).unwrap();
        let err = response::messages(&root, demo.addresses[1].as_str()).unwrap_err();
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
        let root = response::parse_body(200, &reply).unwrap();
        let state = response::items_page(&response::messages(&root, "a").unwrap()[0])
            .unwrap()
            .state;
        demo.source.mailbox(&alice).invalidate_states();
        let (status, reply) = send(request::sync_folder_items(
            request::Folder::DefaultCalendar,
            Some(&state),
            512,
        ));
        let root = response::parse_body(status, &reply).unwrap();
        let messages = response::messages(&root, alice.as_str()).unwrap();
        assert_eq!(
            messages[0].check(alice.as_str(), None).unwrap_err(),
            MailboxError::ResyncRequired
        );
    }
}
