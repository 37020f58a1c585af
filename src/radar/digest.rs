//! When the weekly digest is due: `JARDAM_DIGEST`, a weekday and a UTC time (`mon 03:00`,
//! Monday 09:00 in Bishkek, by default), or `off`. Every instance checks; the one that first
//! claims the week's key in the database posts it.

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Utc, Weekday};
use std::str::FromStr;

/// How long after its time a digest is still posted (an instance that was down at 03:00 posts
/// it when it comes back in the morning; one that starts on Thursday does not).
const LATE_AT_MOST: TimeDelta = TimeDelta::hours(12);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest {
    pub weekday: Weekday,
    /// UTC.
    pub at: NaiveTime,
}

impl Default for Digest {
    fn default() -> Digest {
        Digest {
            weekday: Weekday::Mon,
            at: NaiveTime::from_hms_opt(3, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

/// `JARDAM_DIGEST` as read: `None` for `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestAt(pub Option<Digest>);

impl FromStr for DigestAt {
    type Err = String;
    fn from_str(s: &str) -> Result<DigestAt, String> {
        let s = s.trim().to_lowercase();
        if s == "off" {
            return Ok(DigestAt(None));
        }
        let bad = || format!("'{s}' is not 'off' or a weekday and a UTC time, like 'mon 03:00'");
        let (day, time) = s.split_once(char::is_whitespace).ok_or_else(bad)?;
        let weekday: Weekday = day.parse().map_err(|_| bad())?;
        let at = NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| bad())?;
        Ok(DigestAt(Some(Digest { weekday, at })))
    }
}

impl Digest {
    /// The key of the digest due at `now` (`digest:2026-W49`), or `None` when none is due.
    pub fn due(&self, now: DateTime<Utc>) -> Option<String> {
        let today = now.date_naive();
        let back =
            (7 + today.weekday().num_days_from_monday() - self.weekday.num_days_from_monday()) % 7;
        let day = today - TimeDelta::days(i64::from(back));
        let slot = day.and_time(self.at).and_utc();
        if now < slot || now - slot > LATE_AT_MOST {
            return None;
        }
        let week = day.iso_week();
        Some(format!("digest:{}-W{:02}", week.year(), week.week()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_digest_is_due_from_its_time_for_half_a_day() {
        let d = Digest::default();
        // 2026-12-07 is a Monday.
        assert_eq!(d.due(at("2026-12-07T02:59:00Z")), None);
        assert_eq!(
            d.due(at("2026-12-07T03:00:00Z")).as_deref(),
            Some("digest:2026-W50")
        );
        assert_eq!(
            d.due(at("2026-12-07T14:59:00Z")).as_deref(),
            Some("digest:2026-W50")
        );
        assert_eq!(d.due(at("2026-12-07T15:01:00Z")), None);
        assert_eq!(d.due(at("2026-12-10T03:00:00Z")), None, "a Thursday");
        let sunday = Digest {
            weekday: Weekday::Sun,
            at: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
        };
        assert_eq!(
            sunday.due(at("2026-12-07T01:00:00Z")).as_deref(),
            Some("digest:2026-W49"),
            "past midnight, still Sunday's"
        );
    }

    #[test]
    fn the_setting_is_read_or_refused() {
        assert_eq!("off".parse::<DigestAt>(), Ok(DigestAt(None)));
        let fri = "Fri 06:30".parse::<DigestAt>().unwrap().0.unwrap();
        assert_eq!(fri.weekday, Weekday::Fri);
        assert_eq!(fri.at, NaiveTime::from_hms_opt(6, 30, 0).unwrap());
        for bad in ["", "monday", "mon", "mon 25:00", "xyz 03:00", "mon 3"] {
            assert!(bad.parse::<DigestAt>().is_err(), "{bad}");
        }
    }
}
