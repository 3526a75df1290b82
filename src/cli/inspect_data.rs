//! `trtq-lite inspect-data`: what a calibration data set holds, before TensorRT ever runs.
//! Statistics are streamed sample by sample (memory bounded: pages are released after use).

use std::path::Path;

use argh::FromArgs;

use crate::data::{parse_shape, Source, SourceSpec};
use crate::error::{Error, Result};
use crate::json::Value;
use crate::npy::{f16_to_f32, shape_str, Values};

/// report shape, dtype, value statistics and likely mistakes of .npy calibration data
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "inspect-data")]
pub struct Args {
    /// data sources: a directory of .npy files, one .npy file, or a text file listing .npy
    /// paths (NAME=SOURCE is accepted; the name is ignored here)
    #[argh(positional)]
    pub sources: Vec<String>,

    /// the shape of one sample, without batch, e.g. 3x640x640 (default: inferred from the files)
    #[argh(option)]
    pub shape: Option<String>,

    /// print JSON instead of text
    #[argh(switch)]
    pub json: bool,
}

/// Statistics of one source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStats {
    pub path: String,
    pub files: usize,
    pub samples: usize,
    pub shape: Vec<usize>,
    pub dtype: String,
    /// Over finite values only; `None` when there are none.
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub nan: u64,
    pub inf: u64,
    pub warnings: Vec<String>,
}

/// Running moments, combined chunk by chunk (Chan et al.), stable for large counts.
#[derive(Default, Clone, Copy)]
struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    nan: u64,
    inf: u64,
}

impl Moments {
    fn merge(&mut self, o: &Moments) {
        self.nan += o.nan;
        self.inf += o.inf;
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            let (nan, inf) = (self.nan, self.inf);
            *self = *o;
            self.nan = nan;
            self.inf = inf;
            return;
        }
        let n = (self.n + o.n) as f64;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n;
        self.m2 += o.m2 + d * d * self.n as f64 * o.n as f64 / n;
        self.n += o.n;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }
}

/// Moments of one chunk and whether all its values are equal.
fn chunk_stats(vals: impl Iterator<Item = f64> + Clone) -> (Moments, bool) {
    let mut m = Moments {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        ..Default::default()
    };
    let mut sum = 0.0;
    let mut first: Option<f64> = None;
    let mut constant = true;
    for v in vals.clone() {
        match first {
            None => first = Some(v),
            Some(f) => constant &= f == v,
        }
        if v.is_nan() {
            m.nan += 1;
        } else if v.is_infinite() {
            m.inf += 1;
        } else {
            m.n += 1;
            sum += v;
            m.min = m.min.min(v);
            m.max = m.max.max(v);
        }
    }
    if m.n > 0 {
        m.mean = sum / m.n as f64;
        m.m2 = vals
            .filter(|v| v.is_finite())
            .map(|v| (v - m.mean) * (v - m.mean))
            .sum();
    }
    (m, constant && first.is_some_and(|f| !f.is_nan()))
}

/// Computes the statistics of one opened source.
pub fn inspect(source: &Source, shape: Option<&[usize]>) -> SourceStats {
    let sample_shape = shape.map_or_else(|| source.infer_sample_shape(), <[usize]>::to_vec);
    let layout = source.layout(&sample_shape);
    let mut warnings = Vec::new();
    let dtype = source.files[0].dtype();
    let mut total = Moments::default();
    let mut constant: Vec<(usize, usize)> = Vec::new(); // (global sample, file index)
                                                        // Zero-sized samples hold no values (and would make every range below empty).
    let elems: usize = sample_shape.iter().product::<usize>();
    let mut sample_no = 0;
    for (fi, f) in source.files.iter().enumerate() {
        if layout.mismatched.contains(&fi) || elems == 0 {
            continue;
        }
        let n = layout.per_file[fi];
        let esz = f.dtype().size();
        for s in 0..n {
            let r = s * elems..(s + 1) * elems;
            let (m, c) = match f.values() {
                Values::F32(v) => chunk_stats(v[r].iter().map(|&x| x as f64)),
                Values::F16(v) => chunk_stats(v[r].iter().map(|&x| f16_to_f32(x) as f64)),
                Values::F64(v) => chunk_stats(v[r].iter().copied()),
                Values::U8(v) => chunk_stats(v[r].iter().map(|&x| x as f64)),
                Values::I8(v) => chunk_stats(v[r].iter().map(|&x| x as f64)),
            };
            total.merge(&m);
            if c {
                constant.push((sample_no, fi));
            }
            f.evict(s * elems * esz, elems * esz);
            sample_no += 1;
        }
    }
    let others: Vec<String> = source
        .files
        .iter()
        .filter(|f| f.dtype() != dtype)
        .map(|f| format!("{} ({})", f.path().display(), f.dtype()))
        .collect();
    if !others.is_empty() {
        warnings.push(format!(
            "files hold different dtypes: {} holds {dtype}, but {}",
            source.files[0].path().display(),
            list_some(&others)
        ));
    }
    if !layout.mismatched.is_empty() {
        let bad: Vec<String> = layout
            .mismatched
            .iter()
            .map(|&i| {
                let f = &source.files[i];
                format!("{} {}", f.path().display(), shape_str(f.shape()))
            })
            .collect();
        warnings.push(format!(
            "{} file(s) whose shapes disagree with the sample shape {} (left out of the statistics): {}",
            bad.len(),
            shape_str(&sample_shape),
            list_some(&bad)
        ));
    }
    if dtype.is_float() && total.n > 0 && total.max > 1.5 {
        warnings.push(format!(
            "float data with values up to {} (above 1.5): looks like 0-255 pixels; most detectors expect 0-1",
            fmt_num(total.max)
        ));
    }
    if let Some(&(s, fi)) = constant.first() {
        warnings.push(format!(
            "{} constant sample(s) (every value equal), the first is sample {s} (in {})",
            constant.len(),
            source.files[fi].path().display()
        ));
    }
    if total.nan + total.inf > 0 {
        warnings.push(format!(
            "{} NaN and {} Inf value(s): calibration ranges computed from them are meaningless",
            total.nan, total.inf
        ));
    }
    let finite = total.n > 0;
    SourceStats {
        path: source.path.display().to_string(),
        files: source.files.len(),
        samples: layout.samples(),
        shape: sample_shape,
        dtype: dtype.name().into(),
        min: finite.then_some(total.min),
        max: finite.then_some(total.max),
        mean: finite.then_some(total.mean),
        std: finite.then(|| (total.m2 / total.n as f64).sqrt()),
        nan: total.nan,
        inf: total.inf,
        warnings,
    }
}

fn list_some(items: &[String]) -> String {
    const SHOW: usize = 5;
    let mut s = items
        .iter()
        .take(SHOW)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOW {
        s.push_str(&format!(" and {} more", items.len() - SHOW));
    }
    s
}

/// Up to 6 significant digits, no trailing zeros.
pub fn fmt_num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (6 - 1 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn opt_json(x: Option<f64>) -> Value {
    x.map_or(Value::Null, Value::Num)
}

pub fn run(args: Args) -> Result<()> {
    if args.sources.is_empty() {
        return Err(Error::Usage(
            "inspect-data needs at least one SOURCE (directory, .npy file or list file)".into(),
        ));
    }
    let shape = args
        .shape
        .as_deref()
        .map(parse_shape)
        .transpose()
        .map_err(Error::Usage)?;
    // Open (and so validate) every file of every source before printing anything.
    let sources = args
        .sources
        .iter()
        .map(|s| Source::open(Path::new(&SourceSpec::parse(s).path)))
        .collect::<Result<Vec<_>>>()?;
    let stats: Vec<SourceStats> = sources
        .iter()
        .map(|s| inspect(s, shape.as_deref()))
        .collect();
    if args.json {
        let arr = stats
            .iter()
            .map(|s| {
                Value::obj([
                    ("path", Value::Str(s.path.clone())),
                    ("files", Value::Int(s.files as i64)),
                    ("samples", Value::Int(s.samples as i64)),
                    (
                        "shape",
                        Value::Arr(s.shape.iter().map(|&d| Value::Int(d as i64)).collect()),
                    ),
                    ("dtype", Value::Str(s.dtype.clone())),
                    ("min", opt_json(s.min)),
                    ("max", opt_json(s.max)),
                    ("mean", opt_json(s.mean)),
                    ("std", opt_json(s.std)),
                    ("nan", Value::Int(s.nan as i64)),
                    ("inf", Value::Int(s.inf as i64)),
                    (
                        "warnings",
                        Value::Arr(s.warnings.iter().cloned().map(Value::Str).collect()),
                    ),
                ])
            })
            .collect();
        print!("{}", Value::obj([("sources", Value::Arr(arr))]).pretty());
        return Ok(());
    }
    for (src, s) in sources.iter().zip(&stats) {
        println!("{}", src.describe());
        println!(
            "  samples  {} of shape {}, {}",
            s.samples,
            shape_str(&s.shape),
            s.dtype
        );
        let f = |x: Option<f64>| x.map_or("-".to_string(), fmt_num);
        println!(
            "  values   min {}  max {}  mean {}  std {}",
            f(s.min),
            f(s.max),
            f(s.mean),
            f(s.std)
        );
        println!("  NaN {}  Inf {}", s.nan, s.inf);
        for w in &s.warnings {
            println!("  warning: {w}");
        }
    }
    Ok(())
}
