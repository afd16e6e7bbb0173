//! QR codes as PNG images: the URL a device scans, encoded with error correction level M and
//! drawn black on white, [`MODULE_PX`] pixels per module, with the standard quiet zone of
//! [`QUIET_MODULES`] modules, as a 1-bit greyscale PNG (a few kilobytes).

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per QR module.
pub(crate) const MODULE_PX: usize = 8;
/// Light modules around the code, as the standard asks for.
pub(crate) const QUIET_MODULES: usize = 4;

/// The PNG of a QR code holding `text`. Fails only for text too long for any QR code.
pub fn png(text: &str) -> Result<Vec<u8>, String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| format!("cannot encode {} bytes as a QR code: {e}", text.len()))?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_MODULES) * MODULE_PX;
    // 1 bit per pixel, rows padded to whole bytes; 1 is white.
    let row_bytes = side.div_ceil(8);
    let mut pixels = vec![0xffu8; row_bytes * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules, i / modules);
        for y in 0..MODULE_PX {
            let py = (my + QUIET_MODULES) * MODULE_PX + y;
            for x in 0..MODULE_PX {
                let px = (mx + QUIET_MODULES) * MODULE_PX + x;
                pixels[py * row_bytes + px / 8] &= !(0x80 >> (px % 8));
            }
        }
    }
    let side = u32::try_from(side).map_err(|_| "the QR code is too large".to_string())?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("PNG encoding failed: {e}"))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| format!("PNG encoding failed: {e}"))?;
    writer
        .finish()
        .map_err(|e| format!("PNG encoding failed: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_becomes_a_png_of_whole_modules() {
        let url = "https://idv.example.com/mobile?authorization=Token%20tr-pn7u6f5wizj9l7fnx4nzu8pqrnlwr&sessionId=0123456789abcdef01234567";
        let bytes = png(url).expect("encodes");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let reader = decoder.read_info().expect("decodes");
        let (w, h) = reader.info().size();
        assert_eq!(w, h);
        assert_eq!(w as usize % MODULE_PX, 0);
        let modules = w as usize / MODULE_PX - 2 * QUIET_MODULES;
        // Versions are 21, 25, ... modules wide.
        assert_eq!((modules - 21) % 4, 0, "{modules}");
    }

    #[test]
    fn text_too_long_is_an_error() {
        assert!(png(&"x".repeat(8_000)).is_err());
    }
}
