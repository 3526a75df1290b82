//! Memory-mapped, validated `.npy` files (NumPy format versions 1.0, 2.0 and 3.0).
//!
//! Accepted: little-endian (`<`) or byte-order-free (`|`) dtypes f4, f2, f8, u1, i1, C order,
//! at least one dimension. Everything else is refused by name (big-endian, object, structured,
//! Fortran order, 0-d). Before any typed view is handed out we check the magic, the header
//! length, the header dict, the shape, that exactly the promised number of data bytes follow
//! (not fewer, not more) and that the data is aligned for its element type.
//!
//! **Files must not change while mapped.** The data is read through a shared read-only map of
//! the file: if another process truncates or rewrites the file meanwhile, reads may see the
//! new bytes or fault (SIGBUS). Calibration data sets are read-only inputs; don't regenerate
//! them while trtq-lite runs.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Error, Result};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Element types we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    F64,
    U8,
    I8,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
            DType::F64 => 8,
            DType::U8 | DType::I8 => 1,
        }
    }
    /// NumPy's name: "float32", "float16", "float64", "uint8", "int8".
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F16 => "float16",
            DType::F64 => "float64",
            DType::U8 => "uint8",
            DType::I8 => "int8",
        }
    }
    /// The descr string NumPy writes: "<f4", "<f2", "<f8", "|u1", "|i1".
    pub fn descr(self) -> &'static str {
        match self {
            DType::F32 => "<f4",
            DType::F16 => "<f2",
            DType::F64 => "<f8",
            DType::U8 => "|u1",
            DType::I8 => "|i1",
        }
    }
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::F64)
    }
    /// Parses a descr string; the error names what is wrong with it.
    pub fn from_descr(descr: &str) -> std::result::Result<DType, String> {
        let supported = "supported: <f4, <f2, <f8, |u1, |i1";
        if descr.contains('O') {
            return Err(format!(
                "object dtype '{descr}' (Python objects, not numbers) is not supported"
            ));
        }
        if descr.starts_with('|') && descr.get(1..2) == Some("V") {
            return Err(format!("structured/void dtype '{descr}' is not supported"));
        }
        let (order, code) = match descr.as_bytes().first() {
            Some(b'<' | b'|' | b'>' | b'=') => descr.split_at(1),
            _ => ("", descr),
        };
        let t = match code {
            "f4" => DType::F32,
            "f2" => DType::F16,
            "f8" => DType::F64,
            "u1" => DType::U8,
            "i1" => DType::I8,
            _ => return Err(format!("unsupported dtype '{descr}' ({supported})")),
        };
        match order {
            ">" if t.size() > 1 => Err(format!(
                "big-endian dtype '{descr}' is not supported (convert with arr.astype('{}'))",
                t.descr()
            )),
            "<" | "|" => Ok(t),
            ">" => Ok(t), // one-byte types have no byte order
            _ => Err(format!(
                "dtype '{descr}' has no explicit byte order ({supported})"
            )),
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed, validated header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// (major, minor): (1, 0), (2, 0) or (3, 0).
    pub version: (u8, u8),
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Offset of the first data byte from the start of the file.
    pub data_offset: usize,
    /// shape product × element size (checked for overflow).
    pub data_len: usize,
}

/// Formats a shape as Python does: `(80, 3, 32, 32)`, `(5,)`, `()`.
pub fn shape_str(shape: &[usize]) -> String {
    match shape {
        [] => "()".into(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Parses and checks the header at the start of `bytes` (the file's first bytes; at least the
/// whole header). Pure: no I/O, never panics on any input. The error states the fact without
/// the file name.
pub fn parse_header(bytes: &[u8]) -> std::result::Result<Header, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (missing the \\x93NUMPY magic)".into());
    }
    let version = (bytes[6], bytes[7]);
    let (prefix, header_len) = match version {
        (1, 0) => (10usize, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        (2, 0) | (3, 0) => {
            if bytes.len() < 12 {
                return Err("file ends inside the header length field".into());
            }
            (
                12,
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            )
        }
        (a, b) => {
            return Err(format!(
                "unsupported .npy format version {a}.{b} (1.0, 2.0, 3.0 are supported)"
            ))
        }
    };
    let data_offset = prefix
        .checked_add(header_len)
        .ok_or("header length overflows")?;
    if bytes.len() < data_offset {
        return Err(format!(
            "header length field says {header_len} bytes, but the file ends after {} header bytes",
            bytes.len() - prefix
        ));
    }
    let text = &bytes[prefix..data_offset];
    let text: String = if version.0 >= 3 {
        std::str::from_utf8(text)
            .map_err(|_| "header is not valid UTF-8".to_string())?
            .to_string()
    } else {
        // Versions 1 and 2 are latin-1; every byte maps to the char of the same value.
        text.iter().map(|&b| b as char).collect()
    };
    let dict = parse_dict(&text)?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (k, v) in dict {
        let dup = match (k.as_str(), v) {
            ("descr", Lit::Str(s)) => descr.replace(s).is_some(),
            ("fortran_order", Lit::Bool(b)) => fortran.replace(b).is_some(),
            ("shape", Lit::Tuple(t)) => shape.replace(t).is_some(),
            ("descr" | "fortran_order" | "shape", other) => {
                return Err(format!(
                    "header key '{k}' has a value of the wrong type ({other:?})"
                ))
            }
            _ => return Err(format!("header has an unexpected key '{k}'")),
        };
        if dup {
            return Err(format!("header repeats the key '{k}'"));
        }
    }
    let descr = descr.ok_or("header lacks 'descr'")?;
    let fortran = fortran.ok_or("header lacks 'fortran_order'")?;
    let shape = shape.ok_or("header lacks 'shape'")?;
    let dtype = DType::from_descr(&descr)?;
    if shape.is_empty() {
        return Err("0-d array (a single scalar) is not supported; save an array with at least one dimension".into());
    }
    if fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(format!(
            "Fortran-order (column-major) array {} is not supported; save np.ascontiguousarray(arr)",
            shape_str(&shape)
        ));
    }
    let data_len = shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("shape {} overflows the address space", shape_str(&shape)))?;
    if data_offset % dtype.size() != 0 {
        return Err(format!(
            "data starts at byte {data_offset}, not aligned for {} (NumPy pads headers to 64 bytes)",
            dtype.name()
        ));
    }
    Ok(Header {
        version,
        dtype,
        shape,
        data_offset,
        data_len,
    })
}

/// Checks a whole file's bytes: the header (as [`parse_header`]) and that exactly the promised
/// number of data bytes follow it, not fewer, not more. Pure: no I/O, never panics on any
/// input; [`NpyFile::open`] runs it on the mapped file, the fuzz targets on arbitrary bytes.
/// Not checked here: the data's alignment in memory, which depends on where the bytes lie.
pub fn check_bytes(bytes: &[u8]) -> std::result::Result<Header, String> {
    let header = parse_header(bytes)?;
    let follow = bytes.len() - header.data_offset;
    if follow != header.data_len {
        return Err(format!(
            "header says {} {} = {} bytes, but {} bytes follow",
            shape_str(&header.shape),
            header.dtype.descr(),
            header.data_len,
            follow
        ));
    }
    Ok(header)
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses the header's Python dict literal: string keys; values are strings, True/False, a
/// tuple of non-negative ints (a list, a structured dtype, is refused).
fn parse_dict(text: &str) -> std::result::Result<Vec<(String, Lit)>, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    p.expect(b'{')?;
    let mut out = Vec::new();
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let k = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        let v = p.value()?;
        out.push((k, v));
        p.ws();
        if p.eat(b',') {
            continue;
        }
        p.expect(b'}')?;
        break;
    }
    p.ws();
    if p.i != p.s.len() {
        return Err(format!(
            "header has unexpected text after the dict at offset {}",
            p.i
        ));
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "bad header dict: expected '{}' at offset {}, found {}",
                c as char,
                self.i,
                self.peek()
                    .map_or("the end".to_string(), |b| format!("'{}'", b.escape_ascii()))
            ))
        }
    }
    fn string(&mut self) -> std::result::Result<String, String> {
        let q = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "bad header dict: expected a quoted string at offset {}",
                    self.i
                ))
            }
        };
        self.i += 1;
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == q {
                let s = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                return Ok(s);
            }
            if c == b'\\' {
                return Err("bad header dict: escapes in strings are not supported".into());
            }
            self.i += 1;
        }
        Err("bad header dict: unterminated string".into())
    }
    fn value(&mut self) -> std::result::Result<Lit, String> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Lit::Str(self.string()?)),
            // Only a structured dtype's descr is a list; nothing to parse further.
            Some(b'[') => Err("structured dtype (a list of fields) is not supported".into()),
            Some(b'(') => {
                self.i += 1;
                let mut dims = Vec::new();
                loop {
                    self.ws();
                    if self.eat(b')') {
                        break;
                    }
                    dims.push(self.int()?);
                    self.ws();
                    if self.eat(b',') {
                        continue;
                    }
                    self.expect(b')')?;
                    break;
                }
                Ok(Lit::Tuple(dims))
            }
            _ => {
                let rest = &self.s[self.i..];
                if rest.starts_with(b"True") {
                    self.i += 4;
                    Ok(Lit::Bool(true))
                } else if rest.starts_with(b"False") {
                    self.i += 5;
                    Ok(Lit::Bool(false))
                } else {
                    Err(format!(
                        "bad header dict: unexpected value at offset {}",
                        self.i
                    ))
                }
            }
        }
    }
    fn int(&mut self) -> std::result::Result<usize, String> {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!(
                "bad header dict: shape entries must be non-negative integers (offset {start})"
            ));
        }
        // Python 2 era NumPy wrote longs as `3L`.
        let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        self.eat(b'L');
        digits
            .parse::<usize>()
            .map_err(|_| format!("bad header dict: dimension {digits} is too large"))
    }
}

/// One .npy file, mapped and validated. See the module docs: the file must not change while
/// this value lives.
pub struct NpyFile {
    path: PathBuf,
    header: Header,
    map: Mmap,
    /// The open file behind `map`, for `pread` copies ([`NpyFile::read_mapped_into`]).
    file: File,
}

/// A typed, zero-copy view of a file's data.
#[derive(Debug, Clone, Copy)]
pub enum Values<'a> {
    F32(&'a [f32]),
    /// Raw IEEE binary16 bits; see [`f16_to_f32`].
    F16(&'a [u16]),
    F64(&'a [f64]),
    U8(&'a [u8]),
    I8(&'a [i8]),
}

impl NpyFile {
    /// Opens, maps and validates `path`. Errors name the file and the fact.
    pub fn open(path: &Path) -> Result<NpyFile> {
        let bad = |msg: String| Error::Npy {
            path: path.to_path_buf(),
            msg,
        };
        if cfg!(target_endian = "big") {
            return Err(bad("big-endian hosts are not supported".into()));
        }
        let file = File::open(path).map_err(|source| Error::ReadInput {
            path: path.to_path_buf(),
            source,
        })?;
        let len = file
            .metadata()
            .map_err(|source| Error::ReadInput {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        if len == 0 {
            return Err(bad("empty file (not .npy)".into()));
        }
        // SAFETY: a read-only shared map. The module contract (documented above and in README)
        // is that data files are not modified while mapped; the map is never written through.
        let map = unsafe { Mmap::map(&file) }.map_err(|source| Error::ReadInput {
            path: path.to_path_buf(),
            source,
        })?;
        let header = check_bytes(&map).map_err(bad)?;
        let addr = map.as_ptr() as usize + header.data_offset;
        if addr % header.dtype.size() != 0 {
            return Err(bad(format!(
                "data at address {addr:#x} is not aligned for {}",
                header.dtype.name()
            )));
        }
        Ok(NpyFile {
            path: path.to_path_buf(),
            header,
            map,
            file,
        })
    }

    /// Reads the file bytes that `src` (a sub-slice of this file's map) shows into `dst` with
    /// `pread`: one kernel copy from the page cache, without faulting the map's pages in.
    /// Errors if `src` is not inside the map or the read comes up short.
    pub fn read_mapped_into(&self, src: &[u8], dst: &mut [u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let base = self.map.as_ptr() as usize;
        let at = (src.as_ptr() as usize).wrapping_sub(base);
        if at > self.map.len() || src.len() > self.map.len() - at || dst.len() != src.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "range outside the mapped file",
            ));
        }
        self.file.read_exact_at(dst, at as u64)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn header(&self) -> &Header {
        &self.header
    }
    pub fn shape(&self) -> &[usize] {
        &self.header.shape
    }
    pub fn dtype(&self) -> DType {
        self.header.dtype
    }

    /// The data bytes (little-endian elements, C order), straight from the map.
    pub fn bytes(&self) -> &[u8] {
        &self.map[self.header.data_offset..]
    }

    /// A typed view of the data (zero copy).
    pub fn values(&self) -> Values<'_> {
        let b = self.bytes();
        let n = b.len() / self.header.dtype.size();
        let p = b.as_ptr();
        // SAFETY: `open` checked that the data is exactly n elements long and that `p` is
        // aligned for the element type; every bit pattern is a valid value of these types;
        // the host is little-endian like the data; the map lives as long as `&self`.
        unsafe {
            match self.header.dtype {
                DType::F32 => Values::F32(std::slice::from_raw_parts(p.cast(), n)),
                DType::F16 => Values::F16(std::slice::from_raw_parts(p.cast(), n)),
                DType::F64 => Values::F64(std::slice::from_raw_parts(p.cast(), n)),
                DType::U8 => Values::U8(b),
                DType::I8 => Values::I8(std::slice::from_raw_parts(p.cast(), n)),
            }
        }
    }

    /// Asks the kernel to start reading `len` data bytes from `offset` into the page cache
    /// (asynchronous readahead; helps when the data is not cached yet). Errors are ignored.
    /// Skipped when the first, middle and last page of the range are cached already: the
    /// advice walks the page cache page by page (about 130 us per 39 MB batch on a 6.18
    /// kernel), which the feed thread cannot spare when the data is cached.
    pub fn prefetch(&self, offset: usize, len: usize) {
        let start = self.header.data_offset.saturating_add(offset);
        let end = start.saturating_add(len).min(self.map.len());
        let a = start / 4096 * 4096;
        if end <= a {
            return;
        }
        let last = (end - 1) / 4096 * 4096;
        let mid = (a + (last - a) / 2) / 4096 * 4096;
        if [a, mid, last].iter().all(|&p| self.page_cached(p)) {
            return;
        }
        let _ = self.map.advise_range(memmap2::Advice::WillNeed, a, end - a);
    }

    /// Whether the page at `at` (page-aligned offset into the map) is in the page cache.
    fn page_cached(&self, at: usize) -> bool {
        extern "C" {
            fn mincore(addr: *mut std::ffi::c_void, length: usize, vec: *mut u8) -> i32;
        }
        if at >= self.map.len() {
            return false;
        }
        let mut v = 0u8;
        // SAFETY: one page-aligned page inside our live mapping, and a one-byte result vector
        // for it; mincore only reads the page tables and the page cache.
        let rc = unsafe { mincore(self.map.as_ptr().add(at) as *mut _, 1, &mut v) };
        rc == 0 && v & 1 == 1
    }

    /// The whole mapped file, header included (page-aligned start), for registering ranges.
    pub fn map_bytes(&self) -> &[u8] {
        &self.map
    }

    /// [`NpyFile::evict`] for a range of the whole map rather than of the data.
    pub fn evict_map_range(&self, range: std::ops::Range<usize>) {
        let d = self.header.data_offset;
        let start = range.start.max(d);
        if range.end > start {
            self.evict(start - d, range.end - start);
        }
    }

    /// Tells the kernel we are done with `len` data bytes from `offset`: their pages leave this
    /// process's resident set (they stay in the page cache). Keeps streaming memory-bounded.
    /// Only whole pages inside the range are dropped; errors are ignored (it is advice).
    pub fn evict(&self, offset: usize, len: usize) {
        let page = 4096;
        let start = self.header.data_offset.saturating_add(offset);
        let end = start.saturating_add(len).min(self.map.len());
        let a = start.div_ceil(page) * page;
        let b = end / page * page;
        if b > a {
            // SAFETY: MADV_DONTNEED on a read-only shared file map only drops page-table
            // entries; later reads fault the same file contents back in. No private copy-on-
            // write pages exist because the map is never written.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, a, b - a)
            };
        }
    }
}

/// IEEE binary16 bits to f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m × 2^-24.
            let v = m as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (31, 0) => sign | 0x7f80_0000,
        (31, m) => sign | 0x7f80_0000 | (m << 13) | 0x0040_0000,
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// f32 to IEEE binary16 bits, rounding to nearest even (overflow to ±inf, NaN kept NaN).
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal half: shift the full mantissa (with the implicit 1) into place.
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let mid = 1 << (shift - 1);
        let round = rem > mid || (rem == mid && half & 1 == 1);
        return sign | (half + round as u32) as u16;
    }
    let half = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    let round = rem > 0x1000 || (rem == 0x1000 && half & 1 == 1);
    // A carry out of the mantissa correctly bumps the exponent (up to inf).
    sign | (half + round as u32) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let prefix = if version == 1 { 10 } else { 12 };
        let mut h = dict.to_string();
        while (prefix + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut v = MAGIC.to_vec();
        v.extend([version, 0]);
        if version == 1 {
            v.extend((h.len() as u16).to_le_bytes());
        } else {
            v.extend((h.len() as u32).to_le_bytes());
        }
        v.extend(h.as_bytes());
        v.extend(data);
        v
    }

    #[test]
    fn parses_all_versions_and_dtypes() {
        for v in [1, 2, 3] {
            for (d, t) in [
                ("<f4", DType::F32),
                ("<f2", DType::F16),
                ("<f8", DType::F64),
                ("|u1", DType::U8),
                ("|i1", DType::I8),
            ] {
                let b = npy(
                    v,
                    &format!("{{'descr': '{d}', 'fortran_order': False, 'shape': (2, 3), }}"),
                    &[],
                );
                let h = parse_header(&b).unwrap();
                assert_eq!(
                    (h.version, h.dtype, h.shape.clone()),
                    ((v, 0), t, vec![2, 3])
                );
                assert_eq!(h.data_len, 6 * t.size());
                assert_eq!(h.data_offset % 64, 0);
            }
        }
    }

    #[test]
    fn refuses_by_name() {
        let cases = [
            ("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "big-endian"),
            ("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "object"),
            ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured"),
            ("{'descr': '|V8', 'fortran_order': False, 'shape': (2,), }", "structured"),
            ("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "Fortran"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "0-d"),
            ("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", "unsupported dtype"),
            ("{'descr': '<f4', 'shape': (2,), }", "lacks 'fortran_order'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 'y'}", "unexpected key"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "non-negative"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ", "bad header dict"),
            ("['descr']", "bad header dict"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }", "overflow"),
        ];
        for (dict, want) in cases {
            let e = parse_header(&npy(1, dict, &[])).unwrap_err();
            assert!(e.contains(want), "{dict}: {e}");
        }
    }

    #[test]
    fn refuses_bad_prefix() {
        assert!(parse_header(b"").unwrap_err().contains("magic"));
        assert!(parse_header(b"\x93NUMPX\x01\x00\x10\x00")
            .unwrap_err()
            .contains("magic"));
        let mut b = npy(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &[],
        );
        b[6] = 4;
        assert!(parse_header(&b).unwrap_err().contains("version 4.0"));
        let b = npy(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            &[],
        );
        assert!(parse_header(&b[..40])
            .unwrap_err()
            .contains("header length field says"));
    }

    #[test]
    fn check_bytes_wants_the_exact_data_length() {
        let dict = "{'descr': '<f2', 'fortran_order': False, 'shape': (5, 1), }";
        let h = check_bytes(&npy(1, dict, &[7; 10])).unwrap();
        assert_eq!((h.shape, h.data_len), (vec![5, 1], 10));
        for n in [0, 9, 11] {
            let e = check_bytes(&npy(1, dict, &vec![7; n])).unwrap_err();
            assert!(e.contains(&format!("{n} bytes follow")), "{n}: {e}");
        }
        assert!(check_bytes(b"\x93NUMPY").unwrap_err().contains("magic"));
    }

    #[test]
    fn never_panics_on_prefixes_and_mutations() {
        let b = npy(
            2,
            "{'descr': '<f2', 'fortran_order': False, 'shape': (5, 1), }",
            &[0; 10],
        );
        for n in 0..b.len() {
            let _ = parse_header(&b[..n]);
        }
        for i in 0..b.len() {
            for x in [0u8, 0xff, b'(', b'\'', b','] {
                let mut m = b.clone();
                m[i] = x;
                let _ = parse_header(&m);
            }
        }
    }

    #[test]
    fn half_round_trip() {
        for h in 0u16..=0xffff {
            let f = f16_to_f32(h);
            if f.is_nan() {
                assert!(f16_to_f32(f32_to_f16(f)).is_nan());
            } else {
                assert_eq!(f32_to_f16(f), h, "{h:#x} -> {f}");
            }
        }
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(65520.0), 0x7c00); // rounds to inf
        assert_eq!(f32_to_f16(1.0 + 1.0 / 2048.0), 0x3c00); // tie to even
        assert_eq!(f32_to_f16(1.0 + 3.0 / 2048.0), 0x3c02);
    }
}

// ---------------------------------------------------------------------------------------------
// Writing (.npy version 1.0), used by `prepare`.

/// The version-1.0 header for a C-order array of `dtype` and `shape`: magic, version, header
/// length, the dict padded with spaces and a newline so the data starts on a 64-byte boundary
/// (what `numpy.save` writes). Errors when the dict does not fit the 1.0 format's u16 length,
/// which needs a shape of thousands of dimensions.
pub fn header_bytes(dtype: DType, shape: &[usize]) -> std::result::Result<Vec<u8>, String> {
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        dtype.descr(),
        shape_str(shape)
    );
    // magic (6) + version (2) + length (2) + dict + padding + '\n'
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let header_len = u16::try_from(total - 10).map_err(|_| {
        format!(
            "shape {} is too long for a .npy 1.0 header",
            shape_str(shape)
        )
    })?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    Ok(out)
}

/// A whole version-1.0 file: header plus `data`, which must hold exactly the shape's element
/// count of `dtype` in little-endian order.
pub fn to_bytes(
    dtype: DType,
    shape: &[usize],
    data: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    let want = shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("shape {} overflows the address space", shape_str(shape)))?;
    if data.len() != want {
        return Err(format!(
            "shape {} {} needs {want} bytes, got {}",
            shape_str(shape),
            dtype.descr(),
            data.len()
        ));
    }
    let mut out = header_bytes(dtype, shape)?;
    out.reserve_exact(data.len());
    out.extend_from_slice(data);
    Ok(out)
}

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn header_round_trips_through_the_reader() {
        for (dtype, shape) in [
            (DType::F32, vec![1, 3, 640, 640]),
            (DType::F16, vec![8, 3, 32, 32]),
            (DType::U8, vec![5]),
            (DType::F64, vec![0, 2]),
        ] {
            let n: usize = shape.iter().product::<usize>() * dtype.size();
            let bytes = to_bytes(dtype, &shape, &vec![0u8; n]).unwrap();
            let h = parse_header(&bytes).unwrap();
            assert_eq!((h.version, h.dtype, &h.shape), ((1, 0), dtype, &shape));
            assert_eq!(h.data_offset % 64, 0);
            assert_eq!(h.data_offset + h.data_len, bytes.len());
            assert_eq!(bytes[h.data_offset - 1], b'\n');
        }
    }

    #[test]
    fn header_text_is_what_numpy_writes() {
        let h = header_bytes(DType::F32, &[1, 3, 2, 2]).unwrap();
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert_eq!(
            text.trim_end(),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 2, 2), }"
        );
        assert_eq!(h.len(), 128);
        assert_eq!(u16::from_le_bytes([h[8], h[9]]) as usize, h.len() - 10);
    }

    #[test]
    fn a_file_just_written_is_seen_in_the_page_cache() {
        let dir = std::env::temp_dir().join(format!("trtq-npy-cached-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.npy");
        std::fs::write(
            &path,
            to_bytes(DType::F32, &[3, 4096], &[7u8; 3 * 4096 * 4]).unwrap(),
        )
        .unwrap();
        let f = NpyFile::open(&path).unwrap();
        // Written through the page cache a moment ago: every page is there (mincore works).
        assert!((0..f.map_bytes().len())
            .step_by(4096)
            .all(|p| f.page_cached(p)));
        assert!(!f.page_cached(f.map_bytes().len() + 4096), "past the end");
        f.prefetch(0, 3 * 4096 * 4); // cached: no advice; must not fail either way
        drop(f);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_wrong_data_length() {
        let e = to_bytes(DType::F32, &[2, 2], &[0; 15]).unwrap_err();
        assert!(e.contains("needs 16 bytes, got 15"), "{e}");
    }
}
