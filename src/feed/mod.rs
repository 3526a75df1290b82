//! Streams a [`DataSet`] into device memory, batch after batch, for the calibrator.
//!
//! A background thread prepares batch k+1 while the consumer works on batch k: copy threads
//! read the batch's bytes from the files into small pinned staging buffers (converting dtypes
//! on the way if asked), and the thread queues an asynchronous host-to-device copy of each
//! filled buffer on its own stream, then records an event per batch. [`Feed::next`] hands the
//! previous batch's device buffers back, waits for the next batch's event and returns its
//! device pointers. With `depth` device slots (default 3) the consumer holds one, one is being
//! copied and one being filled.
//!
//! Paths ([`FeedPath`]):
//! - **staged**: file → a ring of pinned chunk buffers (CPU: `pread`, or a copy from the mapping
//!   with `TRTQ_FEED_READ=map`) → device (DMA), chunk after chunk with no pause between
//!   batches (module `staged`); finished chunks go several to a copy call while the copy
//!   engine is busy (module `merge`). Always possible.
//! - **registered**: the mapped file itself is page-locked (cuMemHostRegister, read-only) and
//!   copied from directly: no CPU copy. Only when every batch is contiguous in one file and no
//!   conversion is needed. Windows of max(2 batches, 64 MiB) are registered in turn, so the
//!   locked (resident) memory stays bounded however large the file.
//! - **mapped**: for integrated GPUs (Jetson), where device and host share memory: batches are
//!   written into mapped pinned memory that the GPU reads in place (zero copy, no DMA), by the
//!   same copy threads and in the same chunks as staged, each slot cut into chunk pieces.
//! - **pageable**: synchronous copies from ordinary memory; the fallback when pinned memory
//!   cannot be allocated (announced as a warning).
//!
//! `auto` picks mapped on integrated GPUs; on discrete GPUs it measures: batch 0 warms up
//! staged, batches 1-2 are timed staged, then up to 8 MiB of batch 3 are registered alone; if
//! registering could pay, staging pauses after the batches under way and the next two go
//! registered (their time includes registering their window), and the faster path carries on.
//! (Timing batch 0 against batch 1, as a first version did, charged the warm-up to staging and
//! picked registered on an H200, where registered is about a quarter as fast for a single
//! pass; one batch against one batch was still noisy there: bench/RESULTS.md.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cuda::{
    Context, DeviceBuffer, DevicePtr, Event, HostRegistration, PinnedBuffer, PinnedChunk, Stream,
};

mod merge;
mod staged;
mod trace;

use crate::data::{DataSet, Piece};
use crate::error::{Error, Result};
use crate::npy::{f32_to_f16, DType, NpyFile};
use merge::Merger;
use staged::{Ends, Flow, Stager};
pub use trace::DmaTrace;
use trace::Tracer;

/// What `--feed` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedMode {
    #[default]
    Auto,
    Staged,
    Registered,
    Mapped,
}

impl std::str::FromStr for FeedMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(FeedMode::Auto),
            "staged" => Ok(FeedMode::Staged),
            "registered" => Ok(FeedMode::Registered),
            "mapped" => Ok(FeedMode::Mapped),
            _ => Err(format!(
                "unknown feed mode '{s}' (auto, staged, registered, mapped)"
            )),
        }
    }
}

/// The path batches actually take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedPath {
    Staged,
    Registered,
    Mapped,
    Pageable,
}

impl FeedPath {
    pub fn name(self) -> &'static str {
        match self {
            FeedPath::Staged => "staged",
            FeedPath::Registered => "registered",
            FeedPath::Mapped => "mapped",
            FeedPath::Pageable => "pageable",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FeedOptions {
    pub mode: FeedMode,
    /// Device slots (batches in flight, including the one the consumer holds); at least 2.
    pub depth: usize,
    /// CPU threads for staging copies; 0 = the machine's cores less 2, between 1 and 12.
    pub copy_threads: usize,
    /// Bytes registered at once on the registered path; 0 = max(2 batches, 64 MiB).
    pub reg_window: usize,
    /// Pinned staging bytes (the ring of chunk buffers); 0 = 64 MiB, or two batches if less.
    pub staging_bytes: usize,
    /// Bytes per staging chunk; 0 = the ring divided among the copy threads, at most 2 MiB
    /// where copies are merged ([`FeedOptions::merge_copies`]), else 4 MiB.
    pub chunk_bytes: usize,
    /// Time every ring copy on the device ([`Feed::dma_trace`]); on most hosts the events cost
    /// the feed a few %.
    pub trace_dma: bool,
    /// Queue up to 4 finished ring chunks in one copy call while the copy engine has work
    /// queued (module `merge`). Needs cuMemcpyBatchAsync (drivers since CUDA 12.8) and is
    /// skipped without it; `TRTQ_FEED_MERGE=0` turns it off too.
    pub merge_copies: bool,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            mode: FeedMode::Auto,
            depth: 3,
            copy_threads: 0,
            reg_window: 0,
            staging_bytes: 0,
            chunk_bytes: 0,
            trace_dma: false,
            merge_copies: true,
        }
    }
}

/// The staged path's resources: copy threads and the ring of pinned chunk buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staging {
    pub threads: usize,
    pub chunk_bytes: usize,
    pub buffers: usize,
    /// Chunks queued in one copy call at most (1: one call per chunk).
    pub merge_chunks: usize,
}

/// What the feed did so far.
#[derive(Debug, Clone, Default)]
pub struct FeedStats {
    /// Batches delivered by [`Feed::next`].
    pub batches: usize,
    /// Bytes delivered (device side, all inputs).
    pub bytes: u64,
    /// Time the consumer spent waiting inside `next`, per batch.
    pub waits: Vec<Duration>,
    /// How the path was chosen (auto's measurements, or "forced by --feed").
    pub decision: String,
    /// Things the user should know (fallbacks).
    pub warnings: Vec<String>,
}

impl FeedStats {
    pub fn waited(&self) -> Duration {
        self.waits.iter().sum()
    }
    pub fn mean_wait(&self) -> Duration {
        if self.waits.is_empty() {
            Duration::ZERO
        } else {
            self.waited() / self.waits.len() as u32
        }
    }
    /// 99th percentile (nearest rank) of the per-batch waits.
    /// Mean wait after the first batch (the first cannot overlap with anything).
    pub fn mean_wait_after_first(&self) -> Duration {
        match self.waits.len() {
            0 | 1 => Duration::ZERO,
            n => self.waits[1..].iter().sum::<Duration>() / (n - 1) as u32,
        }
    }
    pub fn p99_wait(&self) -> Duration {
        if self.waits.is_empty() {
            return Duration::ZERO;
        }
        let mut w = self.waits.clone();
        w.sort();
        let rank = ((w.len() as f64) * 0.99).ceil() as usize;
        w[rank.clamp(1, w.len()) - 1]
    }
}

enum Msg {
    Ready { slot: usize },
    Decided { path: FeedPath, decision: String },
    Warning(String),
}

/// Device pointers for the next batch, per input, until the data ends.
pub struct Feed {
    ready_rx: Option<Receiver<Result<Msg>>>,
    free_tx: Option<Sender<usize>>,
    worker: Option<JoinHandle<()>>,
    slot_ptrs: Vec<Vec<DevicePtr>>,
    slot_events: Arc<Vec<Event>>,
    batch_bytes: u64,
    batches: usize,
    current: Option<usize>,
    depth: usize,
    started: bool,
    path: FeedPath,
    stats: FeedStats,
    failed: bool,
    staging: Option<Staging>,
    /// The producer's DMA trace, sent once it fed every batch (with `trace_dma`).
    trace_rx: Option<Receiver<Result<Option<DmaTrace>>>>,
}

/// Slot memory: device buffers (staged/registered/pageable), or mapped pinned buffers cut into
/// staging-chunk pieces that the copy threads fill in place (slot -> input -> piece; a piece is
/// `None` while lent to a copy thread).
enum SlotMem {
    Device(Vec<Vec<DeviceBuffer>>),
    Mapped(Vec<Vec<Vec<Option<PinnedChunk>>>>),
}

impl Feed {
    /// Allocates the slots and staging memory and starts the feeding thread. Allocation
    /// failures are returned here (named: the call and its size); later failures from `next`.
    pub fn new(ctx: &Arc<Context>, data: Arc<DataSet>, opts: FeedOptions) -> Result<Feed> {
        let depth = opts.depth.max(2);
        let n_in = data.inputs().len();
        let info = ctx.info()?;
        let mut warnings = Vec::new();
        let conversion = data.inputs().iter().any(|d| d.data_dtype != d.spec.dtype);
        let contiguous =
            (0..data.batches()).all(|b| (0..n_in).all(|i| data.pieces(i, b).len() == 1));
        let registrable = !conversion && contiguous && info.read_only_host_register;
        let why_not_registered = || {
            if conversion {
                "the data needs dtype conversion".to_string()
            } else if !contiguous {
                "some batches span several files (register works on one file's contiguous bytes)"
                    .to_string()
            } else {
                format!(
                    "device {} ({}) cannot register read-only host memory",
                    info.ordinal, info.name
                )
            }
        };
        let mapped_ok = info.can_map_host_memory;
        let path0 = match opts.mode {
            FeedMode::Mapped if !mapped_ok => {
                return Err(Error::Unsupported(format!(
                    "--feed mapped: device {} ({}) cannot map host memory",
                    info.ordinal, info.name
                )))
            }
            FeedMode::Mapped => FeedPath::Mapped,
            FeedMode::Auto if info.integrated && mapped_ok => FeedPath::Mapped,
            FeedMode::Registered if !registrable => {
                return Err(Error::Unsupported(format!(
                    "--feed registered is not possible here: {}",
                    why_not_registered()
                )))
            }
            FeedMode::Registered => FeedPath::Registered,
            FeedMode::Staged | FeedMode::Auto => FeedPath::Staged,
        };
        let decision = match (opts.mode, path0) {
            (FeedMode::Auto, FeedPath::Mapped) => {
                "auto: integrated GPU, so mapped host memory (zero copy)".to_string()
            }
            (FeedMode::Auto, _) if !registrable => {
                format!(
                    "auto: staged (registered not possible: {})",
                    why_not_registered()
                )
            }
            (FeedMode::Auto, _) => {
                "auto: measuring staged (batches 1-2) against registered (batches 3-4)".into()
            }
            (m, p) => format!(
                "forced by --feed {}",
                match m {
                    FeedMode::Staged => "staged",
                    FeedMode::Registered => "registered",
                    FeedMode::Mapped => "mapped",
                    FeedMode::Auto => p.name(),
                }
            ),
        };

        let threads = if opts.copy_threads > 0 {
            opts.copy_threads
        } else {
            // Leave a core each for the consumer and the system. On a 16-core H200 host the
            // staged feed rose up to 12 threads and no further (14 and 16 were no faster, and
            // calibrate's TensorRT needs CPU too), and on a 32-core one 12 beat 16-28:
            // bench/RESULTS.md.
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .saturating_sub(2)
                .clamp(1, 12)
        };
        let sizes: Vec<usize> = (0..n_in).map(|i| data.batch_bytes(i)).collect();
        let batch_bytes = data.batch_bytes_all();
        // Ring copies merged into one call (module `merge`): staged only (mapped slots are
        // filled in place), and where the driver can.
        let merging = path0 == FeedPath::Staged
            && opts.merge_copies
            && merge_allowed()
            && ctx.can_batch_copies();
        let (chunk, count) = staged::geometry(
            batch_bytes,
            threads,
            opts.staging_bytes,
            opts.chunk_bytes,
            merging,
        );

        // Slot memory.
        let (slots, slot_ptrs) = if path0 == FeedPath::Mapped {
            let mut bufs = Vec::with_capacity(depth);
            let mut ptrs = Vec::with_capacity(depth);
            for _ in 0..depth {
                let row = sizes
                    .iter()
                    .map(|&n| ctx.alloc_pinned(n, true))
                    .collect::<Result<Vec<_>>>()?;
                ptrs.push(
                    row.iter()
                        .map(|b| b.device_ptr())
                        .collect::<Result<Vec<_>>>()?,
                );
                // Cut at the staging chunk size, where the staged stream cuts batches.
                bufs.push(
                    row.into_iter()
                        .map(|b| Ok(b.into_chunks(chunk)?.into_iter().map(Some).collect()))
                        .collect::<Result<Vec<_>>>()?,
                );
            }
            (SlotMem::Mapped(bufs), ptrs)
        } else {
            let mut bufs = Vec::with_capacity(depth);
            let mut ptrs = Vec::with_capacity(depth);
            for _ in 0..depth {
                let row = sizes
                    .iter()
                    .map(|&n| ctx.alloc(n))
                    .collect::<Result<Vec<_>>>()?;
                ptrs.push(row.iter().map(|b| b.ptr()).collect());
                bufs.push(row);
            }
            (SlotMem::Device(bufs), ptrs)
        };

        // Staging: a ring of pinned chunk buffers (staged; auto may fall back to it).
        let mut path = path0;
        let mut ring: Vec<PinnedBuffer> = Vec::new();
        let mut staging = None;
        if path0 == FeedPath::Staged {
            let alloc = || -> Result<Vec<PinnedBuffer>> {
                (0..count).map(|_| ctx.alloc_pinned(chunk, false)).collect()
            };
            match alloc() {
                Ok(r) => {
                    ring = r;
                    staging = Some(Staging {
                        threads,
                        chunk_bytes: chunk,
                        buffers: count,
                        merge_chunks: if merging { merge::MAX_CHUNKS } else { 1 },
                    });
                }
                Err(e) if opts.mode == FeedMode::Auto => {
                    warnings.push(format!(
                        "pinned staging memory could not be allocated ({e}); falling back to \
                         pageable copies, which are several times slower"
                    ));
                    path = FeedPath::Pageable;
                }
                Err(e) => return Err(e),
            }
        }

        let stream = ctx.stream()?;
        let merger = (merging && path == FeedPath::Staged).then(|| Merger::new(ctx));
        let slot_events: Arc<Vec<Event>> = Arc::new(
            (0..depth)
                .map(|_| ctx.event(false))
                .collect::<Result<_>>()?,
        );
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<Msg>>(depth + 4);
        // The slots are handed to the thread on the first `next`: feeding starts when the
        // consumer first asks, so nothing runs (and nothing is timed) before that.
        let (free_tx, free_rx) = mpsc::channel::<usize>();
        let batches = data.batches();
        let auto_measure = opts.mode == FeedMode::Auto && path == FeedPath::Staged && registrable;
        let (up_tx, up_rx) = mpsc::channel::<()>();
        let worker_ctx = ctx.clone();
        let events = slot_events.clone();
        let (trace_tx, trace_rx) = mpsc::channel();
        let tracer = opts.trace_dma.then(|| Tracer::new(ctx, chunk));
        let producer = Producer {
            ctx: worker_ctx,
            data,
            stream,
            ring,
            slots,
            events,
            threads,
            chunk,
            reg_window: opts.reg_window,
            pread: read_with_pread(),
            ready_tx,
            free_rx,
            up: Some(up_tx),
            tracer,
            merger,
            trace_tx: Some(trace_tx),
        };
        let worker = std::thread::Builder::new()
            .name("trtq-feed".into())
            .spawn(move || producer.run(path, auto_measure))
            .map_err(|e| Error::Io {
                op: "starting the feed thread",
                path: Default::default(),
                source: e,
            })?;
        // Setting up ends when the copy threads run (an error, or a panic, ends the wait too).
        let _ = up_rx.recv();
        Ok(Feed {
            ready_rx: Some(ready_rx),
            free_tx: Some(free_tx),
            worker: Some(worker),
            slot_ptrs,
            slot_events,
            batch_bytes: batch_bytes as u64,
            batches,
            current: None,
            depth,
            started: false,
            path,
            stats: FeedStats {
                decision,
                warnings,
                ..Default::default()
            },
            failed: false,
            staging,
            trace_rx: Some(trace_rx),
        })
    }

    /// Starts filling the device slots now instead of at the first [`Feed::next`], so the
    /// first batch is ready when the consumer asks (calibrate calls this before TensorRT's
    /// build; `bench-feed` does not, so its timings include the first batch). Idempotent.
    pub fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        if let Some(tx) = &self.free_tx {
            for s in 0..self.depth {
                let _ = tx.send(s);
            }
        }
        self.wake_worker();
    }

    /// Device pointers of the next batch, one per input in the order of the data set's inputs,
    /// or `None` at the end. The data is complete on the device when this returns. The
    /// pointers stay valid until the next call, which hands their memory back for refilling:
    /// device work reading them must have finished by then (TensorRT's calibrator finishes a
    /// batch before asking for the next). After an error, further calls return `None`.
    // Not `Iterator`: each item borrows the feed (the pointers are valid until the next call).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<&[DevicePtr]>> {
        self.start();
        if let Some(tx) = &self.free_tx {
            if let Some(slot) = self.current.take() {
                let _ = tx.send(slot);
                self.wake_worker();
            }
        }
        if self.failed || self.stats.batches >= self.batches {
            return Ok(None);
        }
        let t0 = Instant::now();
        loop {
            let msg = match self.ready_rx.as_ref().map(|rx| rx.recv()) {
                Some(Ok(m)) => m,
                _ => {
                    self.failed = true;
                    return Err(self.worker_gone());
                }
            };
            match msg {
                Ok(Msg::Ready { slot }) => {
                    if let Err(e) = self.slot_events[slot].synchronize() {
                        self.failed = true;
                        return Err(e);
                    }
                    self.stats.waits.push(t0.elapsed());
                    self.stats.batches += 1;
                    self.stats.bytes += self.batch_bytes;
                    self.current = Some(slot);
                    return Ok(Some(&self.slot_ptrs[slot]));
                }
                Ok(Msg::Decided { path, decision }) => {
                    self.path = path;
                    self.stats.decision = decision;
                }
                Ok(Msg::Warning(w)) => self.stats.warnings.push(w),
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            }
        }
    }

    /// The staged feed thread parks while copy threads work; it must see returned slots.
    fn wake_worker(&self) {
        if let Some(h) = &self.worker {
            h.thread().unpark();
        }
    }

    fn worker_gone(&mut self) -> Error {
        let msg = match self.worker.take().map(|h| h.join()) {
            Some(Err(p)) => crate::error::panic_text(p.as_ref()),
            _ => "it ended without a reason".into(),
        };
        Error::CallbackPanic {
            callback: "feed thread",
            msg,
        }
    }

    /// The path batches take (with `auto`, final once two batches have been delivered).
    pub fn path(&self) -> FeedPath {
        self.path
    }
    pub fn batches(&self) -> usize {
        self.batches
    }
    /// Bytes of one batch, all inputs.
    pub fn batch_bytes(&self) -> u64 {
        self.batch_bytes
    }
    pub fn stats(&self) -> &FeedStats {
        &self.stats
    }
    /// Copy threads and staging ring, when the feed has them (staged, or auto before it chose).
    pub fn staging(&self) -> Option<Staging> {
        self.staging
    }
    /// With [`FeedOptions::trace_dma`], once `next` returned `None` after the last batch: what
    /// the timed ring copies show. `None` without tracing, before the end, after an error, when
    /// no batch went through the ring, or on a second call; when the events could not be read,
    /// `None` and a warning in [`Feed::stats`].
    pub fn dma_trace(&mut self) -> Option<DmaTrace> {
        // Before the end the producer may wait for a slot only `next` gives back.
        if self.failed || self.stats.batches < self.batches {
            return None;
        }
        match self.trace_rx.take()?.recv() {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                self.stats
                    .warnings
                    .push(format!("the DMA trace could not be read: {e}"));
                None
            }
            Err(_) => None,
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        // Disconnecting both channels makes the thread finish; it releases its memory only
        // after its queued copies completed (the buffers' own Drop waits).
        self.free_tx.take();
        self.ready_rx.take();
        self.wake_worker();
        if let Some(h) = self.worker.take() {
            let _ = h.join();
        }
    }
}

struct Producer {
    ctx: Arc<Context>,
    data: Arc<DataSet>,
    stream: Stream,
    /// Pinned chunk buffers for the staged path (empty on the others).
    ring: Vec<PinnedBuffer>,
    slots: SlotMem,
    events: Arc<Vec<Event>>,
    threads: usize,
    /// Bytes per staging chunk (ring buffers, and the pieces of mapped slots).
    chunk: usize,
    reg_window: usize,
    /// Staging copies read the files with `pread` instead of copying from the mapping.
    pread: bool,
    ready_tx: SyncSender<Result<Msg>>,
    free_rx: Receiver<usize>,
    /// Dropped once the copy threads run, which [`Feed::new`] waits for.
    up: Option<mpsc::Sender<()>>,
    tracer: Option<Tracer>,
    merger: Option<Merger>,
    /// Sends the trace (or `None`) once every batch was fed, before waiting for the hang-up.
    trace_tx: Option<mpsc::Sender<Result<Option<DmaTrace>>>>,
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Queued copies write into slot memory and read staging memory that the fields below
        // free: let them finish first, whichever way `run` ended.
        let _ = self.stream.synchronize();
    }
}

/// The registration window currently held for one input.
struct Reg<'a> {
    file: &'a crate::npy::NpyFile,
    /// Registered byte range of the file's map.
    range: std::ops::Range<usize>,
    reg: Option<HostRegistration<'a>>,
}

impl Drop for Reg<'_> {
    fn drop(&mut self) {
        // Unregister first (waits for pending copies), then let the pages leave our RSS.
        self.reg.take();
        self.file.evict_map_range(self.range.clone());
    }
}

/// Bytes registered at once: at least two batches (so registration is spread over several),
/// at least 64 MiB, and so pinned memory stays within 2 batches + 64 MiB beyond the staging.
fn reg_window(batch_bytes: usize, asked: usize) -> usize {
    if asked > 0 {
        asked
    } else {
        (2 * batch_bytes).max(64 << 20)
    }
}

impl Producer {
    fn run(mut self, path: FeedPath, auto_measure: bool) {
        let data = self.data.clone();
        let ring = std::mem::take(&mut self.ring);
        let (threads, chunk, pread) = (self.threads, self.chunk, self.pread);
        let streams = matches!(path, FeedPath::Staged | FeedPath::Mapped);
        std::thread::scope(|sc| {
            let mut stager = streams.then(|| Stager::start(sc, ring, chunk, threads, pread));
            self.up.take();
            self.drive(&data, stager.as_mut(), path, auto_measure);
            // Dropping the stager ends the copy threads; the scope waits for them.
        });
        if let Some(tx) = self.trace_tx.take() {
            let trace = self
                .tracer
                .take()
                .map_or(Ok(None), |t| t.finish(&self.stream));
            let _ = tx.send(trace);
        }
        // Keep the slot memory alive until the consumer is done with the last batch: wait
        // for the Feed to hang up.
        while self.free_rx.recv().is_ok() {}
        let _ = self.stream.synchronize();
    }

    /// Feeds every batch along `path`; with `auto_measure`, batches 1-2 are timed staged, then
    /// registering is tried on batch 3 alone and, if it could pay, on the next two batches
    /// (see below), and the faster path carries on.
    fn drive<'a>(
        &mut self,
        data: &'a DataSet,
        mut stager: Option<&mut Stager<'a>>,
        mut path: FeedPath,
        auto_measure: bool,
    ) {
        let n = data.batches();
        let mut regs: Vec<Option<Reg<'a>>> = (0..data.inputs().len()).map(|_| None).collect();
        // The comparison needs batches 0-4; with fewer, staging carries the whole set.
        let auto_measure = if auto_measure && n < 5 {
            let _ = self.ready_tx.send(Ok(Msg::Decided {
                path: FeedPath::Staged,
                decision: "auto: staged (too few batches to compare)".into(),
            }));
            false
        } else {
            auto_measure
        };
        let mut from = 0;
        if auto_measure {
            // Batch 0 warms up (first use of the ring, the stream and the files) and is not
            // timed; batches 1-2 are timed staged (from batch 0's announcement to batch 2's).
            // Registering costs about as much per byte as the whole registered path, and
            // registered batches cost a lot where it loses (11 GB/s against 46 staged on an
            // H200 VM, bench/RESULTS.md). So next, while staging goes on, batch 3's bytes are
            // registered alone (up to 8 MiB of them, scaled): when registering two batches
            // would take longer than staging them did, less the 20% margin below, registered
            // cannot win, and staging carries on without a pause.
            let staged_ms = std::cell::Cell::new(0.0);
            // The check's own handles: streaming borrows the producer mutably meanwhile.
            let (ctx, tx) = (self.ctx.clone(), self.ready_tx.clone());
            let next = {
                let mut check = |ms: f64, next: usize| -> bool {
                    staged_ms.set(ms);
                    match time_registering(&ctx, data, 3) {
                        Ok(one) if 2.0 * one >= 0.8 * ms => {
                            let _ = tx.send(Ok(Msg::Decided {
                                path: FeedPath::Staged,
                                decision: format!(
                                    "auto: staged (measured: staged {ms:.2} ms for batches 1-2; \
                                     registering batch 3 alone takes about {one:.2} ms (timed \
                                     on up to 8 MiB of it), so registered copies could not be \
                                     faster)"
                                ),
                            }));
                            false
                        }
                        // Batches up to `next` are on their way already; two more must be left
                        // (decided here, so the consumer hears it before those batches).
                        Ok(_) if next + 2 > n => {
                            let _ = tx.send(Ok(Msg::Decided {
                                path: FeedPath::Staged,
                                decision: format!(
                                    "auto: staged (measured: staged {ms:.2} ms for batches 1-2; \
                                     too few batches left to time registered copies)"
                                ),
                            }));
                            false
                        }
                        Ok(_) => true,
                        Err(e) => {
                            let _ = tx.send(Ok(Msg::Warning(format!(
                                "registering the data file failed ({e}); using staged copies"
                            ))));
                            let _ = tx.send(Ok(Msg::Decided {
                                path: FeedPath::Staged,
                                decision: "auto: staged (registering the data file failed)".into(),
                            }));
                            false
                        }
                    }
                };
                match self.staged(stager.as_deref_mut(), data, 0..n, None, Some(&mut check)) {
                    Some(next) => next,
                    None => return, // all staged, or stopped
                }
            };
            let staged_ms = staged_ms.get();
            // Two registered batches (one registration window holds at least 2 batches, so
            // its cost is included once, as in steady state).
            let mut reg_ms = 0.0;
            for b in next..next + 2 {
                let Ok(slot) = self.free_rx.recv() else {
                    return; // the Feed was dropped
                };
                let t0 = Instant::now();
                let res = self
                    .produce(data, &mut regs, FeedPath::Registered, b, slot)
                    .and_then(|()| self.stream.synchronize());
                if let Err(e) = res {
                    // Registration is an optimisation: when the driver refuses it, or a copy
                    // from the registered file fails, stage (the error names which call).
                    let _ = self.ready_tx.send(Ok(Msg::Warning(format!(
                        "direct copies from the registered data file failed ({e}); using staged copies"
                    ))));
                    regs.iter_mut().for_each(|r| *r = None);
                    let _ = self.ready_tx.send(Ok(Msg::Decided {
                        path: FeedPath::Staged,
                        decision: "auto: staged (direct copies from the registered file failed)"
                            .into(),
                    }));
                    self.staged(stager, data, b..n, Some(slot), None);
                    return;
                }
                reg_ms += t0.elapsed().as_secs_f64() * 1e3;
                if b == next + 1 {
                    // Announced before this batch, so a consumer that stops there still sees
                    // it. Registered must win clearly: two batches each are a small sample,
                    // and on an H200 registered measured faster in 1 of 6 comparisons while
                    // streaming at under half of staged's rate (bench/RESULTS.md).
                    path = if reg_ms < 0.8 * staged_ms {
                        FeedPath::Registered
                    } else {
                        FeedPath::Staged
                    };
                    let _ = self.ready_tx.send(Ok(Msg::Decided {
                        path,
                        decision: format!(
                            "auto: {} (measured: staged {staged_ms:.2} ms for batches 1-2, \
                             registered {reg_ms:.2} ms for batches {}-{} including registering \
                             their window)",
                            path.name(),
                            next,
                            next + 1
                        ),
                    }));
                    if path == FeedPath::Staged {
                        regs.iter_mut().for_each(|r| *r = None);
                    }
                }
                if self.ready_tx.send(Ok(Msg::Ready { slot })).is_err() {
                    return;
                }
            }
            from = next + 2;
        }
        if matches!(path, FeedPath::Staged | FeedPath::Mapped) {
            self.staged(stager, data, from..n, None, None);
            return;
        }
        for b in from..n {
            let Ok(slot) = self.free_rx.recv() else {
                return; // the Feed was dropped
            };
            if let Err(e) = self.produce(data, &mut regs, path, b, slot) {
                let _ = self.ready_tx.send(Err(e));
                return;
            }
            if self.ready_tx.send(Ok(Msg::Ready { slot })).is_err() {
                return;
            }
        }
    }

    /// Streams batches `range` through the staging ring, or straight into mapped slots. With
    /// `check` (see [`staged::stream`]), returns the first batch not fed when the check asked
    /// to stop; otherwise `None`: all fed, or feeding must stop (an error was sent to the
    /// consumer, or the Feed was dropped).
    fn staged<'a>(
        &mut self,
        stager: Option<&mut Stager<'a>>,
        data: &'a DataSet,
        range: std::ops::Range<usize>,
        held: Option<usize>,
        check: Option<&mut dyn FnMut(f64, usize) -> bool>,
    ) -> Option<usize> {
        let Some(stager) = stager else {
            let _ = self.ready_tx.send(Err(Error::BadInput(
                "staged copies were chosen without staging memory".into(),
            )));
            return None;
        };
        let conversion = data.inputs().iter().any(|d| d.data_dtype != d.spec.dtype);
        let mut ends = Ends {
            stream: &self.stream,
            slots: &mut self.slots,
            events: &self.events,
            ready_tx: &self.ready_tx,
            free_rx: &self.free_rx,
            evict: !self.pread || conversion,
            trace: self.tracer.as_mut(),
            merge: self.merger.as_mut(),
        };
        match staged::stream(stager, &mut ends, data, range, held, check) {
            Ok(Flow::Paused(next)) => Some(next),
            Ok(Flow::Done | Flow::Hung) => None,
            Err(e) => {
                let _ = self.ready_tx.send(Err(e));
                None
            }
        }
    }

    fn produce<'a>(
        &mut self,
        data: &'a DataSet,
        regs: &mut [Option<Reg<'a>>],
        path: FeedPath,
        b: usize,
        slot: usize,
    ) -> Result<()> {
        let threads = self.threads;
        // Start reading the next batch from disk while this one is copied (a no-op when the
        // data is in the page cache already).
        for i in 0..data.inputs().len() {
            for p in data.pieces(i, b + 1) {
                p.file.prefetch(p.offset, p.len);
            }
        }
        for (i, input) in data.inputs().iter().enumerate() {
            let conv = Conv::new(input.data_dtype, input.spec.dtype);
            let pieces = data.pieces(i, b);
            let bytes = data.batch_bytes(i);
            match (&mut self.slots, path) {
                (SlotMem::Device(dev), FeedPath::Registered) if pieces.len() == 1 => {
                    let p = pieces[0];
                    let (std::ops::Range { start: off, end }, a) = p.map_range();
                    let fits = regs[i].as_ref().is_some_and(|r| {
                        std::ptr::eq(r.file, p.file) && r.range.start <= off && end <= r.range.end
                    });
                    if !fits {
                        regs[i] = None; // waits for its copies, unregisters, evicts
                        let map = p.file.map_bytes();
                        let b = (a + reg_window(bytes, self.reg_window))
                            .max(end)
                            .min(map.len());
                        let reg = self.ctx.register_host(&map[a..b], true)?;
                        regs[i] = Some(Reg {
                            file: p.file,
                            range: a..b,
                            reg: Some(reg),
                        });
                    }
                    if let Some(r) = regs[i].as_mut() {
                        let a = r.range.start;
                        if let Some(reg) = r.reg.as_mut() {
                            self.stream
                                .copy_registered(&dev[slot][i], 0, reg, off - a..end - a)?;
                        }
                    }
                }
                (SlotMem::Device(dev), FeedPath::Pageable) => {
                    if conv == Conv::Copy {
                        let mut off = 0;
                        for p in &pieces {
                            self.ctx.copy_to_device(&dev[slot][i], off, p.bytes())?;
                            off += p.len;
                        }
                    } else {
                        let mut tmp = vec![0u8; bytes];
                        fill(&mut tmp, &pieces, conv, threads, self.pread);
                        self.ctx.copy_to_device(&dev[slot][i], 0, &tmp)?;
                    }
                    evict(&pieces);
                }
                (SlotMem::Device(_) | SlotMem::Mapped(_), _) => {
                    // Staged and mapped batches stream (`staged`), never through here.
                    return Err(Error::BadInput(format!(
                        "internal: {} batches cannot be copied one by one",
                        path.name()
                    )));
                }
            }
        }
        self.events[slot].record(&self.stream)
    }
}

/// Estimated milliseconds to register (and unregister) batch `b`'s bytes, every input:
/// auto's cheap first look at the registered path. At most 8 MiB per input are registered
/// and the time scaled up (pinning costs the same per page; the fixed cost of the call,
/// scaled too, only errs against registering).
fn time_registering(ctx: &Arc<Context>, data: &DataSet, b: usize) -> Result<f64> {
    const PROBE: usize = 8 << 20;
    let mut ms = 0.0;
    for i in 0..data.inputs().len() {
        for p in data.pieces(i, b) {
            let (range, a) = p.map_range();
            let map = p.file.map_bytes();
            let end = (range.start + p.len.min(PROBE)).min(map.len());
            let t0 = Instant::now();
            drop(ctx.register_host(&map[a..end], true)?);
            p.file.evict_map_range(a..end);
            ms += t0.elapsed().as_secs_f64() * 1e3 * p.len as f64 / (end - a).max(1) as f64;
        }
    }
    Ok(ms)
}

fn evict(pieces: &[Piece<'_>]) {
    for p in pieces {
        p.file.evict(p.offset, p.len);
    }
}

/// Element conversion while copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    Copy,
    F64ToF32,
    F32ToF16,
}

impl Conv {
    fn new(from: DType, to: DType) -> Conv {
        match (from, to) {
            (DType::F64, DType::F32) => Conv::F64ToF32,
            (DType::F32, DType::F16) => Conv::F32ToF16,
            // DataSet::open admits no other pair.
            _ => Conv::Copy,
        }
    }
    /// (source element size, destination element size)
    fn sizes(self) -> (usize, usize) {
        match self {
            Conv::Copy => (1, 1),
            Conv::F64ToF32 => (8, 4),
            Conv::F32ToF16 => (4, 2),
        }
    }
    fn run(self, src: &[u8], dst: &mut [u8]) {
        match self {
            Conv::Copy => {
                // Equal lengths by construction; `min` keeps a mistake from panicking.
                let n = src.len().min(dst.len());
                dst[..n].copy_from_slice(&src[..n]);
            }
            Conv::F64ToF32 => {
                for (s, d) in src.chunks_exact(8).zip(dst.chunks_exact_mut(4)) {
                    let x = f64::from_le_bytes(s.try_into().unwrap_or([0; 8]));
                    d.copy_from_slice(&(x as f32).to_le_bytes());
                }
            }
            Conv::F32ToF16 => {
                for (s, d) in src.chunks_exact(4).zip(dst.chunks_exact_mut(2)) {
                    let x = f32::from_le_bytes(s.try_into().unwrap_or([0; 4]));
                    d.copy_from_slice(&f32_to_f16(x).to_le_bytes());
                }
            }
        }
    }
}

/// One thread's part of a batch: (file, source bytes in its map, destination).
type Share<'a> = (&'a NpyFile, &'a [u8], &'a mut [u8]);

/// Copies (converting) the pieces, in order, into `dst`, split into equal shares for up to
/// `threads` threads (one share runs on the calling thread). Shares are at least 1 MiB, so small
/// batches are copied by the calling thread alone. Only the pageable fallback uses it (with a
/// conversion): it has no pinned memory, so no staging ring or copy threads either.
fn fill(dst: &mut [u8], pieces: &[Piece<'_>], conv: Conv, threads: usize, pread: bool) {
    const MIN_SHARE: usize = 1 << 20;
    let (ss, ds) = conv.sizes();
    let threads = threads.clamp(1, (dst.len() / MIN_SHARE).max(1));
    let share = (dst.len() / ds).div_ceil(threads).max(1); // elements per thread
    let mut groups: Vec<Vec<Share<'_>>> = (0..threads).map(|_| Vec::new()).collect();
    let (mut t, mut left) = (0, share);
    let mut rest = dst;
    for p in pieces {
        let mut src = p.bytes();
        while src.len() >= ss {
            if left == 0 {
                t = (t + 1).min(threads - 1);
                left = share;
            }
            let elems = left.min(src.len() / ss);
            let (s, s_rest) = src.split_at(elems * ss);
            let take = (elems * ds).min(rest.len());
            let (d, d_rest) = std::mem::take(&mut rest).split_at_mut(take);
            groups[t].push((p.file, s, d));
            src = s_rest;
            rest = d_rest;
            left -= elems;
        }
    }
    let mut groups = groups.into_iter();
    let mine = groups.next().unwrap_or_default();
    std::thread::scope(|sc| {
        for g in groups.filter(|g| !g.is_empty()) {
            sc.spawn(move || {
                for (f, s, d) in g {
                    copy_piece(f, s, d, conv, pread);
                }
            });
        }
        for (f, s, d) in mine {
            copy_piece(f, s, d, conv, pread);
        }
    });
}

/// What the staged path's copy threads manage without the feed around them: see [`host_copy`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostCopy {
    /// GB/s with nothing else running.
    pub alone_gb_per_s: f64,
    /// GB/s while host-to-device copies run back to back, and their GB/s meanwhile.
    pub with_dma_gb_per_s: f64,
    pub dma_gb_per_s: f64,
    /// Batches copied per repetition.
    pub batches: usize,
    pub reps: usize,
}

/// Copies the data set's first batches (up to `max_bytes` a repetition, at least one batch)
/// with `staging`'s threads and chunks into pinned memory, `reps` times alone and `reps` times
/// while a stream copies pinned chunks to the device without pause, and keeps the fastest of
/// each. The staged feed does this same CPU work next to its own DMA. Where the rate alone is
/// below the pinned-copy ceiling, the CPUs bound the feed; where only the rate with the DMA
/// running is, the two compete for the host's memory (on H200 VMs the feed then streamed a
/// little above that rate, as its DMA needs only the feed's rate: bench/RESULTS.md).
pub fn host_copy(
    ctx: &Arc<Context>,
    data: &DataSet,
    staging: Staging,
    max_bytes: u64,
    reps: usize,
) -> Result<HostCopy> {
    let batch_bytes = data.batch_bytes_all();
    let batches = ((max_bytes / batch_bytes.max(1) as u64) as usize)
        .max(1)
        .min(data.batches());
    let bytes = (batches * batch_bytes) as f64;
    let chunk = staging.chunk_bytes;
    let pread = read_with_pread();
    let mut bufs = (0..staging.threads.max(1))
        .map(|_| ctx.alloc_pinned(chunk, false))
        .collect::<Result<Vec<_>>>()?;
    let reps = reps.max(1);
    let mut alone = Duration::MAX;
    for _ in 0..reps {
        alone = alone.min(staged::copy_alone(
            data,
            0..batches,
            chunk,
            &mut bufs,
            pread,
        )?);
    }

    // The DMA side: four chunk buffers in turn, each written again only after its copy ended,
    // so about three copies are always queued.
    let mut src = (0..4)
        .map(|_| ctx.alloc_pinned(chunk, false))
        .collect::<Result<Vec<_>>>()?;
    for b in &mut src {
        b.as_mut_slice()?.fill(0x3c);
    }
    let dev = ctx.alloc(chunk)?;
    let stream = ctx.stream()?;
    let (mut with_dma, mut dma) = (Duration::MAX, 0.0f64);
    for _ in 0..reps {
        let done = AtomicBool::new(false);
        let (t, dma_bytes, dma_secs) = std::thread::scope(|sc| -> Result<_> {
            let copier = sc.spawn(|| {
                let r = staged::copy_alone(data, 0..batches, chunk, &mut bufs, pread);
                done.store(true, Ordering::Release);
                r
            });
            let t0 = Instant::now();
            let mut pump = || -> Result<usize> {
                let mut queued = 0;
                while !done.load(Ordering::Acquire) {
                    for b in &mut src {
                        b.as_mut_slice()?; // waits for this buffer's previous copy
                        stream.copy_pinned(&dev, 0, b, 0..chunk)?;
                        queued += chunk;
                    }
                }
                Ok(queued)
            };
            let pumped = pump();
            // Copies still queued when the threads finished count too, with the time they take.
            let synced = stream.synchronize();
            let secs = t0.elapsed().as_secs_f64();
            let t = copier.join().unwrap_or_else(|_| {
                Err(Error::CallbackPanic {
                    callback: "host copy",
                    msg: "its thread panicked".into(),
                })
            })?;
            let queued = pumped?;
            synced?;
            Ok((t, queued, secs))
        })?;
        if t < with_dma {
            with_dma = t;
            dma = dma_bytes as f64 / dma_secs.max(1e-12) / 1e9;
        }
    }
    let gbs = |d: Duration| bytes / d.as_secs_f64().max(1e-12) / 1e9;
    Ok(HostCopy {
        alone_gb_per_s: gbs(alone),
        with_dma_gb_per_s: gbs(with_dma),
        dma_gb_per_s: dma,
        batches,
        reps,
    })
}

/// How staging copies read the files: with `pread` (the default), or by copying from the
/// mapping (`TRTQ_FEED_READ=map`). On an H200 host `pread` fed 26-31 GB/s against 20-23 GB/s
/// for the mapping at batch 8, and kept the files' pages out of the process's resident set
/// (bench/RESULTS.md, "pread against the mapping").
fn read_with_pread() -> bool {
    std::env::var("TRTQ_FEED_READ").map_or(true, |v| v != "map")
}

/// `TRTQ_FEED_MERGE=0` turns merged ring copies off (for comparisons; see [`FeedOptions`]).
fn merge_allowed() -> bool {
    std::env::var("TRTQ_FEED_MERGE").map_or(true, |v| v != "0")
}

/// One share of a batch: `pread` straight into the destination when no conversion is needed
/// and `pread` is chosen, else a copy (converting) from the mapping. A failed `pread` falls
/// back to the mapping, which shows the same bytes.
fn copy_piece(f: &NpyFile, s: &[u8], d: &mut [u8], conv: Conv, pread: bool) {
    if pread && conv == Conv::Copy && f.read_mapped_into(s, d).is_ok() {
        return;
    }
    conv.run(s, d);
}
