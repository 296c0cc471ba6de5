"""A real CalDAV client against calrep's front end: the python `caldav`
library discovers the account from the well-known URL, lists its
calendars and searches each in a window; then raw HTTP checks what must be
refused. Prints what it saw as JSON for the Rust test to compare with the
replica."""

import base64
import json
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone

import caldav
import icalendar


CONTEXT = None


def status(method, url, user=None, password=None, body=None):
    request = urllib.request.Request(url, method=method, data=body)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    request.add_header("Depth", "1")
    try:
        with urllib.request.urlopen(request, context=CONTEXT) as answer:
            return answer.status
    except urllib.error.HTTPError as e:
        return e.code


def instance(vevent):
    """An expanded instance as "UID start": UTC for a time, DATE: for a day."""
    start = vevent["DTSTART"].dt
    if isinstance(start, datetime):
        when = start.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    else:
        when = "DATE:" + start.strftime("%Y%m%d")
    return f"{vevent['UID']} {when}"


def sync(client, tokens):
    """Each calendar's changes since its token (RFC 6578), as UIDs changed
    and resource URLs removed."""
    out = {}
    for calendar in client.principal().calendars():
        found = calendar.get_objects_by_sync_token(
            sync_token=tokens[str(calendar.url)], load_objects=True, disable_fallback=True
        )
        deleted = {str(u) for u in found.deleted_urls}
        changed = sorted(
            str(icalendar.Calendar.from_ical(o.data).walk("VEVENT")[0]["UID"])
            for o in found.objects
            if str(o.url.canonical()) not in deleted and o.data
        )
        out[str(calendar.url)] = {"changed": changed, "removed": sorted(deleted), "token": str(found.sync_token)}
    return out


def feeds(urls):
    """Each feed read by the icalendar package, and fetched again with its
    ETag (which must answer 304)."""
    out = {}
    for url in urls:
        try:
            with urllib.request.urlopen(url) as answer:
                etag = answer.headers["ETag"]
                body = answer.read()
        except urllib.error.HTTPError as e:
            out[url] = {"status": e.code}
            continue
        calendar = icalendar.Calendar.from_ical(body)
        uids = sorted({str(e["UID"]) for e in calendar.walk("VEVENT")})
        request = urllib.request.Request(url, headers={"If-None-Match": etag})
        try:
            with urllib.request.urlopen(request) as again:
                conditional = again.status
        except urllib.error.HTTPError as e:
            conditional = e.code
        out[url] = {"status": 200, "uids": uids, "conditional": conditional}
    return out


def main():
    case = json.load(sys.stdin)
    if "feeds" in case:
        json.dump({"feeds": feeds(case["feeds"])}, sys.stdout)
        return
    base, user, password = case["base"], case["user"], case["password"]
    if "tokens" in case:
        client = caldav.DAVClient(url=base + "/.well-known/caldav", username=user, password=password)
        json.dump({"synced": sync(client, case["tokens"])}, sys.stdout)
        return
    lo = datetime.fromisoformat(case["from"].replace("Z", "+00:00"))
    hi = datetime.fromisoformat(case["to"].replace("Z", "+00:00"))
    global CONTEXT
    if "ca" in case:
        import ssl

        CONTEXT = ssl.create_default_context(cafile=case["ca"])
    client = caldav.DAVClient(
        url=base + "/.well-known/caldav", username=user, password=password, ssl_verify_cert=case.get("ca", True)
    )
    principal = client.principal()
    calendars = []
    for calendar in principal.calendars():
        found = calendar.search(start=lo, end=hi, event=True, expand=False)
        uids = sorted({str(icalendar.Calendar.from_ical(e.data).walk("VEVENT")[0]["UID"]) for e in found})
        expanded = {}
        for side, server in (("server", True), ("client", False)):
            objects = calendar.search(start=lo, end=hi, event=True, expand=True, server_expand=server)
            expanded[side] = sorted(
                instance(vevent) for o in objects for vevent in icalendar.Calendar.from_ical(o.data).walk("VEVENT")
            )
        description = calendar.get_property(caldav.elements.cdav.CalendarDescription())
        # The calendar's own zone: a VCALENDAR with one VTIMEZONE, read by
        # icalendar into a tzinfo; its UTC offsets in winter and summer.
        zone_text = calendar.get_property(caldav.elements.cdav.CalendarTimeZone())
        zone = None
        if zone_text:
            vtimezone = icalendar.Calendar.from_ical(zone_text).walk("VTIMEZONE")[0]
            tz = vtimezone.to_tz()
            zone = {
                "tzid": str(vtimezone["TZID"]),
                "offsets": [
                    int(tz.utcoffset(datetime(2026, month, 15, 12)).total_seconds())
                    for month in (1, 7)
                ],
            }
        everything = calendar.events()
        token = calendar.get_objects_by_sync_token(disable_fallback=True).sync_token
        calendars.append({"url": str(calendar.url), "name": calendar.name, "uids_in_window": uids, "events": len(everything), "token": str(token), "expanded": expanded, "description": str(description), "zone": zone})
    checks = {
        "no_credentials": status("PROPFIND", base + "/dav/"),
        "wrong_password": status("PROPFIND", base + "/dav/", user, password + "x"),
        "unknown_account": status("PROPFIND", base + "/dav/", "nobody", password),
        "write": status("PUT", calendars[0]["url"] + "new.ics", user, password, b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n") if calendars else 0,
        "delete": status("DELETE", calendars[0]["url"], user, password) if calendars else 0,
    }
    for name, (other, secret) in case.get("credentials", {}).items():
        checks["creds:" + name] = status("PROPFIND", base + "/dav/", other, secret)
    for name, url in case.get("guessed", {}).items():
        checks["guessed:" + name] = status("PROPFIND", base + url, user, password)
    json.dump({"principal": str(principal.url), "calendars": calendars, "checks": checks}, sys.stdout)


main()
