//! Pipeline specialisation: which shader features a view uses, passed to the WGSL modules as
//! pipeline-overridable constants (`override SPEC_*` in shaders/common_scene.wgsl).
//!
//! A feature a view does not use is compiled out rather than skipped by a branch on a uniform.
//! Software rasterisers (llvmpipe, the CI and no-GPU fallback) execute both sides of every branch
//! for their SIMD lanes, so an unused feature behind a uniform flag still costs its full price
//! there (a 1024x1024 MPR took 95 ms with the overlay code present and switched off, 8 ms
//! without); on real GPUs smaller shaders use fewer registers. The uniforms keep their flags: the
//! variant is derived from them, so they stay the one description of a view.

use crate::gpu_types::{self, ViewUniforms};

/// Which pipeline family draws a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ViewKind {
    Mpr,
    Raycast,
}

/// One specialisation of a pipeline. Fields that do not apply to `kind` keep fixed values, so
/// two views that render alike share a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PipelineVariant {
    pub kind: ViewKind,
    srgb_target: bool,
    linear: bool,
    overlays: bool,
    mask: bool,
    shell: bool,
    ellipsoids: bool,
    segments: bool,
    points: bool,
    crosshair: bool,
    slab: u32,
    ray_mip: bool,
    shading: bool,
    clip_box: bool,
    clip_plane: bool,
    jitter: bool,
    /// Ray casting: samples the search collects before compositing them (`SPEC_SEARCH_QUEUE`).
    search_queue: u32,
}

/// `PipelineVariant::search_queue` of every view the renderer draws: the shader's largest
/// (raycast.wgsl keeps the queue in two vec4s per field).
pub(crate) const SEARCH_QUEUE: u32 = 8;

impl PipelineVariant {
    /// The variant that draws a view with these uniforms while the scene's overlays have
    /// `overlay_counts` (`OverlayUniforms::counts`: ellipsoid, segment and point counts, and
    /// the crosshair / mask / shell flags).
    pub fn of(kind: ViewKind, u: &ViewUniforms, overlay_counts: [u32; 4]) -> Self {
        let flags = u.modes[3];
        let has = |bit: u32| flags & bit != 0;
        let [n_ellipsoids, n_segments, n_points, overlay_flags] = overlay_counts;
        let overlays = has(gpu_types::FLAG_OVERLAYS);
        let mut v = Self {
            kind,
            srgb_target: has(gpu_types::FLAG_SRGB_TARGET),
            linear: true,
            overlays,
            mask: overlays && overlay_flags & gpu_types::OVERLAY_MASK != 0,
            shell: false,
            ellipsoids: overlays && n_ellipsoids > 0,
            segments: overlays && n_segments > 0,
            points: overlays && n_points > 0,
            crosshair: false,
            slab: gpu_types::SLAB_NONE,
            ray_mip: false,
            shading: false,
            clip_box: false,
            clip_plane: false,
            jitter: false,
            search_queue: SEARCH_QUEUE,
        };
        match kind {
            ViewKind::Mpr => {
                v.linear = u.modes[1] != 0;
                v.shell = overlays && overlay_flags & gpu_types::OVERLAY_SHELL != 0;
                v.crosshair = overlays && overlay_flags & gpu_types::OVERLAY_CROSSHAIR != 0;
                // The window's w is the slab's sample count; one sample is a plain plane.
                if u.window[3] > 1.0 {
                    v.slab = u.modes[0];
                }
            }
            ViewKind::Raycast => {
                v.ray_mip = u.modes[0] == gpu_types::RAY_MIP;
                if v.ray_mip {
                    // MIP rays ignore overlays and shading.
                    v.overlays = false;
                    v.mask = false;
                    v.ellipsoids = false;
                    v.segments = false;
                    v.points = false;
                } else {
                    v.shading = has(gpu_types::FLAG_SHADING);
                }
                v.clip_box = has(gpu_types::FLAG_CLIP_BOX);
                v.clip_plane = has(gpu_types::FLAG_CLIP_PLANE);
                v.jitter = u.modes[2] != 0;
            }
        }
        // Overlays on but none in the scene: nothing to compile in.
        v.overlays &= v.mask || v.shell || v.ellipsoids || v.segments || v.points || v.crosshair;
        v
    }

    /// The same variant with a search queue of `samples` (1..=`SEARCH_QUEUE`) if it ray casts.
    pub fn with_search_queue(mut self, samples: u32) -> Self {
        if self.kind == ViewKind::Raycast {
            self.search_queue = samples.clamp(1, SEARCH_QUEUE);
        }
        self
    }

    /// Values for every `override SPEC_*` of the modules (WGSL bools take 0 / 1).
    pub fn constants(&self) -> [(&'static str, f64); 16] {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        [
            ("SPEC_SRGB_TARGET", b(self.srgb_target)),
            ("SPEC_LINEAR", b(self.linear)),
            ("SPEC_OVERLAYS", b(self.overlays)),
            ("SPEC_MASK", b(self.mask)),
            ("SPEC_SHELL", b(self.shell)),
            ("SPEC_ELLIPSOIDS", b(self.ellipsoids)),
            ("SPEC_SEGMENTS", b(self.segments)),
            ("SPEC_POINTS", b(self.points)),
            ("SPEC_CROSSHAIR", b(self.crosshair)),
            ("SPEC_SLAB", f64::from(self.slab)),
            ("SPEC_RAY_MIP", b(self.ray_mip)),
            ("SPEC_SHADING", b(self.shading)),
            ("SPEC_CLIP_BOX", b(self.clip_box)),
            ("SPEC_CLIP_PLANE", b(self.clip_plane)),
            ("SPEC_JITTER", b(self.jitter)),
            ("SPEC_SEARCH_QUEUE", f64::from(self.search_queue)),
        ]
    }

    /// The fragment entry point of the variant's module.
    pub fn entry_point(&self) -> &'static str {
        match self.kind {
            ViewKind::Mpr => "fs_mpr",
            ViewKind::Raycast => "fs_raycast",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniforms(modes: [u32; 4], samples: f32) -> ViewUniforms {
        ViewUniforms {
            modes,
            window: [0.0, 1.0, 0.0, samples],
            ..Default::default()
        }
    }

    #[test]
    fn every_constant_is_an_override_of_the_shared_wgsl() {
        let v = PipelineVariant::of(ViewKind::Mpr, &uniforms([0; 4], 1.0), [0; 4]);
        for (name, _) in v.constants() {
            assert!(
                crate::shaders::COMMON_SCENE.contains(&format!("override {name}:")),
                "{name} is not declared in common_scene.wgsl"
            );
        }
        let declared = crate::shaders::COMMON_SCENE
            .matches("override SPEC_")
            .count();
        assert_eq!(declared, v.constants().len(), "an override has no value");
    }

    #[test]
    fn every_constant_is_used_by_a_shader() {
        // A declared but unread constant would specialise nothing (this happened once: the
        // overlay-kind constants were declared while the shaders still looped over every kind).
        let v = PipelineVariant::of(ViewKind::Mpr, &uniforms([0; 4], 1.0), [0; 4]);
        for (name, _) in v.constants() {
            let uses = crate::shaders::ALL
                .iter()
                .map(|(_, source)| source.matches(name).count())
                .sum::<usize>();
            // Each module holds the shared declaration once.
            assert!(
                uses > crate::shaders::ALL.len(),
                "{name} is declared but no shader reads it"
            );
        }
    }

    #[test]
    fn mpr_variant_follows_the_view_flags_and_the_scene_overlays() {
        let plain = PipelineVariant::of(ViewKind::Mpr, &uniforms([0, 1, 0, 0], 1.0), [0; 4]);
        assert!(!plain.overlays && !plain.mask && plain.linear);
        assert_eq!(plain.slab, gpu_types::SLAB_NONE);
        let flags = gpu_types::FLAG_OVERLAYS | gpu_types::FLAG_SRGB_TARGET;
        let mip = PipelineVariant::of(
            ViewKind::Mpr,
            &uniforms([gpu_types::SLAB_MIP, 0, 0, flags], 9.0),
            [0, 0, 0, gpu_types::OVERLAY_MASK],
        );
        assert!(mip.overlays && mip.mask && !mip.shell && mip.srgb_target && !mip.linear);
        assert_eq!(mip.slab, gpu_types::SLAB_MIP);
        // A mask in the scene does not matter to a view without overlays.
        let no_overlays = PipelineVariant::of(
            ViewKind::Mpr,
            &uniforms([0, 1, 0, 0], 1.0),
            [2, 1, 1, gpu_types::OVERLAY_MASK | gpu_types::OVERLAY_SHELL],
        );
        assert_eq!(no_overlays, plain);
        // A single-sample slab is a plane.
        let thin = PipelineVariant::of(
            ViewKind::Mpr,
            &uniforms([gpu_types::SLAB_MEAN, 1, 0, 0], 1.0),
            [0; 4],
        );
        assert_eq!(thin, plain);
    }

    #[test]
    fn raycast_variant_follows_mode_shading_clipping_and_jitter() {
        let flags = gpu_types::FLAG_SHADING | gpu_types::FLAG_CLIP_PLANE | gpu_types::FLAG_OVERLAYS;
        let composite = PipelineVariant::of(
            ViewKind::Raycast,
            &uniforms([gpu_types::RAY_COMPOSITE, 1, 7, flags], 1.0),
            [0, 0, 0, gpu_types::OVERLAY_MASK | gpu_types::OVERLAY_SHELL],
        );
        assert!(composite.shading && composite.clip_plane && !composite.clip_box);
        assert!(composite.jitter && composite.overlays && composite.mask && !composite.shell);
        assert_eq!(composite.entry_point(), "fs_raycast");
        let mip = PipelineVariant::of(
            ViewKind::Raycast,
            &uniforms([gpu_types::RAY_MIP, 1, 0, flags], 1.0),
            [3, 0, 0, gpu_types::OVERLAY_MASK],
        );
        assert!(mip.ray_mip && !mip.shading && !mip.overlays && !mip.mask && !mip.jitter);
        assert!(!mip.ellipsoids);
    }

    #[test]
    fn overlay_code_is_compiled_in_only_for_what_the_scene_holds() {
        let on = uniforms([0, 1, 0, gpu_types::FLAG_OVERLAYS], 1.0);
        let empty = PipelineVariant::of(ViewKind::Mpr, &on, [0; 4]);
        assert!(
            !empty.overlays,
            "overlays on with an empty scene compile nothing in"
        );
        let probes =
            PipelineVariant::of(ViewKind::Mpr, &on, [2, 1, 0, gpu_types::OVERLAY_CROSSHAIR]);
        assert!(probes.overlays && probes.ellipsoids && probes.segments && probes.crosshair);
        assert!(!probes.points && !probes.mask && !probes.shell);
        let dvr = PipelineVariant::of(
            ViewKind::Raycast,
            &uniforms(
                [gpu_types::RAY_COMPOSITE, 1, 0, gpu_types::FLAG_OVERLAYS],
                1.0,
            ),
            [0, 0, 4, gpu_types::OVERLAY_CROSSHAIR],
        );
        assert!(
            dvr.overlays && dvr.points && !dvr.crosshair,
            "no crosshair in 3D"
        );
    }
}
