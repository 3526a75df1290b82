//! Integrated GPUs (Jetson): the feed's automatic choice is the mapped, zero-copy path, and
//! that path really copies nothing, checked through hostcuda's HOSTCUDA_INTEGRATED knob — in
//! this process (the library) and through the environment of a `bench-feed` process (the
//! CLI, the way a Jetson user meets it). A flag forces either path.

mod support;

use std::sync::{Arc, Mutex};

use support::{f32_bytes, sample_value, write_samples, Introspect, Scratch};
use trtq_lite::cuda::{Context, Driver};
use trtq_lite::data::{Conversion, DataSet, InputSpec, SourceSpec};
use trtq_lite::feed::{Feed, FeedMode, FeedOptions, FeedPath};
use trtq_lite::npy::DType;

// hostcuda's knobs are process-wide.
static LOCK: Mutex<()> = Mutex::new(());

/// Streams 6 samples of 5 f32 in batches of 2 with `mode` and an integrated or discrete
/// hostcuda; checks every batch's device bytes. Returns the path, the decision text and the
/// bytes hostcuda copied host-to-device meanwhile.
fn stream(integrated: bool, mode: FeedMode) -> (FeedPath, String, u64) {
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let drv = Driver::load(Some(&support::hostcuda())).unwrap();
    let hc = Introspect::new();
    hc.set("INTEGRATED", integrated as i64);
    let ctx = Context::new(&drv, 0).unwrap();
    assert_eq!(ctx.info().unwrap().integrated, integrated);
    let t = Scratch::new("jetson-feed");
    // One file, so every path (registered included) is possible.
    write_samples(&t.0, 1, Some(6), &[5]);
    let ds = DataSet::open(
        &[SourceSpec {
            name: None,
            path: t.path("s_0000.npy"),
        }],
        &[InputSpec {
            name: "x".into(),
            sample_shape: vec![5],
            dtype: DType::F32,
        }],
        2,
        Conversion::Exact,
    )
    .unwrap();
    // SAFETY: a counter.
    let before = unsafe { (hc.htod_bytes)() };
    let mut feed = Feed::new(
        &ctx,
        Arc::new(ds),
        FeedOptions {
            mode,
            ..Default::default()
        },
    )
    .unwrap();
    let mut k = 0;
    while let Some(ptrs) = feed.next().unwrap() {
        let mut got = vec![0u8; 2 * 5 * 4];
        ctx.read_device(ptrs[0], &mut got).unwrap();
        let want = f32_bytes((0..2).flat_map(|s| (0..5).map(move |x| sample_value(k * 2 + s, x))));
        assert!(got == want, "batch {k} differs on the device");
        k += 1;
    }
    assert_eq!(k, 3);
    let out = (feed.path(), feed.stats().decision.clone());
    drop(feed);
    // SAFETY: a counter.
    let copied = unsafe { (hc.htod_bytes)() } - before;
    hc.set("INTEGRATED", 0);
    (out.0, out.1, copied)
}

#[test]
fn integrated_gpu_picks_mapped_and_copies_nothing() {
    let (path, decision, copied) = stream(true, FeedMode::Auto);
    assert_eq!(path, FeedPath::Mapped, "{decision}");
    assert!(decision.contains("integrated"), "{decision}");
    assert_eq!(copied, 0, "the zero-copy path copied {copied} bytes");
}

#[test]
fn discrete_gpu_does_not_pick_mapped() {
    let (path, decision, copied) = stream(false, FeedMode::Auto);
    assert_ne!(path, FeedPath::Mapped, "{decision}");
    // The copying paths do copy: the zero count above means something.
    assert!(copied >= 3 * 2 * 5 * 4, "{copied}");
}

#[test]
fn either_path_can_be_forced() {
    let (path, _, copied) = stream(true, FeedMode::Staged);
    assert_eq!(path, FeedPath::Staged);
    assert!(copied >= 3 * 2 * 5 * 4, "{copied}");
    // Mapped memory works on a discrete GPU too (over the bus instead of in place).
    let (path, _, copied) = stream(false, FeedMode::Mapped);
    assert_eq!(path, FeedPath::Mapped);
    assert_eq!(copied, 0);
}

/// `bench-feed --json` with HOSTCUDA_INTEGRATED in the environment: (feed_path, decision).
fn bench_feed(integrated: &str, extra: &[&str]) -> (String, String) {
    let t = Scratch::new("jetson-cli");
    write_samples(&t.path("d"), 6, None, &[3, 4, 4]);
    let o = support::command(env!("CARGO_BIN_EXE_trtq-lite"))
        .arg("bench-feed")
        .arg(t.path("d"))
        .args(["--batch-size", "2", "--json", "--cuda-lib"])
        .arg(support::hostcuda())
        .args(extra)
        .env("HOSTCUDA_INTEGRATED", integrated)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bytes"].as_u64(), Some(3 * 2 * 48 * 4), "{v}");
    (
        v["feed_path"].as_str().unwrap_or_default().to_string(),
        v["decision"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn bench_feed_cli_on_an_integrated_gpu() {
    let (path, decision) = bench_feed("1", &[]);
    assert_eq!(path, "mapped", "{decision}");
    assert!(decision.contains("integrated"), "{decision}");
    let (path, _) = bench_feed("1", &["--feed", "staged"]);
    assert_eq!(path, "staged");
    let (path, decision) = bench_feed("0", &[]);
    assert_ne!(path, "mapped", "{decision}");
    let (path, _) = bench_feed("0", &["--feed", "mapped"]);
    assert_eq!(path, "mapped");
}
