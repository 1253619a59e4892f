//! SVG charts (placeholder).

use std::path::{Path, PathBuf};

use crate::result::Summary;

/// Draws the charts into `dir`; returns the files written.
pub fn draw(_results: &[Summary], _dir: &Path) -> crate::Result<Vec<PathBuf>> {
    Ok(Vec::new())
}
