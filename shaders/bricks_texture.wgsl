// Brick occupancy read from the `brick_occupancy` texture (group 0): the ray caster's fragment
// pipeline, which every device can run. margo-render puts this file between common_scene.wgsl
// and raycast.wgsl; the compute pipeline takes bricks_buffer.wgsl instead.

// Chebyshev distance in bricks from `brick` to the nearest brick that the transfer function of
// row `tf_row` may show, minus one: -1 for such a brick, D - 1 >= 0 when the cube of bricks
// within D - 1 of it is empty. (`brick_dims`: the same signature as bricks_buffer.wgsl.)
fn brick_empty_reach(brick: vec3<i32>, brick_dims: vec3<i32>, tf_row: u32) -> f32 {
    return round(textureLoad(brick_occupancy, brick, 0)[tf_row] * 255.0) - 1.0;
}
