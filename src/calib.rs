//! The calibrator TensorRT calls during an INT8 build: it hands out the feed's device
//! pointers batch by batch, serves an approved calibration cache, keeps the cache TensorRT
//! writes in memory (files are written only once the whole build succeeded), reports
//! progress, and turns Ctrl-C into "no more batches".
//!
//! Also here: the decision whether an existing cache may be reused ([`decide_cache`]), which
//! is a pure function of the file, the loaded TensorRT, the algorithm and the network inputs.

use std::io::IsTerminal;
use std::os::raw::c_void;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cache::{self, Cache, TrtVersion};
use crate::error::{Error, Result};
use crate::feed::Feed;
use crate::interrupt;
use crate::trt;

/// Test hook, not a user feature: `TRTQ_TEST_PANIC=getbatch|readcache|writecache|log` makes
/// that callback panic, so tests/faults.rs can show through the binary that a panic inside
/// a callback called from C++ ends as a clean error (exit 1), never an abort. Read once.
pub fn test_panic(point: &str) {
    static HOOK: OnceLock<Option<String>> = OnceLock::new();
    if HOOK
        .get_or_init(|| std::env::var("TRTQ_TEST_PANIC").ok())
        .as_deref()
        == Some(point)
    {
        panic!("test hook TRTQ_TEST_PANIC={point}");
    }
}

/// What to do with an existing calibration cache, decided before TensorRT runs.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheDecision {
    /// No cache file: calibrate.
    Absent,
    /// The cache matches: hand these bytes to TensorRT.
    Reuse(Vec<u8>),
    /// A cache exists but does not match (the reason says why): calibrate and replace it.
    Mismatch(String),
    /// `--recalibrate`: calibrate and replace the cache whatever it holds.
    Forced,
}

/// The cache header's name of a calibration algorithm.
pub fn cache_algorithm(a: trt::Algorithm) -> cache::Algorithm {
    match a {
        trt::Algorithm::Entropy2 => cache::Algorithm::EntropyCalibration2,
        trt::Algorithm::Entropy => cache::Algorithm::EntropyCalibration,
        trt::Algorithm::MinMax => cache::Algorithm::MinMaxCalibration,
        trt::Algorithm::Legacy { .. } => cache::Algorithm::LegacyCalibration,
    }
}

/// Decides whether the cache at `path` may be reused by TensorRT `version` calibrating with
/// `algorithm` a network whose inputs are `inputs`. TensorRT silently ignores a cache of
/// another version or algorithm (and trtexec then calibrates with null inputs), so every
/// mismatch is found here and said. A file that is not a cache at all is an error, unless
/// `recalibrate` allows replacing it.
pub fn decide_cache(
    path: &Path,
    recalibrate: bool,
    version: TrtVersion,
    algorithm: trt::Algorithm,
    inputs: &[&str],
) -> Result<CacheDecision> {
    if !path.exists() {
        return Ok(CacheDecision::Absent);
    }
    if recalibrate {
        return Ok(CacheDecision::Forced);
    }
    let bytes = std::fs::read(path).map_err(|source| Error::ReadInput {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed = cache::parse(&bytes).map_err(|e| Error::CacheFormat {
        path: path.to_path_buf(),
        line: e.line,
        msg: format!(
            "{} (the existing cache is not a TensorRT calibration cache: fix or remove it, \
             or pass --recalibrate to replace it)",
            e.msg
        ),
    })?;
    Ok(judge(&parsed, bytes, version, algorithm, inputs))
}

fn judge(
    c: &Cache,
    bytes: Vec<u8>,
    version: TrtVersion,
    algorithm: trt::Algorithm,
    inputs: &[&str],
) -> CacheDecision {
    let fit = c.fit(version, &cache_algorithm(algorithm), inputs);
    let mut why = Vec::new();
    if let Some(h) = fit.header {
        why.push(h);
    }
    if !fit.missing.is_empty() {
        why.push(format!(
            "it has no entry for network input{} {}",
            if fit.missing.len() == 1 { "" } else { "s" },
            fit.missing.join(", ")
        ));
    }
    if c.entries.is_empty() {
        why.push("it has no entries".into());
    }
    if why.is_empty() {
        CacheDecision::Reuse(bytes)
    } else {
        CacheDecision::Mismatch(why.join("; "))
    }
}

/// Progress on stderr: one rewritten line on a terminal, plain lines (at most one every
/// two seconds, and the last) otherwise.
pub struct Progress {
    total: usize,
    samples_per_batch: usize,
    bytes_per_batch: u64,
    start: Option<Instant>,
    last: Option<Instant>,
    tty: bool,
    enabled: bool,
}

impl Progress {
    pub fn new(
        total: usize,
        samples_per_batch: usize,
        bytes_per_batch: u64,
        enabled: bool,
    ) -> Self {
        Progress {
            total,
            samples_per_batch,
            bytes_per_batch,
            start: None,
            last: None,
            tty: std::io::stderr().is_terminal(),
            enabled,
        }
    }

    fn started(&mut self) {
        if self.start.is_none() {
            self.start = Some(Instant::now());
        }
    }

    /// Called after batch `done` (1-based) was handed to TensorRT.
    pub fn tick(&mut self, done: usize) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        let last = done == self.total;
        let due = self.last.map_or(true, |t| {
            now - t >= Duration::from_millis(if self.tty { 100 } else { 2000 })
        });
        if !(due || last) {
            return;
        }
        self.last = Some(now);
        let secs = (now - start).as_secs_f64().max(1e-9);
        let sps = (done * self.samples_per_batch) as f64 / secs;
        let gbps = (done as u64 * self.bytes_per_batch) as f64 / secs / 1e9;
        let eta = if done > 0 {
            secs / done as f64 * (self.total.saturating_sub(done)) as f64
        } else {
            0.0
        };
        let line = format!(
            "calibrating: batch {done}/{} | {sps:.1} samples/s | {gbps:.2} GB/s | ETA {eta:.1} s",
            self.total
        );
        if self.tty {
            eprint!("\r{line}\x1b[K");
            if last {
                eprintln!();
            }
        } else {
            eprintln!("{line}");
        }
    }

    /// Ends a rewritten terminal line early (abort, error).
    pub fn finish(&mut self) {
        if self.enabled && self.tty && self.last.is_some() {
            eprintln!();
            self.last = None;
        }
    }
}

/// Where the calibrator stands at the end of a build.
#[derive(Debug, Default, Clone)]
pub struct CalibReport {
    /// Batches handed to TensorRT.
    pub batches: usize,
    /// TensorRT asked for batches (it did not take the cache).
    pub asked_for_batches: bool,
    /// We offered a cache to TensorRT.
    pub offered_cache: bool,
    /// The cache TensorRT wrote, if it did.
    pub written_cache: Option<Vec<u8>>,
    /// Ctrl-C was seen: TensorRT was told there are no more batches.
    pub interrupted: bool,
    /// From the first batch request to the last answer.
    pub calibration_time: Duration,
    /// Time TensorRT waited inside getBatch for data (feed waits included).
    pub wait_time: Duration,
    /// The part of `wait_time` spent in the first getBatch: the first batch cannot overlap
    /// anything, so steady-state waiting is `wait_time - first_wait`.
    pub first_wait: Option<Duration>,
}

/// The calibrator handed to [`trt::Session::build`].
pub struct FeedCalibrator<'a> {
    feed: Option<Feed>,
    /// The data set's input names, in the order of the feed's pointers.
    order: Vec<String>,
    batch_size: usize,
    max_batches: usize,
    cache: Option<Vec<u8>>,
    progress: Progress,
    first_request: Option<Instant>,
    report: CalibReport,
    ctx: Option<&'a crate::cuda::Context>,
}

impl<'a> FeedCalibrator<'a> {
    /// `feed` is `None` when no data was given (only allowed while reusing a cache).
    pub fn new(
        feed: Option<Feed>,
        order: Vec<String>,
        batch_size: usize,
        max_batches: usize,
        cache: Option<Vec<u8>>,
        progress: Progress,
        ctx: Option<&'a crate::cuda::Context>,
    ) -> Self {
        FeedCalibrator {
            feed,
            order,
            batch_size,
            max_batches,
            cache,
            progress,
            first_request: None,
            report: CalibReport::default(),
            ctx,
        }
    }

    pub fn report(&self) -> &CalibReport {
        &self.report
    }

    pub fn feed(&self) -> Option<&Feed> {
        self.feed.as_ref()
    }

    /// Ends the progress line (after the build).
    pub fn finish_progress(&mut self) {
        self.progress.finish();
    }

    fn answer(&mut self, started: Instant) {
        let now = Instant::now();
        self.report.wait_time += now - started;
        self.report.first_wait.get_or_insert(now - started);
        if let Some(f) = self.first_request {
            self.report.calibration_time = now - f;
        }
    }
}

impl trt::Calibrator for FeedCalibrator<'_> {
    fn batch_size(&self) -> usize {
        self.batch_size
    }

    fn next_batch(&mut self, names: &[&str], bindings: &mut [*mut c_void]) -> Result<bool> {
        test_panic("getbatch");
        let started = Instant::now();
        self.first_request.get_or_insert(started);
        self.report.asked_for_batches = true;
        self.progress.started();
        if interrupt::requested() {
            self.report.interrupted = true;
            self.answer(started);
            return Ok(false);
        }
        if self.report.batches >= self.max_batches {
            self.answer(started);
            return Ok(false);
        }
        // Map TensorRT's names onto the feed's order before touching the feed, so a name we
        // do not know never leaves a half-consumed batch.
        let mut slots = Vec::with_capacity(names.len());
        for n in names {
            match self.order.iter().position(|o| o == n) {
                Some(i) => slots.push(i),
                None => {
                    return Err(Error::Trt {
                        call: "IInt8Calibrator::getBatch".into(),
                        msg: format!(
                            "TensorRT asked for input '{n}', which has no calibration data (data inputs: {})",
                            self.order.join(", ")
                        ),
                    })
                }
            }
        }
        if bindings.len() != names.len() {
            return Err(Error::Trt {
                call: "IInt8Calibrator::getBatch".into(),
                msg: format!("{} names but {} bindings", names.len(), bindings.len()),
            });
        }
        let Some(feed) = self.feed.as_mut() else {
            return Err(Error::BadInput(
                "TensorRT did not take the calibration cache and asked for batches, but no --data \
                 was given; pass --data to calibrate"
                    .into(),
            ));
        };
        // The feed's CUDA calls need our context current on whichever thread TensorRT uses.
        let _bound = match self.ctx {
            Some(c) => Some(c.bind()?),
            None => None,
        };
        let next = feed.next()?;
        let Some(ptrs) = next else {
            self.answer(started);
            return Ok(false);
        };
        for (b, &slot) in bindings.iter_mut().zip(&slots) {
            let p = ptrs[slot].0;
            if p == 0 {
                return Err(Error::Trt {
                    call: "IInt8Calibrator::getBatch".into(),
                    msg: "the feed produced a null device pointer".into(),
                });
            }
            *b = p as usize as *mut c_void;
        }
        self.report.batches += 1;
        self.answer(started);
        let done = self.report.batches;
        self.progress.tick(done);
        Ok(true)
    }

    fn read_cache(&mut self) -> Result<Option<Vec<u8>>> {
        test_panic("readcache");
        self.report.offered_cache = self.cache.is_some();
        Ok(self.cache.clone())
    }

    fn write_cache(&mut self, cache: &[u8]) -> Result<()> {
        test_panic("writecache");
        self.report.written_cache = Some(cache.to_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(code: u32) -> TrtVersion {
        TrtVersion::from_code(code)
    }

    fn cache_text(header: &str, names: &[&str]) -> Vec<u8> {
        let mut s = format!("{header}\n");
        for n in names {
            s.push_str(&format!("{n}: 3c010a14\n"));
        }
        s.into_bytes()
    }

    fn decide(bytes: &[u8], code: u32, algo: trt::Algorithm, inputs: &[&str]) -> CacheDecision {
        let c = cache::parse(bytes).unwrap();
        judge(&c, bytes.to_vec(), v(code), algo, inputs)
    }

    #[test]
    fn reuse_only_when_everything_matches() {
        let ok = cache_text("TRT-100300-EntropyCalibration2", &["images", "out"]);
        assert_eq!(
            decide(&ok, 100300, trt::Algorithm::Entropy2, &["images"]),
            CacheDecision::Reuse(ok.clone())
        );
        match decide(&ok, 8601, trt::Algorithm::Entropy2, &["images"]) {
            CacheDecision::Mismatch(m) => {
                assert!(m.contains("10.3.0") && m.contains("8.6.1"), "{m}")
            }
            d => panic!("{d:?}"),
        }
        match decide(&ok, 100300, trt::Algorithm::MinMax, &["images"]) {
            CacheDecision::Mismatch(m) => assert!(m.contains("MinMaxCalibration"), "{m}"),
            d => panic!("{d:?}"),
        }
        match decide(&ok, 100300, trt::Algorithm::Entropy2, &["images", "mask"]) {
            CacheDecision::Mismatch(m) => assert!(m.contains("input mask"), "{m}"),
            d => panic!("{d:?}"),
        }
        let legacy = b"0 3ff0000000000000 3fefffe5c91d14e4\nimages: 3c010a14\n".to_vec();
        assert!(matches!(
            decide(&legacy, 100300, trt::Algorithm::Entropy2, &["images"]),
            CacheDecision::Mismatch(_)
        ));
    }

    #[test]
    fn missing_forced_and_malformed_files() {
        let dir = std::env::temp_dir().join(format!("trtq-calib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.cache");
        let a = trt::Algorithm::Entropy2;
        assert_eq!(
            decide_cache(&p, false, v(100300), a, &["x"]).unwrap(),
            CacheDecision::Absent
        );
        std::fs::write(&p, b"not a cache at all\n").unwrap();
        let e = decide_cache(&p, false, v(100300), a, &["x"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--recalibrate"), "{e}");
        assert_eq!(
            decide_cache(&p, true, v(100300), a, &["x"]).unwrap(),
            CacheDecision::Forced
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
