//! The time zone an event goes out in. Graph's `dateTimeTimeZone` accepts "any of the time
//! zones supported by Windows" and a short list of IANA names (Graph docs:
//! resources/datetimetimezone.md), so every IANA name is sent as its Windows zone id: through
//! CLDR's windowsZones table, after following tzdata's links (aliases such as `US/Eastern`,
//! `Asia/Istanbul`, `Canada/*`, `Etc/UCT`, which CLDR does not list) and CLDR's older names. A
//! zone with no Windows equivalent goes out in UTC, its times converted, rather than refused.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::SlotWindow;

/// A slot as Graph is sent it: local wall times without offset, and their zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphTimes {
    pub time_zone: String,
    pub start: String,
    pub end: String,
}

/// Graph's own zone id for UTC (a Windows zone id too).
const UTC: &str = "UTC";
const DATE_TIME: &str = "%Y-%m-%dT%H:%M:%S";

/// The slot's start and end in a zone every Exchange mailbox accepts.
pub fn graph_times(window: &SlotWindow) -> GraphTimes {
    match windows_zone(window.zone, &[window.start_utc, window.end_utc]) {
        Some(zone) => GraphTimes {
            time_zone: zone.to_string(),
            start: window.start_local.format(DATE_TIME).to_string(),
            end: window.end_local.format(DATE_TIME).to_string(),
        },
        None => GraphTimes {
            time_zone: UTC.to_string(),
            start: window.start_utc.format(DATE_TIME).to_string(),
            end: window.end_utc.format(DATE_TIME).to_string(),
        },
    }
}

/// The Windows zone id for `zone` whose clock agrees with it at every instant of `at`, or
/// `None` when Windows has no equivalent. The check catches CLDR entries older than the tzdata
/// chrono-tz carries (Antarctica/Casey moved to +08, America/Scoresbysund to -02).
pub fn windows_zone(zone: Tz, at: &[DateTime<Utc>]) -> Option<&'static str> {
    let windows = windows_zone_name(zone.name())?;
    if windows == UTC {
        return Some(UTC);
    }
    let representative: Tz = localzone::win_zone_to_iana(windows, Some("001"))?
        .parse()
        .ok()?;
    let offset = |tz: Tz, t: &DateTime<Utc>| {
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    };
    at.iter()
        .all(|t| offset(zone, t) == offset(representative, t))
        .then_some(windows)
}

/// The Windows zone id CLDR gives an IANA name, after tzdata's links and CLDR's old names.
fn windows_zone_name(iana: &str) -> Option<&'static str> {
    if iana == "UTC" || iana == "Etc/UTC" {
        return Some(UTC);
    }
    let canonical = TZDATA_LINKS
        .iter()
        .find(|(alias, _)| *alias == iana)
        .map_or(iana, |(_, target)| target);
    let cldr_name = CLDR_LEGACY_NAMES
        .iter()
        .find(|(modern, _)| *modern == canonical)
        .map_or(canonical, |(_, legacy)| legacy);
    localzone::iana_to_win_zone(cldr_name).map(|(windows, _)| windows)
}

/// CLDR's Windows table keeps the IANA names zones had before they were renamed.
const CLDR_LEGACY_NAMES: [(&str, &str); 17] = [
    ("Asia/Kolkata", "Asia/Calcutta"),
    ("Europe/Kyiv", "Europe/Kiev"),
    ("Asia/Ho_Chi_Minh", "Asia/Saigon"),
    ("Asia/Kathmandu", "Asia/Katmandu"),
    ("Asia/Yangon", "Asia/Rangoon"),
    ("America/Nuuk", "America/Godthab"),
    ("Pacific/Kanton", "Pacific/Enderbury"),
    ("America/Argentina/Buenos_Aires", "America/Buenos_Aires"),
    ("America/Argentina/Cordoba", "America/Cordoba"),
    ("America/Argentina/Catamarca", "America/Catamarca"),
    ("America/Argentina/Jujuy", "America/Jujuy"),
    ("America/Argentina/Mendoza", "America/Mendoza"),
    ("America/Indiana/Indianapolis", "America/Indianapolis"),
    ("America/Kentucky/Louisville", "America/Louisville"),
    ("Atlantic/Faroe", "Atlantic/Faeroe"),
    ("Pacific/Chuuk", "Pacific/Truk"),
    ("Pacific/Pohnpei", "Pacific/Ponape"),
];

/// tzdata's `Link` lines (alias → the zone it names, links followed to the end) for every
/// name chrono-tz knows that CLDR's windowsZones table does not list, from the tzdata files
/// chrono-tz 0.10.4 is built from. A link is the same zone under another name, so its Windows
/// id is exact, not a guess.
const TZDATA_LINKS: [(&str, &str); 129] = [
    ("Africa/Asmara", "Africa/Nairobi"),
    ("Africa/Timbuktu", "Africa/Abidjan"),
    (
        "America/Argentina/ComodRivadavia",
        "America/Argentina/Catamarca",
    ),
    ("America/Atikokan", "America/Panama"),
    ("America/Atka", "America/Adak"),
    ("America/Ensenada", "America/Tijuana"),
    ("America/Fort_Wayne", "America/Indiana/Indianapolis"),
    ("America/Knox_IN", "America/Indiana/Knox"),
    ("America/Montreal", "America/Toronto"),
    ("America/Nipigon", "America/Toronto"),
    ("America/Pangnirtung", "America/Iqaluit"),
    ("America/Porto_Acre", "America/Rio_Branco"),
    ("America/Rainy_River", "America/Winnipeg"),
    ("America/Rosario", "America/Argentina/Cordoba"),
    ("America/Santa_Isabel", "America/Tijuana"),
    ("America/Shiprock", "America/Denver"),
    ("America/Thunder_Bay", "America/Toronto"),
    ("America/Virgin", "America/Puerto_Rico"),
    ("America/Yellowknife", "America/Edmonton"),
    ("Antarctica/South_Pole", "Pacific/Auckland"),
    ("Asia/Ashkhabad", "Asia/Ashgabat"),
    ("Asia/Chongqing", "Asia/Shanghai"),
    ("Asia/Chungking", "Asia/Shanghai"),
    ("Asia/Dacca", "Asia/Dhaka"),
    ("Asia/Harbin", "Asia/Shanghai"),
    ("Asia/Istanbul", "Europe/Istanbul"),
    ("Asia/Kashgar", "Asia/Urumqi"),
    ("Asia/Macao", "Asia/Macau"),
    ("Asia/Tel_Aviv", "Asia/Jerusalem"),
    ("Asia/Thimbu", "Asia/Thimphu"),
    ("Asia/Ujung_Pandang", "Asia/Makassar"),
    ("Asia/Ulan_Bator", "Asia/Ulaanbaatar"),
    ("Atlantic/Jan_Mayen", "Europe/Berlin"),
    ("Australia/ACT", "Australia/Sydney"),
    ("Australia/Canberra", "Australia/Sydney"),
    ("Australia/Currie", "Australia/Hobart"),
    ("Australia/LHI", "Australia/Lord_Howe"),
    ("Australia/NSW", "Australia/Sydney"),
    ("Australia/North", "Australia/Darwin"),
    ("Australia/Queensland", "Australia/Brisbane"),
    ("Australia/South", "Australia/Adelaide"),
    ("Australia/Tasmania", "Australia/Hobart"),
    ("Australia/Victoria", "Australia/Melbourne"),
    ("Australia/West", "Australia/Perth"),
    ("Australia/Yancowinna", "Australia/Broken_Hill"),
    ("Brazil/Acre", "America/Rio_Branco"),
    ("Brazil/DeNoronha", "America/Noronha"),
    ("Brazil/East", "America/Sao_Paulo"),
    ("Brazil/West", "America/Manaus"),
    ("CET", "Europe/Brussels"),
    ("Canada/Atlantic", "America/Halifax"),
    ("Canada/Central", "America/Winnipeg"),
    ("Canada/Eastern", "America/Toronto"),
    ("Canada/Mountain", "America/Edmonton"),
    ("Canada/Newfoundland", "America/St_Johns"),
    ("Canada/Pacific", "America/Vancouver"),
    ("Canada/Saskatchewan", "America/Regina"),
    ("Canada/Yukon", "America/Whitehorse"),
    ("Chile/Continental", "America/Santiago"),
    ("Chile/EasterIsland", "Pacific/Easter"),
    ("Cuba", "America/Havana"),
    ("EET", "Europe/Athens"),
    ("EST", "America/Panama"),
    ("Egypt", "Africa/Cairo"),
    ("Eire", "Europe/Dublin"),
    ("Etc/GMT+0", "Etc/GMT"),
    ("Etc/GMT-0", "Etc/GMT"),
    ("Etc/GMT0", "Etc/GMT"),
    ("Etc/Greenwich", "Etc/GMT"),
    ("Etc/UCT", "Etc/UTC"),
    ("Etc/Universal", "Etc/UTC"),
    ("Etc/Zulu", "Etc/UTC"),
    ("Europe/Belfast", "Europe/London"),
    ("Europe/Nicosia", "Asia/Nicosia"),
    ("Europe/Tiraspol", "Europe/Chisinau"),
    ("Europe/Uzhgorod", "Europe/Kyiv"),
    ("Europe/Zaporozhye", "Europe/Kyiv"),
    ("GB", "Europe/London"),
    ("GB-Eire", "Europe/London"),
    ("GMT", "Etc/GMT"),
    ("GMT+0", "Etc/GMT"),
    ("GMT-0", "Etc/GMT"),
    ("GMT0", "Etc/GMT"),
    ("Greenwich", "Etc/GMT"),
    ("HST", "Pacific/Honolulu"),
    ("Hongkong", "Asia/Hong_Kong"),
    ("Iceland", "Africa/Abidjan"),
    ("Iran", "Asia/Tehran"),
    ("Israel", "Asia/Jerusalem"),
    ("Jamaica", "America/Jamaica"),
    ("Japan", "Asia/Tokyo"),
    ("Kwajalein", "Pacific/Kwajalein"),
    ("Libya", "Africa/Tripoli"),
    ("MET", "Europe/Brussels"),
    ("MST", "America/Phoenix"),
    ("Mexico/BajaNorte", "America/Tijuana"),
    ("Mexico/BajaSur", "America/Mazatlan"),
    ("Mexico/General", "America/Mexico_City"),
    ("NZ", "Pacific/Auckland"),
    ("NZ-CHAT", "Pacific/Chatham"),
    ("Navajo", "America/Denver"),
    ("PRC", "Asia/Shanghai"),
    ("Pacific/Johnston", "Pacific/Honolulu"),
    ("Pacific/Samoa", "Pacific/Pago_Pago"),
    ("Pacific/Yap", "Pacific/Port_Moresby"),
    ("Poland", "Europe/Warsaw"),
    ("Portugal", "Europe/Lisbon"),
    ("ROC", "Asia/Taipei"),
    ("ROK", "Asia/Seoul"),
    ("Singapore", "Asia/Singapore"),
    ("Turkey", "Europe/Istanbul"),
    ("UCT", "Etc/UTC"),
    ("US/Alaska", "America/Anchorage"),
    ("US/Aleutian", "America/Adak"),
    ("US/Arizona", "America/Phoenix"),
    ("US/Central", "America/Chicago"),
    ("US/East-Indiana", "America/Indiana/Indianapolis"),
    ("US/Eastern", "America/New_York"),
    ("US/Hawaii", "Pacific/Honolulu"),
    ("US/Indiana-Starke", "America/Indiana/Knox"),
    ("US/Michigan", "America/Detroit"),
    ("US/Mountain", "America/Denver"),
    ("US/Pacific", "America/Los_Angeles"),
    ("US/Samoa", "Pacific/Pago_Pago"),
    ("UTC", "Etc/UTC"),
    ("Universal", "Etc/UTC"),
    ("W-SU", "Europe/Moscow"),
    ("WET", "Europe/Lisbon"),
    ("Zulu", "Etc/UTC"),
];

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use chrono::NaiveTime;
    use chrono_tz::TZ_VARIANTS;

    use super::*;
    use crate::domain::resolve_slot_window;

    /// Zones tzdata has that no Windows zone matches: Troll's +02 summer is its own, Coyhaique
    /// left America/Santiago's rules in 2025, and CLDR still maps Casey, Vostok and Scoresbysund
    /// to the clocks they had before tzdata 2023–2024.
    const NO_WINDOWS_EQUIVALENT: [&str; 5] = [
        "America/Coyhaique",
        "America/Scoresbysund",
        "Antarctica/Casey",
        "Antarctica/Troll",
        "Antarctica/Vostok",
    ];

    fn window(zone: &str) -> SlotWindow {
        resolve_slot_window(
            NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
            zone,
        )
        .unwrap()
    }

    // Graph docs: resources/datetimetimezone.md — timeZone is "any of the time zones supported
    // by Windows" (or the short IANA list on that page).
    #[test]
    fn every_zone_chrono_tz_knows_goes_out_as_a_windows_zone_or_in_utc() {
        let winter_and_summer = [
            Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 7, 15, 12, 0, 0).unwrap(),
        ];
        let mut in_utc = Vec::new();
        for zone in TZ_VARIANTS {
            match windows_zone(zone, &winter_and_summer) {
                Some(windows) => assert!(
                    windows == UTC || localzone::win_zone_to_iana(windows, None).is_some(),
                    "{} went out as {windows}, which is no Windows zone id",
                    zone.name()
                ),
                None => in_utc.push(zone.name()),
            }
        }
        assert_eq!(in_utc, NO_WINDOWS_EQUIVALENT);
    }

    #[test]
    fn aliases_the_cldr_table_does_not_list_get_their_zones_windows_id() {
        for (alias, windows) in [
            ("US/Eastern", "Eastern Standard Time"),
            ("Asia/Istanbul", "Turkey Standard Time"),
            ("Canada/Newfoundland", "Newfoundland Standard Time"),
            ("Canada/Pacific", "Pacific Standard Time"),
            ("Etc/UCT", "UTC"),
            ("Europe/Uzhgorod", "FLE Standard Time"),
            ("Asia/Kolkata", "India Standard Time"),
            ("America/New_York", "Eastern Standard Time"),
            ("UTC", "UTC"),
        ] {
            let times = graph_times(&window(alias));
            assert_eq!(times.time_zone, windows, "{alias}");
            assert_eq!(times.start, "2026-06-01T09:00:00", "{alias}");
        }
    }

    #[test]
    fn a_zone_without_a_windows_equivalent_is_sent_in_utc_at_the_same_instant() {
        // Antarctica/Troll is UTC+2 in June.
        assert_eq!(
            graph_times(&window("Antarctica/Troll")),
            GraphTimes {
                time_zone: "UTC".into(),
                start: "2026-06-01T07:00:00".into(),
                end: "2026-06-01T08:00:00".into(),
            }
        );
    }
}
