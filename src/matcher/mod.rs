//! The matcher: free text → one FAQ entry, a few candidates to choose from, or "no answer".
//!
//! How it works:
//! 1. **Features** ([`features`]): every text is reduced to a script-free skeleton; its
//!    features are character n-grams, word prefixes, words, word pairs and the curators'
//!    concepts (`dialogues/synonyms.toml`).
//! 2. **Model** ([`model`]): a multinomial logistic regression trained when the knowledge base
//!    loads, on every phrasing, keyword and title of every entry and on phrasings experts
//!    taught, against the known gaps (`gaps.toml`) and the background set of everyday messages
//!    (`background.toml`), which together are "not ours". Its probabilities are calibrated on
//!    phrasings held out of a first training.
//! 3. **Long messages** ([`segment`]): a message is cut into sentences; each sentence is read
//!    on its own as well as the whole message, greetings and thanks are set aside, and question
//!    sentences weigh more. When two sentences ask two different FAQ questions, the clearer one
//!    is answered and the other offered.
//! 4. **Decision**: answer when the best entry's probability is high enough, clearly ahead of
//!    the runner-up and of "not ours"; offer 2–3 candidates when some are plausible; otherwise
//!    the question is unmet and goes to experts.
//! 5. **Danger signals** (`dialogues/danger.toml`): a message that describes a passport taken,
//!    being locked in, beaten or threatened gets the safety entry and is marked urgent, however
//!    sure the model is.

mod decide;
mod features;
mod model;
mod segment;
mod train;

pub use model::TrainOptions;

use crate::kb::KnowledgeBase;
use crate::lang::{Country, Lang, Variant};
use crate::text::{normalize, skeleton};
use features::{Lexicon, PreHashed, hash_str};
use model::{Input, Model};
use serde::Serialize;
use std::collections::HashMap;

/// Decision thresholds, on calibrated probabilities. Tuned on the development part of the
/// evaluation set (`tests/eval/dev.tsv`); see `jardam eval`.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    /// The best entry's probability must reach this to be answered directly …
    pub answer: f32,
    /// … be ahead of the runner-up by this much …
    pub margin: f32,
    /// … and ahead of "not ours" (gaps and background together) by this factor.
    pub out_factor: f32,
    /// Below this nothing is plausible: the question is unmet.
    pub clarify: f32,
    /// No "Did you mean…?" when "not ours" is this likely.
    pub clarify_out: f32,
    /// A second question in another sentence is offered when that sentence gives it this much.
    pub also: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            answer: 0.35,
            margin: 0.2,
            out_factor: 1.0,
            clarify: 0.25,
            clarify_out: 0.5,
            also: 0.6,
        }
    }
}

/// How a message's sentences are weighed when choosing the one the answer rests on and a
/// second question. (The answer itself comes from the whole message without its greetings and
/// thanks: mixing in each sentence's own reading scored worse on the development part.)
#[derive(Clone, Copy, Debug)]
pub struct Weighing {
    /// A question sentence weighs this much more.
    pub question: f32,
    /// The power of (1 − chatter probability) in a sentence's weight.
    pub chatter: f32,
}

impl Default for Weighing {
    fn default() -> Self {
        Weighing {
            question: 2.0,
            chatter: 2.0,
        }
    }
}

/// Everything tunable about the matcher.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub train: TrainOptions,
    pub thresholds: Thresholds,
    pub weighing: Weighing,
    /// Fit the temperature on held-out phrasings (a second training).
    pub calibrate: bool,
    /// Also train on entry phrasings with a greeting or thanks around them.
    pub augment: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            train: TrainOptions::default(),
            thresholds: Thresholds::default(),
            weighing: Weighing::default(),
            calibrate: true,
            augment: true,
        }
    }
}

impl Params {
    /// Sets one parameter by name (`answer=0.5`, `epochs=20`…), for tuning with `jardam eval`.
    pub fn set(&mut self, assignment: &str) -> Result<(), String> {
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| format!("'{assignment}': expected NAME=VALUE"))?;
        let v: f32 = value
            .trim()
            .parse()
            .map_err(|_| format!("'{assignment}': {value} is not a number"))?;
        let t = &mut self.thresholds;
        let w = &mut self.weighing;
        let o = &mut self.train;
        match name.trim() {
            "answer" => t.answer = v,
            "margin" => t.margin = v,
            "out_factor" => t.out_factor = v,
            "clarify" => t.clarify = v,
            "clarify_out" => t.clarify_out = v,
            "also" => t.also = v,
            "question" => w.question = v,
            "chatter" => w.chatter = v,
            "epochs" => o.epochs = v as usize,
            "learning_rate" => o.learning_rate = v,
            "l2" => o.l2 = v,
            "unseen" => o.unseen = v,
            "max_support" => o.max_support = v as usize,
            "confusion" => o.confusion = v,
            "learned" => o.learned = v,
            "revisit" => o.revisit = v as usize,
            "settled" => o.settled = v,
            "w_ngram" => o.kind_weight[0] = v,
            "w_prefix" => o.kind_weight[1] = v,
            "w_word" => o.kind_weight[2] = v,
            "w_pair" => o.kind_weight[3] = v,
            "w_concept" => o.kind_weight[4] = v,
            "calibrate" => self.calibrate = v != 0.0,
            "augment" => self.augment = v != 0.0,
            other => return Err(format!("unknown parameter '{other}'")),
        }
        Ok(())
    }
}

/// What the matcher decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Answered,
    Clarify,
    Unmet,
}

/// A scored entry.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub entry: String,
    /// The calibrated probability that this entry answers the question.
    pub score: f32,
    /// The phrasing of the entry closest to the question.
    pub phrasing: String,
}

/// The matcher's answer for one question.
#[derive(Clone, Debug, Serialize)]
pub struct MatchResult {
    pub status: Status,
    /// The entry, when answered.
    pub entry: Option<String>,
    /// The country variant, when the entry has variants and the country is known.
    pub variant: Option<Variant>,
    /// The best candidates, best first (up to 3; for experts and "Did you mean…?").
    pub candidates: Vec<Candidate>,
    /// The detected language of the question (the hint when detection is not sure).
    pub lang: Lang,
    /// A country named in the question.
    pub country: Option<Country>,
    /// The probability that the best entry answers the question (0 when nothing matched).
    pub confidence: f32,
    /// In a message of several sentences, the sentence the answer rests on.
    pub sentence: Option<String>,
    /// A second FAQ question asked in another sentence, to offer as a button.
    pub also: Option<Candidate>,
    /// A danger signal: the message goes to experts as urgent.
    pub urgent: bool,
    /// When unmet as one of the known gaps (`gaps.toml`) the model is sure of, its class id
    /// (`gap:…`): experts get such questions as one group, in whatever language.
    pub gap: Option<String>,
}

/// Prefix of the ids of known gaps in the model's classes.
pub const GAP: &str = "gap:";
/// Prefix of the ids of background groups in the model's classes.
pub const BACKGROUND: &str = "background:";

/// What a class of the model stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClassKind {
    Entry,
    /// A known gap, or a background group that is not chatter.
    NotOurs,
    /// Greetings, thanks and the like: not ours, and set aside inside a longer message.
    Chatter,
}

/// A danger signal, compiled: concept indexes that must all occur, and the entry.
struct DangerRule {
    all: Vec<u16>,
    entry: usize,
}

/// The matcher over one knowledge base (plus phrasings learned from experts).
pub struct Matcher {
    ids: Vec<String>,
    kind: Vec<ClassKind>,
    has_variants: Vec<bool>,
    /// How many classes are [`ClassKind::Chatter`].
    chatter_classes: usize,
    lexicon: Lexicon,
    dangers: Vec<DangerRule>,
    model: Model,
    /// Each class's texts: (text, its input), for the closest phrasing of a candidate.
    docs: Vec<Vec<(u32, Input)>>,
    doc_text: Vec<String>,
    /// Skeleton word → where the phrasings use it.
    words: HashMap<u64, WordUse, PreHashed>,
    params: Params,
}

/// The texts a matcher learns from, and what they stand for.
pub struct Corpus<'a> {
    pub ids: Vec<String>,
    kind: Vec<ClassKind>,
    pub has_variants: Vec<bool>,
    /// (class, language, text)
    pub texts: Vec<(u32, Option<Lang>, &'a str)>,
    /// Concepts: forms of each.
    pub concepts: Vec<&'a [String]>,
    concept_ids: Vec<&'a str>,
    dangers: Vec<(&'a str, Vec<&'a str>)>,
}

/// A message's words with their concept tags, ready for featurising any range of them.
struct Tagged {
    words: Vec<String>,
    tags: Vec<Option<u16>>,
}

impl Tagged {
    fn new(lexicon: &Lexicon, words: Vec<String>) -> Tagged {
        let tags = lexicon.tag(&words.iter().map(String::as_str).collect::<Vec<_>>());
        Tagged { words, tags }
    }

    fn features(&self, range: std::ops::Range<usize>, out: &mut Vec<u64>) {
        let words: Vec<&str> = self.words[range.clone()]
            .iter()
            .map(String::as_str)
            .collect();
        features::extract(&words, &self.tags[range], out);
    }
}

impl Matcher {
    pub fn new(kb: &KnowledgeBase) -> Matcher {
        Self::with_learned(kb, &[])
    }

    /// Trains on the knowledge base and on `(entry id, question)` phrasings learned from
    /// experts. Learned phrasings for unknown ids are skipped.
    pub fn with_learned(kb: &KnowledgeBase, learned: &[(String, String)]) -> Matcher {
        Self::with_params(kb, learned, Params::default())
    }

    /// As [`Matcher::with_learned`], with explicit parameters (for tuning).
    pub fn with_params(
        kb: &KnowledgeBase,
        learned: &[(String, String)],
        params: Params,
    ) -> Matcher {
        Self::train(&Corpus::of(kb, learned), params)
    }

    /// Trains on raw texts of entries only: `(entry index, language, text)`.
    pub fn build(
        entry_ids: Vec<String>,
        has_variants: Vec<bool>,
        texts: &[(u32, Option<Lang>, &str)],
    ) -> Matcher {
        Self::train(
            &Corpus::entries(entry_ids, has_variants, texts.to_vec()),
            Params::default(),
        )
    }

    /// Whether `word` (in any script or spelling) is common in the phrasings the matcher was
    /// trained on: used by those of two classes or more, as a city or a country is, and
    /// unlike a name that one story mentions.
    pub fn knows_word(&self, word: &str) -> bool {
        let sk = skeleton(&normalize(word));
        !sk.is_empty()
            && sk
                .split(' ')
                .all(|w| self.words.get(&hash_str(w)).is_some_and(|u| u.classes >= 2))
    }

    /// Number of classes (entries, gaps and background groups).
    pub fn class_count(&self) -> usize {
        self.ids.len()
    }

    /// Number of weights the model holds.
    pub fn weight_count(&self) -> usize {
        self.model.weight_count()
    }

    /// Whether class `c` is an FAQ entry.
    fn is_entry(&self, c: usize) -> bool {
        self.kind[c] == ClassKind::Entry
    }

    /// The language of the text, when its letters or words tell it.
    pub fn detect_lang(&self, text: &str) -> Option<Lang> {
        let norm = normalize(text);
        self.detect_lang_normalized(&norm, &skeleton(&norm))
    }

    fn detect_lang_normalized(&self, norm: &str, sk: &str) -> Option<Lang> {
        // Letters only one of our languages uses.
        let mut letters = [0u32; 4];
        for c in norm.chars() {
            match c {
                'ө' | 'ү' | 'ң' => letters[Lang::Ky.index()] += 3,
                'ў' | 'қ' | 'ғ' | 'ҳ' => letters[Lang::Uz.index()] += 3,
                'ы' | 'щ' | 'э' | 'ъ' => letters[Lang::Ru.index()] += 1,
                _ => {}
            }
        }
        // Words seen in one language's phrasings.
        let mut words = [0f32; 4];
        for w in sk.split(' ').filter(|w| w.len() > 1) {
            if let Some(mask) = self.words.get(&hash_str(w)).map(|u| u.langs) {
                let n = mask.count_ones() as f32;
                for l in Lang::ALL {
                    if mask & (1 << l.index()) != 0 {
                        words[l.index()] += 1.0 / n;
                    }
                }
            }
        }
        let latin = norm.chars().filter(|c| c.is_ascii_alphabetic()).count();
        let cyrillic = norm
            .chars()
            .filter(|c| ('\u{400}'..='\u{4ff}').contains(c))
            .count();
        let mut best = None;
        let mut best_score = 0.0;
        for l in Lang::ALL {
            let mut s = words[l.index()] + letters[l.index()] as f32;
            // English is only ever typed in Latin letters.
            if l == Lang::En && cyrillic > latin {
                s = 0.0;
            }
            if s > best_score {
                best_score = s;
                best = Some(l);
            }
        }
        best
    }
}

/// How the phrasings use one skeleton word.
struct WordUse {
    /// The languages whose phrasings use it (a bit per language; words of two letters or more).
    langs: u8,
    /// The last class seen using it, and how many classes use it.
    last_class: u32,
    classes: u16,
}

/// A country named in the text: Russia or Kazakhstan, by country or city name in any script.
pub fn detect_country(text: &str) -> Option<Country> {
    country_in_skeleton(&skeleton(&normalize(text)))
}

fn country_in_skeleton(sk: &str) -> Option<Country> {
    const RU: &[&str] = &[
        "rosi",
        "rasi",
        "orus",
        "rf",
        "rusia",
        "moskv",
        "moskov",
        "moscow",
        "mosko",
        "maskv",
        "piter",
        "peterburg",
        "sankt",
        "spb",
        "ekaterinburg",
        "yekaterinburg",
        "ekb",
        "novosibirsk",
        "kazan",
        "krasnoyarsk",
        "samar",
        "irkutsk",
        "surgut",
        "tyumen",
        "chelyabinsk",
        "omsk",
        "tomsk",
        "yakutsk",
        "podmoskov",
        "sochi",
    ];
    const KZ: &[&str] = &[
        "kazakst", "kazahst", "kazak", "kazah", "kozogist", "kozok", "almat", "astan", "shimkent",
        "chimkent", "karagand", "aktob", "aktau", "atirau", "taraz", "pavlodar", "kz",
    ];
    // Names of two words, looked for in the whole text.
    const KZ_PHRASES: &[&str] = &["alma ata", "nur sultan", "ust kamenogorsk"];
    let mut ru = false;
    let mut kz = false;
    for w in sk.split(' ') {
        // Short names must be the whole word ("rf", "kz"); longer ones are stems, so that
        // endings ("Москвада", "Rossiyada") still match.
        let is = |list: &[&str]| {
            list.iter().any(|p| {
                if p.len() <= 3 {
                    w == *p
                } else {
                    w.starts_with(p)
                }
            })
        };
        ru |= is(RU);
        kz |= is(KZ);
    }
    kz |= KZ_PHRASES.iter().any(|p| sk.contains(p));
    match (ru, kz) {
        (true, false) => Some(Country::Ru),
        (false, true) => Some(Country::Kz),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_in_any_script() {
        assert_eq!(detect_country("Москвада каттоо"), Some(Country::Ru));
        assert_eq!(detect_country("registraciya v Rossii"), Some(Country::Ru));
        assert_eq!(detect_country("Алматыда иштейм"), Some(Country::Kz));
        assert_eq!(detect_country("Qozogʻistonda"), Some(Country::Kz));
        assert_eq!(detect_country("Казакстанда"), Some(Country::Kz));
        assert_eq!(detect_country("I work in Russia"), Some(Country::Ru));
        assert_eq!(detect_country("на русском языке"), None);
        assert_eq!(detect_country("Москва и Алматы"), None);
        assert_eq!(detect_country(""), None);
    }

    fn small() -> Matcher {
        let ids: Vec<String> = ["a.reg", "b.patent", "c.pension"]
            .map(String::from)
            .to_vec();
        let texts = vec![
            (0, None, "kattoo kantip jasalat"),
            (0, None, "registraciya kerekpi"),
            (0, None, "propiska kaida jasatam"),
            (1, None, "patent kantip alam"),
            (1, None, "patent kerekpi"),
            (1, None, "ishke ruhsat patent"),
            (2, None, "pensiya kachan"),
            (2, None, "pensiyaga chigam"),
            (2, None, "pensiya staj"),
        ];
        let params = Params {
            calibrate: false,
            ..Params::default()
        };
        Matcher::train(&Corpus::entries(ids, vec![false; 3], texts), params)
    }

    #[test]
    fn probabilities_rank_the_right_entry_first() {
        let m = small();
        for (q, want) in [
            ("kattoo kantip", "a.reg"),
            ("patent kerek", "b.patent"),
            ("pensiya", "c.pension"),
        ] {
            let r = m.ask(q, None, None);
            assert_eq!(r.candidates[0].entry, want, "{q}: {r:?}");
            let sum: f32 = r.candidates.iter().map(|c| c.score).sum();
            assert!(sum <= 1.001, "{q}: {sum}");
            assert!(r.candidates.windows(2).all(|w| w[0].score >= w[1].score));
        }
    }

    #[test]
    fn nothing_to_read_is_unmet() {
        let m = small();
        for q in ["", "😀😀", "12345", "?!", "  "] {
            let r = m.ask(q, None, None);
            assert_eq!(r.status, Status::Unmet, "{q:?}");
            assert_eq!(r.confidence, 0.0);
        }
    }

    #[test]
    fn the_same_texts_train_the_same_model() {
        let (a, b) = (small(), small());
        for q in ["kattoo patent", "pensiya kantip", "xyz"] {
            let (ra, rb) = (a.ask(q, None, None), b.ask(q, None, None));
            assert_eq!(
                format!("{:?}", ra.candidates),
                format!("{:?}", rb.candidates)
            );
        }
    }
}
