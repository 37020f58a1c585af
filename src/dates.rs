//! Dates for the guided answers: reading a date the way people type it, and the exact calendar
//! arithmetic the answers need (deadlines after arrival, a ban's end, the last legal day under a
//! "90 days in a calendar year" or a "90 days in any 180" rule).
//!
//! Reading is strict where a wrong result would mislead: a text that is not clearly one date is
//! [`DateError::Unreadable`], never a guess, and a date after today where the past is asked is
//! [`DateError::Future`]. Understood forms, in any of the four languages and both scripts:
//! - numbers: `15.03.2023`, `15/03/2023`, `15-03-23`, `2023-03-15`; `03.2023` (a month);
//!   `15.03` (the last 15 March up to today); `2023` (a year);
//! - a month's name: `15 март 2023`, `15-марта 2023 г.`, `2023-жылдын 15-марты`, `15-mart`,
//!   `mart 2023` (a month), `March 15, 2023`, `15 mar`;
//! - `today`, `yesterday` (сегодня, бүгүн, bugun; вчера, кечээ, kecha).
//!
//! Days of stay count the way the migration services count them: the day of entry and the day
//! of exit are both days of stay. A period of N days after an event starts the next day, so
//! its last day is the event's date plus N days.

use chrono::{Datelike, Days, Months, NaiveDate};
use std::collections::BTreeSet;

/// How much of a date the text gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    Day,
    Month,
    Year,
}

/// A date as far as the text tells it: the first and last day it may be (the same day for
/// [`Precision::Day`]; a month or a year otherwise, never past today).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Approx {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub precision: Precision,
}

/// Why a text is not a date in the past.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("not a date that can be read")]
    Unreadable,
    #[error("a date after today")]
    Future,
}

/// Years before this are typing mistakes, not dates of a migrant's stay.
const EARLIEST_YEAR: i32 = 1950;

/// Month names by their beginnings, lower case, Cyrillic and Latin (Russian in every case,
/// Kyrgyz, Uzbek in both scripts, English, and transliterations).
const MONTHS: [&[&str]; 12] = [
    &["янв", "jan", "yanv", "ianv"],
    &["фев", "feb", "fev"],
    &["мар", "mar"],
    &["апр", "apr"],
    &["май", "мая", "мае", "may", "mai", "maya"],
    &["июн", "iyun", "jun", "iun", "ijun"],
    &["июл", "iyul", "jul", "iul", "ijul"],
    &["авг", "aug", "avg"],
    &["сен", "sep", "sen"],
    &["окт", "oct", "okt"],
    &["ноя", "nov", "noy", "noya"],
    &["дек", "dec", "dek"],
];

/// Words that may stand next to a date without changing it ("year", "of", "the", "in").
const FILLER: &[&str] = &[
    "г",
    "гг",
    "год",
    "года",
    "году",
    "жыл",
    "жылы",
    "жылдын",
    "жылдан",
    "жылга",
    "йил",
    "йили",
    "yil",
    "yili",
    "yilda",
    "yilning",
    "jyl",
    "jyly",
    "jyldyn",
    "year",
    "of",
    "the",
    "in",
    "on",
    "в",
    "от",
    "числа",
    "kuni",
    "куни",
    "st",
    "nd",
    "rd",
    "th",
];

const TODAY_WORDS: &[&str] = &["today", "сегодня", "бүгүн", "бугун", "bugun", "bugün"];
const YESTERDAY_WORDS: &[&str] = &[
    "yesterday",
    "вчера",
    "кечээ",
    "кече",
    "kechee",
    "kecha",
    "кеча",
];

enum Token {
    Number(u32, usize),
    Month(u32),
    Today,
    Yesterday,
}

fn month_of(word: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|stems| stems.iter().any(|s| word.starts_with(s)))
        .map(|i| i as u32 + 1)
}

/// Splits into numbers and words (a letter next to a digit starts a new token: "15mart").
fn tokens(text: &str) -> Result<Vec<Token>, DateError> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let mut chars = lower.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if !c.is_alphanumeric() {
            continue;
        }
        let digit = c.is_ascii_digit();
        let mut end = start + c.len_utf8();
        while let Some(&(i, n)) = chars.peek() {
            if n.is_alphanumeric() && n.is_ascii_digit() == digit {
                end = i + n.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let word = &lower[start..end];
        if digit {
            let value = word.parse().map_err(|_| DateError::Unreadable)?;
            out.push(Token::Number(value, word.len()));
        } else if TODAY_WORDS.contains(&word) {
            out.push(Token::Today);
        } else if YESTERDAY_WORDS.contains(&word) {
            out.push(Token::Yesterday);
        } else if let Some(m) = month_of(word) {
            out.push(Token::Month(m));
        } else if !FILLER.contains(&word) {
            return Err(DateError::Unreadable);
        }
    }
    Ok(out)
}

impl Approx {
    /// One day, known exactly.
    pub fn day(d: NaiveDate) -> Approx {
        Approx {
            first: d,
            last: d,
            precision: Precision::Day,
        }
    }

    /// A whole month (`None` for a month that is not one).
    pub fn month(year: i32, month: u32) -> Option<Approx> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        Some(Approx {
            first,
            last: first.checked_add_months(Months::new(1))?.pred_opt()?,
            precision: Precision::Month,
        })
    }

    /// As a date in the past: [`DateError::Future`] when it begins after `today`, otherwise
    /// ending on `today` at the latest.
    pub fn up_to(self, today: NaiveDate) -> Result<Approx, DateError> {
        if self.first > today {
            return Err(DateError::Future);
        }
        Ok(Approx {
            last: self.last.min(today),
            ..self
        })
    }
}

/// A two-digit year is this century's, or the last one's when that would be in the future.
fn full_year(value: u32, digits: usize, today: NaiveDate) -> Option<i32> {
    let year = match digits {
        2 => {
            let this = 2000 + value as i32;
            if this > today.year() {
                this - 100
            } else {
                this
            }
        }
        4 => value as i32,
        _ => return None,
    };
    (year >= EARLIEST_YEAR).then_some(year)
}

/// The last `day`.`month` up to today.
fn last_occurrence(day: u32, month: u32, today: NaiveDate) -> Option<NaiveDate> {
    (0..8)
        .filter_map(|back| NaiveDate::from_ymd_opt(today.year() - back, month, day))
        .find(|d| *d <= today)
}

/// Reads a date in the past (or today) from what a person typed.
pub fn parse_past(text: &str, today: NaiveDate) -> Result<Approx, DateError> {
    use Token::*;
    let bad = DateError::Unreadable;
    let day = Approx::day;
    let ymd = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).ok_or(bad);
    let year = |v: u32, digits: usize| full_year(v, digits, today).ok_or(bad);
    let found = match tokens(text)?.as_slice() {
        [Today] => day(today),
        [Yesterday] => day(today.pred_opt().ok_or(bad)?),
        // 2023-03-15
        [Number(y, 4), Number(m, _), Number(d, _)] => day(ymd(*y as i32, *m, *d)?),
        // 15.03.2023, 15/03/23
        [Number(d, 1..=2), Number(m, 1..=2), Number(y, n)] => day(ymd(year(*y, *n)?, *m, *d)?),
        // 15 март 2023, March 15 2023, 2023 15 март (the Kyrgyz "2023-жылдын 15-марты")
        [Number(d, 1..=2), Month(m), Number(y, n)]
        | [Month(m), Number(d, 1..=2), Number(y, n)]
        | [Number(y, n @ 4), Number(d, 1..=2), Month(m)] => day(ymd(year(*y, *n)?, *m, *d)?),
        // 15 март, 15.03: the last one up to today
        [Number(d, 1..=2), Month(m)]
        | [Month(m), Number(d, 1..=2)]
        | [Number(d, 1..=2), Number(m, 1..=2)] => {
            if NaiveDate::from_ymd_opt(2024, *m, *d).is_none() {
                return Err(bad);
            }
            day(last_occurrence(*d, *m, today).ok_or(bad)?)
        }
        // март 2023, 03.2023, 2023 март
        [Month(m), Number(y, n @ 4)]
        | [Number(y, n @ 4), Month(m)]
        | [Number(m, 1..=2), Number(y, n @ 4)] => Approx::month(year(*y, *n)?, *m).ok_or(bad)?,
        [Number(y, n @ 4)] => {
            let y = year(*y, *n)?;
            Approx {
                first: ymd(y, 1, 1)?,
                last: ymd(y, 12, 31)?,
                precision: Precision::Year,
            }
        }
        _ => return Err(bad),
    };
    found.up_to(today)
}

/// The last day of a period of `n` days that starts the day after `event`.
pub fn days_after(event: NaiveDate, n: u32) -> Option<NaiveDate> {
    event.checked_add_days(Days::new(n.into()))
}

/// The same day `n` years later (29 February becomes 28 February in a common year).
pub fn years_after(date: NaiveDate, n: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(n.checked_mul(12)?))
}

/// A stay in a country: the day of entry and the day of exit both count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stay {
    pub entry: NaiveDate,
    pub exit: NaiveDate,
}

/// Every day of the stays, once (overlapping stays count their days once).
fn stayed_days(stays: &[Stay]) -> BTreeSet<NaiveDate> {
    stays
        .iter()
        .flat_map(|s| s.entry.iter_days().take_while(move |d| *d <= s.exit))
        .collect()
}

/// The last legal day of a stay from `entry`, after the `earlier` stays, when at most `limit`
/// days are allowed in each calendar year; `None` when the day of entry is already beyond it.
/// A stay into a new year starts that year's count on 1 January.
pub fn last_day_per_calendar_year(
    entry: NaiveDate,
    earlier: &[Stay],
    limit: u32,
) -> Option<NaiveDate> {
    let days = stayed_days(earlier);
    let used = |year: i32| {
        days.iter()
            .filter(|d| d.year() == year && **d < entry)
            .count()
    };
    let mut last = None;
    let mut count = used(entry.year());
    let mut year = entry.year();
    for d in entry.iter_days().take(3 * 366) {
        if d.year() != year {
            year = d.year();
            count = used(year);
        }
        count += 1;
        if count > limit as usize {
            break;
        }
        last = Some(d);
    }
    last
}

/// The last legal day of a stay from `entry`, after the `earlier` stays, when at most `limit`
/// days are allowed in any `window` consecutive days; `None` when the day of entry is already
/// beyond it.
pub fn last_day_rolling(
    entry: NaiveDate,
    earlier: &[Stay],
    limit: u32,
    window: u32,
) -> Option<NaiveDate> {
    let mut days = stayed_days(earlier);
    days.retain(|d| *d < entry);
    let mut last = None;
    for d in entry.iter_days().take(window as usize + limit as usize + 1) {
        days.insert(d);
        let from = d.checked_sub_days(Days::new(u64::from(window.saturating_sub(1))))?;
        if days.range(from..=d).count() > limit as usize {
            break;
        }
        last = Some(d);
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const TODAY: NaiveDate = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();

    fn day_of(text: &str) -> NaiveDate {
        let a = parse_past(text, TODAY).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(a.precision, Precision::Day, "{text}");
        assert_eq!(a.first, a.last, "{text}");
        a.first
    }

    #[test]
    fn numeric_forms() {
        for text in [
            "15.03.2023",
            "15/03/2023",
            "15-03-2023",
            "2023-03-15",
            "15.03.23",
            " 15.3.2023 ",
        ] {
            assert_eq!(day_of(text), d(2023, 3, 15), "{text}");
        }
        // Without a year: the last such day up to today.
        assert_eq!(day_of("15.03"), d(2026, 3, 15));
        assert_eq!(day_of("25.12"), d(2025, 12, 25));
        assert_eq!(day_of("2.12"), TODAY);
        // 29 February without a year: the last leap year's.
        assert_eq!(day_of("29.02"), d(2024, 2, 29));
    }

    #[test]
    fn month_names_in_four_languages() {
        for text in [
            "15 март 2023",
            "15 марта 2023 г.",
            "15-марта 2023 года",
            "2023-жылдын 15-марты",
            "15-mart 2023",
            "15 mart 2023 yil",
            "15 март 2023 йил",
            "March 15, 2023",
            "15th of March 2023",
            "15 mar 2023",
            "15mart2023",
        ] {
            assert_eq!(day_of(text), d(2023, 3, 15), "{text}");
        }
        assert_eq!(day_of("15-mart"), d(2026, 3, 15));
        assert_eq!(day_of("1 январь"), d(2026, 1, 1));
        assert_eq!(day_of("3 iyul 2024"), d(2024, 7, 3));
        assert_eq!(day_of("3 июля 2024"), d(2024, 7, 3));
        assert_eq!(day_of("9 may 2025"), d(2025, 5, 9));
        assert_eq!(day_of("9 мая 2025"), d(2025, 5, 9));
        assert_eq!(day_of("1 sentabr 2025"), d(2025, 9, 1));
        assert_eq!(day_of("1 сентябрь 2025"), d(2025, 9, 1));
        assert_eq!(day_of("20 noyabr 2025"), d(2025, 11, 20));
        assert_eq!(day_of("today"), TODAY);
        assert_eq!(day_of("бүгүн"), TODAY);
        assert_eq!(day_of("вчера"), d(2026, 12, 1));
        assert_eq!(day_of("kecha"), d(2026, 12, 1));
    }

    #[test]
    fn months_and_years() {
        for text in [
            "март 2023",
            "mart 2023",
            "March 2023",
            "03.2023",
            "2023 март",
        ] {
            let a = parse_past(text, TODAY).unwrap();
            assert_eq!(
                (a.first, a.last, a.precision),
                (d(2023, 3, 1), d(2023, 3, 31), Precision::Month),
                "{text}"
            );
        }
        let feb = parse_past("февраль 2024", TODAY).unwrap();
        assert_eq!(feb.last, d(2024, 2, 29));
        let feb = parse_past("fevral 2023", TODAY).unwrap();
        assert_eq!(feb.last, d(2023, 2, 28));
        // This month and this year end today.
        assert_eq!(parse_past("декабрь 2026", TODAY).unwrap().last, TODAY);
        let y = parse_past("2026", TODAY).unwrap();
        assert_eq!(
            (y.first, y.last, y.precision),
            (d(2026, 1, 1), TODAY, Precision::Year)
        );
        let y = parse_past("2023 жыл", TODAY).unwrap();
        assert_eq!((y.first, y.last), (d(2023, 1, 1), d(2023, 12, 31)));
    }

    #[test]
    fn bad_and_future_dates() {
        for text in [
            "",
            "   ",
            "?",
            "31.02.2023",
            "32.01.2023",
            "15.13.2023",
            "0.01.2023",
            "15 марта 1812",
            "tomorrow",
            "3 года назад",
            "давно",
            "15",
            "15 16 17 18",
            "99999999999999999999",
            "15.03.2023 и 16.03.2023",
            "123.03.2023",
            "март",
            "😀",
        ] {
            assert_eq!(
                parse_past(text, TODAY),
                Err(DateError::Unreadable),
                "{text:?}"
            );
        }
        for text in [
            "3.12.2026",
            "01.01.2027",
            "январь 2027",
            "2030",
            "15 марта 2031",
        ] {
            assert_eq!(parse_past(text, TODAY), Err(DateError::Future), "{text}");
        }
    }

    #[test]
    fn periods_after_an_event() {
        // Arrival on 1 March: 30 days run from 2 March to 31 March.
        assert_eq!(days_after(d(2025, 3, 1), 30), Some(d(2025, 3, 31)));
        assert_eq!(days_after(d(2024, 2, 1), 30), Some(d(2024, 3, 2)));
        assert_eq!(days_after(d(2025, 2, 1), 30), Some(d(2025, 3, 3)));
        assert_eq!(days_after(d(2025, 12, 20), 15), Some(d(2026, 1, 4)));
        assert_eq!(years_after(d(2023, 3, 15), 5), Some(d(2028, 3, 15)));
        assert_eq!(years_after(d(2024, 2, 29), 3), Some(d(2027, 2, 28)));
        assert_eq!(years_after(d(2024, 2, 29), 4), Some(d(2028, 2, 29)));
    }

    #[test]
    fn ninety_days_in_a_calendar_year() {
        // No earlier stay: entry on 1 March, day 90 is 29 May (31 + 30 + 29).
        assert_eq!(
            last_day_per_calendar_year(d(2025, 3, 1), &[], 90),
            Some(d(2025, 5, 29))
        );
        // 30 days used in January (1–30): 60 left from 1 June, so up to 30 July.
        let jan = [Stay {
            entry: d(2025, 1, 1),
            exit: d(2025, 1, 30),
        }];
        assert_eq!(
            last_day_per_calendar_year(d(2025, 6, 1), &jan, 90),
            Some(d(2025, 7, 30))
        );
        // Days of last year do not count.
        let last_year = [Stay {
            entry: d(2024, 10, 1),
            exit: d(2024, 12, 31),
        }];
        assert_eq!(
            last_day_per_calendar_year(d(2025, 3, 1), &last_year, 90),
            Some(d(2025, 5, 29))
        );
        // Entry on 15 December: 17 days this year, then a fresh 90 from 1 January (to 31 March).
        assert_eq!(
            last_day_per_calendar_year(d(2025, 12, 15), &[], 90),
            Some(d(2026, 3, 31))
        );
        // All 90 used: no legal day left this year.
        let used = [Stay {
            entry: d(2025, 1, 1),
            exit: d(2025, 3, 31),
        }];
        assert_eq!(last_day_per_calendar_year(d(2025, 6, 1), &used, 90), None);
    }

    #[test]
    fn ninety_days_in_any_hundred_and_eighty() {
        // No earlier stay: day 90 from 1 March 2025 is 29 May.
        assert_eq!(
            last_day_rolling(d(2025, 3, 1), &[], 90, 180),
            Some(d(2025, 5, 29))
        );
        // In a leap year: from 1 February 2024, day 90 is 30 April (29 + 31 + 30).
        assert_eq!(
            last_day_rolling(d(2024, 2, 1), &[], 90, 180),
            Some(d(2024, 4, 30))
        );
        // 60 days (1 Jan – 1 Mar 2025) used, back on 1 April: 30 more days would end
        // 30 April, but by then January's first days have left the window. The window of
        // 180 days ending on day D starts D − 179; January 1 leaves it on 30 June.
        let earlier = [Stay {
            entry: d(2025, 1, 1),
            exit: d(2025, 3, 1),
        }];
        assert_eq!(
            last_day_rolling(d(2025, 4, 1), &earlier, 90, 180),
            Some(d(2025, 4, 30))
        );
        // A stay long ago does not count.
        let old = [Stay {
            entry: d(2024, 1, 1),
            exit: d(2024, 3, 30),
        }];
        assert_eq!(
            last_day_rolling(d(2025, 3, 1), &old, 90, 180),
            Some(d(2025, 5, 29))
        );
        // 90 days used, left on 30 March 2025 and back on 1 April: the window still holds them.
        let full = [Stay {
            entry: d(2024, 12, 31),
            exit: d(2025, 3, 30),
        }];
        assert_eq!(last_day_rolling(d(2025, 4, 1), &full, 90, 180), None);
        // Back on 1 July 2025: 31 Dec – 2 Jan have left the window (1 July − 179 days = 3 January),
        // so day by day one old day leaves as one new day comes.
        let back = last_day_rolling(d(2025, 7, 1), &full, 90, 180).unwrap();
        let window_days = |end: NaiveDate| {
            let mut days = stayed_days(&full);
            days.extend(d(2025, 7, 1).iter_days().take_while(|x| *x <= end));
            let from = end - Days::new(179);
            days.range(from..=end).count()
        };
        assert!(window_days(back) <= 90);
        assert!(window_days(back + Days::new(1)) > 90);
        // Overlapping earlier stays count their days once.
        let twice = [
            Stay {
                entry: d(2025, 1, 1),
                exit: d(2025, 1, 30),
            },
            Stay {
                entry: d(2025, 1, 11),
                exit: d(2025, 1, 30),
            },
        ];
        assert_eq!(
            last_day_rolling(d(2025, 2, 1), &twice, 90, 180),
            last_day_rolling(d(2025, 2, 1), &twice[..1], 90, 180)
        );
    }
}
