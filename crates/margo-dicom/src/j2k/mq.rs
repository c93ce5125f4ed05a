//! The MQ arithmetic decoder of JPEG 2000 (ISO/IEC 15444-1 Annex C), with OpenJPEG's handling
//! of the end of a code-block segment (an artificial 0xFF 0xFF marker: past the end the decoder
//! keeps reading 1 bits), so that every stream decodes to exactly what OpenJPEG decodes.

use std::hint::select_unpredictable;

/// Contexts: 9 zero coding, 5 sign, 3 refinement, run length, uniform (19), in an array of 32
/// so that `index & 31` needs no bounds check.
pub(crate) const CONTEXTS: usize = 32;
pub(crate) const CTX_RUN: usize = 17;
pub(crate) const CTX_UNIFORM: usize = 18;

/// (Qe, NMPS, NLPS, SWITCH) of the 47 probability states (Table C.2).
const STATES: [(u32, u8, u8, u8); 47] = [
    (0x5601, 1, 1, 1),
    (0x3401, 2, 6, 0),
    (0x1801, 3, 9, 0),
    (0x0AC1, 4, 12, 0),
    (0x0521, 5, 29, 0),
    (0x0221, 38, 33, 0),
    (0x5601, 7, 6, 1),
    (0x5401, 8, 14, 0),
    (0x4801, 9, 14, 0),
    (0x3801, 10, 14, 0),
    (0x3001, 11, 17, 0),
    (0x2401, 12, 18, 0),
    (0x1C01, 13, 20, 0),
    (0x1601, 29, 21, 0),
    (0x5601, 15, 14, 1),
    (0x5401, 16, 14, 0),
    (0x5101, 17, 15, 0),
    (0x4801, 18, 16, 0),
    (0x3801, 19, 17, 0),
    (0x3401, 20, 18, 0),
    (0x3001, 21, 19, 0),
    (0x2801, 22, 19, 0),
    (0x2401, 23, 20, 0),
    (0x2201, 24, 21, 0),
    (0x1C01, 25, 22, 0),
    (0x1801, 26, 23, 0),
    (0x1601, 27, 24, 0),
    (0x1401, 28, 25, 0),
    (0x1201, 29, 26, 0),
    (0x1101, 30, 27, 0),
    (0x0AC1, 31, 28, 0),
    (0x09C1, 32, 29, 0),
    (0x08A1, 33, 30, 0),
    (0x0521, 34, 31, 0),
    (0x0441, 35, 32, 0),
    (0x02A1, 36, 33, 0),
    (0x0221, 37, 34, 0),
    (0x0141, 38, 35, 0),
    (0x0111, 39, 36, 0),
    (0x0085, 40, 37, 0),
    (0x0049, 41, 38, 0),
    (0x0025, 42, 39, 0),
    (0x0015, 43, 40, 0),
    (0x0009, 44, 41, 0),
    (0x0005, 45, 42, 0),
    (0x0001, 45, 43, 0),
    (0x5601, 46, 46, 0),
];

/// A context holds its probability state as one packed word: Qe (bits 0-15), MPS (bit 16),
/// the indices into [`ENTRY`] of the states after an MPS renormalisation (bits 17-23) and
/// after an LPS (bits 24-30, the MPS switch included), and what an LPS leaves: the number of
/// renormalisation shifts (bits 32-35) and A after them, Qe shifted up to bit 15 (bits 48-63).
/// Qe is then one load away, both possible next states can be fetched before the decision is
/// known, and an LPS renormalisation needs no leading-zero count.
pub(crate) type Context = u64;

/// Packed context words of the 94 (state, MPS) pairs, index `2 * state + mps`; 128 entries so
/// that a 7-bit index needs no bounds check.
const ENTRY: [Context; 128] = {
    let mut t = [0u64; 128];
    let mut i = 0;
    while i < 94 {
        let (qe, nmps, nlps, switch) = STATES[i / 2];
        let mps = (i & 1) as u64;
        let next_mps = nmps as u64 * 2 + mps;
        let next_lps = nlps as u64 * 2 + (mps ^ switch as u64);
        let shifts = (qe as u16).leading_zeros() as u64;
        t[i] = qe as u64
            | (mps << 16)
            | (next_mps << 17)
            | (next_lps << 24)
            | (shifts << 32)
            | (((qe as u64) << shifts) << 48);
        i += 1;
    }
    t
};

/// The initial context states of a code-block (D.7): all state 0 with MPS 0, except the
/// uniform context (state 46), run length (state 3) and the first zero-coding context (4).
pub(crate) fn initial_contexts() -> [Context; CONTEXTS] {
    let mut cx = [ENTRY[0]; CONTEXTS];
    cx[CTX_UNIFORM] = ENTRY[46 * 2];
    cx[CTX_RUN] = ENTRY[3 * 2];
    cx[0] = ENTRY[4 * 2];
    cx
}

/// Decoder registers over one code-block segment. Copy, so that the passes can keep it in a
/// local (registers) and store it back.
///
/// C is the standard's 32-bit register in the top half of a 64-bit one; the bits below hold
/// the next bytes of the segment, read ahead (adding a byte lower down is the same sum as
/// adding it later, when the standard's BYTEIN would). With at least 15 of those bits always
/// present, a renormalisation (at most 15 shifts) never waits for a byte: it is one shift, and
/// bytes are read about once per 25 bits instead of once per 8.
#[derive(Clone, Copy)]
pub(crate) struct MqDecoder<'a> {
    /// The segment from the byte last read into `c` on.
    data: &'a [u8],
    a: u32,
    c: u64,
    /// Bits read ahead below the standard's C register (15..=40 between decisions).
    ct: u32,
}

/// Bits read ahead that a decision may consume (the longest renormalisation).
const MIN_AHEAD: u32 = 15;

impl<'a> MqDecoder<'a> {
    /// INITDEC (C.3.5) on a code-block's segment. Past its end the decoder reads 0xFF bytes,
    /// which is what OpenJPEG's artificial 0xFF 0xFF marker after the segment gives.
    pub fn new(segment: &'a [u8]) -> Self {
        let first = segment.first().copied().unwrap_or(0xFF);
        let (data, c, ct) = fill(segment, u64::from(first) << 48, 0);
        MqDecoder {
            data,
            a: 0x8000,
            c: c << 7,
            ct: ct - 7,
        }
    }

    /// Shifts C left by `n` (0..=15) bits and reads bytes ahead when few are left.
    #[inline(always)]
    fn shift_c(&mut self, n: u32) {
        self.c <<= n;
        self.ct -= n;
        if self.ct < MIN_AHEAD {
            // By value, so that the decoder never has its address taken and its registers
            // stay in registers in the passes' loops.
            (self.data, self.a, self.c, self.ct) = fill_fast(self.data, self.a, self.c, self.ct);
        }
    }

    /// DECODE (C.3.2) of one decision in context `cx` (its state is updated). Branches follow
    /// the likely outcome: for skewed contexts (significance, run length) this is fastest.
    #[inline(always)]
    pub fn decode(&mut self, cx: &mut Context) -> u32 {
        let e = *cx;
        let qe = (e & 0xFFFF) as u32;
        let mps = ((e >> 16) & 1) as u32;
        self.a -= qe;
        if ((self.c >> 48) as u32) < qe {
            // LPS sub-interval (conditional exchange); RENORMD leaves A = Qe shifted up.
            let d = if self.a < qe {
                *cx = ENTRY[((e >> 17) & 0x7F) as usize];
                mps
            } else {
                *cx = ENTRY[((e >> 24) & 0x7F) as usize];
                mps ^ 1
            };
            self.a = (e >> 48) as u32;
            self.shift_c(((e >> 32) & 0xF) as u32);
            d
        } else {
            self.c -= u64::from(qe) << 48;
            if self.a & 0x8000 == 0 {
                let d = if self.a < qe {
                    *cx = ENTRY[((e >> 24) & 0x7F) as usize];
                    mps ^ 1
                } else {
                    *cx = ENTRY[((e >> 17) & 0x7F) as usize];
                    mps
                };
                // A >= 0x8000 - 0x5601 here: one or two shifts (RENORMD).
                let n = 1 + u32::from(self.a < 0x4000);
                self.a <<= n;
                self.shift_c(n);
                d
            } else {
                mps
            }
        }
    }

    /// The same decision computed without data-dependent branches on the outcome: for contexts
    /// whose decisions are close to coin flips (magnitude refinement and signs of noisy CT),
    /// where branch mispredictions would dominate.
    #[inline(always)]
    pub fn decode_even(&mut self, cx: &mut Context) -> u32 {
        let e = *cx;
        let qe = (e & 0xFFFF) as u32;
        let mps = ((e >> 16) & 1) as u32;
        let after_mps = ENTRY[((e >> 17) & 0x7F) as usize];
        let after_lps = ENTRY[((e >> 24) & 0x7F) as usize];
        let a = self.a - qe;
        let lps = ((self.c >> 48) as u32) < qe;
        let exchange = a < qe;
        let other = lps ^ exchange;
        let d = mps ^ u32::from(other);
        let low = a < 0x8000;
        let renorm = lps | low;
        // select_unpredictable: LLVM would otherwise turn these into (mispredicted) branches.
        let next = select_unpredictable(other, after_lps, after_mps);
        *cx = select_unpredictable(renorm, next, e);
        // RENORMD without counting leading zeros: after an LPS, A = Qe shifted up (from the
        // context); an MPS interval is >= 0x8000 - 0x5601, so 0 (A >= 0x8000), 1 or 2 shifts.
        let n_mps = u32::from(low) + u32::from(a < 0x4000);
        let n = select_unpredictable(lps, ((e >> 32) & 0xF) as u32, n_mps);
        self.a = select_unpredictable(lps, (e >> 48) as u32, a << n_mps);
        self.c = select_unpredictable(lps, self.c, self.c.wrapping_sub(u64::from(qe) << 48));
        self.shift_c(n);
        d
    }
}

/// [`fill`] with a fast path for the usual case, inline: none of the byte last read and the
/// next three is 0xFF, so the next four bytes are plain 8-bit ones (no stuffed bit, no
/// marker) and go in at once.
#[inline(always)]
fn fill_fast(data: &[u8], a: u32, c: u64, ct: u32) -> (&[u8], u32, u64, u32) {
    if let Some(&[b0, b1, b2, b3, b4, ..]) = data.get(..5)
        && b0 != 0xFF
        && b1 != 0xFF
        && b2 != 0xFF
        && b3 != 0xFF
        && ct <= 16
    {
        let x = u32::from_be_bytes([b1, b2, b3, b4]);
        return (
            &data[4..],
            a,
            c.wrapping_add(u64::from(x) << (16 - ct)),
            ct + 32,
        );
    }
    fill_passing(data, a, c, ct)
}

/// [`fill`] taking and giving back A too: then no decoder register is live across the call,
/// and none has to live in memory in the passes' loops.
#[cold]
#[inline(never)]
fn fill_passing(data: &[u8], a: u32, c: u64, ct: u32) -> (&[u8], u32, u64, u32) {
    let (data, c, ct) = fill(data, c, ct);
    (data, a, c, ct)
}

/// BYTEIN (C.3.4) until more than 32 bits are read ahead (`ct` of them now, below bit 48 of
/// `c`; `data` starts at the byte last read): the new data, C and count. Bytes past the end
/// of the segment read as 0xFF: as after OpenJPEG's artificial 0xFF 0xFF marker, the decoder
/// then stops advancing and reads 1 bits for ever. Sums wrap
/// (at bit 64, as OpenJPEG's 32-bit C wraps at bit 32) on corrupt data.
#[inline(always)]
fn fill(mut data: &[u8], mut c: u64, mut ct: u32) -> (&[u8], u64, u32) {
    while ct <= 32 {
        let cur = data.first().copied().unwrap_or(0xFF);
        let next = data.get(1).copied().unwrap_or(0xFF);
        if cur == 0xFF && next > 0x8F {
            c = c.wrapping_add(0xFF << (40 - ct));
            ct += 8;
        } else {
            data = data.get(1..).unwrap_or(data);
            if cur == 0xFF {
                // A stuffed bit: 7 bits, the first of them added to the 0xFF byte's last.
                c = c.wrapping_add(u64::from(next) << (41 - ct));
                ct += 7;
            } else {
                c = c.wrapping_add(u64::from(next) << (40 - ct));
                ct += 8;
            }
        }
    }
    (data, c, ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A straightforward MQ encoder (C.2, software conventions) to produce test streams.
    struct Encoder {
        a: u32,
        c: u32,
        ct: u32,
        out: Vec<u8>,
        /// Index of the byte B (None before the first byte, i.e. BP = start - 1).
        b: Option<usize>,
    }

    impl Encoder {
        fn new() -> Self {
            Encoder {
                a: 0x8000,
                c: 0,
                ct: 12,
                out: Vec::new(),
                b: None,
            }
        }
        fn byte(&self) -> u8 {
            self.b.map_or(0, |i| self.out[i])
        }
        fn set_byte(&mut self, v: u8) {
            if let Some(i) = self.b {
                self.out[i] = v;
            }
        }
        fn push(&mut self, v: u8) {
            self.out.push(v);
            self.b = Some(self.out.len() - 1);
        }
        fn byte_out(&mut self) {
            if self.byte() == 0xFF {
                self.push((self.c >> 20) as u8);
                self.c &= 0xFFFFF;
                self.ct = 7;
            } else if self.c < 0x8000000 {
                self.push((self.c >> 19) as u8);
                self.c &= 0x7FFFF;
                self.ct = 8;
            } else {
                let v = self.byte().wrapping_add(1);
                self.set_byte(v);
                if v == 0xFF {
                    self.c &= 0x7FFFFFF;
                    self.push((self.c >> 20) as u8);
                    self.c &= 0xFFFFF;
                    self.ct = 7;
                } else {
                    self.push((self.c >> 19) as u8);
                    self.c &= 0x7FFFF;
                    self.ct = 8;
                }
            }
        }
        fn renorm(&mut self) {
            loop {
                self.a <<= 1;
                self.c <<= 1;
                self.ct -= 1;
                if self.ct == 0 {
                    self.byte_out();
                }
                if self.a & 0x8000 != 0 {
                    break;
                }
            }
        }
        fn encode(&mut self, cx: &mut Context, d: u32) {
            let e = *cx;
            let qe = (e & 0xFFFF) as u32;
            let mps = ((e >> 16) & 1) as u32;
            if d == mps {
                self.a -= qe;
                if self.a & 0x8000 == 0 {
                    if self.a < qe {
                        self.a = qe;
                    } else {
                        self.c += qe;
                    }
                    *cx = ENTRY[((e >> 17) & 0x7F) as usize];
                    self.renorm();
                } else {
                    self.c += qe;
                }
            } else {
                self.a -= qe;
                if self.a < qe {
                    self.c += qe;
                } else {
                    self.a = qe;
                }
                *cx = ENTRY[((e >> 24) & 0x7F) as usize];
                self.renorm();
            }
        }
        fn flush(mut self) -> Vec<u8> {
            let temp = self.c + self.a;
            self.c |= 0xFFFF;
            if self.c >= temp {
                self.c -= 0x8000;
            }
            self.c <<= self.ct;
            self.byte_out();
            self.c <<= self.ct;
            self.byte_out();
            if self.out.last() == Some(&0xFF) {
                self.out.pop();
            }
            self.out
        }
    }

    fn lcg(seed: &mut u64) -> u32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 33) as u32
    }

    #[test]
    fn decodes_what_a_reference_encoder_wrote_with_both_decision_paths() {
        for (bias, n) in [(2u32, 5000usize), (20, 20000), (200, 3000), (1, 1)] {
            let mut seed = 7 + u64::from(bias);
            // Symbols over 5 contexts with different skews.
            let symbols: Vec<(usize, u32)> = (0..n)
                .map(|_| {
                    let c = (lcg(&mut seed) % 5) as usize;
                    let p = lcg(&mut seed).is_multiple_of(bias.max(1));
                    (c, u32::from(p ^ (c == 3)))
                })
                .collect();
            let mut enc = Encoder::new();
            let mut cx = initial_contexts();
            for &(c, d) in &symbols {
                enc.encode(&mut cx[c], d);
            }
            let mut bytes = enc.flush();
            bytes.extend_from_slice(&[0xFF, 0xFF]);
            for even in [false, true] {
                let mut dec = MqDecoder::new(&bytes);
                let mut cx = initial_contexts();
                for (i, &(c, d)) in symbols.iter().enumerate() {
                    let got = if even {
                        dec.decode_even(&mut cx[c])
                    } else {
                        dec.decode(&mut cx[c])
                    };
                    assert_eq!(got, d, "symbol {i} of {n} (bias {bias}, even {even})");
                }
            }
        }
    }

    #[test]
    fn an_empty_segment_decodes_without_reading_past_the_marker() {
        let bytes = [0xFF, 0xFF];
        let mut dec = MqDecoder::new(&bytes);
        let mut cx = initial_contexts();
        for _ in 0..1000 {
            dec.decode(&mut cx[0]);
            dec.decode_even(&mut cx[15]);
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Not a test: the cost of one coin-flip decision, chain-bound (`--ignored --nocapture`).
    #[test]
    #[ignore]
    fn mq_decision_timing() {
        let mut seed = 12345u64;
        let data: Vec<u8> = (0..400_000)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                let b = (seed >> 33) as u8;
                if b == 0xFF { 0x7F } else { b }
            })
            .chain([0xFF, 0xFF])
            .collect();
        for even in [true, false] {
            let mut dec = MqDecoder::new(&data);
            let mut cx = initial_contexts();
            let n = 3_000_000;
            let t = std::time::Instant::now();
            let mut acc = 0u32;
            for i in 0..n {
                let k = 14 + (i & 1);
                acc = acc.wrapping_add(if even {
                    dec.decode_even(&mut cx[k])
                } else {
                    dec.decode(&mut cx[k])
                });
            }
            eprintln!(
                "even {even}: {:.2} ns per decision ({acc})",
                t.elapsed().as_secs_f64() * 1e9 / n as f64
            );
        }
    }
}
