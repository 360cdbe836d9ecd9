//! Time-zone names the simulated Exchange accepts, as Graph documents them
//! (resources/datetimetimezone.md): "any of the time zones supported by Windows" (every Windows
//! zone id of CLDR's windowsZones table, `UTC` among them) "as well as" a short list of IANA
//! names. Any other name, an IANA alias such as `US/Eastern` included, is refused with 400
//! `TimeZoneNotSupportedException`.

use chrono_tz::Tz;

/// The IANA names the page lists. Where it writes a name with another in parentheses
/// ("Europe/Kyiv (Kiev)", "Asia/Toshkent (Tashkent)", "Asia/Astana (Almaty)",
/// "Asia/Yangon (Rangoon)") both are here when tzdata knows them.
const DOCUMENTED_IANA_NAMES: [&str; 101] = [
    "Etc/GMT+12",
    "Etc/GMT+11",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Santa_Isabel",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/Chihuahua",
    "America/Denver",
    "America/Guatemala",
    "America/Chicago",
    "America/Mexico_City",
    "America/Regina",
    "America/Bogota",
    "America/New_York",
    "America/Indiana/Indianapolis",
    "America/Caracas",
    "America/Asuncion",
    "America/Halifax",
    "America/Cuiaba",
    "America/La_Paz",
    "America/Santiago",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Cayenne",
    "America/Godthab",
    "America/Montevideo",
    "America/Bahia",
    "Etc/GMT+2",
    "Atlantic/Azores",
    "Atlantic/Cape_Verde",
    "Africa/Casablanca",
    "Etc/GMT",
    "Europe/London",
    "Atlantic/Reykjavik",
    "Europe/Berlin",
    "Europe/Budapest",
    "Europe/Paris",
    "Europe/Warsaw",
    "Africa/Lagos",
    "Africa/Windhoek",
    "Europe/Bucharest",
    "Asia/Beirut",
    "Africa/Cairo",
    "Asia/Damascus",
    "Africa/Johannesburg",
    "Europe/Kyiv",
    "Europe/Kiev",
    "Europe/Istanbul",
    "Asia/Jerusalem",
    "Asia/Amman",
    "Asia/Baghdad",
    "Europe/Kaliningrad",
    "Asia/Riyadh",
    "Africa/Nairobi",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Baku",
    "Europe/Moscow",
    "Indian/Mauritius",
    "Asia/Tbilisi",
    "Asia/Yerevan",
    "Asia/Kabul",
    "Asia/Karachi",
    "Asia/Tashkent",
    "Asia/Kolkata",
    "Asia/Colombo",
    "Asia/Kathmandu",
    "Asia/Almaty",
    "Asia/Dhaka",
    "Asia/Yekaterinburg",
    "Asia/Yangon",
    "Asia/Rangoon",
    "Asia/Bangkok",
    "Asia/Novosibirsk",
    "Asia/Shanghai",
    "Asia/Krasnoyarsk",
    "Asia/Singapore",
    "Australia/Perth",
    "Asia/Taipei",
    "Asia/Ulaanbaatar",
    "Asia/Irkutsk",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Pacific/Port_Moresby",
    "Australia/Hobart",
    "Asia/Yakutsk",
    "Pacific/Guadalcanal",
    "Asia/Vladivostok",
    "Pacific/Auckland",
    "Etc/GMT-12",
    "Pacific/Fiji",
    "Asia/Magadan",
    "Pacific/Tongatapu",
    "Pacific/Apia",
    "Pacific/Kiritimati",
];

/// Resolves a `timeZone` value the way the simulated mailbox server accepts it.
pub(crate) fn resolve(name: &str) -> Option<Tz> {
    // Territory 001 is CLDR's representative zone for a Windows id.
    let windows = localzone::win_zone_to_iana(name, Some("001"))
        .or_else(|| localzone::win_zone_to_iana(name, None));
    match windows {
        Some(iana) => iana.parse().ok(),
        None if DOCUMENTED_IANA_NAMES.contains(&name) => name.parse().ok(),
        None => None,
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
        assert!(resolve("UTC").is_some());
    }

    // Graph docs: resources/datetimetimezone.md — Windows zones "as well as the following time
    // zones names"; nothing else.
    #[test]
    fn only_windows_ids_and_the_documented_iana_names_are_accepted() {
        assert!(resolve("Europe/Berlin").is_some());
        assert!(resolve("Asia/Kolkata").is_some());
        for refused in [
            "Greenwich Mean Time",
            "Mars/Olympus_Mons",
            "US/Eastern",
            "Asia/Istanbul",
            "Canada/Eastern",
            "Etc/UCT",
            "Europe/Amsterdam",
        ] {
            assert!(resolve(refused).is_none(), "{refused}");
        }
    }

    #[test]
    fn every_documented_name_is_a_zone_tzdata_knows() {
        for name in DOCUMENTED_IANA_NAMES {
            assert!(name.parse::<Tz>().is_ok(), "{name}");
        }
    }
}
