// Brick occupancy read from a storage buffer (group 3): the ray caster's compute pipeline.
// margo-render puts this file between common_scene.wgsl and raycast.wgsl; the fragment
// pipeline takes bricks_texture.wgsl instead. Same bytes as the `brick_occupancy` texture: one
// u32 per brick (i fastest, then j, then k), row r of the transfer functions in bits 8r..8r+8.
// Why a buffer where the device has one: llvmpipe reads a texel with the texture's mip level
// taken per lane, which costs it 24 scalar loads of the texture's layout per read. The search
// loop reads the brick map at every step; a buffer read costs llvmpipe one load per lane and
// no layout (~4% of a lung frame less, BENCHMARKS.md).

@group(3) @binding(0) var<storage, read> brick_distances: array<u32>;

// Chebyshev distance in bricks from `brick` to the nearest brick that the transfer function of
// row `tf_row` may show (of a grid of `brick_dims` bricks), minus one: -1 for such a brick,
// D - 1 >= 0 when the cube of bricks within D - 1 of it is empty. `brick` lies inside the grid
// (the caller clamps it).
fn brick_empty_reach(brick: vec3<i32>, brick_dims: vec3<i32>, tf_row: u32) -> f32 {
    let index = u32(brick.x + brick_dims.x * (brick.y + brick_dims.y * brick.z));
    return f32((brick_distances[index] >> (8u * tf_row)) & 0xffu) - 1.0;
}
