//! The feed pipeline through hostcuda (host-memory libcuda stand-in): the bytes that reach
//! "device" memory, batch by batch, for every path; fault knobs give named errors; nothing
//! leaks. Tests share hostcuda's global state, so they run one at a time (LOCK).

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use support::{f32_bytes, f64_bytes, sample_value, write_npy, write_samples, Introspect, Scratch};
use trtq_lite::cuda::{Context, Driver};
use trtq_lite::data::{Conversion, DataSet, InputSpec, SourceSpec};
use trtq_lite::feed::{host_copy, Feed, FeedMode, FeedOptions, FeedPath, Staging};
use trtq_lite::npy::{f32_to_f16, DType};
use trtq_lite::Error;

static LOCK: Mutex<()> = Mutex::new(());

struct Env {
    _guard: MutexGuard<'static, ()>,
    hc: Introspect,
    ctx: Arc<Context>,
    base: i32,
}

fn env() -> Env {
    let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let drv = Driver::load(Some(&support::hostcuda())).unwrap();
    let hc = Introspect::new();
    for k in ["OOM_AFTER", "HTOD_FAIL_AFTER"] {
        hc.set(k, -1);
    }
    hc.set("ASYNC_US", 0);
    hc.set("REGISTER_US", 0);
    for k in [
        "HOSTALLOC_FAIL",
        "REGISTER_FAIL",
        "ELAPSED_FAIL",
        "BATCH_FAIL",
        "INTEGRATED",
        "NO_READONLY_REGISTER",
    ] {
        hc.set(k, 0);
    }
    let base = hc.live();
    let ctx = Context::new(&drv, 0).unwrap();
    Env {
        _guard: guard,
        hc,
        ctx,
        base,
    }
}

impl Env {
    /// Drops the context and checks that every allocation and the context reference are gone.
    fn finish(self) {
        let drv = self.ctx.driver().clone();
        drop(self.ctx);
        assert_eq!(
            self.hc.live(),
            self.base,
            "leaked allocations or registrations"
        );
        // SAFETY: plain counters.
        assert_eq!(
            unsafe { (self.hc.primary_refs)(0) },
            0,
            "primary context still retained"
        );
        assert_eq!(
            unsafe { (self.hc.ctx_depth)() },
            0,
            "context left current on this thread"
        );
        assert!(drv.drop_errors().is_empty(), "{:?}", drv.drop_errors());
        // SAFETY: a counter.
        assert_eq!(
            unsafe { (self.hc.violations)() },
            0,
            "memory freed under a queued copy"
        );
    }
}

fn one(name: &str, shape: &[usize], dtype: DType) -> InputSpec {
    InputSpec {
        name: name.into(),
        sample_shape: shape.to_vec(),
        dtype,
    }
}

fn open(src: &Path, inp: InputSpec, batch: usize, conv: Conversion) -> Arc<DataSet> {
    Arc::new(
        DataSet::open(
            &[SourceSpec {
                name: None,
                path: src.into(),
            }],
            &[inp],
            batch,
            conv,
        )
        .unwrap(),
    )
}

fn read(ctx: &Context, p: trtq_lite::cuda::DevicePtr, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    ctx.read_device(p, &mut v).unwrap();
    v
}

/// A feed with default options but `mode`.
fn feed_with(e: &Env, ds: Arc<DataSet>, mode: FeedMode) -> trtq_lite::Result<Feed> {
    Feed::new(
        &e.ctx,
        ds,
        FeedOptions {
            mode,
            ..Default::default()
        },
    )
}

/// write_samples' values of batch `k` (`b` samples of `elems` values each), as f32 bytes.
fn batch_of(k: usize, b: usize, elems: usize) -> Vec<u8> {
    f32_bytes((0..b).flat_map(|s| (0..elems).map(move |x| sample_value(k * b + s, x))))
}

/// Streams every batch of a one-input feed, checks its device bytes against `want(k)` and
/// returns how many batches came.
fn drain_checked(
    ctx: &Context,
    feed: &mut Feed,
    what: &str,
    want: impl Fn(usize) -> Vec<u8>,
) -> usize {
    let mut k = 0;
    while let Some(p) = feed.next().unwrap() {
        let w = want(k);
        assert!(
            read(ctx, p[0], w.len()) == w,
            "{what}: batch {k} differs on the device"
        );
        k += 1;
    }
    k
}

/// Streams every batch and checks its device bytes against write_samples' formula.
fn check_stream(
    e: &Env,
    ds: Arc<DataSet>,
    mode: FeedMode,
    elems: usize,
) -> (FeedPath, trtq_lite::feed::FeedStats) {
    let b = ds.batch_size();
    let batches = ds.batches();
    let mut feed = Feed::new(
        &e.ctx,
        ds,
        FeedOptions {
            mode,
            depth: 3,
            copy_threads: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let mut k = 0;
    while let Some(ptrs) = feed.next().unwrap() {
        assert_eq!(ptrs.len(), 1);
        let got = read(&e.ctx, ptrs[0], b * elems * 4);
        let want =
            f32_bytes((0..b).flat_map(|s| (0..elems).map(move |x| sample_value(k * b + s, x))));
        assert!(got == want, "batch {k} differs on the device");
        k += 1;
    }
    assert_eq!(k, batches);
    assert!(
        feed.next().unwrap().is_none(),
        "next after the end must stay None"
    );
    let out = (feed.path(), feed.stats().clone());
    drop(feed);
    out
}

#[test]
fn staged_across_files_delivers_every_batch_in_order() {
    let e = env();
    let t = Scratch::new("feed-staged");
    write_samples(&t.0, 11, None, &[3, 4, 4]);
    let ds = open(&t.0, one("x", &[3, 4, 4], DType::F32), 4, Conversion::Exact);
    let (path, st) = check_stream(&e, ds, FeedMode::Auto, 48);
    assert_eq!(path, FeedPath::Staged);
    assert!(
        st.decision.contains("span several files"),
        "{}",
        st.decision
    );
    assert_eq!(
        (st.batches, st.bytes, st.waits.len()),
        (2, 2 * 4 * 48 * 4, 2)
    );
    e.finish();
}

#[test]
fn large_batches_use_parallel_copies() {
    let e = env();
    let t = Scratch::new("feed-large");
    // 4 files x 3 samples of about 1.5 MiB: a batch of 5 crosses files and splits into 7
    // shares of at least 1 MiB that end in the middle of samples.
    let shape = [3, 255, 511];
    let elems = 3 * 255 * 511;
    write_samples(&t.0, 4, Some(3), &shape);
    let ds = open(&t.0, one("x", &shape, DType::F32), 5, Conversion::Exact);
    let mut feed = Feed::new(
        &e.ctx,
        ds,
        FeedOptions {
            mode: FeedMode::Staged,
            copy_threads: 16,
            ..Default::default()
        },
    )
    .unwrap();
    let k = drain_checked(&e.ctx, &mut feed, "staged", |k| batch_of(k, 5, elems));
    assert_eq!(k, 2);
    drop(feed);
    e.finish();
}

#[test]
fn host_copy_alone_reads_the_first_batches_and_frees_its_buffers() {
    let e = env();
    let t = Scratch::new("feed-host-copy");
    // Two batches of 5 samples (7.8 MB each) over four files.
    let shape = [3, 255, 511];
    write_samples(&t.0, 4, Some(3), &shape);
    let ds = open(&t.0, one("x", &shape, DType::F32), 5, Conversion::Exact);
    let staging = Staging {
        threads: 3,
        chunk_bytes: 1 << 20,
        buffers: 5,
        merge_chunks: 1,
    };
    // The byte budget decides how many batches, at least one and at most all of them.
    for (max_bytes, batches) in [(1, 1), (16 << 20, 2), (1 << 30, 2)] {
        let h = host_copy(&e.ctx, &ds, staging, max_bytes, 2).unwrap();
        assert_eq!((h.batches, h.reps), (batches, 2), "{max_bytes}");
        // Not a speed target: a clock that started after the copies (as a first version's
        // could) gives absurd rates for megabytes of copies.
        for (what, r) in [
            ("alone", h.alone_gb_per_s),
            ("with the DMA", h.with_dma_gb_per_s),
            ("DMA", h.dma_gb_per_s),
        ] {
            assert!(r > 0.0 && r < 1000.0, "{max_bytes}, {what}: {r} GB/s");
        }
    }
    e.finish();
}

#[test]
fn registered_copies_straight_from_the_mapped_file() {
    let e = env();
    let t = Scratch::new("feed-reg");
    write_samples(&t.0, 1, Some(12), &[2, 8]);
    let ds = open(
        &t.path("s_0000.npy"),
        one("x", &[2, 8], DType::F32),
        3,
        Conversion::Exact,
    );
    let b0 = e.hc.registered_bytes;
    let ds2 = ds.clone();
    let mut feed = feed_with(&e, ds2, FeedMode::Registered).unwrap();
    let (mut k, mut seen) = (0, 0);
    while let Some(p) = feed.next().unwrap() {
        // SAFETY: a counter.
        seen = seen.max(unsafe { b0() });
        let want = f32_bytes((0..3).flat_map(|s| (0..16).map(move |x| sample_value(k * 3 + s, x))));
        assert_eq!(read(&e.ctx, p[0], 3 * 16 * 4), want, "batch {k}");
        k += 1;
    }
    // The whole file (header page included) fits one window.
    assert_eq!(
        seen,
        128 + 12 * 16 * 4,
        "the file was not registered while streaming"
    );
    assert_eq!((k, feed.path()), (4, FeedPath::Registered));
    drop(feed);
    // SAFETY: a counter.
    assert_eq!(unsafe { b0() }, 0, "registration outlived the feed");
    drop(ds);
    e.finish();
}

/// With copies that really run later (hostcuda's asynchronous streams), a staging buffer or a
/// slot reused too early would show as wrong bytes; freeing under a queued copy is counted.
#[test]
fn asynchronous_copies_keep_every_batch_intact() {
    let e = env();
    e.hc.set("ASYNC_US", 300);
    let t = Scratch::new("feed-async");
    write_samples(&t.path("files"), 23, None, &[2, 16]);
    write_samples(&t.path("big"), 1, Some(23), &[2, 16]);
    for (src, mode) in [
        ("files", FeedMode::Staged),
        ("files", FeedMode::Auto),
        ("big", FeedMode::Staged),
        ("big", FeedMode::Registered),
        ("big", FeedMode::Auto),
        ("files", FeedMode::Mapped),
    ] {
        let path = if src == "big" {
            t.path("big/s_0000.npy")
        } else {
            t.path("files")
        };
        let ds = open(&path, one("x", &[2, 16], DType::F32), 2, Conversion::Exact);
        let (_, st) = check_stream(&e, ds, mode, 32);
        assert_eq!(st.batches, 11, "{src} {mode:?}");
    }
    // Registered windows smaller than the file: unregistering must wait for queued copies.
    let ds = open(
        &t.path("big/s_0000.npy"),
        one("x", &[2, 16], DType::F32),
        2,
        Conversion::Exact,
    );
    let mut feed = Feed::new(
        &e.ctx,
        ds,
        FeedOptions {
            mode: FeedMode::Registered,
            reg_window: 4096,
            ..Default::default()
        },
    )
    .unwrap();
    drain_checked(&e.ctx, &mut feed, "registered", |k| batch_of(k, 2, 32));
    drop(feed);
    // Dropped mid-stream, with copies still queued: nothing may be freed under them.
    for mode in [FeedMode::Staged, FeedMode::Registered] {
        let ds = open(
            &t.path("big/s_0000.npy"),
            one("x", &[2, 16], DType::F32),
            2,
            Conversion::Exact,
        );
        let mut feed = feed_with(&e, ds, mode).unwrap();
        assert!(feed.next().unwrap().is_some());
        drop(feed);
    }
    e.hc.set("ASYNC_US", 0);
    e.finish();
}

#[test]
fn registered_windows_move_along_a_large_file() {
    let e = env();
    let t = Scratch::new("feed-regwin");
    // 30 samples of 4 KiB; windows of 3 pages hold at most 3 samples each.
    write_samples(&t.0, 1, Some(30), &[1024]);
    let ds = open(
        &t.path("s_0000.npy"),
        one("x", &[1024], DType::F32),
        2,
        Conversion::Exact,
    );
    let reg = e.hc.registered_bytes;
    let mut feed = Feed::new(
        &e.ctx,
        ds,
        FeedOptions {
            mode: FeedMode::Registered,
            reg_window: 3 * 4096,
            ..Default::default()
        },
    )
    .unwrap();
    let (mut k, mut most) = (0, 0);
    while let Some(p) = feed.next().unwrap() {
        // SAFETY: a counter.
        most = most.max(unsafe { reg() });
        let want =
            f32_bytes((0..2).flat_map(|s| (0..1024).map(move |x| sample_value(k * 2 + s, x))));
        assert_eq!(read(&e.ctx, p[0], 2 * 4096), want, "batch {k}");
        k += 1;
    }
    assert_eq!(k, 15);
    assert!(most <= 3 * 4096 + 4096, "registered {most} bytes at once");
    drop(feed);
    e.finish();
}

#[test]
fn auto_measures_staged_against_registered_on_one_big_file() {
    let e = env();
    let t = Scratch::new("feed-auto");
    write_samples(&t.0, 1, Some(20), &[4, 4]);
    let ds = open(
        &t.path("s_0000.npy"),
        one("x", &[4, 4], DType::F32),
        4,
        Conversion::Exact,
    );
    let (path, st) = check_stream(&e, ds.clone(), FeedMode::Auto, 16);
    assert!(matches!(path, FeedPath::Staged | FeedPath::Registered));
    assert!(st.decision.contains("measured: staged"), "{}", st.decision);
    // Registering that is slow by itself (0.2 s here) rules registered out without two
    // registered batches.
    e.hc.set("REGISTER_US", 200_000);
    let (path, st) = check_stream(&e, ds.clone(), FeedMode::Auto, 16);
    assert_eq!(path, FeedPath::Staged);
    assert!(
        st.decision
            .contains("registering batch 3 alone takes about")
            && st.decision.contains("could not be faster"),
        "{}",
        st.decision
    );
    e.hc.set("REGISTER_US", 0);
    // Staging held back by slow copies (5 ms each through a ring of 2 buffers: a buffer is
    // refilled only after its copy) against a registration of microseconds: registered
    // batches are tried, timed, and the stream goes on where staging paused; every batch
    // still arrives in order.
    e.hc.set("ASYNC_US", 5000);
    write_samples(&t.path("ten"), 1, Some(40), &[4, 4]);
    let ds = open(
        &t.path("ten/s_0000.npy"),
        one("x", &[4, 4], DType::F32),
        4,
        Conversion::Exact,
    );
    let mut feed = Feed::new(
        &e.ctx,
        ds,
        FeedOptions {
            mode: FeedMode::Auto,
            staging_bytes: 4096,
            chunk_bytes: 2048,
            ..Default::default()
        },
    )
    .unwrap();
    let k = drain_checked(&e.ctx, &mut feed, "auto", |k| batch_of(k, 4, 16));
    assert_eq!(k, 10);
    let d = &feed.stats().decision;
    assert!(d.contains("including registering their window"), "{d}");
    drop(feed);
    e.hc.set("ASYNC_US", 0);
    e.finish();
}

#[test]
fn mapped_memory_on_integrated_gpus() {
    let e = env();
    e.hc.set("INTEGRATED", 1);
    let t = Scratch::new("feed-mapped");
    write_samples(&t.0, 6, None, &[5]);
    let ds = open(&t.0, one("x", &[5], DType::F32), 2, Conversion::Exact);
    let (path, st) = check_stream(&e, ds, FeedMode::Auto, 5);
    assert_eq!(path, FeedPath::Mapped);
    assert!(st.decision.contains("integrated"), "{}", st.decision);
    e.hc.set("INTEGRATED", 0);
    e.finish();
}

#[test]
fn two_inputs_in_the_given_order_with_conversions() {
    let e = env();
    let t = Scratch::new("feed-two");
    // images: f64 data for an f32 input; mask: f32 data for an f16 input.
    write_npy(
        &t.path("img.npy"),
        "<f8",
        &[6, 3],
        &f64_bytes((0..18).map(|x| x as f64 + 0.25)),
    );
    write_npy(
        &t.path("mask.npy"),
        "<f4",
        &[6, 2],
        &f32_bytes((0..12).map(|x| x as f32 * 0.5)),
    );
    let ds = DataSet::open(
        &[
            SourceSpec::parse(&format!("mask={}", t.path("mask.npy").display())),
            SourceSpec::parse(&format!("images={}", t.path("img.npy").display())),
        ],
        &[
            one("images", &[3], DType::F32),
            one("mask", &[2], DType::F16),
        ],
        2,
        Conversion::Allow,
    )
    .unwrap();
    let mut feed = Feed::new(&e.ctx, Arc::new(ds), FeedOptions::default()).unwrap();
    let mut k = 0;
    while let Some(p) = feed.next().unwrap() {
        let p = p.to_vec();
        let img = f32_bytes((k * 6..k * 6 + 6).map(|x| x as f32 + 0.25));
        let mask: Vec<u8> = (k * 4..k * 4 + 4)
            .flat_map(|x| f32_to_f16(x as f32 * 0.5).to_le_bytes())
            .collect();
        assert_eq!(read(&e.ctx, p[0], 24), img, "images batch {k}");
        assert_eq!(read(&e.ctx, p[1], 8), mask, "mask batch {k}");
        k += 1;
    }
    assert_eq!(k, 3);
    drop(feed);
    e.finish();
}

/// 13 samples of 1,000 f32 (4,000 bytes) in batches of 3, as per-sample files and as one file,
/// through `path` with each of `opts` (chunk sizes that do not divide the batch, so chunks split
/// samples and cross file ends); then a 10x700 f64 file as f32 in batches of 4 with `wide`
/// (chunks are counted in destination bytes). Every byte of every batch is checked.
fn every_byte_in_chunks(
    e: &Env,
    name: &str,
    path: FeedPath,
    opts: &[FeedOptions],
    wide: FeedOptions,
) {
    let t = Scratch::new(name);
    write_samples(&t.path("files"), 13, None, &[1000]);
    write_samples(&t.path("big"), 1, Some(13), &[1000]);
    for src in ["files", "big/s_0000.npy"] {
        for o in opts {
            let ds = open(
                &t.path(src),
                one("x", &[1000], DType::F32),
                3,
                Conversion::Exact,
            );
            let mut feed = Feed::new(&e.ctx, ds, *o).unwrap();
            let what = format!("{src}, {} threads", o.copy_threads);
            let k = drain_checked(&e.ctx, &mut feed, &what, |k| batch_of(k, 3, 1000));
            assert_eq!((k, feed.path()), (4, path), "{what}");
            drop(feed);
        }
    }
    let vals = |n: usize| (0..n).map(|x| x as f64 * 0.75 - 100.0);
    write_npy(
        &t.path("wide.npy"),
        "<f8",
        &[10, 700],
        &f64_bytes(vals(7000)),
    );
    let ds = open(
        &t.path("wide.npy"),
        one("x", &[700], DType::F32),
        4,
        Conversion::Allow,
    );
    let mut feed = Feed::new(&e.ctx, ds, wide).unwrap();
    let k = drain_checked(&e.ctx, &mut feed, "f64", |k| {
        f32_bytes(vals(7000).skip(k * 2800).take(2800).map(|x| x as f32))
    });
    assert_eq!((k, feed.path()), (2, path));
    drop(feed);
}

/// Chunks of one page through a ring of three buffers, copies that complete late (hostcuda's
/// asynchronous streams) and copy threads that finish out of order: every chunk must land at
/// its place in its batch's slot, across file ends, with a conversion that halves the bytes.
#[test]
fn small_staging_ring_wraps_many_times_and_keeps_every_byte() {
    let e = env();
    e.hc.set("ASYNC_US", 150);
    let staged = |threads, ring, chunk| FeedOptions {
        mode: FeedMode::Staged,
        copy_threads: threads,
        staging_bytes: ring,
        chunk_bytes: chunk,
        ..Default::default()
    };
    every_byte_in_chunks(
        &e,
        "feed-ring",
        FeedPath::Staged,
        &[staged(1, 3 * 4096, 4096), staged(4, 3 * 4096, 4096)],
        staged(3, 2 * 4096, 2048),
    );
    e.hc.set("ASYNC_US", 0);
    e.finish();
}

/// Mapped slots are cut into chunk-sized pieces that the copy threads fill in place: the same
/// cases, with 2 and 3 slots.
#[test]
fn mapped_slots_are_filled_in_chunks_by_the_copy_threads() {
    let e = env();
    e.hc.set("INTEGRATED", 1);
    let mapped = |threads, depth, chunk| FeedOptions {
        mode: FeedMode::Mapped,
        copy_threads: threads,
        depth,
        chunk_bytes: chunk,
        ..Default::default()
    };
    every_byte_in_chunks(
        &e,
        "feed-mapped-chunks",
        FeedPath::Mapped,
        &[mapped(1, 2, 4096), mapped(4, 3, 4096)],
        mapped(3, 3, 2048),
    );
    e.hc.set("INTEGRATED", 0);
    e.finish();
}

/// A consumer that asks at once, many batches of several chunks each, and copy threads that
/// finish in any order: the feed must never wait for a free device slot while a finished
/// batch is still unannounced (the consumer returns slots only after it got its batch). A
/// first version did, and hung now and then on an H200; here a watchdog turns a hang into a
/// failure.
#[test]
fn fast_consumer_never_deadlocks_the_staged_stream() {
    let e = env();
    let t = Scratch::new("feed-fast");
    write_samples(&t.path("files"), 601, None, &[300]);
    let ds = open(
        &t.path("files"),
        one("x", &[300], DType::F32),
        2,
        Conversion::Exact,
    );
    let ctx = e.ctx.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut total = 0;
        for round in 0..8 {
            let mut feed = Feed::new(
                &ctx,
                ds.clone(),
                FeedOptions {
                    mode: FeedMode::Staged,
                    copy_threads: 3 + round % 3,
                    depth: 2 + round % 2,
                    staging_bytes: 4 * 1024,
                    chunk_bytes: 1024,
                    ..Default::default()
                },
            )
            .unwrap();
            while let Some(p) = feed.next().unwrap() {
                assert_eq!(p.len(), 1);
                total += 1;
            }
        }
        // Release this thread's context reference before the main thread checks for leaks.
        drop(ctx);
        let _ = tx.send(total);
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(60));
    assert_eq!(got, Ok(8 * 300), "the staged stream hung (or failed)");
    e.finish();
}

/// Pinned memory cut into pieces: consecutive, the last one shorter, each writable on its own
/// thread, and freed only when the last piece goes.
#[test]
fn pinned_pieces_cover_the_buffer_and_free_it_with_the_last_one() {
    let e = env();
    let live = e.hc.live();
    let buf = e.ctx.alloc_pinned(10_000, true).unwrap();
    let dev = buf.device_ptr().unwrap();
    let mut pieces = buf.into_chunks(4096).unwrap();
    let lens: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
    assert_eq!(lens, [4096, 4096, 1808]);
    std::thread::scope(|sc| {
        for (i, p) in pieces.iter_mut().enumerate() {
            sc.spawn(move || p.as_mut_slice().fill(i as u8 + 1));
        }
    });
    // Mapped memory: the device pointer reads what the pieces wrote, in order.
    let want: Vec<u8> = lens
        .iter()
        .enumerate()
        .flat_map(|(i, &n)| std::iter::repeat(i as u8 + 1).take(n))
        .collect();
    assert!(read(&e.ctx, dev, 10_000) == want);
    let last = pieces.pop().unwrap();
    drop(pieces);
    assert_eq!(e.hc.live(), live + 1, "freed while a piece was alive");
    drop(last);
    assert_eq!(e.hc.live(), live, "not freed with the last piece");
    e.finish();
}

#[test]
fn out_of_device_memory_is_named_and_leaks_nothing() {
    let e = env();
    let t = Scratch::new("feed-oom");
    write_samples(&t.0, 8, None, &[10]);
    let ds = open(&t.0, one("x", &[10], DType::F32), 2, Conversion::Exact);
    e.hc.set("OOM_AFTER", 2);
    let err = Feed::new(&e.ctx, ds, FeedOptions::default()).err().unwrap();
    e.hc.set("OOM_AFTER", -1);
    match &err {
        Error::Cuda {
            call, code, name, ..
        } => {
            assert_eq!(call, "cuMemAlloc_v2(80 bytes)");
            assert_eq!((*code, name.as_str()), (2, "CUDA_ERROR_OUT_OF_MEMORY"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "cuMemAlloc_v2(80 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"
    );
    assert_eq!(err.exit_code(), 1);
    e.finish();
}

#[test]
fn pinned_failure_falls_back_to_pageable_in_auto_and_fails_when_forced() {
    let e = env();
    let t = Scratch::new("feed-pageable");
    write_samples(&t.0, 9, None, &[7]);
    e.hc.set("HOSTALLOC_FAIL", 1);
    let ds = open(&t.0, one("x", &[7], DType::F32), 3, Conversion::Exact);
    let (path, st) = check_stream(&e, ds.clone(), FeedMode::Auto, 7);
    assert_eq!(path, FeedPath::Pageable);
    assert!(
        st.warnings
            .iter()
            .any(|w| w.contains("falling back to pageable copies")),
        "{:?}",
        st.warnings
    );
    let err = feed_with(&e, ds, FeedMode::Staged).err().unwrap();
    assert!(
        err.to_string()
            .starts_with("cuMemHostAlloc(4096 bytes, flags 0x1) failed: CUDA_ERROR_OUT_OF_MEMORY"),
        "{err}"
    );
    e.hc.set("HOSTALLOC_FAIL", 0);
    e.finish();
}

#[test]
fn copy_failure_surfaces_from_next() {
    let e = env();
    let t = Scratch::new("feed-htod");
    write_samples(&t.0, 10, None, &[4]);
    let ds = open(&t.0, one("x", &[4], DType::F32), 2, Conversion::Exact);
    let mut feed = feed_with(&e, ds, FeedMode::Staged).unwrap();
    e.hc.set("HTOD_FAIL_AFTER", 2);
    let mut ok = 0;
    let err = loop {
        match feed.next() {
            Ok(Some(_)) => ok += 1,
            Ok(None) => panic!("the copy failure was not reported"),
            Err(e) => break e,
        }
    };
    e.hc.set("HTOD_FAIL_AFTER", -1);
    assert_eq!(ok, 2);
    assert!(
        err.to_string()
            .starts_with("cuMemcpyHtoDAsync_v2(32 bytes) failed: CUDA_ERROR_ILLEGAL_ADDRESS (700)"),
        "{err}"
    );
    assert!(feed.next().unwrap().is_none());
    drop(feed);
    e.finish();
}

#[test]
fn registration_refused_auto_stages_forced_fails() {
    let e = env();
    let t = Scratch::new("feed-regfail");
    // 6 batches of 2: auto compares paths only from 5 batches on.
    write_samples(&t.0, 1, Some(12), &[4]);
    let ds = open(
        &t.path("s_0000.npy"),
        one("x", &[4], DType::F32),
        2,
        Conversion::Exact,
    );
    e.hc.set("REGISTER_FAIL", 1);
    let (path, st) = check_stream(&e, ds.clone(), FeedMode::Auto, 4);
    assert_eq!(path, FeedPath::Staged);
    assert!(
        st.warnings
            .iter()
            .any(|w| w.contains("cuMemHostRegister_v2") && w.contains("CUDA_ERROR_NOT_SUPPORTED")),
        "{:?}",
        st.warnings
    );
    let mut feed = feed_with(&e, ds.clone(), FeedMode::Registered).unwrap();
    let err = feed.next().err().unwrap();
    assert!(err.to_string().contains("cuMemHostRegister_v2"), "{err}");
    drop(feed);
    e.hc.set("REGISTER_FAIL", 0);
    // Without read-only registration support, forcing it is refused up front.
    e.hc.set("NO_READONLY_REGISTER", 1);
    let err = feed_with(&e, ds, FeedMode::Registered).err().unwrap();
    assert!(
        err.to_string()
            .contains("cannot register read-only host memory"),
        "{err}"
    );
    e.hc.set("NO_READONLY_REGISTER", 0);
    e.finish();
}

#[test]
fn consumer_slower_than_copies_barely_waits() {
    let e = env();
    let t = Scratch::new("feed-wait");
    write_samples(&t.0, 1, Some(40), &[64, 64]);
    let ds = open(
        &t.path("s_0000.npy"),
        one("x", &[64, 64], DType::F32),
        4,
        Conversion::Exact,
    );
    let mut feed = feed_with(&e, ds, FeedMode::Staged).unwrap();
    while feed.next().unwrap().is_some() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let st = feed.stats().clone();
    drop(feed);
    assert_eq!(st.batches, 10);
    // Batches are prepared while the consumer sleeps: waiting is a small fraction of its 5 ms.
    assert!(
        st.mean_wait_after_first() < std::time::Duration::from_millis(1),
        "{:?}",
        st.waits
    );
    e.finish();
}

#[test]
fn loading_failures_are_typed_and_list_what_was_tried() {
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let err = Driver::load(Some(Path::new("/nonexistent/libcuda.so.1")))
        .err()
        .unwrap();
    let m = err.to_string();
    assert!(matches!(err, Error::LibraryNotFound { .. }), "{err:?}");
    assert!(
        m.contains("/nonexistent/libcuda.so.1: ")
            && m.contains("--cuda-lib PATH or TRTQ_LIBCUDA=PATH"),
        "{m}"
    );
    // A real library without CUDA's symbols.
    let err = Driver::load(Some(Path::new("libm.so.6"))).err().unwrap();
    match err {
        Error::MissingSymbol { symbol, .. } => assert_eq!(symbol, "cuInit"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn device_info_for_doctor() {
    let e = env();
    let info = e.ctx.info().unwrap();
    assert!(info.name.contains("hostcuda"));
    assert_eq!(info.compute_capability, (9, 0));
    assert_eq!(info.total_mem, 8 << 30);
    assert!(!info.integrated && info.can_map_host_memory && info.read_only_host_register);
    // hostcuda has no cuDeviceGetPCIBusId: the optional symbol resolves to None.
    assert_eq!(info.pci_bus_id, None);
    assert_eq!(info.driver_version_string(), "13.0");
    let err = Context::new(e.ctx.driver(), 3).err().unwrap();
    assert!(err.to_string().contains("--device 3"), "{err}");
    e.finish();
}

#[test]
fn dma_trace_times_every_ring_copy_once_the_data_is_fed() {
    let e = env();
    let t = Scratch::new("feed-trace");
    write_samples(&t.0, 12, None, &[256]);
    // Every copy takes 1 ms of stream time: the trace must find that much busy time per copy.
    e.hc.set("ASYNC_US", 1000);
    let ds = open(&t.0, one("x", &[256], DType::F32), 4, Conversion::Exact);
    // One call per chunk here (merged calls: `merged_copies_...` below).
    let opts = FeedOptions {
        mode: FeedMode::Staged,
        copy_threads: 2,
        chunk_bytes: 1024,
        trace_dma: true,
        merge_copies: false,
        ..Default::default()
    };
    let mut feed = Feed::new(&e.ctx, ds.clone(), opts).unwrap();
    let n = drain_checked(&e.ctx, &mut feed, "traced", |k| batch_of(k, 4, 256));
    assert_eq!(n, 3);
    let tr = feed.dma_trace().expect("a trace after the last batch");
    // 4 KiB batches in 1 KiB chunks (the first batch's quarter chunks are 1 KiB too).
    assert_eq!(
        (tr.copies, tr.chunks, tr.chunk_copies, tr.bytes),
        (12, 12, 12, 3 * 4096)
    );
    assert!(tr.busy_ms >= 12.0 * 0.99, "{tr:?}");
    assert!(
        tr.busy_ms + tr.idle_ms <= tr.span_ms * 1.01 + 0.01,
        "{tr:?}"
    );
    assert!(tr.busy_share() > 0.0 && tr.busy_share() <= 1.01, "{tr:?}");
    let [p10, med, p90] = tr.chunk_gb_per_s.unwrap();
    // 1 KiB per >= 1 ms is at most 1.024e-3 GB/s.
    assert!(p10 <= med && med <= p90 && p90 <= 1.1e-3, "{tr:?}");
    assert_eq!(feed.dma_trace(), None, "a second call");
    drop(feed);

    // Untraced, and traced but stopped early: no trace (and no wait for one).
    e.hc.set("ASYNC_US", 0);
    let mut feed = Feed::new(
        &e.ctx,
        ds.clone(),
        FeedOptions {
            trace_dma: false,
            ..opts
        },
    )
    .unwrap();
    while feed.next().unwrap().is_some() {}
    assert_eq!(feed.dma_trace(), None);
    drop(feed);
    let mut feed = Feed::new(&e.ctx, ds.clone(), opts).unwrap();
    assert!(feed.next().unwrap().is_some());
    assert_eq!(feed.dma_trace(), None, "before the end");
    drop(feed);

    // Events that cannot be read: no trace, a warning naming the call.
    e.hc.set("ELAPSED_FAIL", 1);
    let mut feed = Feed::new(&e.ctx, ds, opts).unwrap();
    while feed.next().unwrap().is_some() {}
    assert_eq!(feed.dma_trace(), None);
    let w = &feed.stats().warnings;
    assert!(
        w.iter()
            .any(|w| w.starts_with("the DMA trace could not be read: cuEventElapsedTime")),
        "{w:?}"
    );
    drop(feed);
    e.hc.set("ELAPSED_FAIL", 0);
    e.finish();
}

/// Copy calls that take long (hostcuda's asynchronous stream, 400 us each) behind copy threads
/// that fill chunks quickly: finished chunks wait while the engine has calls queued and go
/// several to a cuMemcpyBatchAsync call. Every byte must still land in its place, the trace
/// must count the chunks in fewer calls, and without merging (asked, or after the driver
/// refused a batch call) every chunk is a call of its own.
#[test]
fn merged_copies_take_fewer_calls_and_keep_every_byte() {
    let e = env();
    let t = Scratch::new("feed-merge");
    write_samples(&t.path("files"), 48, None, &[256]);
    write_samples(&t.path("big"), 1, Some(48), &[256]);
    e.hc.set("ASYNC_US", 400);
    let opts = FeedOptions {
        mode: FeedMode::Staged,
        copy_threads: 3,
        chunk_bytes: 1024,
        staging_bytes: 16 * 1024,
        trace_dma: true,
        ..Default::default()
    };
    // 12 batches of 4 KiB in 1 KiB chunks.
    let run = |src: &str, opts: FeedOptions| {
        let ds = open(
            &t.path(src),
            one("x", &[256], DType::F32),
            4,
            Conversion::Exact,
        );
        let before = e.hc.batches();
        let mut feed = Feed::new(&e.ctx, ds, opts).unwrap();
        let merge = feed.staging().map(|s| s.merge_chunks);
        let n = drain_checked(&e.ctx, &mut feed, src, |k| batch_of(k, 4, 256));
        assert_eq!(n, 12, "{src}");
        let tr = feed.dma_trace().expect("a trace");
        assert_eq!((tr.chunks, tr.bytes), (48, 48 * 1024), "{src}: {tr:?}");
        (merge, tr.copies, e.hc.batches() - before)
    };
    for src in ["files", "big/s_0000.npy"] {
        let (merge, calls, batch_calls) = run(src, opts);
        assert_eq!(merge, Some(4), "{src}");
        assert!(
            batch_calls > 0 && (12..48).contains(&calls),
            "{src}: {calls} calls, {batch_calls} batch calls"
        );
        let off = FeedOptions {
            merge_copies: false,
            ..opts
        };
        assert_eq!(run(src, off), (Some(1), 48, 0), "{src}, not merging");
    }
    // A driver that refuses the batch call: its chunks are copied one by one, and no further
    // batch call is tried (the refused one's chunks still count as one traced call).
    e.hc.set("BATCH_FAIL", 801);
    let (_, calls, batch_calls) = run("files", opts);
    assert_eq!(batch_calls, 0);
    assert!(calls >= 48 - 3, "{calls} calls after a refused batch call");
    // ... and the feed says so once.
    let ds = open(
        &t.path("files"),
        one("x", &[256], DType::F32),
        4,
        Conversion::Exact,
    );
    let mut feed = Feed::new(&e.ctx, ds, opts).unwrap();
    while feed.next().unwrap().is_some() {}
    let w: Vec<_> = feed
        .stats()
        .warnings
        .iter()
        .filter(|w| w.contains("copied one per call"))
        .collect();
    assert_eq!(w.len(), 1, "{:?}", feed.stats().warnings);
    assert!(
        w[0].starts_with("cuMemcpyBatchAsync_v2(")
            && w[0].contains("CUDA_ERROR_NOT_SUPPORTED (801)"),
        "{w:?}"
    );
    drop(feed);
    e.hc.set("BATCH_FAIL", 0);

    // A consumer that returns each slot at once, with chunks held: the feed must never block
    // for a device slot while it holds chunks of the batch the consumer waits for (an
    // experiment build did, and hung on an H200). A watchdog turns a hang into a failure.
    e.hc.set("ASYNC_US", 30);
    let ctx = e.ctx.clone();
    let ds = open(
        &t.path("files"),
        one("x", &[256], DType::F32),
        2,
        Conversion::Exact,
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut total = 0;
        for round in 0..48 {
            let o = FeedOptions {
                copy_threads: 2 + round % 3,
                depth: 2 + round % 2,
                chunk_bytes: 512,
                staging_bytes: 4 * 1024,
                trace_dma: false,
                ..opts
            };
            let mut feed = Feed::new(&ctx, ds.clone(), o).unwrap();
            while feed.next().unwrap().is_some() {
                total += 1;
            }
        }
        drop(ctx);
        let _ = tx.send(total);
    });
    let got = rx.recv_timeout(std::time::Duration::from_secs(60));
    assert_eq!(
        got,
        Ok(48 * 24),
        "the merging staged stream hung (or failed)"
    );
    e.hc.set("ASYNC_US", 0);
    e.finish();
}

/// The default geometry where copies are merged: batches of 6.3 MB in chunks of 2 MiB (not
/// 4 MiB), copy calls that take 2 ms each so that finished chunks wait and merge, and every
/// byte of every batch in place.
#[test]
fn default_chunks_are_2_mib_where_copies_are_merged() {
    let e = env();
    let t = Scratch::new("feed-merge-default");
    let shape = [3, 256, 256];
    let elems: usize = shape.iter().product();
    write_samples(&t.0, 48, None, &shape);
    e.hc.set("ASYNC_US", 2000);
    for merge_copies in [true, false] {
        let ds = open(&t.0, one("x", &shape, DType::F32), 8, Conversion::Exact);
        let opts = FeedOptions {
            mode: FeedMode::Staged,
            copy_threads: 3,
            trace_dma: true,
            merge_copies,
            ..Default::default()
        };
        let mut feed = Feed::new(&e.ctx, ds, opts).unwrap();
        let s = feed.staging().unwrap();
        let want = if merge_copies {
            (2 << 20, 4)
        } else {
            (12_582_912 / 5 / 4096 * 4096, 1)
        };
        assert_eq!(
            (s.chunk_bytes, s.merge_chunks),
            want,
            "merge {merge_copies}"
        );
        let n = drain_checked(&e.ctx, &mut feed, "default chunks", |k| {
            batch_of(k, 8, elems)
        });
        assert_eq!(n, 6);
        let tr = feed.dma_trace().unwrap();
        assert_eq!(tr.bytes, 6 * 8 * elems as u64 * 4, "{tr:?}");
        if merge_copies {
            assert!(tr.copies < tr.chunks, "{tr:?}");
        } else {
            assert_eq!(tr.copies, tr.chunks, "{tr:?}");
        }
    }
    e.hc.set("ASYNC_US", 0);
    e.finish();
}
