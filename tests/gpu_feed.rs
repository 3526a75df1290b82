//! The feed on a real NVIDIA GPU: the bytes of every batch, read back from device memory, for
//! each path the device supports. Run on a GPU host:
//!   cargo test --release --test gpu_feed -- --ignored
//! or, without Rust there, build the test binary here (`cargo test --release --test gpu_feed
//! --no-run` prints its path), carry it, and run `./gpu_feed-<hash> --ignored`.

mod support;

use std::sync::Arc;

use support::{f32_bytes, sample_value, write_samples, Scratch};
use trtq_lite::cuda::{Context, Driver};
use trtq_lite::data::{Conversion, DataSet, InputSpec, SourceSpec};
use trtq_lite::feed::{Feed, FeedMode, FeedOptions};
use trtq_lite::npy::DType;

/// A feed of `path` (one input, exact dtype) in batches of `batch`.
fn open_feed(
    ctx: &Arc<Context>,
    path: std::path::PathBuf,
    inp: &InputSpec,
    batch: usize,
    opts: FeedOptions,
) -> Feed {
    let ds = DataSet::open(
        &[SourceSpec { name: None, path }],
        std::slice::from_ref(inp),
        batch,
        Conversion::Exact,
    )
    .unwrap();
    Feed::new(ctx, Arc::new(ds), opts).unwrap()
}

/// Reads every batch back from the device and compares it with write_samples' values
/// (`batch` samples of `elems` f32 each); returns how many batches came.
fn drain_exact(ctx: &Context, feed: &mut Feed, batch: usize, elems: usize, what: &str) -> usize {
    let mut k = 0;
    while let Some(p) = feed.next().unwrap() {
        let mut got = vec![0u8; batch * elems * 4];
        ctx.read_device(p[0], &mut got).unwrap();
        let want = f32_bytes(
            (0..batch).flat_map(|s| (0..elems).map(move |x| sample_value(k * batch + s, x))),
        );
        assert!(got == want, "{what}: batch {k} differs");
        k += 1;
    }
    k
}

#[test]
#[ignore = "needs an NVIDIA GPU: run `cargo test --release --test gpu_feed -- --ignored` on a host with the NVIDIA driver"]
fn every_path_delivers_exact_bytes_on_a_real_gpu() {
    let drv = Driver::load(None).expect("libcuda");
    let ctx = Context::new(&drv, 0).expect("device 0");
    let info = ctx.info().unwrap();
    eprintln!("{info:?}");
    let t = Scratch::new("gpu-feed");
    let shape = [3, 64, 64];
    let elems: usize = shape.iter().product();
    write_samples(&t.path("files"), 20, None, &shape);
    write_samples(&t.path("big"), 1, Some(20), &shape);
    let inp = InputSpec {
        name: "x".into(),
        sample_shape: shape.to_vec(),
        dtype: DType::F32,
    };
    // (source, mode, staging bytes, chunk bytes, trace the DMA): 0 = defaults; the small ring
    // (5 chunks of 20,000 bytes, which split samples and cross file ends) wraps around many
    // times.
    let mut modes = vec![
        ("files", FeedMode::Staged, 0, 0, false),
        ("files", FeedMode::Auto, 0, 0, false),
        ("big", FeedMode::Staged, 0, 0, true),
        ("big", FeedMode::Auto, 0, 0, false),
        ("files", FeedMode::Staged, 100_000, 20_000, true),
        ("big", FeedMode::Staged, 100_000, 20_000, false),
    ];
    if info.read_only_host_register {
        modes.push(("big", FeedMode::Registered, 0, 0, false));
    }
    if info.can_map_host_memory {
        modes.push(("files", FeedMode::Mapped, 0, 0, false));
    }
    for (src, mode, staging_bytes, chunk_bytes, trace_dma) in modes {
        let path = if src == "big" {
            t.path("big/s_0000.npy")
        } else {
            t.path("files")
        };
        let mut feed = open_feed(
            &ctx,
            path,
            &inp,
            6,
            FeedOptions {
                mode,
                staging_bytes,
                chunk_bytes,
                copy_threads: if chunk_bytes > 0 { 4 } else { 0 },
                trace_dma,
                ..Default::default()
            },
        );
        let k = drain_exact(&ctx, &mut feed, 6, elems, &format!("{src} {mode:?}"));
        assert_eq!(k, 3, "{src} {mode:?}");
        if trace_dma {
            // The device's own clock: every byte fed went through a traced copy, which took
            // time, and the copies lie within the span from the first to the last.
            let tr = feed.dma_trace().expect("a DMA trace");
            assert_eq!(tr.bytes, 3 * 6 * elems as u64 * 4, "{tr:?}");
            assert!(tr.busy_ms > 0.0 && tr.busy_ms + tr.idle_ms <= tr.span_ms * 1.01 + 0.01);
            eprintln!("{src} {mode:?} traced: {tr:?}");
        }
        eprintln!(
            "{src} {mode:?}: {} ({})",
            feed.path().name(),
            feed.stats().decision
        );
    }
    assert!(drv.drop_errors().is_empty(), "{:?}", drv.drop_errors());
}

/// Ring copies merged into cuMemcpyBatchAsync calls while the copy engine is busy (drivers
/// since CUDA 12.8): many small chunks from fast copy threads, so that finished chunks wait
/// for the engine. Every batch is read back; the trace counts the chunks and the calls.
#[test]
#[ignore = "needs an NVIDIA GPU: run `cargo test --release --test gpu_feed -- --ignored` on a host with the NVIDIA driver"]
fn merged_ring_copies_deliver_exact_bytes_on_a_real_gpu() {
    let drv = Driver::load(None).expect("libcuda");
    let ctx = Context::new(&drv, 0).expect("device 0");
    let t = Scratch::new("gpu-feed-merge");
    let shape = [3, 256, 256];
    let elems: usize = shape.iter().product();
    write_samples(&t.path("files"), 96, None, &shape);
    let inp = InputSpec {
        name: "x".into(),
        sample_shape: shape.to_vec(),
        dtype: DType::F32,
    };
    for merge_copies in [true, false] {
        let mut feed = open_feed(
            &ctx,
            t.path("files"),
            &inp,
            8,
            FeedOptions {
                mode: FeedMode::Staged,
                staging_bytes: 4 << 20,
                chunk_bytes: 256 << 10,
                copy_threads: 8,
                trace_dma: true,
                merge_copies,
                ..Default::default()
            },
        );
        let merge = feed.staging().map(|s| s.merge_chunks);
        let k = drain_exact(&ctx, &mut feed, 8, elems, &format!("merge {merge_copies}"));
        assert_eq!(k, 12);
        let tr = feed.dma_trace().expect("a DMA trace");
        eprintln!("merge {merge_copies} (up to {merge:?} chunks per call): {tr:?}");
        assert_eq!(tr.bytes, 12 * 8 * elems as u64 * 4, "{tr:?}");
        // 24 whole chunks per batch, the first batch in quarter chunks.
        assert_eq!(tr.chunks, 4 * 24 + 11 * 24, "{tr:?}");
        if !merge_copies || merge == Some(1) {
            assert_eq!(tr.copies, tr.chunks, "{tr:?}");
        }
    }
    assert!(drv.drop_errors().is_empty(), "{:?}", drv.drop_errors());
}
