//! Several ring chunks in one copy call, while the copy engine has enough queued to stay busy.
//!
//! Each host-to-device copy call costs the copy engine a fixed few microseconds: 4 MiB copies
//! back to back ran at 0.97 of a whole batch's rate on an H200, two 4 MiB chunks handed over in
//! one cuMemcpyBatchAsync call at 0.987, eight at 0.998 (`bench/dma_streams.py`). Chunks come
//! back from the copy threads one at a time, so the feed thread holds a finished chunk only
//! while the engine still has at least [`MIN_QUEUED`] earlier calls to work through, and
//! queues everything it holds in one call once [`MAX_CHUNKS`] wait or the queue runs low.
//! Waiting for a particular neighbour instead (an earlier experiment) left the engine idle.
//! On eight H200 VMs this gained about a point of the ceiling with 4 MiB chunks, and made
//! 2 MiB chunks the better default (bench/RESULTS.md, "Ring chunks merged into one copy call"
//! and "The current defaults on nine more VMs").

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::cuda::{Context, Event, Stream};
use crate::error::Result;

/// Hold finished chunks only while at least this many calls are queued (the one running
/// included), so one whole call is always ahead: a call of one 2 MiB chunk (the default)
/// takes the engine ~38 us, of 4 MiB ~76 us, against naps of [`POLL`].
pub const MIN_QUEUED: usize = 2;
/// Chunks per call at most: 4 x 4 MiB ran at 0.994 of the ceiling, against 0.986 for 2.
pub const MAX_CHUNKS: usize = 4;
/// How long the feed thread sleeps between looks at the queue while it holds chunks (a chunk
/// coming back wakes it at once). Sleeping 20 us or only yielding measured alike on an H200.
pub const POLL: Duration = Duration::from_micros(20);

pub struct Merger {
    ctx: Arc<Context>,
    /// Set when a batch call failed and single copies did not: the driver cannot merge.
    broken: bool,
    /// One event after each queued call, oldest first, not yet seen complete.
    inflight: VecDeque<Event>,
    spare: Vec<Event>,
}

impl Merger {
    pub fn new(ctx: &Arc<Context>) -> Merger {
        Merger {
            ctx: ctx.clone(),
            broken: false,
            inflight: VecDeque::new(),
            spare: Vec::new(),
        }
    }

    /// Chunks per call at most (1 once merging failed).
    fn max_chunks(&self) -> usize {
        if self.broken {
            1
        } else {
            MAX_CHUNKS
        }
    }

    /// Stops merging: the driver refused a batch call that single copies then did.
    pub fn give_up(&mut self) {
        self.broken = true;
    }

    /// Whether a chunk just back should wait for others: merging works, fewer than the most
    /// per call are held, and the engine has at least [`MIN_QUEUED`] calls to work through.
    pub fn hold(&mut self, held: usize) -> Result<bool> {
        Ok(held < self.max_chunks() && self.queued()? >= MIN_QUEUED)
    }

    /// Calls still queued or running on the stream (events complete in stream order).
    pub fn queued(&mut self) -> Result<usize> {
        while let Some(e) = self.inflight.front() {
            if !e.query()? {
                break;
            }
            if let Some(e) = self.inflight.pop_front() {
                self.spare.push(e);
            }
        }
        Ok(self.inflight.len())
    }

    /// Marks the end of a call just queued on `stream`.
    pub fn mark(&mut self, stream: &Stream) -> Result<()> {
        let e = match self.spare.pop() {
            Some(e) => e,
            None => self.ctx.event(false)?,
        };
        e.record(stream)?;
        self.inflight.push_back(e);
        Ok(())
    }
}
