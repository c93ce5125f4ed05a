//! WGSL sources, included at compile time from the workspace's `shaders/` folder. Each pipeline's
//! module is `common_scene.wgsl` followed by its own file(s) (WGSL has no includes).

pub const COMMON_SCENE: &str = include_str!("../../../shaders/common_scene.wgsl");
pub const MPR: &str = concat!(
    include_str!("../../../shaders/common_scene.wgsl"),
    "\n",
    include_str!("../../../shaders/mpr.wgsl")
);
/// The ray caster as the fragment pipelines run it: brick occupancy from a texture.
pub const RAYCAST: &str = concat!(
    include_str!("../../../shaders/common_scene.wgsl"),
    "\n",
    include_str!("../../../shaders/bricks_texture.wgsl"),
    "\n",
    include_str!("../../../shaders/raycast.wgsl")
);
/// The ray caster as the compute pipelines run it (`cs_raycast`): brick occupancy from a
/// storage buffer (see bricks_buffer.wgsl).
pub const RAYCAST_COMPUTE: &str = concat!(
    include_str!("../../../shaders/common_scene.wgsl"),
    "\n",
    include_str!("../../../shaders/bricks_buffer.wgsl"),
    "\n",
    include_str!("../../../shaders/raycast.wgsl")
);

/// Every pipeline module as (name, source), for validation.
pub const ALL: [(&str, &str); 3] = [
    ("mpr", MPR),
    ("raycast", RAYCAST),
    ("raycast_compute", RAYCAST_COMPUTE),
];
