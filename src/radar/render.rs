//! Draws the question radar as one portrait picture for phones (PNG or SVG),
//! and as a standalone HTML page with the same figures as tables.
//!
//! Privacy rule used everywhere: a count from 1 to 4 is never printed (it is
//! shown as "<5"), a (day, topic) cell of 1 to 4 is not drawn in its topic
//! colour but folded into one grey segment per day, and a bar for a count of
//! 1 to 4 always has the length of 5, so the exact value cannot be measured.

use super::{Labels, Radar};
use chrono::Duration;
use image::{ExtendedColorType, ImageEncoder, codecs::png::PngEncoder};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform, register_font};
use std::sync::Once;

const REGULAR: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/DejaVuSans.ttf"
));
const BOLD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/DejaVuSans-Bold.ttf"
));

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("the range has no days")]
    Empty,
}

type Res = Result<(), RenderError>;
type Pt = (i32, i32);

// Geometry, in pixels.
const WIDTH: i32 = 1080;
const MARGIN: i32 = 44;
const INNER: i32 = WIDTH - 2 * MARGIN;
const TOP: i32 = 160; // below the title block
const GAP: i32 = 30; // between panels
const HEAD_H: i32 = 60; // a panel heading
const CHART_H: i32 = 360; // the stacked bars, with the totals above them
const XLABEL_H: i32 = 52; // the day labels under the bars
const OUTCOME_H: i32 = 72; // the 100% bar
const ROW_H: i32 = 46; // one row of a legend or a bar list
const SWATCH: i32 = 30;
const DMY: &str = "%d.%m.%Y";
const LIST_MAX: usize = 6; // rows in the language and country lists

/// A font: size in plotters units (the em is about 0.86 of it), style, colour.
#[derive(Clone, Copy)]
struct Ink(f64, FontStyle, RGBColor);

const DARK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x5f, 0x5f, 0x5f);
const GREY: RGBColor = RGBColor(0xb4, 0xb4, 0xb4);
const RULE: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const TITLE: Ink = Ink(56.0, FontStyle::Bold, DARK);
const HEAD: Ink = Ink(42.0, FontStyle::Bold, DARK);
const TEXT: Ink = Ink(32.0, FontStyle::Normal, DARK);
const NOTE: Ink = Ink(30.0, FontStyle::Normal, MUTED);

/// Okabe–Ito colours (black left out), then three of Paul Tol's muted colours.
const PALETTE: [u32; 10] = [
    0xE69F00, 0x56B4E9, 0x009E73, 0xF0E442, 0x0072B2, 0xD55E00, 0xCC79A7, 0x332288, 0x999933,
    0x882255,
];
const FAQ_C: RGBColor = rgb(PALETTE[2]);
const EXPERT_C: RGBColor = rgb(PALETTE[4]);
const OPEN_C: RGBColor = rgb(PALETTE[5]);

const fn rgb(hex: u32) -> RGBColor {
    RGBColor((hex >> 16) as u8, (hex >> 8) as u8, hex as u8)
}

fn topic_colour(i: usize) -> RGBColor {
    rgb(PALETTE[i % PALETTE.len()])
}

/// Registers the embedded DejaVu fonts as "sans-serif", once per process.
/// They are known to be valid, and a test draws with them.
fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = register_font("sans-serif", FontStyle::Normal, REGULAR);
        let _ = register_font("sans-serif", FontStyle::Bold, BOLD);
    });
}

fn font(ink: Ink) -> FontDesc<'static> {
    FontDesc::new(FontFamily::SansSerif, ink.0, ink.1)
}

/// Width in pixels of `s` in the given font.
fn text_width(s: &str, ink: Ink) -> i32 {
    font(ink).box_size(s).map(|b| b.0 as i32).unwrap_or(0)
}

/// `s` cut with "…" so that it fits in `max` pixels.
fn fit(s: &str, max: i32, ink: Ink) -> String {
    if text_width(s, ink) <= max {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let cut = |n: usize| format!("{}…", String::from_iter(&chars[..n]).trim_end());
    let mut fitting = (0..chars.len()).rev().map(cut);
    let found = fitting.find(|t| text_width(t, ink) <= max);
    found.unwrap_or_else(|| "…".into())
}

/// The value a bar is drawn with: counts from 1 to 4 all look like 5.
fn bar_value(count: u64) -> u64 {
    if (1..5).contains(&count) { 5 } else { count }
}

/// The colour of a bar: for counts below 5, mixed with two parts of white.
fn fill(count: u64, c: RGBColor) -> RGBColor {
    let k = if count < 5 { 2 } else { 0 };
    let mix = |v: u8| ((v as u16 + 255 * k) / (1 + k)) as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// Day `i` of the range in the given chrono format.
fn day(r: &Radar, i: usize, fmt: &str) -> String {
    (r.since + Duration::days(i as i64)).format(fmt).to_string()
}

fn range(r: &Radar) -> String {
    let last = (r.until - r.since).num_days() as usize;
    format!("{} – {}", day(r, 0, DMY), day(r, last, DMY))
}

/// The footer lines: median answer time ("2 h 15 min") and rating.
fn footer(r: &Radar, l: &Labels) -> [String; 2] {
    let total = r.median_answer_minutes.map(|m| m.max(0.0).round() as u64);
    let median = match total.map(|t| (t / 60, t % 60)) {
        None => l.none.clone(),
        Some((0, m)) => format!("{m} {}", l.minutes),
        Some((h, 0)) => format!("{h} {}", l.hours),
        Some((h, m)) => format!("{h} {} {m} {}", l.hours, l.minutes),
    };
    let (up, down) = (super::shown(r.rated_up), super::shown(r.rated_down));
    let mut rating = format!(
        "{}: {} {up} · {} {down}",
        l.rating, l.helpful, l.not_helpful
    );
    if r.rated_up + r.rated_down == 0 {
        rating = format!("{}: {}", l.rating, l.none);
    }
    [format!("{}: {median}", l.median), rating]
}

/// The three outcomes with their colours and texts ("FAQ: 61 · 69%").
fn outcomes(r: &Radar, l: &Labels) -> [(u64, RGBColor, String); 3] {
    let total = (r.by_faq + r.by_experts + r.open) as f64;
    let part = |c: u64, color, name: &str| {
        let mut s = format!("{name}: {}", super::shown(c));
        if c >= 5 {
            s += &format!(" · {}%", (c as f64 * 100.0 / total).round());
        }
        (c, color, s)
    };
    [
        part(r.by_faq, FAQ_C, &l.faq),
        part(r.by_experts, EXPERT_C, &l.experts),
        part(r.open, OPEN_C, &l.open),
    ]
}

/// One day split for drawing: the topic counts of 5 or more (others as 0),
/// the sum of the counts from 1 to 4, and the day's total.
fn split_day(row: &[u64], topics: usize) -> (Vec<u64>, u64, u64) {
    let row = &row[..row.len().min(topics)];
    let big = row.iter().map(|&c| if c >= 5 { c } else { 0 }).collect();
    let small = row.iter().filter(|&&c| c < 5).sum();
    (big, small, row.iter().sum())
}

/// A legend item: text, colour, x offset and row.
type Item = (String, RGBColor, i32, i32);

/// Where the panels go; computed before drawing so the height fits the content.
struct Plan {
    /// Top of each panel: days, outcomes, unmet groups, lists, footer; then the height.
    tops: [i32; 6],
    /// Moves text down by this share of the font size, so that a text's `top`
    /// is the top of its capitals on the backend drawn on.
    shift: f64,
}

/// Lays legend items out left to right, wrapping at the inner width, with
/// texts cut to fit; returns the items and the number of rows.
fn flow(items: Vec<(String, RGBColor)>) -> (Vec<Item>, i32) {
    let (mut x, mut row, mut out) = (0, 0, Vec::new());
    for (s, c) in items {
        let s = fit(&s, INNER - SWATCH - 12, TEXT);
        let w = SWATCH + 12 + text_width(&s, TEXT);
        if x > 0 && x + w > INNER {
            (x, row) = (0, row + 1);
        }
        out.push((s, c, x, row));
        x += w + 36;
    }
    let rows = if out.is_empty() { 0 } else { row + 1 };
    (out, rows)
}

/// The topic legend and the outcome legend, laid out, with their numbers of rows.
fn legends(r: &Radar, l: &Labels) -> [(Vec<Item>, i32); 2] {
    let topics = r.topics.iter().enumerate();
    let mut legend: Vec<_> = topics.map(|(i, t)| (t.clone(), topic_colour(i))).collect();
    if r.per_day.iter().any(|d| split_day(d, r.topics.len()).1 > 0) {
        legend.push((l.small.clone(), GREY));
    }
    let ends = outcomes(r, l).map(|(n, c, s)| (s, fill(n, c)));
    [flow(legend), flow(ends.to_vec())]
}

/// The first rows of a list; the picture shows no more (the HTML tables show all).
fn first(items: &[(String, u64)], n: usize) -> &[(String, u64)] {
    &items[..items.len().min(n)]
}

/// Checks the range, registers the fonts and plans the picture.
fn plan(r: &Radar, l: &Labels, shift: f64) -> Result<Plan, RenderError> {
    if r.per_day.is_empty() || r.since > r.until {
        return Err(RenderError::Empty);
    }
    fonts();
    let [(_, legend_rows), (_, ends_rows)] = legends(r, l);
    let rows = |v: &[_], n| first(v, n).len().max(1) as i32;
    let list_rows = rows(&r.languages, LIST_MAX).max(rows(&r.countries, LIST_MAX));
    let heights = [
        HEAD_H + CHART_H + XLABEL_H + legend_rows * ROW_H,
        HEAD_H + OUTCOME_H + 18 + ends_rows * ROW_H,
        HEAD_H + rows(&r.top_unmet, 8) * ROW_H,
        HEAD_H + list_rows * ROW_H,
        2 * ROW_H,
    ];
    let mut tops = [TOP; 6];
    for (i, h) in heights.iter().enumerate() {
        tops[i + 1] = tops[i] + h + GAP;
    }
    Ok(Plan { tops, shift })
}

fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> RenderError {
    RenderError::Draw(e.to_string())
}

/// Draws the radar, its labels and plan on one drawing area.
struct Pen<'a, DB: DrawingBackend>(&'a DrawingArea<DB, Shift>, &'a Radar, &'a Labels, &'a Plan);

impl<DB: DrawingBackend> Pen<'_, DB> {
    fn text(&self, s: &str, (x, top): Pt, ink: Ink, h: HPos) -> Res {
        let style = font(ink).color(&ink.2).pos(Pos::new(h, VPos::Top));
        let y = top + (self.3.shift * ink.0).round() as i32;
        let text = Text::new(s.to_string(), (x, y), style);
        self.0.draw(&text).map_err(draw_err)
    }

    /// Left-aligned text cut to `max` pixels, centred vertically on `mid`.
    fn label(&self, s: &str, (x, mid): Pt, ink: Ink, max: i32) -> Res {
        let top = mid - (0.31 * ink.0) as i32;
        self.text(&fit(s, max, ink), (x, top), ink, HPos::Left)
    }

    /// Text that reads upwards from `bottom`, centred on `x`.
    fn up(&self, s: &str, (x, bottom): Pt, ink: Ink) -> Res {
        let style = font(ink).transform(FontTransform::Rotate270);
        let left = x + ((self.3.shift - 0.31) * ink.0).round() as i32;
        let text = Text::new(s.to_string(), (left, bottom), style.color(&ink.2));
        self.0.draw(&text).map_err(draw_err)
    }

    fn rect(&self, a: Pt, b: Pt, color: RGBColor) -> Res {
        let rect = Rectangle::new([a, b], color.filled());
        self.0.draw(&rect).map_err(draw_err)
    }

    /// A panel heading at `x`, cut to `max`; a full-width one has a thin line above.
    fn heading(&self, s: &str, (x, top): Pt, max: i32) -> Res {
        if max == INNER {
            self.rect((MARGIN, top - 18), (WIDTH - MARGIN, top - 16), RULE)?;
        }
        self.text(&fit(s, max, HEAD), (x, top + 4), HEAD, HPos::Left)
    }

    fn legend(&self, items: &[Item], top: i32) -> Res {
        for (s, c, x, row) in items {
            let (x, mid) = (MARGIN + x, top + row * ROW_H + ROW_H / 2);
            let half = SWATCH / 2;
            self.rect((x, mid - half), (x + SWATCH, mid + half), *c)?;
            self.label(s, (x + SWATCH + 12, mid), TEXT, INNER)?;
        }
        Ok(())
    }

    /// A list of horizontal bars with label and count at (x, top), `w` wide,
    /// `share` percent of it for the labels.
    fn bars(&self, items: &[(String, u64)], (x, top): Pt, (w, share): Pt, c: RGBColor) -> Res {
        if items.is_empty() {
            return self.label(&self.2.none, (x, top + ROW_H / 2), NOTE, w);
        }
        let label_w = w * share / 100;
        let bar_max = (w - label_w - text_width("00000", TEXT) - 24).max(10) as f64;
        let longest = items.iter().map(|i| bar_value(i.1)).max();
        let longest = longest.unwrap_or(1).max(1) as f64;
        for (i, (label, count)) in items.iter().enumerate() {
            let mid = top + i as i32 * ROW_H + ROW_H / 2;
            self.label(label, (x, mid), TEXT, label_w - 12)?;
            let (x0, half) = (x + label_w, ROW_H * 3 / 10);
            let len = (bar_max * bar_value(*count) as f64 / longest).round() as i32;
            if *count > 0 {
                self.rect((x0, mid - half), (x0 + len, mid + half), fill(*count, c))?;
            }
            self.label(&super::shown(*count), (x0 + len + 10, mid), TEXT, WIDTH)?;
        }
        Ok(())
    }

    /// The stacked bars per day, the totals above them and the day labels below.
    fn days(&self, top: i32) -> Res {
        let r = self.1;
        let n = r.per_day.len();
        let slot = INNER as f64 / n as f64;
        let half_bar = (slot * 0.36).max(1.0);
        let split = |d: &Vec<u64>| split_day(d, r.topics.len());
        let days: Vec<_> = r.per_day.iter().map(split).collect();
        let totals: Vec<_> = days.iter().map(|d| super::shown(d.2)).collect();
        let widest = totals.iter().map(|t| text_width(t, NOTE)).max();
        let widest = widest.unwrap_or(0);
        // Totals that do not fit across a bar are written upwards.
        let upwards = widest as f64 > slot - 6.0;
        let pad = if upwards { widest + 14 } else { 42 };
        let base = top + CHART_H;
        let max_total = days.iter().map(|d| d.2).max().unwrap_or(0).max(1);
        let scale = (CHART_H - pad) as f64 / max_total as f64;
        let y = |v: u64| base - (v as f64 * scale).round() as i32;
        for (i, (big, small, total)) in days.iter().enumerate() {
            let cx = MARGIN as f64 + slot * (i as f64 + 0.5);
            let x0 = (cx - half_bar).round() as i32;
            let x1 = (cx + half_bar).round() as i32;
            let colours = (0..).map(topic_colour);
            let segments = big.iter().copied().zip(colours);
            let mut sum = 0;
            for (c, colour) in segments.chain([(*small, GREY)]).filter(|s| s.0 > 0) {
                // A white line of one pixel keeps neighbouring segments apart.
                let apart = i32::from(sum > 0 && y(sum) - y(sum + c) > 3);
                self.rect((x0, y(sum + c)), (x1, y(sum) - apart), colour)?;
                sum += c;
            }
            let at = (cx as i32, y(*total) - 8);
            if upwards {
                self.up(&totals[i], at, NOTE)?;
            } else {
                let at = (at.0, at.1 - 22);
                self.text(&totals[i], at, NOTE, HPos::Center)?;
            }
        }
        self.rect((MARGIN, base), (WIDTH - MARGIN, base + 2), DARK)?;
        let label_w = text_width("00.00", NOTE) + 18;
        let every = (label_w as f64 / slot).ceil().max(1.0) as usize;
        for i in (0..n).step_by(every) {
            let cx = (MARGIN as f64 + slot * (i as f64 + 0.5)) as i32;
            let at = (cx, base + 14);
            self.text(&day(r, i, "%d.%m"), at, NOTE, HPos::Center)?;
        }
        Ok(())
    }

    /// The 100% bar of outcomes; parts of 1 to 4 are drawn as wide as 5.
    fn outcome_bar(&self, top: i32) -> Res {
        let parts = outcomes(self.1, self.2);
        let total: u64 = parts.iter().map(|p| bar_value(p.0)).sum();
        let bottom = top + OUTCOME_H;
        if total == 0 {
            self.rect((MARGIN, top), (WIDTH - MARGIN, bottom), RULE)?;
            let at = (MARGIN + 16, top + OUTCOME_H / 2);
            return self.label(&self.2.none, at, NOTE, INNER);
        }
        let x = |v: u64| MARGIN + (INNER as f64 * v as f64 / total as f64).round() as i32;
        let mut sum = 0;
        for (c, colour, _) in parts.into_iter().filter(|p| p.0 > 0) {
            let end = sum + bar_value(c);
            let apart = if end < total { 2 } else { 0 };
            self.rect((x(sum), top), (x(end) - apart, bottom), fill(c, colour))?;
            sum = end;
        }
        Ok(())
    }

    /// Draws the whole picture.
    fn draw(&self) -> Res {
        let (r, l, [days, ends, unmet, lists, bottom, _]) = (self.1, self.2, self.3.tops);
        self.0.fill(&WHITE).map_err(draw_err)?;
        let title = fit(&l.title, INNER, TITLE);
        self.text(&title, (MARGIN, 40), TITLE, HPos::Left)?;
        self.text(&range(r), (MARGIN, 108), NOTE, HPos::Left)?;
        self.heading(&l.per_day, (MARGIN, days), INNER)?;
        self.days(days + HEAD_H)?;
        let [(legend, _), (ends_legend, _)] = legends(r, l);
        self.legend(&legend, days + HEAD_H + CHART_H + XLABEL_H)?;
        self.heading(&l.outcomes, (MARGIN, ends), INNER)?;
        self.outcome_bar(ends + HEAD_H)?;
        self.legend(&ends_legend, ends + HEAD_H + OUTCOME_H + 18)?;
        self.heading(&l.top_unmet, (MARGIN, unmet), INNER)?;
        let unmet_rows = first(&r.top_unmet, 8);
        self.bars(unmet_rows, (MARGIN, unmet + HEAD_H), (INNER, 56), OPEN_C)?;
        // Languages and countries side by side, under one thin line.
        let (half, top) = ((INNER - 40) / 2, lists + HEAD_H);
        let right = MARGIN + half + 40;
        self.rect((MARGIN, lists - 18), (WIDTH - MARGIN, lists - 16), RULE)?;
        self.heading(&l.languages, (MARGIN, lists), half)?;
        self.heading(&l.countries, (right, lists), half)?;
        let (languages, countries) = (first(&r.languages, LIST_MAX), first(&r.countries, LIST_MAX));
        self.bars(languages, (MARGIN, top), (half, 44), EXPERT_C)?;
        self.bars(countries, (right, top), (half, 44), FAQ_C)?;
        self.rect((MARGIN, bottom - 18), (WIDTH - MARGIN, bottom - 16), RULE)?;
        for (i, line) in footer(r, l).iter().enumerate() {
            let mid = bottom + i as i32 * ROW_H + ROW_H / 2;
            self.label(line, (MARGIN, mid), TEXT, INNER)?;
        }
        self.0.present().map_err(draw_err)
    }
}

/// The picture as encoded PNG bytes.
pub fn png(r: &Radar, l: &Labels) -> Result<Vec<u8>, RenderError> {
    let p = plan(r, l, 0.126)?;
    let (w, h) = (WIDTH as u32, p.tops[5] as u32);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
    Pen(&area, r, l, &p).draw()?;
    drop(area);
    let mut out = Vec::new();
    let encoder = PngEncoder::new(&mut out);
    let encoded = encoder.write_image(&rgb, w, h, ExtendedColorType::Rgb8);
    encoded.map_err(|e| RenderError::Draw(e.to_string()))?;
    Ok(out)
}

/// The picture as an SVG document.
pub fn svg(r: &Radar, l: &Labels) -> Result<String, RenderError> {
    let p = plan(r, l, -0.025)?;
    let mut out = String::new();
    let size = (WIDTH as u32, p.tops[5] as u32);
    let area = SVGBackend::with_string(&mut out, size).into_drawing_area();
    Pen(&area, r, l, &p).draw()?;
    drop(area);
    Ok(out)
}

/// Escapes a text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let s = s.replace('&', "&amp;").replace('<', "&lt;");
    let s = s.replace('>', "&gt;").replace('"', "&quot;");
    s.replace('\'', "&#39;")
}

/// An HTML table under a heading (none if empty); every text is escaped here.
fn table(caption: &str, head: &[String], rows: &[Vec<String>]) -> String {
    let row = |tag: &str, cells: &[String]| {
        let cells = cells.iter().map(|c| format!("<{tag}>{}</{tag}>", esc(c)));
        format!("<tr>{}</tr>", cells.collect::<String>())
    };
    let mut out = match caption {
        "" => "<table>".to_string(),
        c => format!("<h2>{}</h2>\n<table>", esc(c)),
    };
    if !head.is_empty() {
        out += &row("th", head);
    }
    out.extend(rows.iter().map(|r| row("td", r)));
    out + "</table>\n"
}

fn list_rows(items: &[(String, u64)], none: &str) -> Vec<Vec<String>> {
    if items.is_empty() {
        return vec![vec![none.to_string()]];
    }
    let row = |(s, c): &(String, u64)| vec![s.clone(), super::shown(*c)];
    items.iter().map(row).collect()
}

/// A standalone HTML page: the SVG picture, then the same figures as tables.
/// As in the picture, topic cells below 5 are folded into the small column.
pub fn html(r: &Radar, l: &Labels) -> Result<String, RenderError> {
    let picture = svg(r, l)?;
    let dash = |c: u64, s: String| if c == 0 { "–".to_string() } else { s };
    let mut head = vec![String::new()];
    head.extend(r.topics.iter().cloned());
    head.extend([l.small.clone(), "Σ".into()]);
    let mut days = Vec::new();
    for (i, row) in r.per_day.iter().enumerate() {
        let (big, small, total) = split_day(row, r.topics.len());
        let mut cells = vec![day(r, i, "%d.%m.%Y")];
        cells.extend(big.iter().map(|&c| dash(c, c.to_string())));
        cells.resize(r.topics.len() + 1, dash(0, String::new()));
        cells.push(dash(small, super::shown(small)));
        cells.push(super::shown(total));
        days.push(cells);
    }
    let ends = outcomes(r, l).map(|(_, _, s)| vec![s]);
    let footer = footer(r, l).map(|s| vec![s]);
    let t = esc(&format!("{} {}", l.title, range(r)));
    let style = "body{font-family:sans-serif;max-width:1080px;margin:auto;padding:8px}\
        svg{max-width:100%;height:auto}table{border-collapse:collapse;margin-bottom:16px}\
        td,th{border:1px solid #ccc;padding:4px 8px}";
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title><style>{style}</style></head><body>\n<h1>{t}</h1>\n{picture}\n"
    );
    page += &table(&l.per_day, &head, &days);
    page += &table(&l.outcomes, &[], &ends);
    page += &table(&l.top_unmet, &[], &list_rows(&r.top_unmet, &l.none));
    page += &table(&l.languages, &[], &list_rows(&r.languages, &l.none));
    page += &table(&l.countries, &[], &list_rows(&r.countries, &l.none));
    page += &table("", &[], &footer);
    Ok(page + "</body></html>\n")
}
