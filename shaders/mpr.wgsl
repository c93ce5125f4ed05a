// Multiplanar reformat: one plane (or a slab around it) of the CT volume, windowed to grey, with
// world-space overlays drawn per pixel. Requires common_scene.wgsl (prepended by margo-render).
//
// Screen pixel (x, y) (continuous, pixel centres at +0.5) sits at
//   origin_world + x * axis_x_world + y * axis_y_world,
// which is margo_volume::SliceGrid::world_from_screen with origin = world_from_screen(0, 0).

const BACKGROUND: vec3<f32> = vec3<f32>(0.0, 0.0, 0.0);

fn world_at(screen_px: vec2<f32>) -> vec3<f32> {
    return view.origin_world.xyz + screen_px.x * view.axis_x_world.xyz + screen_px.y * view.axis_y_world.xyz;
}

// Screen position (px) and signed depth (mm, away from the viewer) of a world point.
fn screen_from_world(p: vec3<f32>) -> vec3<f32> {
    let d = p - view.origin_world.xyz;
    let s2 = view.screen.z * view.screen.z;
    return vec3<f32>(dot(d, view.axis_x_world.xyz) / s2, dot(d, view.axis_y_world.xyz) / s2, dot(d, view.axis_z_world.xyz));
}

// Windowed grey of the plane or slab at a world point on the central plane; < 0 when no sample
// falls inside the volume.
fn slab_grey(p: vec3<f32>) -> f32 {
    if (SPEC_SLAB == SLAB_NONE) {
        let t = texture_from_world(p);
        if (!inside_unit_box(t)) {
            return -1.0;
        }
        return grey_from_hu(sample_hu(t));
    }
    // margo-render passes at least two samples for a slab.
    let samples = max(u32(view.window.w), 2u);
    let thickness = view.window.z;
    let step = thickness / f32(samples - 1u);
    var best_max = -1e30;
    var best_min = 1e30;
    var sum = 0.0;
    var count = 0u;
    for (var k = 0u; k < samples; k = k + 1u) {
        let offset = -0.5 * thickness + f32(k) * step;
        let t = texture_from_world(p + offset * view.axis_z_world.xyz);
        if (inside_unit_box(t)) {
            let hu = sample_hu(t);
            switch SPEC_SLAB {
                case SLAB_MIP: { best_max = max(best_max, hu); }
                case SLAB_MINIP: { best_min = min(best_min, hu); }
                default: { sum = sum + hu; }
            }
            count = count + 1u;
        }
    }
    if (count == 0u) {
        return -1.0;
    }
    switch SPEC_SLAB {
        case SLAB_MIP: { return grey_from_hu(best_max); }
        case SLAB_MINIP: { return grey_from_hu(best_min); }
        default: { return grey_from_hu(sum / f32(count)); }
    }
}

// Signed in-plane distance in px from the pixel to where the plane cuts ellipsoid i (negative
// inside). First order in the implicit function: exact on the outline itself.
fn ellipsoid_distance_px(i: u32, p: vec3<f32>) -> f32 {
    let m = overlays.ellipsoids[i].unit_from_world;
    let q = (m * vec4<f32>(p, 1.0)).xyz;
    let g = dot(q, q) - 1.0;
    let gx = 2.0 * dot(q, (m * vec4<f32>(view.axis_x_world.xyz, 0.0)).xyz);
    let gy = 2.0 * dot(q, (m * vec4<f32>(view.axis_y_world.xyz, 0.0)).xyz);
    return g / max(length(vec2<f32>(gx, gy)), 1e-6);
}

fn coverage(distance_px: f32, half_width_px: f32) -> f32 {
    return clamp(half_width_px + 0.5 - abs(distance_px), 0.0, 1.0);
}

fn distance_to_segment_px(x: vec2<f32>, a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let ab = b - a;
    let len2 = dot(ab, ab);
    var t = 0.0;
    if (len2 > 1e-8) {
        t = clamp(dot(x - a, ab) / len2, 0.0, 1.0);
    }
    return vec2<f32>(length(x - (a + t * ab)), t);
}

fn draw_overlays(color_in: vec3<f32>, screen_px: vec2<f32>, p: vec3<f32>) -> vec3<f32> {
    var color = color_in;
    let half_w = 0.5 * view.screen.w;
    let pixel_mm = view.screen.z;
    let near_mm = max(0.5 * view.window.z, 1.5 * pixel_mm);
    let flags = overlays.counts.w;

    // Label mask: translucent fill and a one-pixel outline; shell (grown mask): outline only.
    if (SPEC_MASK && (flags & OVERLAY_MASK) != 0u && in_mask(p)) {
        color = over(color, vec4<f32>(overlays.mask_color.rgb, overlays.mask_color.a));
        let dx = view.axis_x_world.xyz;
        let dy = view.axis_y_world.xyz;
        if (!(in_mask(p + dx) && in_mask(p - dx) && in_mask(p + dy) && in_mask(p - dy))) {
            color = overlays.mask_color.rgb;
        }
    }
    if (SPEC_SHELL && (flags & OVERLAY_SHELL) != 0u && in_shell(p)) {
        let dx = view.axis_x_world.xyz;
        let dy = view.axis_y_world.xyz;
        if (!(in_shell(p + dx) && in_shell(p - dx) && in_shell(p + dy) && in_shell(p - dy))) {
            color = over(color, overlays.shell_color);
        }
    }

    // Ellipsoids: unions by group id. Fill once per group, outline only where no other member
    // of the group covers the pixel, so a union shows its outer boundary.
    let n_e = select(0u, min(overlays.counts.x, MAX_ELLIPSOIDS), SPEC_ELLIPSOIDS);
    for (var i = 0u; i < n_e; i = i + 1u) {
        let e = overlays.ellipsoids[i];
        let d_i = ellipsoid_distance_px(i, p);
        var covered_by_other = false;
        var filled_before = false;
        for (var j = 0u; j < n_e; j = j + 1u) {
            if (j != i && overlays.ellipsoids[j].params.x == e.params.x) {
                let d_j = ellipsoid_distance_px(j, p);
                if (d_j < -half_w) {
                    covered_by_other = true;
                }
                if (j < i && d_j < 0.0) {
                    filled_before = true;
                }
            }
        }
        if (d_i < 0.0 && !filled_before && e.params.y > 0.0) {
            color = over(color, vec4<f32>(e.color.rgb, e.params.y));
        }
        if (!covered_by_other) {
            color = over(color, vec4<f32>(e.color.rgb, coverage(d_i, half_w)));
        }
    }

    // Line segments (probe shafts) with end markers; fainter where they are away from the plane.
    let n_s = select(0u, min(overlays.counts.y, MAX_SEGMENTS), SPEC_SEGMENTS);
    for (var i = 0u; i < n_s; i = i + 1u) {
        let s = overlays.segments[i];
        let a = screen_from_world(s.a.xyz);
        let b = screen_from_world(s.b.xyz);
        let dt = distance_to_segment_px(screen_px, a.xy, b.xy);
        let depth = mix(a.z, b.z, dt.y);
        let strength = select(0.45, 1.0, abs(depth) <= near_mm);
        color = over(color, vec4<f32>(s.color.rgb, s.color.a * strength * coverage(dt.x, half_w)));
        let marker_px = max(s.b.w / pixel_mm, 3.0);
        if (s.params.x > 0.0) {
            let strength_a = select(0.45, 1.0, abs(a.z) <= max(near_mm, s.b.w));
            color = over(color, vec4<f32>(s.color.rgb, s.color.a * strength_a * coverage(length(screen_px - a.xy) - marker_px, half_w)));
        }
        if (s.params.y > 0.0) {
            let strength_b = select(0.45, 1.0, abs(b.z) <= max(near_mm, s.b.w));
            let r = length(screen_px - b.xy);
            var cov = coverage(r - marker_px, half_w);
            if (s.params.y > 1.5 && r < marker_px) {
                cov = 1.0;
            }
            color = over(color, vec4<f32>(s.color.rgb, s.color.a * strength_b * cov));
        }
    }

    // Points: discs, fainter when the point lies off the plane.
    let n_p = select(0u, min(overlays.counts.z, MAX_POINTS), SPEC_POINTS);
    for (var i = 0u; i < n_p; i = i + 1u) {
        let pt = overlays.points[i];
        let q = screen_from_world(pt.position.xyz);
        let radius_px = max(pt.position.w / pixel_mm, 2.0);
        let strength = select(0.35, 1.0, abs(q.z) <= max(near_mm, pt.position.w));
        let r = length(screen_px - q.xy);
        color = over(color, vec4<f32>(pt.color.rgb, pt.color.a * strength * clamp(radius_px + 0.5 - r, 0.0, 1.0)));
    }

    // Crosshair through a world point, with a gap around it.
    if (SPEC_CROSSHAIR && (flags & OVERLAY_CROSSHAIR) != 0u) {
        let c = screen_from_world(overlays.crosshair.xyz);
        let gap = overlays.crosshair.w;
        let off = screen_px - c.xy;
        var cov = 0.0;
        if (abs(off.y) > gap) {
            cov = max(cov, coverage(off.x, half_w));
        }
        if (abs(off.x) > gap) {
            cov = max(cov, coverage(off.y, half_w));
        }
        color = over(color, vec4<f32>(overlays.crosshair_color.rgb, overlays.crosshair_color.a * cov));
    }
    return color;
}

@fragment
fn fs_mpr(in: FullscreenOut) -> @location(0) vec4<f32> {
    let p = world_at(in.screen_px);
    let grey = slab_grey(p);
    var color = BACKGROUND;
    if (grey >= 0.0) {
        color = vec3<f32>(grey);
    }
    if (SPEC_OVERLAYS) {
        color = draw_overlays(color, in.screen_px, p);
    }
    return to_target(vec4<f32>(color, 1.0));
}
