//! Every WGSL module parses and validates with the naga wgpu 30 uses, with no adapter, and the
//! uniform structs have the sizes of their #[repr(C)] mirrors in gpu_types.rs.

use margo_render::{gpu_types, shaders};

fn validate(name: &str, source: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}.wgsl does not parse:\n{}", e.emit_to_string(source)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap_or_else(|e| {
        panic!(
            "{name}.wgsl does not validate:\n{}",
            e.emit_to_string(source)
        )
    });
    module
}

fn struct_size(module: &naga::Module, name: &str) -> u32 {
    let (_, ty) = module
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("struct {name} not found"));
    ty.inner.size(module.to_ctx())
}

#[test]
fn every_shader_validates_and_uniform_layouts_match_rust() {
    assert_eq!(shaders::ALL.len(), 3);
    for (name, source) in shaders::ALL {
        let module = validate(name, source);
        assert_eq!(
            struct_size(&module, "ViewUniforms") as usize,
            gpu_types::VIEW_UNIFORMS_SIZE,
            "{name}"
        );
        assert_eq!(
            struct_size(&module, "OverlayUniforms") as usize,
            gpu_types::OVERLAY_UNIFORMS_SIZE,
            "{name}"
        );
        assert_eq!(struct_size(&module, "GpuEllipsoid"), 96);
        assert_eq!(struct_size(&module, "GpuSegment"), 64);
        assert_eq!(struct_size(&module, "GpuPoint"), 32);
        let entry_points: Vec<&str> = module
            .entry_points
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert!(
            entry_points.contains(&"vs_fullscreen"),
            "{name}: {entry_points:?}"
        );
    }
}

#[test]
fn every_wgsl_file_in_the_shaders_folder_is_used() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shaders");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                shaders::ALL.iter().any(|(_, s)| s.contains(&text)),
                "{} is not part of any validated pipeline",
                path.display()
            );
        }
    }
}
