//! What to generate: matrix, spacing, noise, nodules and the HU of each tissue.

use serde::{Deserialize, Serialize};

/// The kinds of nodule planning has to handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NoduleKind {
    /// Solid sphere, surrounded by lung.
    Solid,
    /// Solid ellipsoid (axes 1.25 : 0.9 : 0.89 of the volume-equivalent radius), rotated.
    Ellipsoid,
    /// Solid, star-shaped with a lobulated surface.
    Lobulated,
    /// Solid sphere abutting the costal pleura (a small cap lies in the chest wall).
    Juxtapleural,
    /// Solid sphere touching a pulmonary vessel.
    Juxtavascular,
    /// Ground-glass halo with a solid core of half the diameter.
    PartSolid,
    /// Pure ground-glass opacity.
    GroundGlass,
}

impl NoduleKind {
    pub const ALL: [NoduleKind; 7] = [
        NoduleKind::Solid,
        NoduleKind::Ellipsoid,
        NoduleKind::Lobulated,
        NoduleKind::Juxtapleural,
        NoduleKind::Juxtavascular,
        NoduleKind::PartSolid,
        NoduleKind::GroundGlass,
    ];

    pub fn name(self) -> &'static str {
        match self {
            NoduleKind::Solid => "solid",
            NoduleKind::Ellipsoid => "ellipsoid",
            NoduleKind::Lobulated => "lobulated",
            NoduleKind::Juxtapleural => "juxtapleural",
            NoduleKind::Juxtavascular => "juxtavascular",
            NoduleKind::PartSolid => "part-solid",
            NoduleKind::GroundGlass => "ground-glass",
        }
    }

    /// Whether the nodule is placed clear of vessels and pleura (its HU can be measured alone).
    pub fn is_isolated(self) -> bool {
        !matches!(self, NoduleKind::Juxtapleural | NoduleKind::Juxtavascular)
    }
}

/// Lung lobes. The right lung has three (upper, middle, lower), the left two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Lobe {
    Rul,
    Rml,
    Rll,
    Lul,
    Lll,
}

impl Lobe {
    pub const ALL: [Lobe; 5] = [Lobe::Rul, Lobe::Rml, Lobe::Rll, Lobe::Lul, Lobe::Lll];

    pub fn name(self) -> &'static str {
        match self {
            Lobe::Rul => "RUL",
            Lobe::Rml => "RML",
            Lobe::Rll => "RLL",
            Lobe::Lul => "LUL",
            Lobe::Lll => "LLL",
        }
    }

    pub fn is_left(self) -> bool {
        matches!(self, Lobe::Lul | Lobe::Lll)
    }
}

/// One nodule to place.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoduleSpec {
    pub kind: NoduleKind,
    /// Volume-equivalent sphere diameter (for a sphere, its diameter).
    pub diameter_mm: f64,
    pub lobe: Lobe,
}

/// Mean HU of each tissue before noise. Contrast-enhanced (venous-to-arterial) chest CT.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TissueHu {
    pub air: f32,
    pub lung: f32,
    pub fat: f32,
    pub skin: f32,
    pub muscle: f32,
    pub mediastinal_fat: f32,
    pub myocardium: f32,
    pub blood_pool: f32,
    pub aorta: f32,
    pub pulmonary_vessel: f32,
    pub airway_wall: f32,
    pub fissure: f32,
    pub cortical_bone: f32,
    pub cancellous_bone: f32,
    pub cartilage: f32,
    pub spinal_canal: f32,
    pub liver: f32,
    pub spleen_stomach: f32,
    pub nodule_solid: f32,
    pub nodule_ground_glass: f32,
}

impl Default for TissueHu {
    fn default() -> Self {
        Self {
            air: -1000.0,
            lung: -850.0,
            fat: -100.0,
            skin: 30.0,
            muscle: 50.0,
            mediastinal_fat: -90.0,
            myocardium: 80.0,
            blood_pool: 200.0,
            aorta: 250.0,
            pulmonary_vessel: 180.0,
            airway_wall: 0.0,
            fissure: -450.0,
            cortical_bone: 900.0,
            cancellous_bone: 250.0,
            cartilage: 130.0,
            spinal_canal: 20.0,
            liver: 90.0,
            spleen_stomach: 60.0,
            nodule_solid: 40.0,
            nodule_ground_glass: -620.0,
        }
    }
}

/// Everything the generator needs. `Default` is the 512 x 512 x 160 benchmark case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhantomConfig {
    pub seed: u64,
    /// Columns (i, patient right -> left), rows (j, anterior -> posterior), slices (k, inferior
    /// -> superior).
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    /// LPS point the volume is centred on (the thorax is fixed in space; this picks the slab).
    pub centre_lps_mm: [f64; 3],
    /// Standard deviation of the CT noise in HU (0 = noise-free, for exact measurements).
    pub noise_sd_hu: f32,
    /// Sub-samples per axis in voxels that straddle a boundary (1 = no partial volume; 2 uses
    /// the 4-point tetrahedral half of the 2 x 2 x 2 grid; n >= 3 the full n x n x n grid).
    pub supersample: u32,
    /// Sub-samples per axis inside nodule bounding boxes (their volumes are ground truth).
    pub nodule_supersample: u32,
    /// Pixels outside the scanner's circular field of view are set to this HU (no noise), as
    /// scanners do; `None` reconstructs the whole square.
    pub fov_padding_hu: Option<i16>,
    pub nodules: Vec<NoduleSpec>,
    pub hu: TissueHu,
}

impl Default for PhantomConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            dims: [512, 512, 160],
            spacing_mm: [0.7, 0.7, 2.0],
            centre_lps_mm: crate::THORAX_CENTRE_LPS_MM,
            noise_sd_hu: 12.0,
            supersample: 2,
            nodule_supersample: 4,
            fov_padding_hu: Some(-1024),
            nodules: default_nodules(),
            hu: TissueHu::default(),
        }
    }
}

/// The default set: one nodule of each kind that planning meets, spread over the lobes.
pub fn default_nodules() -> Vec<NoduleSpec> {
    vec![
        NoduleSpec {
            kind: NoduleKind::Solid,
            diameter_mm: 18.0,
            lobe: Lobe::Rll,
        },
        NoduleSpec {
            kind: NoduleKind::Juxtapleural,
            diameter_mm: 14.0,
            lobe: Lobe::Lll,
        },
        NoduleSpec {
            kind: NoduleKind::Juxtavascular,
            diameter_mm: 12.0,
            lobe: Lobe::Rul,
        },
        NoduleSpec {
            kind: NoduleKind::PartSolid,
            diameter_mm: 20.0,
            lobe: Lobe::Lul,
        },
        NoduleSpec {
            kind: NoduleKind::Lobulated,
            diameter_mm: 16.0,
            lobe: Lobe::Rml,
        },
        NoduleSpec {
            kind: NoduleKind::GroundGlass,
            diameter_mm: 12.0,
            lobe: Lobe::Lul,
        },
        NoduleSpec {
            kind: NoduleKind::Ellipsoid,
            diameter_mm: 10.0,
            lobe: Lobe::Rll,
        },
    ]
}
