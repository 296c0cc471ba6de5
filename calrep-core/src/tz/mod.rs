//! Time-zone ids as they appear in configuration and in Exchange: IANA names
//! (`Europe/Berlin`) and Windows ids (`W. Europe Standard Time`), resolved to
//! IANA zones whose rules come from `chrono-tz`.

mod windows_zones;

use std::fmt;

use chrono_tz::Tz;

/// How a zone id was turned into an IANA zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZoneSource {
    /// The id was an IANA name.
    Iana,
    /// The id was a Windows id, mapped through CLDR's `windowsZones.xml`
    /// (the territory "001" zone).
    Windows,
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
#[error(
    "unknown time zone {id:?}: expected an IANA name such as \"Europe/Berlin\" or a Windows id such as \"W. Europe Standard Time\""
)]
pub struct TimeZoneError {
    id: String,
}

impl TimeZoneError {
    /// The id that was not recognised.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Resolves an IANA name or a Windows time-zone id.
///
/// IANA names are matched exactly; Windows ids are matched exactly first and
/// then ignoring ASCII case, since hand-written configuration often varies it.
///
/// ```
/// use calrep_core::tz::resolve_zone;
/// assert_eq!(resolve_zone("pacific standard time")?.tz().name(), "America/Los_Angeles");
/// assert!(resolve_zone("Mars/Olympus_Mons").is_err());
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
    if let Ok(tz) = trimmed.parse::<Tz>() {
        return Ok(resolved(tz, ZoneSource::Iana));
    }
    if let Some(tz) = windows_to_iana(trimmed, true) {
        return Ok(resolved(tz, ZoneSource::Windows));
    }
    Err(TimeZoneError { id: id.to_owned() })
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
        let i = table.binary_search_by(|(w, _)| w.cmp(&windows_id)).ok()?;
        table.get(i).map(|(_, iana)| *iana)
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
