//! A small, fast decoder for the JPEG lossless process 14 (ITU T.81 annex H) with one
//! component: what CT archives use (transfer syntaxes 1.2.840.10008.1.2.4.57 and .70). It
//! exists for speed (jpeg-decoder's general path is several times slower on 16-bit CT). Anything
//! it does not handle (several components, restart intervals that do not cover whole rows,
//! hierarchical or DCT frames) returns `Err` and the caller falls back to dicom-pixeldata.
//! Tests compare it bit for bit with the uncompressed reference files.

/// Frame parameters found in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LosslessFrame {
    pub rows: usize,
    pub cols: usize,
    pub precision: u8,
}

const FAST_BITS: u32 = 9;

struct Huffman {
    /// (code length, symbol) for every FAST_BITS-bit prefix; length 0 = not a short code.
    fast: Vec<(u8, u8)>,
    /// Canonical tables for the long codes (T.81 F.2.2.3).
    max_code: [i32; 18],
    val_ptr: [i32; 17],
    min_code: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: Vec<u8>) -> Result<Self, String> {
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        if total != values.len() || total == 0 {
            return Err("bad Huffman table".into());
        }
        let mut fast = vec![(0u8, 0u8); 1 << FAST_BITS];
        let mut max_code = [-1i32; 18];
        let mut val_ptr = [0i32; 17];
        let mut min_code = [0i32; 17];
        let mut code = 0u32;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let n = counts[len as usize - 1] as usize;
            val_ptr[len as usize] = k as i32;
            min_code[len as usize] = code as i32;
            for _ in 0..n {
                if code >= (1 << len) {
                    return Err("over-subscribed Huffman table".into());
                }
                if len <= FAST_BITS {
                    let shift = FAST_BITS - len;
                    for fill in 0..(1u32 << shift) {
                        fast[((code << shift) | fill) as usize] = (len as u8, values[k]);
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        max_code[17] = i32::MAX;
        Ok(Self {
            fast,
            max_code,
            val_ptr,
            min_code,
            values,
        })
    }
}

/// MSB-first bit reader over entropy-coded data: removes 0xFF00 stuffing, stops at markers
/// (feeding zeros past them, which a valid stream never consumes).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    /// Set on an invalid code; checked once per row (keeps the per-sample path branch-light).
    bad: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            acc: 0,
            n: 0,
            bad: false,
        }
    }

    #[inline(always)]
    fn refill(&mut self) {
        while self.n <= 56 {
            let mut byte = 0u8;
            if let Some(&b) = self.data.get(self.pos) {
                if b == 0xFF {
                    // 0xFF00 is a stuffed 0xFF; anything else is a marker, left for the caller.
                    if self.data.get(self.pos + 1) == Some(&0x00) {
                        byte = 0xFF;
                        self.pos += 2;
                    }
                } else {
                    byte = b;
                    self.pos += 1;
                }
            }
            self.acc |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
    }

    #[inline(always)]
    fn bits(&mut self, count: u32) -> u32 {
        if count == 0 {
            return 0;
        }
        if self.n < count {
            self.refill();
        }
        let v = (self.acc >> (64 - count)) as u32;
        self.acc <<= count;
        self.n -= count;
        v
    }

    #[inline(always)]
    fn decode(&mut self, h: &Huffman) -> u8 {
        if self.n < 16 {
            self.refill();
        }
        let peek = (self.acc >> (64 - FAST_BITS)) as usize;
        let (len, sym) = h.fast[peek];
        if len > 0 {
            self.acc <<= len;
            self.n -= u32::from(len);
            return sym;
        }
        self.decode_long(h)
    }

    #[cold]
    #[inline(never)]
    fn decode_long(&mut self, h: &Huffman) -> u8 {
        let mut code = (self.acc >> (64 - FAST_BITS)) as i32;
        let mut len = FAST_BITS as usize;
        self.acc <<= FAST_BITS;
        self.n -= FAST_BITS;
        while code > h.max_code[len] {
            if len >= 16 {
                self.bad = true;
                return 0;
            }
            code = (code << 1) | self.bits(1) as i32;
            len += 1;
        }
        let idx = h.val_ptr[len] + code - h.min_code[len];
        match h.values.get(idx as usize) {
            Some(&v) => v,
            None => {
                self.bad = true;
                0
            }
        }
    }

    /// One difference (T.81 H.1.2.2): a Huffman-coded category, then that many extra bits.
    #[inline(always)]
    fn diff(&mut self, h: &Huffman) -> i32 {
        let ssss = u32::from(self.decode(h));
        match ssss {
            0 => 0,
            1..=15 => {
                let v = self.bits(ssss) as i32;
                if v < 1 << (ssss - 1) {
                    v - (1 << ssss) + 1
                } else {
                    v
                }
            }
            16 => 32768,
            _ => {
                self.bad = true;
                0
            }
        }
    }

    /// Discards buffered bits and skips a restart marker.
    fn restart(&mut self) -> Result<(), String> {
        self.acc = 0;
        self.n = 0;
        while self.pos + 1 < self.data.len() {
            if self.data[self.pos] == 0xFF && (0xD0..=0xD7).contains(&self.data[self.pos + 1]) {
                self.pos += 2;
                return Ok(());
            }
            self.pos += 1;
        }
        Err("missing restart marker".into())
    }
}

fn be16(d: &[u8], at: usize) -> Result<usize, String> {
    d.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        .ok_or_else(|| "truncated JPEG header".to_string())
}

/// Decodes one lossless JPEG image into `out` (resized to rows * cols), samples as u16.
pub(crate) fn decode(data: &[u8], out: &mut Vec<u16>) -> Result<LosslessFrame, String> {
    let mut tables: [Option<Huffman>; 4] = [None, None, None, None];
    let mut frame: Option<LosslessFrame> = None;
    let mut restart_interval = 0usize;
    let mut pos = 0usize;
    loop {
        // Find the next marker.
        while pos < data.len() && data[pos] != 0xFF {
            pos += 1;
        }
        while pos < data.len() && data[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else {
            return Err("no scan found".into());
        };
        pos += 1;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => {}
            0xD9 => return Err("end of image before a scan".into()),
            0xC4 => {
                let len = be16(data, pos)?;
                let end = pos + len;
                let mut p = pos + 2;
                while p < end {
                    let tc_th = *data.get(p).ok_or("truncated DHT")?;
                    let counts: [u8; 16] = data
                        .get(p + 1..p + 17)
                        .ok_or("truncated DHT")?
                        .try_into()
                        .map_err(|_| "truncated DHT")?;
                    let n: usize = counts.iter().map(|&c| c as usize).sum();
                    let values = data
                        .get(p + 17..p + 17 + n)
                        .ok_or("truncated DHT")?
                        .to_vec();
                    // Lossless JPEG uses the DC (class 0) tables.
                    if tc_th >> 4 == 0 {
                        tables[(tc_th & 3) as usize] = Some(Huffman::new(&counts, values)?);
                    }
                    p += 17 + n;
                }
                pos = end;
            }
            0xC3 => {
                let len = be16(data, pos)?;
                let precision = *data.get(pos + 2).ok_or("truncated SOF")?;
                let rows = be16(data, pos + 3)?;
                let cols = be16(data, pos + 5)?;
                let components = *data.get(pos + 7).ok_or("truncated SOF")?;
                if components != 1 {
                    return Err(format!("{components} components"));
                }
                if !(2..=16).contains(&precision) || rows == 0 || cols == 0 {
                    return Err(format!("precision {precision}, {rows} x {cols}"));
                }
                frame = Some(LosslessFrame {
                    rows,
                    cols,
                    precision,
                });
                pos += len;
            }
            0xC0..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                return Err(format!("SOF{} is not lossless process 14", marker - 0xC0));
            }
            0xDD => {
                restart_interval = be16(data, pos + 2)?;
                pos += be16(data, pos)?;
            }
            0xDA => {
                let f = frame.ok_or("scan before frame header")?;
                let len = be16(data, pos)?;
                let ns = *data.get(pos + 2).ok_or("truncated SOS")?;
                if ns != 1 {
                    return Err(format!("{ns} components in scan"));
                }
                let table = (*data.get(pos + 4).ok_or("truncated SOS")? >> 4) as usize;
                let predictor = *data.get(pos + 5).ok_or("truncated SOS")?;
                let point_transform = *data.get(pos + 7).ok_or("truncated SOS")? & 0x0F;
                let huffman = tables[table & 3].as_ref().ok_or("missing Huffman table")?;
                if restart_interval != 0 && !restart_interval.is_multiple_of(f.cols) {
                    return Err("restart interval is not whole rows".into());
                }
                if !(1..=7).contains(&predictor) || point_transform >= f.precision {
                    return Err(format!(
                        "predictor {predictor}, point transform {point_transform}"
                    ));
                }
                let mut bits = Bits::new(data, pos + len);
                decode_scan(
                    &mut bits,
                    huffman,
                    f,
                    predictor,
                    point_transform,
                    restart_interval / f.cols.max(1),
                    out,
                )?;
                return Ok(f);
            }
            _ => {
                // APPn, COM, DQT, ...: skip.
                pos += be16(data, pos)?;
            }
        }
    }
}

fn decode_scan(
    bits: &mut Bits<'_>,
    h: &Huffman,
    f: LosslessFrame,
    predictor: u8,
    pt: u8,
    restart_rows: usize,
    out: &mut Vec<u16>,
) -> Result<(), String> {
    let (rows, cols) = (f.rows, f.cols);
    out.clear();
    out.resize(rows * cols, 0);
    let initial = 1i32 << (f.precision - pt - 1);
    for r in 0..rows {
        // A restart interval (whole rows) starts like a scan: first row predicted from the left.
        let restarted = restart_rows != 0 && r % restart_rows == 0;
        if restarted && r != 0 {
            bits.restart()?;
        }
        let first_line = r == 0 || restarted;
        let (done, rest) = out.split_at_mut(r * cols);
        let row = &mut rest[..cols];
        let above = if first_line {
            &[][..]
        } else {
            &done[(r - 1) * cols..]
        };
        // First sample: the initial value on a first line, else the sample above.
        let px0 = if first_line {
            initial
        } else {
            i32::from(above[0])
        };
        row[0] = (px0 + bits.diff(h)) as u16;
        if first_line {
            for c in 1..cols {
                let ra = i32::from(row[c - 1]);
                row[c] = (ra + bits.diff(h)) as u16;
            }
            if bits.bad {
                return Err("invalid Huffman code".into());
            }
            continue;
        }
        macro_rules! line {
            ($pred:expr) => {
                for c in 1..cols {
                    let ra = i32::from(row[c - 1]);
                    let rb = i32::from(above[c]);
                    let rc = i32::from(above[c - 1]);
                    let px: i32 = $pred(ra, rb, rc);
                    row[c] = (px + bits.diff(h)) as u16;
                }
            };
        }
        match predictor {
            1 => line!(|ra, _rb, _rc| ra),
            2 => line!(|_ra, rb, _rc| rb),
            3 => line!(|_ra, _rb, rc| rc),
            4 => line!(|ra: i32, rb: i32, rc: i32| ra + rb - rc),
            5 => line!(|ra: i32, rb: i32, rc: i32| ra + ((rb - rc) >> 1)),
            6 => line!(|ra: i32, rb: i32, rc: i32| rb + ((ra - rc) >> 1)),
            _ => line!(|ra: i32, rb: i32, _rc| (ra + rb) >> 1),
        }
        if bits.bad {
            return Err("invalid Huffman code".into());
        }
    }
    if pt > 0 {
        for v in out.iter_mut() {
            *v <<= pt;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        assert!(decode(&[], &mut out).is_err());
        assert!(decode(&[0xFF, 0xD8, 0xFF, 0xC3, 0x00], &mut out).is_err());
        // A baseline frame header is refused (left to the general decoder).
        let sof0 = [0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0];
        assert!(decode(&sof0, &mut out).unwrap_err().contains("SOF0"));
        let mut x = 12345u32;
        for len in [10usize, 100, 1000] {
            let noise: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let mut stream = vec![0xFF, 0xD8];
            stream.extend(noise);
            let _ = decode(&stream, &mut out);
        }
    }

    /// Bit for bit what jpeg-decoder (through dicom-pixeldata) gives, on every lossless JPEG
    /// file of dicom-variety (predictors 1 and the process-14 default, 16-bit signed, a
    /// non-square image).
    #[test]
    fn matches_the_general_decoder_on_real_files() {
        use dicom_pixeldata::PixelDecoder;
        let Some(dir) = margo_volume::testdata::shared_path(
            "dicom-variety",
            "matches_the_general_decoder_on_real_files",
        ) else {
            return;
        };
        let files = [
            "ct-chest-ge_jpeg-lossless-p14-sv1.dcm",
            "ct-chest-ge_jpeg-lossless-p14.dcm",
            "ct-chest-ge-400x512_jpeg-lossless-p14-sv1.dcm",
            "wg04-ct1_jpeg-lossless-p14-sv1.dcm",
            "wg04-ct2_jpeg-lossless-p14-sv1.dcm",
        ];
        let fragments_of = |path: &std::path::Path| -> (Vec<u8>, Vec<u16>) {
            let parsed = crate::read::read_file(path, crate::read::ReadExtent::All)
                .unwrap()
                .unwrap();
            let crate::read::Dataset::Part10(obj) = &parsed.dataset else {
                panic!("{}: expected Part 10", path.display());
            };
            let element = obj.get(crate::attrs::tags::PIXEL_DATA).unwrap();
            match element.fragments() {
                Some(f) => (
                    f.iter().flatten().copied().collect(),
                    obj.decode_pixel_data().unwrap().data_ow(),
                ),
                None => (Vec::new(), obj.decode_pixel_data().unwrap().data_ow()),
            }
        };
        let mismatches = |a: &[u16], b: &[u16]| {
            assert_eq!(a.len(), b.len());
            a.iter().zip(b).filter(|(x, y)| x != y).count()
        };
        for name in files {
            let (bytes, general) = fragments_of(&dir.join(name));
            let mut ours = Vec::new();
            let frame = decode(&bytes, &mut ours).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(ours.len(), frame.rows * frame.cols, "{name}");
            assert_eq!(mismatches(&ours, &general), 0, "{name}");
        }

        // Every predictor (selection values 1-7) and point transforms, encoded by dcmtk from
        // the WG-04 CT2 reference, against the reference's stored values (low `pt` bits
        // cleared). Skipped without dcmtk (.ci/run installs it).
        let tmp = tempfile::tempdir().unwrap();
        let reference = dir.join("wg04-ct2_uncompressed-explicit-le.dcm");
        let (_, stored) = fragments_of(&reference);
        for (sv, pt) in [
            (1, 0),
            (2, 0),
            (3, 0),
            (4, 0),
            (5, 0),
            (6, 0),
            (7, 0),
            (1, 3),
            (7, 2),
        ] {
            let out = tmp.path().join(format!("sv{sv}-pt{pt}.dcm"));
            let made = std::process::Command::new("dcmcjpeg")
                .args(["+el", "+sv", &sv.to_string(), "+pt", &pt.to_string()])
                .arg(&reference)
                .arg(&out)
                .status()
                .is_ok_and(|s| s.success());
            if !made {
                eprintln!("dcmcjpeg unavailable: predictor variants skipped");
                break;
            }
            let (bytes, _) = fragments_of(&out);
            let mut ours = Vec::new();
            decode(&bytes, &mut ours).unwrap_or_else(|e| panic!("sv {sv} pt {pt}: {e}"));
            let expected: Vec<u16> = stored.iter().map(|v| (v >> pt) << pt).collect();
            // (jpeg-decoder gets point-transformed streams wrong; we compare with the source.)
            assert_eq!(mismatches(&ours, &expected), 0, "sv {sv} pt {pt}");
        }
    }

    #[test]
    fn canonical_codes() {
        // Two 1-bit codes: 0 -> symbol 5, 1 -> symbol 7.
        let mut counts = [0u8; 16];
        counts[0] = 2;
        let h = Huffman::new(&counts, vec![5, 7]).unwrap();
        let data = [0b0101_0000u8];
        let mut b = Bits::new(&data, 0);
        assert_eq!(b.decode(&h), 5);
        assert_eq!(b.decode(&h), 7);
        assert_eq!(b.decode(&h), 5);
    }
}
