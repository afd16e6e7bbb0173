//! Uploaded images, decoded within limits: the header is read first and an image larger than
//! [`crate::Settings::max_pixels`] (or wider or taller than [`MAX_SIDE`]) is refused before any
//! pixel is decoded.

use std::io::Cursor;

use base64::Engine as _;
use image::{ImageFormat, ImageReader, Limits, RgbImage};

/// The longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 12_000;

/// Why an upload could not be used as an image.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PictureError {
    /// The text was not base64.
    #[error("the image is not valid base64")]
    Base64,
    /// The bytes are not a JPEG or PNG image.
    #[error("the data is not a JPEG or PNG image")]
    NotAnImage,
    /// The header announces more pixels than allowed.
    #[error(
        "the image is {width}×{height} pixels; at most {max_pixels} pixels and {max_side} a side are accepted"
    )]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_side: u32,
    },
    /// The header was read but the pixels could not be decoded.
    #[error("the image could not be decoded: {0}")]
    Corrupt(String),
}

impl PictureError {
    /// A stable code for the error, for answers and logs.
    pub fn code(&self) -> &'static str {
        match self {
            PictureError::Base64 => "image_not_base64",
            PictureError::NotAnImage => "not_an_image",
            PictureError::TooLarge { .. } => "image_too_large",
            PictureError::Corrupt(_) => "image_corrupt",
        }
    }
}

/// Decodes base64 text (a `data:` URL prefix and whitespace are allowed) to an image.
pub fn decode_base64(text: &str, max_pixels: u64) -> Result<RgbImage, PictureError> {
    let text = match text.find(";base64,") {
        Some(i) if text.starts_with("data:") => &text[i + 8..],
        _ => text,
    };
    let cleaned: String;
    let text = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        cleaned = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        &cleaned
    } else {
        text
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
        .map_err(|_| PictureError::Base64)?;
    decode(&bytes, max_pixels)
}

/// Decodes JPEG or PNG bytes to an RGB image, refusing it from its header when it is larger
/// than `max_pixels` or [`MAX_SIDE`] a side.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, PictureError> {
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png)) => f,
        _ => return Err(PictureError::NotAnImage),
    };
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    let (width, height) = reader
        .into_dimensions()
        .map_err(|_| PictureError::NotAnImage)?;
    if width == 0 || height == 0 {
        return Err(PictureError::NotAnImage);
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > max_pixels {
        return Err(PictureError::TooLarge {
            width,
            height,
            max_pixels,
            max_side: MAX_SIDE,
        });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // Decoded RGBA at 16 bits a channel at most, plus the decoder's own buffers.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| PictureError::Corrupt(e.to_string()))?;
    Ok(image.into_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        RgbImage::new(width, height)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn decodes_within_limits() {
        let image = decode(&png(30, 20), 1000).unwrap();
        assert_eq!(image.dimensions(), (30, 20));
        let b64 = base64::engine::general_purpose::STANDARD.encode(png(3, 2));
        assert_eq!(decode_base64(&b64, 100).unwrap().dimensions(), (3, 2));
        let url = format!("data:image/png;base64,{b64}");
        assert_eq!(decode_base64(&url, 100).unwrap().dimensions(), (3, 2));
    }

    #[test]
    fn refuses_large_and_non_images() {
        let err = decode(&png(30, 20), 599).unwrap_err();
        assert_eq!(err.code(), "image_too_large");
        assert_eq!(decode(b"hello", 100).unwrap_err(), PictureError::NotAnImage);
        assert_eq!(decode_base64("%%%", 100).unwrap_err(), PictureError::Base64);
        let mut truncated = png(30, 20);
        truncated.truncate(40);
        assert!(decode(&truncated, 1000).is_err());
    }
}
