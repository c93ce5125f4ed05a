// Volume ray casting: front-to-back compositing through a transfer function with gradient shading
// and early termination, or maximum intensity projection; analytic overlay surfaces (ellipsoids,
// probe capsules, spheres) and the label-mask surface are composited in depth order.
// Requires common_scene.wgsl and one of bricks_texture.wgsl / bricks_buffer.wgsl (prepended by
// margo-render).

const MAX_STEPS: u32 = 4096u;
const OPAQUE: f32 = 0.99;

const HIT_NONE: u32 = 0u;
const HIT_ELLIPSOID: u32 = 1u;
const HIT_CAPSULE: u32 = 2u;
const HIT_SPHERE_A: u32 = 3u;
const HIT_SPHERE_B: u32 = 4u;
const HIT_POINT: u32 = 5u;

struct Hit {
    t: f32,
    kind: u32,
    index: u32,
};

// Parameter interval of the ray inside the unit texture box, in world mm along the unit ray.
fn ray_box(o: vec3<f32>, d: vec3<f32>, lo: vec3<f32>, hi: vec3<f32>) -> vec2<f32> {
    var t0 = -1e30;
    var t1 = 1e30;
    for (var a = 0; a < 3; a = a + 1) {
        if (abs(d[a]) < 1e-12) {
            if (o[a] < lo[a] || o[a] > hi[a]) {
                return vec2<f32>(1.0, 0.0);
            }
        } else {
            let ta = (lo[a] - o[a]) / d[a];
            let tb = (hi[a] - o[a]) / d[a];
            t0 = max(t0, min(ta, tb));
            t1 = min(t1, max(ta, tb));
        }
    }
    return vec2<f32>(t0, t1);
}

fn hash_pixel(p: vec2<u32>, seed: u32) -> f32 {
    var h = p.x * 1973u + p.y * 9277u + seed * 26699u;
    h = (h ^ (h >> 15u)) * 0x2c1b3c6du;
    h = (h ^ (h >> 12u)) * 0x297a2d39u;
    h = h ^ (h >> 15u);
    return f32(h & 0xffffu) / 65536.0;
}

fn world_gradient(labels: texture_3d<f32>, m: mat4x4<f32>, dims: vec3<f32>, t: vec3<f32>) -> vec3<f32> {
    let e = 1.0 / dims;
    let g_tex = vec3<f32>(
        textureSampleLevel(labels, linear_clamp, t + vec3<f32>(e.x, 0.0, 0.0), 0.0).r - textureSampleLevel(labels, linear_clamp, t - vec3<f32>(e.x, 0.0, 0.0), 0.0).r,
        textureSampleLevel(labels, linear_clamp, t + vec3<f32>(0.0, e.y, 0.0), 0.0).r - textureSampleLevel(labels, linear_clamp, t - vec3<f32>(0.0, e.y, 0.0), 0.0).r,
        textureSampleLevel(labels, linear_clamp, t + vec3<f32>(0.0, 0.0, e.z), 0.0).r - textureSampleLevel(labels, linear_clamp, t - vec3<f32>(0.0, 0.0, e.z), 0.0).r,
    ) * dims * 0.5;
    // d(value)/d(world) = transpose(d(texture)/d(world)) * d(value)/d(texture)
    let lin = mat3x3<f32>(m[0].xyz, m[1].xyz, m[2].xyz);
    return transpose(lin) * g_tex;
}

fn shade(color: vec3<f32>, normal: vec3<f32>, ray_dir: vec3<f32>) -> vec3<f32> {
    let len = length(normal);
    if (!SPEC_SHADING || len < 1e-6) {
        return color;
    }
    // Headlight, two-sided: a surface facing away from the eye is lit like one facing it.
    let n = normal / len;
    let diffuse = abs(dot(n, -ray_dir));
    let ambient = view.ray.z;
    let lit = ambient + (1.0 - ambient) * diffuse;
    let specular = pow(diffuse, 24.0) * 0.25;
    return mix(color, color * lit + vec3<f32>(specular), view.ray.w);
}

fn sphere_hit(o: vec3<f32>, d: vec3<f32>, c: vec3<f32>, r: f32, t_after: f32) -> f32 {
    let oc = o - c;
    let b = dot(oc, d);
    let h = b * b - (dot(oc, oc) - r * r);
    if (h < 0.0) {
        return 1e30;
    }
    let s = sqrt(h);
    if (-b - s > t_after) {
        return -b - s;
    }
    return 1e30;
}

// Entry of the ray into the capsule a-b of radius r (after t_after), else 1e30.
fn capsule_hit(o: vec3<f32>, d: vec3<f32>, pa: vec3<f32>, pb: vec3<f32>, r: f32, t_after: f32) -> f32 {
    let ba = pb - pa;
    let oa = o - pa;
    let baba = dot(ba, ba);
    if (baba < 1e-10) {
        return sphere_hit(o, d, pa, r, t_after);
    }
    let bard = dot(ba, d);
    let baoa = dot(ba, oa);
    let rdoa = dot(d, oa);
    let oaoa = dot(oa, oa);
    let a = baba - bard * bard;
    let b = baba * rdoa - baoa * bard;
    let c = baba * oaoa - baoa * baoa - r * r * baba;
    let h = b * b - a * c;
    if (a > 1e-8 && h >= 0.0) {
        let t = (-b - sqrt(h)) / a;
        let y = baoa + t * bard;
        if (y > 0.0 && y < baba && t > t_after) {
            return t;
        }
    }
    return min(sphere_hit(o, d, pa, r, t_after), sphere_hit(o, d, pb, r, t_after));
}

fn next_surface(o: vec3<f32>, d: vec3<f32>, t_after: f32) -> Hit {
    var best = Hit(1e30, HIT_NONE, 0u);
    let n_e = select(0u, min(overlays.counts.x, MAX_ELLIPSOIDS), SPEC_ELLIPSOIDS);
    for (var i = 0u; i < n_e; i = i + 1u) {
        let m = overlays.ellipsoids[i].unit_from_world;
        let ou = (m * vec4<f32>(o, 1.0)).xyz;
        let du = (m * vec4<f32>(d, 0.0)).xyz;
        let a = dot(du, du);
        let b = dot(ou, du);
        let c = dot(ou, ou) - 1.0;
        let h = b * b - a * c;
        if (a > 1e-12 && h >= 0.0) {
            let s = sqrt(h);
            let t_near = (-b - s) / a;
            let t_far = (-b + s) / a;
            if (t_near > t_after && t_near < best.t) {
                best = Hit(t_near, HIT_ELLIPSOID, i);
            } else if (t_far > t_after && t_far < best.t) {
                best = Hit(t_far, HIT_ELLIPSOID, i);
            }
        }
    }
    let n_s = select(0u, min(overlays.counts.y, MAX_SEGMENTS), SPEC_SEGMENTS);
    for (var i = 0u; i < n_s; i = i + 1u) {
        let s = overlays.segments[i];
        let t = capsule_hit(o, d, s.a.xyz, s.b.xyz, s.a.w, t_after);
        if (t < best.t) {
            best = Hit(t, HIT_CAPSULE, i);
        }
        if (s.params.x > 0.0) {
            let ta = sphere_hit(o, d, s.a.xyz, s.b.w, t_after);
            if (ta < best.t) {
                best = Hit(ta, HIT_SPHERE_A, i);
            }
        }
        if (s.params.y > 0.0) {
            let tb = sphere_hit(o, d, s.b.xyz, s.b.w, t_after);
            if (tb < best.t) {
                best = Hit(tb, HIT_SPHERE_B, i);
            }
        }
    }
    let n_p = select(0u, min(overlays.counts.z, MAX_POINTS), SPEC_POINTS);
    for (var i = 0u; i < n_p; i = i + 1u) {
        let pt = overlays.points[i];
        let t = sphere_hit(o, d, pt.position.xyz, pt.position.w, t_after);
        if (t < best.t) {
            best = Hit(t, HIT_POINT, i);
        }
    }
    return best;
}

// Colour (premultiplied by nothing) and alpha of a surface hit, shaded.
fn surface_color(hit: Hit, o: vec3<f32>, d: vec3<f32>) -> vec4<f32> {
    let p = o + hit.t * d;
    switch hit.kind {
        case 1u: {
            let e = overlays.ellipsoids[hit.index];
            let q = (e.unit_from_world * vec4<f32>(p, 1.0)).xyz;
            let lin = mat3x3<f32>(e.unit_from_world[0].xyz, e.unit_from_world[1].xyz, e.unit_from_world[2].xyz);
            return vec4<f32>(shade(e.color.rgb, transpose(lin) * q, d), e.color.a);
        }
        case 2u: {
            let s = overlays.segments[hit.index];
            let ba = s.b.xyz - s.a.xyz;
            let h = clamp(dot(p - s.a.xyz, ba) / max(dot(ba, ba), 1e-10), 0.0, 1.0);
            return vec4<f32>(shade(s.color.rgb, p - (s.a.xyz + h * ba), d), s.color.a);
        }
        case 3u: {
            let s = overlays.segments[hit.index];
            return vec4<f32>(shade(s.color.rgb, p - s.a.xyz, d), s.color.a);
        }
        case 4u: {
            let s = overlays.segments[hit.index];
            return vec4<f32>(shade(s.color.rgb, p - s.b.xyz, d), s.color.a);
        }
        default: {
            let pt = overlays.points[hit.index];
            return vec4<f32>(shade(pt.color.rgb, p - pt.position.xyz, d), pt.color.a);
        }
    }
}

@fragment
fn fs_raycast(in: FullscreenOut) -> @location(0) vec4<f32> {
    return raycast_pixel(in.screen_px);
}

// Headless frames can be ray cast in a compute pass instead (margo-render's compute_raycast.rs):
// the same pixels, written straight into the frame. GPUs built for compute (NVIDIA H100/H200)
// run fragment shaders on a few graphics-capable units only, compute shaders on all of them.
@group(2) @binding(0) var frame_out: texture_storage_2d<rgba8unorm, write>;
// x, y: the frame pixel of invocation (0, 0) (the corner of the rectangle that rays can meet
// anything in); z, w: that rectangle's size in pixels.
@group(2) @binding(1) var<uniform> dispatch_rect: vec4<u32>;

// Each workgroup covers a TILE x TILE pixel tile, its invocations in Morton order, so that
// consecutive invocations (one SIMD vector on a CPU rasteriser, part of a warp on a GPU) cover
// compact blocks of pixels (4 x 2, 4 x 4, ...) whose rays stay close together.
const TILE: u32 = 8u;

@compute @workgroup_size(64)
fn cs_raycast(@builtin(workgroup_id) tile: vec3<u32>, @builtin(local_invocation_index) i: u32) {
    let in_tile = vec2<u32>(
        (i & 1u) | ((i >> 1u) & 2u) | ((i >> 2u) & 4u),
        ((i >> 1u) & 1u) | ((i >> 2u) & 2u) | ((i >> 3u) & 4u),
    );
    let id = vec2<u32>(tile.x, tile_row(tile.y, (dispatch_rect.w + TILE - 1u) / TILE)) * TILE + in_tile;
    if (id.x >= dispatch_rect.z || id.y >= dispatch_rect.w) {
        return;
    }
    let px = dispatch_rect.xy + id;
    textureStore(frame_out, px, raycast_pixel(vec2<f32>(px) + vec2<f32>(0.5)));
}

// The tile row that workgroup row `w` draws, of `rows`: the rows are taken in 16 interleaved
// classes (row mod 16), the classes in bit-reversed order (0, 8, 4, 12, 2, ...). Why: a CPU
// rasteriser splits a dispatch into one contiguous run of workgroups per thread (lavapipe, by
// index), and bands of the frame differ a lot in cost (air above the shoulders, lungs below).
// In this order any 2, 4, 8 or 16 equal runs each cover rows spread over the whole frame, so
// no thread finishes its share early and idles while the others work. GPUs schedule
// workgroups dynamically; the order costs them nothing.
fn tile_row(w: u32, rows: u32) -> u32 {
    let per_class = rows / 16u;
    let longer = rows % 16u;
    var first = 0u;
    for (var j = 0u; j < 16u; j = j + 1u) {
        let residue = reverseBits(j) >> 28u;
        let size = per_class + select(0u, 1u, residue < longer);
        if (w < first + size) {
            return residue + 16u * (w - first);
        }
        first = first + size;
    }
    return w;
}

// The colour of the pixel whose centre is at `screen_px` (pixels of the view, centres at +0.5).
fn raycast_pixel(screen_px: vec2<f32>) -> vec4<f32> {
    let o = view.origin_world.xyz;
    let through = view.axis_z_world.xyz + (screen_px.x - 0.5 * view.screen.x) * view.axis_x_world.xyz
        + (screen_px.y - 0.5 * view.screen.y) * view.axis_y_world.xyz;
    let d = normalize(through);

    // Ray interval inside the volume (texture box), then the clip box and clip plane.
    let o_tex = texture_from_world(o);
    let d_tex = (view.texture_from_world * vec4<f32>(d, 0.0)).xyz;
    var span = ray_box(o_tex, d_tex, vec3<f32>(0.0), vec3<f32>(1.0));
    if (SPEC_CLIP_BOX) {
        let c = ray_box(o, d, view.clip_min.xyz, view.clip_max.xyz);
        span = vec2<f32>(max(span.x, c.x), min(span.y, c.y));
    }
    if (SPEC_CLIP_PLANE) {
        let n = view.clip_plane.xyz;
        let denom = dot(n, d);
        let num = view.clip_plane.w - dot(n, o);
        if (abs(denom) < 1e-8) {
            if (num < 0.0) {
                span = vec2<f32>(1.0, 0.0);
            }
        } else if (denom > 0.0) {
            span.y = min(span.y, num / denom);
        } else {
            span.x = max(span.x, num / denom);
        }
    }
    span.x = max(span.x, 0.0);

    let step = max(view.ray.x, 1e-3);
    var t = span.x;
    if (SPEC_JITTER) {
        t = t + step * hash_pixel(vec2<u32>(screen_px), view.modes.z);
    }
    let steps = min(u32(max(ceil((span.y - t) / step), 0.0)), MAX_STEPS);
    let overlays_on = SPEC_OVERLAYS;

    if (SPEC_RAY_MIP) {
        var best = -1e30;
        for (var k = 0u; k < steps; k = k + 1u) {
            best = max(best, sample_hu(texture_from_world(o + (t + f32(k) * step) * d)));
        }
        var g = 0.0;
        if (steps > 0u) {
            g = grey_from_hu(best);
        }
        return to_target(vec4<f32>(vec3<f32>(g), 1.0));
    }

    var acc = vec3<f32>(0.0);
    var alpha = 0.0;
    var hit = Hit(1e30, HIT_NONE, 0u);
    if (overlays_on) {
        hit = next_surface(o, d, 0.0);
    }
    let mask_on = SPEC_MASK && overlays_on && (overlays.counts.w & OVERLAY_MASK) != 0u;
    var mask_prev = 0.0;
    let hu_span = max(view.tf_range.y - view.tf_range.x, 1e-3);
    let opacity_exponent = step / max(view.ray.y, 1e-3);

    // Empty-space skipping: bricks (view.brick_voxels voxels a side) whose HU range is fully transparent
    // in this transfer function (and hold no mask) are crossed in one jump, together with the
    // empty bricks around them (distance map), landing on the same step grid as without skipping,
    // so the image does not change. (A brick's HU range covers samples up to half a voxel past its
    // faces, so f32 rounding of the exit point cannot skip a visible sample.)
    let tf_row = u32(view.tf_range.w);
    let brick_dims = vec3<i32>(textureDimensions(brick_occupancy));
    let cells_per_mm = d_tex * view.volume_dims.xyz;
    let brick_voxels = max(view.brick_voxels.xyz, vec3<f32>(1.0));
    // Reciprocals, so that the search loop multiplies instead of dividing (a division costs a
    // SIMD rasteriser several multiplications); the brick halo covers their rounding.
    let bricks_per_cell = 1.0 / brick_voxels;
    let mm_per_cell = select(vec3<f32>(0.0), 1.0 / cells_per_mm, cells_per_mm != vec3<f32>(0.0));
    let steps_per_mm = 1.0 / step;
    // Uniforms the search reads, held in locals: a SIMD rasteriser (llvmpipe) reloads a uniform
    // read inside the loop after every texture call, one lane at a time.
    let volume_dims = view.volume_dims.xyz;
    let visible_hu = view.tf_visible_hu.xy;
    var k = 0u;
    var iterations = 0u;
    // Samples the search found and compositing has not taken yet, in ray order: step, HU, mask
    // entry; entries 0-3 in `*_lo`, 4-7 in `*_hi`. Vectors written and read through selects,
    // not arrays: a CPU rasteriser keeps an array indexed at run time in memory.
    var queued = 0u;
    var queue_k_lo = vec4<u32>(0u);
    var queue_k_hi = vec4<u32>(0u);
    var queue_hu_lo = vec4<f32>(0.0);
    var queue_hu_hi = vec4<f32>(0.0);
    var queue_mask_lo = vec4<bool>(false);
    var queue_mask_hi = vec4<bool>(false);
    // Two phases, repeated: the search collects up to SPEC_SEARCH_QUEUE samples that need
    // compositing, then they are composited in order. The expensive part (gradients, shading, compositing)
    // stays out of the search loop: a SIMD rasteriser (llvmpipe) runs every statement of a loop
    // body for all its lanes, so mixing it in would make each skipped sample cost as much as a
    // shaded one. The queue is for the lanes' waiting: a SIMD group leaves a loop when its last
    // lane does, so with one sample per phase a lane whose samples lie close together waited
    // for its neighbours' long searches once per sample; now it fills its queue meanwhile.
    // (Lung, 512x512, interactive step: per group of 8 rays the search loop ran at least 85
    // times with one sample per phase, about 70 with four and 59 with eight, where the group's
    // longest search alone takes 53.) The samples and their order are the same as with one, so
    // is the image.
    loop {
        // Search: empty bricks are crossed in one jump, a sample whose HU lies outside the
        // transfer function's visible interval costs one volume read, and a sample that may be
        // visible, a surface crossing or a mask entry is queued.
        loop {
            if (queued >= min(SPEC_SEARCH_QUEUE, 8u) || k >= steps || iterations >= MAX_STEPS) {
                break;
            }
            iterations = iterations + 1u;
            let tk = t + f32(k) * step;
            let cell = (o_tex + tk * d_tex) * volume_dims;
            let brick = clamp(vec3<i32>(floor(cell * bricks_per_cell)), vec3<i32>(0), brick_dims - vec3<i32>(1));
            // Chebyshev distance in bricks to the nearest brick this transfer function may show:
            // at distance D > 0 the cube of bricks within D - 1 is empty, leave it in one jump.
            let empty_reach = brick_empty_reach(brick, brick_dims, tf_row);
            if (empty_reach >= 0.0) {
                let lo = (vec3<f32>(brick) - empty_reach) * brick_voxels;
                let hi = (vec3<f32>(brick) + empty_reach + 1.0) * brick_voxels;
                let face = select(lo, hi, cells_per_mm > vec3<f32>(0.0));
                let to_exit = select(vec3<f32>(1e30), (face - cell) * mm_per_cell, cells_per_mm != vec3<f32>(0.0));
                let exit_t = tk + max(min(to_exit.x, min(to_exit.y, to_exit.z)), 0.0);
                k = max(k + 1u, u32(ceil((exit_t - t) * steps_per_mm)));
                continue;
            }
            let p = o + tk * d;
            var mask_entry = false;
            if (mask_on) {
                let tm = (overlays.mask_texture_from_world * vec4<f32>(p, 1.0)).xyz;
                var m = 0.0;
                if (inside_unit_box(tm)) {
                    m = textureSampleLevel(mask_labels, linear_clamp, tm, 0.0).r;
                }
                mask_entry = m >= 0.5 && mask_prev < 0.5;
                mask_prev = m;
            }
            let hu = textureSampleLevel(volume_hu, linear_clamp, texture_from_world(p), 0.0).r;
            // Outside this interval the transfer function is transparent: no need to read it.
            let maybe_visible = hu > visible_hu.x && hu < visible_hu.y;
            let surface_crossed = overlays_on && hit.kind != HIT_NONE && hit.t <= tk;
            if (surface_crossed || mask_entry || maybe_visible) {
                let lo = vec4<u32>(queued) == vec4<u32>(0u, 1u, 2u, 3u);
                let hi = vec4<u32>(queued) == vec4<u32>(4u, 5u, 6u, 7u);
                queue_k_lo = select(queue_k_lo, vec4<u32>(k), lo);
                queue_k_hi = select(queue_k_hi, vec4<u32>(k), hi);
                queue_hu_lo = select(queue_hu_lo, vec4<f32>(hu), lo);
                queue_hu_hi = select(queue_hu_hi, vec4<f32>(hu), hi);
                queue_mask_lo = select(queue_mask_lo, vec4<bool>(mask_entry), lo);
                queue_mask_hi = select(queue_mask_hi, vec4<bool>(mask_entry), hi);
                queued = queued + 1u;
            }
            k = k + 1u;
        }
        if (queued == 0u) {
            break;
        }
        // Composite the queued samples, front to back.
        var opaque = false;
        for (var j = 0u; j < queued; j = j + 1u) {
            // Entry j: the sum over both banks of the one element selected.
            let lo = vec4<u32>(j) == vec4<u32>(0u, 1u, 2u, 3u);
            let hi = vec4<u32>(j) == vec4<u32>(4u, 5u, 6u, 7u);
            let step_j = dot(select(vec4<u32>(0u), queue_k_lo, lo) + select(vec4<u32>(0u), queue_k_hi, hi), vec4<u32>(1u));
            let tk = t + f32(step_j) * step;
            let hu = dot(select(vec4<f32>(0.0), queue_hu_lo, lo) + select(vec4<f32>(0.0), queue_hu_hi, hi), vec4<f32>(1.0));
            // mask_on first: without a mask the compiler then drops the mask's shading code.
            let mask_entry = mask_on && any((queue_mask_lo & lo) | (queue_mask_hi & hi));
            // Surfaces the ray crossed before this sample.
            for (var guard = 0u; guard < 8u && hit.kind != HIT_NONE && hit.t <= tk; guard = guard + 1u) {
                let s = surface_color(hit, o, d);
                acc = acc + (1.0 - alpha) * s.a * s.rgb;
                alpha = alpha + (1.0 - alpha) * s.a;
                hit = next_surface(o, d, hit.t + 1e-3);
            }
            if (alpha > OPAQUE) {
                opaque = true;
                break;
            }
            let p = o + tk * d;
            if (mask_entry) {
                let tm = (overlays.mask_texture_from_world * vec4<f32>(p, 1.0)).xyz;
                let n = -world_gradient(mask_labels, overlays.mask_texture_from_world, overlays.mask_dims.xyz, tm);
                let a = 0.85;
                acc = acc + (1.0 - alpha) * a * shade(overlays.mask_color.rgb, n, d);
                alpha = alpha + (1.0 - alpha) * a;
            }
            let tf = textureSampleLevel(transfer_function, linear_clamp, vec2<f32>((hu - view.tf_range.x) / hu_span, view.tf_range.z), 0.0);
            if (tf.a > 1e-4) {
                let a = 1.0 - pow(1.0 - clamp(tf.a, 0.0, 0.999), opacity_exponent);
                var c = tf.rgb;
                if (SPEC_SHADING) {
                    c = shade(c, world_gradient(volume_hu, view.texture_from_world, view.volume_dims.xyz, texture_from_world(p)), d);
                }
                acc = acc + (1.0 - alpha) * a * c;
                alpha = alpha + (1.0 - alpha) * a;
            }
            if (alpha > OPAQUE) {
                opaque = true;
                break;
            }
        }
        queued = 0u;
        if (opaque) {
            break;
        }
    }
    // Surfaces behind the last sample (e.g. a probe beyond the volume box).
    for (var guard = 0u; guard < 8u && hit.kind != HIT_NONE && alpha <= OPAQUE; guard = guard + 1u) {
        let s = surface_color(hit, o, d);
        acc = acc + (1.0 - alpha) * s.a * s.rgb;
        alpha = alpha + (1.0 - alpha) * s.a;
        hit = next_surface(o, d, hit.t + 1e-3);
    }
    // Composite over a black background.
    return to_target(vec4<f32>(acc, 1.0));
}
