//! The time the bot goes by for what depends on the date: today in a guided answer, and when a
//! reminder is due. The system's clock, or in tests one that is set and moved by hand (in
//! process) or read from a file (`JARDAM_CLOCK_FILE`, for bot processes started by a test),
//! so that a test moves time instead of waiting. Timeouts, leases and the send limits always
//! run on real time.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Clock(Source);

#[derive(Clone, Default)]
enum Source {
    #[default]
    System,
    Manual(Arc<Mutex<DateTime<Utc>>>),
    /// An RFC 3339 time in a file, read each time it is asked.
    File(PathBuf),
}

impl Clock {
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// A clock standing at `at` until it is moved ([`Clock::set`], [`Clock::advance`]); its
    /// clones move with it.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock(Source::Manual(Arc::new(Mutex::new(at))))
    }

    /// A clock that reads the time from `path` (written by a test); while the file is missing
    /// or does not hold a time, the system's time.
    pub fn from_file(path: PathBuf) -> Clock {
        Clock(Source::File(path))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            Source::System => Utc::now(),
            Source::Manual(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
            Source::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
                .map_or_else(Utc::now, |t| t.with_timezone(&Utc)),
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// Whether it is the system's clock (not one a test moves).
    pub fn is_system(&self) -> bool {
        matches!(self.0, Source::System)
    }

    /// Sets a manual clock; the others are not moved.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Source::Manual(t) = &self.0 {
            *t.lock().unwrap_or_else(|e| e.into_inner()) = at;
        }
    }

    /// Moves a manual clock on by `by`.
    pub fn advance(&self, by: TimeDelta) {
        let at = self.now() + by;
        self.set(at);
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::System => f.write_str("the system clock"),
            Source::Manual(_) => write!(f, "a manual clock at {}", self.now()),
            Source::File(p) => write!(f, "the clock in {}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_with_its_clones_and_a_file_clock_reads_its_file() {
        let start = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = Clock::manual(start);
        let other = c.clone();
        other.advance(TimeDelta::days(400));
        assert_eq!(c.today(), NaiveDate::from_ymd_opt(2028, 1, 6).unwrap());
        assert!(!c.is_system() && Clock::system().is_system());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        let f = Clock::from_file(path.clone());
        let real = Utc::now();
        assert!(
            (f.now() - real).num_seconds().abs() < 60,
            "no file: real time"
        );
        std::fs::write(&path, "2030-05-01T08:30:00+03:00\n").unwrap();
        assert_eq!(f.now().to_rfc3339(), "2030-05-01T05:30:00+00:00");
        std::fs::write(&path, "not a time").unwrap();
        assert!((f.now() - real).num_seconds().abs() < 60);
    }
}
