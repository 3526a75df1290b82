//! `prepare`: images to letterboxed `.npy` calibration samples, without Python.
//!
//! Invariants:
//! - **Order is deterministic**: every input path is collected, sorted (`PathBuf` order:
//!   component by component, bytes within a name) and deduplicated; `--seed` then shuffles
//!   that list with [`SplitMix64`]-driven Fisher–Yates. Sample `k` of the output is the `k`-th image of that order that decoded,
//!   whatever the number of threads.
//! - **`--limit N` counts prepared images**: unreadable images do not use up the limit.
//! - **Nothing in OUT_DIR changes unless the run succeeds**: files are written (each through
//!   [`crate::outfile::write_atomic`]) into a hidden staging folder inside OUT_DIR and renamed
//!   into place at the end; a failure or `--strict` stop removes the staging folder.
//! - Bad images never panic the run: decoder errors, and even decoder panics, become a
//!   "skipped" entry (or the `--strict` error).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::image;
use crate::letterbox::{self, TensorOptions};
use crate::npy::{self, shape_str};

/// File name extensions taken from directories and glob matches (case-insensitive). Files
/// named explicitly, or in a list, are decoded whatever their name.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

/// Everything `prepare` needs besides the input list.
#[derive(Debug, Clone)]
pub struct Options {
    pub out_dir: PathBuf,
    pub width: usize,
    pub height: usize,
    /// Samples per output file: 1 writes (1, ...) files; B > 1 writes (B, ...) files and a
    /// smaller last file with the remainder.
    pub per_batch: usize,
    pub limit: Option<usize>,
    pub seed: Option<u64>,
    /// Enlarge images smaller than the canvas (Ultralytics' default `scaleup=True`).
    pub scaleup: bool,
    pub pad: u8,
    pub tensor: TensorOptions,
    pub strict: bool,
    /// Replace existing `.npy` files in OUT_DIR (and remove the ones this run does not write).
    pub force: bool,
    /// Worker threads (decode + letterbox); at least 1.
    pub jobs: usize,
    /// Print a progress line and the skipped images on stderr.
    pub progress: bool,
}

/// One input that was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Inputs found (before `--limit`).
    pub candidates: usize,
    /// Images written.
    pub prepared: usize,
    /// Output files, in order, with the source image of each sample.
    pub files: Vec<(PathBuf, Vec<PathBuf>)>,
    pub skipped: Vec<Skipped>,
    /// Shape of one sample, without batch.
    pub sample_shape: [usize; 3],
    /// Older `.npy` files removed from OUT_DIR (`--force`).
    pub removed: Vec<PathBuf>,
    pub seconds: f64,
    pub jobs: usize,
}

// ---------------------------------------------------------------------------------------------
// Inputs

fn has_image_ext(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

fn is_list_file(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("txt") || e.eq_ignore_ascii_case("lst"))
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Expands the command-line inputs into image paths (sorted, deduplicated):
/// - a directory: its image files (by extension), recursively; hidden entries (`.name`) and
///   symbolic links to directories are not entered;
/// - `@FILE`, or a file ending in `.txt`/`.lst`: a list, one path per line, `#` comments,
///   relative paths taken from the list's folder;
/// - any other existing file: an image, whatever its name;
/// - a text with `*` or `?` that is not an existing path: a glob (`*`, `?` within one path
///   component, `**` for any number of folders), keeping image files by extension.
///
/// A missing input, an empty directory or a glob with no match is an error (exit 2).
pub fn collect_inputs(args: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for a in args {
        let before = out.len();
        let p = Path::new(a);
        if let Some(list) = a.strip_prefix('@') {
            read_list(Path::new(list), &mut out)?;
        } else if p.is_dir() {
            walk(p, &mut out).map_err(|source| Error::ReadInput {
                path: p.to_path_buf(),
                source,
            })?;
            if out.len() == before {
                return Err(Error::BadInput(format!(
                    "{a}: directory holds no image files ({})",
                    IMAGE_EXTENSIONS.join(", ")
                )));
            }
        } else if p.exists() {
            if is_list_file(p) {
                read_list(p, &mut out)?;
            } else {
                out.push(p.to_path_buf());
            }
        } else if has_glob_chars(a) {
            glob(a, &mut out);
            if out.len() == before {
                return Err(Error::BadInput(format!(
                    "{a}: the pattern matches no image files ({})",
                    IMAGE_EXTENSIONS.join(", ")
                )));
            }
        } else {
            return Err(Error::ReadInput {
                path: p.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn read_list(list: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let bytes = std::fs::read(list).map_err(|source| Error::ReadInput {
        path: list.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::BadInput(format!("{}: a list must be UTF-8 text", list.display())))?;
    let base = list.parent().unwrap_or(Path::new(""));
    let before = out.len();
    for line in text.lines().map(str::trim) {
        if !line.is_empty() && !line.starts_with('#') {
            out.push(base.join(line));
        }
    }
    if out.len() == before {
        return Err(Error::BadInput(format!(
            "{}: the list names no images",
            list.display()
        )));
    }
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if is_hidden(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&path, out)?;
        } else if (ft.is_file() || (ft.is_symlink() && path.is_file())) && has_image_ext(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// `*` (any run of characters), `?` (one character); everything else literal. A leading `.`
/// in a name is only matched by a pattern that starts with `.`, as in a shell.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn glob(pattern: &str, out: &mut Vec<PathBuf>) {
    let (base, rest) = if let Some(r) = pattern.strip_prefix('/') {
        (PathBuf::from("/"), r)
    } else {
        (PathBuf::new(), pattern)
    };
    let comps: Vec<&str> = rest.split('/').filter(|c| !c.is_empty()).collect();
    glob_in(&base, &comps, out);
}

fn glob_in(base: &Path, comps: &[&str], out: &mut Vec<PathBuf>) {
    let dir = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let Some((&c, rest)) = comps.split_first() else {
        if base.is_file() && has_image_ext(base) {
            out.push(base.to_path_buf());
        }
        return;
    };
    if c == "**" {
        glob_in(base, rest, out);
        for (name, path) in entries(dir) {
            let is_real_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
            if is_real_dir && !is_hidden(std::ffi::OsStr::new(&name)) {
                glob_in(&base.join(&name), comps, out);
            }
        }
    } else if has_glob_chars(c) {
        for (name, _) in entries(dir) {
            if wildcard_match(c, &name) {
                glob_in(&base.join(&name), rest, out);
            }
        }
    } else {
        glob_in(&base.join(c), rest, out);
    }
}

/// Entries of a folder with UTF-8 names, sorted; unreadable folders have none.
fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Order

/// splitmix64 (Steele, Lea, Flood 2014; the seeding generator of xoshiro): a 64-bit state
/// advanced by the golden-ratio constant and mixed. Small, fixed forever, so a seed gives the
/// same order on every machine and version.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (Lemire's multiply-shift; the bias for n below 2^32 is < 2^-32).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// Fisher–Yates: for i from the last index down to 1, swap i with `below(i + 1)`.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

// ---------------------------------------------------------------------------------------------
// One image

/// Reads, decodes and letterboxes one image; returns the sample's bytes (preceded by a
/// one-sample .npy header when `header` is given).
pub fn prepare_one(
    path: &Path,
    opts: &Options,
    header: Option<&[u8]>,
) -> std::result::Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let img = image::decode(&bytes)?;
    let (canvas, _) = letterbox::letterbox(&img, opts.width, opts.height, opts.scaleup, opts.pad);
    let mut out = Vec::new();
    if let Some(h) = header {
        out.reserve_exact(h.len() + canvas.data.len() * opts.tensor.dtype.size());
        out.extend_from_slice(h);
    }
    letterbox::append_tensor(&canvas, &opts.tensor, &mut out);
    Ok(out)
}

/// Runs `f`, turning a panic into an error message, so a decoder bug on a hostile file skips
/// that file instead of ending the run.
fn no_panic<T>(
    f: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = crate::error::panic_text(p.as_ref());
            Err(format!("decoder failed (internal panic: {msg})"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The run

/// Removes the staging folder unless told the run completed. Drop never panics.
struct Staging {
    dir: PathBuf,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn existing_npy(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|source| Error::ReadInput {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "npy") && p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

struct Progress {
    on: bool,
    tty: bool,
    start: Instant,
    last: Instant,
    drawn: bool,
}

impl Progress {
    fn new(on: bool) -> Self {
        let now = Instant::now();
        Progress {
            on,
            tty: std::io::stderr().is_terminal(),
            start: now,
            last: now,
            drawn: false,
        }
    }
    fn line(&self, done: usize, total: usize, skipped: usize) -> String {
        let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        format!("prepare: {done}/{total} images, {skipped} skipped, {rate:.1} images/s")
    }
    fn update(&mut self, done: usize, total: usize, skipped: usize) {
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(10)
        };
        if !self.on || self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        let l = self.line(done, total, skipped);
        let mut e = std::io::stderr().lock();
        if self.tty {
            let _ = write!(e, "\r\x1b[K{l}");
            self.drawn = true;
        } else {
            let _ = writeln!(e, "{l}");
        }
    }
    fn message(&mut self, msg: &str) {
        if !self.on {
            return;
        }
        let mut e = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(e, "\r\x1b[K");
            self.drawn = false;
        }
        let _ = writeln!(e, "{msg}");
    }
    fn finish(&mut self, done: usize, total: usize, skipped: usize) {
        if self.on && self.tty {
            let l = self.line(done, total, skipped);
            let _ = writeln!(std::io::stderr().lock(), "\r\x1b[K{l}");
        }
    }
}

/// Shared by the workers and the collector: the next input to take, how far the collector has
/// consumed in order (workers stay within a window ahead of it, bounding memory), and stop.
struct Queue {
    next: usize,
    consumed: usize,
    stop: bool,
}

/// Prepares `inputs` (already collected and sorted) into `opts.out_dir`. On failure, an
/// output folder this run created is removed again (it is empty then).
pub fn run(inputs: Vec<PathBuf>, opts: &Options) -> Result<Summary> {
    let created = !opts.out_dir.exists();
    let r = run_inner(inputs, opts);
    if r.is_err() && created {
        let _ = std::fs::remove_dir(&opts.out_dir);
    }
    r
}

fn run_inner(mut inputs: Vec<PathBuf>, opts: &Options) -> Result<Summary> {
    let start = Instant::now();
    if inputs.is_empty() {
        return Err(Error::BadInput("no input images".into()));
    }
    if opts.per_batch == 0 || opts.width == 0 || opts.height == 0 || opts.jobs == 0 {
        return Err(Error::Usage(
            "--per-batch, --imgsz and --jobs must be at least 1".into(),
        ));
    }
    if let Some(seed) = opts.seed {
        shuffle(&mut inputs, seed);
    }
    let candidates = inputs.len();
    let want = opts.limit.unwrap_or(candidates).min(candidates);

    std::fs::create_dir_all(&opts.out_dir).map_err(|source| Error::Io {
        op: "cannot create",
        path: opts.out_dir.clone(),
        source,
    })?;
    let old = existing_npy(&opts.out_dir)?;
    if let (Some(first), false) = (old.first(), opts.force) {
        return Err(Error::BadInput(format!(
            "{} already holds {} .npy file(s) (e.g. {}); they would mix with this run's samples. \
             Pass --force to replace them, or choose an empty folder",
            opts.out_dir.display(),
            old.len(),
            first.display()
        )));
    }
    let staging = Staging {
        dir: opts
            .out_dir
            .join(format!(".trtq-prepare.{}.tmp", std::process::id())),
    };
    std::fs::create_dir_all(&staging.dir).map_err(|source| Error::Io {
        op: "cannot create",
        path: staging.dir.clone(),
        source,
    })?;

    let sample_shape = opts.tensor.sample_shape(opts.width, opts.height);
    let sample_bytes = sample_shape.iter().product::<usize>() * opts.tensor.dtype.size();
    let files_max = want.div_ceil(opts.per_batch).max(1);
    let digits = files_max.to_string().len().max(6);
    let name = |i: usize| format!("{i:0digits$}.npy");
    let per_sample_header = if opts.per_batch == 1 {
        let mut s = vec![1];
        s.extend(sample_shape);
        Some(npy::header_bytes(opts.tensor.dtype, &s).map_err(Error::BadInput)?)
    } else {
        None
    };

    let window = opts.jobs * 4;
    let queue = Mutex::new(Queue {
        next: 0,
        consumed: 0,
        stop: false,
    });
    let cv = Condvar::new();
    let mut progress = Progress::new(opts.progress);
    let mut files: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    let mut skipped = Vec::new();
    let mut prepared = 0usize;

    // Decoder panics are caught per image; keep the default hook from printing them as if
    // the program had crashed.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let result: Result<()> = std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<(usize, std::result::Result<Vec<u8>, String>)>(window);
        for _ in 0..opts.jobs.min(candidates) {
            let tx = tx.clone();
            let (queue, cv, inputs, header) = (&queue, &cv, &inputs, per_sample_header.as_deref());
            s.spawn(move || loop {
                let idx = {
                    let Ok(mut q) = queue.lock() else { return };
                    loop {
                        if q.stop || q.next >= inputs.len() {
                            return;
                        }
                        if q.next < q.consumed + window {
                            break;
                        }
                        q = match cv.wait(q) {
                            Ok(q) => q,
                            Err(_) => return,
                        };
                    }
                    q.next += 1;
                    q.next - 1
                };
                let r = no_panic(|| prepare_one(&inputs[idx], opts, header))
                    .map_err(|m| m.split_whitespace().collect::<Vec<_>>().join(" "));
                if tx.send((idx, r)).is_err() {
                    return;
                }
            });
        }
        drop(tx);

        let stop = || {
            if let Ok(mut q) = queue.lock() {
                q.stop = true;
            }
            cv.notify_all();
        };
        let mut pending: BTreeMap<usize, std::result::Result<Vec<u8>, String>> = BTreeMap::new();
        let mut consumed = 0usize;
        let mut batch: Vec<u8> = Vec::new();
        let mut batch_src: Vec<PathBuf> = Vec::new();
        let flush = |batch: &mut Vec<u8>,
                     batch_src: &mut Vec<PathBuf>,
                     files: &mut Vec<(PathBuf, Vec<PathBuf>)>|
         -> Result<()> {
            if batch_src.is_empty() {
                return Ok(());
            }
            let n = batch_src.len();
            let mut shape = vec![n];
            shape.extend(sample_shape);
            let bytes = npy::to_bytes(opts.tensor.dtype, &shape, batch).map_err(Error::BadInput)?;
            let fname = name(files.len());
            crate::outfile::write_atomic(&staging.dir.join(&fname), &bytes)?;
            files.push((PathBuf::from(fname), std::mem::take(batch_src)));
            batch.clear();
            Ok(())
        };
        let outcome = (|| -> Result<()> {
            for (idx, r) in rx.iter() {
                pending.insert(idx, r);
                while let Some(r) = pending.remove(&consumed) {
                    let path = &inputs[consumed];
                    consumed += 1;
                    match r {
                        Err(reason) if opts.strict => {
                            return Err(Error::BadInput(format!(
                                "{}: {reason}; stopped by --strict, {} left unchanged",
                                path.display(),
                                opts.out_dir.display()
                            )));
                        }
                        Err(reason) => {
                            progress.message(&format!("skipped {}: {reason}", path.display()));
                            skipped.push(Skipped {
                                path: path.clone(),
                                reason,
                            });
                        }
                        Ok(bytes) => {
                            prepared += 1;
                            if opts.per_batch == 1 {
                                let fname = name(files.len());
                                crate::outfile::write_atomic(&staging.dir.join(&fname), &bytes)?;
                                files.push((PathBuf::from(fname), vec![path.clone()]));
                            } else {
                                if batch.is_empty() {
                                    batch.reserve_exact(sample_bytes * opts.per_batch);
                                }
                                batch.extend_from_slice(&bytes);
                                batch_src.push(path.clone());
                                if batch_src.len() == opts.per_batch {
                                    flush(&mut batch, &mut batch_src, &mut files)?;
                                }
                            }
                        }
                    }
                    if let Ok(mut q) = queue.lock() {
                        q.consumed = consumed;
                    }
                    cv.notify_all();
                    progress.update(prepared, want, skipped.len());
                    if prepared == want {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })();
        stop();
        drop(rx);
        outcome?;
        flush(&mut batch, &mut batch_src, &mut files)
    });
    std::panic::set_hook(hook);
    progress.finish(prepared, want, skipped.len());
    result?;

    if prepared == 0 {
        let mut list: Vec<String> = skipped
            .iter()
            .take(10)
            .map(|k| format!("\n  {}: {}", k.path.display(), k.reason))
            .collect();
        if skipped.len() > 10 {
            list.push(format!("\n  ... and {} more", skipped.len() - 10));
        }
        return Err(Error::BadInput(format!(
            "none of the {} input(s) could be prepared; {} left unchanged; skipped:{}",
            candidates,
            opts.out_dir.display(),
            list.concat()
        )));
    }

    // Commit: move the new files into place, then remove older .npy files not replaced.
    for (f, _) in &files {
        let dest = opts.out_dir.join(f);
        std::fs::rename(staging.dir.join(f), &dest).map_err(|source| Error::Io {
            op: "cannot move into place",
            path: dest.clone(),
            source,
        })?;
    }
    let mut removed = Vec::new();
    let written: std::collections::HashSet<&Path> =
        files.iter().map(|(f, _)| f.as_path()).collect();
    for p in old {
        if p.file_name()
            .is_some_and(|n| !written.contains(Path::new(n)))
        {
            std::fs::remove_file(&p).map_err(|source| Error::Io {
                op: "cannot remove the older file",
                path: p.clone(),
                source,
            })?;
            removed.push(p);
        }
    }
    let mut manifest = String::from("# file\trow\timage\n");
    for (f, srcs) in &files {
        for (row, src) in srcs.iter().enumerate() {
            manifest.push_str(&format!("{}\t{row}\t{}\n", f.display(), src.display()));
        }
    }
    crate::outfile::write_atomic(&opts.out_dir.join("sources.tsv"), manifest.as_bytes())?;
    drop(staging);

    Ok(Summary {
        candidates,
        prepared,
        files: files
            .into_iter()
            .map(|(f, s)| (opts.out_dir.join(f), s))
            .collect(),
        skipped,
        sample_shape,
        removed,
        seconds: start.elapsed().as_secs_f64(),
        jobs: opts.jobs,
    })
}

impl Summary {
    /// The closing text (stdout).
    pub fn text(&self, opts: &Options) -> String {
        let t = &opts.tensor;
        let mut s = format!(
            "prepared {} of {} image(s) into {} file(s) in {} (each sample {} {}; {} per file)\n",
            self.prepared,
            self.candidates,
            self.files.len(),
            opts.out_dir.display(),
            shape_str(&self.sample_shape),
            t.dtype,
            opts.per_batch
        );
        s.push_str(&format!(
            "letterbox {}x{} (WxH){}, pad {}, {}, {}, {}\n",
            opts.width,
            opts.height,
            if opts.scaleup {
                ""
            } else {
                " without upscaling"
            },
            opts.pad,
            if t.bgr { "BGR" } else { "RGB" },
            if t.normalise { "/255 (0..1)" } else { "0..255" },
            match t.layout {
                letterbox::Layout::Nchw => "NCHW",
                letterbox::Layout::Nhwc => "NHWC",
            }
        ));
        s.push_str(&format!(
            "{:.1} images/s ({:.2} s, {} thread(s)); sources listed in {}\n",
            self.prepared as f64 / self.seconds.max(1e-9),
            self.seconds,
            self.jobs,
            opts.out_dir.join("sources.tsv").display()
        ));
        if !self.removed.is_empty() {
            s.push_str(&format!(
                "removed {} older .npy file(s) (--force)\n",
                self.removed.len()
            ));
        }
        if self.skipped.is_empty() {
            s.push_str("skipped 0\n");
        } else {
            s.push_str(&format!("skipped {}:\n", self.skipped.len()));
            for k in &self.skipped {
                s.push_str(&format!("  {}: {}\n", k.path.display(), k.reason));
            }
        }
        s
    }

    pub fn json(&self, opts: &Options) -> crate::json::Value {
        use crate::json::Value;
        let t = &opts.tensor;
        Value::obj([
            ("out_dir", Value::from(opts.out_dir.display().to_string())),
            ("candidates", self.candidates.into()),
            ("prepared", self.prepared.into()),
            (
                "files",
                Value::Arr(
                    self.files
                        .iter()
                        .map(|(f, s)| {
                            Value::obj([
                                ("path", Value::from(f.display().to_string())),
                                ("samples", s.len().into()),
                            ])
                        })
                        .collect(),
                ),
            ),
            (
                "sample_shape",
                Value::Arr(self.sample_shape.iter().map(|&d| d.into()).collect()),
            ),
            ("dtype", Value::from(t.dtype.name())),
            ("per_batch", opts.per_batch.into()),
            (
                "skipped",
                Value::Arr(
                    self.skipped
                        .iter()
                        .map(|k| {
                            Value::obj([
                                ("path", Value::from(k.path.display().to_string())),
                                ("reason", Value::from(k.reason.clone())),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("removed", self.removed.len().into()),
            ("seconds", self.seconds.into()),
            (
                "images_per_second",
                (self.prepared as f64 / self.seconds.max(1e-9)).into(),
            ),
            ("jobs", self.jobs.into()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.jpg", "a.jpg"));
        assert!(!wildcard_match("*.jpg", ".jpg"));
        assert!(wildcard_match(".*", ".hidden"));
        assert!(wildcard_match("img_??.png", "img_01.png"));
        assert!(!wildcard_match("img_??.png", "img_1.png"));
        assert!(wildcard_match("*a*b*", "xxaxxbxx"));
        assert!(!wildcard_match("*a*b", "xxaxxbxx"));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*", "a"));
        assert!(!wildcard_match("", "a"));
    }

    #[test]
    fn paths_sort_by_component() {
        // As README says: a folder's files before a sibling name that extends the folder's.
        let mut v = [PathBuf::from("a.b/c.jpg"), PathBuf::from("a/b.jpg")];
        v.sort();
        assert_eq!(v[0], Path::new("a/b.jpg"));
    }

    #[test]
    fn splitmix64_reference_values() {
        // First outputs for seed 1234567, as published with the reference C code
        // (prng.di.unimi.it splitmix64.c).
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
        assert_eq!(r.next_u64(), 9817491932198370423);
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let base: Vec<u32> = (0..100).collect();
        let mut a = base.clone();
        let mut b = base.clone();
        let mut c = base.clone();
        shuffle(&mut a, 7);
        shuffle(&mut b, 7);
        shuffle(&mut c, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, base);
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, base);
    }
}
