//! An optional record of the staged path's host-to-device copies (`bench-feed --trace-dma`):
//! a timing event on the stream right before and right after every ring copy, read once the
//! data has been fed. The whole-run rate cannot tell whether the copy engine waited for the
//! copy threads or was busy all along at a lower rate; this can. On H200 VMs it showed the
//! engine busy 92-97% of a run, and each 4 MiB ring copy running at 0.94-0.96 of the one-batch
//! ceiling (bench/RESULTS.md, "Every ring copy timed").
//!
//! An event before a copy completes when the stream reaches it: right after the previous copy
//! when the stream was busy, or when it was queued when the stream was idle. So the time from
//! a copy's "before" to its "after" event is the copy alone, and the time from the previous
//! copy's "after" to the next "before" is time the engine had nothing of ours to do.

use std::sync::Arc;

use crate::cuda::{Context, Event, Stream};
use crate::error::Result;

/// Copies traced at most (two events each); later copies run untraced.
const MAX_COPIES: usize = 1 << 16;
/// Gaps between copies shorter than this are not counted as gaps (event resolution is about
/// half a microsecond, and the stream records other events between copies).
const GAP_MS: f64 = 0.002;
/// Gaps at least this long are counted apart: the copy threads fell behind.
const LONG_GAP_MS: f64 = 0.05;

/// What the traced copies show.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DmaTrace {
    /// Copy calls traced (each of one or more ring chunks), the chunks, and their bytes.
    pub copies: usize,
    pub chunks: usize,
    pub bytes: u64,
    /// From the first traced copy's start to the last one's end.
    pub span_ms: f64,
    /// Sum of the copies' own times.
    pub busy_ms: f64,
    /// Sum of the gaps between copies (each at least 2 us).
    pub idle_ms: f64,
    pub gaps: usize,
    /// Gaps of 50 us or more.
    pub long_gaps: usize,
    /// Bytes of a whole staging chunk.
    pub chunk_bytes: usize,
    /// Calls made of whole chunks only (the others hold a batch's or an input's last piece,
    /// or the first batch's smaller pieces), and their rates: 10th percentile, median, 90th
    /// (GB/s).
    pub chunk_copies: usize,
    pub chunk_gb_per_s: Option<[f64; 3]>,
}

impl DmaTrace {
    /// Bytes per second while the engine was busy with our copies, in GB/s.
    pub fn busy_gb_per_s(&self) -> f64 {
        self.bytes as f64 / (self.busy_ms * 1e-3).max(1e-12) / 1e9
    }
    /// Share of the span the engine spent copying.
    pub fn busy_share(&self) -> f64 {
        if self.span_ms > 0.0 {
            self.busy_ms / self.span_ms
        } else {
            0.0
        }
    }
}

/// Events around each ring copy, kept until the feed is done.
pub struct Tracer {
    ctx: Arc<Context>,
    chunk: usize,
    /// (before, after, bytes, chunks, all chunks whole)
    marks: Vec<(Event, Event, usize, usize, bool)>,
}

impl Tracer {
    pub fn new(ctx: &Arc<Context>, chunk: usize) -> Tracer {
        Tracer {
            ctx: ctx.clone(),
            chunk,
            marks: Vec::new(),
        }
    }

    /// Queues `copy` (of `len` bytes in `chunks` ring chunks, `whole` when each is a whole
    /// chunk) on `stream` between two timing events.
    pub fn around(
        &mut self,
        stream: &Stream,
        len: usize,
        chunks: usize,
        whole: bool,
        copy: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        if self.marks.len() >= MAX_COPIES {
            return copy();
        }
        let before = self.ctx.event(true)?;
        before.record(stream)?;
        copy()?;
        let after = self.ctx.event(true)?;
        after.record(stream)?;
        self.marks.push((before, after, len, chunks, whole));
        Ok(())
    }

    /// Waits for `stream` and reads the events; `None` when no copy was traced.
    pub fn finish(self, stream: &Stream) -> Result<Option<DmaTrace>> {
        stream.synchronize()?;
        let Some(((first, ..), (_, last, ..))) = self.marks.first().zip(self.marks.last()) else {
            return Ok(None);
        };
        let span_ms = last.elapsed_ms(first)? as f64;
        let (mut busy_ms, mut idle_ms, mut gaps, mut long_gaps, mut bytes) = (0.0, 0.0, 0, 0, 0);
        let mut chunks = 0;
        let mut rates = Vec::new();
        let mut prev: Option<&Event> = None;
        for (before, after, len, n, whole) in &self.marks {
            let ms = after.elapsed_ms(before)? as f64;
            busy_ms += ms;
            bytes += *len as u64;
            chunks += n;
            if *whole && ms > 0.0 {
                rates.push(*len as f64 / (ms * 1e-3) / 1e9);
            }
            if let Some(p) = prev {
                let gap = before.elapsed_ms(p)? as f64;
                if gap >= GAP_MS {
                    gaps += 1;
                    idle_ms += gap;
                    long_gaps += usize::from(gap >= LONG_GAP_MS);
                }
            }
            prev = Some(after);
        }
        rates.sort_by(f64::total_cmp);
        let pick = |q: f64| rates[((rates.len() - 1) as f64 * q).round() as usize];
        Ok(Some(DmaTrace {
            copies: self.marks.len(),
            chunks,
            bytes,
            span_ms,
            busy_ms,
            idle_ms,
            gaps,
            long_gaps,
            chunk_bytes: self.chunk,
            chunk_copies: rates.len(),
            chunk_gb_per_s: (!rates.is_empty()).then(|| [pick(0.1), pick(0.5), pick(0.9)]),
        }))
    }
}
