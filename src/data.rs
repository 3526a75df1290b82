//! Calibration data sets: where samples come from, how they group into batches, and the
//! checks that every input's data fits the network before any GPU work starts.
//!
//! A *source* is a directory (its `.npy` files in sorted name order), a single `.npy`, or a text
//! file listing `.npy` paths (one per line, `#` comments, relative to the list's folder). Each
//! file holds one sample (the input shape, or the shape with a leading 1) or N samples (leading
//! N). A source's files form one stream of samples; batches of B are taken in order and the
//! last partial batch is dropped.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::npy::{shape_str, DType, NpyFile};

/// `SOURCE` or `NAME=SOURCE` as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The network input this source feeds; `None` when there is a single input.
    pub name: Option<String>,
    pub path: PathBuf,
}

impl SourceSpec {
    /// `NAME=SOURCE` when the text before the first `=` looks like a tensor name (no `/`) and
    /// the whole text is not itself an existing path; otherwise the whole text is the path.
    pub fn parse(s: &str) -> SourceSpec {
        if let Some((name, path)) = s.split_once('=') {
            if !name.is_empty() && !name.contains('/') && !Path::new(s).exists() {
                return SourceSpec {
                    name: Some(name.to_string()),
                    path: PathBuf::from(path),
                };
            }
        }
        SourceSpec {
            name: None,
            path: PathBuf::from(s),
        }
    }
}

impl std::str::FromStr for SourceSpec {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(SourceSpec::parse(s))
    }
}

/// What the network expects for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    pub name: String,
    /// The input's shape without the batch dimension, e.g. `[3, 640, 640]`.
    pub sample_shape: Vec<usize>,
    pub dtype: DType,
}

/// Whether data of another dtype may be converted while it is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conversion {
    /// The data's dtype must equal the input's.
    #[default]
    Exact,
    /// Also accept f64 data for f32 inputs and f32 data for f16 inputs (`--convert`).
    Allow,
}

/// How a source is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Directory,
    File,
    List,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Directory => "directory",
            SourceKind::File => "file",
            SourceKind::List => "list",
        }
    }
}

/// A source's files, opened and validated (each one a checked .npy).
pub struct Source {
    pub path: PathBuf,
    pub kind: SourceKind,
    pub files: Vec<NpyFile>,
}

impl Source {
    /// Lists and opens every file; the first bad file is the error (named).
    pub fn open(path: &Path) -> Result<Source> {
        let (kind, paths) = list_files(path)?;
        let files = paths
            .iter()
            .map(|p| NpyFile::open(p))
            .collect::<Result<Vec<_>>>()?;
        Ok(Source {
            path: path.to_path_buf(),
            kind,
            files,
        })
    }

    /// The sample shape when none is given: a single file's leading dimension counts samples;
    /// files of one shape S are one sample each (of S, or S without a leading 1), except that
    /// S of four or more dimensions is read as (N, C, H, W...); files that
    /// differ only in the leading dimension hold that many samples each. Otherwise the most
    /// common file shape is taken (and [`Source::layout`] reports the others).
    pub fn infer_sample_shape(&self) -> Vec<usize> {
        let shapes: Vec<&[usize]> = self.files.iter().map(|f| f.shape()).collect();
        let Some(first) = shapes.first() else {
            return Vec::new();
        };
        let strip = |s: &[usize]| -> Vec<usize> {
            if s.len() >= 2 {
                s[1..].to_vec()
            } else {
                s.to_vec()
            }
        };
        if shapes.len() == 1 {
            return strip(first);
        }
        if shapes.iter().all(|s| s == first) {
            // Four or more dimensions read as (N, C, H, W...): image samples are 3-D. Pass
            // --shape where that guess is wrong.
            return if first.len() >= 4 || (first.len() >= 2 && first[0] == 1) {
                first[1..].to_vec()
            } else {
                first.to_vec()
            };
        }
        if first.len() >= 2
            && shapes
                .iter()
                .all(|s| s.len() == first.len() && s[1..] == first[1..])
        {
            return first[1..].to_vec();
        }
        // Most common shape, ties to the earliest.
        let mut best: (&[usize], usize) = (first, 0);
        for s in &shapes {
            let n = shapes.iter().filter(|t| *t == s).count();
            if n > best.1 {
                best = (s, n);
            }
        }
        if best.0.len() >= 2 && best.0[0] == 1 {
            best.0[1..].to_vec()
        } else {
            best.0.to_vec()
        }
    }

    /// Samples per file for `sample_shape`; files that fit no reading go to `mismatched`.
    pub fn layout(&self, sample_shape: &[usize]) -> Layout {
        let mut per_file = Vec::with_capacity(self.files.len());
        let mut mismatched = Vec::new();
        for (i, f) in self.files.iter().enumerate() {
            match samples_in(f.shape(), sample_shape) {
                Some(n) => per_file.push(n),
                None => {
                    per_file.push(0);
                    mismatched.push(i);
                }
            }
        }
        Layout {
            sample_shape: sample_shape.to_vec(),
            per_file,
            mismatched,
        }
    }

    /// Text for messages: `calib/ (directory, 512 files)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, {} file{})",
            self.path.display(),
            self.kind.name(),
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" }
        )
    }
}

/// How a source's files split into samples of one shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub sample_shape: Vec<usize>,
    /// Samples in each file (0 for mismatched files).
    pub per_file: Vec<usize>,
    /// Indices of files whose shape is neither the sample shape, nor it with a leading N.
    pub mismatched: Vec<usize>,
}

impl Layout {
    pub fn samples(&self) -> usize {
        self.per_file.iter().sum()
    }
}

/// Samples in a file of `file_shape` holding samples of `sample`: `sample` itself is one,
/// `(N, *sample)` is N (so `(1, *sample)` is one).
pub fn samples_in(file_shape: &[usize], sample: &[usize]) -> Option<usize> {
    if file_shape == sample {
        Some(1)
    } else if file_shape.len() == sample.len() + 1 && file_shape[1..] == *sample {
        Some(file_shape[0])
    } else {
        None
    }
}

fn list_files(path: &Path) -> Result<(SourceKind, Vec<PathBuf>)> {
    let read_err = |source| Error::ReadInput {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.is_dir() {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_err)? {
            let p = entry.map_err(read_err)?.path();
            if p.extension().is_some_and(|e| e == "npy") && p.is_file() {
                files.push(p);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(Error::BadInput(format!(
                "{}: directory holds no .npy files",
                path.display()
            )));
        }
        return Ok((SourceKind::Directory, files));
    }
    let mut head = [0u8; 6];
    let mut f = std::fs::File::open(path).map_err(read_err)?;
    let n = f.read(&mut head).map_err(read_err)?;
    if path.extension().is_some_and(|e| e == "npy") || (n == 6 && &head == b"\x93NUMPY") {
        return Ok((SourceKind::File, vec![path.to_path_buf()]));
    }
    let text = std::fs::read(path).map_err(read_err)?;
    let text = String::from_utf8(text).map_err(|_| {
        Error::BadInput(format!(
            "{}: neither a .npy file nor a UTF-8 text list of .npy paths",
            path.display()
        ))
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let files: Vec<PathBuf> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| base.join(l))
        .collect();
    if files.is_empty() {
        return Err(Error::BadInput(format!(
            "{}: the list names no .npy files",
            path.display()
        )));
    }
    Ok((SourceKind::List, files))
}

/// One contiguous run of a batch's bytes inside one mapped file.
#[derive(Clone, Copy)]
pub struct Piece<'a> {
    pub file: &'a NpyFile,
    /// Byte offset into the file's data.
    pub offset: usize,
    pub len: usize,
}

impl<'a> Piece<'a> {
    pub fn bytes(&self) -> &'a [u8] {
        &self.file.bytes()[self.offset..self.offset + self.len]
    }

    /// The piece's bytes as offsets into the file's whole map (header included), and the
    /// start of their first page: what registering (page-locking) them works on.
    pub fn map_range(&self) -> (std::ops::Range<usize>, usize) {
        let off = self.file.header().data_offset + self.offset;
        (off..off + self.len, off / 4096 * 4096)
    }
}

/// One network input's data.
pub struct InputData {
    pub spec: InputSpec,
    pub source: Source,
    /// The data's dtype (differs from `spec.dtype` only with [`Conversion::Allow`]).
    pub data_dtype: DType,
    /// First sample index of each file, plus the total at the end.
    starts: Vec<usize>,
    per_file: Vec<usize>,
}

impl InputData {
    /// Bytes of one sample as stored in the files.
    pub fn sample_bytes_in_files(&self) -> usize {
        self.spec.sample_shape.iter().product::<usize>() * self.data_dtype.size()
    }
    /// Bytes of one sample as the network takes it.
    pub fn sample_bytes(&self) -> usize {
        self.spec.sample_shape.iter().product::<usize>() * self.spec.dtype.size()
    }
}

/// Validated data for every network input, split into batches.
pub struct DataSet {
    inputs: Vec<InputData>,
    batch: usize,
    samples: usize,
}

impl DataSet {
    /// Opens every source and checks it against the network's inputs: names, shapes, dtypes
    /// and equal sample counts. All mismatches are reported together (exit 2), before any GPU
    /// work. `inputs` gives the order of [`crate::feed::Feed::next`]'s pointers.
    pub fn open(
        specs: &[SourceSpec],
        inputs: &[InputSpec],
        batch: usize,
        convert: Conversion,
    ) -> Result<DataSet> {
        if batch == 0 {
            return Err(Error::Usage("the batch size must be at least 1".into()));
        }
        let mut errs: Vec<String> = Vec::new();
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        let list = names.join(", ");
        // Pair each input with its source.
        let mut chosen: Vec<Option<&SourceSpec>> = vec![None; inputs.len()];
        for s in specs {
            match &s.name {
                None if inputs.len() == 1 && specs.len() == 1 => chosen[0] = Some(s),
                None => errs.push(format!(
                    "{}: the network has inputs {list}; name the input of every source as NAME=SOURCE",
                    s.path.display()
                )),
                Some(n) => match names.iter().position(|x| x == n) {
                    Some(i) if chosen[i].is_some() => {
                        errs.push(format!("input '{n}' is given more than one source"))
                    }
                    Some(i) => chosen[i] = Some(s),
                    None => errs.push(format!(
                        "{n}={}: the network has no input named '{n}' (its inputs: {list})",
                        s.path.display()
                    )),
                },
            }
        }
        let mut opened = Vec::new();
        for (i, inp) in inputs.iter().enumerate() {
            let Some(spec) = chosen[i] else {
                if errs.is_empty() || specs.iter().all(|s| s.name.is_some()) {
                    errs.push(format!("no data given for input '{}'", inp.name));
                }
                continue;
            };
            match open_input(spec, inp, convert) {
                Ok(d) => opened.push(d),
                Err(mut e) => errs.append(&mut e),
            }
        }
        let mut samples = 0;
        if errs.is_empty() {
            samples = opened[0].starts.last().copied().unwrap_or(0);
            if opened
                .iter()
                .any(|d| d.starts.last().copied() != Some(samples))
            {
                errs.push(format!(
                    "the inputs' sources disagree on the number of samples: {}",
                    opened
                        .iter()
                        .map(|d| format!(
                            "{}={} has {}",
                            d.spec.name,
                            d.source.path.display(),
                            d.starts.last().copied().unwrap_or(0)
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            } else if samples < batch {
                errs.push(format!(
                    "{} holds {samples} sample(s), fewer than one batch of {batch}",
                    opened[0].source.path.display()
                ));
            }
        }
        if !errs.is_empty() {
            return Err(Error::BadInput(errs.join("\n")));
        }
        Ok(DataSet {
            inputs: opened,
            batch,
            samples,
        })
    }

    pub fn inputs(&self) -> &[InputData] {
        &self.inputs
    }
    pub fn batch_size(&self) -> usize {
        self.batch
    }
    /// Samples in the data (per input; all inputs agree).
    pub fn samples(&self) -> usize {
        self.samples
    }
    /// Full batches; the last partial batch is dropped.
    pub fn batches(&self) -> usize {
        self.samples / self.batch
    }
    pub fn used(&self) -> usize {
        self.batches() * self.batch
    }
    pub fn dropped(&self) -> usize {
        self.samples - self.used()
    }
    /// Bytes of one batch of input `input` as the network takes it.
    pub fn batch_bytes(&self, input: usize) -> usize {
        self.inputs[input].sample_bytes() * self.batch
    }
    /// Bytes of one batch over every input.
    pub fn batch_bytes_all(&self) -> usize {
        (0..self.inputs.len()).map(|i| self.batch_bytes(i)).sum()
    }
    /// "512 samples: 64 batches of 8 used, 0 dropped".
    pub fn summary(&self) -> String {
        format!(
            "{} samples: {} batch{} of {} used, {} dropped",
            self.samples,
            self.batches(),
            if self.batches() == 1 { "" } else { "es" },
            self.batch,
            self.dropped()
        )
    }

    /// The file bytes of batch `batch` of input `input`, in order, as runs within files.
    /// Empty when `batch >= self.batches()`.
    pub fn pieces(&self, input: usize, batch: usize) -> Vec<Piece<'_>> {
        let mut out = Vec::new();
        let Some(d) = self.inputs.get(input) else {
            return out;
        };
        if batch >= self.batches() {
            return out;
        }
        let sb = d.sample_bytes_in_files();
        let (mut s, end) = (batch * self.batch, (batch + 1) * self.batch);
        // The file holding sample s: last start <= s (files with 0 samples are skipped).
        let mut f = d.starts.partition_point(|&st| st <= s) - 1;
        while s < end {
            while d.per_file[f] == 0 || d.starts[f] + d.per_file[f] <= s {
                f += 1;
            }
            let in_file = (d.starts[f] + d.per_file[f]).min(end) - s;
            out.push(Piece {
                file: &d.source.files[f],
                offset: (s - d.starts[f]) * sb,
                len: in_file * sb,
            });
            s += in_file;
        }
        out
    }
}

fn open_input(
    spec: &SourceSpec,
    inp: &InputSpec,
    convert: Conversion,
) -> std::result::Result<InputData, Vec<String>> {
    let source = Source::open(&spec.path).map_err(|e| vec![e.to_string()])?;
    let mut errs = Vec::new();
    let layout = source.layout(&inp.sample_shape);
    for &i in &layout.mismatched {
        let f = &source.files[i];
        errs.push(format!(
            "{}: shape {} does not fit input '{}' of sample shape {s} (expected {s}, (1, ...) or (N, ...))",
            f.path().display(),
            shape_str(f.shape()),
            inp.name,
            s = shape_str(&inp.sample_shape)
        ));
    }
    let data_dtype = source.files[0].dtype();
    for f in &source.files {
        if f.dtype() != data_dtype {
            errs.push(format!(
                "{}: dtype {} differs from {} in {}",
                f.path().display(),
                f.dtype(),
                data_dtype,
                source.files[0].path().display()
            ));
        }
    }
    if data_dtype != inp.dtype {
        let convertible = matches!(
            (data_dtype, inp.dtype),
            (DType::F64, DType::F32) | (DType::F32, DType::F16)
        );
        if !(convertible && convert == Conversion::Allow) {
            errs.push(format!(
                "{}: holds {} data but input '{}' takes {}{}",
                spec.path.display(),
                data_dtype,
                inp.name,
                inp.dtype,
                if convertible {
                    "; pass --convert to convert while feeding"
                } else {
                    " (no conversion is offered; save the data as that dtype)"
                }
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut starts = Vec::with_capacity(layout.per_file.len() + 1);
    let mut acc = 0;
    for &n in &layout.per_file {
        starts.push(acc);
        acc += n;
    }
    starts.push(acc);
    Ok(InputData {
        spec: inp.clone(),
        source,
        data_dtype,
        starts,
        per_file: layout.per_file,
    })
}

/// Parses `3x640x640` (or `3,640,640`) into a shape; every dimension at least 1.
pub fn parse_shape(s: &str) -> std::result::Result<Vec<usize>, String> {
    let dims: Vec<&str> = s.split(['x', 'X', ',']).map(str::trim).collect();
    let shape = dims
        .iter()
        .map(|d| d.parse::<usize>().ok().filter(|&n| n > 0))
        .collect::<Option<Vec<_>>>();
    match shape {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!(
            "bad shape '{s}': expected dimensions of at least 1 separated by 'x', e.g. 3x640x640"
        )),
    }
}
