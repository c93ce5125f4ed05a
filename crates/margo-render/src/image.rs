//! A plain RGBA8 image (headless frames) and the annotations `margo render` burns into PNGs:
//! orientation letters and a scale bar, drawn with a tiny built-in 5x7 bitmap font.

use margo_volume::anatomy::EdgeLabels;

/// Row-major RGBA8, `width * height * 4` bytes, top row first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbaImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl RgbaImage {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            pixels: vec![0; width as usize * height as usize * 4],
        }
    }

    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let o = (y as usize * self.width as usize + x as usize) * 4;
        [
            self.pixels[o],
            self.pixels[o + 1],
            self.pixels[o + 2],
            self.pixels[o + 3],
        ]
    }

    pub fn set_pixel(&mut self, x: i64, y: i64, rgba: [u8; 4]) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let o = (y as usize * self.width as usize + x as usize) * 4;
        self.pixels[o..o + 4].copy_from_slice(&rgba);
    }

    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, rgba: [u8; 4]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set_pixel(xx, yy, rgba);
            }
        }
    }
}

const GLYPH_W: i64 = 5;
const GLYPH_H: i64 = 7;

/// 5x7 glyphs, one byte per row, bit 4 = leftmost column.
fn glyph(c: char) -> Option<[u8; 7]> {
    Some(match c.to_ascii_uppercase() {
        'A' => [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
        'P' => [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
        'R' => [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
        'S' => [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
        'I' => [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
        'M' => [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c],
        ' ' => [0x00; 7],
        _ => return None,
    })
}

/// Glyph scale for an image: readable on 256 px frames and on 1024 px ones.
pub fn text_scale(image: &RgbaImage) -> i64 {
    (i64::from(image.width.min(image.height)) / 256).max(1)
}

/// Pixel size of `text` at `scale`.
pub fn text_size(text: &str, scale: i64) -> (i64, i64) {
    let n = text.chars().count() as i64;
    ((n * (GLYPH_W + 1) - 1).max(0) * scale, GLYPH_H * scale)
}

/// Draws `text` with its top-left at (x, y), with a one-pixel dark halo so it reads on any
/// background. Characters without a glyph are skipped.
pub fn draw_text(image: &mut RgbaImage, x: i64, y: i64, text: &str, scale: i64, rgba: [u8; 4]) {
    for pass in 0..2 {
        for (n, c) in text.chars().enumerate() {
            let Some(rows) = glyph(c) else { continue };
            let gx = x + n as i64 * (GLYPH_W + 1) * scale;
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..GLYPH_W {
                    if bits & (0x10 >> col) == 0 {
                        continue;
                    }
                    let px = gx + col * scale;
                    let py = y + r as i64 * scale;
                    if pass == 0 {
                        image.fill_rect(px - 1, py - 1, scale + 2, scale + 2, [0, 0, 0, 255]);
                    } else {
                        image.fill_rect(px, py, scale, scale, rgba);
                    }
                }
            }
        }
    }
}

/// Orientation letters centred on each edge, in yellow like most viewers.
pub fn draw_edge_labels(image: &mut RgbaImage, labels: &EdgeLabels) {
    let s = text_scale(image);
    let (w, h) = (i64::from(image.width), i64::from(image.height));
    let m = 3 * s;
    let color = [255, 220, 0, 255];
    let (tw, th) = text_size(&labels.left, s);
    draw_text(image, m, (h - th) / 2, &labels.left, s, color);
    let _ = tw;
    let (tw, th) = text_size(&labels.right, s);
    draw_text(image, w - m - tw, (h - th) / 2, &labels.right, s, color);
    let (tw, _) = text_size(&labels.top, s);
    draw_text(image, (w - tw) / 2, m, &labels.top, s, color);
    let (tw, th) = text_size(&labels.bottom, s);
    draw_text(image, (w - tw) / 2, h - m - th, &labels.bottom, s, color);
}

/// A horizontal scale bar at the bottom-left, with a round length (1, 2, 5 x 10^n mm) near a
/// fifth of the image width, labelled in mm.
pub fn draw_scale_bar(image: &mut RgbaImage, mm_per_pixel: f64) {
    if !(mm_per_pixel.is_finite() && mm_per_pixel > 0.0) {
        return;
    }
    let target_mm = f64::from(image.width) * mm_per_pixel / 5.0;
    let decade = 10f64.powf(target_mm.log10().floor());
    let length_mm = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|f| f * decade)
        .filter(|l| *l <= target_mm)
        .fold(decade, f64::max);
    let length_px = (length_mm / mm_per_pixel).round() as i64;
    let s = text_scale(image);
    let x = 6 * s;
    let y = i64::from(image.height) - 6 * s;
    let white = [255, 255, 255, 255];
    image.fill_rect(x - 1, y - 1, length_px + 2, 2 * s + 2, [0, 0, 0, 255]);
    image.fill_rect(x, y, length_px, 2 * s, white);
    let label = if length_mm >= 1.0 {
        format!("{} MM", length_mm.round() as i64)
    } else {
        format!("{length_mm:.1} MM")
    };
    let (_, th) = text_size(&label, s);
    draw_text(image, x, y - th - 2 * s, &label, s, white);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_land_on_their_edges() {
        let mut img = RgbaImage::new(64, 48);
        let labels = EdgeLabels {
            left: "R".into(),
            right: "L".into(),
            top: "A".into(),
            bottom: "P".into(),
        };
        draw_edge_labels(&mut img, &labels);
        let yellow = |x: u32, y: u32| img.pixel(x, y) == [255, 220, 0, 255];
        assert!((0..8).any(|x| (18..30).any(|y| yellow(x, y))));
        assert!((56..64).any(|x| (18..30).any(|y| yellow(x, y))));
        assert!((28..36).any(|x| (0..10).any(|y| yellow(x, y))));
        assert!((28..36).any(|x| (38..48).any(|y| yellow(x, y))));
        assert!(!(20..44).any(|x| (15..33).any(|y| yellow(x, y))));
    }
}
