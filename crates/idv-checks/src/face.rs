//! (being written)

use crate::Settings;

/// A face found in an image: its box in pixels of that image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The face models.
pub struct Faces {}

impl Faces {
    pub fn load(_settings: &Settings) -> anyhow::Result<Self> {
        Ok(Faces {})
    }

    /// The faces in `image`, largest first.
    pub fn detect(&self, _image: &image::RgbImage) -> Vec<FaceBox> {
        Vec::new()
    }
}
