//! Matcher speed: index build and one query on the shipped knowledge base, and on a synthetic
//! knowledge base of 5,000 entries. Run with `cargo bench --bench matcher`.

use criterion::{Criterion, criterion_group, criterion_main};
use jardam::kb::{self, CheckOptions};
use jardam::matcher::Matcher;
use std::hint::black_box;

const QUESTIONS: &[&str] = &[
    "как встать на миграционный учет в Москве",
    "patent kerekpi Rossiyada",
    "Bolam Rossiyada tug'ildi, hujjatlarini qanday qilaman",
    "my employer has not paid me for two months",
    "пенсияга чет элде иштеген жылдар кошулабы",
];

fn shipped(c: &mut Criterion) {
    let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
    c.bench_function("index build, shipped knowledge base", |b| {
        b.iter(|| black_box(Matcher::new(&kb)))
    });
    let m = Matcher::new(&kb);
    c.bench_function("one query, shipped knowledge base", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % QUESTIONS.len();
            black_box(m.ask(QUESTIONS[i], None, None))
        })
    });
}

/// 5,000 entries with 12 phrasings each, made of syllables so that n-grams overlap as in real
/// text.
fn synthetic(c: &mut Criterion) {
    const SYL: &[&str] = &[
        "ka", "to", "re", "gis", "tra", "ci", "ya", "pa", "tent", "jum", "ush", "bo", "la", "pen",
        "si", "mos", "kva", "al", "ma", "ti",
    ];
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
            let words: Vec<String> = (0..5)
                .map(|_| (0..3).map(|_| SYL[next() % SYL.len()]).collect::<String>())
                .collect();
            owned.push((e, words.join(" ")));
        }
    }
    let texts: Vec<(u32, Option<jardam::lang::Lang>, &str)> =
        owned.iter().map(|(e, t)| (*e, None, t.as_str())).collect();
    let ids: Vec<String> = (0..5000).map(|i| format!("t.e{i}")).collect();
    c.bench_function("index build, 5000 entries", |b| {
        b.iter(|| black_box(Matcher::build(ids.clone(), vec![false; 5000], &texts)))
    });
    let m = Matcher::build(ids.clone(), vec![false; 5000], &texts);
    c.bench_function("one query, 5000 entries", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % owned.len();
            black_box(m.ask(&owned[(i * 7919) % owned.len()].1, None, None))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = shipped, synthetic
}
criterion_main!(benches);
