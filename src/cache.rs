//! TensorRT INT8 calibration caches: the text file an `IInt8Calibrator` reads and writes.
//!
//! A cache is a first line followed by one `<tensor name>: <hex>` line per tensor. Three first
//! lines exist in the wild (see `fixtures/caches/SOURCES.md`):
//! - `TRT-<code>-<algorithm>` (TensorRT 5 and later), e.g. `TRT-8601-EntropyCalibration2`;
//! - `0 <regression cutoff> <quantile>`, both f64 bit patterns in hex (the legacy calibrator);
//! - `1` (before TensorRT 5: no version, no algorithm).
//!
//! The hex is the float32 bit pattern of the tensor's scale; the dynamic range TensorRT uses is
//! amax = scale × 127. Tools do not always zero-pad it (a zero scale is often written `0`), so
//! 1–8 digits are read and 8 lowercase digits are written.
//!
//! Invariants:
//! - [`parse`] is a pure function of the bytes: no I/O, no panics on any input.
//! - Entries keep file order; duplicate names are kept (and noted), never merged.
//! - [`Cache::to_bytes`] writes the canonical form: LF endings, a final newline, no blank lines,
//!   8 lowercase hex digits. A file already in that form comes back byte for byte.
//! - Tolerated irregularities (CRLF, missing final newline, blank lines, short or uppercase hex,
//!   an unknown algorithm, duplicates) are recorded in [`Cache::notes`] with a line number.
//!   Everything else is a [`ParseError`] with the line number and what was expected there.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};

/// Which first line the cache has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `TRT-<code>-<algorithm>`.
    Trt,
    /// `0 <regression cutoff hex> <quantile hex>`.
    Legacy,
    /// `1` (pre-TensorRT-5).
    V1,
}

impl Format {
    /// The name used in `--json` output: "trt", "legacy" or "v1".
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Trt => "trt",
            Format::Legacy => "legacy",
            Format::V1 => "v1",
        }
    }
}

/// A TensorRT version as written in a cache header, and as `getInferLibVersion()` returns it.
///
/// Two encodings share one integer: below 10000 the code is major*1000 + minor*100 + patch
/// (8601 = 8.6.1; TensorRT 9 still uses it: 9200 = 9.2.0); from 10000 it is
/// major*10000 + minor*100 + patch (100300 = 10.3.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrtVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// The integer as written; `from_code(c).code() == c` for every `c`.
    pub code: u32,
}

impl TrtVersion {
    /// Decode a version code (both encodings; see the type's documentation).
    pub fn from_code(code: u32) -> TrtVersion {
        if code < 10_000 {
            TrtVersion {
                major: code / 1000,
                minor: (code % 1000) / 100,
                patch: code % 100,
                code,
            }
        } else {
            TrtVersion {
                major: code / 10_000,
                minor: (code % 10_000) / 100,
                patch: code % 100,
                code,
            }
        }
    }

    /// The code TensorRT `major.minor.patch` writes, or `None` if that version cannot be
    /// encoded (TensorRT below 10 has one digit for the minor; every version has two for the
    /// patch; major 0 does not exist).
    pub fn new(major: u32, minor: u32, patch: u32) -> Option<TrtVersion> {
        let code = if major == 0 || patch > 99 {
            return None;
        } else if major < 10 {
            if minor > 9 {
                return None;
            }
            major * 1000 + minor * 100 + patch
        } else {
            if minor > 99 {
                return None;
            }
            major
                .checked_mul(10_000)?
                .checked_add(minor * 100 + patch)?
        };
        Some(TrtVersion {
            major,
            minor,
            patch,
            code,
        })
    }

    pub fn code(&self) -> u32 {
        self.code
    }

    /// True when TensorRT could have written this code: major >= 1, and 5-digit codes (which
    /// decode to majors 1-9 in the 6-digit encoding, where TensorRT below 10 used 4 digits)
    /// do not occur.
    pub fn is_plausible(&self) -> bool {
        (1000..10_000).contains(&self.code) || self.major >= 10
    }
}

impl fmt::Display for TrtVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The calibration algorithm named in a `TRT-` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Algorithm {
    EntropyCalibration2,
    EntropyCalibration,
    MinMaxCalibration,
    LegacyCalibration,
    /// A name this tool does not know, kept verbatim.
    Unknown(String),
}

impl Algorithm {
    /// The name as it appears after `TRT-<code>-`.
    pub fn header_name(&self) -> &str {
        match self {
            Algorithm::EntropyCalibration2 => "EntropyCalibration2",
            Algorithm::EntropyCalibration => "EntropyCalibration",
            Algorithm::MinMaxCalibration => "MinMaxCalibration",
            Algorithm::LegacyCalibration => "LegacyCalibration",
            Algorithm::Unknown(s) => s,
        }
    }

    pub fn from_header_name(name: &str) -> Algorithm {
        match name {
            "EntropyCalibration2" => Algorithm::EntropyCalibration2,
            "EntropyCalibration" => Algorithm::EntropyCalibration,
            "MinMaxCalibration" => Algorithm::MinMaxCalibration,
            "LegacyCalibration" => Algorithm::LegacyCalibration,
            other => Algorithm::Unknown(other.to_string()),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header_name())
    }
}

/// The legacy calibrator's first line: two f64 values stored as bit patterns in hex.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Legacy {
    pub regression_cutoff: f64,
    pub quantile: f64,
}

/// One `<tensor name>: <hex>` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    /// `f32::from_bits(hex_bits)`.
    pub scale: f32,
    /// The bit pattern as written; authoritative when writing (keeps NaN payloads).
    pub hex_bits: u32,
    /// 1-based line in the file it was read from; 0 for an entry made in memory.
    pub line: usize,
}

impl Entry {
    /// An entry made in memory (e.g. from a calibration run).
    pub fn new(name: impl Into<String>, scale: f32) -> Entry {
        Entry {
            name: name.into(),
            scale,
            hex_bits: scale.to_bits(),
            line: 0,
        }
    }

    /// The dynamic range TensorRT uses, scale × 127, in f32 (what `setDynamicRange` takes).
    pub fn amax(&self) -> f32 {
        self.scale * 127.0
    }

    /// scale × 127 exactly (an f32 times 127 always fits an f64), for display and comparison.
    pub fn amax_f64(&self) -> f64 {
        f64::from(self.scale) * 127.0
    }
}

/// Something unusual about one entry's scale. Real caches contain all of these: they are
/// reported, never a reason to refuse a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// The scale is +0 or -0: TensorRT will quantize the tensor to all zeros.
    Zero,
    /// The sign bit is set (a scale is a magnitude; no calibrator writes one).
    Negative,
    Nan,
    /// ±infinity (seen on attention-mask tensors).
    Inf,
    /// A subnormal float32 (what a short hex such as `3c01` decodes to).
    Subnormal,
    /// |amax| above [`HUGE_AMAX`].
    Huge,
    /// The first tensor (a network input, as TensorRT writes inputs first) has an amax near
    /// 255: the calibration data was probably fed as 0-255 instead of 0-1.
    Unnormalised,
}

/// Above this |amax| an entry is flagged [`Flag::Huge`].
pub const HUGE_AMAX: f64 = 1e4;

/// The first entry is flagged [`Flag::Unnormalised`] when its amax is in this range ("near
/// 255": an entropy calibrator clips the largest values, so somewhat below 255 counts too).
pub const UNNORMALISED_AMAX: std::ops::RangeInclusive<f64> = 191.25..=280.5;

impl Flag {
    /// The name used in output and `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Zero => "zero",
            Flag::Negative => "negative",
            Flag::Nan => "nan",
            Flag::Inf => "inf",
            Flag::Subnormal => "subnormal",
            Flag::Huge => "huge",
            Flag::Unnormalised => "unnormalised",
        }
    }

    pub const ALL: [Flag; 7] = [
        Flag::Zero,
        Flag::Negative,
        Flag::Nan,
        Flag::Inf,
        Flag::Subnormal,
        Flag::Huge,
        Flag::Unnormalised,
    ];
}

impl Entry {
    /// The flags that depend on this entry alone (everything except
    /// [`Flag::Unnormalised`], which depends on its position: see [`Cache::flags`]).
    pub fn flags(&self) -> Vec<Flag> {
        let s = self.scale;
        let mut f = Vec::new();
        if s == 0.0 {
            f.push(Flag::Zero);
        }
        if s.is_sign_negative() && !s.is_nan() {
            f.push(Flag::Negative);
        }
        if s.is_nan() {
            f.push(Flag::Nan);
        }
        if s.is_infinite() {
            f.push(Flag::Inf);
        }
        if s.is_subnormal() {
            f.push(Flag::Subnormal);
        }
        let amax = self.amax_f64();
        if amax.is_finite() && amax.abs() > HUGE_AMAX {
            f.push(Flag::Huge);
        }
        f
    }
}

/// A tolerated irregularity found while parsing, with the (first) line it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub line: usize,
    pub msg: String,
}

/// Why a text was refused: the 1-based line and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

impl std::error::Error for ParseError {}

/// A decoded calibration cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Cache {
    pub format: Format,
    /// `Some` exactly when `format` is [`Format::Trt`].
    pub version: Option<TrtVersion>,
    /// `Some` exactly when `format` is [`Format::Trt`].
    pub algorithm: Option<Algorithm>,
    /// `Some` exactly when `format` is [`Format::Legacy`].
    pub legacy: Option<Legacy>,
    /// In file order, duplicates included.
    pub entries: Vec<Entry>,
    /// Tolerated irregularities, in line order. Empty for a canonical file.
    pub notes: Vec<Note>,
}

/// [`Cache::read`] refuses larger files: a cache has one short line per tensor, so even a
/// network with a million tensors stays far below this.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

const HEADER_HELP: &str = "a header line `TRT-<version code>-<algorithm>` \
    (e.g. `TRT-8601-EntropyCalibration2`), `0 <hex> <hex>` (legacy calibrator) or `1` (before TensorRT 5)";

/// Decode a calibration cache from its bytes. See the module documentation for what is
/// tolerated and what is refused.
pub fn parse(bytes: &[u8]) -> std::result::Result<Cache, ParseError> {
    Parser::default().run(bytes)
}

impl Cache {
    /// A `TRT-` cache made in memory.
    pub fn new_trt(version: TrtVersion, algorithm: Algorithm, entries: Vec<Entry>) -> Cache {
        Cache {
            format: Format::Trt,
            version: Some(version),
            algorithm: Some(algorithm),
            legacy: None,
            entries,
            notes: Vec::new(),
        }
    }

    /// Same as the free function [`parse`].
    pub fn parse(bytes: &[u8]) -> std::result::Result<Cache, ParseError> {
        parse(bytes)
    }

    /// Read and decode a cache file. A refused file is [`Error::CacheFormat`] naming the file
    /// and line; an unreadable one is [`Error::ReadInput`].
    pub fn read(path: &Path) -> Result<Cache> {
        let read_err = |source| Error::ReadInput {
            path: path.to_path_buf(),
            source,
        };
        // Real caches are kilobytes; refuse before reading an engine or a data set whole.
        let len = std::fs::metadata(path).map_err(read_err)?.len();
        if len > MAX_FILE_BYTES {
            return Err(Error::BadInput(format!(
                "{}: {len} bytes is too large for a calibration cache (at most {MAX_FILE_BYTES}); \
                 is it an engine, a model or a data file?",
                path.display()
            )));
        }
        let bytes = std::fs::read(path).map_err(read_err)?;
        parse(&bytes).map_err(|e| Error::CacheFormat {
            path: path.to_path_buf(),
            line: e.line,
            msg: e.msg,
        })
    }

    /// The first line, without its newline.
    pub fn header_line(&self) -> String {
        match self.format {
            Format::Trt => format!(
                "TRT-{}-{}",
                self.version.map_or(0, |v| v.code),
                self.algorithm.as_ref().map_or("", |a| a.header_name())
            ),
            Format::Legacy => {
                let l = self.legacy.unwrap_or(Legacy {
                    regression_cutoff: 0.0,
                    quantile: 0.0,
                });
                format!(
                    "0 {:016x} {:016x}",
                    l.regression_cutoff.to_bits(),
                    l.quantile.to_bits()
                )
            }
            Format::V1 => "1".to_string(),
        }
    }

    /// The canonical text: LF line endings, a final newline, 8 lowercase hex digits.
    pub fn to_bytes(&self) -> Vec<u8> {
        use std::fmt::Write;
        let mut s = String::with_capacity(32 + self.entries.len() * 48);
        s.push_str(&self.header_line());
        s.push('\n');
        for e in &self.entries {
            // Writing to a String cannot fail.
            let _ = writeln!(s, "{}: {:08x}", e.name, e.hex_bits);
        }
        s.into_bytes()
    }

    /// The first entry with this name.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Names that occur more than once, in order of first occurrence, each with the indices
    /// (into `entries`) of all its occurrences.
    pub fn duplicates(&self) -> Vec<(&str, Vec<usize>)> {
        let mut first: HashMap<&str, usize, FastHash> =
            HashMap::with_capacity_and_hasher(self.entries.len(), FastHash::default());
        let mut dups: Vec<(&str, Vec<usize>)> = Vec::new();
        let mut dup_slot: HashMap<&str, usize, FastHash> = HashMap::default();
        for (i, e) in self.entries.iter().enumerate() {
            match first.get(e.name.as_str()) {
                None => {
                    first.insert(&e.name, i);
                }
                Some(&f) => match dup_slot.get(e.name.as_str()) {
                    Some(&slot) => dups[slot].1.push(i),
                    None => {
                        dup_slot.insert(&e.name, dups.len());
                        dups.push((&e.name, vec![f, i]));
                    }
                },
            }
        }
        dups
    }

    /// The flags of entry `index`, including [`Flag::Unnormalised`] for the first entry.
    pub fn flags(&self, index: usize) -> Vec<Flag> {
        let Some(e) = self.entries.get(index) else {
            return Vec::new();
        };
        let mut f = e.flags();
        if index == 0 && UNNORMALISED_AMAX.contains(&e.amax_f64()) {
            f.push(Flag::Unnormalised);
        }
        f
    }

    /// How this cache fits a build about to use it: TensorRT `version` calibrating with
    /// `algorithm` over a network whose tensors are `network_tensors`. TensorRT skips a cache
    /// whose header is not its own (and then calibrates again, or in trtexec with null inputs),
    /// so any difference in version code or algorithm is reported.
    pub fn fit(&self, version: TrtVersion, algorithm: &Algorithm, network_tensors: &[&str]) -> Fit {
        let mut header = Vec::new();
        match (self.format, self.version, &self.algorithm) {
            (Format::Trt, Some(v), Some(a)) => {
                if v.code != version.code {
                    header.push(format!(
                        "written by TensorRT {v} (`TRT-{}-…`), the loaded TensorRT is {version} ({})",
                        v.code, version.code
                    ));
                }
                if a != algorithm {
                    header.push(format!(
                        "written by the {a} calibrator, this build uses {algorithm}"
                    ));
                }
            }
            _ => header.push(format!(
                "no `TRT-<version>-<algorithm>` header (the {} format `{}`)",
                self.format.as_str(),
                self.header_line()
            )),
        }
        let in_cache: std::collections::HashSet<&str> =
            self.entries.iter().map(|e| e.name.as_str()).collect();
        let in_net: std::collections::HashSet<&str> = network_tensors.iter().copied().collect();
        let mut seen = std::collections::HashSet::new();
        Fit {
            header: if header.is_empty() {
                None
            } else {
                Some(header.join("; "))
            },
            missing: network_tensors
                .iter()
                .filter(|n| !in_cache.contains(*n) && seen.insert(**n))
                .map(|n| n.to_string())
                .collect(),
            extra: self
                .entries
                .iter()
                .map(|e| e.name.as_str())
                .filter(|n| !in_net.contains(n))
                .map(str::to_string)
                .collect(),
        }
    }

    /// A copy with another TensorRT version in its header (scales unchanged). Only a `TRT-`
    /// cache has a version to change; the error says why otherwise.
    pub fn retarget(&self, version: TrtVersion) -> std::result::Result<Cache, String> {
        if self.format != Format::Trt {
            return Err(format!(
                "this cache has no TensorRT version header (its first line is the {} format `{}`), \
                 so there is no version to retarget",
                self.format.as_str(),
                self.header_line()
            ));
        }
        let mut c = self.clone();
        c.version = Some(version);
        c.notes.clear();
        Ok(c)
    }
}

/// A multiply-rotate hash (the FxHash scheme) for the duplicate check: SipHash's resistance
/// to chosen keys is not needed for names in one file, and it was a fifth of the parse time.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastHash = std::hash::BuildHasherDefault<FxHasher>;

/// The result of [`Cache::fit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    /// `None` when the header names exactly this TensorRT version and algorithm; otherwise
    /// why TensorRT would not take the cache as its own.
    pub header: Option<String>,
    /// Network tensors with no entry, in the order given.
    pub missing: Vec<String>,
    /// Entries naming no network tensor, in file order (TensorRT also writes entries for
    /// tensors it creates itself, such as `ONNXTRT_Broadcast_output`).
    pub extra: Vec<String>,
}

/// One physical line: its 1-based number and bytes without `\n` and without a trailing `\r`.
struct Line<'a> {
    no: usize,
    text: &'a [u8],
}

#[derive(Default)]
struct Parser {
    notes: Vec<Note>,
    crlf_first: Option<usize>,
    blank_first: Option<usize>,
    blank_count: usize,
    short_first: Option<usize>,
    short_count: usize,
    upper_first: Option<usize>,
    upper_count: usize,
}

impl Parser {
    fn run(mut self, bytes: &[u8]) -> std::result::Result<Cache, ParseError> {
        if bytes.is_empty() {
            return Err(ParseError {
                line: 1,
                msg: format!("empty file: expected {HEADER_HELP}"),
            });
        }
        let ends_with_newline = bytes.last() == Some(&b'\n');
        let mut lines = Lines {
            rest: bytes,
            no: 0,
            crlf_first: None,
        };

        // The header is the first non-blank line.
        let header = loop {
            match lines.next() {
                None => {
                    return Err(ParseError {
                        line: lines.no.max(1),
                        msg: format!("only blank lines: expected {HEADER_HELP}"),
                    })
                }
                Some(l) if is_blank(l.text) => self.blank(l.no),
                Some(l) => break l,
            }
        };
        let mut cache = parse_header(&header, bytes)?;
        if let Some(Algorithm::Unknown(name)) = &cache.algorithm {
            self.notes.push(Note {
                line: header.no,
                msg: format!("unknown calibration algorithm `{name}` (kept as written)"),
            });
        }
        if let Some(v) = cache.version {
            if !v.is_plausible() {
                self.notes.push(Note {
                    line: header.no,
                    msg: format!(
                        "version code {} decodes to {v}, which no TensorRT release writes",
                        v.code
                    ),
                });
            }
        }

        let mut last_hex_len = 8;
        let mut entries = Vec::with_capacity(bytes.len() / 40);
        for l in lines.by_ref() {
            if is_blank(l.text) {
                self.blank(l.no);
                continue;
            }
            let (entry, hex_len) = self.parse_entry(&l)?;
            last_hex_len = hex_len;
            entries.push(entry);
        }
        self.crlf_first = lines.crlf_first;

        if !ends_with_newline {
            let last = lines.no;
            self.notes.push(Note {
                line: last,
                msg: "no newline at the end of the file (written back with one)".into(),
            });
            if last_hex_len < 8 && !entries.is_empty() {
                self.notes.push(Note {
                    line: last,
                    msg: format!(
                        "the last line has only {last_hex_len} hex digit(s) and no newline: \
                         the file may be truncated"
                    ),
                });
            }
        }
        if let Some(l) = self.crlf_first {
            self.notes.push(Note {
                line: l,
                msg: "CRLF line endings (written back as LF)".into(),
            });
        }
        if let Some(l) = self.blank_first {
            self.notes.push(Note {
                line: l,
                msg: format!("{} blank line(s) ignored", self.blank_count),
            });
        }
        if let Some(l) = self.short_first {
            self.notes.push(Note {
                line: l,
                msg: format!(
                    "{} entr{} with fewer than 8 hex digits (written back zero-padded)",
                    self.short_count,
                    if self.short_count == 1 { "y" } else { "ies" }
                ),
            });
        }
        if let Some(l) = self.upper_first {
            self.notes.push(Note {
                line: l,
                msg: format!(
                    "{} entr{} with uppercase hex digits (written back in lowercase)",
                    self.upper_count,
                    if self.upper_count == 1 { "y" } else { "ies" }
                ),
            });
        }
        cache.entries = entries;
        for (name, idx) in cache.duplicates() {
            let lines: Vec<String> = idx
                .iter()
                .map(|&i| cache.entries[i].line.to_string())
                .collect();
            self.notes.push(Note {
                line: cache.entries[idx[0]].line,
                msg: format!(
                    "tensor `{name}` appears {} times (lines {}); all kept in file order",
                    idx.len(),
                    lines.join(", ")
                ),
            });
        }
        self.notes.sort_by_key(|n| n.line);
        cache.notes = self.notes;
        Ok(cache)
    }

    fn blank(&mut self, line: usize) {
        self.blank_first.get_or_insert(line);
        self.blank_count += 1;
    }

    fn parse_entry(&mut self, l: &Line<'_>) -> std::result::Result<(Entry, usize), ParseError> {
        let err = |msg: String| ParseError { line: l.no, msg };
        let text = l.text;
        let Some(sep) = rfind(text, b": ") else {
            if text.starts_with(b"TRT-") {
                return Err(err(format!(
                    "a second header line `{}`: two caches concatenated? expected `<tensor name>: <hex>`",
                    show(text)
                )));
            }
            if text.last() == Some(&b':') {
                return Err(err(format!(
                    "missing hex value after `{}` (truncated line?); expected `<tensor name>: <hex>`",
                    show(text)
                )));
            }
            if looks_like_name_value(text) {
                return Err(err(format!(
                    "expected `<tensor name>: <hex>`, found `{}`: a `name value` line with a decimal \
                     number, as in an ONNX Runtime calibration table",
                    show(text)
                )));
            }
            return Err(err(format!(
                "expected `<tensor name>: <hex>` (no `: ` separator found), found `{}`",
                show(text)
            )));
        };
        let name = &text[..sep];
        let hex = &text[sep + 2..];
        if hex.is_empty() {
            return Err(err(format!(
                "missing hex value after `{}` (truncated line?); expected `<tensor name>: <hex>`",
                show(text)
            )));
        }
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            let what = if is_decimal(hex) {
                " (a decimal number; a TensorRT cache holds the float32 bit pattern in hex)"
            } else {
                ""
            };
            return Err(err(format!(
                "expected 1-8 hex digits after the last `: `, found `{}`{what}",
                show(hex)
            )));
        }
        if hex.len() > 8 {
            return Err(err(format!(
                "expected 1-8 hex digits after the last `: `, found {} digits `{}`",
                hex.len(),
                show(hex)
            )));
        }
        let mut bits: u32 = 0;
        let mut upper = false;
        for &c in hex {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                _ => {
                    upper = true;
                    c.to_ascii_lowercase() - b'a' + 10
                }
            };
            bits = (bits << 4) | u32::from(d);
        }
        if name.is_empty() {
            return Err(err(
                "empty tensor name: expected `<tensor name>: <hex>`".to_string()
            ));
        }
        let name = match std::str::from_utf8(name) {
            Ok(s) => s,
            Err(_) => {
                return Err(err(format!(
                    "the tensor name is not valid UTF-8 (binary data?): `{}`",
                    show(name)
                )))
            }
        };
        let control = if name.is_ascii() {
            // Fast path for the usual all-ASCII name; same test as `char::is_control`.
            name.bytes()
                .find(|&b| b < 0x20 || b == 0x7f)
                .map(char::from)
        } else {
            name.chars().find(|c| c.is_control())
        };
        if let Some(c) = control {
            return Err(err(format!(
                "the tensor name contains the control character {:?}: `{}`",
                c,
                show(name.as_bytes())
            )));
        }
        if hex.len() < 8 {
            self.short_first.get_or_insert(l.no);
            self.short_count += 1;
        }
        if upper {
            self.upper_first.get_or_insert(l.no);
            self.upper_count += 1;
        }
        Ok((
            Entry {
                name: name.to_string(),
                scale: f32::from_bits(bits),
                hex_bits: bits,
                line: l.no,
            },
            hex.len(),
        ))
    }
}

struct Lines<'a> {
    rest: &'a [u8],
    no: usize,
    crlf_first: Option<usize>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;
    fn next(&mut self) -> Option<Line<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        self.no += 1;
        let (mut text, rest) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        if let Some(t) = text.strip_suffix(b"\r") {
            text = t;
            self.crlf_first.get_or_insert(self.no);
        }
        Some(Line { no: self.no, text })
    }
}

fn is_blank(text: &[u8]) -> bool {
    text.iter().all(|&b| b == b' ' || b == b'\t')
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// At most 80 characters of a line, with control characters escaped and bytes that are not
/// UTF-8 shown as `\xNN`.
fn show(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut n = 0;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if n == 80 {
                out.push('…');
                return out;
            }
            n += 1;
            if c.is_control() {
                out.extend(c.escape_debug());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            if n == 80 {
                out.push('…');
                return out;
            }
            n += 1;
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn is_decimal(s: &[u8]) -> bool {
    std::str::from_utf8(s).is_ok_and(|s| {
        s.bytes().any(|b| b.is_ascii_digit() || b == b'.')
            && s.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
            && s.parse::<f64>().is_ok()
    })
}

/// `name value` with a decimal value: the shape of ONNX Runtime's calibration table.
fn looks_like_name_value(text: &[u8]) -> bool {
    match rfind(text, b" ") {
        Some(i) if i > 0 => is_decimal(&text[i + 1..]),
        _ => false,
    }
}

fn parse_hex_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let s = std::str::from_utf8(s).ok()?;
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

fn parse_header(l: &Line<'_>, whole: &[u8]) -> std::result::Result<Cache, ParseError> {
    let err = |msg: String| ParseError { line: l.no, msg };
    let text = l.text;
    if text.starts_with(b"\xEF\xBB\xBF") {
        // Refused rather than skipped: TensorRT compares the header text and would not
        // recognise this one either; the message says how to fix it.
        return Err(err(
            "the file starts with a UTF-8 byte-order mark (bytes EF BB BF, added by some \
             editors), which TensorRT does not expect before the header; save the file \
             without it"
                .into(),
        ));
    }
    if let Some(rest) = text.strip_prefix(b"TRT-") {
        let bad = || {
            err(format!(
                "expected a header `TRT-<version code>-<algorithm>` such as \
                 `TRT-8601-EntropyCalibration2` or `TRT-100300-EntropyCalibration2`, found `{}`",
                show(text)
            ))
        };
        let dash = rest.iter().position(|&b| b == b'-').ok_or_else(bad)?;
        let (digits, alg) = (&rest[..dash], &rest[dash + 1..]);
        if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        if digits.len() > 1 && digits[0] == b'0' {
            return Err(err(format!(
                "the version code in `{}` has a leading zero; TensorRT writes none",
                show(text)
            )));
        }
        let mut code: u32 = 0;
        for &d in digits {
            code = code * 10 + u32::from(d - b'0');
        }
        let version = TrtVersion::from_code(code);
        if version.major == 0 {
            return Err(err(format!(
                "version code {code} in `{}` decodes to TensorRT {version}, which does not exist",
                show(text)
            )));
        }
        if alg.is_empty() {
            return Err(err(format!(
                "expected a calibration algorithm name such as EntropyCalibration2 after \
                 `TRT-{code}-`, found nothing"
            )));
        }
        if !alg.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(err(format!(
                "expected a calibration algorithm name (letters, digits, `_`) such as \
                 EntropyCalibration2 after `TRT-{code}-`, found `{}`",
                show(alg)
            )));
        }
        // Checked to be ASCII above.
        let alg = String::from_utf8_lossy(alg);
        return Ok(Cache::new_trt(
            version,
            Algorithm::from_header_name(&alg),
            Vec::new(),
        ));
    }
    if text == b"1" {
        return Ok(Cache {
            format: Format::V1,
            version: None,
            algorithm: None,
            legacy: None,
            entries: Vec::new(),
            notes: Vec::new(),
        });
    }
    if let Some(rest) = text.strip_prefix(b"0 ") {
        let parts: Vec<&[u8]> = rest.split(|&b| b == b' ').collect();
        if let [a, b] = parts[..] {
            if let (Some(a), Some(b)) = (parse_hex_u64(a), parse_hex_u64(b)) {
                return Ok(Cache {
                    format: Format::Legacy,
                    version: None,
                    algorithm: None,
                    legacy: Some(Legacy {
                        regression_cutoff: f64::from_bits(a),
                        quantile: f64::from_bits(b),
                    }),
                    entries: Vec::new(),
                    notes: Vec::new(),
                });
            }
        }
        return Err(err(format!(
            "expected the legacy header `0 <regression cutoff: 1-16 hex digits> <quantile: 1-16 hex digits>`, \
             found `{}`",
            show(text)
        )));
    }
    Err(err(not_a_cache(text, whole)))
}

/// Say what a first line that is no header looks like.
fn not_a_cache(first: &[u8], whole: &[u8]) -> String {
    let head = &whole[..whole.len().min(4096)];
    let binary = std::str::from_utf8(first).is_err()
        || head
            .iter()
            .any(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t')));
    if binary {
        return "not a TensorRT calibration cache: this is binary data, not text (an engine, \
                a model or a compressed file?)"
            .into();
    }
    let trimmed = String::from_utf8_lossy(first);
    let t = trimmed.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        return format!(
            "not a TensorRT calibration cache: this looks like JSON (`{}`); expected {HEADER_HELP}",
            show(first)
        );
    }
    if let Some(sep) = rfind(first, b": ") {
        let hex = &first[sep + 2..];
        if !hex.is_empty() && hex.len() <= 8 && hex.iter().all(u8::is_ascii_hexdigit) {
            return format!(
                "missing header: the first line `{}` is a `<tensor name>: <hex>` entry; expected {HEADER_HELP} before it",
                show(first)
            );
        }
    }
    if looks_like_name_value(first) {
        return format!(
            "not a TensorRT calibration cache: `{}` is a `name value` line with a decimal number, \
             as in an ONNX Runtime calibration table (TensorRT caches start with \
             `TRT-<version code>-<algorithm>` and hold hex float32 bit patterns)",
            show(first)
        );
    }
    format!("expected {HEADER_HELP}, found `{}`", show(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_codes_both_encodings() {
        for (code, m, n, p) in [
            (7103, 7, 1, 3),
            (8601, 8, 6, 1),
            (9200, 9, 2, 0),
            (100300, 10, 3, 0),
            (101401, 10, 14, 1),
            (5105, 5, 1, 5),
        ] {
            let v = TrtVersion::from_code(code);
            assert_eq!((v.major, v.minor, v.patch, v.code()), (m, n, p, code));
            assert_eq!(TrtVersion::new(m, n, p), Some(v));
            assert!(v.is_plausible());
        }
        assert_eq!(TrtVersion::new(8, 10, 0), None);
        assert_eq!(TrtVersion::new(0, 1, 0), None);
        assert!(!TrtVersion::from_code(10300).is_plausible());
        assert_eq!(TrtVersion::from_code(101401).to_string(), "10.14.1");
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in [
            Algorithm::EntropyCalibration2,
            Algorithm::EntropyCalibration,
            Algorithm::MinMaxCalibration,
            Algorithm::LegacyCalibration,
            Algorithm::Unknown("Percentile99".into()),
        ] {
            assert_eq!(Algorithm::from_header_name(a.header_name()), a);
        }
    }

    #[test]
    fn last_separator_wins() {
        let c = parse(b"TRT-8601-EntropyCalibration2\na : b: c: 3c010a14\n").unwrap();
        assert_eq!(c.entries[0].name, "a : b: c");
        assert_eq!(c.entries[0].hex_bits, 0x3c010a14);
    }

    #[test]
    fn never_panics_on_prefixes_of_a_valid_file() {
        let good = b"TRT-8601-EntropyCalibration2\r\nx: 3c010a14\r\n\r\ny : z: 0\n";
        for n in 0..=good.len() {
            let _ = parse(&good[..n]);
        }
    }
}
