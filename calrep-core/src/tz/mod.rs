//! Time-zone ids as they appear in configuration and in Exchange: IANA names
//! (`Europe/Berlin`) and Windows ids (`W. Europe Standard Time`), resolved to
//! IANA zones whose rules come from `chrono-tz`.

pub(crate) mod wall_clock;
// Generated; formatted by its generator, not by rustfmt.
#[rustfmt::skip]
mod windows_zones;

use std::fmt;

use chrono_tz::Tz;

/// How a zone id was turned into an IANA zone: the resolution path, kept
/// on the item so a wrong guess can be traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ZoneSource {
    /// The id was a current IANA name.
    Iana,
    /// The id was an old IANA name (`Asia/Calcutta`), renamed through
    /// tzdb's links to the current one (`Asia/Kolkata`).
    IanaAlias,
    /// The id was a Windows id, mapped through CLDR's `windowsZones.xml`
    /// (the territory "001" zone, under its current tzdb name).
    Windows,
    /// The id was a Windows display string (`(UTC+01:00) Amsterdam, Berlin,
    /// …`), as some clients store instead of the id.
    DisplayName,
    /// The id was Microsoft's `tzone://Microsoft/Utc`.
    MicrosoftUtc,
    /// The id was unknown or custom; the item's own time-zone definition
    /// (EWS `TimeZoneDefinition`) matched this zone's offsets and changes.
    Definition,
    /// The id was unknown or custom; a fixed offset taken from the item's
    /// own times stands in (`Etc/GMT-1` for UTC+01:00).
    FixedOffset,
}

/// A zone id resolved to IANA rules, remembering what was asked for.
///
/// ```
/// use calrep_core::tz::{resolve_zone, ZoneSource};
/// let zone = resolve_zone("W. Europe Standard Time")?;
/// assert_eq!(zone.tz().name(), "Europe/Berlin");
/// assert_eq!(zone.source(), ZoneSource::Windows);
/// assert_eq!(resolve_zone("Asia/Tokyo")?.source(), ZoneSource::Iana);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedZone {
    id: String,
    tz: Tz,
    source: ZoneSource,
}

impl ResolvedZone {
    /// A zone found by other means than the tables (an item's definition).
    pub(crate) fn found(id: &str, tz: Tz, source: ZoneSource) -> Self {
        Self {
            id: id.to_owned(),
            tz,
            source,
        }
    }

    /// The IANA zone whose rules apply.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The id as it was given.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How the id was resolved.
    pub fn source(&self) -> ZoneSource {
        self.source
    }
}

impl fmt::Display for ResolvedZone {
    /// The IANA name, followed by the id as given when that differs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.source == ZoneSource::Iana {
            f.write_str(self.tz.name())
        } else {
            write!(f, "{} ({})", self.tz.name(), self.id)
        }
    }
}

/// A zone id that names no known zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", if *custom {
    format!("custom time zone {id:?}: its rules are not in any table; they come with the item (a time-zone definition) or from its offsets")
} else {
    format!("unknown time zone {id:?}: expected an IANA name such as \"Europe/Berlin\" or a Windows id such as \"W. Europe Standard Time\"")
})]
pub struct TimeZoneError {
    id: String,
    custom: bool,
}

impl TimeZoneError {
    /// The id that was not recognised.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the id marks a custom zone (`Customized Time Zone`,
    /// `tzone://Microsoft/Custom`) rather than an unknown name.
    pub fn is_custom(&self) -> bool {
        self.custom
    }
}

/// Resolves an IANA name or a Windows time-zone id, and the other ids
/// Exchange and Graph really return.
///
/// In order: an exact Windows id; an old IANA name, renamed; a current IANA
/// name; a Windows id ignoring ASCII case (hand-written configuration often
/// varies it); a Windows display string (spacing and case ignored);
/// `tzone://Microsoft/Utc`. `Customized Time Zone` and
/// `tzone://Microsoft/Custom` fail with [`TimeZoneError::is_custom`]: see
/// [`resolve_zone_or_offset`].
///
/// ```
/// use calrep_core::tz::{resolve_zone, ZoneSource};
/// assert_eq!(resolve_zone("pacific standard time")?.tz().name(), "America/Los_Angeles");
/// let old = resolve_zone("Asia/Calcutta")?;
/// assert_eq!((old.tz().name(), old.source()), ("Asia/Kolkata", ZoneSource::IanaAlias));
/// let shown = resolve_zone("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna")?;
/// assert_eq!((shown.tz().name(), shown.source()), ("Europe/Berlin", ZoneSource::DisplayName));
/// assert!(resolve_zone("Mars/Olympus_Mons").is_err());
/// assert!(resolve_zone("Customized Time Zone").unwrap_err().is_custom());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve_zone(id: &str) -> Result<ResolvedZone, TimeZoneError> {
    let trimmed = id.trim();
    let resolved = |tz, source| ResolvedZone {
        id: id.to_owned(),
        tz,
        source,
    };
    // Exact Windows ids first: "UTC" is both a Windows id and an IANA name,
    // and Exchange means the Windows one.
    if let Some(tz) = windows_to_iana(trimmed, false) {
        return Ok(resolved(tz, ZoneSource::Windows));
    }
    if let Some(tz) = lookup(windows_zones::IANA_LINKS, trimmed).and_then(|t| t.parse().ok()) {
        return Ok(resolved(tz, ZoneSource::IanaAlias));
    }
    if let Ok(tz) = trimmed.parse::<Tz>() {
        return Ok(resolved(tz, ZoneSource::Iana));
    }
    if let Some(tz) = windows_to_iana(trimmed, true) {
        return Ok(resolved(tz, ZoneSource::Windows));
    }
    let squeezed = squeeze(trimmed);
    if let Some(tz) = windows_zones::DISPLAY_TO_WINDOWS
        .iter()
        .find(|(display, _)| squeeze(display) == squeezed)
        .and_then(|(_, windows)| windows_to_iana(windows, false))
    {
        return Ok(resolved(tz, ZoneSource::DisplayName));
    }
    if trimmed.eq_ignore_ascii_case("tzone://Microsoft/Utc") {
        return Ok(resolved(Tz::UTC, ZoneSource::MicrosoftUtc));
    }
    let custom = trimmed.eq_ignore_ascii_case("Customized Time Zone")
        || trimmed.eq_ignore_ascii_case("tzone://Microsoft/Custom");
    Err(TimeZoneError {
        id: id.to_owned(),
        custom,
    })
}

/// Like [`resolve_zone`], falling back for unknown and custom ids to the
/// fixed offset the item's own times show (`offset_seconds` east of UTC, a
/// whole number of hours from −12 to +14), as `Etc/GMT∓N`. Recurrences in
/// such a zone ignore daylight saving, which is the best the item allows.
///
/// ```
/// use calrep_core::tz::{resolve_zone_or_offset, ZoneSource};
/// let zone = resolve_zone_or_offset("Mitteleuropäische Zeit", Some(3600))?;
/// assert_eq!((zone.tz().name(), zone.source()), ("Etc/GMT-1", ZoneSource::FixedOffset));
/// assert!(resolve_zone_or_offset("Mitteleuropäische Zeit", Some(1800)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve_zone_or_offset(
    id: &str,
    offset_seconds: Option<i32>,
) -> Result<ResolvedZone, TimeZoneError> {
    let err = match resolve_zone(id) {
        Ok(zone) => return Ok(zone),
        Err(e) => e,
    };
    let Some(offset) = offset_seconds.filter(|s| s % 3600 == 0) else {
        return Err(err);
    };
    let hours = offset / 3600;
    // POSIX-style names: Etc/GMT-1 is one hour east of UTC.
    let name = match hours {
        0 => "Etc/GMT".to_owned(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    };
    name.parse::<Tz>()
        .map(|tz| ResolvedZone {
            id: id.to_owned(),
            tz,
            source: ZoneSource::FixedOffset,
        })
        .map_err(|_| err)
}

fn lookup(table: &'static [(&'static str, &'static str)], key: &str) -> Option<&'static str> {
    let i = table.binary_search_by(|(k, _)| k.cmp(&key)).ok()?;
    table.get(i).map(|(_, v)| *v)
}

/// Lower case without spaces, for matching display strings loosely.
fn squeeze(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The IANA zone CLDR prefers for a Windows id, if the id is known.
fn windows_to_iana(windows_id: &str, ignore_case: bool) -> Option<Tz> {
    let table = windows_zones::WINDOWS_TO_IANA;
    let iana = if ignore_case {
        table
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(windows_id))
            .map(|(_, iana)| *iana)
    } else {
        lookup(table, windows_id)
    }?;
    iana.parse().ok()
}

/// Every Windows id the CLDR table knows, in order.
///
/// ```
/// assert!(calrep_core::tz::windows_ids().any(|id| id == "Tokyo Standard Time"));
/// ```
pub fn windows_ids() -> impl Iterator<Item = &'static str> {
    windows_zones::WINDOWS_TO_IANA.iter().map(|(w, _)| *w)
}
