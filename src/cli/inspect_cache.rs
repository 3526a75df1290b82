//! `trtq-lite inspect-cache`: decode, check, compare and retarget TensorRT calibration caches.
//! All decoding lives in [`crate::cache`]; this file only renders it (text or `--json`) and
//! writes the `--retarget` copy through [`crate::outfile::write_atomic`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use argh::FromArgs;

use crate::cache::{Cache, Flag, Format, TrtVersion};
use crate::error::{Error, Result};
use crate::json::Value;

/// decode, check, compare or retarget a TensorRT INT8 calibration cache
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "inspect-cache",
    example = "{command_name} calib.cache",
    example = "{command_name} calib.cache --sort amax",
    example = "{command_name} old.cache --against new.cache",
    example = "{command_name} trt8.cache --retarget 100300 -o trt10.cache"
)]
pub struct Args {
    /// the calibration cache file
    #[argh(positional)]
    pub file: PathBuf,

    /// table order: `name`, or `amax` (largest first); default: file order
    #[argh(option)]
    pub sort: Option<SortKey>,

    /// print one JSON document instead of text
    #[argh(switch)]
    pub json: bool,

    /// compare amax tensor by tensor with this second cache: change from FILE (a) to this
    /// one (b), (b - a) / |a|
    #[argh(option)]
    pub against: Option<PathBuf>,

    /// write a copy whose header names this TensorRT version: a code (100300, 8601) or
    /// major.minor.patch (10.3.0); needs -o
    #[argh(option)]
    pub retarget: Option<String>,

    /// output file for --retarget (written atomically: temp file, then rename)
    #[argh(option, short = 'o')]
    pub output: Option<PathBuf>,

    /// let --retarget overwrite the input file
    #[argh(switch)]
    pub force: bool,
}

/// `--sort` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Amax,
}

impl FromStr for SortKey {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "name" => Ok(SortKey::Name),
            "amax" => Ok(SortKey::Amax),
            other => Err(format!("expected `name` or `amax`, found `{other}`")),
        }
    }
}

pub fn run(args: Args) -> Result<()> {
    check_usage(&args)?;
    if let Some(target) = &args.retarget {
        // check_usage made sure -o is there.
        let out = args.output.as_deref().unwrap_or(Path::new(""));
        return retarget(&args.file, target, out, args.force);
    }
    let a = Cache::read(&args.file)?;
    if let Some(other) = &args.against {
        let b = Cache::read(other)?;
        let cmp = Comparison::new(&a, &b);
        if args.json {
            for w in &cmp.warnings {
                eprintln!("warning: {w}");
            }
            super::write_stdout(&cmp.json(&args.file, other).pretty())?;
        } else {
            super::write_stdout(&cmp.text(&args.file, other, &a, &b))?;
        }
        return Ok(());
    }
    let report = Report::new(&a, args.sort);
    if args.json {
        report.write_json(&args.file, super::write_stdout)?;
    } else {
        super::write_stdout(&report.text(&args.file))?;
    }
    Ok(())
}

fn check_usage(args: &Args) -> Result<()> {
    let usage = |m: &str| Err(Error::Usage(format!("inspect-cache: {m}")));
    if args.retarget.is_some() {
        if args.output.is_none() {
            return usage("--retarget needs -o OUT (the file to write)");
        }
        if args.against.is_some() || args.sort.is_some() || args.json {
            return usage("--retarget cannot be combined with --against, --sort or --json");
        }
    } else {
        if args.output.is_some() {
            return usage("-o is only used with --retarget");
        }
        if args.force {
            return usage("--force is only used with --retarget");
        }
    }
    if args.against.is_some() && args.sort.is_some() {
        return usage("--sort does not apply to --against (changes are sorted by |change|)");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// One cache

struct Row<'a> {
    line: usize,
    name: &'a str,
    scale: f32,
    amax: f64,
    hex: u32,
    flags: Vec<Flag>,
}

struct Report<'a> {
    cache: &'a Cache,
    rows: Vec<Row<'a>>,
    warnings: Vec<String>,
}

impl<'a> Report<'a> {
    fn new(cache: &'a Cache, sort: Option<SortKey>) -> Report<'a> {
        let mut rows: Vec<Row<'a>> = cache
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| Row {
                line: e.line,
                name: &e.name,
                scale: e.scale,
                amax: e.amax_f64(),
                hex: e.hex_bits,
                flags: cache.flags(i),
            })
            .collect();
        let mut warnings: Vec<String> = cache
            .notes
            .iter()
            .map(|n| format!("line {}: {}", n.line, n.msg))
            .collect();
        if cache.entries.is_empty() {
            warnings.push("the cache has no entries".into());
        }
        if let Some(r) = rows
            .first()
            .filter(|r| r.flags.contains(&Flag::Unnormalised))
        {
            warnings.push(format!(
                "the first tensor `{}` (a network input) has amax {}: the calibration data looks \
                 un-normalised (0-255 instead of 0-1); check the preprocessing",
                r.name,
                fmt_g(r.amax)
            ));
        }
        match sort {
            None => {}
            Some(SortKey::Name) => rows.sort_by(|x, y| x.name.cmp(y.name)),
            // Largest first; NaN after everything.
            Some(SortKey::Amax) => rows.sort_by(|x, y| {
                x.amax
                    .is_nan()
                    .cmp(&y.amax.is_nan())
                    .then(y.amax.total_cmp(&x.amax))
            }),
        }
        Report {
            cache,
            rows,
            warnings,
        }
    }

    fn flag_counts(&self) -> Vec<(Flag, usize)> {
        Flag::ALL
            .iter()
            .map(|&f| (f, self.rows.iter().filter(|r| r.flags.contains(&f)).count()))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    fn text(&self, file: &Path) -> String {
        let c = self.cache;
        let mut s = String::new();
        let _ = writeln!(s, "file:       {}", file.display());
        match c.format {
            Format::Trt => {
                let _ = writeln!(s, "header:     {}", c.header_line());
                if let Some(v) = c.version {
                    let _ = writeln!(s, "TensorRT:   {v} (code {})", v.code);
                }
                if let Some(a) = &c.algorithm {
                    let _ = writeln!(s, "algorithm:  {a}");
                }
            }
            Format::Legacy => {
                if let Some(l) = c.legacy {
                    let _ = writeln!(
                        s,
                        "format:     legacy calibrator (regression cutoff {}, quantile {}); no TensorRT version",
                        l.regression_cutoff, l.quantile
                    );
                }
            }
            Format::V1 => {
                let _ = writeln!(
                    s,
                    "format:     before TensorRT 5 (first line `1`); no TensorRT version or algorithm"
                );
            }
        }
        let _ = writeln!(s, "entries:    {}", c.entries.len());
        let finite: Vec<f64> = self
            .rows
            .iter()
            .map(|r| r.amax)
            .filter(|x| x.is_finite())
            .collect();
        if let Some((min, med, max)) = min_median_max(finite.clone()) {
            let _ = write!(
                s,
                "amax:       min {}  median {}  max {}",
                fmt_g(min),
                fmt_g(med),
                fmt_g(max)
            );
            if finite.len() < self.rows.len() {
                let _ = write!(s, "  (over {} finite values)", finite.len());
            }
            s.push('\n');
        }
        let counts = self.flag_counts();
        if counts.is_empty() {
            s.push_str("flags:      none\n");
        } else {
            let list: Vec<String> = counts
                .iter()
                .map(|(f, n)| format!("{} {n}", f.as_str()))
                .collect();
            let _ = writeln!(s, "flags:      {}", list.join(", "));
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning:    {w}");
        }
        if self.rows.is_empty() {
            return s;
        }
        s.push('\n');
        let width = self
            .rows
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(6, 60);
        let _ = writeln!(
            s,
            "{:>5}  {:<width$}  {:>12}  {:>12}  {:<8}  flags",
            "line", "tensor", "scale", "amax", "hex"
        );
        // Built by hand rather than with `format!` per row: this loop is most of the run time
        // for a large cache.
        s.reserve(self.rows.len() * (width + 56));
        let mut num = String::with_capacity(16);
        for r in &self.rows {
            num.clear();
            let _ = write!(num, "{}", r.line);
            push_padded(&mut s, &num, 5, true);
            s.push_str("  ");
            push_padded(&mut s, r.name, width, false);
            s.push_str("  ");
            num.clear();
            push_g(&mut num, f64::from(r.scale));
            push_padded(&mut s, &num, 12, true);
            s.push_str("  ");
            num.clear();
            push_g(&mut num, r.amax);
            push_padded(&mut s, &num, 12, true);
            s.push_str("  ");
            push_hex8(&mut s, r.hex);
            if !r.flags.is_empty() {
                s.push_str("  ");
                for (i, f) in r.flags.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(f.as_str());
                }
            }
            s.push('\n');
        }
        s
    }

    fn entry_json(r: &Row<'_>) -> Value {
        Value::obj([
            ("name", Value::from(r.name)),
            ("scale", Value::from(r.scale)),
            ("amax", Value::from(r.amax)),
            ("hex", Value::from(format!("{:08x}", r.hex))),
            (
                "flags",
                Value::Arr(r.flags.iter().map(|f| Value::from(f.as_str())).collect()),
            ),
        ])
    }

    /// The `--json` document; `entries` holds every row when `with_entries`, else is empty.
    fn json_doc(&self, file: &Path, with_entries: bool) -> Value {
        let c = self.cache;
        let entries = if with_entries {
            self.rows.iter().map(Self::entry_json).collect()
        } else {
            Vec::new()
        };
        Value::obj([
            ("file", Value::from(file.display().to_string())),
            ("format", Value::from(c.format.as_str())),
            ("trt_version", Value::from(c.version.map(|v| v.to_string()))),
            (
                "trt_version_code",
                Value::from(c.version.map(|v| i64::from(v.code))),
            ),
            (
                "algorithm",
                Value::from(c.algorithm.as_ref().map(|a| a.header_name().to_string())),
            ),
            (
                "legacy",
                c.legacy.map_or(Value::Null, |l| {
                    Value::obj([
                        ("regression_cutoff", Value::from(l.regression_cutoff)),
                        ("quantile", Value::from(l.quantile)),
                    ])
                }),
            ),
            ("entries", Value::Arr(entries)),
            ("warnings", Value::from(self.warnings.clone())),
        ])
    }

    /// Write the `--json` document in pieces of about 64 KiB, one entry at a time: the same
    /// text as `json_doc(file, true).pretty()` (a unit test checks), without holding a value
    /// tree and a string for every entry at once, which for a large cache cost more time in
    /// page faults than the formatting itself.
    fn write_json(&self, file: &Path, mut emit: impl FnMut(&str) -> Result<()>) -> Result<()> {
        const MARK: &str = "\n  \"entries\": [],\n";
        let frame = self.json_doc(file, false).pretty();
        // The frame is ours: `entries` is a top-level key, and a newline inside a string value
        // is escaped, so the marker occurs exactly once.
        if self.rows.is_empty() {
            return emit(&frame);
        }
        let Some(at) = frame.find(MARK) else {
            // json.rs laid the frame out differently: fall back to the whole tree.
            return emit(&self.json_doc(file, true).pretty());
        };
        let mut buf = String::with_capacity(72 * 1024);
        buf.push_str(&frame[..at]);
        buf.push_str("\n  \"entries\": [");
        for (i, r) in self.rows.iter().enumerate() {
            buf.push_str(if i == 0 { "\n    " } else { ",\n    " });
            Self::entry_json(r).pretty_into(&mut buf, 2);
            if buf.len() > 64 * 1024 {
                emit(&buf)?;
                buf.clear();
            }
        }
        buf.push_str("\n  ],\n");
        buf.push_str(&frame[at + MARK.len()..]);
        emit(&buf)
    }
}

// ---------------------------------------------------------------------------------------------
// Two caches

struct Change<'a> {
    name: &'a str,
    amax_a: f64,
    amax_b: f64,
    rel: f64,
}

struct Comparison<'a> {
    changes: Vec<Change<'a>>,
    only_a: Vec<&'a str>,
    only_b: Vec<&'a str>,
    warnings: Vec<String>,
}

/// (b - a) / |a|; 0 when both are 0; ±inf when only a is 0; NaN when either is NaN.
fn rel_change(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (b - a) / a.abs()
    }
}

impl<'a> Comparison<'a> {
    fn new(a: &'a Cache, b: &'a Cache) -> Comparison<'a> {
        let mut warnings = Vec::new();
        for (tag, c) in [("a", a), ("b", b)] {
            for (name, idx) in c.duplicates() {
                warnings.push(format!(
                    "{tag}: tensor `{name}` appears {} times; its first occurrence is compared",
                    idx.len()
                ));
            }
        }
        if let (Some(va), Some(vb)) = (a.version, b.version) {
            if va != vb {
                warnings.push(format!(
                    "the caches come from different TensorRT versions: a {va}, b {vb}"
                ));
            }
        }
        if a.algorithm != b.algorithm {
            let name = |c: &Cache| {
                c.algorithm
                    .as_ref()
                    .map_or(format!("none ({} format)", c.format.as_str()), |x| {
                        x.to_string()
                    })
            };
            warnings.push(format!(
                "the caches use different algorithms: a {}, b {}",
                name(a),
                name(b)
            ));
        }
        let index_b: std::collections::HashMap<&str, &crate::cache::Entry> = b
            .entries
            .iter()
            .rev()
            .map(|e| (e.name.as_str(), e))
            .collect();
        let index_a: std::collections::HashSet<&str> =
            a.entries.iter().map(|e| e.name.as_str()).collect();
        let mut seen = std::collections::HashSet::new();
        let mut changes = Vec::new();
        let mut only_a = Vec::new();
        for e in &a.entries {
            if !seen.insert(e.name.as_str()) {
                continue;
            }
            match index_b.get(e.name.as_str()) {
                Some(eb) => {
                    let (x, y) = (e.amax_f64(), eb.amax_f64());
                    changes.push(Change {
                        name: &e.name,
                        amax_a: x,
                        amax_b: y,
                        rel: rel_change(x, y),
                    });
                }
                None => only_a.push(e.name.as_str()),
            }
        }
        let mut seen_b = std::collections::HashSet::new();
        let only_b: Vec<&str> = b
            .entries
            .iter()
            .map(|e| e.name.as_str())
            .filter(|n| !index_a.contains(n) && seen_b.insert(*n))
            .collect();
        // Largest |change| first; NaN (an undefined change) on top, as it needs a look most.
        changes.sort_by(|x, y| {
            y.rel
                .is_nan()
                .cmp(&x.rel.is_nan())
                .then(y.rel.abs().total_cmp(&x.rel.abs()))
        });
        Comparison {
            changes,
            only_a,
            only_b,
            warnings,
        }
    }

    fn abs_summary(&self) -> Option<(f64, f64, f64)> {
        let v: Vec<f64> = self
            .changes
            .iter()
            .map(|c| c.rel.abs())
            .filter(|x| x.is_finite())
            .collect();
        min_median_max(v)
    }

    fn text(&self, fa: &Path, fb: &Path, a: &Cache, b: &Cache) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "a:          {}  ({}, {} entries)",
            fa.display(),
            a.header_line(),
            a.entries.len()
        );
        let _ = writeln!(
            s,
            "b:          {}  ({}, {} entries)",
            fb.display(),
            b.header_line(),
            b.entries.len()
        );
        let _ = writeln!(
            s,
            "tensors:    {} in both, {} only in a, {} only in b",
            self.changes.len(),
            self.only_a.len(),
            self.only_b.len()
        );
        if let Some((_, med, max)) = self.abs_summary() {
            let _ = write!(
                s,
                "|change|:   max {}  median {}",
                fmt_pct(max),
                fmt_pct(med)
            );
            let undefined = self.changes.iter().filter(|c| !c.rel.is_finite()).count();
            if undefined > 0 {
                let _ = write!(s, "  (+{undefined} infinite or undefined)");
            }
            s.push('\n');
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning:    {w}");
        }
        if !self.changes.is_empty() {
            let width = self
                .changes
                .iter()
                .map(|c| c.name.chars().count())
                .max()
                .unwrap_or(0)
                .clamp(6, 60);
            let _ = writeln!(
                s,
                "\n{:<width$}  {:>12}  {:>12}  {:>10}",
                "tensor", "amax a", "amax b", "a -> b"
            );
            for c in &self.changes {
                let _ = writeln!(
                    s,
                    "{:<width$}  {:>12}  {:>12}  {:>10}",
                    c.name,
                    fmt_g(c.amax_a),
                    fmt_g(c.amax_b),
                    fmt_pct_signed(c.rel)
                );
            }
        }
        for (title, list) in [("only in a:", &self.only_a), ("only in b:", &self.only_b)] {
            if !list.is_empty() {
                let _ = writeln!(s, "\n{title}");
                for n in list.iter() {
                    let _ = writeln!(s, "  {n}");
                }
            }
        }
        s
    }

    fn json(&self, fa: &Path, fb: &Path) -> Value {
        let names = |l: &[&str]| Value::Arr(l.iter().map(|n| Value::from(*n)).collect());
        Value::obj([
            ("a", Value::from(fa.display().to_string())),
            ("b", Value::from(fb.display().to_string())),
            (
                "changes",
                Value::Arr(
                    self.changes
                        .iter()
                        .map(|c| {
                            Value::obj([
                                ("name", Value::from(c.name)),
                                ("amax_a", Value::from(c.amax_a)),
                                ("amax_b", Value::from(c.amax_b)),
                                ("rel_change", Value::from(c.rel)),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("only_in_a", names(&self.only_a)),
            ("only_in_b", names(&self.only_b)),
        ])
    }
}

// ---------------------------------------------------------------------------------------------
// Retarget

/// A version code (`100300`, `8601`) or `major.minor[.patch]`.
fn parse_target(s: &str) -> Result<TrtVersion> {
    let bad = |m: String| Error::Usage(format!("--retarget {s}: {m}"));
    let v = if s.contains('.') {
        let parts: Vec<&str> = s.split('.').collect();
        let nums: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
        match (nums.as_deref(), parts.len()) {
            (Some([m, n]), 2) => TrtVersion::new(*m, *n, 0),
            (Some([m, n, p]), 3) => TrtVersion::new(*m, *n, *p),
            _ => None,
        }
        .ok_or_else(|| {
            bad("expected a version code such as 100300 or a version such as 10.3.0".into())
        })?
    } else {
        let code: u32 = s.parse().map_err(|_| {
            bad("expected a version code such as 100300 or a version such as 10.3.0".into())
        })?;
        TrtVersion::from_code(code)
    };
    if !v.is_plausible() {
        let hint = if (10_000..100_000).contains(&v.code) {
            // A 5-digit code is usually a 6-digit one written in the 4-digit style.
            TrtVersion::new(v.code / 1000, (v.code % 1000) / 100, v.code % 100)
                .map(|g| format!("; did you mean {} ({g})?", g.code))
                .unwrap_or_default()
        } else {
            String::new()
        };
        return Err(bad(format!(
            "{} is not a code TensorRT writes (below 10: major*1000+minor*100+patch, e.g. 8601; \
             from 10: major*10000+minor*100+patch, e.g. 100300){hint}",
            v.code
        )));
    }
    Ok(v)
}

fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    matches!(
        (std::fs::canonicalize(a), std::fs::canonicalize(b)),
        (Ok(x), Ok(y)) if x == y
    )
}

fn retarget(input: &Path, target: &str, out: &Path, force: bool) -> Result<()> {
    let version = parse_target(target)?;
    let cache = Cache::read(input)?;
    if same_file(input, out) && !force {
        return Err(Error::Usage(format!(
            "-o {} is the input file; pass --force to overwrite it (or choose another name)",
            out.display()
        )));
    }
    let new = cache.retarget(version).map_err(|m| Error::CacheFormat {
        path: input.to_path_buf(),
        line: 1,
        msg: m,
    })?;
    crate::outfile::write_atomic(out, &new.to_bytes())?;
    for n in &cache.notes {
        eprintln!("note: {}:{}: {}", input.display(), n.line, n.msg);
    }
    // from_code always succeeds for a Trt cache: retarget() refused the others.
    let old = cache.version.map_or(String::from("?"), |v| v.to_string());
    if cache.version == Some(version) {
        eprintln!(
            "warning: {} already names TensorRT {version}; the copy differs only where the input \
             was not in canonical form",
            input.display()
        );
    } else {
        eprintln!(
            "warning: the scales in {} were computed by TensorRT {old}; TensorRT {version} will \
             use them as they are, without calibrating again. Check the engine's accuracy, or \
             recalibrate with TensorRT {version}.",
            input.display()
        );
    }
    super::write_stdout(&format!(
        "wrote {}: {} -> {} ({} entries)\n",
        out.display(),
        cache.header_line(),
        new.header_line(),
        new.entries.len()
    ))
}

// ---------------------------------------------------------------------------------------------
// Numbers

fn min_median_max(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((v[0], med, v[n - 1]))
}

/// `text` padded with spaces to `width` characters, on the left when `right` (aligned right).
fn push_padded(out: &mut String, text: &str, width: usize, right: bool) {
    const SPACES: &str = "                                                                ";
    let n = if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    };
    let mut pad = width.saturating_sub(n);
    if !right {
        out.push_str(text);
    }
    while pad > 0 {
        let k = pad.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        pad -= k;
    }
    if right {
        out.push_str(text);
    }
}

/// Eight lowercase hex digits, as the cache writes them.
fn push_hex8(out: &mut String, v: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..8).rev() {
        out.push(HEX[((v >> (shift * 4)) & 0xf) as usize] as char);
    }
}

fn fmt_g(x: f64) -> String {
    let mut s = String::new();
    push_g(&mut s, x);
    s
}

/// Six significant digits, in the manner of C's `%.6g` (exponent form outside 1e-4..1e6,
/// trailing zeros dropped). For display only (`--json` carries exact values): the 6th digit is
/// rounded in binary arithmetic, which for a value within ~1e-16 of a tie can differ from exact
/// decimal rounding. Hand-rolled because the table formats 10,000 numbers for a 5,000-entry cache
/// and `format!("{:.5e}")` made that most of the run time.
fn push_g(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("nan");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    let a = x.abs();
    // Six digits of a: m in [100000, 999999] with a ≈ m × 10^(e-5).
    let digits_at = |e: i32| -> f64 {
        let k = e - 5;
        if k >= 0 {
            (a / 10f64.powi(k)).round()
        } else {
            (a * 10f64.powi(-k)).round()
        }
    };
    let mut e = a.log10().floor() as i32;
    let mut m = digits_at(e);
    if m >= 1e6 {
        e += 1;
        m = digits_at(e);
    } else if m < 1e5 {
        e -= 1;
        m = digits_at(e);
    }
    // Rounding may still carry into a seventh digit (999999.6 -> 1000000).
    if m >= 1e6 {
        e += 1;
        m = (m / 10.0).round();
    }
    let mut m = m as u32;
    let mut d = [b'0'; 6];
    for slot in d.iter_mut().rev() {
        *slot = b'0' + (m % 10) as u8;
        m /= 10;
    }
    // Significant digits without trailing zeros (at least one).
    let sig = d.iter().rposition(|&c| c != b'0').map_or(1, |p| p + 1);
    let digit = |i: usize| d[i] as char;
    if x < 0.0 {
        out.push('-');
    }
    if (-4..6).contains(&e) {
        if e >= 0 {
            let int = (e + 1) as usize;
            (0..int).for_each(|i| out.push(digit(i)));
            if sig > int {
                out.push('.');
                (int..sig).for_each(|i| out.push(digit(i)));
            }
        } else {
            out.push_str("0.");
            (0..(-e - 1)).for_each(|_| out.push('0'));
            (0..sig).for_each(|i| out.push(digit(i)));
        }
    } else {
        out.push(digit(0));
        if sig > 1 {
            out.push('.');
            (1..sig).for_each(|i| out.push(digit(i)));
        }
        let _ = write!(out, "e{e}");
    }
}

fn fmt_pct(x: f64) -> String {
    format!("{}%", fmt_g(round_sig(x * 100.0)))
}

fn fmt_pct_signed(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    let p = fmt_pct(x);
    if x > 0.0 {
        format!("+{p}")
    } else {
        p
    }
}

/// Three significant digits are plenty for a percentage.
fn round_sig(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{x:.2e}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_json_is_the_whole_document() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/caches/");
        for f in [
            "yolo11_trt10.3_entropy2.cache",
            "unet3d_legacy.cache",
            "edge/ok_flags.cache",
            "edge/ok_header_only.cache",
            "edge/ok_unnormalised.cache",
        ] {
            let path = std::path::PathBuf::from(dir).join(f);
            let cache = Cache::read(&path).unwrap();
            for sort in [None, Some(SortKey::Amax)] {
                let report = Report::new(&cache, sort);
                let mut pieces = Vec::new();
                report
                    .write_json(&path, |s| {
                        pieces.push(s.to_string());
                        Ok(())
                    })
                    .unwrap();
                assert_eq!(
                    pieces.concat(),
                    report.json_doc(&path, true).pretty(),
                    "{f}"
                );
            }
        }
    }

    #[test]
    fn g_format() {
        assert_eq!(fmt_g(1.0), "1");
        assert_eq!(fmt_g(0.0078125), "0.0078125");
        assert_eq!(fmt_g(127.0 * 0.0078125), "0.992188");
        assert_eq!(fmt_g(1234567.0), "1.23457e6");
        assert_eq!(fmt_g(1.0e-45), "1e-45");
        assert_eq!(fmt_g(-2.5), "-2.5");
        assert_eq!(fmt_g(f64::INFINITY), "inf");
        assert_eq!(fmt_g(999999.6), "1e6");
        assert_eq!(fmt_g(999999.4), "999999");
        assert_eq!(fmt_g(0.0001), "0.0001");
        assert_eq!(fmt_g(0.00009999999), "0.0001");
        assert_eq!(fmt_g(0.000099999), "9.9999e-5");
        assert_eq!(fmt_g(12700.0), "12700");
        assert_eq!(fmt_g(-0.0), "-0");
        assert_eq!(fmt_g(f64::from(f32::MAX) * 127.0), "4.32159e40");
    }

    /// Against Rust's exactly rounded `{:.5e}` on many values (the hand-rolled version may
    /// only differ at near-ties, which these pseudo-random values do not hit).
    #[test]
    fn g_format_agrees_with_exact_formatting() {
        let mut state: u64 = 0x2545f4914f6cdd1d;
        for _ in 0..20000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = f64::from(f32::from_bits((state as u32) & 0x7f7f_ffff)) * 127.0;
            if x == 0.0 || !x.is_finite() {
                continue;
            }
            let exact = format!("{x:.5e}");
            let (mant, exp) = exact.split_once('e').unwrap();
            let mine = fmt_g(x);
            // Compare digits and exponent through the value both strings denote.
            let back: f64 = mine.parse().unwrap();
            let want: f64 = format!("{mant}e{exp}").parse().unwrap();
            assert_eq!(back, want, "{x}: {mine} vs {exact}");
        }
    }

    #[test]
    fn relative_change() {
        assert_eq!(rel_change(2.0, 3.0), 0.5);
        assert_eq!(rel_change(2.0, 1.0), -0.5);
        assert_eq!(rel_change(0.0, 0.0), 0.0);
        assert_eq!(rel_change(0.0, 1.0), f64::INFINITY);
        assert!(rel_change(f64::NAN, 1.0).is_nan());
        assert_eq!(rel_change(f64::INFINITY, f64::INFINITY), 0.0);
    }

    #[test]
    fn retarget_targets() {
        assert_eq!(parse_target("100300").unwrap().code, 100300);
        assert_eq!(parse_target("10.3.0").unwrap().code, 100300);
        assert_eq!(parse_target("8.6").unwrap().code, 8600);
        let e = parse_target("10300").unwrap_err().to_string();
        assert!(e.contains("did you mean 100300 (10.3.0)"), "{e}");
        assert!(parse_target("999").is_err());
        assert!(parse_target("8.10.0").is_err());
        assert!(parse_target("ten").is_err());
    }
}
