//! A fast decoder for the JPEG 2000 lossless codestreams that CT archives hold: one tile, one
//! component, reversible 5/3 wavelet, no code-block style options, one precinct per
//! resolution, every coding pass present (what gdcmconv, OpenJPEG and the DICOM WG04 samples
//! write). Anything else, truncated or corrupt streams included, is a [`Fallback`] and goes to
//! OpenJPEG (through dicom-pixeldata), which also names the error when there is one.
//!
//! Why: OpenJPEG spends ~85% of a CT slice in tier-1 (the MQ decoder and its three passes), and
//! slices already fill every core. This tier-1 keeps four samples' states in one word, finds
//! the samples a pass codes 16 stripe columns at a time, reads contexts from tables, decodes
//! refinement and sign bits without branching on their (coin-flip) values, and its arithmetic
//! decoder reads bytes ahead and renormalises with one shift (BENCHMARKS.md has what each step
//! gained). Output equals OpenJPEG's, sample for sample (tests compare both on real CT and on
//! the uncompressed references).

mod block;
mod dwt;
mod markers;
mod mq;
mod packets;

use block::{BlockDecoder, CodeBlock};

/// Why the fast path declined a stream (the caller then uses OpenJPEG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fallback(pub &'static str);

/// Buffers reused across slices (one per thread).
#[derive(Default)]
pub(crate) struct Scratch {
    tile: Vec<i32>,
    tmp: Vec<i32>,
    block: BlockDecoder,
    joined: Vec<u8>,
}

/// Decodes `stream` (a raw codestream) of `cols` x `rows` samples into `out` as OpenJPEG
/// would hand them over: level-shifted, clamped to the codestream's precision, low 16 bits.
pub(crate) fn decode_into(
    stream: &[u8],
    rows: usize,
    cols: usize,
    out: &mut [u16],
    scratch: &mut Scratch,
) -> Result<(), Fallback> {
    let (params, data) = markers::parse(stream)?;
    if params.width != cols || params.height != rows || out.len() != rows * cols {
        return Err(Fallback("codestream size differs from Rows x Columns"));
    }
    let mut bands = packets::bands(&params);
    packets::read_packets(&params, &data, &mut bands)?;

    let (w, h) = (params.width, params.height);
    let tile = &mut scratch.tile;
    tile.clear();
    tile.resize(w * h, 0);
    for band in bands.iter().flatten() {
        for (k, info) in band.blocks.iter().enumerate() {
            if !info.included || info.chunks.is_empty() {
                continue;
            }
            if !(1..=30).contains(&info.bitplanes) {
                return Err(Fallback("code-block bit-planes out of range"));
            }
            let bitplanes = info.bitplanes as u32;
            if info.passes < 3 * bitplanes - 2 {
                return Err(Fallback("code-block with passes missing (not lossless)"));
            }
            // One layer: the segment is read where it lies; else its pieces are joined.
            let segment = match info.chunks[..] {
                [(start, len)] => &data[start..start + len],
                _ => {
                    let joined = &mut scratch.joined;
                    joined.clear();
                    for &(start, len) in &info.chunks {
                        joined.extend_from_slice(&data[start..start + len]);
                    }
                    &joined[..]
                }
            };
            let (bx, by) = (k % band.grid_w, k / band.grid_w);
            let x0 = bx * band.block_w;
            let y0 = by * band.block_h;
            let block = CodeBlock {
                segment,
                width: band.block_w.min(band.width - x0),
                height: band.block_h.min(band.height - y0),
                orientation: band.orientation,
                bitplanes,
            };
            let origin = (band.y0 + y0) * w + band.x0 + x0;
            scratch.block.decode(&block, &mut tile[origin..], w);
        }
    }
    let dims = packets::resolution_dims(&params);
    dwt::inverse(tile, w, &dims, &mut scratch.tmp);

    // Precision is 1..=16 (markers), so the bounds, shifted back by the level shift, fit i32:
    // clamping before the shift cannot overflow, and the loop vectorises.
    let half = 1i32 << (params.precision - 1);
    let (shift, min, max) = if params.signed {
        (0, -half, half - 1)
    } else {
        (half, 0, 2 * half - 1)
    };
    for (o, &v) in out.iter_mut().zip(tile.iter()) {
        *o = (v.clamp(min - shift, max - shift) + shift) as u16;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
