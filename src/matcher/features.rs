//! From a text's skeleton to the features the model reads.
//!
//! A text is normalised ([`normalize`](crate::text::normalize)) and reduced to its script-free
//! Latin skeleton ([`skeleton`](crate::text::skeleton)) first, so that Cyrillic and Latin
//! Kyrgyz, Russian and Uzbek, with or without Kyrgyz letters, meet. Its features:
//! - character 3-, 4- and 5-grams of each word padded with boundary marks (robust to typos and
//!   to agglutinative endings: каттоо / каттоодон / катталышым share their stem's n-grams);
//! - each word's 4- and 6-letter prefix (a cheap stemmer for Russian inflection and Turkic
//!   suffixes) and the whole word;
//! - pairs of neighbouring words (by their 5-letter prefixes), for word order ("кара тизме");
//! - the concepts of the curators' synonym list (`dialogues/synonyms.toml`): every form of a
//!   concept gives the same feature, so "рега" counts as "регистрация" does.

use std::collections::HashMap;

/// The kind of a feature, in the key's low 3 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Ngram = 0,
    Prefix = 1,
    Word = 2,
    Pair = 3,
    Concept = 4,
}

impl Kind {
    pub(crate) const COUNT: usize = 5;

    pub(crate) fn of(key: u64) -> Kind {
        match key & 7 {
            0 => Kind::Ngram,
            1 => Kind::Prefix,
            2 => Kind::Word,
            3 => Kind::Pair,
            _ => Kind::Concept,
        }
    }
}

fn key(kind: Kind, hash: u64) -> u64 {
    (hash << 3) | kind as u64
}

/// The curators' concepts, compiled for lookup by word stems.
#[derive(Default)]
pub(crate) struct Lexicon {
    /// Single-word forms (skeletons) → concept.
    stems: HashMap<String, u16>,
    /// Phrases by the skeleton of their first word: the remaining words and the concept.
    phrases: HashMap<String, Vec<(Vec<String>, u16)>>,
    /// The longest first word of any form, in characters.
    longest: usize,
}

/// Forms shorter than this (in letters) must be the whole word; longer ones are stems.
const STEM_MIN: usize = 4;

impl Lexicon {
    /// `concepts`: (concept index, forms as written).
    pub(crate) fn new<'a>(concepts: impl IntoIterator<Item = (u16, &'a [String])>) -> Lexicon {
        let mut lex = Lexicon::default();
        for (c, forms) in concepts {
            for f in forms {
                let sk = crate::text::skeleton(&crate::text::normalize(f));
                let mut words = sk.split(' ').filter(|w| !w.is_empty()).map(str::to_string);
                let Some(first) = words.next() else { continue };
                lex.longest = lex.longest.max(first.chars().count());
                let rest: Vec<String> = words.collect();
                if rest.is_empty() {
                    lex.stems.entry(first).or_insert(c);
                } else {
                    lex.phrases.entry(first).or_default().push((rest, c));
                }
            }
        }
        lex
    }

    /// Whether `word` matches the form `stem`: a stem of 4 letters or more matches every word
    /// that begins with it, a shorter one only itself.
    fn matches(word: &str, stem: &str) -> bool {
        if stem.chars().count() >= STEM_MIN {
            word.starts_with(stem)
        } else {
            word == stem
        }
    }

    /// The concept of each word (phrases first, then the longest matching stem).
    pub(crate) fn tag(&self, words: &[&str]) -> Vec<Option<u16>> {
        let mut tags = vec![None; words.len()];
        if self.stems.is_empty() && self.phrases.is_empty() {
            return tags;
        }
        for i in 0..words.len() {
            if tags[i].is_some() {
                continue;
            }
            let w = words[i];
            // Prefixes of the word, longest first, at character boundaries.
            let mut ends: Vec<usize> = w
                .char_indices()
                .map(|(b, _)| b)
                .skip(1)
                .chain([w.len()])
                .take(self.longest)
                .collect();
            ends.reverse();
            let mut found = None;
            'prefixes: for &end in &ends {
                let p = &w[..end];
                if let Some(list) = self.phrases.get(p)
                    && Self::matches(w, p)
                {
                    for (rest, c) in list {
                        let fits = rest.len() < words.len() - i
                            && rest
                                .iter()
                                .zip(&words[i + 1..])
                                .all(|(s, w)| Self::matches(w, s));
                        if fits {
                            for t in &mut tags[i..=i + rest.len()] {
                                *t = Some(*c);
                            }
                            found = None;
                            break 'prefixes;
                        }
                    }
                }
                if found.is_none()
                    && let Some(&c) = self.stems.get(p)
                    && Self::matches(w, p)
                {
                    found = Some(c);
                }
            }
            if let Some(c) = found {
                tags[i] = Some(c);
            }
        }
        tags
    }
}

/// Features of the words `words` (skeleton words) with their concept tags, deduplicated, into
/// `out`.
pub(crate) fn extract(words: &[&str], tags: &[Option<u16>], out: &mut Vec<u64>) {
    out.clear();
    let mut buf: Vec<char> = Vec::with_capacity(32);
    for w in words {
        buf.clear();
        buf.push('^');
        buf.extend(w.chars());
        buf.push('$');
        if buf.len() <= 3 {
            out.push(key(Kind::Ngram, hash_chars(&buf, 0)));
        } else {
            for n in 3..=5 {
                for g in buf.windows(n) {
                    out.push(key(Kind::Ngram, hash_chars(g, 0)));
                }
            }
        }
        let letters = buf.len() - 2;
        for p in [4usize, 6] {
            if letters >= p {
                out.push(key(Kind::Prefix, hash_chars(&buf[1..=p], 1)));
            }
        }
        out.push(key(Kind::Word, hash_chars(&buf, 2)));
    }
    for pair in words.windows(2) {
        let h = hash_prefix(pair[0], 5) ^ hash_prefix(pair[1], 5).rotate_left(17);
        out.push(key(Kind::Pair, h));
    }
    for c in tags.iter().flatten() {
        out.push(key(Kind::Concept, u64::from(*c) + 1));
    }
    out.sort_unstable();
    out.dedup();
}

fn hash_prefix(w: &str, n: usize) -> u64 {
    let chars: Vec<char> = w.chars().take(n).collect();
    hash_chars(&chars, 3)
}

/// FNV-1a (fast, stable across runs and platforms): the offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(h: u64, byte: u8) -> u64 {
    (h ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
}

/// FNV-1a over each char's four bytes, little-endian. Written out rather than through
/// `to_le_bytes()`'s array iterator: test builds reuse the unoptimised dependencies' copy of it.
pub(crate) fn hash_chars(chars: &[char], seed: u64) -> u64 {
    chars.iter().fold(FNV_OFFSET ^ seed, |h, &c| {
        let c = c as u32;
        let h = fnv(h, c as u8);
        let h = fnv(h, (c >> 8) as u8);
        let h = fnv(h, (c >> 16) as u8);
        fnv(h, (c >> 24) as u8)
    })
}

pub(crate) fn hash_str(s: &str) -> u64 {
    s.bytes().fold(FNV_OFFSET, fnv)
}

/// Feature keys are already hashes: hashing them again would only cost time on every lookup.
#[derive(Clone, Copy, Default)]
pub(crate) struct PreHashed;

impl std::hash::BuildHasher for PreHashed {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

pub(crate) struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        // The low bits are the feature kind: mix the high ones down for the table's buckets.
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b) ^ (self.0 >> 56);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sk(s: &str) -> String {
        crate::text::skeleton(&crate::text::normalize(s))
    }

    #[test]
    fn stems_phrases_and_short_forms() {
        let forms = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let reg = forms(&["регистрац", "рега", "каттоо", "ммц"]);
        let ban = forms(&["кара тизме", "черный список"]);
        let lex = Lexicon::new([(0u16, &reg[..]), (1u16, &ban[..])]);
        let text = sk("Регистрациям бүттү, кара тизмеге кирдимби ммц ммцга");
        let words: Vec<&str> = text.split(' ').collect();
        let tags = lex.tag(&words);
        assert_eq!(
            tags,
            vec![Some(0), None, Some(1), Some(1), None, Some(0), None]
        );
        let text = sk("черный список");
        let words: Vec<&str> = text.split(' ').collect();
        assert_eq!(lex.tag(&words), vec![Some(1), Some(1)]);
        // One word of a phrase is not the phrase.
        let text = sk("черный кот");
        let words: Vec<&str> = text.split(' ').collect();
        assert_eq!(lex.tag(&words), vec![None, None]);
    }

    #[test]
    fn features_are_deduplicated_and_typed() {
        let text = sk("kattoo kattoo");
        let words: Vec<&str> = text.split(' ').collect();
        let mut out = Vec::new();
        extract(&words, &[None, None], &mut out);
        let mut again = out.clone();
        again.dedup();
        assert_eq!(out, again);
        assert!(out.iter().any(|&k| Kind::of(k) == Kind::Pair));
        assert!(out.iter().any(|&k| Kind::of(k) == Kind::Prefix));
    }
}
