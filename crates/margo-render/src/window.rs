//! Window/level: HU -> grey, applied in the shader (dragging W/L uploads nothing).

use crate::RenderError;

/// A display window in Hounsfield units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowLevel {
    pub center_hu: f64,
    pub width_hu: f64,
}

/// Named windows. Clinical conventions for chest CT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowPreset {
    /// -600 / 1500
    Lung,
    /// 40 / 400
    Mediastinum,
    /// 400 / 1800
    Bone,
    /// 50 / 350
    SoftTissue,
}

impl WindowPreset {
    pub const ALL: [WindowPreset; 4] =
        [Self::Lung, Self::Mediastinum, Self::Bone, Self::SoftTissue];

    pub fn window(self) -> WindowLevel {
        let (center_hu, width_hu) = match self {
            Self::Lung => (-600.0, 1500.0),
            Self::Mediastinum => (40.0, 400.0),
            Self::Bone => (400.0, 1800.0),
            Self::SoftTissue => (50.0, 350.0),
        };
        WindowLevel {
            center_hu,
            width_hu,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Lung => "lung",
            Self::Mediastinum => "mediastinum",
            Self::Bone => "bone",
            Self::SoftTissue => "soft",
        }
    }
}

impl WindowLevel {
    pub fn new(center_hu: f64, width_hu: f64) -> Result<Self, RenderError> {
        if !center_hu.is_finite() {
            return Err(RenderError::InvalidParameter {
                what: "window centre",
                value: center_hu.to_string(),
                reason: "must be finite",
            });
        }
        if !(width_hu.is_finite() && width_hu >= 1.0) {
            return Err(RenderError::InvalidParameter {
                what: "window width",
                value: width_hu.to_string(),
                reason: "must be at least 1 HU",
            });
        }
        Ok(Self {
            center_hu,
            width_hu,
        })
    }

    /// Grey in [0, 1]: linear from `center - width/2` (black) to `center + width/2` (white).
    /// The shader's `grey_from_hu` (shaders/common_scene.wgsl) is the same formula.
    pub fn grey_from_hu(&self, hu: f64) -> f64 {
        let width = self.width_hu.max(1e-3);
        ((hu - (self.center_hu - 0.5 * width)) / width).clamp(0.0, 1.0)
    }

    /// The 8-bit grey the GPU writes (round to nearest).
    pub fn grey8_from_hu(&self, hu: f64) -> u8 {
        (self.grey_from_hu(hu) * 255.0).round() as u8
    }
}

impl Default for WindowLevel {
    fn default() -> Self {
        WindowPreset::Lung.window()
    }
}

impl From<WindowPreset> for WindowLevel {
    fn from(p: WindowPreset) -> Self {
        p.window()
    }
}
