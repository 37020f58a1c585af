//! The matcher: free text → one FAQ entry, a few candidates to choose from, or "no answer".
//!
//! How it works (each step measured on the evaluation set in `tests/eval/`):
//! 1. Every phrasing, keyword and title of every entry is normalised ([`text::normalize`]) and
//!    reduced to a script-free Latin skeleton ([`text::skeleton`]), so that Cyrillic and Latin
//!    Kyrgyz, Russian and Uzbek, with or without Kyrgyz letters, meet.
//! 2. Features: character trigrams of each word padded with boundary marks (robust to typos and
//!    agglutinative endings: каттоо / каттоодон / катталышым share their stem's trigrams), plus
//!    word prefixes of 4 and 6 letters (a cheap stemmer for Russian inflection and Turkic suffixes).
//! 3. Weights: inverse entry frequency (a feature in few entries tells more), so common words such
//!    as "как", "кантип", "qanday", "how" weigh little without a stop-word list.
//! 4. Score of an entry: the best phrasing's weighted cosine similarity to the question, blended
//!    with how much of the question the entry's whole vocabulary covers (a question may combine
//!    words from several phrasings of one entry).
//! 5. Decision: answer when the best score is high enough and clearly ahead of the runner-up,
//!    and the best phrasing and the entry's whole vocabulary agree on it (unless the lead is
//!    decisive); offer 2–3 candidates when some are plausible; otherwise the question is unmet.

use crate::kb::KnowledgeBase;
use crate::lang::{Country, Lang, Variant};
use crate::text::{normalize, skeleton};
use serde::Serialize;
use std::collections::HashMap;

/// Decision thresholds. Tuned on the evaluation set; see `jardam eval`.
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    /// The best score must reach this to be answered directly …
    pub answer: f32,
    /// … and be ahead of the runner-up by at least this much.
    pub margin: f32,
    /// Below this lead, the best entry must also cover at least as much of the question as the
    /// runner-up: when the closest phrasing and the closest vocabulary point to different
    /// entries, the question is ambiguous and the user chooses.
    pub decisive_margin: f32,
    /// Below this nothing is plausible: the question is unmet.
    pub clarify: f32,
    /// Candidates within this distance of the best are offered together.
    pub clarify_window: f32,
    /// A known gap must be ahead of the best entry by this much to make the question unmet.
    pub gap_margin: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            answer: 0.20,
            margin: 0.04,
            decisive_margin: 0.07,
            clarify: 0.20,
            clarify_window: 0.12,
            gap_margin: 0.03,
        }
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
}

/// The matcher's index over one knowledge base (plus phrasings learned from experts).
pub struct Matcher {
    entry_ids: Vec<String>,
    has_variants: Vec<bool>,
    /// Whether each entry is a known gap (its id starts with [`GAP`]).
    is_gap: Vec<bool>,
    /// Indexed texts (phrasings, keywords, titles), as parallel arrays: the per-query loop over
    /// every text reads only the entry and the norm, so they are kept dense.
    doc_entry: Vec<u32>,
    /// Euclidean norm of each text's feature weights, for the cosine.
    doc_norm: Vec<f32>,
    doc_text: Vec<String>,
    /// Feature → weight and postings.
    features: HashMap<u64, Feature, PreHashed>,
    /// Skeleton word → languages whose phrasings use it (bit per language).
    word_langs: HashMap<u64, u8, PreHashed>,
    thresholds: Thresholds,
    params: Params,
}

struct Feature {
    prefix: bool,
    weight: f32,
    /// Docs containing the feature.
    docs: Vec<u32>,
    /// Entries containing the feature, with how central the feature is to the entry (the share
    /// of the entry's texts that contain it, raised to `Params::centrality`, computed once at
    /// build): a word in most phrasings of an entry is central to it, a word in one is not.
    entries: Vec<(u32, f32)>,
}

/// One entry's scores for a question.
#[derive(Clone, Copy)]
struct Scored {
    entry: usize,
    score: f32,
    /// Weighted share of the question covered by the entry's whole vocabulary.
    coverage: f32,
    /// The entry's text closest to the question.
    doc: usize,
}

/// `buf` cleared, filled with `len` times `value`, as a slice.
fn zeroed<T: Copy>(buf: &mut Vec<T>, len: usize, value: T) -> &mut [T] {
    buf.clear();
    buf.resize(len, value);
    &mut buf[..]
}

/// Per-thread buffers of the scoring loop, sized to the largest index queried.
#[derive(Default)]
struct Scratch {
    doc_dot: Vec<f32>,
    entry_dot: Vec<f32>,
    best: Vec<(f32, u32)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Prefix of the ids of known gaps in rankings.
pub const GAP: &str = "gap:";

/// Scoring parameters (tuned with `jardam eval`).
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Share of the score that comes from how much of the question the entry's whole vocabulary
    /// covers; the rest is the best single phrasing's cosine.
    pub coverage_blend: f32,
    /// Coverage multiplies the cosine (true) or is added to it (false).
    pub multiply: bool,
    /// Weight of a word-prefix feature relative to a trigram.
    pub prefix_weight: f32,
    /// How strongly coverage prefers features central to the entry (0: any occurrence counts).
    pub centrality: f32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            coverage_blend: 0.6,
            multiply: false,
            prefix_weight: 1.0,
            centrality: 0.5,
        }
    }
}

impl Matcher {
    pub fn new(kb: &KnowledgeBase) -> Matcher {
        Self::with_learned(kb, &[])
    }

    /// Builds the index from the knowledge base and extra `(entry id, question)` phrasings
    /// learned from experts. Learned phrasings for unknown ids are skipped.
    pub fn with_learned(kb: &KnowledgeBase, learned: &[(String, String)]) -> Matcher {
        Self::with_params(kb, learned, Params::default())
    }

    /// As [`Matcher::with_learned`], with explicit scoring parameters (for tuning).
    pub fn with_params(
        kb: &KnowledgeBase,
        learned: &[(String, String)],
        params: Params,
    ) -> Matcher {
        let mut texts: Vec<(u32, Option<Lang>, &str)> = Vec::new();
        for (i, e) in kb.entries.iter().enumerate() {
            let i = i as u32;
            for (lang, qs) in e.questions.iter() {
                texts.extend(qs.iter().map(|q| (i, Some(lang), q.as_str())));
            }
            for (lang, kws) in e.keywords.iter() {
                texts.extend(kws.iter().map(|k| (i, Some(lang), k.as_str())));
            }
            for (lang, t) in e.title.iter() {
                texts.push((i, Some(lang), t.as_str()));
            }
        }
        for (id, q) in learned {
            if let Some(i) = kb.entry_index(id) {
                texts.push((i as u32, None, q.as_str()));
            }
        }
        // Known gaps are indexed like entries, after them, with ids that start with GAP.
        let mut entry_ids: Vec<String> = kb.entries.iter().map(|e| e.id.clone()).collect();
        let mut has_variants: Vec<bool> = kb.entries.iter().map(|e| e.has_variants()).collect();
        for g in &kb.gaps {
            let i = entry_ids.len() as u32;
            entry_ids.push(format!("{GAP}{}", g.id));
            has_variants.push(false);
            for (lang, qs) in g.questions.iter() {
                texts.extend(qs.iter().map(|q| (i, Some(lang), q.as_str())));
            }
        }
        Self::build_with(entry_ids, has_variants, &texts, params)
    }

    /// Builds an index over raw texts: `(entry index, language, text)`.
    pub fn build(
        entry_ids: Vec<String>,
        has_variants: Vec<bool>,
        texts: &[(u32, Option<Lang>, &str)],
    ) -> Matcher {
        Self::build_with(entry_ids, has_variants, texts, Params::default())
    }

    pub fn build_with(
        entry_ids: Vec<String>,
        has_variants: Vec<bool>,
        texts: &[(u32, Option<Lang>, &str)],
        params: Params,
    ) -> Matcher {
        let mut features: HashMap<u64, Feature, PreHashed> = HashMap::default();
        let mut word_langs: HashMap<u64, u8, PreHashed> = HashMap::default();
        let mut doc_entry = Vec::with_capacity(texts.len());
        let mut doc_text = Vec::with_capacity(texts.len());
        let mut doc_feats: Vec<Vec<u64>> = Vec::with_capacity(texts.len());
        let mut scratch = Vec::new();
        for (d, &(entry, lang, text)) in texts.iter().enumerate() {
            let sk = skeleton(&normalize(text));
            if let Some(lang) = lang {
                for w in sk.split(' ').filter(|w| w.len() > 1) {
                    *word_langs.entry(hash_str(w)).or_default() |= 1 << lang.index();
                }
            }
            features_of(&sk, &mut scratch);
            for &f in &scratch {
                let feat = features.entry(f).or_insert_with(|| Feature {
                    prefix: f & 1 == 1,
                    weight: 0.0,
                    docs: Vec::new(),
                    entries: Vec::new(),
                });
                feat.docs.push(d as u32);
                // Kept sorted by entry. Texts come grouped by entry in ascending order, so the
                // entry is the last one or a new one at the end; only learned phrasings arrive
                // out of order and need a search (a linear search on every new entry made the
                // build quadratic in the number of entries sharing a common feature).
                match feat.entries.last_mut() {
                    Some((e, n)) if *e == entry => *n += 1.0,
                    Some((e, _)) if *e > entry => {
                        match feat.entries.binary_search_by_key(&entry, |&(e, _)| e) {
                            Ok(i) => feat.entries[i].1 += 1.0,
                            Err(i) => feat.entries.insert(i, (entry, 1.0)),
                        }
                    }
                    _ => feat.entries.push((entry, 1.0)),
                }
            }
            doc_feats.push(scratch.clone());
            doc_entry.push(entry);
            doc_text.push(text.to_string());
        }
        let n = entry_ids.len().max(1) as f32;
        let mut texts_per_entry = vec![0f32; entry_ids.len()];
        for &(entry, _, _) in texts {
            texts_per_entry[entry as usize] += 1.0;
        }
        for feat in features.values_mut() {
            for (e, count) in feat.entries.iter_mut() {
                *count = (*count / texts_per_entry[*e as usize])
                    .sqrt()
                    .powf(params.centrality);
            }
            let df = feat.entries.len() as f32;
            feat.weight = (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
                * if feat.prefix {
                    params.prefix_weight
                } else {
                    1.0
                };
        }
        let doc_norm = doc_feats
            .iter()
            .map(|feats| {
                feats
                    .iter()
                    .map(|f| features[f].weight.powi(2))
                    .sum::<f32>()
                    .sqrt()
            })
            .collect();
        Matcher {
            is_gap: entry_ids.iter().map(|id| id.starts_with(GAP)).collect(),
            entry_ids,
            has_variants,
            doc_entry,
            doc_norm,
            doc_text,
            features,
            word_langs,
            thresholds: Thresholds::default(),
            params,
        }
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    pub fn set_thresholds(&mut self, t: Thresholds) {
        self.thresholds = t;
    }

    pub fn entry_count(&self) -> usize {
        self.entry_ids.len()
    }

    /// Scores every entry for `text`: `(entry index, score, best doc)`, best first.
    pub fn rank(&self, text: &str) -> Vec<(usize, f32, usize)> {
        let mut ranked = Vec::new();
        self.score_entries(&skeleton(&normalize(text)), |s| {
            ranked.push((s.entry, s.score, s.doc))
        });
        // Stable, so that equal scores keep the entries' order (as `ask` does).
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }

    /// Calls `visit` for every entry sharing a feature with the question, in entry order.
    fn score_entries(&self, sk: &str, mut visit: impl FnMut(Scored)) {
        let mut q = Vec::new();
        features_of(sk, &mut q);
        let known: Vec<&Feature> = q.iter().filter_map(|f| self.features.get(f)).collect();
        // Features the index has never seen still make the question longer: a question that is
        // mostly about something else must not look like a match.
        let unknown = (q.len() - known.len()) as f32;
        let unseen_weight = self.unseen_weight();
        let q_norm = (known.iter().map(|f| f.weight * f.weight).sum::<f32>()
            + unknown * unseen_weight * unseen_weight)
            .sqrt();
        if q_norm == 0.0 || known.is_empty() {
            return;
        }
        SCRATCH.with_borrow_mut(|scratch| {
            let Scratch {
                doc_dot,
                entry_dot,
                best,
            } = scratch;
            // Reused between queries: zeroing is cheaper than a fresh allocation of this size.
            // Slices, so that the loops below keep their base pointers in registers.
            let doc_dot = zeroed(doc_dot, self.doc_entry.len(), 0.0);
            let entry_dot = zeroed(entry_dot, self.entry_ids.len(), 0.0);
            let best = zeroed(best, self.entry_ids.len(), (0.0, u32::MAX));
            for feat in &known {
                let w2 = feat.weight * feat.weight;
                for &d in &feat.docs {
                    doc_dot[d as usize] += w2;
                }
                for &(e, centrality) in &feat.entries {
                    entry_dot[e as usize] += w2 * centrality;
                }
            }
            // Best text per entry.
            for (d, ((&dot, &e), &norm)) in doc_dot
                .iter()
                .zip(&self.doc_entry)
                .zip(&self.doc_norm)
                .enumerate()
            {
                if dot == 0.0 {
                    continue;
                }
                let cos = dot / (q_norm * norm);
                let b = &mut best[e as usize];
                if cos > b.0 {
                    *b = (cos, d as u32);
                }
            }
            let q_sq = q_norm * q_norm;
            let b = self.params.coverage_blend;
            for (e, &(cos, d)) in best.iter().enumerate() {
                if d == u32::MAX {
                    continue;
                }
                let coverage = entry_dot[e] / q_sq;
                let score = if self.params.multiply {
                    cos * (1.0 - b + b * coverage)
                } else {
                    (1.0 - b) * cos + b * coverage
                };
                visit(Scored {
                    entry: e,
                    score,
                    coverage,
                    doc: d as usize,
                });
            }
        });
    }

    /// The weight given to a feature the index does not know: as rare as the rarest known one.
    fn unseen_weight(&self) -> f32 {
        let n = self.entry_ids.len().max(1) as f32;
        (1.0 + (n - 0.5) / 1.5).ln()
    }

    /// Answers one question. `lang` and `country` are the user's profile, used when the text
    /// itself does not tell.
    pub fn ask(&self, text: &str, lang: Option<Lang>, country: Option<Country>) -> MatchResult {
        // Normalised once: ranking, language and country detection all read the same forms.
        let norm = normalize(text);
        let sk = skeleton(&norm);
        let t = self.thresholds;
        // Only the three best entries and the best gap matter here: kept while scoring instead
        // of sorting every entry (thousands in a large knowledge base).
        let mut ranked: Vec<Scored> = Vec::with_capacity(4);
        let mut best_gap = 0f32;
        self.score_entries(&sk, |s| {
            if self.is_gap[s.entry] {
                best_gap = best_gap.max(s.score);
            } else if ranked.len() < 3 || s.score > ranked[2].score {
                // Strictly greater: among equal scores the earlier entry stays first.
                let at = ranked.partition_point(|r| r.score >= s.score);
                ranked.insert(at, s);
                ranked.truncate(3);
            }
        });
        // A question clearly closer to a known gap than to any entry is unmet.
        let gap_first = best_gap > 0.0
            && best_gap >= ranked.first().map(|r| r.score).unwrap_or(0.0) + t.gap_margin;
        let detected = self
            .detect_lang_normalized(&norm, &sk)
            .or(lang)
            .unwrap_or(Lang::Ru);
        let text_country = country_in_skeleton(&sk);
        let candidate = |s: &Scored| Candidate {
            entry: self.entry_ids[s.entry].clone(),
            score: (s.score * 1000.0).round() / 1000.0,
            phrasing: self.doc_text[s.doc].clone(),
        };
        let candidates: Vec<Candidate> = ranked.iter().map(candidate).collect();
        let top = ranked.first().map(|r| r.score).unwrap_or(0.0);
        let second = ranked.get(1).map(|r| r.score).unwrap_or(0.0);
        // The closest phrasing decides most of the score; when the runner-up's vocabulary covers
        // more of the question, the two disagree and a narrow lead is not trusted.
        let agree = match (ranked.first(), ranked.get(1)) {
            (Some(a), Some(b)) => a.coverage >= b.coverage,
            _ => true,
        };
        let status = if gap_first {
            Status::Unmet
        } else if top >= t.answer
            && top - second >= t.margin
            && (agree || top - second >= t.decisive_margin)
        {
            Status::Answered
        } else if top >= t.clarify {
            Status::Clarify
        } else {
            Status::Unmet
        };
        let (entry, variant, candidates) = match status {
            Status::Answered => {
                let e = ranked[0].entry;
                let variant = self.has_variants[e]
                    .then(|| text_country.or(country).map(Country::variant))
                    .flatten();
                (Some(self.entry_ids[e].clone()), variant, candidates)
            }
            Status::Clarify => {
                let floor = (top - t.clarify_window).max(t.clarify * 0.8);
                let mut c: Vec<Candidate> = candidates
                    .into_iter()
                    .filter(|c| c.score >= floor)
                    .collect();
                // "Did you mean…?" with a single option is a yes/no question; offer the
                // runner-up too.
                if c.len() < 2 {
                    if let Some(s) = ranked.get(1) {
                        c.push(candidate(s));
                    }
                }
                (None, None, c)
            }
            Status::Unmet => (None, None, candidates),
        };
        MatchResult {
            status,
            entry,
            variant,
            candidates,
            lang: detected,
            country: text_country,
        }
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
            if let Some(&mask) = self.word_langs.get(&hash_str(w)) {
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

/// Feature keys are already FNV hashes: hashing them again would only cost time on every
/// lookup of every query.
#[derive(Clone, Copy, Default)]
struct PreHashed;

impl std::hash::BuildHasher for PreHashed {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in for completeness.
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b) ^ (self.0 >> 56);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const PREFIX_TAG: u64 = 0x9E37_79B9_7F4A_7C15;

/// Features of a skeleton text (deduplicated): boundary-padded trigrams of each word, and the
/// word's 4- and 6-letter prefixes.
fn features_of(sk: &str, out: &mut Vec<u64>) {
    out.clear();
    let mut buf: Vec<char> = Vec::with_capacity(32);
    for w in sk.split(' ').filter(|w| !w.is_empty()) {
        buf.clear();
        buf.push('^');
        buf.extend(w.chars());
        buf.push('$');
        if buf.len() <= 3 {
            out.push(hash_chars(&buf, 0) & !1);
        } else {
            for g in buf.windows(3) {
                out.push(hash_chars(g, 0) & !1);
            }
        }
        let letters = buf.len() - 2;
        for p in [4usize, 6] {
            if letters >= p {
                out.push(hash_chars(&buf[1..=p], PREFIX_TAG) | 1);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn hash_chars(chars: &[char], seed: u64) -> u64 {
    // FNV-1a: fast, stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for &c in chars {
        for b in (c as u32).to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
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

    #[test]
    fn asked_candidates_are_the_best_ranked_entries() {
        let ids: Vec<String> = ["a.one", "b.two", "c.three", "d.four", "gap:x"]
            .map(String::from)
            .to_vec();
        let texts = [
            (0, None, "kattoo kantip jasalat"),
            (1, None, "kattoo kerekpi"),
            (2, None, "kantip kattalam"),
            (3, None, "kattoo kachan"),
            (4, None, "kattoo bar"),
        ];
        let m = Matcher::build(ids, vec![false; 5], &texts);
        for q in ["kattoo kantip", "kattoo", "kantip kachan", "bar"] {
            let want: Vec<(String, f32)> = m
                .rank(q)
                .into_iter()
                .filter(|r| !m.is_gap[r.0])
                .take(3)
                .map(|(e, s, _)| (m.entry_ids[e].clone(), (s * 1000.0).round() / 1000.0))
                .collect();
            let r = m.ask(q, None, None);
            if r.status != Status::Clarify {
                let got: Vec<(String, f32)> = r
                    .candidates
                    .into_iter()
                    .map(|c| (c.entry, c.score))
                    .collect();
                assert_eq!(got, want, "{q}");
            }
        }
    }

    #[test]
    fn text_order_does_not_change_scores() {
        let ids = vec![
            "a.one".to_string(),
            "b.two".to_string(),
            "c.three".to_string(),
        ];
        let texts = [
            (0, None, "kattoo kantip jasalat"),
            (0, None, "registraciya kerekpi"),
            (1, None, "patent kantip alam"),
            (2, None, "pensiya kachan"),
        ];
        // Learned phrasings arrive after all entries, for entries already seen.
        let mut shuffled = texts.to_vec();
        shuffled.push((0, None, "propiska kantip"));
        shuffled.insert(3, (1, None, "patent kerek"));
        let mut grouped = shuffled.clone();
        grouped.sort_by_key(|t| t.0);
        let a = Matcher::build(ids.clone(), vec![false; 3], &shuffled);
        let b = Matcher::build(ids, vec![false; 3], &grouped);
        for q in ["kattoo propiska", "patent kantip", "pensiya", "kantip"] {
            let (ra, rb) = (a.rank(q), b.rank(q));
            assert_eq!(ra.len(), rb.len(), "{q}");
            for (x, y) in ra.iter().zip(&rb) {
                assert_eq!((x.0, x.1), (y.0, y.1), "{q}");
            }
        }
    }
}
