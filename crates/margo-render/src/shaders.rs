//! WGSL sources, included at compile time from the workspace's `shaders/` folder. Each pipeline's
//! module is `common_scene.wgsl` followed by its own file (WGSL has no includes).

pub const COMMON_SCENE: &str = include_str!("../../../shaders/common_scene.wgsl");
pub const MPR: &str = concat!(
    include_str!("../../../shaders/common_scene.wgsl"),
    "\n",
    include_str!("../../../shaders/mpr.wgsl")
);
pub const RAYCAST: &str = concat!(
    include_str!("../../../shaders/common_scene.wgsl"),
    "\n",
    include_str!("../../../shaders/raycast.wgsl")
);

/// Every pipeline module as (name, source), for validation.
pub const ALL: [(&str, &str); 2] = [("mpr", MPR), ("raycast", RAYCAST)];
