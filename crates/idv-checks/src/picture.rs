//! Uploaded images, decoded within limits: the header is read first and an image larger than
//! [`crate::Settings::max_pixels`] (or wider or taller than [`MAX_SIDE`]) is refused before any
//! pixel is decoded. The EXIF orientation of a phone's photo is applied. Both contracts
//! (Document Reader and Face API) decode through here.

use std::io::Cursor;

use base64::Engine as _;
use image::{DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, Limits, RgbImage};

/// The longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 12_000;

/// Why an upload could not be used as an image.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PictureError {
    /// Nothing was sent, or an image without pixels.
    #[error("the image is empty")]
    Empty,
    /// The text was not base64.
    #[error("the image is not valid base64")]
    Base64,
    /// The bytes are not a JPEG or PNG image.
    #[error("the data is not a JPEG or PNG image")]
    NotAnImage,
    /// The header announces more pixels than allowed.
    #[error(
        "the image is {width} × {height} pixels; at most {max_pixels} pixels and {max_side} a side are accepted"
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
            PictureError::Empty => "image_empty",
            PictureError::Base64 => "image_not_base64",
            PictureError::NotAnImage => "not_an_image",
            PictureError::TooLarge { .. } => "image_too_large",
            PictureError::Corrupt(_) => "image_corrupt",
        }
    }
}

/// Base64 with or without padding.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Decodes base64 text (a `data:` URL prefix and whitespace are allowed) to an image.
pub fn decode_base64(text: &str, max_pixels: u64) -> Result<RgbImage, PictureError> {
    let text = text.trim();
    let text = match text.split_once(";base64,") {
        Some((head, rest)) if head.starts_with("data:") => rest,
        _ => text,
    };
    if text.is_empty() {
        return Err(PictureError::Empty);
    }
    let bytes = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        BASE64.decode(compact)
    } else {
        BASE64.decode(text)
    }
    .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
    .map_err(|_| PictureError::Base64)?;
    decode(&bytes, max_pixels)
}

/// Decodes JPEG or PNG bytes to an RGB image, refusing it from its header when it is larger
/// than `max_pixels` or [`MAX_SIDE`] a side, and turning it by its EXIF orientation.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, PictureError> {
    if bytes.is_empty() {
        return Err(PictureError::Empty);
    }
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png)) => f,
        _ => return Err(PictureError::NotAnImage),
    };
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    let (width, height) = reader
        .into_dimensions()
        .map_err(|_| PictureError::NotAnImage)?;
    if width == 0 || height == 0 {
        return Err(PictureError::Empty);
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
    let corrupt = |e: image::ImageError| PictureError::Corrupt(e.to_string());
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
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
        assert_eq!(decode_base64("  ", 100).unwrap_err(), PictureError::Empty);
        assert_eq!(decode(&[], 100).unwrap_err().code(), "image_empty");
        let mut truncated = png(30, 20);
        truncated.truncate(40);
        assert!(decode(&truncated, 1000).is_err());
    }
}
