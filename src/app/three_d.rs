//! The 3D view renders on a worker thread with its own margo-render `Renderer` on the shared
//! wgpu device: ray casting a 512^3 CT at full quality takes seconds on a software rasteriser,
//! far too long for a paint callback that egui re-runs on every repaint. The UI sends the
//! newest camera (older requests are dropped), keeps showing the last image, and shows a
//! coarser, half-resolution image while the user drags.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use eframe::egui_wgpu::wgpu;
use margo_render::{Frame, MaskStyle, RaycastView, RenderTarget, Renderer, Shapes};
use margo_volume::{Mask, Volume};

/// What to draw: the camera plus the overlays in 3D.
#[derive(Clone)]
pub struct Request {
    /// Echoed in the result, so the UI knows whether it shows the newest request.
    pub serial: u64,
    pub view: RaycastView,
    pub shapes: Shapes,
    /// (generation, mask): the mask is re-sent to the GPU only when the generation changes.
    pub mask: (u64, Option<Arc<Mask>>),
}

pub struct Rendered {
    pub serial: u64,
    pub view: RaycastView,
    pub result: Result<margo_render::RgbaImage, String>,
}

pub struct Worker {
    requests: Sender<Request>,
    results: Receiver<Rendered>,
}

impl Worker {
    /// Starts the worker; `wake` asks the UI for a repaint when an image is ready.
    pub fn start(
        device: wgpu::Device,
        queue: wgpu::Queue,
        volume: Arc<Volume<i16>>,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let (requests, request_rx) = channel::<Request>();
        let (result_tx, results) = channel();
        let spawned = std::thread::Builder::new()
            .name("margo-3d".into())
            .spawn(move || {
                let made = Renderer::new(
                    &device,
                    &queue,
                    RenderTarget::color(wgpu::TextureFormat::Rgba8Unorm),
                )
                .and_then(|mut r| {
                    r.upload_volume(&volume)?;
                    Ok(r)
                });
                let mut renderer = match made {
                    Ok(r) => Some(r),
                    Err(e) => {
                        let err = e.to_string();
                        // Answer every request with the error.
                        while let Ok(req) = request_rx.recv() {
                            let _ = result_tx.send(Rendered {
                                serial: req.serial,
                                view: req.view,
                                result: Err(err.clone()),
                            });
                            wake();
                        }
                        None
                    }
                };
                let Some(r) = renderer.as_mut() else { return };
                let mut mask_generation = u64::MAX;
                let mut shapes = Shapes::default();
                while let Ok(mut req) = request_rx.recv() {
                    // Newest wins.
                    while let Ok(newer) = request_rx.try_recv() {
                        req = newer;
                    }
                    let mut result = Ok(());
                    if req.mask.0 != mask_generation {
                        let style = MaskStyle {
                            color: [1.0, 0.8, 0.16, 1.0],
                            fill_alpha: 0.3,
                        };
                        result = r.set_mask(req.mask.1.as_deref().map(|m| (m, style)));
                        mask_generation = req.mask.0;
                    }
                    if req.shapes != shapes {
                        result = result.and(r.set_shapes(&req.shapes));
                        shapes = req.shapes.clone();
                    }
                    let result = result
                        .and_then(|()| r.render_to_rgba(&Frame::Raycast(req.view.clone())))
                        .map_err(|e| e.to_string());
                    if result_tx
                        .send(Rendered {
                            serial: req.serial,
                            view: req.view,
                            result,
                        })
                        .is_err()
                    {
                        return;
                    }
                    wake();
                }
            });
        if let Err(e) = spawned {
            eprintln!("warning: no 3D worker thread: {e}");
        }
        Self { requests, results }
    }

    pub fn request(&self, req: Request) {
        let _ = self.requests.send(req);
    }

    /// The newest finished image, if any arrived.
    pub fn poll(&self) -> Option<Rendered> {
        let mut last = None;
        while let Ok(r) = self.results.try_recv() {
            last = Some(r);
        }
        last
    }
}
