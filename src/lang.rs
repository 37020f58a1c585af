//! Languages and countries: the two small vocabularies every other module shares.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A language the bot speaks. The order is the order of the language picker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ky,
    Ru,
    Uz,
    En,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::Ky, Lang::Ru, Lang::Uz, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ky => "ky",
            Lang::Ru => "ru",
            Lang::Uz => "uz",
            Lang::En => "en",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Maps a Telegram `language_code` (IETF tag such as "ru-RU") to the closest language.
    /// Kazakh and Tajik speakers from the region usually read Russian best.
    pub fn from_telegram(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "ky" => Some(Lang::Ky),
            "ru" | "kk" | "tg" | "be" | "uk" => Some(Lang::Ru),
            "uz" => Some(Lang::Uz),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ky" | "kg" | "kir" | "kyrgyz" => Ok(Lang::Ky),
            "ru" | "rus" | "russian" => Ok(Lang::Ru),
            "uz" | "uzb" | "uzbek" => Ok(Lang::Uz),
            "en" | "eng" | "english" => Ok(Lang::En),
            other => Err(format!("unknown language '{other}'; use ky, ru, uz or en")),
        }
    }
}

/// Where the user is. `Kg` and `Other` both get the general (`any`) answer variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Country {
    Ru,
    Kz,
    Kg,
    Other,
}

impl Country {
    pub const ALL: [Country; 4] = [Country::Ru, Country::Kz, Country::Kg, Country::Other];

    pub fn code(self) -> &'static str {
        match self {
            Country::Ru => "ru",
            Country::Kz => "kz",
            Country::Kg => "kg",
            Country::Other => "other",
        }
    }

    /// The answer variant that applies to someone in this country.
    pub fn variant(self) -> Variant {
        match self {
            Country::Ru => Variant::Ru,
            Country::Kz => Variant::Kz,
            Country::Kg | Country::Other => Variant::Any,
        }
    }
}

impl FromStr for Country {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ru" | "russia" => Ok(Country::Ru),
            "kz" | "kazakhstan" => Ok(Country::Kz),
            "kg" | "kyrgyzstan" => Ok(Country::Kg),
            "other" | "any" => Ok(Country::Other),
            other => Err(format!(
                "unknown country '{other}'; use ru, kz, kg or other"
            )),
        }
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A per-country answer variant of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    Ru,
    Kz,
    Any,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Ru, Variant::Kz, Variant::Any];

    pub fn code(self) -> &'static str {
        match self {
            Variant::Ru => "ru",
            Variant::Kz => "kz",
            Variant::Any => "any",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        match s {
            "ru" => Some(Variant::Ru),
            "kz" => Some(Variant::Kz),
            "any" => Some(Variant::Any),
            _ => None,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One value per language, indexed by [`Lang`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerLang<T>(pub [T; 4]);

impl<T> PerLang<T> {
    pub fn get(&self, lang: Lang) -> &T {
        &self.0[lang.index()]
    }
    pub fn iter(&self) -> impl Iterator<Item = (Lang, &T)> {
        Lang::ALL.into_iter().zip(self.0.iter())
    }
}
