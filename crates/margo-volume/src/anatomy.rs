//! Radiological screen conventions and orientation letters.

use nalgebra::Vector3;

/// The three standard planes, each with the screen orientation radiologists expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnatomicalView {
    /// Viewed from the feet: patient right on screen left, anterior up.
    Axial,
    /// Viewed from the front: patient right on screen left, superior up.
    Coronal,
    /// Viewed from the patient's left: anterior on screen left, superior up.
    Sagittal,
}

/// Unit directions in LPS of screen +x (right) and screen +y (down, image rows).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenAxes {
    pub right_in_world: Vector3<f64>,
    pub down_in_world: Vector3<f64>,
}

impl ScreenAxes {
    /// Direction the viewer looks along (into the screen): right x down.
    pub fn view_direction(&self) -> Vector3<f64> {
        self.right_in_world.cross(&self.down_in_world)
    }

    /// Orientation letters at the screen's left, right, top and bottom edges.
    pub fn edge_labels(&self) -> EdgeLabels {
        EdgeLabels {
            left: orientation_label(&-self.right_in_world),
            right: orientation_label(&self.right_in_world),
            top: orientation_label(&-self.down_in_world),
            bottom: orientation_label(&self.down_in_world),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLabels {
    pub left: String,
    pub right: String,
    pub top: String,
    pub bottom: String,
}

impl AnatomicalView {
    pub const ALL: [AnatomicalView; 3] = [Self::Axial, Self::Coronal, Self::Sagittal];

    pub fn screen_axes(self) -> ScreenAxes {
        let (right, down) = match self {
            // screen right = patient left (+x), screen down = posterior (+y)
            Self::Axial => (Vector3::x(), Vector3::y()),
            // screen right = patient left (+x), screen down = inferior (-z)
            Self::Coronal => (Vector3::x(), -Vector3::z()),
            // screen right = posterior (+y), screen down = inferior (-z)
            Self::Sagittal => (Vector3::y(), -Vector3::z()),
        };
        ScreenAxes {
            right_in_world: right,
            down_in_world: down,
        }
    }

    /// The plane's normal as the viewer looks (into the screen).
    pub fn normal_in_world(self) -> Vector3<f64> {
        self.screen_axes().view_direction()
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Axial => "axial",
            Self::Coronal => "coronal",
            Self::Sagittal => "sagittal",
        }
    }
}

/// Letters for an LPS direction, strongest component first (`L`/`R`, `P`/`A`, `S`/`I`);
/// components weaker than 0.25 of the unit vector are left out so oblique views read "LP", not
/// "LPS". A zero vector gives an empty string.
pub fn orientation_label(direction: &Vector3<f64>) -> String {
    let norm = direction.norm();
    if !norm.is_finite() || norm <= 0.0 {
        return String::new();
    }
    let d = direction / norm;
    let mut parts: Vec<(f64, char)> = [('L', 'R'), ('P', 'A'), ('S', 'I')]
        .iter()
        .enumerate()
        .filter(|(a, _)| d[*a].abs() >= 0.25)
        .map(|(a, (pos, neg))| (d[a].abs(), if d[a] > 0.0 { *pos } else { *neg }))
        .collect();
    parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    parts.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_views_follow_radiological_convention() {
        let axial = AnatomicalView::Axial.screen_axes().edge_labels();
        assert_eq!((axial.left.as_str(), axial.right.as_str()), ("R", "L"));
        assert_eq!((axial.top.as_str(), axial.bottom.as_str()), ("A", "P"));
        let coronal = AnatomicalView::Coronal.screen_axes().edge_labels();
        assert_eq!((coronal.left.as_str(), coronal.right.as_str()), ("R", "L"));
        assert_eq!((coronal.top.as_str(), coronal.bottom.as_str()), ("S", "I"));
        let sagittal = AnatomicalView::Sagittal.screen_axes().edge_labels();
        assert_eq!(
            (sagittal.left.as_str(), sagittal.right.as_str()),
            ("A", "P")
        );
        assert_eq!(
            (sagittal.top.as_str(), sagittal.bottom.as_str()),
            ("S", "I")
        );
        // Axial is seen from the feet: the viewer looks towards superior.
        assert_eq!(AnatomicalView::Axial.normal_in_world(), Vector3::z());
        // Coronal is seen from the front: the viewer looks towards posterior.
        assert_eq!(AnatomicalView::Coronal.normal_in_world(), Vector3::y());
        // Sagittal is seen from the patient's left: the viewer looks towards the right (-x).
        assert_eq!(AnatomicalView::Sagittal.normal_in_world(), -Vector3::x());
    }

    #[test]
    fn oblique_labels_combine_letters() {
        assert_eq!(orientation_label(&Vector3::new(1.0, 0.8, 0.1)), "LP");
        assert_eq!(orientation_label(&Vector3::new(-0.3, -1.0, 0.5)), "ASR");
        assert_eq!(orientation_label(&Vector3::zeros()), "");
        assert_eq!(orientation_label(&Vector3::new(f64::NAN, 0.0, 0.0)), "");
    }
}
