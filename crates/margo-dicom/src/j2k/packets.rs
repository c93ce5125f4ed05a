//! Tier-2: packet headers (ISO/IEC 15444-1 B.10) for one component with one precinct per
//! resolution, giving each code-block its bit-planes, pass count and data ranges. Follows
//! OpenJPEG's bit reader and tag-tree decoding so that the same bytes give the same result.

use super::Fallback;
use super::block::Orientation;
use super::markers::Params;

/// Passes that fit in one codeword segment without termination (OpenJPEG's limit).
const MAX_PASSES_PER_SEGMENT: u32 = 109;

/// Packet-header bit reader with bit stuffing after 0xFF (OpenJPEG's `opj_bio`).
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u32,
    ct: u32,
    /// A read went past the end of the data (only zeros came back).
    overrun: bool,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            buf: 0,
            ct: 0,
            overrun: false,
        }
    }

    fn byte_in(&mut self) {
        self.buf = (self.buf << 8) & 0xFFFF;
        self.ct = if self.buf == 0xFF00 { 7 } else { 8 };
        match self.data.get(self.pos) {
            Some(&b) => {
                self.buf |= u32::from(b);
                self.pos += 1;
            }
            None => self.overrun = true,
        }
    }

    fn bit(&mut self) -> u32 {
        if self.ct == 0 {
            self.byte_in();
        }
        self.ct -= 1;
        (self.buf >> self.ct) & 1
    }

    fn bits(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |v, _| (v << 1) | self.bit())
    }

    fn align(&mut self) {
        if self.buf & 0xFF == 0xFF {
            self.byte_in();
        }
        self.ct = 0;
    }
}

/// A tag tree over a grid of code-blocks (B.10.2).
struct TagTree {
    value: Vec<i32>,
    low: Vec<i32>,
    parent: Vec<u32>,
}

const NO_PARENT: u32 = u32::MAX;

impl TagTree {
    fn new(w: usize, h: usize) -> Self {
        let mut dims = vec![(w, h)];
        while dims.last().is_some_and(|&(w, h)| w * h > 1) {
            let (w, h) = *dims.last().unwrap_or(&(1, 1));
            dims.push((w.div_ceil(2), h.div_ceil(2)));
        }
        let total: usize = dims.iter().map(|&(w, h)| w * h).sum();
        let mut parent = vec![NO_PARENT; total];
        let mut start = 0;
        for k in 0..dims.len() - 1 {
            let (w, h) = dims[k];
            let next_start = start + w * h;
            let next_w = dims[k + 1].0;
            for y in 0..h {
                for x in 0..w {
                    parent[start + y * w + x] = (next_start + (y / 2) * next_w + x / 2) as u32;
                }
            }
            start = next_start;
        }
        TagTree {
            value: vec![999; total],
            low: vec![0; total],
            parent,
        }
    }

    /// Whether leaf's value < threshold, reading bits as needed (`opj_tgt_decode`).
    fn decode(&mut self, bio: &mut BitReader<'_>, leaf: usize, threshold: i32) -> bool {
        let mut path = [0u32; 32];
        let mut depth = 0;
        let mut node = leaf as u32;
        while self.parent[node as usize] != NO_PARENT && depth < path.len() {
            path[depth] = node;
            depth += 1;
            node = self.parent[node as usize];
        }
        let mut low = 0;
        loop {
            let n = node as usize;
            if low > self.low[n] {
                self.low[n] = low;
            } else {
                low = self.low[n];
            }
            while low < threshold && low < self.value[n] {
                if bio.bit() != 0 {
                    self.value[n] = low;
                } else {
                    low += 1;
                }
            }
            self.low[n] = low;
            if depth == 0 {
                break;
            }
            depth -= 1;
            node = path[depth];
        }
        self.value[node as usize] < threshold
    }
}

/// What tier-2 learned about one code-block.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockInfo {
    pub included: bool,
    /// Magnitude bit-planes (may be out of range in a corrupt stream).
    pub bitplanes: i32,
    length_bits: u32,
    pub passes: u32,
    /// Byte ranges in the tile data, in order.
    pub chunks: Vec<(usize, usize)>,
}

/// A sub-band of one resolution, with its place in the tile buffer and its code-blocks.
pub(crate) struct Band {
    /// Top-left corner in the tile's coefficient buffer (the Mallat layout).
    pub x0: usize,
    pub y0: usize,
    pub width: usize,
    pub height: usize,
    pub orientation: Orientation,
    /// Bit-planes before zero bit-planes (Mb = exponent + guard bits - 1).
    magnitude_bits: i32,
    pub block_w: usize,
    pub block_h: usize,
    pub grid_w: usize,
    pub blocks: Vec<BlockInfo>,
    inclusion: TagTree,
    zero_planes: TagTree,
}

/// Width and height of each resolution level, 0 (LL only) to `levels`.
pub(crate) fn resolution_dims(p: &Params) -> Vec<(usize, usize)> {
    (0..=p.levels)
        .map(|r| {
            let shift = (p.levels - r) as u32;
            (
                p.width.div_ceil(1usize << shift.min(63)),
                p.height.div_ceil(1usize << shift.min(63)),
            )
        })
        .collect()
}

fn make_band(
    p: &Params,
    (x0, y0, width, height): (usize, usize, usize, usize),
    orientation: Orientation,
    exponent: u32,
) -> Band {
    let block_w = 1usize << p.block_w_exp;
    let block_h = 1usize << p.block_h_exp;
    let grid_w = width.div_ceil(block_w);
    let grid_h = height.div_ceil(block_h);
    Band {
        x0,
        y0,
        width,
        height,
        orientation,
        magnitude_bits: (exponent + p.guard_bits) as i32 - 1,
        block_w,
        block_h,
        grid_w,
        blocks: vec![BlockInfo::default(); grid_w * grid_h],
        inclusion: TagTree::new(grid_w.max(1), grid_h.max(1)),
        zero_planes: TagTree::new(grid_w.max(1), grid_h.max(1)),
    }
}

/// The sub-bands of every resolution, in packet order (LL; then HL, LH, HH).
pub(crate) fn bands(p: &Params) -> Vec<Vec<Band>> {
    let dims = resolution_dims(p);
    let mut out = vec![vec![make_band(
        p,
        (0, 0, dims[0].0, dims[0].1),
        Orientation::LowHigh,
        p.exponents[0],
    )]];
    for r in 1..=p.levels {
        let (w, h) = dims[r];
        let (wl, hl) = dims[r - 1];
        let e = &p.exponents[1 + 3 * (r - 1)..1 + 3 * r];
        out.push(vec![
            make_band(p, (wl, 0, w - wl, hl), Orientation::HighLow, e[0]),
            make_band(p, (0, hl, wl, h - hl), Orientation::LowHigh, e[1]),
            make_band(p, (wl, hl, w - wl, h - hl), Orientation::HighHigh, e[2]),
        ]);
    }
    out
}

/// Reads every packet of the tile, filling in the code-blocks of `bands`.
pub(crate) fn read_packets(
    p: &Params,
    data: &[u8],
    bands: &mut [Vec<Band>],
) -> Result<(), Fallback> {
    let mut pos = 0;
    let resolutions = bands.len();
    for i in 0..p.layers * resolutions {
        let (layer, r) = if p.layer_major {
            (i / resolutions, i % resolutions)
        } else {
            (i % p.layers, i / p.layers)
        };
        pos = read_packet(data, pos, layer, &mut bands[r])?;
    }
    Ok(())
}

fn read_packet(
    data: &[u8],
    start: usize,
    layer: usize,
    bands: &mut [Band],
) -> Result<usize, Fallback> {
    let rest = data
        .get(start..)
        .ok_or(Fallback("packet starts past the data"))?;
    let mut bio = BitReader::new(rest);
    // (band, block, length) of each contribution, in header order.
    let mut contributions: Vec<(usize, usize, usize)> = Vec::new();
    if bio.bit() != 0 {
        for (b, band) in bands.iter_mut().enumerate() {
            if band.width == 0 || band.height == 0 {
                continue;
            }
            for k in 0..band.blocks.len() {
                let included = if band.blocks[k].included {
                    bio.bit() != 0
                } else {
                    band.inclusion.decode(&mut bio, k, layer as i32 + 1)
                };
                if !included {
                    continue;
                }
                if !band.blocks[k].included {
                    let mut i = 0;
                    while !band.zero_planes.decode(&mut bio, k, i) {
                        i += 1;
                        if i > 64 || bio.overrun {
                            return Err(Fallback("zero bit-plane tag tree does not end"));
                        }
                    }
                    let blk = &mut band.blocks[k];
                    blk.included = true;
                    blk.bitplanes = band.magnitude_bits + 1 - i;
                    blk.length_bits = 3;
                }
                let new_passes = read_pass_count(&mut bio);
                let mut increment = 0;
                while bio.bit() != 0 {
                    increment += 1;
                    if increment > 32 || bio.overrun {
                        return Err(Fallback("length indicator increment does not end"));
                    }
                }
                let blk = &mut band.blocks[k];
                blk.length_bits += increment;
                if blk.passes + new_passes > MAX_PASSES_PER_SEGMENT {
                    return Err(Fallback("more passes than one codeword segment holds"));
                }
                let bits = blk.length_bits + new_passes.ilog2();
                if bits > 32 {
                    return Err(Fallback("code-block length field over 32 bits"));
                }
                let length = bio.bits(bits) as usize;
                blk.passes += new_passes;
                contributions.push((b, k, length));
            }
        }
    }
    bio.align();
    if bio.overrun {
        return Err(Fallback("packet header runs past the data (truncated)"));
    }
    let mut pos = start + bio.pos;
    for (b, k, length) in contributions {
        if pos + length > data.len() {
            return Err(Fallback("code-block data runs past the tile (truncated)"));
        }
        if length > 0 {
            bands[b].blocks[k].chunks.push((pos, length));
        }
        pos += length;
    }
    Ok(pos)
}

/// Number of new coding passes (Table B.4).
fn read_pass_count(bio: &mut BitReader<'_>) -> u32 {
    if bio.bit() == 0 {
        return 1;
    }
    if bio.bit() == 0 {
        return 2;
    }
    let n = bio.bits(2);
    if n != 3 {
        return 3 + n;
    }
    let n = bio.bits(5);
    if n != 31 {
        return 6 + n;
    }
    37 + bio.bits(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_reader_skips_the_stuffed_bit_after_0xff() {
        let data = [0xFF, 0x7F, 0x80];
        let mut bio = BitReader::new(&data);
        assert_eq!(bio.bits(8), 0xFF);
        // After 0xFF only 7 bits of the next byte count: 1111111.
        assert_eq!(bio.bits(7), 0x7F);
        assert_eq!(bio.bits(1), 1);
        assert!(!bio.overrun);
    }

    #[test]
    fn pass_counts_follow_table_b4() {
        // Codewords: 0 -> 1, 10 -> 2, 1100 -> 3, 1110 -> 5, 1111 00000 -> 6,
        // 1111 11111 0000000 -> 37.
        let bits = "0 10 1100 1110 111100000 1111111110000000";
        let bits: Vec<u8> = bits
            .bytes()
            .filter(|b| *b != b' ')
            .map(|b| b - b'0')
            .collect();
        let mut bytes = vec![0u8; bits.len().div_ceil(8)];
        for (i, b) in bits.iter().enumerate() {
            bytes[i / 8] |= b << (7 - i % 8);
        }
        let mut bio = BitReader::new(&bytes);
        let got: Vec<u32> = (0..6).map(|_| read_pass_count(&mut bio)).collect();
        assert_eq!(got, [1, 2, 3, 5, 6, 37]);
    }

    #[test]
    fn tag_tree_decodes_the_standard_example() {
        // A 2x1 tree with leaves 0 and 2 (root = min = 0). Leaf 0 against threshold 1:
        // root bit 1 (value 0), leaf bit 1 (value 0).
        let bytes = [0b1100_0000];
        let mut bio = BitReader::new(&bytes);
        let mut t = TagTree::new(2, 1);
        assert!(t.decode(&mut bio, 0, 1));
        // Leaf 1 with threshold 1: root known (0); leaf: 0 -> value > 0, stops at threshold.
        let bytes = [0b0000_0000];
        let mut bio = BitReader::new(&bytes);
        assert!(!t.decode(&mut bio, 1, 1));
        assert_eq!(bio.pos, 1);
    }
}
