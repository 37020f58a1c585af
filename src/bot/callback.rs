//! The callback data of people's buttons, as one enum, parsed once.
//!
//! On the wire it is `<version>:<action>[:args]` (at most 64 bytes, Telegram's limit); the
//! version is the knowledge base's content hash, so that a button of an older knowledge base
//! is recognised after a reload. Language, country and `/forget` buttons do not depend on the
//! content and are honoured whatever their version; the others point at topics and entries by
//! position, and an old one gets a fresh menu instead of the wrong entry.

use crate::lang::{Country, Lang, Variant};
use chrono::NaiveDate;
use std::fmt;

/// What a person's button does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callback {
    /// The interface language; in onboarding the country picker follows.
    Language {
        lang: Lang,
        onboarding: bool,
    },
    /// The country (`None`: skipped); in onboarding the welcome follows.
    Country {
        country: Option<Country>,
        onboarding: bool,
    },
    /// The answer to "delete everything about me?".
    Forget {
        confirmed: bool,
    },
    Menu,
    /// A topic, by position in the knowledge base.
    Topic(usize),
    /// An entry's answer, by position (the variant by the person's country).
    Entry(usize),
    /// An entry's answer in one variant.
    EntryVariant(usize, Variant),
    /// An entry's answer for the country just chosen (which is saved too).
    EntryForCountry(usize, Country),
    /// 👍 / 👎 under an answer.
    Feedback {
        entry: usize,
        helpful: bool,
    },
    /// "Related questions" of an entry.
    Related(usize),
    /// "Ask an expert" under an entry's answer.
    AskExpert(usize),
    /// "None of these — ask an expert": the last question goes to the experts.
    NoneOfThese,
    /// "Talk to a person now" under an urgent entry.
    Urgent(usize),
    /// Start (or start again) an entry's guided answer.
    FlowStart(usize),
    /// A button of a guided answer's step: entry, the step's and the choice's positions.
    FlowChoice {
        entry: usize,
        node: usize,
        choice: usize,
    },
    /// A date step's button: entry, the step's position and what was picked.
    FlowDate {
        entry: usize,
        node: usize,
        pick: DatePick,
    },
    /// "🔔 Remind me" under a guided answer's outcome: entry, the outcome's position and the
    /// date it worked out.
    Remind {
        entry: usize,
        node: usize,
        due: NaiveDate,
    },
    /// A reminder's cancel button in `/reminders`, by its stored number.
    CancelReminder(i64),
    /// "🔔 Tell me if this changes" under an entry's answer.
    Follow(usize),
    /// "🔕 Stop" under a change note or the confirmation of following.
    Unfollow(usize),
    /// "Did this help?" under an expert's answer to stored question `question`.
    RateAnswer {
        question: i64,
        helpful: bool,
    },
}

/// A date picked with buttons instead of typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatePick {
    Today,
    WeekAgo,
    /// A year: its months are offered next.
    Year(u16),
    /// A month of a year (1–12).
    Month(u16, u8),
}

/// What a button's data turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pressed {
    Now(Callback),
    /// A button of another version of the knowledge base, or data that is no button of ours
    /// (forged, or from a version of the bot that wrote it differently).
    Stale,
}

impl Callback {
    /// The data to put on a button of the knowledge base with this `version`.
    pub fn data(self, version: u16) -> String {
        format!("{version:x}:{self}")
    }

    /// Whether it is a guided answer's own button (the others leave a flow in progress).
    pub fn is_flow(self) -> bool {
        matches!(
            self,
            Callback::FlowStart(_) | Callback::FlowChoice { .. } | Callback::FlowDate { .. }
        )
    }

    /// Whether the button means the same in every version of the content.
    fn survives_reload(self) -> bool {
        matches!(
            self,
            Callback::Language { .. }
                | Callback::Country { .. }
                | Callback::Forget { .. }
                | Callback::CancelReminder(_)
                | Callback::RateAnswer { .. }
        )
    }

    /// Reads a button's data against the knowledge base's current `version`.
    pub fn parse(data: &str, version: u16) -> Pressed {
        let Some((v, rest)) = data.split_once(':') else {
            return Pressed::Stale;
        };
        match Callback::parse_action(rest) {
            Some(c) if c.survives_reload() || u16::from_str_radix(v, 16) == Ok(version) => {
                Pressed::Now(c)
            }
            _ => Pressed::Stale,
        }
    }

    fn parse_action(s: &str) -> Option<Callback> {
        let parts: Vec<&str> = s.split(':').collect();
        let index = |s: &str| -> Option<usize> {
            // Digits only: `+1` or ` 1` are not ours.
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse().ok())
                .flatten()
        };
        let onboarding = |rest: &[&str]| match rest {
            [] => Some(false),
            ["o"] => Some(true),
            _ => None,
        };
        let country = |s: &str| Country::ALL.into_iter().find(|c| c.code() == s);
        Some(match parts.as_slice() {
            ["L", code, rest @ ..] => Callback::Language {
                lang: Lang::ALL.into_iter().find(|l| l.code() == *code)?,
                onboarding: onboarding(rest)?,
            },
            ["C", code, rest @ ..] => Callback::Country {
                country: match *code {
                    "skip" => None,
                    c => Some(country(c)?),
                },
                onboarding: onboarding(rest)?,
            },
            ["D", "y"] => Callback::Forget { confirmed: true },
            ["D", "n"] => Callback::Forget { confirmed: false },
            ["M"] => Callback::Menu,
            ["T", i] => Callback::Topic(index(i)?),
            ["E", i] => Callback::Entry(index(i)?),
            ["E", i, v] => Callback::EntryVariant(
                index(i)?,
                Variant::ALL.into_iter().find(|x| x.code() == *v)?,
            ),
            ["W", i, c] => Callback::EntryForCountry(index(i)?, country(c)?),
            ["F", i, "1"] => Callback::Feedback {
                entry: index(i)?,
                helpful: true,
            },
            ["F", i, "0"] => Callback::Feedback {
                entry: index(i)?,
                helpful: false,
            },
            ["R", i] => Callback::Related(index(i)?),
            ["X", i] => Callback::AskExpert(index(i)?),
            ["N"] => Callback::NoneOfThese,
            ["U", i] => Callback::Urgent(index(i)?),
            ["G", i] => Callback::FlowStart(index(i)?),
            ["H", e, n, c] => Callback::FlowChoice {
                entry: index(e)?,
                node: index(n)?,
                choice: index(c)?,
            },
            ["J", e, n, p] => Callback::FlowDate {
                entry: index(e)?,
                node: index(n)?,
                pick: DatePick::parse(p)?,
            },
            ["K", e, n, d] => Callback::Remind {
                entry: index(e)?,
                node: index(n)?,
                due: (d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
                    .flatten()?,
            },
            ["O", i] => Callback::Follow(index(i)?),
            ["P", i] => Callback::Unfollow(index(i)?),
            ["Q", id] => Callback::CancelReminder(i64::try_from(index(id)?).ok()?),
            ["Y", id, h @ ("0" | "1")] => Callback::RateAnswer {
                question: i64::try_from(index(id)?).ok()?,
                helpful: *h == "1",
            },
            _ => return None,
        })
    }
}

impl DatePick {
    fn parse(s: &str) -> Option<DatePick> {
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty();
        Some(match s {
            "t" => DatePick::Today,
            "w" => DatePick::WeekAgo,
            _ => {
                if let Some(y) = s.strip_prefix('y') {
                    digits(y).then_some(())?;
                    DatePick::Year(y.parse().ok()?)
                } else {
                    let (y, m) = s.strip_prefix('m')?.split_once('-')?;
                    (digits(y) && digits(m)).then_some(())?;
                    let m: u8 = m.parse().ok()?;
                    (1..=12).contains(&m).then_some(())?;
                    DatePick::Month(y.parse().ok()?, m)
                }
            }
        })
    }
}

impl fmt::Display for DatePick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DatePick::Today => f.write_str("t"),
            DatePick::WeekAgo => f.write_str("w"),
            DatePick::Year(y) => write!(f, "y{y}"),
            DatePick::Month(y, m) => write!(f, "m{y}-{m}"),
        }
    }
}

/// The action part of the data (without the version).
impl fmt::Display for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = |onboarding: bool| if onboarding { ":o" } else { "" };
        match *self {
            Callback::Language { lang, onboarding } => {
                write!(f, "L:{}{}", lang.code(), o(onboarding))
            }
            Callback::Country {
                country,
                onboarding,
            } => write!(
                f,
                "C:{}{}",
                country.map_or("skip", Country::code),
                o(onboarding)
            ),
            Callback::Forget { confirmed } => {
                write!(f, "D:{}", if confirmed { "y" } else { "n" })
            }
            Callback::Menu => f.write_str("M"),
            Callback::Topic(i) => write!(f, "T:{i}"),
            Callback::Entry(i) => write!(f, "E:{i}"),
            Callback::EntryVariant(i, v) => write!(f, "E:{i}:{}", v.code()),
            Callback::EntryForCountry(i, c) => write!(f, "W:{i}:{}", c.code()),
            Callback::Feedback { entry, helpful } => {
                write!(f, "F:{entry}:{}", if helpful { 1 } else { 0 })
            }
            Callback::Related(i) => write!(f, "R:{i}"),
            Callback::AskExpert(i) => write!(f, "X:{i}"),
            Callback::NoneOfThese => f.write_str("N"),
            Callback::Urgent(i) => write!(f, "U:{i}"),
            Callback::FlowStart(i) => write!(f, "G:{i}"),
            Callback::FlowChoice {
                entry,
                node,
                choice,
            } => write!(f, "H:{entry}:{node}:{choice}"),
            Callback::FlowDate { entry, node, pick } => write!(f, "J:{entry}:{node}:{pick}"),
            Callback::Remind { entry, node, due } => {
                write!(f, "K:{entry}:{node}:{}", due.format("%Y%m%d"))
            }
            Callback::CancelReminder(id) => write!(f, "Q:{id}"),
            Callback::Follow(i) => write!(f, "O:{i}"),
            Callback::Unfollow(i) => write!(f, "P:{i}"),
            Callback::RateAnswer { question, helpful } => {
                write!(f, "Y:{question}:{}", u8::from(helpful))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Callback> {
        let mut v = vec![Callback::Menu, Callback::NoneOfThese];
        for lang in Lang::ALL {
            for onboarding in [false, true] {
                v.push(Callback::Language { lang, onboarding });
            }
        }
        for country in Country::ALL.map(Some).into_iter().chain([None]) {
            for onboarding in [false, true] {
                v.push(Callback::Country {
                    country,
                    onboarding,
                });
            }
        }
        for i in [0, 7, 999] {
            v.extend([
                Callback::Topic(i),
                Callback::Entry(i),
                Callback::Related(i),
                Callback::AskExpert(i),
                Callback::Urgent(i),
                Callback::FlowStart(i),
                Callback::FlowChoice {
                    entry: i,
                    node: i,
                    choice: i,
                },
                Callback::FlowDate {
                    entry: i,
                    node: i,
                    pick: DatePick::Today,
                },
                Callback::FlowDate {
                    entry: i,
                    node: i,
                    pick: DatePick::WeekAgo,
                },
                Callback::FlowDate {
                    entry: i,
                    node: i,
                    pick: DatePick::Year(2026),
                },
                Callback::FlowDate {
                    entry: i,
                    node: i,
                    pick: DatePick::Month(2024, 12),
                },
                Callback::Feedback {
                    entry: i,
                    helpful: true,
                },
                Callback::Feedback {
                    entry: i,
                    helpful: false,
                },
                Callback::Remind {
                    entry: i,
                    node: i,
                    due: NaiveDate::from_ymd_opt(2028, 2, 29).unwrap(),
                },
                Callback::CancelReminder(i64::try_from(i).unwrap()),
                Callback::Follow(i),
                Callback::Unfollow(i),
            ]);
            v.extend(Variant::ALL.map(|x| Callback::EntryVariant(i, x)));
            v.extend(Country::ALL.map(|c| Callback::EntryForCountry(i, c)));
        }
        v.extend([
            Callback::Forget { confirmed: true },
            Callback::Forget { confirmed: false },
            Callback::CancelReminder(i64::MAX),
            Callback::RateAnswer {
                question: i64::MAX,
                helpful: true,
            },
            Callback::RateAnswer {
                question: 1,
                helpful: false,
            },
        ]);
        v
    }

    #[test]
    fn every_button_reads_back_as_itself_and_fits_telegrams_limit() {
        let version = u16::MAX;
        for c in all() {
            let data = c.data(version);
            assert!(data.len() <= 64, "{data}");
            assert_eq!(Callback::parse(&data, version), Pressed::Now(c), "{data}");
        }
    }

    #[test]
    fn an_old_versions_buttons_are_stale_except_those_that_do_not_depend_on_content() {
        for c in all() {
            let expected = if c.survives_reload() {
                Pressed::Now(c)
            } else {
                Pressed::Stale
            };
            assert_eq!(Callback::parse(&c.data(1), 2), expected, "{c}");
        }
    }

    #[test]
    fn forged_data_is_stale() {
        for data in [
            "",
            ":",
            "abc",
            "1:",
            "1:E",
            "1:E:x",
            "1:E:+1",
            "1:E: 1",
            "1:E:1:zz",
            "1:H:1:2",
            "1:J:1:2:x",
            "1:J:1:2:y",
            "1:J:1:2:m2024-13",
            "1:J:1:2:m2024-0",
            "1:J:1:2:y+202",
            "1:H:1:2:3:4",
            "1:G",
            "1:F:1:2",
            "1:L:xx",
            "1:L:ru:x",
            "1:C:mars",
            "1:D:maybe",
            "1:Y:1:2",
            "1:Y:-1:1",
            "1:Y:1",
            "1:T:1:2",
            "zz:M",
            "1:E:-1",
            "1:E:99999999999999999999999",
            "1:K:1:2:20280230",
            "1:K:1:2:2028021",
            "1:K:1:2:+2028022",
            "1:K:1:2",
            "1:Q:-1",
            "1:Q:9223372036854775808",
        ] {
            assert_eq!(Callback::parse(data, 1), Pressed::Stale, "{data:?}");
        }
        assert_eq!(Callback::parse("1:M", 1), Pressed::Now(Callback::Menu));
    }
}
