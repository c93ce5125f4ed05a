//! The MQ arithmetic decoder of JPEG 2000 (ISO/IEC 15444-1 Annex C), with OpenJPEG's handling
//! of the end of a code-block segment (an artificial 0xFF 0xFF marker: past the end the decoder
//! keeps reading 1 bits), so that every stream decodes to exactly what OpenJPEG decodes.

use std::hint::select_unpredictable;

/// Contexts: 9 zero coding (0-8), 5 sign (9-13), run length (17), uniform (18), 3 refinement
/// (22-24, where the refinement pass computes them), in an array of 32 so that `index & 31`
/// needs no bounds check.
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

/// A context holds its probability state as one packed word: Qe (bits 0-15), the decision
/// last decoded with it (bit 16, read by the caller after the update) and `8 * (2 * state +
/// MPS)` (bits 54-63), the row of [`NEXT`] that gives the word after any decision. Qe shifted
/// to the top of the decoder's 64-bit A and C scale is then one shift (`e << 48`), and the next
/// word one load whose index is one shift and the three comparisons of the decision.
pub(crate) type Context = u64;

/// The context word of probability state `state` with MPS `mps`, last decision `d`.
const fn word(state: usize, mps: usize, d: u64) -> Context {
    STATES[state].0 as u64 | (d << 16) | (((2 * state + mps) as u64 * 8) << 54)
}

/// Bit of a context word that holds its last decision.
const D_SHIFT: u32 = 16;

/// The context word after a decision, row `8 * (2 * state + MPS)` of the word before it (bits
/// 54-63), column `4 * lps + 2 * exchange + high`: `lps` = C fell in the LPS sub-interval,
/// `exchange` = A - Qe < Qe, `high` = A - Qe >= 0x8000 (no renormalisation unless LPS). The
/// new word carries the decision in bit 16. 94 rows of 8, padded to 1024 entries so that the
/// 10-bit index needs no bounds check.
static NEXT: [Context; 1024] = {
    let mut t = [0u64; 1024];
    let mut i = 0;
    while i < 94 {
        let (state, mps) = (i / 2, i % 2);
        let (_, nmps, nlps, switch) = STATES[state];
        let (nmps, nlps) = (nmps as usize, nlps as usize);
        let lps_mps = mps ^ switch as usize;
        let mps_d = mps as u64;
        let lps_d = mps_d ^ 1;
        // MPS sub-interval: renormalised MPS (000), no renormalisation (001), MPS exchange
        // (010; 011 cannot happen: A - Qe < Qe means A - Qe < 0x8000).
        t[8 * i] = word(nmps, mps, mps_d);
        t[8 * i + 1] = word(state, mps, mps_d);
        t[8 * i + 2] = word(nlps, lps_mps, lps_d);
        t[8 * i + 3] = word(nlps, lps_mps, lps_d);
        // LPS sub-interval: a real LPS (10x), or the conditional exchange (11x).
        t[8 * i + 4] = word(nlps, lps_mps, lps_d);
        t[8 * i + 5] = word(nlps, lps_mps, lps_d);
        t[8 * i + 6] = word(nmps, mps, mps_d);
        t[8 * i + 7] = word(nmps, mps, mps_d);
        i += 1;
    }
    t
};

/// The initial context states of a code-block (D.7): all state 0 with MPS 0, except the
/// uniform context (state 46), run length (state 3) and the first zero-coding context (4).
pub(crate) fn initial_contexts() -> [Context; CONTEXTS] {
    let mut cx = [word(0, 0, 0); CONTEXTS];
    cx[CTX_UNIFORM] = word(46, 0, 0);
    cx[CTX_RUN] = word(3, 0, 0);
    cx[0] = word(4, 0, 0);
    cx
}

/// Decoder registers over one code-block segment. Copy, so that the passes can keep it in a
/// local (registers) and store it back.
///
/// A and C are the standard's registers scaled to the top of 64-bit ones (A's 16 bits and
/// C's 32-bit register from bit 48 and bit 32 up), so that Qe is compared and subtracted at
/// the same scale in both, and a renormalisation is a leading-zero count of A. The bits below
/// C's 16 active ones hold the next bytes of the segment, read ahead (adding a byte lower down
/// is the same sum as adding it later, when the standard's BYTEIN would). With at least 15 of
/// those bits always present, a renormalisation (at most 15 shifts) never waits for a byte:
/// it is one shift, and bytes are read about once per 25 bits instead of once per 8.
#[derive(Clone, Copy)]
pub(crate) struct MqDecoder<'a> {
    /// The segment from the byte last read into `c` on.
    data: &'a [u8],
    a: u64,
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
            a: 0x8000 << 48,
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
        let qe = e << 48;
        let a = self.a - qe;
        if self.c < qe {
            // LPS sub-interval (conditional exchange); RENORMD leaves A = Qe shifted up.
            let next = NEXT[((e >> 54) | 4 | (u64::from(a < qe) << 1)) as usize & 1023];
            *cx = next;
            let n = qe.leading_zeros();
            self.a = qe << n;
            self.shift_c(n);
            (next >> D_SHIFT) as u32 & 1
        } else {
            self.c -= qe;
            if a >> 63 == 0 {
                let next = NEXT[((e >> 54) | (u64::from(a < qe) << 1)) as usize & 1023];
                *cx = next;
                // A >= 0x8000 - 0x5601 here: one or two shifts (RENORMD).
                let n = a.leading_zeros();
                self.a = a << n;
                self.shift_c(n);
                (next >> D_SHIFT) as u32 & 1
            } else {
                self.a = a;
                (e >> 57) as u32 & 1
            }
        }
    }

    /// The same decision computed without data-dependent branches on the outcome: for contexts
    /// whose decisions are close to coin flips (magnitude refinement and signs of noisy CT),
    /// where branch mispredictions would dominate.
    #[inline(always)]
    pub fn decode_even(&mut self, cx: &mut Context) -> u32 {
        let e = *cx;
        let qe = e << 48;
        let (c_mps, lps) = self.c.overflowing_sub(qe);
        let a = self.a - qe;
        let exchange = a < qe;
        let high = a >> 63;
        let column = (u64::from(lps) << 2) | (u64::from(exchange) << 1) | high;
        let next = NEXT[((e >> 54) | column) as usize & 1023];
        *cx = next;
        // select_unpredictable: LLVM would otherwise turn these into (mispredicted) branches.
        // RENORMD: after an LPS, A = Qe; after an MPS, A - Qe (no shift when >= 0x8000).
        let a = select_unpredictable(lps, qe, a);
        let n = a.leading_zeros();
        self.a = a << n;
        self.c = select_unpredictable(lps, self.c, c_mps);
        self.shift_c(n);
        (next >> D_SHIFT) as u32 & 1
    }
}

/// [`fill`] with a fast path for the usual case, inline: none of the byte last read and the
/// next three is 0xFF, so the next four bytes are plain 8-bit ones (no stuffed bit, no
/// marker) and go in at once.
#[inline(always)]
fn fill_fast(data: &[u8], a: u64, c: u64, ct: u32) -> (&[u8], u64, u64, u32) {
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
fn fill_passing(data: &[u8], a: u64, c: u64, ct: u32) -> (&[u8], u64, u64, u32) {
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
            let mps = ((e >> 57) & 1) as u32;
            if d == mps {
                self.a -= qe;
                if self.a & 0x8000 == 0 {
                    if self.a < qe {
                        self.a = qe;
                    } else {
                        self.c += qe;
                    }
                    *cx = NEXT[(e >> 54) as usize];
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
                *cx = NEXT[(e >> 54) as usize | 4];
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

    /// Not a test: the cost of one coin-flip decision, chain-bound (`--ignored --nocapture`),
    /// with the contexts in memory rotating over 1, 2, 4 or 8 of them (one context: each
    /// decision loads what the one before stored), or one context in a register.
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
        let n = 3_000_000;
        for (even, rot) in [(true, 1), (true, 2), (true, 4), (true, 8), (false, 2)] {
            let mut dec = MqDecoder::new(&data);
            let mut cx = initial_contexts();
            let t = std::time::Instant::now();
            let mut acc = 0u32;
            for i in 0..n {
                let k = 20 + (i % rot);
                acc = acc.wrapping_add(if even {
                    dec.decode_even(&mut cx[k])
                } else {
                    dec.decode(&mut cx[k])
                });
            }
            eprintln!(
                "even {even}, {rot} contexts in memory: {:.2} ns per decision ({acc})",
                t.elapsed().as_secs_f64() * 1e9 / n as f64
            );
        }
        let mut dec = MqDecoder::new(&data);
        let mut e = initial_contexts()[20];
        let t = std::time::Instant::now();
        let mut acc = 0u32;
        for _ in 0..n {
            acc = acc.wrapping_add(dec.decode_even(&mut e));
        }
        eprintln!(
            "even, 1 context in a register: {:.2} ns per decision ({acc})",
            t.elapsed().as_secs_f64() * 1e9 / n as f64
        );
    }
}
