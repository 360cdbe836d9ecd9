//! Time-zone names the simulated Exchange accepts: every Windows zone id of CLDR's
//! windowsZones table (what calsync sends), IANA names known to chrono-tz, and `UTC`.

use chrono_tz::Tz;

/// Resolves a `timeZone` value the way the simulated mailbox server accepts it.
pub(crate) fn resolve(name: &str) -> Option<Tz> {
    // Territory 001 is CLDR's representative zone for a Windows id.
    let windows = localzone::win_zone_to_iana(name, Some("001"))
        .or_else(|| localzone::win_zone_to_iana(name, None));
    match windows {
        Some(iana) => iana.parse().ok(),
        None => name.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_ids_resolve_to_their_zones() {
        assert_eq!(resolve("GMT Standard Time"), Some(Tz::Europe__London));
        assert_eq!(
            resolve("India Standard Time").map(|t| t.name()),
            Some("Asia/Calcutta")
        );
        assert!(resolve("FLE Standard Time").is_some());
        assert!(resolve("E. South America Standard Time").is_some());
    }

    #[test]
    fn rejects_names_exchange_rejects() {
        assert!(resolve("Greenwich Mean Time").is_none());
        assert!(resolve("Mars/Olympus_Mons").is_none());
        assert!(resolve("Europe/Amsterdam").is_some());
        assert!(resolve("UTC").is_some());
    }
}
