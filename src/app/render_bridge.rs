//! How each view's image is produced. The one place the app talks to margo-render; until a
//! GPU renderer is available the CPU reslice (margo-volume) draws the MPR views into egui
//! textures, re-rendered only when what they show changes.

use std::sync::Arc;

use eframe::egui::{self, Align2, Color32, FontId, Rect, TextureHandle, TextureOptions};
use margo_volume::{SliceGrid, Volume};

use super::cpu_view;
use super::plan_bridge::PlanSession;
use super::state::{SlabMode, ViewerState, WindowLevel};

/// What an MPR image depends on; a change re-renders it.
#[derive(Debug, Clone, PartialEq)]
struct MprKey {
    grid: SliceGrid,
    window: WindowLevel,
    slab: SlabMode,
    slab_thickness_mm: f64,
    mask_generation: u64,
}

struct CachedMpr {
    key: MprKey,
    texture: TextureHandle,
}

pub struct ViewImages {
    volume: Arc<Volume<i16>>,
    mpr: [Option<CachedMpr>; 4],
    /// Which renderer draws the views, for the status line.
    pub backend: &'static str,
}

impl ViewImages {
    pub fn new(_gpu: Option<&eframe::egui_wgpu::RenderState>, volume: &Arc<Volume<i16>>) -> Self {
        Self {
            volume: volume.clone(),
            mpr: [None, None, None, None],
            backend: "CPU reslice",
        }
    }

    /// Draws an MPR view into `rect`; true when the image is complete.
    #[allow(clippy::too_many_arguments)]
    pub fn mpr(
        &mut self,
        ui: &egui::Ui,
        painter: &egui::Painter,
        slot: usize,
        rect: Rect,
        grid: &SliceGrid,
        window: WindowLevel,
        slab: SlabMode,
        slab_thickness_mm: f64,
        plan: &PlanSession,
    ) -> bool {
        let key = MprKey {
            grid: grid.clone(),
            window,
            slab,
            slab_thickness_mm,
            mask_generation: plan.mask_generation(),
        };
        let cached = &mut self.mpr[slot];
        if cached.as_ref().is_none_or(|c| c.key != key) {
            let step = self.volume.geometry().spacing_mm().min();
            let image = cpu_view::render_mpr(
                &self.volume,
                grid,
                window,
                slab,
                slab_thickness_mm,
                step,
                plan.mask(),
            );
            match cached {
                Some(c) => {
                    c.texture.set(image, TextureOptions::LINEAR);
                    c.key = key;
                }
                None => {
                    let texture =
                        ui.ctx()
                            .load_texture(format!("mpr-{slot}"), image, TextureOptions::LINEAR);
                    *cached = Some(CachedMpr { key, texture });
                }
            }
        }
        if let Some(c) = cached {
            painter.image(
                c.texture.id(),
                rect,
                Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        true
    }

    /// Draws the 3D view; true when complete.
    pub fn three_d(
        &mut self,
        _ui: &egui::Ui,
        painter: &egui::Painter,
        rect: Rect,
        _state: &ViewerState,
        _plan: &PlanSession,
        _interacting: bool,
    ) -> bool {
        painter.rect_filled(rect, 0.0, Color32::from_gray(8));
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            "3D volume rendering needs the GPU renderer (margo-render)",
            FontId::proportional(13.0),
            Color32::from_gray(160),
        );
        true
    }
}
