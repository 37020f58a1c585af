//! Matcher speed and memory: load + training and queries on the shipped knowledge base, and on
//! a synthetic knowledge base of 5,000 entries. Run with `cargo bench --bench matcher`.
//!
//! Besides criterion's timings it prints the latency percentiles of the evaluation-set
//! questions and the heap held by each index (counted by a wrapping allocator).

use criterion::{Criterion, criterion_group, criterion_main};
use jardam::kb::{self, CheckOptions, KnowledgeBase};
use jardam::matcher::Matcher;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts the bytes currently allocated, to measure what an index holds.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Builds with `build` and reports the heap the result holds, in MB.
fn held_mb<T>(build: impl FnOnce() -> T) -> (T, f64) {
    let before = HELD.load(Ordering::Relaxed);
    let value = build();
    let after = HELD.load(Ordering::Relaxed);
    (value, after.saturating_sub(before) as f64 / 1e6)
}

fn eval_questions() -> Vec<String> {
    std::fs::read_to_string("tests/eval/dev.tsv")
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(3).map(str::to_string))
        .collect()
}

/// Median and 99th percentile of one query's time, in µs, over every question `rounds` times.
fn percentiles(m: &Matcher, questions: &[String], rounds: usize) -> (f64, f64) {
    let mut times = Vec::with_capacity(questions.len() * rounds);
    for _ in 0..rounds {
        for q in questions {
            let t = Instant::now();
            black_box(m.ask(q, None, None));
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

fn shipped_kb() -> KnowledgeBase {
    kb::load("dialogues".as_ref(), &CheckOptions::default())
        .unwrap()
        .0
}

fn shipped(c: &mut Criterion) {
    let kb = shipped_kb();
    let (m, mb) = held_mb(|| Matcher::new(&kb));
    let questions = eval_questions();
    let (p50, p99) = percentiles(&m, &questions, 20);
    eprintln!(
        "shipped knowledge base: model {mb:.1} MB; {} eval questions × 20: median {p50:.1} µs, p99 {p99:.1} µs",
        questions.len()
    );
    let mut group = c.benchmark_group("shipped knowledge base");
    group.sample_size(10);
    group.bench_function("load + train", |b| {
        b.iter(|| black_box(Matcher::new(&shipped_kb())))
    });
    group.finish();
    c.bench_function("one query, shipped knowledge base", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % questions.len();
            black_box(m.ask(&questions[i], None, None))
        })
    });
}

/// 5,000 entries of 12 phrasings, each phrasing 4–8 words drawn from the shipped phrasings'
/// vocabulary, so that words, n-grams and their frequencies are those of real questions.
fn synthetic(c: &mut Criterion) {
    let kb = shipped_kb();
    let mut vocabulary: Vec<String> = kb
        .entries
        .iter()
        .flat_map(|e| e.questions.0.iter().flatten())
        .flat_map(|q| q.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    vocabulary.sort();
    vocabulary.dedup();
    let mut seed: u64 = 42;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let mut owned: Vec<(u32, String)> = Vec::new();
    for e in 0..5000u32 {
        for _ in 0..12 {
            let n = 4 + next() % 5;
            let words: Vec<&str> = (0..n)
                .map(|_| vocabulary[next() % vocabulary.len()].as_str())
                .collect();
            owned.push((e, words.join(" ")));
        }
    }
    let texts: Vec<(u32, Option<jardam::lang::Lang>, &str)> =
        owned.iter().map(|(e, t)| (*e, None, t.as_str())).collect();
    let ids: Vec<String> = (0..5000).map(|i| format!("t.e{i}")).collect();
    // Training takes seconds here: timed once, outside criterion's many samples.
    let started = Instant::now();
    let (m, mb) = held_mb(|| Matcher::build(ids.clone(), vec![false; 5000], &texts));
    let trained = started.elapsed().as_secs_f64();
    let questions = eval_questions();
    let (p50, p99) = percentiles(&m, &questions, 3);
    eprintln!(
        "synthetic 5,000 entries ({} words of vocabulary): trained in {trained:.1} s, model {mb:.1} MB; eval questions × 3: median {p50:.1} µs, p99 {p99:.1} µs",
        vocabulary.len()
    );
    c.bench_function("one query, 5000 entries", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % questions.len();
            black_box(m.ask(&questions[i], None, None))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = shipped, synthetic
}
criterion_main!(benches);
