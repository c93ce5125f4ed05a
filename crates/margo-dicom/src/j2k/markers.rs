//! The codestream's marker segments (ISO/IEC 15444-1 Annex A), read only as far as this fast
//! path goes: anything outside it is a [`Fallback`] with the reason.

use std::borrow::Cow;

use super::Fallback;

/// The coding parameters of a single-tile, single-component, reversible codestream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Params {
    pub width: usize,
    pub height: usize,
    /// Bits per sample (1..=16) and signedness, from SIZ.
    pub precision: u32,
    pub signed: bool,
    /// Decomposition levels.
    pub levels: usize,
    /// Code-block width and height exponents (block = 2^x by 2^y samples).
    pub block_w_exp: u32,
    pub block_h_exp: u32,
    pub layers: usize,
    /// Layer-resolution-component-position (0) or a resolution-major order (the others are
    /// the same with one component and one precinct per resolution).
    pub layer_major: bool,
    pub guard_bits: u32,
    /// Sub-band exponents in codestream order: LL, then HL, LH, HH per resolution.
    pub exponents: Vec<u32>,
}

fn u16_at(b: &[u8], i: usize) -> Result<u16, Fallback> {
    b.get(i..i + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(Fallback("marker segment cut short"))
}

fn u32_at(b: &[u8], i: usize) -> Result<u32, Fallback> {
    b.get(i..i + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(Fallback("marker segment cut short"))
}

fn byte_at(b: &[u8], i: usize) -> Result<u8, Fallback> {
    b.get(i)
        .copied()
        .ok_or(Fallback("marker segment cut short"))
}

const SOC: u16 = 0xFF4F;
const CAP: u16 = 0xFF50;
const SIZ: u16 = 0xFF51;
const COD: u16 = 0xFF52;
const TLM: u16 = 0xFF55;
const PLM: u16 = 0xFF57;
const PLT: u16 = 0xFF58;
const QCD: u16 = 0xFF5C;
const CRG: u16 = 0xFF63;
const COM: u16 = 0xFF64;
const SOT: u16 = 0xFF90;
const SOD: u16 = 0xFF93;
const EOC: u16 = 0xFFD9;

#[derive(Default)]
struct Seen {
    siz: Option<(usize, usize, u32, bool)>,
    cod: Option<(usize, bool, usize, u32, u32)>,
    qcd: Option<(u32, Vec<u32>)>,
}

/// Splits `stream` into its coding parameters and the packet data of its one tile (tile-parts
/// joined in order).
pub(crate) fn parse(stream: &[u8]) -> Result<(Params, Cow<'_, [u8]>), Fallback> {
    if u16_at(stream, 0)? != SOC {
        return Err(Fallback("not a raw JPEG 2000 codestream (no SOC)"));
    }
    let mut seen = Seen::default();
    let mut pos = 2;
    // Main header.
    loop {
        let marker = u16_at(stream, pos)?;
        if marker == SOT {
            break;
        }
        let len = usize::from(u16_at(stream, pos + 2)?);
        let seg = stream
            .get(pos + 4..pos + 2 + len)
            .filter(|_| len >= 2)
            .ok_or(Fallback("main header marker segment runs past the data"))?;
        match marker {
            SIZ => seen.siz = Some(parse_siz(seg)?),
            COD => seen.cod = Some(parse_cod(seg)?),
            QCD => seen.qcd = Some(parse_qcd(seg)?),
            COM | TLM | PLM | CRG => {}
            CAP => return Err(Fallback("CAP marker (Part 15 / HTJ2K)")),
            _ => return Err(Fallback("main header marker outside the fast path")),
        }
        pos += 2 + len;
    }
    let (Some((width, height, precision, signed)), Some(cod), Some((guard_bits, exponents))) =
        (seen.siz, seen.cod, seen.qcd)
    else {
        return Err(Fallback("SIZ, COD or QCD missing"));
    };
    let (levels, layer_major, layers, block_w_exp, block_h_exp) = cod;
    if exponents.len() != 1 + 3 * levels {
        return Err(Fallback("QCD does not give one exponent per sub-band"));
    }
    let params = Params {
        width,
        height,
        precision,
        signed,
        levels,
        block_w_exp,
        block_h_exp,
        layers,
        layer_major,
        guard_bits,
        exponents,
    };

    // Tile-parts.
    let mut parts: Vec<&[u8]> = Vec::new();
    while pos + 2 <= stream.len() {
        match u16_at(stream, pos)? {
            SOT => {}
            EOC => break,
            _ => return Err(Fallback("expected SOT or EOC after a tile-part")),
        }
        let sot = stream
            .get(pos + 4..pos + 12)
            .ok_or(Fallback("SOT cut short"))?;
        if u16_at(stream, pos + 2)? != 10 || u16_at(sot, 0)? != 0 {
            return Err(Fallback("SOT of a tile other than 0"));
        }
        let psot = u32_at(sot, 2)? as usize;
        let end = if psot == 0 {
            // The last tile-part runs to EOC.
            let mut end = stream.len();
            while end > pos && stream[end - 1] == 0 {
                end -= 1; // DICOM pads fragments to an even length
            }
            if end >= 2 && stream[end - 2..end] == [0xFF, 0xD9] {
                end - 2
            } else {
                end
            }
        } else {
            pos + psot
        };
        if end > stream.len() {
            return Err(Fallback(
                "tile-part runs past the end of the data (truncated)",
            ));
        }
        let mut p = pos + 12;
        loop {
            let marker = u16_at(stream, p)?;
            if marker == SOD {
                p += 2;
                break;
            }
            let len = usize::from(u16_at(stream, p + 2)?);
            match marker {
                COM | PLT if len >= 2 => p += 2 + len,
                _ => return Err(Fallback("tile-part header marker outside the fast path")),
            }
        }
        if p > end {
            return Err(Fallback("tile-part header runs past its length"));
        }
        parts.push(&stream[p..end]);
        pos = end;
    }
    let data = match parts.as_slice() {
        [] => return Err(Fallback("no tile-part")),
        [one] => Cow::Borrowed(*one),
        many => Cow::Owned(many.concat()),
    };
    Ok((params, data))
}

fn parse_siz(seg: &[u8]) -> Result<(usize, usize, u32, bool), Fallback> {
    let rsiz = u16_at(seg, 0)?;
    let (x1, y1) = (u32_at(seg, 2)?, u32_at(seg, 6)?);
    let (x0, y0) = (u32_at(seg, 10)?, u32_at(seg, 14)?);
    let (tw, th) = (u32_at(seg, 18)?, u32_at(seg, 22)?);
    let (tx0, ty0) = (u32_at(seg, 26)?, u32_at(seg, 30)?);
    let components = u16_at(seg, 34)?;
    if rsiz & 0x4000 != 0 {
        return Err(Fallback("Part 15 (HTJ2K) codestream"));
    }
    if components != 1 {
        return Err(Fallback("more than one component"));
    }
    if x0 != 0 || y0 != 0 || tx0 != 0 || ty0 != 0 {
        return Err(Fallback("image or tile origin not at 0"));
    }
    if tw < x1 || th < y1 {
        return Err(Fallback("more than one tile"));
    }
    let ssiz = byte_at(seg, 36)?;
    if byte_at(seg, 37)? != 1 || byte_at(seg, 38)? != 1 {
        return Err(Fallback("sub-sampled component"));
    }
    let precision = u32::from(ssiz & 0x7F) + 1;
    if precision > 16 || x1 == 0 || y1 == 0 {
        return Err(Fallback("more than 16 bits per sample or an empty image"));
    }
    Ok((x1 as usize, y1 as usize, precision, ssiz & 0x80 != 0))
}

fn parse_cod(seg: &[u8]) -> Result<(usize, bool, usize, u32, u32), Fallback> {
    let scod = byte_at(seg, 0)?;
    let progression = byte_at(seg, 1)?;
    let layers = u16_at(seg, 2)?;
    let levels = byte_at(seg, 5)?;
    let (xcb, ycb) = (u32::from(byte_at(seg, 6)?), u32::from(byte_at(seg, 7)?));
    let style = byte_at(seg, 8)?;
    let transform = byte_at(seg, 9)?;
    if scod & !1 != 0 {
        return Err(Fallback("SOP or EPH markers"));
    }
    if scod & 1 != 0 {
        // Precinct sizes given: only the default (maximal) ones are one precinct per level.
        let sizes = seg
            .get(10..11 + usize::from(levels))
            .ok_or(Fallback("COD cut short"))?;
        if sizes.iter().any(|&s| s != 0xFF) {
            return Err(Fallback("precincts smaller than the tile"));
        }
    }
    if style != 0 {
        return Err(Fallback(
            "code-block style options (bypass, reset, causal, ...)",
        ));
    }
    if transform != 1 {
        return Err(Fallback("irreversible 9/7 wavelet (lossy)"));
    }
    if progression > 4 || layers == 0 || levels > 32 || xcb > 8 || ycb > 8 || xcb + ycb > 8 {
        return Err(Fallback("COD values out of range"));
    }
    Ok((
        usize::from(levels),
        progression == 0,
        usize::from(layers),
        xcb + 2,
        ycb + 2,
    ))
}

fn parse_qcd(seg: &[u8]) -> Result<(u32, Vec<u32>), Fallback> {
    let sqcd = byte_at(seg, 0)?;
    if sqcd & 0x1F != 0 {
        return Err(Fallback("quantised sub-bands (lossy)"));
    }
    Ok((
        u32::from(sqcd >> 5),
        seg[1..].iter().map(|&b| u32::from(b >> 3)).collect(),
    ))
}
