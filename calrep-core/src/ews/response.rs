//! EWS responses: the SOAP envelope (a fault too, which comes with HTTP 500),
//! each response message's class and code, the codes turned into
//! [`MailboxError`]s with plain messages, and the sync operations' pages.

use std::time::Duration;

use super::xml::{self, Document, Element, MESSAGES, SOAP, TYPES};
use crate::calendar::{CalendarId, CalendarInfo, ItemId};
use crate::mailbox::MailboxError;

/// How long to wait when the server throttles without saying how long.
const DEFAULT_BACK_OFF: Duration = Duration::from_secs(30);

/// One `*ResponseMessage` of a response.
#[derive(Debug, Clone)]
pub(crate) struct Message<'a> {
    pub(crate) element: Element<'a>,
    pub(crate) class: &'a str,
    pub(crate) code: &'a str,
    text: &'a str,
    back_off: Option<Duration>,
}

impl Message<'_> {
    /// `Ok` for `Success` (and `Warning`), or the error the code means.
    /// `mailbox` and `calendar` fill the messages.
    pub(crate) fn check(
        &self,
        mailbox: &str,
        calendar: Option<&CalendarId>,
    ) -> Result<(), MailboxError> {
        if self.class != "Error" {
            return Ok(());
        }
        Err(code_error(
            self.code,
            self.text,
            self.back_off,
            mailbox,
            calendar,
        ))
    }
}

/// What a response code means for calrep.
fn code_error(
    code: &str,
    text: &str,
    back_off: Option<Duration>,
    mailbox: &str,
    calendar: Option<&CalendarId>,
) -> MailboxError {
    match code {
        "ErrorServerBusy"
        | "ErrorExceededConnectionCount"
        | "ErrorTooManyObjectsOpened"
        | "ErrorTimeoutExpired"
        | "ErrorInternalServerTransientError" => MailboxError::Throttled {
            retry_after: back_off.unwrap_or(DEFAULT_BACK_OFF),
        },
        "ErrorInvalidSyncStateData" | "ErrorInvalidSyncStateSize" => MailboxError::ResyncRequired,
        "ErrorSyncFolderNotFound" | "ErrorFolderNotFound" | "ErrorItemNotFound"
            if calendar.is_some() =>
        {
            MailboxError::CalendarGone(calendar.cloned().unwrap_or_else(|| CalendarId::new("?")))
        }
        "ErrorNonExistentMailbox" | "ErrorMailRecipientNotFound" | "ErrorMailboxMoveInProgress" => {
            MailboxError::MailboxNotFound(mailbox.to_owned())
        }
        "ErrorImpersonateUserDenied"
        | "ErrorImpersonationDenied"
        | "ErrorAccessDenied"
        | "ErrorImpersonationFailed" => MailboxError::AccessDenied(mailbox.to_owned()),
        // Exchange's text speaks of "the user account which was used to
        // submit this request" even when it means the impersonated mailbox:
        // say which mailbox the answer was about.
        _ => MailboxError::Protocol(format!(
            "for mailbox {mailbox}, Exchange answered {code}: {}",
            short(text)
        )),
    }
}

/// The response's messages, after the envelope and a SOAP fault have
/// been dealt with (`root` is the parsed body's root).
pub(crate) fn messages<'a>(
    root: Element<'a>,
    mailbox: &str,
) -> Result<Vec<Message<'a>>, MailboxError> {
    let body = root
        .soap_body()
        .ok_or_else(|| MailboxError::Protocol("the response is not a SOAP envelope".into()))?;
    if let Some(fault) = body.children().find(|e| e.is(SOAP, "Fault")) {
        return Err(fault_error(fault, mailbox));
    }
    let mut out = Vec::new();
    collect_messages(body, &mut out);
    if out.is_empty() {
        return Err(MailboxError::Protocol(
            "the response holds no response message".into(),
        ));
    }
    Ok(out)
}

fn collect_messages<'a>(e: Element<'a>, out: &mut Vec<Message<'a>>) {
    for c in e.children() {
        if c.ns() == MESSAGES && c.name().ends_with("ResponseMessage") {
            let text_of = |name: &str| {
                c.children()
                    .find(|x| x.is(MESSAGES, name))
                    .map_or("", |x| x.text().trim())
            };
            out.push(Message {
                element: c,
                class: c.attribute("ResponseClass").unwrap_or("Error"),
                code: text_of("ResponseCode"),
                text: text_of("MessageText"),
                back_off: back_off(c),
            });
        } else {
            collect_messages(c, out);
        }
    }
}

/// `MessageXml/Value[@Name="BackOffMilliseconds"]`, wherever it is.
fn back_off(e: Element<'_>) -> Option<Duration> {
    if e.name() == "Value" && e.attribute("Name") == Some("BackOffMilliseconds") {
        return e.text().trim().parse().ok().map(Duration::from_millis);
    }
    e.children().find_map(back_off)
}

/// A SOAP fault: its response code (in the detail) decides, as for a
/// message; the fault string is the message.
fn fault_error(fault: Element<'_>, mailbox: &str) -> MailboxError {
    let plain = |name: &str| {
        fault
            .children()
            .find(|c| c.name() == name)
            .map_or("", |c| c.text().trim())
    };
    let detail_code = fault
        .children()
        .find(|c| c.name() == "detail")
        .and_then(|d| d.children().find(|c| c.name() == "ResponseCode"))
        .map(|c| c.text().trim());
    // QName text keeps its prefix ("a:ErrorSchemaValidation").
    let code = detail_code.unwrap_or_else(|| {
        let code = plain("faultcode");
        code.rsplit(':').next().unwrap_or(code)
    });
    code_error(code, plain("faultstring"), back_off(fault), mailbox, None)
}

/// Parses a response body, turning an HTTP failure, an empty, truncated or
/// non-XML body into a protocol error with a short snippet.
pub(crate) fn parse_body(status: u16, body: &str) -> Result<Document<'_>, MailboxError> {
    if body.trim().is_empty() {
        return Err(MailboxError::Protocol(format!(
            "HTTP {status} with an empty body"
        )));
    }
    xml::parse(body).map_err(|e| {
        MailboxError::Protocol(format!(
            "HTTP {status}, unreadable body ({e}): {}",
            short(body)
        ))
    })
}

/// At most 120 characters of `text`, on one line.
fn short(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// One page of `SyncFolderItems`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemsPage {
    pub(crate) state: String,
    pub(crate) last: bool,
    /// Created or updated items (read-flag changes left out).
    pub(crate) changed: Vec<ItemId>,
    pub(crate) deleted: Vec<ItemId>,
}

/// Reads a `SyncFolderItemsResponseMessage`.
pub(crate) fn items_page(message: &Message<'_>) -> Result<ItemsPage, MailboxError> {
    let m = message.element;
    let text_of = |name: &str| {
        m.children()
            .find(|x| x.is(MESSAGES, name))
            .map(|x| x.text().trim())
    };
    let state = text_of("SyncState")
        .ok_or_else(|| MailboxError::Protocol("SyncFolderItems: no SyncState".into()))?
        .to_owned();
    let last = match text_of("IncludesLastItemInRange") {
        Some("true") => true,
        Some("false") => false,
        other => {
            return Err(MailboxError::Protocol(format!(
                "SyncFolderItems: IncludesLastItemInRange is {other:?}"
            )));
        }
    };
    let mut page = ItemsPage {
        state,
        last,
        changed: Vec::new(),
        deleted: Vec::new(),
    };
    let changes = m.children().find(|x| x.is(MESSAGES, "Changes"));
    for change in changes.map(|c| c.children()).unwrap_or_default() {
        let id = |e: Element<'_>| -> Option<ItemId> {
            e.children()
                .find_map(|item| {
                    item.child("ItemId")
                        .or((item.name() == "ItemId").then_some(item))
                })
                .and_then(|i| i.attribute("Id"))
                .map(ItemId::new)
        };
        match change.name() {
            "Create" | "Update" => page.changed.extend(id(change)),
            "Delete" => page.deleted.extend(
                change
                    .child("ItemId")
                    .and_then(|i| i.attribute("Id"))
                    .map(ItemId::new),
            ),
            _ => {}
        }
    }
    Ok(page)
}

/// The calendar folders a `SyncFolderHierarchy` response lists: a
/// `CalendarFolder`, or any folder whose class starts with `IPF.Appointment`.
/// `default_id` marks the distinguished calendar's id when it is known.
pub(crate) fn calendar_folders(
    message: &Message<'_>,
    default_id: Option<&str>,
) -> Vec<CalendarInfo> {
    let mut out = Vec::new();
    let changes = message
        .element
        .children()
        .find(|x| x.is(MESSAGES, "Changes"));
    for change in changes.map(|c| c.children()).unwrap_or_default() {
        if change.name() != "Create" && change.name() != "Update" {
            continue;
        }
        for folder in change.children() {
            let class = folder.text_of("FolderClass").unwrap_or_default();
            let is_calendar =
                folder.is(TYPES, "CalendarFolder") || class.starts_with("IPF.Appointment");
            let id = folder.child("FolderId").and_then(|f| f.attribute("Id"));
            if let (true, Some(id)) = (is_calendar, id) {
                let name = folder.text_of("DisplayName").unwrap_or(id);
                out.push(CalendarInfo::new(id, name, Some(id) == default_id));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{body}</s:Body>
</s:Envelope>"#
        )
    }

    /// Microsoft's documented SyncFolderItems response shape.
    const SYNC_ITEMS: &str = r#"
<m:SyncFolderItemsResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
                           xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <m:ResponseMessages>
    <m:SyncFolderItemsResponseMessage ResponseClass="Success">
      <m:ResponseCode>NoError</m:ResponseCode>
      <m:SyncState>H4sIAAAAAAAEAO29B2AcSZ</m:SyncState>
      <m:IncludesLastItemInRange>false</m:IncludesLastItemInRange>
      <m:Changes>
        <t:Create><t:CalendarItem><t:ItemId Id="AAMk1" ChangeKey="DwAA1"/></t:CalendarItem></t:Create>
        <t:Update><t:CalendarItem><t:ItemId Id="AAMk2" ChangeKey="DwAA2"/></t:CalendarItem></t:Update>
        <t:ReadFlagChange><t:ItemId Id="AAMk3" ChangeKey="DwAA3"/><t:IsRead>true</t:IsRead></t:ReadFlagChange>
        <t:Delete><t:ItemId Id="AAMk4"/></t:Delete>
        <t:Create><t:Task><t:ItemId Id="AAMk5"/></t:Task></t:Create>
      </m:Changes>
    </m:SyncFolderItemsResponseMessage>
  </m:ResponseMessages>
</m:SyncFolderItemsResponse>"#;

    #[test]
    fn a_sync_page_lists_changes_and_deletions() {
        let text = envelope(SYNC_ITEMS);
        let doc = parse_body(200, &text).unwrap();
        let root = doc.root();
        let messages = messages(root, "a@x.com").unwrap();
        messages[0].check("a@x.com", None).unwrap();
        let page = items_page(&messages[0]).unwrap();
        assert!(!page.last);
        assert_eq!(page.state, "H4sIAAAAAAAEAO29B2AcSZ");
        let ids: Vec<&str> = page.changed.iter().map(ItemId::as_str).collect();
        assert_eq!(ids, ["AAMk1", "AAMk2", "AAMk5"]);
        assert_eq!(page.deleted, [ItemId::new("AAMk4")]);
    }

    #[test]
    fn error_codes_become_typed_mailbox_errors() {
        let message = |code: &str, extra: &str| {
            envelope(&format!(
                r#"<m:SyncFolderItemsResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
                     xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages>
                   <m:SyncFolderItemsResponseMessage ResponseClass="Error">
                     <m:MessageText>The server cannot service this request right now.</m:MessageText>
                     <m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{extra}
                     <m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>
                   </m:SyncFolderItemsResponseMessage></m:ResponseMessages></m:SyncFolderItemsResponse>"#
            ))
        };
        let calendar = CalendarId::new("AQMk-cal");
        let check = |xml: String| {
            let doc = parse_body(200, &xml).unwrap();
            let root = doc.root();
            let messages = messages(root, "alice@contoso.com").unwrap();
            messages[0]
                .check("alice@contoso.com", Some(&calendar))
                .unwrap_err()
        };
        let busy = check(message(
            "ErrorServerBusy",
            r#"<m:MessageXml><t:Value Name="BackOffMilliseconds">29970</t:Value></m:MessageXml>"#,
        ));
        assert_eq!(
            busy,
            MailboxError::Throttled {
                retry_after: Duration::from_millis(29_970)
            }
        );
        assert_eq!(
            check(message("ErrorInvalidSyncStateData", "")),
            MailboxError::ResyncRequired
        );
        assert_eq!(
            check(message("ErrorSyncFolderNotFound", "")),
            MailboxError::CalendarGone(calendar.clone())
        );
        assert_eq!(
            check(message("ErrorImpersonateUserDenied", "")),
            MailboxError::AccessDenied("alice@contoso.com".into())
        );
        assert_eq!(
            check(message("ErrorNonExistentMailbox", "")),
            MailboxError::MailboxNotFound("alice@contoso.com".into())
        );
        let other = check(message("ErrorSchemaValidation", "")).to_string();
        assert!(other.contains("ErrorSchemaValidation"), "{other}");
    }

    #[test]
    fn faults_and_unreadable_bodies_are_protocol_errors_or_throttling() {
        // A SOAP fault (HTTP 500) whose detail carries the EWS code.
        let fault = envelope(
            r#"<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
               <faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
               <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>
               <e:MessageXml xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors"><t:Value xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" Name="BackOffMilliseconds">5000</t:Value></e:MessageXml></detail></s:Fault>"#,
        );
        let doc = parse_body(500, &fault).unwrap();
        let root = doc.root();
        assert_eq!(
            messages(root, "a@x.com").unwrap_err(),
            MailboxError::Throttled {
                retry_after: Duration::from_millis(5000)
            }
        );
        let schema = envelope(
            r#"<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorSchemaValidation</faultcode><faultstring>The request failed schema validation.</faultstring></s:Fault>"#,
        );
        let doc = parse_body(500, &schema).unwrap();
        let root = doc.root();
        let err = messages(root, "a@x.com").unwrap_err().to_string();
        assert!(
            err.contains("ErrorSchemaValidation: The request failed schema validation."),
            "{err}"
        );
        // Empty, truncated and HTML bodies.
        assert!(
            parse_body(503, "  ")
                .unwrap_err()
                .to_string()
                .contains("HTTP 503 with an empty body")
        );
        let truncated = &envelope(SYNC_ITEMS)[..400];
        assert!(matches!(
            parse_body(200, truncated),
            Err(MailboxError::Protocol(_))
        ));
        let html = "<html><body><h1>Service Unavailable</h1></body></html>";
        let doc = parse_body(503, html).unwrap();
        let root = doc.root();
        let err = messages(root, "a@x.com").unwrap_err().to_string();
        assert!(err.contains("not a SOAP envelope"), "{err}");
    }

    #[test]
    fn hierarchy_lists_calendar_folders_and_marks_the_default() {
        let xml = envelope(
            r#"<m:SyncFolderHierarchyResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
                   xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages>
               <m:SyncFolderHierarchyResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>
               <m:SyncState>H4sI</m:SyncState><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange>
               <m:Changes>
                 <t:Create><t:CalendarFolder><t:FolderId Id="AQMkCal"/><t:DisplayName>Calendar</t:DisplayName><t:FolderClass>IPF.Appointment</t:FolderClass></t:CalendarFolder></t:Create>
                 <t:Create><t:Folder><t:FolderId Id="AQMkBday"/><t:DisplayName>Birthdays</t:DisplayName><t:FolderClass>IPF.Appointment.Birthday</t:FolderClass></t:Folder></t:Create>
                 <t:Create><t:Folder><t:FolderId Id="AQMkInbox"/><t:DisplayName>Inbox</t:DisplayName><t:FolderClass>IPF.Note</t:FolderClass></t:Folder></t:Create>
               </m:Changes></m:SyncFolderHierarchyResponseMessage></m:ResponseMessages></m:SyncFolderHierarchyResponse>"#,
        );
        let doc = parse_body(200, &xml).unwrap();
        let root = doc.root();
        let messages = messages(root, "a@x.com").unwrap();
        let folders = calendar_folders(&messages[0], Some("AQMkCal"));
        let names: Vec<(&str, bool)> = folders
            .iter()
            .map(|f| (f.name.as_str(), f.is_default))
            .collect();
        assert_eq!(names, [("Calendar", true), ("Birthdays", false)]);
    }
}
