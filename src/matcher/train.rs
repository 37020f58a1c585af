//! Training: the corpus a matcher learns from (the knowledge base's phrasings, keywords and
//! titles, gaps, background groups, learned phrasings) and the training itself.

use super::features::{Lexicon, PreHashed, hash_str};
use super::model::{Input, Model};
use super::{BACKGROUND, ClassKind, Corpus, DangerRule, GAP, Matcher, Params, Tagged, WordUse};
use crate::kb::KnowledgeBase;
use crate::lang::Lang;
use crate::text::{normalize, skeleton};
use std::collections::HashMap;

impl<'a> Corpus<'a> {
    /// Whether class `c` is an FAQ entry (not a gap or background group).
    pub fn is_entry(&self, c: u32) -> bool {
        self.kind[c as usize] == ClassKind::Entry
    }

    /// Entries only, from raw texts (benchmarks and tests).
    pub fn entries(
        ids: Vec<String>,
        has_variants: Vec<bool>,
        texts: Vec<(u32, Option<Lang>, &'a str)>,
    ) -> Corpus<'a> {
        Corpus {
            kind: vec![ClassKind::Entry; ids.len()],
            ids,
            has_variants,
            texts,
            concepts: Vec::new(),
            concept_ids: Vec::new(),
            dangers: Vec::new(),
        }
    }

    /// Everything the knowledge base holds, with `learned` `(entry id, text)` phrasings (those
    /// of unknown entries are skipped).
    pub fn of(kb: &'a KnowledgeBase, learned: &'a [(String, String)]) -> Corpus<'a> {
        let mut ids: Vec<String> = kb.entries.iter().map(|e| e.id.clone()).collect();
        let mut kind = vec![ClassKind::Entry; ids.len()];
        let mut has_variants: Vec<bool> = kb.entries.iter().map(|e| e.has_variants()).collect();
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
        let mut add = |id: String, k: ClassKind, qs: &'a crate::lang::PerLang<Vec<String>>| {
            let i = ids.len() as u32;
            ids.push(id);
            kind.push(k);
            has_variants.push(false);
            for (lang, qs) in qs.iter() {
                texts.extend(qs.iter().map(|q| (i, Some(lang), q.as_str())));
            }
        };
        for g in &kb.gaps {
            add(format!("{GAP}{}", g.id), ClassKind::NotOurs, &g.questions);
        }
        for b in &kb.background {
            let k = if b.chatter {
                ClassKind::Chatter
            } else {
                ClassKind::NotOurs
            };
            add(format!("{BACKGROUND}{}", b.id), k, &b.questions);
        }
        Corpus {
            ids,
            kind,
            has_variants,
            texts,
            concepts: kb.concepts.iter().map(|c| c.forms.as_slice()).collect(),
            concept_ids: kb.concepts.iter().map(|c| c.id.as_str()).collect(),
            dangers: kb
                .dangers
                .iter()
                .map(|d| (d.entry.as_str(), d.all.iter().map(String::as_str).collect()))
                .collect(),
        }
    }
}

impl Matcher {
    /// Trains a matcher on `corpus`.
    pub fn train(corpus: &Corpus, params: Params) -> Matcher {
        let classes = corpus.ids.len();
        let lexicon = Lexicon::new(
            corpus
                .concepts
                .iter()
                .enumerate()
                .map(|(i, f)| (i as u16, *f)),
        );
        let mut words: HashMap<u64, WordUse, PreHashed> = HashMap::default();
        let mut examples: Vec<(Vec<u64>, u32)> = Vec::with_capacity(corpus.texts.len());
        for &(class, lang, text) in &corpus.texts {
            let t = tag(&lexicon, text);
            for w in &t.words {
                let seen = words.entry(hash_str(w)).or_insert(WordUse {
                    langs: 0,
                    last_class: u32::MAX,
                    classes: 0,
                });
                if let Some(lang) = lang.filter(|_| w.len() > 1) {
                    seen.langs |= 1 << lang.index();
                }
                if seen.last_class != class {
                    seen.last_class = class;
                    seen.classes = seen.classes.saturating_add(1);
                }
            }
            let mut f = Vec::new();
            t.features(0..t.words.len(), &mut f);
            examples.push((f, class));
        }
        let doc_count = examples.len();
        if params.augment {
            augment(corpus, &lexicon, &mut examples);
        }
        let model = if params.calibrate {
            // Every fifth text of each class is held out of a first training; the temperature
            // that best predicts them is then used with the model trained on everything.
            let mut seen = vec![0usize; classes];
            let mut train = Vec::new();
            let mut held = Vec::new();
            for (i, ex) in examples.iter().enumerate() {
                let c = ex.1 as usize;
                seen[c] += 1;
                if i < doc_count && seen[c] % 5 == 3 {
                    held.push(ex.clone());
                } else {
                    train.push(ex.clone());
                }
            }
            // The two trainings are independent: run them side by side.
            let (temperature, mut model) = std::thread::scope(|s| {
                let first = s.spawn(|| {
                    let mut first = Model::train(classes, &train, &params.train);
                    first.fit_temperature(&held);
                    first.temperature
                });
                let model = Model::train(classes, &examples, &params.train);
                let temperature = first
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (temperature, model)
            });
            model.temperature = temperature;
            model
        } else {
            Model::train(classes, &examples, &params.train)
        };
        let mut docs: Vec<Vec<(u32, Input)>> = vec![Vec::new(); classes];
        let mut doc_text = Vec::with_capacity(doc_count);
        for (d, ((feats, class), &(_, _, text))) in examples.iter().zip(&corpus.texts).enumerate() {
            docs[*class as usize].push((d as u32, model.input(feats)));
            doc_text.push(text.to_string());
        }
        let concept_index: HashMap<&str, u16> = corpus
            .concept_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as u16))
            .collect();
        let dangers = corpus
            .dangers
            .iter()
            .filter_map(|(entry, all)| {
                Some(DangerRule {
                    entry: corpus.ids.iter().position(|id| id == entry)?,
                    all: all
                        .iter()
                        .map(|c| concept_index.get(c).copied())
                        .collect::<Option<Vec<u16>>>()?,
                })
            })
            .collect();
        Matcher {
            ids: corpus.ids.clone(),
            kind: corpus.kind.clone(),
            has_variants: corpus.has_variants.clone(),
            chatter_classes: corpus
                .kind
                .iter()
                .filter(|k| **k == ClassKind::Chatter)
                .count(),
            lexicon,
            dangers,
            model,
            docs,
            doc_text,
            words,
            params,
        }
    }
}

/// Splits a text into skeleton words and tags them with concepts.
fn tag(lexicon: &Lexicon, text: &str) -> Tagged {
    let sk = skeleton(&normalize(text));
    let words = sk
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    Tagged::new(lexicon, words)
}

/// Entry phrasings with a greeting before or thanks after them (from the background groups
/// marked `chatter`), so that such words do not count against an entry in a long message.
fn augment(corpus: &Corpus, lexicon: &Lexicon, examples: &mut Vec<(Vec<u64>, u32)>) {
    let chatter: Vec<&str> = corpus
        .texts
        .iter()
        .filter(|t| corpus.kind[t.0 as usize] == ClassKind::Chatter)
        .map(|t| t.2)
        .collect();
    if chatter.is_empty() {
        return;
    }
    let mut k = 0usize;
    for (i, &(class, _, text)) in corpus.texts.iter().enumerate() {
        if corpus.kind[class as usize] != ClassKind::Entry || i % 2 != 0 {
            continue;
        }
        k = (k + 7919) % chatter.len();
        let joined = if i % 4 == 0 {
            format!("{} {text}", chatter[k])
        } else {
            format!("{text} {}", chatter[k])
        };
        let t = tag(lexicon, &joined);
        let mut f = Vec::new();
        t.features(0..t.words.len(), &mut f);
        examples.push((f, class));
    }
}
