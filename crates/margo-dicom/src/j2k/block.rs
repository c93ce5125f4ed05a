//! Tier-1: the three coding passes of one code-block (ISO/IEC 15444-1 Annex D) without any
//! code-block style option (no bypass, reset, termination, causal or segmentation symbols).
//!
//! Layout for speed: each stripe column (4 samples) is one u64 of four u16 state words, so the
//! samples a pass codes in 16 columns are found with a few word operations (one bit each) and
//! one loop over those bits; cleanup tests a whole quiet column at once. A state word holds
//! the significance of the 8 neighbours, the signs of the 4 direct neighbours, and the
//! sample's own significance, "visited in this bit-plane", "refined" and sign. A sample that
//! becomes significant updates its neighbours' words once, so contexts are table look-ups.

use super::mq::{CONTEXTS, CTX_RUN, CTX_UNIFORM, Context, MqDecoder, initial_contexts};

const N: u16 = 1 << 0;
const S: u16 = 1 << 1;
const W: u16 = 1 << 2;
const E: u16 = 1 << 3;
const NW: u16 = 1 << 4;
const NE: u16 = 1 << 5;
const SW: u16 = 1 << 6;
const SE: u16 = 1 << 7;
/// Sign (negative) of the direct neighbours, in the same order as their significance bits.
const N_NEG: u16 = 1 << 8;
const S_NEG: u16 = 1 << 9;
const W_NEG: u16 = 1 << 10;
const E_NEG: u16 = 1 << 11;
const SIG: u16 = 1 << 12;
const VISITED: u16 = 1 << 13;
const REFINED: u16 = 1 << 14;
const NEG: u16 = 1 << 15;

const NEIGHBOURS: u16 = 0xFF;
const fn four(bits: u16) -> u64 {
    (bits as u64) * 0x0001_0001_0001_0001
}
const SIG4: u64 = four(SIG);
const VISITED4: u64 = four(VISITED);
const NEIGHBOURS4: u64 = four(NEIGHBOURS);

/// Sub-band orientation, which selects the zero-coding table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Orientation {
    /// LL and LH (Table D.1, first columns).
    LowHigh,
    /// HL: horizontal and vertical contributions swapped.
    HighLow,
    /// HH: diagonals first.
    HighHigh,
}

/// Zero-coding context (0..=8) for each neighbour-significance byte, per orientation.
const ZC: [[u8; 256]; 3] = {
    let mut t = [[0u8; 256]; 3];
    let mut o = 0;
    while o < 3 {
        let mut f = 0;
        while f < 256 {
            let b = f as u16;
            let mut h = ((b & W != 0) as u32) + ((b & E != 0) as u32);
            let mut v = ((b & N != 0) as u32) + ((b & S != 0) as u32);
            let d = ((b & NW != 0) as u32)
                + ((b & NE != 0) as u32)
                + ((b & SW != 0) as u32)
                + ((b & SE != 0) as u32);
            if o == 1 {
                let t = h;
                h = v;
                v = t;
            }
            let cx = if o == 2 {
                let hv = h + v;
                match d {
                    0 => match hv {
                        0 => 0,
                        1 => 1,
                        _ => 2,
                    },
                    1 => match hv {
                        0 => 3,
                        1 => 4,
                        _ => 5,
                    },
                    2 => {
                        if hv == 0 {
                            6
                        } else {
                            7
                        }
                    }
                    _ => 8,
                }
            } else {
                match h {
                    0 => match v {
                        0 => match d {
                            0 => 0,
                            1 => 1,
                            _ => 2,
                        },
                        1 => 3,
                        _ => 4,
                    },
                    1 => {
                        if v >= 1 {
                            7
                        } else if d >= 1 {
                            6
                        } else {
                            5
                        }
                    }
                    _ => 8,
                }
            };
            t[o][f] = cx;
            f += 1;
        }
        o += 1;
    }
    t
};

/// Sign-coding context (9..=13) and the bit to XOR with the decision (Table D.3), indexed by
/// the significance of N, S, W, E (bits 0-3) and their signs (bits 4-7).
const SC: [(u8, u8); 256] = {
    let mut t = [(0u8, 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let v = clamp1(contribution(i, 1, 16) + contribution(i, 2, 32));
        let h = clamp1(contribution(i, 4, 64) + contribution(i, 8, 128));
        t[i] = match (h, v) {
            (1, 1) => (13, 0),
            (1, 0) => (12, 0),
            (1, _) => (11, 0),
            (0, 1) => (10, 0),
            (0, 0) => (9, 0),
            (0, _) => (10, 1),
            (_, 1) => (11, 1),
            (_, 0) => (12, 1),
            (_, _) => (13, 1),
        };
        i += 1;
    }
    t
};

/// +1 for a significant positive neighbour, -1 for a negative one, 0 otherwise.
const fn contribution(i: usize, sig: usize, neg: usize) -> i32 {
    if i & sig == 0 {
        0
    } else if i & neg != 0 {
        -1
    } else {
        1
    }
}

const fn clamp1(x: i32) -> i32 {
    if x > 1 {
        1
    } else if x < -1 {
        -1
    } else {
        x
    }
}

/// Reusable buffers of the tier-1 decoder (one per thread).
#[derive(Default)]
pub(crate) struct BlockDecoder {
    flags: Vec<u64>,
    magnitudes: Vec<u32>,
    /// The most capable build of the passes to use where the CPU has it (default: AVX-512);
    /// tests lower it, since every build must give the same output.
    pub max_build: Isa,
}

/// One code-block to decode.
pub(crate) struct CodeBlock<'a> {
    /// The code-block's segment (its codeword bytes, all layers).
    pub segment: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub orientation: Orientation,
    /// Magnitude bit-planes (1..=30); `3 * bitplanes - 2` passes are decoded.
    pub bitplanes: u32,
}

struct Passes<'a, 'b> {
    mq: MqDecoder<'a>,
    cx: [Context; CONTEXTS],
    flags: &'b mut [u64],
    mags: &'b mut [u32],
    zc: &'static [u8; 256],
    /// Columns per stripe row, padding included.
    stride: usize,
    width: usize,
    height: usize,
}

impl BlockDecoder {
    /// Decodes `block` into `out` (row stride `out_stride`, `height` rows of `width` values):
    /// signed coefficients, exact when every pass is present (lossless).
    pub fn decode(&mut self, block: &CodeBlock<'_>, out: &mut [i32], out_stride: usize) {
        let (w, h) = (block.width, block.height);
        let stride = w + 2;
        let stripes = h.div_ceil(4);
        let columns = (stripes + 2) * stride;
        // 16 more columns (and their magnitudes) for the passes' 16-column windows.
        self.flags.clear();
        self.flags.resize(columns + 16, 0);
        // Magnitudes are written when a sample becomes significant and only read after.
        if self.magnitudes.len() < (columns + 16) * 4 {
            self.magnitudes.resize((columns + 16) * 4, 0);
        }
        let mut p = Passes {
            mq: MqDecoder::new(block.segment),
            cx: initial_contexts(),
            flags: &mut self.flags,
            mags: &mut self.magnitudes,
            zc: &ZC[block.orientation as usize],
            stride,
            width: w,
            height: h,
        };
        let top = block.bitplanes - 1;
        if self.max_build >= Isa::Avx512 && isa::avx512() {
            p.run::<{ Isa::Avx512 as u8 }>(top);
        } else if self.max_build >= Isa::Bmi2 && isa::bmi2() {
            p.run::<{ Isa::Bmi2 as u8 }>(top);
        } else {
            p.run::<{ Isa::Baseline as u8 }>(top);
        }
        // Write out the signed values, row by row over slices (no bounds check in the loop,
        // no branch: magnitudes of samples never significant may be stale, hence the mask).
        for y in 0..h {
            let row = &mut out[y * out_stride..y * out_stride + w];
            let (s, lane) = (y / 4, y % 4);
            let first = (s + 1) * stride + 1;
            let words = &self.flags[first..first + w];
            let mags = self.magnitudes[4 * first..4 * (first + w)].chunks_exact(4);
            for ((v, &word), m) in row.iter_mut().zip(words).zip(mags) {
                let f = (word >> (16 * lane)) as u32;
                let significant = 0u32.wrapping_sub(u32::from(f & u32::from(SIG) != 0));
                let negative = 0u32.wrapping_sub(u32::from(f & u32::from(NEG) != 0));
                *v = ((m[lane] & significant) ^ negative).wrapping_sub(negative) as i32;
            }
        }
    }
}

/// Instruction-set dispatch: besides the baseline build, the passes are compiled with BMI1,
/// BMI2 and LZCNT (three-operand shifts that need no CL register, so fewer moves and spills in
/// these register-starved loops) and with those plus AVX-512F/BW (see [`Isa`]); the most
/// capable build the CPU can run is used.
mod isa {
    /// Whether this CPU has BMI1, BMI2 and LZCNT (checked once).
    pub(super) fn bmi2() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            *HAS.get_or_init(|| {
                is_x86_feature_detected!("bmi1")
                    && is_x86_feature_detected!("bmi2")
                    && is_x86_feature_detected!("lzcnt")
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Whether this CPU has all of [`bmi2`]'s features and AVX-512F and BW (checked once).
    pub(super) fn avx512() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            *HAS.get_or_init(|| {
                bmi2()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }
}

/// The instruction sets the passes are compiled for (a const generic parameter, as u8), from
/// the least to the most capable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
#[repr(u8)]
pub(crate) enum Isa {
    Baseline,
    /// BMI1, BMI2 and LZCNT.
    Bmi2,
    /// Those and AVX-512F and BW: the samples to code in a 16-column group found with two
    /// 512-bit tests (one mask bit per 16-bit lane, already in coding order) instead of 16
    /// scalar steps.
    #[default]
    Avx512,
}

/// The three passes, each in its own function (not inlined into one another: each gets the
/// registers to itself), compiled once per instruction set.
macro_rules! passes {
    ($($name:ident, $bmi2:ident, $avx512:ident, $body:ident;)*) => {
        impl Passes<'_, '_> {
            $(
                #[inline(never)]
                fn $name(&mut self, plane: u32) {
                    self.$body::<false>(plane)
                }

                #[cfg(target_arch = "x86_64")]
                #[target_feature(enable = "bmi1,bmi2,lzcnt")]
                #[inline(never)]
                fn $bmi2(&mut self, plane: u32) {
                    self.$body::<false>(plane)
                }

                #[cfg(target_arch = "x86_64")]
                #[target_feature(enable = "bmi1,bmi2,lzcnt,avx512f,avx512bw")]
                #[inline(never)]
                fn $avx512(&mut self, plane: u32) {
                    self.$body::<true>(plane)
                }
            )*
        }
    };
}

passes! {
    significance, significance_bmi2, significance_avx512, significance_body;
    refinement, refinement_bmi2, refinement_avx512, refinement_body;
    cleanup, cleanup_bmi2, cleanup_avx512, cleanup_body;
}

impl Passes<'_, '_> {
    /// All passes of the block, from bit-plane `top` down, compiled for `ISA` (an [`Isa`]).
    fn run<const ISA: u8>(&mut self, top: u32) {
        self.cleanup_on::<ISA>(top);
        for plane in (0..top).rev() {
            self.significance_on::<ISA>(plane);
            self.refinement_on::<ISA>(plane);
            self.cleanup_on::<ISA>(plane);
        }
    }
}

macro_rules! dispatch {
    ($($on:ident, $name:ident, $bmi2:ident, $avx512:ident;)*) => {
        impl Passes<'_, '_> {
            $(
                #[inline(always)]
                fn $on<const ISA: u8>(&mut self, plane: u32) {
                    #[cfg(target_arch = "x86_64")]
                    if ISA == Isa::Avx512 as u8 {
                        // SAFETY: `Isa::Avx512` is chosen (in `BlockDecoder::decode`) only when
                        // `isa::avx512()` found BMI1, BMI2, LZCNT, AVX-512F and AVX-512BW on
                        // this CPU, the features the function is compiled for.
                        unsafe { self.$avx512(plane) };
                        return;
                    }
                    #[cfg(target_arch = "x86_64")]
                    if ISA == Isa::Bmi2 as u8 {
                        // SAFETY: `Isa::Bmi2` is chosen only when `isa::bmi2()` found BMI1,
                        // BMI2 and LZCNT on this CPU, the features the function is compiled
                        // for.
                        unsafe { self.$bmi2(plane) };
                        return;
                    }
                    self.$name(plane)
                }
            )*
        }
    };
}

dispatch! {
    significance_on, significance, significance_bmi2, significance_avx512;
    refinement_on, refinement, refinement_bmi2, refinement_avx512;
    cleanup_on, cleanup, cleanup_bmi2, cleanup_avx512;
}

/// Rows in stripe `s` of a code-block `height` samples tall (4, or fewer in the last stripe),
/// and the mask of the bits that a stripe column's u64 (16 bits per row) uses for them.
#[inline(always)]
fn stripe_rows(height: usize, s: usize) -> (usize, u64) {
    let rows = (height - 4 * s).min(4);
    let lanes = if rows == 4 {
        u64::MAX
    } else {
        (1u64 << (16 * rows)) - 1
    };
    (rows, lanes)
}

impl Passes<'_, '_> {
    /// Significance propagation: insignificant samples with a significant neighbour. Sixteen
    /// columns at a time: one loop over the set bits of their candidates (4 per column, in
    /// coding order), which a sample becoming significant extends (its column's later samples,
    /// the next column). The loop's exit is then mispredicted once per 16 columns, not once
    /// per column with candidates.
    #[inline(always)]
    fn significance_body<const AVX512: bool>(&mut self, plane: u32) {
        self.each_stripe::<Significance<AVX512>>(plane);
    }

    /// Runs pass `P` on every stripe row of the block, its full stripes and a last one of
    /// fewer than 4 rows compiled apart, so the full stripes (all but maybe the last) test no
    /// row count per column. Registers and tables are held in locals so that they stay in
    /// registers across the loop.
    #[inline(always)]
    fn each_stripe<P: StripePass>(&mut self, plane: u32) {
        let (mut mq, mut cx) = (self.mq, self.cx);
        let (width, height) = (self.width, self.height);
        let (flags, mags, zc, stride) = (&mut *self.flags, &mut *self.mags, self.zc, self.stride);
        for s in 0..height.div_ceil(4) {
            let (rows, lanes) = stripe_rows(height, s);
            let base = (s + 1) * stride + 1;
            let stripe = Stripe {
                base,
                end: base + width,
                lanes,
                stride,
                plane,
            };
            if rows == 4 {
                P::stripe::<true>(&mut mq, &mut cx, flags, mags, zc, &stripe);
            } else {
                P::stripe::<false>(&mut mq, &mut cx, flags, mags, zc, &stripe);
            }
        }
        (self.mq, self.cx) = (mq, cx);
    }

    /// Magnitude refinement of samples significant before this bit-plane, 16 columns at a
    /// time (one loop over the set bits of their samples to refine, as above). The group's
    /// flags and magnitudes are fixed-size windows (the buffers are padded for them), so the
    /// loop has no bounds check.
    #[inline(always)]
    fn refinement_body<const AVX512: bool>(&mut self, plane: u32) {
        let (mut mq, mut cx) = (self.mq, self.cx);
        let (width, height) = (self.width, self.height);
        let (flags, mags, stride) = (&mut *self.flags, &mut *self.mags, self.stride);
        for s in 0..height.div_ceil(4) {
            // Lanes past the block's last row are never significant: no lane mask needed.
            let row_start = (s + 1) * stride + 1;
            let row_end = row_start + width;
            for g in (row_start..row_end).step_by(16) {
                // Never None: `decode` pads the buffers for these windows at every group.
                let Some(group) = flags.get_mut(g..g + 16) else {
                    break;
                };
                let group: &mut [u64; 16] = group.try_into().unwrap();
                let Some(group_mags) = mags.get_mut(4 * g..4 * g + 64) else {
                    break;
                };
                let group_mags: &mut [u32; 64] = group_mags.try_into().unwrap();
                // Columns of this stripe row only (the window may reach into the next one).
                let valid = u64::MAX >> (64 - 4 * (row_end - g).min(16));
                refine_group::<AVX512>(&mut mq, &mut cx, group, group_mags, valid, plane);
            }
        }
        (self.mq, self.cx) = (mq, cx);
    }

    /// Cleanup: every sample not yet coded in this bit-plane, with run-length coding of
    /// all-quiet stripe columns.
    #[inline(always)]
    fn cleanup_body<const AVX512: bool>(&mut self, plane: u32) {
        // No 16-column groups here: the AVX-512 build is the BMI2 one.
        self.each_stripe::<Cleanup>(plane);
    }
}

/// The refinement pass over 16 columns (see [`Passes::refinement_body`]): their state words
/// and magnitudes, `valid` the bits of the columns in the stripe row.
#[inline(always)]
fn refine_group<const AVX512: bool>(
    mq: &mut MqDecoder<'_>,
    cx: &mut [Context; CONTEXTS],
    group: &mut [u64; 16],
    group_mags: &mut [u32; 64],
    valid: u64,
    plane: u32,
) {
    // Groups with no significant sample yet (high bit-planes) are skipped after one cheap
    // test.
    if group.iter().fold(0, |any, &c| any | c) & SIG4 == 0 {
        return;
    }
    let mut todo = 0u64;
    #[cfg(target_arch = "x86_64")]
    if AVX512 {
        // SAFETY: `AVX512` is true only in the passes' AVX-512 build (see `dispatch!`), which
        // runs only where `isa::avx512()` found AVX-512F and BW.
        todo = unsafe { avx512::lane_mask(group, SIG, VISITED) };
    }
    if !AVX512 {
        for (j, &c) in group.iter().enumerate() {
            todo |= lane_bits(to_refine(c) >> 4) << (4 * j);
        }
    }
    todo &= valid;
    while todo != 0 {
        let t = todo.trailing_zeros() as usize;
        // Lane t % 4 of column t / 4 (the shift count is taken mod 64).
        let f = group[(t / 4) & 15].wrapping_shr((t * 16) as u32) as u32;
        let d = mq.decode_even(&mut cx[refinement_context(f)]);
        group_mags[t & 63] |= d << plane;
        todo &= todo - 1;
    }
    for (c, j) in group.iter_mut().zip(0..16) {
        let column = 0u64.wrapping_sub((valid >> (4 * j)) & 1);
        *c |= (to_refine(*c) << 2) & column;
    }
}

/// One pass over one stripe row: [`significance_stripe`] or [`cleanup_stripe`]. A trait whose
/// method is `inline(always)`, neither a function pointer nor a function item passed as an
/// `Fn`: the stripe loops must inline into each instruction-set build of the passes. A
/// pointer's target, and the `Fn::call` shim of a function item (which LLVM left out of line,
/// too big), are compiled once for the baseline, and the BMI2 build would call them.
trait StripePass {
    fn stripe<const FULL: bool>(
        mq: &mut MqDecoder<'_>,
        cx: &mut [Context; CONTEXTS],
        flags: &mut [u64],
        mags: &mut [u32],
        zc: &[u8; 256],
        stripe: &Stripe,
    );
}

/// [`significance_stripe`] as a [`StripePass`].
struct Significance<const AVX512: bool>;

impl<const AVX512: bool> StripePass for Significance<AVX512> {
    #[inline(always)]
    fn stripe<const FULL: bool>(
        mq: &mut MqDecoder<'_>,
        cx: &mut [Context; CONTEXTS],
        flags: &mut [u64],
        mags: &mut [u32],
        zc: &[u8; 256],
        stripe: &Stripe,
    ) {
        significance_stripe::<FULL, AVX512>(mq, cx, flags, mags, zc, stripe)
    }
}

/// [`cleanup_stripe`] as a [`StripePass`].
struct Cleanup;

impl StripePass for Cleanup {
    #[inline(always)]
    fn stripe<const FULL: bool>(
        mq: &mut MqDecoder<'_>,
        cx: &mut [Context; CONTEXTS],
        flags: &mut [u64],
        mags: &mut [u32],
        zc: &[u8; 256],
        stripe: &Stripe,
    ) {
        cleanup_stripe::<FULL>(mq, cx, flags, mags, zc, stripe)
    }
}

/// One stripe row for [`significance_stripe`] and [`cleanup_stripe`].
struct Stripe {
    /// First and past-the-last column index.
    base: usize,
    end: usize,
    /// The state bits of the stripe's rows (see [`stripe_rows`]).
    lanes: u64,
    stride: usize,
    plane: u32,
}

/// The significance pass over one stripe row (see [`Passes::significance_body`]); `FULL`:
/// it has 4 rows; `AVX512`: inlined into the passes' AVX-512 build.
#[inline(always)]
fn significance_stripe<const FULL: bool, const AVX512: bool>(
    mq: &mut MqDecoder<'_>,
    cx: &mut [Context; CONTEXTS],
    flags: &mut [u64],
    mags: &mut [u32],
    zc: &[u8; 256],
    stripe: &Stripe,
) {
    let &Stripe {
        base: row_start,
        end: row_end,
        lanes,
        stride,
        plane,
    } = stripe;
    let lanes = if FULL { u64::MAX } else { lanes };
    // The stripe's lanes as bits 4j + l of a 16-column group's mask.
    let lane_pattern = if FULL {
        u64::MAX
    } else {
        lane_bits(lanes & four(0x100)) * 0x1111_1111_1111_1111
    };
    for g in (row_start..row_end).step_by(16) {
        // Never true: `decode` pads the buffers for a 16-column window at every group.
        if flags.len() < g + 16 {
            break;
        }
        // Columns of this stripe row only (the window may reach into the next one).
        let valid = u64::MAX >> (64 - 4 * (row_end - g).min(16));
        // Groups with no significant neighbour anywhere (high bit-planes, quiet
        // areas) have no candidate: skipped after one cheap test.
        if flags[g..g + 16].iter().fold(0, |any, &c| any | c) & NEIGHBOURS4 == 0 {
            continue;
        }
        // Bit 4j + l: lane l of column g + j is a candidate.
        let mut todo = 0u64;
        #[cfg(target_arch = "x86_64")]
        if AVX512 {
            let window: &[u64; 16] = flags[g..g + 16].try_into().unwrap();
            // SAFETY: `AVX512` is true only in the passes' AVX-512 build (see `dispatch!`),
            // which runs only where `isa::avx512()` found AVX-512F and BW.
            todo = unsafe { avx512::lane_mask(window, NEIGHBOURS, SIG) } & lane_pattern;
        }
        if !AVX512 {
            for j in 0..16 {
                todo |= lane_bits(candidates_significance(flags[g + j]) & lanes) << (4 * j);
            }
        }
        todo &= valid;
        // Samples coded: the first candidates and those added on the way.
        let mut visited = todo;
        if todo == 0 {
            continue;
        }
        // The state of sample `t` (lane t % 4 of column t / 4; the shift is taken
        // mod 64), from the window checked above (no bounds check).
        let state = |flags: &[u64], t: usize| {
            flags[g..g + 16][(t / 4) & 15].wrapping_shr((t * 16) as u32) as u16
        };
        let mut t = todo.trailing_zeros() as usize;
        let mut f = state(flags, t);
        loop {
            // The next candidate and its context are found before this decision is
            // known (a significance decision is often mispredicted; the loop then
            // restarts with them ready). A sample becoming significant changes the
            // states around it: it finds them again.
            let mut rest = todo & (todo - 1);
            let mut t_next = rest.trailing_zeros() as usize;
            let mut f_next = state(flags, t_next);
            let ctx = zc[usize::from(f & NEIGHBOURS)];
            if mq.decode_even(&mut cx[usize::from(ctx) & 31]) != 0 {
                let (j, l) = (t / 4, t % 4);
                let ci = g + (j & 15);
                let own = become_significant::<false>(mq, cx, flags, mags, stride, ci, l, f, plane);
                flags[ci] |= own;
                // Later lanes of this column, and the next column, may have become
                // candidates (bits above `t`, coded later in this loop).
                let later = u64::MAX.checked_shl(16 * (l as u32 + 1)).unwrap_or(0);
                let added = (lane_bits(candidates_significance(flags[ci]) & lanes & later)
                    | (lane_bits(candidates_significance(flags[ci + 1]) & lanes) << 4))
                    << (4 * j)
                    & valid;
                rest |= added;
                visited |= added;
                t_next = rest.trailing_zeros() as usize;
                f_next = state(flags, t_next);
            }
            todo = rest;
            if todo == 0 {
                break;
            }
            (t, f) = (t_next, f_next);
        }
        for (j, c) in flags[g..g + 16].iter_mut().enumerate() {
            *c |= SPREAD[((visited >> (4 * j)) & 15) as usize] * u64::from(VISITED);
        }
    }
}

/// AVX-512 helpers, inlined into the passes' AVX-512 build.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        _mm512_loadu_si512, _mm512_mask_testn_epi16_mask, _mm512_set1_epi16, _mm512_test_epi16_mask,
    };

    /// Bit 4j + l set when lane l (16 bits) of `group[j]` has one of the `any` bits and none
    /// of the `none` bits: two tests per 512-bit half, whose masks are in that order.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(super) fn lane_mask(group: &[u64; 16], any: u16, none: u16) -> u64 {
        let (lo, hi) = group.split_at(8);
        // SAFETY: `lo` and `hi` are 8 u64 (64 bytes) each, read by unaligned loads.
        let (lo, hi) = unsafe {
            (
                _mm512_loadu_si512(lo.as_ptr().cast()),
                _mm512_loadu_si512(hi.as_ptr().cast()),
            )
        };
        let (a, n) = (
            _mm512_set1_epi16(any as i16),
            _mm512_set1_epi16(none as i16),
        );
        let m_lo = _mm512_mask_testn_epi16_mask(_mm512_test_epi16_mask(lo, a), lo, n);
        let m_hi = _mm512_mask_testn_epi16_mask(_mm512_test_epi16_mask(hi, a), hi, n);
        u64::from(m_lo) | (u64::from(m_hi) << 32)
    }
}

/// The cleanup pass over one stripe row; `FULL`: it has 4 rows (quiet columns are then
/// run-length coded).
#[inline(always)]
fn cleanup_stripe<const FULL: bool>(
    mq: &mut MqDecoder<'_>,
    cx: &mut [Context; CONTEXTS],
    flags: &mut [u64],
    mags: &mut [u32],
    zc: &[u8; 256],
    stripe: &Stripe,
) {
    let &Stripe {
        base,
        end,
        lanes,
        stride,
        plane,
    } = stripe;
    // Never true (`decode` sizes the buffer for every stripe row); tells LLVM that the
    // column reads below need no bounds check.
    if end > flags.len() {
        return;
    }
    let mut ci = base;
    while ci < end {
        let mut first = 0u32;
        let mut col = flags[ci];
        if FULL && col == 0 {
            // A run of quiet columns, its context in a register, until one of them holds
            // a significant sample or a column is not quiet.
            let mut run = cx[CTX_RUN];
            let mut hit = false;
            loop {
                if mq.decode(&mut run) != 0 {
                    hit = true;
                    break;
                }
                ci += 1;
                if ci == end || flags[ci] != 0 {
                    break;
                }
            }
            cx[CTX_RUN] = run;
            if !hit {
                continue;
            }
            let hi = mq.decode(&mut cx[CTX_UNIFORM]);
            let lo = mq.decode(&mut cx[CTX_UNIFORM]);
            let l = (hi << 1 | lo) as usize;
            col |= become_significant::<true>(mq, cx, flags, mags, stride, ci, l, 0, plane);
            first = l as u32 + 1;
        }
        // Bit 12 of each lane from `first` on: neither significant nor visited.
        let mut m =
            !(col | (col >> 1)) & SIG4 & lanes & u64::MAX.checked_shl(16 * first).unwrap_or(0);
        while m != 0 {
            let l = (m.trailing_zeros() / 16) as usize;
            let f = (col >> (16 * l)) as u16;
            let ctx = zc[usize::from(f & NEIGHBOURS)];
            if mq.decode(&mut cx[usize::from(ctx) & 31]) != 0 {
                col |= become_significant::<true>(mq, cx, flags, mags, stride, ci, l, f, plane);
            }
            m &= m - 1;
        }
        flags[ci] = col & !VISITED4;
        ci += 1;
    }
}

/// Context of a refinement decision for a sample of state word `f`, with no branch: 22 once
/// refined, else 23 with a significant neighbour, else 24. `f & (REFINED | NEIGHBOURS)` has
/// 17 leading zeros when refined, 24 to 31 with a neighbour, 32 without.
#[inline(always)]
fn refinement_context(f: u32) -> usize {
    20 + (f & u32::from(REFINED | NEIGHBOURS)).leading_zeros() as usize / 8
}

/// Bit 12 of each lane set when the lane is significant and was not coded in this plane's
/// significance pass.
#[inline(always)]
fn to_refine(c: u64) -> u64 {
    c & SIG4 & !(c >> 1)
}

/// Bits 8, 24, 40 and 56 (a flag of each lane) squeezed into bits 0-3.
#[inline(always)]
fn lane_bits(x: u64) -> u64 {
    // Bit 16l + 8 lands on bit 60 + l; the other products fall below bit 60, without carries
    // (distinct single bits).
    ((((x >> 8) & 0x0001_0001_0001_0001).wrapping_mul(0x1000_2000_4000_8000)) >> 60) & 0xF
}

/// Bits 0, 16, 32 and 48 (one per lane) from bits 0-3.
const SPREAD: [u64; 16] = {
    let mut t = [0u64; 16];
    let mut v = 0;
    while v < 16 {
        let mut l = 0;
        while l < 4 {
            if v & (1 << l) != 0 {
                t[v] |= 1 << (16 * l);
            }
            l += 1;
        }
        v += 1;
    }
    t
};

/// Bit 8 of each lane set when the lane has a significant neighbour and is not significant.
#[inline(always)]
fn candidates_significance(c: u64) -> u64 {
    const LOW8: u64 = four(0x00FF);
    const BIT8: u64 = four(0x0100);
    let has_neighbour = ((c & NEIGHBOURS4) + LOW8) & BIT8;
    has_neighbour & !(c >> 4)
}

/// Decodes the sign of sample (column `ci`, lane `l`, state `f`) that just became significant
/// at `plane`, records it, tells the neighbouring columns and returns what to OR into the
/// sample's own column word (which the caller holds in a register).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn become_significant<const ONE_CHECK: bool>(
    mq: &mut MqDecoder<'_>,
    cx: &mut [Context; CONTEXTS],
    flags: &mut [u64],
    mags: &mut [u32],
    stride: usize,
    ci: usize,
    l: usize,
    f: u16,
    plane: u32,
) -> u64 {
    let (ctx, xor) = SC[usize::from((f & 0xF) | ((f >> 4) & 0xF0))];
    let sign = mq.decode_even(&mut cx[usize::from(ctx) & 31]) ^ u32::from(xor);
    mags[ci * 4 + l] = 1 << plane;
    if ONE_CHECK {
        tell_neighbours_one_check(flags, stride, ci, l, sign != 0)
    } else {
        tell_neighbours(flags, stride, ci, l, sign != 0)
    }
}

/// What a sample becoming significant adds to the 9 words around it, per (lane, negative):
/// [here, west, east, up, up-west, up-east, down, down-west, down-east]. A table instead of
/// branches on the lane, which the CPU cannot predict.
const NEIGHBOUR_BITS: [[u64; 9]; 8] = {
    let mut t = [[0u64; 9]; 8];
    let mut k = 0;
    while k < 8 {
        let (l, negative) = (k / 2, k % 2 == 1);
        let sh = 16 * l as u32;
        let mut w = [0u64; 9];
        w[0] = ((SIG | neg_if(NEG, negative)) as u64) << sh;
        w[1] = ((E | neg_if(E_NEG, negative)) as u64) << sh;
        w[2] = ((W | neg_if(W_NEG, negative)) as u64) << sh;
        if l > 0 {
            w[0] |= ((S | neg_if(S_NEG, negative)) as u64) << (sh - 16);
            w[1] |= (SE as u64) << (sh - 16);
            w[2] |= (SW as u64) << (sh - 16);
        } else {
            w[3] = ((S | neg_if(S_NEG, negative)) as u64) << 48;
            w[4] = (SE as u64) << 48;
            w[5] = (SW as u64) << 48;
        }
        if l < 3 {
            w[0] |= ((N | neg_if(N_NEG, negative)) as u64) << (sh + 16);
            w[1] |= (NE as u64) << (sh + 16);
            w[2] |= (NW as u64) << (sh + 16);
        } else {
            w[6] = (N | neg_if(N_NEG, negative)) as u64;
            w[7] = NE as u64;
            w[8] = NW as u64;
        }
        t[k] = w;
        k += 1;
    }
    t
};

const fn neg_if(bit: u16, negative: bool) -> u16 {
    if negative { bit } else { 0 }
}

/// Marks sample (column `ci`, lane `l`) significant with the given sign in the 8 columns
/// around it; returns the bits for its own column.
#[inline(always)]
fn tell_neighbours(flags: &mut [u64], stride: usize, ci: usize, l: usize, negative: bool) -> u64 {
    let w = &NEIGHBOUR_BITS[(l * 2 + usize::from(negative)) & 7];
    // Three bounds checks instead of eight (the padding makes them all pass).
    if let Some([west, _, east]) = flags.get_mut(ci - 1..ci + 2) {
        *west |= w[1];
        *east |= w[2];
    }
    if let Some([west, up, east]) = flags.get_mut(ci - stride - 1..ci - stride + 2) {
        *up |= w[3];
        *west |= w[4];
        *east |= w[5];
    }
    if let Some([west, down, east]) = flags.get_mut(ci + stride - 1..ci + stride + 2) {
        *down |= w[6];
        *west |= w[7];
        *east |= w[8];
    }
    w[0]
}

/// [`tell_neighbours`] with one bounds check for the 3 x 3 columns instead of three (the
/// indices in the window are below its length): the cleanup pass, where LLVM hoists the three
/// checks out of the lane loop, computing them for every column with samples to code.
#[inline(always)]
fn tell_neighbours_one_check(
    flags: &mut [u64],
    stride: usize,
    ci: usize,
    l: usize,
    negative: bool,
) -> u64 {
    let w = &NEIGHBOUR_BITS[(l * 2 + usize::from(negative)) & 7];
    if let Some(around) = flags.get_mut(ci.wrapping_sub(stride + 1)..ci + stride + 2) {
        let d = 2 * stride;
        around[0] |= w[4];
        around[1] |= w[3];
        around[2] |= w[5];
        around[stride] |= w[1];
        around[stride + 2] |= w[2];
        around[d] |= w[7];
        around[d + 1] |= w[6];
        around[d + 2] |= w[8];
    }
    w[0]
}
