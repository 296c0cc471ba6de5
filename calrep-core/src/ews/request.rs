//! EWS requests as SOAP 1.1 envelopes: `RequestServerVersion` always,
//! `ExchangeImpersonation` when the site impersonates, and the bodies of the
//! operations calrep sends. Every value is XML-escaped.

use quick_xml::escape::escape;

use super::xml::{MESSAGES, SOAP, TYPES};
use crate::address::EmailAddress;

/// Exchange's most changes per `SyncFolderItems` call.
pub(crate) const MAX_CHANGES_LIMIT: usize = 512;

/// A whole request: the envelope around `body`.
pub(crate) fn envelope(version: &str, impersonate: Option<&EmailAddress>, body: &str) -> String {
    let impersonation = impersonate.map_or_else(String::new, |a| {
        format!(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>",
            escape(a.as_str())
        )
    });
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <s:Envelope xmlns:s=\"{SOAP}\" xmlns:t=\"{TYPES}\" xmlns:m=\"{MESSAGES}\">\
         <s:Header><t:RequestServerVersion Version=\"{}\"/>{impersonation}</s:Header>\
         <s:Body>{body}</s:Body></s:Envelope>",
        escape(version)
    )
}

/// Which folder: the mailbox's distinguished calendar, or one by id.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Folder<'a> {
    /// `<t:DistinguishedFolderId Id="calendar"/>` (the client asks for the
    /// default calendar's id once and then uses it; tests use this).
    #[cfg(test)]
    DefaultCalendar,
    /// `<t:FolderId Id="…"/>`.
    Id(&'a str),
}

impl Folder<'_> {
    fn xml(self) -> String {
        match self {
            #[cfg(test)]
            Self::DefaultCalendar => "<t:DistinguishedFolderId Id=\"calendar\"/>".into(),
            Self::Id(id) => format!("<t:FolderId Id=\"{}\"/>", escape(id)),
        }
    }
}

fn state_xml(state: Option<&str>) -> String {
    state.map_or_else(String::new, |s| {
        format!("<m:SyncState>{}</m:SyncState>", escape(s))
    })
}

/// A distinguished folder, in another mailbox for delegate access.
fn distinguished(id: &str, delegate: Option<&EmailAddress>) -> String {
    match delegate {
        None => format!("<t:DistinguishedFolderId Id=\"{id}\"/>"),
        Some(a) => format!(
            "<t:DistinguishedFolderId Id=\"{id}\"><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>",
            escape(a.as_str())
        ),
    }
}

/// The folder hierarchy with each folder's class, name and parent; of
/// `delegate`'s mailbox when not impersonating.
pub(crate) fn sync_folder_hierarchy(
    state: Option<&str>,
    delegate: Option<&EmailAddress>,
) -> String {
    let root = delegate.map_or_else(String::new, |_| {
        format!(
            "<m:SyncFolderId>{}</m:SyncFolderId>",
            distinguished("msgfolderroot", delegate)
        )
    });
    format!(
        "<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>\
         <t:FieldURI FieldURI=\"folder:FolderClass\"/><t:FieldURI FieldURI=\"folder:DisplayName\"/>\
         <t:FieldURI FieldURI=\"folder:ParentFolderId\"/></t:AdditionalProperties></m:FolderShape>{root}{}\
         </m:SyncFolderHierarchy>",
        state_xml(state)
    )
}

/// The default calendar's id (and display name).
pub(crate) fn get_default_calendar(delegate: Option<&EmailAddress>) -> String {
    format!(
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>\
         <t:FieldURI FieldURI=\"folder:DisplayName\"/></t:AdditionalProperties></m:FolderShape>\
         <m:FolderIds>{}</m:FolderIds></m:GetFolder>",
        distinguished("calendar", delegate)
    )
}

/// A folder's item changes since `state`, ids only, at most `max` (clamped
/// to 1..=512), in schema order.
pub(crate) fn sync_folder_items(folder: Folder<'_>, state: Option<&str>, max: usize) -> String {
    format!(
        "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>\
         <m:SyncFolderId>{}</m:SyncFolderId>{}<m:MaxChangesReturned>{}</m:MaxChangesReturned>\
         <m:SyncScope>NormalItems</m:SyncScope></m:SyncFolderItems>",
        folder.xml(),
        state_xml(state),
        max.clamp(1, MAX_CHANGES_LIMIT)
    )
}

/// The calendar properties calrep reads (`domain.md` §2.5).
const ITEM_PROPERTIES: &[&str] = &[
    "item:Subject",
    "item:Body",
    "item:Sensitivity",
    "item:Attachments",
    "item:Categories",
    "item:LastModifiedTime",
    "calendar:UID",
    "calendar:Start",
    "calendar:End",
    "calendar:IsAllDayEvent",
    "calendar:LegacyFreeBusyStatus",
    "calendar:Location",
    "calendar:IsCancelled",
    "calendar:CalendarItemType",
    "calendar:Organizer",
    "calendar:RequiredAttendees",
    "calendar:OptionalAttendees",
    "calendar:Resources",
    "calendar:Recurrence",
    "calendar:ModifiedOccurrences",
    "calendar:DeletedOccurrences",
    "calendar:StartTimeZone",
    "calendar:StartTimeZoneId",
];

/// Full items by id, with the explicit property set and text bodies.
pub(crate) fn get_item(ids: &[&str]) -> String {
    let fields: String = ITEM_PROPERTIES
        .iter()
        .map(|f| format!("<t:FieldURI FieldURI=\"{f}\"/>"))
        .collect();
    let ids: String = ids
        .iter()
        .map(|id| format!("<t:ItemId Id=\"{}\"/>", escape(*id)))
        .collect();
    format!(
        "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:BodyType>Text</t:BodyType>\
         <t:AdditionalProperties>{fields}</t:AdditionalProperties></m:ItemShape>\
         <m:ItemIds>{ids}</m:ItemIds></m:GetItem>"
    )
}

/// Attachment contents by id.
pub(crate) fn get_attachment(ids: &[&str]) -> String {
    let ids: String = ids
        .iter()
        .map(|id| format!("<t:AttachmentId Id=\"{}\"/>", escape(*id)))
        .collect();
    format!(
        "<m:GetAttachment><m:AttachmentShape/><m:AttachmentIds>{ids}</m:AttachmentIds></m:GetAttachment>"
    )
}

/// A distribution list's direct members.
pub(crate) fn expand_dl(address: &str) -> String {
    format!(
        "<m:ExpandDL><m:Mailbox><t:EmailAddress>{}</t:EmailAddress></m:Mailbox></m:ExpandDL>",
        escape(address)
    )
}

#[cfg(test)]
mod tests {
    use super::super::xml::{self, Document, Element};
    use super::*;

    fn body(request: &str) -> Document<'static> {
        xml::parse(request).unwrap().into_owned()
    }

    /// The operation: the SOAP body's first element.
    fn operation<'d>(doc: &'d Document<'_>) -> Element<'d> {
        doc.root().soap_body().unwrap().first_child().unwrap()
    }

    #[test]
    fn the_envelope_carries_version_and_impersonation_in_their_namespaces() {
        let alice: EmailAddress = "alice@contoso.com".parse().unwrap();
        let request = envelope(
            "Exchange2013_SP1",
            Some(&alice),
            &sync_folder_hierarchy(None, None),
        );
        let doc = xml::parse(&request).unwrap();
        let root = doc.root();
        let header = root.first_child().unwrap().first_child().unwrap();
        assert!(header.is(SOAP, "Header"));
        assert_eq!(
            header
                .child("RequestServerVersion")
                .unwrap()
                .attribute("Version"),
            Some("Exchange2013_SP1")
        );
        let sid = header
            .child("ExchangeImpersonation")
            .unwrap()
            .child("ConnectingSID")
            .unwrap();
        assert_eq!(sid.text_of("PrimarySmtpAddress"), Some("alice@contoso.com"));
        // Without impersonation, no impersonation header.
        let plain = envelope("Exchange2013_SP1", None, "<m:GetItem/>");
        assert!(!plain.contains("ExchangeImpersonation"));
    }

    #[test]
    fn sync_requests_follow_schema_order_and_limits() {
        let first = body(&envelope(
            "V",
            None,
            &sync_folder_items(Folder::DefaultCalendar, None, 9_999),
        ));
        let first = operation(&first);
        assert!(first.is(MESSAGES, "SyncFolderItems"));
        let names: Vec<&str> = first.children().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "ItemShape",
                "SyncFolderId",
                "MaxChangesReturned",
                "SyncScope"
            ]
        );
        let max = first
            .children()
            .find(|c| c.name() == "MaxChangesReturned")
            .unwrap();
        assert_eq!(max.text(), "512");
        let next = body(&envelope(
            "V",
            None,
            &sync_folder_items(Folder::Id("AQ<&>"), Some("H4sI&x"), 0),
        ));
        let next = operation(&next);
        let names: Vec<&str> = next.children().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "ItemShape",
                "SyncFolderId",
                "SyncState",
                "MaxChangesReturned",
                "SyncScope"
            ]
        );
        // Values survive escaping.
        let folder = next.children().nth(1).unwrap().child("FolderId").unwrap();
        assert_eq!(folder.attribute("Id"), Some("AQ<&>"));
        assert_eq!(next.children().nth(2).unwrap().text(), "H4sI&x");
        let max = next
            .children()
            .find(|c| c.name() == "MaxChangesReturned")
            .unwrap();
        assert_eq!(max.text(), "1");
    }

    #[test]
    fn get_item_asks_for_every_property_calrep_reads() {
        let request = body(&envelope("V", None, &get_item(&["AAMk1", "AAMk2"])));
        let request = operation(&request);
        let shape = request
            .children()
            .find(|c| c.name() == "ItemShape")
            .unwrap();
        let fields: Vec<&str> = shape
            .child("AdditionalProperties")
            .unwrap()
            .children_named("FieldURI")
            .filter_map(|f| f.attribute("FieldURI"))
            .collect();
        assert_eq!(fields, ITEM_PROPERTIES);
        let ids = request.children().find(|c| c.name() == "ItemIds").unwrap();
        assert_eq!(ids.children_named("ItemId").count(), 2);
    }
}
