//! Uploaded images, decoded within limits: the header is read first and an image larger than
//! [`crate::Settings::max_pixels`] is refused before any pixel is decoded.
