//! LIDC reader XML -> per-reader masks on the CT grid (shared by the plan_* tests).
//!
//! Convention (LIDC documentation, pylidc default): each `edgeMap` outline marks the first pixel
//! just outside the nodule, so a reader's nodule on one slice is the set of pixels strictly inside
//! the polygon, the outline pixels themselves excluded; `inclusion=FALSE` rois cut their strict
//! interior out (holes).

use margo_volume::{Mask, VolumeGeometry};

pub struct Roi {
    pub z_mm: f64,
    pub inclusion: bool,
    pub points: Vec<(i64, i64)>,
}

/// For each reading session, the rois of the nodule that has an roi containing `(col, row)` on a
/// slice within 3 mm of `z_mm`.
pub fn reader_rois(xml: &str, col: f64, row: f64, z_mm: f64) -> Result<Vec<Vec<Roi>>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    let mut readers = Vec::new();
    for session in doc
        .descendants()
        .filter(|n| n.has_tag_name("readingSession"))
    {
        for nodule in session
            .children()
            .filter(|n| n.has_tag_name("unblindedReadNodule"))
        {
            let mut rois = Vec::new();
            for roi in nodule.children().filter(|n| n.has_tag_name("roi")) {
                let text = |tag: &str| {
                    roi.children()
                        .find(|c| c.has_tag_name(tag))
                        .and_then(|c| c.text())
                        .map(|t| t.trim().to_string())
                };
                let z: f64 = text("imageZposition")
                    .and_then(|t| t.parse().ok())
                    .ok_or("roi without imageZposition")?;
                let inclusion = text("inclusion").is_none_or(|t| t.eq_ignore_ascii_case("TRUE"));
                let mut points = Vec::new();
                for em in roi.children().filter(|c| c.has_tag_name("edgeMap")) {
                    let coord = |tag: &str| {
                        em.children()
                            .find(|c| c.has_tag_name(tag))
                            .and_then(|c| c.text())
                            .and_then(|t| t.trim().parse::<i64>().ok())
                    };
                    points.push((
                        coord("xCoord").ok_or("bad xCoord")?,
                        coord("yCoord").ok_or("bad yCoord")?,
                    ));
                }
                rois.push(Roi {
                    z_mm: z,
                    inclusion,
                    points,
                });
            }
            let hit = rois.iter().any(|r| {
                r.inclusion && (r.z_mm - z_mm).abs() <= 3.0 && r.points.len() > 2 && {
                    let (x0, x1) = r
                        .points
                        .iter()
                        .fold((i64::MAX, i64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
                    let (y0, y1) = r
                        .points
                        .iter()
                        .fold((i64::MAX, i64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
                    (x0 as f64) < col && col < x1 as f64 && (y0 as f64) < row && row < y1 as f64
                }
            });
            if hit {
                readers.push(rois);
            }
        }
    }
    Ok(readers)
}

fn inside_polygon(points: &[(i64, i64)], x: f64, y: f64) -> bool {
    let mut inside = false;
    let n = points.len();
    for a in 0..n {
        let (x1, y1) = (points[a].0 as f64, points[a].1 as f64);
        let (x2, y2) = (points[(a + 1) % n].0 as f64, points[(a + 1) % n].1 as f64);
        if (y1 > y) != (y2 > y) && x < x1 + (y - y1) * (x2 - x1) / (y2 - y1) {
            inside = !inside;
        }
    }
    inside
}

/// Rasterises one reader's rois onto the CT grid (strict interior, holes cut).
pub fn rasterise(rois: &[Roi], g: &VolumeGeometry) -> Result<Mask, String> {
    let mut mask = Mask::empty(g.clone());
    let [nx, ny, nz] = g.dims();
    let order = |r: &&Roi| !r.inclusion; // inclusions first, then holes
    let mut sorted: Vec<&Roi> = rois.iter().collect();
    sorted.sort_by_key(order);
    for roi in sorted {
        let k = (0..nz)
            .find(|&k| (g.world_from_ijk([0, 0, k]).z - roi.z_mm).abs() < 0.1)
            .ok_or_else(|| format!("no slice at z = {}", roi.z_mm))?;
        let outline: std::collections::HashSet<(i64, i64)> = roi.points.iter().copied().collect();
        let (x0, x1) = roi
            .points
            .iter()
            .fold((i64::MAX, i64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
        let (y0, y1) = roi
            .points
            .iter()
            .fold((i64::MAX, i64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
        for y in y0.max(0)..=y1.min(ny as i64 - 1) {
            for x in x0.max(0)..=x1.min(nx as i64 - 1) {
                if outline.contains(&(x, y)) || !inside_polygon(&roi.points, x as f64, y as f64) {
                    continue;
                }
                mask.set(x as usize, y as usize, k, roi.inclusion);
            }
        }
    }
    Ok(mask)
}

/// Dice of two masks on the same grid.
pub fn dice(a: &Mask, b: &Mask) -> f64 {
    let (mut both, mut na, mut nb) = (0usize, 0usize, 0usize);
    for (x, y) in a.labels().iter().zip(b.labels()) {
        let (x, y) = (*x != 0, *y != 0);
        na += x as usize;
        nb += y as usize;
        both += (x && y) as usize;
    }
    2.0 * both as f64 / (na + nb).max(1) as f64
}
