//! wgpu renderer: MPR, slabs, volume ray casting and overlays.
