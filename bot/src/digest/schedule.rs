//! `[email] schedule = "Mon 09:00 UTC"` (or `"Mon 09:00 Europe/Prague"`): when, each week,
//! `serve` sends the digest.

use chrono::{Datelike, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub weekday: Weekday,
    pub time: NaiveTime,
    pub tz: Tz,
}

impl std::str::FromStr for Schedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Schedule, String> {
        let usage = || format!("schedule {s:?}: expected `DAY HH:MM ZONE`, like \"Mon 09:00 UTC\"");
        let mut words = s.split_whitespace();
        let (Some(day), Some(time), zone, None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(usage());
        };
        let weekday: Weekday = day.parse().map_err(|_| usage())?;
        let time = NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| usage())?;
        let tz: Tz = zone
            .unwrap_or("UTC")
            .parse()
            .map_err(|_| format!("schedule {s:?}: unknown time zone {:?}", zone.unwrap_or("")))?;
        Ok(Schedule { weekday, time, tz })
    }
}

impl Schedule {
    /// The ISO week (`2026-W48`, in the schedule's zone) whose digest is due at `now`, if the
    /// week's slot has passed.
    pub fn due_week(&self, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
        let local = now.with_timezone(&self.tz);
        let monday = local.date_naive()
            - chrono::Duration::days(i64::from(local.weekday().num_days_from_monday()));
        let day = monday + chrono::Duration::days(i64::from(self.weekday.num_days_from_monday()));
        let slot = self
            .tz
            .from_local_datetime(&day.and_time(self.time))
            .earliest()?;
        (local >= slot).then(|| super::iso_week(local.date_naive()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.to_utc())
            .unwrap_or_default()
    }

    #[test]
    fn parses_and_knows_when_a_week_is_due() {
        let s: Schedule = "Mon 09:00 UTC".parse().unwrap_or_else(|e| panic!("{e}"));
        // 2026-11-23 is a Monday (week 48).
        assert_eq!(s.due_week(at("2026-11-23T08:59:00Z")), None);
        assert_eq!(
            s.due_week(at("2026-11-23T09:00:00Z")).as_deref(),
            Some("2026-W48")
        );
        assert_eq!(
            s.due_week(at("2026-11-29T23:00:00Z")).as_deref(),
            Some("2026-W48")
        );
        let prague: Schedule = "Fri 17:30 Europe/Prague"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        // 17:30 in Prague is 16:30 UTC in November.
        assert_eq!(prague.due_week(at("2026-11-27T16:29:00Z")), None);
        assert!(prague.due_week(at("2026-11-27T16:30:00Z")).is_some());
        assert!("Mon 9am UTC".parse::<Schedule>().is_err());
        assert!(
            "Mon 09:00 Mars/Olympus"
                .parse::<Schedule>()
                .unwrap_err()
                .contains("time zone")
        );
        assert!("Someday 09:00".parse::<Schedule>().is_err());
    }
}
