//! (being written)

use crate::Settings;

/// The MRZ reader.
pub struct Ocr {}

impl Ocr {
    pub fn load(_settings: &Settings) -> anyhow::Result<Self> {
        Ok(Ocr {})
    }
}
