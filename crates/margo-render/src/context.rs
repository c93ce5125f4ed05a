//! Opening a GPU device without a window (CLI, tests, benchmarks) and blocking on wgpu futures.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use crate::RenderError;

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (wgpu's native futures resolve promptly).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// A device opened for headless rendering. Honours `WGPU_BACKEND` (e.g. `vulkan` for lavapipe)
/// and `WGPU_POWER_PREF`.
pub fn open_headless_device() -> Result<(wgpu::Device, wgpu::Queue, String), RenderError> {
    let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    let backends = format!("{:?}", desc.backends);
    let instance = wgpu::Instance::new(desc);
    let adapter = block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference:
            wgpu::PowerPreference::from_env().unwrap_or(wgpu::PowerPreference::HighPerformance),
        force_fallback_adapter: false,
        compatible_surface: None,
        apply_limit_buckets: false,
    }))
    .map_err(|source| RenderError::RequestAdapter { backends, source })?;
    let info = adapter.get_info();
    let name = format!("{} ({:?})", info.name, info.backend);
    let (device, queue) = block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("margo-render headless"),
        required_features: wgpu::Features::empty(),
        // The adapter's own limits: large volumes need its full 3D texture size and buffer size.
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .map_err(|source| RenderError::RequestDevice {
        adapter: name.clone(),
        source,
    })?;
    Ok((device, queue, name))
}
