//! The staged path as a stream of chunks: copy threads read pieces of the batches into a ring
//! of small pinned buffers, and the feed thread queues each filled buffer's host-to-device copy
//! as soon as it comes back, into the device slot its batch owns.
//!
//! Why chunks and not whole batches: on an H200 host (16 vCPUs) a first version filled one
//! batch-sized staging buffer with all threads, then queued its copy, then started the next
//! batch; the barrier at every batch end (the slowest share decides) and two batch-sized staging
//! buffers that no longer fit in the last-level cache held it to 25-33 GB/s. A host-side probe
//! on the same machine streamed 44-49 GB/s with a 64-128 MiB ring of 2-4 MiB chunks taken by
//! the threads one after another, against 55 GB/s for pinned copies alone (bench/RESULTS.md,
//! "Where the staged feed's time went").
//!
//! Ownership carries the synchronisation: a ring buffer is either free (in the feed thread's
//! list, its last copy possibly still running), lent to one copy thread together with its job,
//! or on its way back. A copy thread waits for the buffer's previous copy before writing
//! ([`PinnedBuffer::as_mut_slice`]), so no buffer is written while the DMA reads it.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread::{Scope, Thread};
use std::time::{Duration, Instant};

use super::merge::{self, Merger};
use super::trace::Tracer;
use super::{copy_piece, evict, Conv, Msg, SlotMem};
use crate::cuda::{Event, PinnedBuffer, PinnedChunk, Stream};
use crate::data::DataSet;
use crate::error::{Error, Result};
use crate::npy::NpyFile;

/// Ring bytes when not asked: small enough to stay in a server's last-level cache next to the
/// DMA's reads, large enough for every copy thread to hold a chunk while others are copied.
pub const DEFAULT_RING_BYTES: usize = 64 << 20;
/// Largest chunk when not asked, with one copy call per chunk: 2 MiB copies ran at 0.94 of a
/// whole batch's rate on an H200, 4 MiB ones at 0.97.
pub const DEFAULT_MAX_CHUNK: usize = 4 << 20;
/// Largest chunk when not asked, where finished chunks are merged into one copy call (module
/// `merge`): the calls are large anyway, and smaller chunks come back sooner. On ten H200
/// VMs, whole runs at batch 8 with 2 MiB chunks had the higher median than with 4 MiB in 19 of
/// 20 comparisons (one equal), 78 against 42 of 92 runs at 0.90 of the ceiling or more
/// (bench/RESULTS.md).
pub const MERGED_MAX_CHUNK: usize = 2 << 20;

/// (chunk bytes, number of ring buffers) for batches of `batch_bytes` (all inputs) and
/// `threads` copy threads; `merged`: finished chunks will be merged into copy calls.
/// `ring`/`chunk` of 0 mean the defaults.
pub fn geometry(
    batch_bytes: usize,
    threads: usize,
    ring: usize,
    chunk: usize,
    merged: bool,
) -> (usize, usize) {
    const PAGE: usize = 4096;
    let round = |n: usize| n.div_ceil(PAGE) * PAGE;
    // Never more than two batches: small data sets need no 64 MiB of pinned memory.
    let ring = if ring > 0 {
        round(ring)
    } else {
        DEFAULT_RING_BYTES.min(round(2 * batch_bytes.max(1)))
    };
    let chunk = if chunk > 0 {
        // Whole cache lines (and so whole elements of every dtype).
        chunk.div_ceil(64) * 64
    } else {
        // Two buffers more than threads: one being copied to the device, one coming back.
        let max = if merged {
            MERGED_MAX_CHUNK
        } else {
            DEFAULT_MAX_CHUNK
        };
        (ring / (threads + 2) / PAGE * PAGE).clamp(64 << 10, max)
    };
    let chunk = chunk.min(round(batch_bytes.max(1)));
    (chunk, (ring / chunk).max(2))
}

/// One chunk's work: source bytes (of one or more files, in order) and where they go in the
/// batch's device slot. Small per-sample files share a chunk, so they share a copy.
struct Spec<'a> {
    segs: Vec<(&'a NpyFile, &'a [u8])>,
    input: usize,
    /// Destination offset in the input's device buffer, and byte count there.
    dst_off: usize,
    len: usize,
    conv: Conv,
    /// Index into the feed thread's list of open batches.
    batch: usize,
}

impl Spec<'_> {
    /// Reads (converting) the chunk's source bytes into `dst`, which holds at least `len` bytes.
    fn copy_into(&self, dst: &mut [u8], pread: bool) {
        let (ss, ds) = self.conv.sizes();
        let mut o = 0;
        for &(file, src) in &self.segs {
            let n = src.len() / ss * ds;
            copy_piece(file, src, &mut dst[o..o + n], self.conv, pread);
            o += n;
        }
    }
}

/// Where a chunk goes: a ring buffer (then copied to the device), or its piece of a mapped slot.
enum Dst {
    Ring(PinnedBuffer),
    Mapped(PinnedChunk),
}

struct Job<'a> {
    spec: Spec<'a>,
    dst: Dst,
}

struct Done<'a> {
    job: Job<'a>,
    res: Result<()>,
}

/// Jobs waiting for a copy thread, and whether more can come.
struct Queue<'a> {
    jobs: VecDeque<Job<'a>>,
    closed: bool,
}

/// The copy threads' shared job queue. Not a channel behind a mutex: there the thread holding
/// the mutex waits in `recv` and wakes the next only once it has its job, so a burst of jobs
/// reaches idle threads one wake-up after another. Here every push wakes a thread of its own
/// (in a trace on an H200 VM, the first batch's twelve jobs all started within 20 us).
struct Jobs<'a> {
    queue: Mutex<Queue<'a>>,
    ready: Condvar,
}

impl<'a> Jobs<'a> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<'a>> {
        // The lock is only held to push or pop; a poisoned one still holds a valid queue.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, job: Job<'a>) -> Result<()> {
        let mut q = self.lock();
        if q.closed {
            return Err(copy_threads_gone());
        }
        q.jobs.push_back(job);
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// The next job, or `None` once the queue is closed and empty.
    fn pop(&self) -> Option<Job<'a>> {
        let mut q = self.lock();
        loop {
            if let Some(j) = q.jobs.pop_front() {
                return Some(j);
            }
            if q.closed {
                return None;
            }
            q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// The copy threads (scoped to the feed thread's run) and the ring buffers not lent out (none
/// when mapped slots are filled in place).
pub struct Stager<'a> {
    jobs: Arc<Jobs<'a>>,
    done_rx: Receiver<Done<'a>>,
    free: VecDeque<PinnedBuffer>,
    chunk: usize,
    lent: usize,
}

impl<'a> Stager<'a> {
    /// Starts `threads` copy threads in `scope` and returns once all of them run; they end
    /// when the stager is dropped. Batches are cut in chunks of `chunk` bytes (the ring
    /// buffers' size).
    pub fn start<'scope>(
        scope: &'scope Scope<'scope, '_>,
        ring: Vec<PinnedBuffer>,
        chunk: usize,
        threads: usize,
        pread: bool,
    ) -> Stager<'a>
    where
        'a: 'scope,
    {
        let (done_tx, done_rx) = mpsc::channel::<Done<'a>>();
        // Built before any thread starts: if starting one panics (the OS refused a thread),
        // unwinding drops it, which closes the queue, so the threads already running end and
        // the scope can finish instead of waiting for them forever.
        let stager = Stager {
            jobs: Arc::new(Jobs {
                queue: Mutex::new(Queue {
                    jobs: VecDeque::new(),
                    closed: false,
                }),
                ready: Condvar::new(),
            }),
            done_rx,
            free: ring.into(),
            chunk,
            lent: 0,
        };
        // Wait until every thread runs: starting twelve took 0.9 ms on an H200 VM, which
        // belongs to setting up. While they started in the background, the first batch's
        // wait was 2.2-2.9 ms; with them waited for here, 1.5-1.7 ms (bench/RESULTS.md).
        let (up_tx, up_rx) = mpsc::channel::<()>();
        // Started on the feed thread, which parks while it waits (see `next_done`).
        let feed = std::thread::current();
        for _ in 0..threads.max(1) {
            let jobs = stager.jobs.clone();
            let tx = done_tx.clone();
            let up = up_tx.clone();
            let feed = feed.clone();
            scope.spawn(move || {
                let _ = up.send(());
                drop(up);
                copy_thread(&jobs, tx, &feed, pread)
            });
        }
        drop(up_tx);
        while up_rx.recv().is_ok() {}
        stager
    }
}

impl Drop for Stager<'_> {
    fn drop(&mut self) {
        // Closing ends the copy threads once the queue is empty and they finish the job in hand.
        self.jobs.close();
    }
}

fn copy_thread<'a>(jobs: &Jobs<'a>, done: Sender<Done<'a>>, feed: &Thread, pread: bool) {
    while let Some(mut job) = jobs.pop() {
        let res = catch_unwind(AssertUnwindSafe(|| -> Result<()> {
            let dst = match &mut job.dst {
                Dst::Ring(b) => b.as_mut_slice()?,
                Dst::Mapped(c) => c.as_mut_slice(),
            };
            job.spec.copy_into(dst, pread);
            Ok(())
        }))
        .unwrap_or_else(|p| {
            Err(Error::CallbackPanic {
                callback: "feed copy thread",
                msg: crate::error::panic_text(p.as_ref()),
            })
        });
        if done.send(Done { job, res }).is_err() {
            return;
        }
        feed.unpark();
    }
}

/// How [`stream`] ended, when not with an error.
pub enum Flow {
    /// Every batch of the range was fed.
    Done,
    /// The Feed was dropped: stop quietly.
    Hung,
    /// The check asked to stop: batches from this one on were not fed.
    Paused(usize),
}

/// A batch whose chunks are on their way.
struct Open {
    slot: usize,
    remaining: usize,
}

/// Everything [`stream`] needs from the feed thread.
pub struct Ends<'f> {
    pub stream: &'f Stream,
    pub slots: &'f mut SlotMem,
    pub events: &'f [Event],
    pub ready_tx: &'f mpsc::SyncSender<Result<Msg>>,
    pub free_rx: &'f Receiver<usize>,
    /// Also drop the batch's pages from our map once it is copied (copies from the mapping).
    pub evict: bool,
    /// Times each ring copy (`--trace-dma`).
    pub trace: Option<&'f mut Tracer>,
    /// Merges ring copies into one call while the engine is busy.
    pub merge: Option<&'f mut Merger>,
}

/// Streams batches `range` through the ring into free device slots, announcing each batch
/// (in order) once all its copies are queued. `held` is a device slot the caller already took
/// for the first batch. `check` is called once, when the range's third batch is announced, with
/// the milliseconds since the first one's announcement (two batches of steady staging; auto's
/// comparison) and the first batch not yet planned; when it returns true, no further batch is
/// planned, those already under way are finished, and `Paused` says where feeding stopped (at
/// that batch).
pub fn stream<'a>(
    st: &mut Stager<'a>,
    ends: &mut Ends<'_>,
    data: &'a DataSet,
    range: std::ops::Range<usize>,
    mut held: Option<usize>,
    mut check: Option<&mut dyn FnMut(f64, usize) -> bool>,
) -> Result<Flow> {
    let mapped = matches!(ends.slots, SlotMem::Mapped(_));
    let mut planned: VecDeque<Spec<'a>> = VecDeque::new();
    let mut open: VecDeque<(usize, Open)> = VecDeque::new(); // (batch index, state)
    let mut next_plan = range.start;
    let mut first_announced: Option<Instant> = None;
    let mut paused = false;
    let mut hold: Held<'a> = Vec::new();
    loop {
        // Announce finished batches in order. First: planning may block for a free device
        // slot, and the consumer only returns one after it got the batch it waits for.
        while open.front().is_some_and(|(_, o)| o.remaining == 0) {
            let Some((b, o)) = open.pop_front() else {
                break;
            };
            ends.events[o.slot].record(ends.stream)?;
            if ends.evict {
                for i in 0..data.inputs().len() {
                    evict(&data.pieces(i, b));
                }
            }
            if ends.ready_tx.send(Ok(Msg::Ready { slot: o.slot })).is_err() {
                return Ok(Flow::Hung);
            }
            if b == range.start {
                first_announced = Some(Instant::now());
            } else if b == range.start + 2 {
                if let (Some(f), Some(t)) = (check.take(), first_announced) {
                    paused = f(t.elapsed().as_secs_f64() * 1e3, next_plan);
                }
            }
        }

        // Plan the next batch while its chunks would keep the threads busy, once a device
        // slot is free. Block for a slot only when nothing else is in flight.
        while !paused && next_plan < range.end && planned.len() < st.free.len() + 2 {
            // Never block with chunks held: the consumer may be waiting for their batch.
            let idle = st.lent == 0 && planned.is_empty() && hold.is_empty();
            let slot = if let Some(s) = held.take() {
                s
            } else if idle {
                match ends.free_rx.recv() {
                    Ok(s) => s,
                    Err(_) => return Ok(Flow::Hung),
                }
            } else {
                match ends.free_rx.try_recv() {
                    Ok(s) => s,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return Ok(Flow::Hung),
                }
            };
            let b = next_plan;
            // The first batch nothing overlaps: in quarter chunks, every copy thread gets a
            // share of it at once instead of one thread per 4 MiB (its first chunk took a
            // thread 1.0-1.4 ms on an H200 host, against 0.8 ms per whole batch later on).
            let chunk = if b == range.start && !mapped {
                (st.chunk / 4 / 64 * 64).max(64 << 10).min(st.chunk)
            } else {
                st.chunk
            };
            let n = plan_batch(data, b, chunk, &mut planned);
            open.push_back((b, Open { slot, remaining: n }));
            next_plan += 1;
        }

        // Lend the planned chunks with free ring buffers, oldest buffer first, or with their
        // pieces of the mapped slot.
        while let Some(spec) = planned.front() {
            let dst = match &mut *ends.slots {
                SlotMem::Mapped(m) => {
                    let slot = slot_of(&open, spec.batch)?;
                    let piece = m[slot][spec.input]
                        .get_mut(spec.dst_off / st.chunk)
                        .and_then(Option::take)
                        .ok_or_else(|| {
                            Error::BadInput("internal: a mapped slot's piece is not free".into())
                        })?;
                    Dst::Mapped(piece)
                }
                SlotMem::Device(_) => match st.free.pop_front() {
                    Some(b) => Dst::Ring(b),
                    None => break,
                },
            };
            let Some(spec) = planned.pop_front() else {
                break;
            };
            st.jobs.push(Job { spec, dst })?;
            st.lent += 1;
        }

        if st.lent == 0 && planned.is_empty() && open.is_empty() {
            if next_plan == range.end {
                return Ok(Flow::Done);
            }
            if paused {
                return Ok(Flow::Paused(next_plan));
            }
        }
        if st.lent == 0 {
            // No chunk can come back to join those held: queue them now.
            flush(&mut hold, &mut open, st, ends)?;
            continue; // waiting for a device slot (planned is empty, so the loop blocks)
        }
        let wants_slot =
            held.is_none() && !paused && next_plan < range.end && planned.len() < st.free.len() + 2;
        let poll = (ends.merge.is_some() && !hold.is_empty()).then_some(merge::POLL);
        let done = match next_done(st, ends, wants_slot.then_some(&mut held), poll)? {
            Next::Chunk(d) => d,
            Next::Slot => continue, // a device slot came back: plan with it
            Next::Timeout => {
                flush_unless_held(&mut hold, &mut open, st, ends)?;
                continue;
            }
        };
        let Done { job, res } = done;
        st.lent -= 1;
        let Job { spec, dst } = job;
        res?;
        let Some((_, o)) = open.iter_mut().find(|(b, _)| *b == spec.batch) else {
            return Err(Error::BadInput(
                "a chunk came back for no open batch".into(),
            ));
        };
        match (dst, &mut *ends.slots) {
            (Dst::Ring(buf), SlotMem::Device(_)) => {
                hold.push((spec, buf));
                flush_unless_held(&mut hold, &mut open, st, ends)?;
            }
            (Dst::Mapped(piece), SlotMem::Mapped(m)) => {
                m[o.slot][spec.input][spec.dst_off / st.chunk] = Some(piece);
                o.remaining -= 1;
            }
            _ => {
                return Err(Error::BadInput(
                    "internal: a chunk came back for the other kind of slot".into(),
                ))
            }
        }
    }
}

/// Chunks back from the copy threads whose copies are not queued yet.
type Held<'a> = Vec<(Spec<'a>, PinnedBuffer)>;

/// [`flush`], unless the merger wants the held chunks to wait for more (see module `merge`).
fn flush_unless_held<'a>(
    hold: &mut Held<'a>,
    open: &mut VecDeque<(usize, Open)>,
    st: &mut Stager<'a>,
    ends: &mut Ends<'_>,
) -> Result<()> {
    let keep = match ends.merge.as_deref_mut() {
        Some(m) => m.hold(hold.len())?,
        None => false,
    };
    if keep {
        return Ok(());
    }
    flush(hold, open, st, ends)
}

/// Queues the held chunks' copies in one call, then frees their ring buffers for the copy
/// threads and counts the chunks as done for their batches.
fn flush<'a>(
    hold: &mut Held<'a>,
    open: &mut VecDeque<(usize, Open)>,
    st: &mut Stager<'a>,
    ends: &mut Ends<'_>,
) -> Result<()> {
    if hold.is_empty() {
        return Ok(());
    }
    let SlotMem::Device(dev) = &*ends.slots else {
        return Err(Error::BadInput(
            "internal: ring chunks held for mapped slots".into(),
        ));
    };
    let stream = ends.stream;
    let bytes = hold.iter().map(|(s, _)| s.len).sum();
    let (n, whole) = (hold.len(), hold.iter().all(|(s, _)| s.len == st.chunk));
    let mut copies = Vec::with_capacity(hold.len());
    for (spec, buf) in hold.iter_mut() {
        let slot = slot_of(open, spec.batch)?;
        copies.push((&dev[slot][spec.input], spec.dst_off, buf, spec.len));
    }
    let mut refused = None;
    let mut copy = || match copies.as_mut_slice() {
        [(dst, off, buf, len)] => stream.copy_pinned(dst, *off, buf, 0..*len),
        many => stream.copy_pinned_batch(many).or_else(|e| {
            // A driver that exports the batch call but refuses it here: copy one by one (a
            // failing copy then fails on its own), and merge no more.
            refused = Some(e.to_string());
            many.iter_mut()
                .try_for_each(|(dst, off, buf, len)| stream.copy_pinned(dst, *off, buf, 0..*len))
        }),
    };
    match ends.trace.as_deref_mut() {
        Some(t) => t.around(stream, bytes, n, whole, copy)?,
        None => copy()?,
    }
    drop(copies);
    if let Some(m) = ends.merge.as_deref_mut() {
        if let Some(e) = refused {
            m.give_up();
            let _ = ends.ready_tx.send(Ok(Msg::Warning(format!(
                "{e}; ring chunks are copied one per call from here on"
            ))));
        }
        m.mark(stream)?;
    }
    for (spec, buf) in hold.drain(..) {
        st.free.push_back(buf);
        if let Some((_, o)) = open.iter_mut().find(|(b, _)| *b == spec.batch) {
            o.remaining -= 1;
        }
    }
    Ok(())
}

/// The next chunk back from a copy thread; or, with `slot`, [`Next::Slot`] as soon as a device
/// slot comes back first (stored there); or, with `poll`, [`Next::Timeout`] once that long
/// passed with neither (held chunks: the caller looks at the copy queue again). The feed thread
/// parks meanwhile: copy threads and [`super::Feed::next`] unpark it after each message.
/// Waiting on the chunks' channel alone, a returned slot went unseen until the next chunk came
/// back, while copy threads may have no batch left to work on (on one H200 VM they waited for
/// jobs for 15-45% of a run).
fn next_done<'a>(
    st: &mut Stager<'a>,
    ends: &Ends<'_>,
    mut slot: Option<&mut Option<usize>>,
    poll: Option<Duration>,
) -> Result<Next<'a>> {
    loop {
        match st.done_rx.try_recv() {
            Ok(d) => return Ok(Next::Chunk(d)),
            Err(TryRecvError::Disconnected) => return Err(copy_threads_gone()),
            Err(TryRecvError::Empty) => {}
        }
        if let Some(s) = slot.as_deref_mut() {
            // A hung-up Feed is seen by the blocking wait for a slot at the loop's top.
            if let Ok(free) = ends.free_rx.try_recv() {
                *s = Some(free);
                return Ok(Next::Slot);
            }
        }
        match poll {
            None => std::thread::park(),
            Some(d) => {
                std::thread::park_timeout(d);
                return Ok(Next::Timeout);
            }
        }
    }
}

/// What [`next_done`] saw first.
enum Next<'a> {
    Chunk(Done<'a>),
    /// A device slot came back (stored in the caller's `slot`).
    Slot,
    /// The poll interval passed (only when asked to poll).
    Timeout,
}

/// Cuts batch `b` (every input) into chunks of at most `chunk` destination bytes, appended to
/// `planned`; returns how many. Also starts reading batch b+1 from disk.
fn plan_batch<'a>(
    data: &'a DataSet,
    b: usize,
    chunk: usize,
    planned: &mut VecDeque<Spec<'a>>,
) -> usize {
    let mut n = 0;
    for (i, input) in data.inputs().iter().enumerate() {
        let conv = Conv::new(input.data_dtype, input.spec.dtype);
        let (ss, ds) = conv.sizes();
        let mut dst_off = 0;
        let mut cur: Option<Spec<'a>> = None;
        for p in data.pieces(i, b) {
            let src = p.bytes();
            let elems = src.len() / ss;
            let mut e = 0;
            while e < elems {
                let c = cur.get_or_insert_with(|| Spec {
                    segs: Vec::new(),
                    input: i,
                    dst_off,
                    len: 0,
                    conv,
                    batch: b,
                });
                // Chunks hold at least one element (geometry keeps them >= 64 bytes).
                let k = ((chunk - c.len) / ds).max(1).min(elems - e);
                c.segs.push((p.file, &src[e * ss..(e + k) * ss]));
                c.len += k * ds;
                dst_off += k * ds;
                e += k;
                if c.len + ds > chunk {
                    planned.extend(cur.take());
                    n += 1;
                }
            }
        }
        if let Some(c) = cur.take() {
            planned.push_back(c);
            n += 1;
        }
        // Start reading the batch after this one from disk while this one is copied (a
        // no-op when the data is in the page cache already).
        for p in data.pieces(i, b + 1) {
            p.file.prefetch(p.offset, p.len);
        }
    }
    n
}

/// Time for `bufs.len()` threads to copy batches `range` into pinned memory the way the copy
/// threads do (same chunks, same reads), with no host-to-device copy and no ring rotation:
/// what this host's CPUs can stage at most. Each thread writes its chunks into its own buffer.
pub fn copy_alone(
    data: &DataSet,
    range: std::ops::Range<usize>,
    chunk: usize,
    bufs: &mut [PinnedBuffer],
    pread: bool,
) -> Result<Duration> {
    let mut planned = VecDeque::new();
    for b in range {
        plan_batch(data, b, chunk, &mut planned);
    }
    let planned: Vec<Spec<'_>> = planned.into();
    let next = AtomicUsize::new(0);
    // The clock starts once every thread is ready, as the feed's threads are before its stream.
    let go = Barrier::new(bufs.len() + 1);
    let (planned, next, go) = (&planned, &next, &go);
    std::thread::scope(|sc| {
        let threads: Vec<_> = bufs
            .iter_mut()
            .map(|buf| {
                sc.spawn(move || {
                    let dst = buf.as_mut_slice();
                    go.wait();
                    // Each thread times itself: the spawning thread may be descheduled right
                    // after the barrier, so its own clock could start late.
                    let t0 = Instant::now();
                    let dst = dst?;
                    catch_unwind(AssertUnwindSafe(|| {
                        while let Some(s) = planned.get(next.fetch_add(1, Ordering::Relaxed)) {
                            s.copy_into(dst, pread);
                        }
                    }))
                    .map_err(|p| Error::CallbackPanic {
                        callback: "host copy thread",
                        msg: crate::error::panic_text(p.as_ref()),
                    })?;
                    Ok((t0, Instant::now()))
                })
            })
            .collect();
        go.wait();
        let mut span: Option<(Instant, Instant)> = None;
        for t in threads {
            // A thread's panic is caught inside it; join fails only if catching failed.
            let (a, b) = t.join().unwrap_or_else(|_| Err(copy_threads_gone()))?;
            span = Some(span.map_or((a, b), |(s, e)| (s.min(a), e.max(b))));
        }
        Ok(span.map_or(Duration::ZERO, |(s, e)| e - s))
    })
}

/// The device slot that open batch `b` fills.
fn slot_of(open: &VecDeque<(usize, Open)>, b: usize) -> Result<usize> {
    open.iter()
        .find(|(ob, _)| *ob == b)
        .map(|(_, o)| o.slot)
        .ok_or_else(|| Error::BadInput("internal: a chunk was planned for no open batch".into()))
}

fn copy_threads_gone() -> Error {
    Error::CallbackPanic {
        callback: "feed copy threads",
        msg: "they ended before the data did".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::geometry;

    #[test]
    fn ring_geometry() {
        const M: usize = 1 << 20;
        let g = |b, t, r, c| geometry(b, t, r, c, false);
        // 8x3x640x640 f32 (39.3 MB) with 14 threads: 64 MiB in 16 chunks of 4 MiB.
        assert_eq!(g(39_321_600, 14, 0, 0), (4 * M, 16));
        // Fewer threads still get chunks of at most 4 MiB.
        assert_eq!(g(39_321_600, 2, 0, 0), (4 * M, 16));
        // 16 threads: chunks shrink so that every thread holds one with two to spare.
        assert_eq!(g(39_321_600, 16, 0, 0), (3727360, 18));
        // Small batches: two batches of ring, chunks no larger than a batch.
        assert_eq!(g(12_000, 4, 0, 0), (12_288, 2));
        assert_eq!(g(200_000, 4, 0, 0), (64 << 10, 6));
        // Asked sizes win; chunks round up to whole cache lines.
        assert_eq!(g(12_000, 4, 3 * 4096, 4096), (4096, 3));
        assert_eq!(g(11_200, 3, 8192, 2000), (2048, 4));
        assert_eq!(g(100, 1, 0, 0), (4096, 2));
        // Merged copy calls: chunks of at most 2 MiB by default, asked sizes as asked.
        assert_eq!(geometry(39_321_600, 12, 0, 0, true), (2 * M, 32));
        assert_eq!(geometry(39_321_600, 40, 0, 0, true), (1_597_440, 42));
        assert_eq!(geometry(39_321_600, 12, 0, 4 * M, true), (4 * M, 16));
        assert_eq!(geometry(200_000, 4, 0, 0, true), (64 << 10, 6));
    }
}
