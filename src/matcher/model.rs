//! The discriminative model: multinomial logistic regression over sparse text features,
//! trained when the knowledge base loads.
//!
//! - Inputs: each text's features weighted by inverse class frequency (a feature in few classes
//!   tells more) and by their kind, scaled to unit length. Features the model has never seen
//!   still count in the length, so that a message mostly about something else is not a match.
//! - Weights are sparse: a feature has a weight for each class whose training texts contain it
//!   (its "support"), plus the classes it was confused with after the first pass, so that it
//!   can also count against them. A feature in more classes than [`TrainOptions::max_support`]
//!   has no weights at all: it tells next to nothing, and it would make training quadratic on
//!   large knowledge bases. Classes with no weight for any feature of a text score 0.
//! - Training: AdaGrad on the cross-entropy with an L2 penalty, in a fixed order (the same
//!   knowledge base always gives the same model).
//! - The temperature that turns scores into probabilities is fitted on phrasings held out of a
//!   first training, so that "0.8" means what it says however large the content grows.

use super::features::{Kind, PreHashed};
use std::collections::HashMap;

/// Training settings.
#[derive(Clone, Copy, Debug)]
pub struct TrainOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    /// Weights of the feature kinds (n-grams, prefixes, words, word pairs, concepts).
    pub kind_weight: [f32; Kind::COUNT],
    /// Weight of an unseen feature in a text's length, relative to the rarest known feature.
    pub unseen: f32,
    /// Features in more classes than this get no weights.
    pub max_support: usize,
    /// Add support for classes a feature's texts were confused with (probability above this
    /// after the first epoch); 1 or more turns it off.
    pub confusion: f32,
    /// An example whose class the model gave at least this probability at its last visit
    /// counts as learned, and is visited only every `revisit`-th epoch; 1 or more turns it off.
    pub learned: f32,
    pub revisit: usize,
    /// A weight whose class is predicted this close to its target for the example at hand is
    /// left as it is (its L2 pull skipped too). In later epochs most weights are settled, and
    /// updating them would take most of the training time for nothing; and not pushing a
    /// probability that is already nearly right any further keeps the model from growing
    /// overconfident on its own phrasings (0.05 against 1e-4: faster, and better on the
    /// development part and in cross-validation).
    pub settled: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 8,
            learning_rate: 0.5,
            l2: 3e-4,
            kind_weight: [1.0, 1.0, 1.0, 0.7, 2.0],
            unseen: 0.6,
            max_support: 20,
            confusion: 0.1,
            learned: 0.99,
            revisit: 4,
            settled: 0.05,
        }
    }
}

/// A trained model.
pub(crate) struct Model {
    classes: usize,
    index: HashMap<u64, u32, PreHashed>,
    /// Input weight of each known feature (kind × inverse class frequency).
    value: Vec<f32>,
    /// Weight of an unseen feature in the length.
    unseen: f32,
    /// CSR: the weights of feature `f` are `weights[start[f]..start[f + 1]]`.
    start: Vec<u32>,
    weights: Vec<(u32, f32)>,
    /// Scores are divided by this before the softmax.
    pub(crate) temperature: f32,
}

/// Class probabilities for one text: the classes that scored, and the probability of each of
/// the others (all equal).
#[derive(Clone, Debug, Default)]
pub(crate) struct Dist {
    pub(crate) scored: Vec<(u32, f32)>,
    pub(crate) rest: f32,
}

impl Dist {
    /// The probability of class `c`.
    pub(crate) fn prob(&self, c: u32) -> f32 {
        self.scored
            .iter()
            .find(|s| s.0 == c)
            .map_or(self.rest, |s| s.1)
    }

    pub(crate) fn dense(&self, classes: usize, into: &mut [f32], weight: f32) {
        debug_assert_eq!(into.len(), classes);
        if self.rest > 0.0 {
            for v in into.iter_mut() {
                *v += weight * self.rest;
            }
        }
        for &(c, p) in &self.scored {
            into[c as usize] += weight * (p - self.rest);
        }
    }
}

/// A text as the model reads it: (feature, value), unit length.
pub(crate) type Input = Vec<(u32, f32)>;

struct Scratch {
    logit: Vec<f32>,
    mark: Vec<bool>,
    touched: Vec<u32>,
}

impl Scratch {
    fn new(classes: usize) -> Scratch {
        Scratch {
            logit: vec![0.0; classes],
            mark: vec![false; classes],
            touched: Vec::new(),
        }
    }
}

impl Model {
    /// Trains on `(features, class)` examples.
    pub(crate) fn train(
        classes: usize,
        examples: &[(Vec<u64>, u32)],
        opts: &TrainOptions,
    ) -> Model {
        // Feature index and the classes each feature occurs in.
        let mut index: HashMap<u64, u32, PreHashed> = HashMap::default();
        let mut keys: Vec<u64> = Vec::new();
        let mut classes_of: Vec<Vec<u32>> = Vec::new();
        for (feats, class) in examples {
            for &k in feats {
                let f = *index.entry(k).or_insert_with(|| {
                    keys.push(k);
                    classes_of.push(Vec::new());
                    (keys.len() - 1) as u32
                });
                let list = &mut classes_of[f as usize];
                if list.last() != Some(class) && !list.contains(class) {
                    list.push(*class);
                }
            }
        }
        let n = classes.max(1) as f32;
        let value: Vec<f32> = keys
            .iter()
            .zip(&classes_of)
            .map(|(&k, cs)| {
                let df = cs.len() as f32;
                (1.0 + (n - df + 0.5) / (df + 0.5)).ln() * opts.kind_weight[Kind::of(k) as usize]
            })
            .collect();
        let unseen = (1.0 + (n - 0.5) / 1.5).ln() * opts.unseen;
        let mut model = Model {
            classes,
            index,
            value,
            unseen,
            start: Vec::new(),
            weights: Vec::new(),
            temperature: 1.0,
        };
        let inputs: Vec<(Input, u32)> =
            examples.iter().map(|(f, c)| (model.input(f), *c)).collect();
        let mut support: Vec<Vec<u32>> = classes_of
            .into_iter()
            .map(|mut cs| {
                if cs.len() > opts.max_support {
                    cs.clear();
                }
                cs.sort_unstable();
                cs
            })
            .collect();
        let mut grad_sq = Vec::new();
        model.set_support(&support, &mut grad_sq);
        let order = shuffled(inputs.len());
        let mut learned = vec![0f32; inputs.len()];
        let mut scratch = Scratch::new(classes);
        for epoch in 0..opts.epochs {
            if epoch == 1 && opts.confusion < 1.0 {
                // Let each feature count against the classes its texts were confused with.
                let mut added = false;
                for (x, class) in &inputs {
                    let d = model.dist(x, &mut scratch);
                    for &(c, p) in &d.scored {
                        if c == *class || p < opts.confusion {
                            continue;
                        }
                        for &(f, _) in x {
                            let s = &mut support[f as usize];
                            if !s.is_empty() && s.len() < opts.max_support {
                                if let Err(at) = s.binary_search(&c) {
                                    s.insert(at, c);
                                    added = true;
                                }
                            }
                        }
                    }
                }
                if added {
                    model.set_support(&support, &mut grad_sq);
                }
            }
            for &i in &order {
                // An example the model already gets right with near certainty is revisited
                // only every third epoch.
                if learned[i] >= opts.learned && (epoch + i) % opts.revisit.max(1) != 0 {
                    continue;
                }
                let (x, class) = &inputs[i];
                learned[i] = model.step(x, *class, opts, &mut grad_sq, &mut scratch);
            }
        }
        model
    }

    /// Lays out weights for `support`, with their AdaGrad sums in `grad_sq`, carrying over the
    /// value and sum of each weight that was there before.
    fn set_support(&mut self, support: &[Vec<u32>], grad_sq: &mut Vec<f32>) {
        let old_start = std::mem::take(&mut self.start);
        let old = std::mem::take(&mut self.weights);
        let old_sq = std::mem::take(grad_sq);
        let total: usize = support.iter().map(Vec::len).sum();
        self.start = Vec::with_capacity(support.len() + 1);
        self.weights = Vec::with_capacity(total);
        grad_sq.reserve(total);
        for (f, cs) in support.iter().enumerate() {
            self.start.push(self.weights.len() as u32);
            let before = match old_start.get(f..f + 2) {
                Some(s) => s[0] as usize..s[1] as usize,
                None => 0..0,
            };
            for &c in cs {
                let prev = before.clone().find(|&i| old[i].0 == c);
                self.weights.push((c, prev.map_or(0.0, |i| old[i].1)));
                grad_sq.push(prev.map_or(1e-6, |i| old_sq[i]));
            }
        }
        self.start.push(self.weights.len() as u32);
    }

    /// One AdaGrad step on one example; returns the probability the model gave its class before
    /// the step. The forward pass is [`Model::dist`]'s, with the probabilities left in the
    /// scratch logits of the classes they belong to instead of a list, so that the update
    /// reads them without a search and nothing is allocated.
    fn step(
        &mut self,
        x: &Input,
        class: u32,
        opts: &TrainOptions,
        grad_sq: &mut [f32],
        scratch: &mut Scratch,
    ) -> f32 {
        let rest = self.forward(x, scratch);
        let right = if scratch.mark[class as usize] {
            scratch.logit[class as usize]
        } else {
            rest
        };
        for &(f, v) in x {
            let (a, b) = (
                self.start[f as usize] as usize,
                self.start[f as usize + 1] as usize,
            );
            for (weight, sq) in self.weights[a..b].iter_mut().zip(&mut grad_sq[a..b]) {
                let (c, w) = *weight;
                let p = scratch.logit[c as usize];
                let target = if c == class { 1.0 } else { 0.0 };
                let error = p - target;
                if error.abs() < opts.settled {
                    continue;
                }
                let g = error * v + opts.l2 * w;
                *sq += g * g;
                weight.1 -= opts.learning_rate * g / sq.sqrt();
            }
        }
        for &c in &scratch.touched {
            scratch.logit[c as usize] = 0.0;
            scratch.mark[c as usize] = false;
        }
        scratch.touched.clear();
        right
    }

    /// The forward pass: leaves the probability of every class some weight of `x` touched in
    /// `scratch.logit` (those classes marked and listed in `scratch.touched`), and returns the
    /// probability of each of the others. The caller clears the scratch.
    fn forward(&self, x: &Input, scratch: &mut Scratch) -> f32 {
        for &(f, v) in x {
            let (a, b) = (
                self.start[f as usize] as usize,
                self.start[f as usize + 1] as usize,
            );
            for &(c, w) in &self.weights[a..b] {
                if !scratch.mark[c as usize] {
                    scratch.mark[c as usize] = true;
                    scratch.touched.push(c);
                }
                scratch.logit[c as usize] += w * v;
            }
        }
        let t = self.temperature;
        let mut max = 0f32;
        for &c in &scratch.touched {
            max = max.max(scratch.logit[c as usize] / t);
        }
        let untouched = (self.classes - scratch.touched.len()) as f32;
        let rest = (-max).exp();
        let mut z = untouched * rest;
        for &c in &scratch.touched {
            let e = (scratch.logit[c as usize] / t - max).exp();
            z += e;
            scratch.logit[c as usize] = e;
        }
        for &c in &scratch.touched {
            scratch.logit[c as usize] /= z;
        }
        rest / z
    }

    /// A text's features as the model reads them.
    pub(crate) fn input(&self, feats: &[u64]) -> Input {
        let mut x: Input = Vec::with_capacity(feats.len());
        let mut unknown = 0usize;
        for k in feats {
            match self.index.get(k) {
                Some(&f) => x.push((f, self.value[f as usize])),
                None => unknown += 1,
            }
        }
        let known: f32 = x.iter().map(|(_, v)| v * v).sum();
        let norm = (known + unknown as f32 * self.unseen * self.unseen).sqrt();
        if norm > 0.0 {
            for (_, v) in &mut x {
                *v /= norm;
            }
        }
        x
    }

    /// Class probabilities for an input.
    fn dist(&self, x: &Input, scratch: &mut Scratch) -> Dist {
        let rest = self.forward(x, scratch);
        let mut scored = Vec::with_capacity(scratch.touched.len());
        for &c in &scratch.touched {
            scored.push((c, scratch.logit[c as usize]));
            scratch.logit[c as usize] = 0.0;
            scratch.mark[c as usize] = false;
        }
        scratch.touched.clear();
        Dist { scored, rest }
    }

    /// Class probabilities for a text's features.
    pub(crate) fn predict(&self, feats: &[u64]) -> Dist {
        self.predict_input(&self.input(feats))
    }

    /// Class probabilities for an input made by [`Model::input`].
    pub(crate) fn predict_input(&self, x: &Input) -> Dist {
        SCRATCH.with_borrow_mut(|s| {
            if s.logit.len() < self.classes {
                *s = Scratch::new(self.classes);
            }
            self.dist(x, s)
        })
    }

    /// Number of features the model knows.
    pub(crate) fn feature_count(&self) -> usize {
        self.value.len()
    }

    /// Sets the temperature that best predicts the classes of `held_out` (least log loss over a
    /// grid from 0.25 to about 2.5).
    pub(crate) fn fit_temperature(&mut self, held_out: &[(Vec<u64>, u32)]) {
        if held_out.is_empty() {
            return;
        }
        let inputs: Vec<(Input, u32)> = held_out.iter().map(|(f, c)| (self.input(f), *c)).collect();
        let mut best = (f32::INFINITY, 1.0);
        let mut scratch = Scratch::new(self.classes);
        for step in 0..=24 {
            let t = 0.25 * 1.1f32.powi(step);
            self.temperature = t;
            let mut nll = 0.0;
            for (x, c) in &inputs {
                let p = self.dist(x, &mut scratch).prob(*c);
                nll -= p.max(1e-9).ln();
            }
            if nll < best.0 {
                best = (nll, t);
            }
        }
        self.temperature = best.1;
    }

    /// Number of weights (for `jardam eval`'s summary).
    pub(crate) fn weight_count(&self) -> usize {
        self.weights.len()
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::new(0));
}

/// 0..n in a fixed pseudo-random order.
fn shuffled(n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..n).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    v
}
