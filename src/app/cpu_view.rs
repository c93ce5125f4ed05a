//! CPU rendering of an MPR view into an image: the fallback when the GPU renderer is not
//! available (and the reference behaviour the GPU path must match). Samples margo-volume's
//! `reslice_fast` (bit-identical to `reslice`, separable on axis-aligned planes; same pixel
//! mapping as the GPU), applies the slab projection and window/level.

use eframe::egui::{Color32, ColorImage};
use margo_volume::{Interpolation, Mask, SliceGrid, Volume, reslice::reslice_fast};

use super::state::{SlabMode, WindowLevel};

/// Colour of the segmentation overlay (fill is blended, so the CT stays readable).
pub const MASK_RGB: [u8; 3] = [255, 200, 40];

/// Number of planes sampled for a slab: one per `step_mm`, at least 2, at most 64.
pub fn slab_planes(thickness_mm: f64, step_mm: f64) -> usize {
    ((thickness_mm / step_mm.max(0.1)).ceil() as usize).clamp(2, 64)
}

/// Renders the grid: grey from `window`, black outside the volume, mask blended on top.
pub fn render_mpr(
    volume: &Volume<i16>,
    grid: &SliceGrid,
    window: WindowLevel,
    slab: SlabMode,
    slab_thickness_mm: f64,
    slab_step_mm: f64,
    mask: Option<&Mask>,
) -> ColorImage {
    let values: Vec<Option<f32>> = match slab {
        SlabMode::Thin => reslice_fast(volume, grid, Interpolation::Linear),
        _ => {
            let n = slab_planes(slab_thickness_mm, slab_step_mm);
            let mut acc: Vec<Option<f32>> = vec![None; grid.width() * grid.height()];
            for p in 0..n {
                let offset =
                    (p as f64 + 0.5) / n as f64 * slab_thickness_mm - slab_thickness_mm / 2.0;
                let plane = reslice_fast(volume, &grid.shifted(offset), Interpolation::Linear);
                for (a, v) in acc.iter_mut().zip(plane) {
                    let Some(v) = v else { continue };
                    *a = Some(match (*a, slab) {
                        (None, _) => v,
                        (Some(x), SlabMode::Mip) => x.max(v),
                        (Some(x), SlabMode::MinIp) => x.min(v),
                        (Some(x), _) => x + v,
                    });
                }
            }
            if slab == SlabMode::Mean {
                // Mean over the planes that fell inside the volume would need a count per
                // pixel; slabs are centred in the volume in practice, so divide by n.
                for a in acc.iter_mut().flatten() {
                    *a /= n as f32;
                }
            }
            acc
        }
    };
    let mut pixels: Vec<Color32> = values
        .iter()
        .map(|v| match v {
            Some(hu) => {
                let g = (window.grey(*hu) * 255.0).round() as u8;
                Color32::from_gray(g)
            }
            None => Color32::BLACK,
        })
        .collect();
    if let Some(mask) = mask {
        blend_mask(&mut pixels, grid, mask);
    }
    ColorImage::new([grid.width(), grid.height()], pixels)
}

/// Blends the mask's fill (35 %) into the image, nearest voxel per pixel.
fn blend_mask(pixels: &mut [Color32], grid: &SliceGrid, mask: &Mask) {
    let g = mask.geometry();
    let w = grid.width();
    for (n, px) in pixels.iter_mut().enumerate() {
        let p = grid.world_from_pixel(n % w, n / w);
        if let Some([i, j, k]) = g.rounded_index_from_world(&p)
            && mask.contains(i, j, k)
        {
            let blend = |a: u8, b: u8| ((a as u16 * 65 + b as u16 * 35) / 100) as u8;
            *px = Color32::from_rgb(
                blend(px.r(), MASK_RGB[0]),
                blend(px.g(), MASK_RGB[1]),
                blend(px.b(), MASK_RGB[2]),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use margo_volume::nalgebra::Point3;
    use margo_volume::{AnatomicalView, VolumeGeometry};

    #[test]
    fn grey_follows_window_and_outside_is_black() {
        let g = VolumeGeometry::axis_aligned([8, 8, 4], [1.0; 3], [0.0; 3]).unwrap();
        // HU = 100 * i - 300: columns from -300 to 400.
        let v = Volume::from_fn(g, |i, _, _| (100 * i as i16) - 300);
        let grid = SliceGrid::anatomical(
            AnatomicalView::Axial,
            Point3::new(3.5, 3.5, 1.0),
            16.0,
            16,
            8,
        )
        .unwrap();
        let img = render_mpr(
            &v,
            &grid,
            WindowLevel::new(0.0, 200.0),
            SlabMode::Thin,
            0.0,
            1.0,
            None,
        );
        // Screen x 0..3 is outside the volume (16 mm FOV over an 8 mm volume).
        assert_eq!(img.pixels[0], Color32::BLACK);
        // Column i = 3 (HU 0) sits at screen x = 4 + 3 = 7 -> mid grey.
        let mid = img.pixels[7 + 16 * 4];
        assert!((mid.r() as i32 - 128).abs() <= 1, "{mid:?}");
        // i = 5 (HU 200) is above the window: white; i = 1 (HU -200): black.
        assert_eq!(img.pixels[9 + 16 * 4], Color32::WHITE);
        assert_eq!(img.pixels[5 + 16 * 4], Color32::BLACK);
    }

    #[test]
    fn mip_sees_a_bright_voxel_off_the_plane() {
        let g = VolumeGeometry::axis_aligned([4, 4, 9], [1.0; 3], [0.0; 3]).unwrap();
        let v = Volume::from_fn(g, |i, j, k| if (i, j, k) == (1, 1, 6) { 1000 } else { 0 });
        let grid =
            SliceGrid::anatomical(AnatomicalView::Axial, Point3::new(1.5, 1.5, 4.5), 4.0, 4, 4)
                .unwrap();
        let w = WindowLevel::new(500.0, 1000.0);
        let thin = render_mpr(&v, &grid, w, SlabMode::Thin, 0.0, 1.0, None);
        // Planes at z = 3, 4, 5, 6: the last one holds the bright voxel.
        let mip = render_mpr(&v, &grid, w, SlabMode::Mip, 4.0, 1.0, None);
        assert_eq!(thin.pixels[1 + 4], Color32::BLACK);
        assert_eq!(mip.pixels[1 + 4], Color32::WHITE);
    }
}
