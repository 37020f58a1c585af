//! The radar picture: decodes, keeps small counts hidden, escapes, draws long ranges and
//! Cyrillic.

use super::render::*;
use super::{Labels, Radar};

use chrono::{Duration, NaiveDate};

/// Pairs from "label=count;label=count".
fn pairs(s: &str) -> Vec<(String, u64)> {
    let pair = |p: &str| {
        p.split_once('=')
            .map(|(a, b)| (a.into(), b.parse().unwrap()))
    };
    s.split(';').filter_map(pair).collect()
}

/// Seven days, five topics, with some cells of 1 to 4 (one of them a 3).
fn sample() -> Radar {
    let days = "12 3 7 0 5|9 14 0 2 6|15 8 5 1 11|6 0 9 7 2|20 11 6 5 9|2 5 1 0 3|8 6 12 5 7";
    let row = |d: &str| d.split(' ').map(|c| c.parse().unwrap()).collect();
    let topics = "Documents;Work and pay;Housing;Health;Patent and registration";
    let unmet = "Patent renewal after the employer changed=23;Registration at a new address=14;\
        Salary not paid=9;A very long gap name that does not fit in the space=6;\
        Medical insurance=3;Children and school=1";
    Radar {
        since: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        until: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        topics: topics.split(';').map(String::from).collect(),
        per_day: days.split('|').map(row).collect(),
        by_faq: 161,
        by_experts: 71,
        open: 3,
        top_unmet: pairs(unmet),
        languages: pairs("Русский=140;Кыргызча=88;English=4"),
        countries: pairs("Россия=170;Казахстан=41;Кыргызстан=20;Турция=2"),
        median_answer_minutes: Some(135.4),
        rated_up: 12,
        rated_down: 3,
    }
}

/// The contents of every <text> element of an SVG.
fn texts(svg: &str) -> Vec<String> {
    let inner = |t: &str| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().into());
    svg.split("<text").skip(1).filter_map(inner).collect()
}

#[test]
fn png_decodes_with_the_expected_size() {
    let bytes = png(&sample(), &Labels::default()).unwrap();
    let n = bytes.len();
    assert!((20_000..2_000_000).contains(&n), "{n} bytes");
    let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(img.width(), 1080);
    assert!(img.pixels().any(|p| p.0 != [255, 255, 255]));
}

#[test]
fn svg_never_prints_small_numbers() {
    let texts = texts(&svg(&sample(), &Labels::default()).unwrap());
    let wanted = [
        "Question radar",
        "Documents",
        "01.12.2026 – 07.12.2026",
        "&lt;5",
    ];
    for t in wanted {
        assert!(texts.contains(&t.to_string()), "{t} is missing");
    }
    for t in ["1", "2", "3", "4"] {
        assert!(!texts.contains(&t.to_string()), "{t} is printed");
    }
}

#[test]
fn long_and_empty_ranges() {
    let (mut r, l) = (sample(), Labels::default());
    r.until = r.since + Duration::days(30);
    let row = |i| vec![i * 3 % 17, i % 5, 7, i, 120 - i];
    r.per_day = (0..31).map(row).collect();
    (r.top_unmet, r.median_answer_minutes) = (vec![], None);
    assert!(png(&r, &l).unwrap().len() > 20_000);
    assert!(texts(&svg(&r, &l).unwrap()).contains(&l.none));
    r.per_day.clear();
    assert!(matches!(png(&r, &l), Err(RenderError::Empty)));
    let mut r = sample();
    r.until = r.since - Duration::days(1);
    assert!(matches!(svg(&r, &l), Err(RenderError::Empty)));
}

#[test]
fn html_escapes_labels() {
    let (mut r, mut l) = (sample(), Labels::default());
    (r.topics[0], l.title) = ("a\"b'c".into(), "<b>&".into());
    let page = html(&r, &l).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
    assert!(page.contains("&lt;b&gt;&amp;") && !page.contains("<b>&"));
    assert!(page.contains("a&quot;b&#39;c") && page.contains("<td>&lt;5</td>"));
}

#[test]
fn cyrillic_labels_render() {
    let (mut r, mut l) = (sample(), Labels::default());
    (l.per_day, l.small) = ("Вопросы по дням".into(), "5тен аз (ө ү ң)".into());
    r.topics[4] = "Кыргызстан".into();
    assert!(png(&r, &l).is_ok());
    assert!(texts(&svg(&r, &l).unwrap()).contains(&l.per_day));
}
