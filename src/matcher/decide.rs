//! Answering one question: the whole message and each of its sentences read, entries ranked,
//! the decision (answer, clarify or unmet), a second question, and danger signals.

use super::model::{Dist, Input};
use super::{
    Candidate, ClassKind, MatchResult, Matcher, Status, Tagged, country_in_skeleton, segment,
};
use crate::lang::{Country, Lang};
use crate::text::{normalize, skeleton};

/// How sure the model must be of a gap for its questions to be grouped for the experts. Not a
/// decision threshold: whether a question is answered does not depend on it.
const GAP_SURE: f32 = 0.5;

impl Matcher {
    /// Answers one question. `lang` and `country` are the user's profile, used when the text
    /// itself does not tell.
    pub fn ask(&self, text: &str, lang: Option<Lang>, country: Option<Country>) -> MatchResult {
        let norm = normalize(text);
        let sk = skeleton(&norm);
        let detected = self
            .detect_lang_normalized(&norm, &sk)
            .or(lang)
            .unwrap_or(Lang::Ru);
        let text_country = country_in_skeleton(&sk);
        let mut result = MatchResult {
            status: Status::Unmet,
            entry: None,
            variant: None,
            candidates: Vec::new(),
            lang: detected,
            country: text_country,
            confidence: 0.0,
            sentence: None,
            also: None,
            urgent: false,
            gap: None,
        };
        // Only emoji, digits or punctuation: nothing to understand.
        if !sk.chars().any(char::is_alphabetic) {
            return result;
        }
        let (words, parts) = segment::split(text);
        let tagged = Tagged::new(&self.lexicon, words);
        let t = self.params.thresholds;
        let w = self.params.weighing;
        let classes = self.ids.len();

        let mut feats = Vec::new();
        // Each sentence on its own: what it asks, and whether it is only a greeting or thanks.
        let mut read: Vec<(Dist, f32, f32)> = Vec::new();
        if parts.len() > 1 {
            for p in &parts {
                tagged.features(p.words.clone(), &mut feats);
                let d = self.model.predict(&feats);
                let chatter = self.chatter(&d);
                let weight = (1.0 - chatter).max(0.0).powf(w.chatter)
                    * if p.question { w.question } else { 1.0 };
                read.push((d, weight, chatter));
            }
        }
        // The whole message without its greetings and thanks.
        let kept: Vec<usize> = (0..tagged.words.len())
            .filter(|&i| {
                !parts.iter().zip(&read).any(|(p, r)| {
                    r.2 > 0.5 && p.words.contains(&i) && p.words.len() < tagged.words.len()
                })
            })
            .collect();
        let core = if kept.is_empty() || kept.len() == tagged.words.len() {
            None
        } else {
            Some(Tagged {
                words: kept.iter().map(|&i| tagged.words[i].clone()).collect(),
                tags: kept.iter().map(|&i| tagged.tags[i]).collect(),
            })
        };
        let body = core.as_ref().unwrap_or(&tagged);
        body.features(0..body.words.len(), &mut feats);
        let query = self.model.input(&feats);
        let mut mix = vec![0f32; classes];
        self.model
            .predict_input(&query)
            .dense(classes, &mut mix, 1.0);
        let not_ours: f32 = (0..classes)
            .filter(|&c| !self.is_entry(c))
            .map(|c| mix[c])
            .sum();
        let mut ranked: Vec<(usize, f32)> = (0..classes)
            .filter(|&c| self.is_entry(c))
            .map(|c| (c, mix[c]))
            .collect();
        // Stable: among equal probabilities the earlier entry stays first.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(3);
        let (top, p1) = ranked.first().copied().unwrap_or((0, 0.0));
        let p2 = ranked.get(1).map(|r| r.1).unwrap_or(0.0);
        let candidate = |c: usize, p: f32| Candidate {
            entry: self.ids[c].clone(),
            score: (p * 1000.0).round() / 1000.0,
            phrasing: self.closest(c, &query),
        };
        result.confidence = (p1 * 1000.0).round() / 1000.0;
        result.status = if p1 >= t.answer && p1 - p2 >= t.margin && p1 >= t.out_factor * not_ours {
            Status::Answered
        } else if p1 >= t.clarify && not_ours < t.clarify_out {
            Status::Clarify
        } else {
            Status::Unmet
        };
        result.candidates = match result.status {
            Status::Clarify => {
                let floor = (t.clarify * 0.5).max(p1 * 0.25);
                let mut c: Vec<Candidate> = ranked
                    .iter()
                    .enumerate()
                    .filter(|(i, r)| *i < 2 || r.1 >= floor)
                    .map(|(_, r)| candidate(r.0, r.1))
                    .collect();
                c.truncate(3);
                c
            }
            _ => ranked.iter().map(|r| candidate(r.0, r.1)).collect(),
        };
        // The sentence the best entry rests on, and a second question in another sentence.
        if !read.is_empty() && p1 > 0.0 {
            let on_top = |r: &(Dist, f32, f32)| r.1 * r.0.prob(top as u32);
            let best = (0..read.len())
                .max_by(|&a, &b| on_top(&read[a]).total_cmp(&on_top(&read[b])))
                .unwrap_or(0);
            result.sentence = Some(parts[best].text_of(text).to_string());
            if result.status == Status::Answered {
                let other = read
                    .iter()
                    .filter(|(_, weight, _)| *weight >= 0.5)
                    .filter_map(|(d, _, _)| {
                        let (c, p) = d
                            .scored
                            .iter()
                            .filter(|s| self.is_entry(s.0 as usize) && s.0 as usize != top)
                            .max_by(|a, b| a.1.total_cmp(&b.1))?;
                        (*p >= t.also).then_some((*c as usize, *p))
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((c, _)) = other {
                    result.also = Some(candidate(c, mix[c]));
                }
            }
        }
        // Unmet because it is a known gap: which one, when the model is sure of it.
        if result.status == Status::Unmet {
            result.gap = (0..classes)
                .filter(|&c| self.ids[c].starts_with(super::GAP))
                .max_by(|&a, &b| mix[a].total_cmp(&mix[b]))
                .filter(|&c| mix[c] >= GAP_SURE)
                .map(|c| self.ids[c].clone());
        }
        let mut answer = (result.status == Status::Answered).then_some(top);
        if let Some(e) = self.danger(&tagged, &parts) {
            result.urgent = true;
            if answer != Some(e) {
                if answer.is_some() {
                    result.also = Some(candidate(top, p1));
                }
                result.status = Status::Answered;
                result.gap = None;
                answer = Some(e);
                result.candidates.retain(|c| c.entry != self.ids[e]);
                result.candidates.insert(0, candidate(e, mix[e]));
                result.candidates.truncate(3);
            }
        }
        if let Some(e) = answer {
            result.entry = Some(self.ids[e].clone());
            result.variant = self.has_variants[e]
                .then(|| text_country.or(country).map(Country::variant))
                .flatten();
        }
        result
    }

    /// Probability that a text is only a greeting, thanks or the like.
    fn chatter(&self, d: &Dist) -> f32 {
        let mut scored = 0;
        let mut sum = 0.0;
        for &(c, p) in &d.scored {
            if self.kind[c as usize] == ClassKind::Chatter {
                sum += p;
                scored += 1;
            }
        }
        sum + (self.chatter_classes - scored) as f32 * d.rest
    }

    /// The entry of the first danger signal whose concepts all occur in one sentence or two
    /// neighbouring ones.
    fn danger(&self, tagged: &Tagged, parts: &[segment::Part]) -> Option<usize> {
        if self.dangers.is_empty() {
            return None;
        }
        let concepts = |r: std::ops::Range<usize>| -> Vec<u16> {
            tagged.tags[r].iter().flatten().copied().collect()
        };
        let spans: Vec<std::ops::Range<usize>> = if parts.len() > 1 {
            parts
                .windows(2)
                .map(|w| w[0].words.start.min(w[1].words.start)..w[0].words.end.max(w[1].words.end))
                .collect()
        } else {
            std::iter::once(0..tagged.words.len()).collect()
        };
        for span in spans {
            let found = concepts(span);
            if let Some(rule) = self
                .dangers
                .iter()
                .find(|r| r.all.iter().all(|c| found.contains(c)))
            {
                return Some(rule.entry);
            }
        }
        None
    }

    /// The text of class `c` closest to the query.
    fn closest(&self, c: usize, query: &Input) -> String {
        thread_local! {
            static DENSE: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let best = DENSE.with_borrow_mut(|q| {
            if q.len() < self.model.feature_count() {
                q.resize(self.model.feature_count(), 0.0);
            }
            for &(f, v) in query {
                q[f as usize] = v;
            }
            let mut best = (f32::MIN, None);
            for (d, x) in &self.docs[c] {
                let dot: f32 = x.iter().map(|&(f, v)| q[f as usize] * v).sum();
                if dot > best.0 {
                    best = (dot, Some(*d));
                }
            }
            for &(f, _) in query {
                q[f as usize] = 0.0;
            }
            best.1
        });
        best.map(|d| self.doc_text[d as usize].clone())
            .unwrap_or_default()
    }
}
