//! `trtq-lite bench-feed`: streams a data set through the calibrator's feed pipeline with a
//! simulated consumer and compares the throughput with the pinned-copy ceiling measured in
//! the same run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::cli::inspect_data::fmt_num;
use crate::cuda::{Context, Driver};
use crate::data::{parse_shape, Conversion, DataSet, InputSpec, Source, SourceSpec};
use crate::error::{Error, Result};
use crate::feed::{host_copy, DmaTrace, Feed, FeedMode, FeedOptions, FeedPath};
use crate::json::Value;
use crate::npy::shape_str;

/// measure how fast calibration data streams into GPU memory
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "bench-feed")]
pub struct Args {
    /// data sources (directory, .npy file or list file); NAME=SOURCE for several inputs
    #[argh(positional)]
    pub sources: Vec<String>,

    /// samples per batch
    #[argh(option)]
    pub batch_size: usize,

    /// CUDA device ordinal (default 0)
    #[argh(option, default = "0")]
    pub device: usize,

    /// simulated consumer time per batch in milliseconds (default 0)
    #[argh(option, default = "0.0")]
    pub consumer_ms: f64,

    /// path of libcuda (default: TRTQ_LIBCUDA, then the system's libcuda.so.1)
    #[argh(option)]
    pub cuda_lib: Option<PathBuf>,

    /// feed path: auto, staged, registered or mapped (default auto)
    #[argh(option, default = "FeedMode::Auto")]
    pub feed: FeedMode,

    /// CPU threads copying into pinned staging (default: cores less 2, between 1 and 12)
    #[argh(option, default = "0")]
    pub copy_threads: usize,

    /// pinned staging memory in MiB, a ring of chunk buffers (default 64, or two batches;
    /// at most 65536)
    #[argh(option, default = "0")]
    pub staging_mib: usize,

    /// bytes per staging chunk in KiB (default: staging / (copy threads + 2), at most 2048
    /// where chunks are merged into copy calls, else 4096; accepted up to 1048576)
    #[argh(option, default = "0")]
    pub chunk_kib: usize,

    /// the shape of one sample without batch, e.g. 3x640x640 (default: inferred)
    #[argh(option)]
    pub shape: Option<String>,

    /// time every staging copy on the device (copy engine busy and idle time, rate per chunk);
    /// on most hosts the events slow the feed by a few per cent
    #[argh(switch)]
    pub trace_dma: bool,

    /// print JSON instead of text
    #[argh(switch)]
    pub json: bool,
}

fn st_bytes_after_first(feed: &Feed) -> u64 {
    feed.stats().bytes.saturating_sub(feed.batch_bytes())
}

/// Pinned cuMemcpyHtoDAsync of one batch: (GB/s, ms per batch).
fn ceiling(ctx: &Arc<Context>, bytes: usize) -> Result<(f64, f64)> {
    let mut host = ctx.alloc_pinned(bytes, false)?;
    host.as_mut_slice()?.fill(0x3c);
    let dev = ctx.alloc(bytes)?;
    let stream = ctx.stream()?;
    let (start, end) = (ctx.event(true)?, ctx.event(true)?);
    for _ in 0..3 {
        stream.copy_pinned(&dev, 0, &mut host, 0..bytes)?;
    }
    // Enough repetitions for ~0.2 s at 50 GB/s, at least 10.
    let reps = (10_000_000_000usize / bytes.max(1)).clamp(10, 200);
    start.record(&stream)?;
    for _ in 0..reps {
        stream.copy_pinned(&dev, 0, &mut host, 0..bytes)?;
    }
    end.record(&stream)?;
    end.synchronize()?;
    let ms = end.elapsed_ms(&start)? as f64 / reps as f64;
    let gbs = if ms > 0.0 {
        bytes as f64 / (ms * 1e-3) / 1e9
    } else {
        f64::INFINITY
    };
    Ok((gbs, ms))
}

pub fn run(args: Args) -> Result<()> {
    if args.sources.is_empty() {
        return Err(Error::Usage("bench-feed needs at least one SOURCE".into()));
    }
    if args.batch_size == 0 {
        return Err(Error::Usage("--batch-size must be at least 1".into()));
    }
    // Pinned memory is locked RAM: refuse sizes no host has before allocating any of it.
    if args.staging_mib > 65536 {
        return Err(Error::Usage(format!(
            "--staging-mib {} is more than 65536 (64 GiB of pinned memory)",
            args.staging_mib
        )));
    }
    if args.chunk_kib > 1 << 20 {
        return Err(Error::Usage(format!(
            "--chunk-kib {} is more than 1048576 (1 GiB)",
            args.chunk_kib
        )));
    }
    if !(args.consumer_ms >= 0.0 && args.consumer_ms.is_finite()) {
        return Err(Error::Usage(
            "--consumer-ms must be a finite number >= 0".into(),
        ));
    }
    let shape = args
        .shape
        .as_deref()
        .map(parse_shape)
        .transpose()
        .map_err(Error::Usage)?;

    // Every data check happens before libcuda is even loaded. Without a network, each
    // source defines an input of its own shape and dtype.
    let mut specs: Vec<SourceSpec> = args.sources.iter().map(|s| SourceSpec::parse(s)).collect();
    let several = specs.len() > 1;
    let mut inputs = Vec::new();
    for (i, spec) in specs.iter_mut().enumerate() {
        let src = Source::open(&spec.path)?;
        let name = match (&spec.name, several) {
            (Some(n), _) => n.clone(),
            (None, false) => "input".to_string(),
            (None, true) => format!("input{i}"),
        };
        if several {
            spec.name = Some(name.clone());
        }
        inputs.push(InputSpec {
            name,
            sample_shape: shape.clone().unwrap_or_else(|| src.infer_sample_shape()),
            dtype: src.files[0].dtype(),
        });
    }
    let data = DataSet::open(&specs, &inputs, args.batch_size, Conversion::Exact)?;
    let batch_bytes = data.batch_bytes_all();

    let drv = Driver::load(args.cuda_lib.as_deref())?;
    let ctx = Context::new(&drv, args.device)?;
    let info = ctx.info()?;
    let mut warnings = Vec::new();
    let ceil = match ceiling(&ctx, batch_bytes) {
        Ok(c) => Some(c),
        Err(e) => {
            warnings.push(format!(
                "the pinned-copy ceiling could not be measured: {e}"
            ));
            None
        }
    };

    let summary = data.summary();
    let (samples, dropped) = (data.samples(), data.dropped());
    let data = Arc::new(data);
    let t_setup = Instant::now();
    let mut feed = Feed::new(
        &ctx,
        data.clone(),
        FeedOptions {
            mode: args.feed,
            copy_threads: args.copy_threads,
            staging_bytes: args.staging_mib << 20,
            chunk_bytes: args.chunk_kib << 10,
            trace_dma: args.trace_dma,
            ..Default::default()
        },
    )?;
    let setup = t_setup.elapsed();
    let consumer = Duration::from_secs_f64(args.consumer_ms / 1e3);
    let t0 = Instant::now();
    let mut t_first = None;
    while feed.next()?.is_some() {
        t_first.get_or_insert_with(Instant::now);
        if !consumer.is_zero() {
            std::thread::sleep(consumer);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    // Steady state: from the delivery of the first batch (which nothing can overlap) to the end.
    let steady = t_first.and_then(|t| {
        let s = t.elapsed().as_secs_f64();
        let later = st_bytes_after_first(&feed);
        (later > 0 && s > 0.0).then(|| later as f64 / s / 1e9)
    });
    let dma = feed.dma_trace();
    let st = feed.stats().clone();
    let path = feed.path();
    let staging = feed.staging();
    drop(feed);
    // After the stream, so that it cannot disturb it and reads what the stream left in the page
    // cache. Up to 1 GiB per repetition: ~20 ms at 50 GB/s. Only where batches were staged.
    let staging = staging.filter(|_| path == FeedPath::Staged);
    let host = match staging.map(|s| host_copy(&ctx, &data, s, 1 << 30, 3)) {
        Some(Ok(h)) => Some(h),
        Some(Err(e)) => {
            warnings.push(format!("the host copy rate could not be measured: {e}"));
            None
        }
        None => None,
    };
    warnings.extend(st.warnings.iter().cloned());
    warnings.extend(drv.drop_errors());

    let gbs = st.bytes as f64 / secs.max(1e-12) / 1e9;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let ratio = ceil.map(|(c, _)| gbs / c);
    // Wait relative to one batch's pinned copy time (the "<= 10%" target).
    let wait_vs_copy = ceil.map(|(_, c)| ms(st.mean_wait_after_first()) / c);

    if args.json {
        let num = |x: Option<f64>| x.map_or(Value::Null, Value::Num);
        let v = Value::obj([
            ("device", Value::Str(info.name.clone())),
            ("cuda_lib", Value::Str(drv.library_path().to_string())),
            ("driver_version", Value::Str(info.driver_version_string())),
            (
                "shapes",
                Value::Arr(
                    inputs
                        .iter()
                        .map(|i| {
                            Value::obj([
                                ("name", Value::Str(i.name.clone())),
                                (
                                    "shape",
                                    Value::Arr(
                                        i.sample_shape
                                            .iter()
                                            .map(|&d| Value::Int(d as i64))
                                            .collect(),
                                    ),
                                ),
                                ("dtype", Value::Str(i.dtype.name().into())),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("batch_size", Value::Int(args.batch_size as i64)),
            ("samples", Value::Int(samples as i64)),
            ("batches", Value::Int(st.batches as i64)),
            ("dropped", Value::Int(dropped as i64)),
            ("batch_bytes", Value::Int(batch_bytes as i64)),
            ("bytes", Value::Int(st.bytes as i64)),
            ("seconds", Value::Num(secs)),
            ("gb_per_s", Value::Num(gbs)),
            ("gb_per_s_after_first", num(steady)),
            (
                "ratio_after_first",
                num(steady.zip(ceil).map(|(s, c)| s / c.0)),
            ),
            (
                "feed_mode",
                Value::Str(format!("{:?}", args.feed).to_lowercase()),
            ),
            ("feed_path", Value::Str(path.name().into())),
            ("decision", Value::Str(st.decision.clone())),
            (
                "staging",
                staging.map_or(Value::Null, |s| {
                    Value::obj([
                        ("copy_threads", Value::Num(s.threads as f64)),
                        ("chunk_bytes", Value::Num(s.chunk_bytes as f64)),
                        ("buffers", Value::Num(s.buffers as f64)),
                        ("merge_chunks", Value::Int(s.merge_chunks as i64)),
                    ])
                }),
            ),
            ("setup_ms", Value::Num(ms(setup))),
            ("consumer_ms", Value::Num(args.consumer_ms)),
            ("wait_mean_ms", Value::Num(ms(st.mean_wait()))),
            (
                "wait_mean_after_first_ms",
                Value::Num(ms(st.mean_wait_after_first())),
            ),
            ("wait_p99_ms", Value::Num(ms(st.p99_wait()))),
            ("wait_total_ms", Value::Num(ms(st.waited()))),
            ("ceiling_gb_per_s", num(ceil.map(|c| c.0))),
            ("ceiling_batch_ms", num(ceil.map(|c| c.1))),
            ("ratio", num(ratio)),
            ("wait_vs_copy", num(wait_vs_copy)),
            ("host_copy_gb_per_s", num(host.map(|h| h.alone_gb_per_s))),
            (
                "host_copy_with_dma_gb_per_s",
                num(host.map(|h| h.with_dma_gb_per_s)),
            ),
            ("host_copy_dma_gb_per_s", num(host.map(|h| h.dma_gb_per_s))),
            (
                "host_copy_batches",
                host.map_or(Value::Null, |h| Value::Int(h.batches as i64)),
            ),
            ("dma_trace", dma.map_or(Value::Null, |t| dma_json(&t))),
            (
                "warnings",
                Value::Arr(warnings.iter().cloned().map(Value::Str).collect()),
            ),
        ]);
        print!("{}", v.pretty());
        return Ok(());
    }
    println!(
        "device {}: {} (compute {}.{}, driver {}, {})",
        info.ordinal,
        info.name,
        info.compute_capability.0,
        info.compute_capability.1,
        info.driver_version_string(),
        drv.library_path()
    );
    for i in &inputs {
        println!(
            "input {}: samples of {} {}",
            i.name,
            shape_str(&i.sample_shape),
            i.dtype
        );
    }
    println!("data: {summary}");
    println!("feed: {} ({})", path.name(), st.decision);
    if let Some(s) = staging {
        println!(
            "staging: {} copy threads, {} pinned buffers of {} KiB; {}",
            s.threads,
            s.buffers,
            s.chunk_bytes >> 10,
            merge_text(s.merge_chunks)
        );
    }
    println!(
        "streamed {} bytes in {} batches of {} bytes in {} s: {} GB/s (setup {} ms)",
        st.bytes,
        st.batches,
        batch_bytes,
        fmt_num(secs),
        fmt_num(gbs),
        fmt_num(ms(setup))
    );
    if let Some(s) = steady {
        println!("after the first batch: {} GB/s", fmt_num(s));
    }
    println!(
        "consumer: {} ms per batch; waited mean {} ms ({} ms after the first batch), p99 {} ms, total {} ms",
        fmt_num(args.consumer_ms),
        fmt_num(ms(st.mean_wait())),
        fmt_num(ms(st.mean_wait_after_first())),
        fmt_num(ms(st.p99_wait())),
        fmt_num(ms(st.waited()))
    );
    match (ceil, ratio, wait_vs_copy) {
        (Some((c, cm)), Some(r), Some(w)) => println!(
            "ceiling (pinned cuMemcpyHtoDAsync of one batch): {} GB/s, {} ms per batch; \
             ratio {}; wait after the first batch / copy time {}",
            fmt_num(c),
            fmt_num(cm),
            fmt_num(r),
            fmt_num(w)
        ),
        _ => println!("ceiling: not measured"),
    }
    if let (Some(h), Some(s)) = (host, staging) {
        let of_ceil = |x: f64| {
            ceil.map_or(String::new(), |(c, _)| {
                format!(" ({} x the ceiling)", fmt_num(x / c))
            })
        };
        println!(
            "host copy ({} copy threads into pinned {} KiB chunks; {} batches, fastest of {}): \
             alone {} GB/s{}; while the DMA runs {} GB/s{}, the DMA meanwhile {} GB/s",
            s.threads,
            s.chunk_bytes >> 10,
            h.batches,
            h.reps,
            fmt_num(h.alone_gb_per_s),
            of_ceil(h.alone_gb_per_s),
            fmt_num(h.with_dma_gb_per_s),
            of_ceil(h.with_dma_gb_per_s),
            fmt_num(h.dma_gb_per_s)
        );
        if let Some((c, _)) = ceil {
            println!(
                "host: {}",
                if h.alone_gb_per_s < c {
                    "its CPUs copy slower than the DMA; a staged feed cannot reach the ceiling \
                     on it"
                } else if h.with_dma_gb_per_s < c {
                    "its CPUs outpace the DMA alone but not while it runs (both use the host's \
                     memory); a staged feed is held near the rate with the DMA running"
                } else {
                    "its CPUs outpace the DMA even while it runs; what the staged feed misses of \
                     the ceiling is the feed's own (its copy sizes and gaps: --trace-dma)"
                }
            );
        }
    }
    match (&dma, args.trace_dma) {
        (Some(t), _) => println!("{}", dma_text(t, ceil.map(|c| c.0))),
        (None, true) if path == FeedPath::Staged => println!("dma: no trace (see the warnings)"),
        (None, true) => println!("dma: not traced (only the staged path's ring copies are)"),
        (None, false) => {}
    }
    for w in &warnings {
        println!("warning: {w}");
    }
    Ok(())
}

fn merge_text(n: usize) -> String {
    if n > 1 {
        format!("up to {n} chunks per copy call while the copy engine is busy")
    } else {
        "one copy call per chunk".into()
    }
}

fn dma_text(t: &DmaTrace, ceil: Option<f64>) -> String {
    let chunks = match t.chunk_gb_per_s {
        Some([p10, med, p90]) => format!(
            "; {} calls of whole {} KiB chunks at {} / {} / {} GB/s (p10 / median / p90{})",
            t.chunk_copies,
            t.chunk_bytes >> 10,
            fmt_num(p10),
            fmt_num(med),
            fmt_num(p90),
            ceil.map_or(String::new(), |c| format!(
                "; median {} x the ceiling",
                fmt_num(med / c)
            ))
        ),
        None => String::new(),
    };
    format!(
        "dma (traced; the events cost the feed a few %): {} copy calls ({} ring chunks) over {} \
         ms: busy {} ms ({}%, {} GB/s), idle {} ms in {} gaps ({} of 50 us or more){}",
        t.copies,
        t.chunks,
        fmt_num(t.span_ms),
        fmt_num(t.busy_ms),
        fmt_num(t.busy_share() * 100.0),
        fmt_num(t.busy_gb_per_s()),
        fmt_num(t.idle_ms),
        t.gaps,
        t.long_gaps,
        chunks
    )
}

fn dma_json(t: &DmaTrace) -> Value {
    let q = |i: usize| t.chunk_gb_per_s.map_or(Value::Null, |r| Value::Num(r[i]));
    Value::obj([
        ("copies", Value::Int(t.copies as i64)),
        ("chunks", Value::Int(t.chunks as i64)),
        ("bytes", Value::Int(t.bytes as i64)),
        ("span_ms", Value::Num(t.span_ms)),
        ("busy_ms", Value::Num(t.busy_ms)),
        ("busy_share", Value::Num(t.busy_share())),
        ("busy_gb_per_s", Value::Num(t.busy_gb_per_s())),
        ("idle_ms", Value::Num(t.idle_ms)),
        ("gaps", Value::Int(t.gaps as i64)),
        ("long_gaps", Value::Int(t.long_gaps as i64)),
        ("chunk_copies", Value::Int(t.chunk_copies as i64)),
        ("chunk_gb_per_s_p10", q(0)),
        ("chunk_gb_per_s_median", q(1)),
        ("chunk_gb_per_s_p90", q(2)),
    ])
}
