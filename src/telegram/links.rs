//! Deep links to one answer (`t.me/<bot>?start=<payload>`), and QR codes of them for posters
//! and leaflets.

use crate::kb::KnowledgeBase;
use anyhow::{Context, bail};
use qrcode::QrCode;
use std::path::Path;

/// `https://t.me/<bot>?start=<payload>` for an entry; the entry must exist.
pub fn deep_link(kb: &KnowledgeBase, bot_username: &str, entry_id: &str) -> anyhow::Result<String> {
    if kb.entry(entry_id).is_none() {
        bail!("'{entry_id}' is not an entry id (see `jardam check` for the list of files)");
    }
    let bot = bot_username.trim().trim_start_matches('@');
    let valid =
        (5..=32).contains(&bot.len()) && bot.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        bail!("'{bot}' is not a Telegram bot username (5–32 letters, digits or _)");
    }
    Ok(format!(
        "https://t.me/{bot}?start={}",
        encode_start(entry_id)
    ))
}

/// Deep-link payloads may use only `A-Za-z0-9_-`; entry ids use `.` where the payload uses `_`.
pub fn encode_start(entry_id: &str) -> String {
    entry_id.replace('.', "_")
}

/// The entry id of a deep link's payload.
pub fn decode_start(payload: &str) -> String {
    payload.replace('_', ".")
}

/// Writes the QR code of `link` as PNG or SVG, chosen by the file's extension.
pub fn write_qr(link: &str, out: &Path) -> anyhow::Result<()> {
    let code = QrCode::new(link.as_bytes()).context("cannot encode the link as a QR code")?;
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => {
            let image = code
                .render::<image::Luma<u8>>()
                .min_dimensions(600, 600)
                .build();
            image
                .save(out)
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
        Some("svg") => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(600, 600)
                .build();
            std::fs::write(out, svg).with_context(|| format!("cannot write {}", out.display()))?;
        }
        _ => bail!("{}: use a .png or .svg file name", out.display()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::{self, CheckOptions};

    fn kb() -> KnowledgeBase {
        kb::load("dialogues".as_ref(), &CheckOptions::default())
            .unwrap()
            .0
    }

    #[test]
    fn links_use_only_telegram_start_characters() {
        let link = deep_link(&kb(), "@jardam_bot", "stay.biometrics-medical").unwrap();
        assert_eq!(
            link,
            "https://t.me/jardam_bot?start=stay_biometrics-medical"
        );
        assert!(deep_link(&kb(), "jardam_bot", "stay.nowhere").is_err());
        assert!(deep_link(&kb(), "x y", "stay.term").is_err());
    }

    #[test]
    fn every_entry_id_survives_a_deep_link() {
        for e in &kb().entries {
            let payload = encode_start(&e.id);
            let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            assert!(payload.chars().all(allowed), "{payload}");
            assert!(payload.len() <= 64, "{payload}");
            assert_eq!(decode_start(&payload), e.id);
        }
    }

    #[test]
    fn qr_codes_as_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let link = "https://t.me/jardam_bot?start=stay_term";
        let png = dir.path().join("a.png");
        write_qr(link, &png).unwrap();
        let img = image::open(&png).unwrap();
        assert!(img.width() >= 600);
        let svg = dir.path().join("a.svg");
        write_qr(link, &svg).unwrap();
        assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
        assert!(write_qr(link, &dir.path().join("a.gif")).is_err());
    }
}
