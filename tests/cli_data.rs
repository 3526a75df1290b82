//! `inspect-data` and `bench-feed` as a user runs them: exit codes, messages, `--json` fields.
//! bench-feed runs against hostcuda (host-memory libcuda stand-in).

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::{f32_bytes, write_npy, write_samples, Scratch};

fn trtq(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trtq-lite"));
    c.args(args).env_remove("TRTQ_LIBCUDA");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
}

#[test]
fn inspect_data_statistics_and_json_fields() {
    let t = Scratch::new("cli-inspect");
    // Values 0..=11 over two files of (1, 2, 3): mean 5.5, population std sqrt(143/12).
    write_npy(
        &t.path("d/a.npy"),
        "<f4",
        &[1, 2, 3],
        &f32_bytes((0..6).map(|x| x as f32 / 10.0)),
    );
    write_npy(
        &t.path("d/b.npy"),
        "<f4",
        &[1, 2, 3],
        &f32_bytes((6..12).map(|x| x as f32 / 10.0)),
    );
    let d = t.path("d");
    let o = trtq(&["inspect-data", "--json", d.to_str().unwrap()], &[]);
    let v = json(&o);
    let s = &v["sources"][0];
    for k in [
        "path", "files", "samples", "shape", "dtype", "min", "max", "mean", "std", "nan", "inf",
        "warnings",
    ] {
        assert!(s.get(k).is_some(), "missing {k} in {s}");
    }
    assert_eq!(s["files"], 2);
    assert_eq!(s["samples"], 2);
    assert_eq!(s["shape"], serde_json::json!([2, 3]));
    assert_eq!(s["dtype"], "float32");
    assert!((s["min"].as_f64().unwrap() - 0.0).abs() < 1e-7);
    assert!((s["max"].as_f64().unwrap() - 1.1).abs() < 1e-6);
    assert!((s["mean"].as_f64().unwrap() - 0.55).abs() < 1e-6);
    assert!((s["std"].as_f64().unwrap() - (143.0f64 / 12.0).sqrt() / 10.0).abs() < 1e-6);
    assert_eq!(s["warnings"], serde_json::json!([]));
    let o = trtq(&["inspect-data", d.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    assert!(out.contains("samples  2 of shape (2, 3), float32"), "{out}");
    assert!(out.contains("min 0  max 1.1  mean 0.55"), "{out}");
}

#[test]
fn inspect_data_warns_about_pixels_constants_shapes_and_nan() {
    let t = Scratch::new("cli-warn");
    write_npy(
        &t.path("d/a.npy"),
        "<f4",
        &[4],
        &f32_bytes([0.0, 128.0, 255.0, 3.0]),
    );
    write_npy(&t.path("d/b.npy"), "<f4", &[4], &f32_bytes([7.0; 4]));
    write_npy(
        &t.path("d/c.npy"),
        "<f4",
        &[4],
        &f32_bytes([f32::NAN, f32::INFINITY, 1.0, 2.0]),
    );
    write_npy(&t.path("d/d.npy"), "<f4", &[5], &f32_bytes([0.0; 5]));
    let v = json(&trtq(
        &["inspect-data", "--json", t.path("d").to_str().unwrap()],
        &[],
    ));
    let s = &v["sources"][0];
    let w: Vec<String> = s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    let all = w.join("\n");
    assert!(all.contains("looks like 0-255 pixels"), "{all}");
    assert!(
        all.contains("1 constant sample(s)") && all.contains("b.npy"),
        "{all}"
    );
    assert!(
        all.contains("shapes disagree with the sample shape (4,)") && all.contains("d.npy (5,)"),
        "{all}"
    );
    assert!(all.contains("1 NaN and 1 Inf"), "{all}");
    assert_eq!(
        (s["nan"].as_u64(), s["inf"].as_u64(), s["samples"].as_u64()),
        (Some(1), Some(1), Some(3))
    );
    assert_eq!(s["max"], 255.0);
    // --shape makes every file of another shape a disagreement.
    let v = json(&trtq(
        &[
            "inspect-data",
            "--json",
            "--shape",
            "5",
            t.path("d").to_str().unwrap(),
        ],
        &[],
    ));
    assert_eq!(v["sources"][0]["samples"], 1);
}

#[test]
fn inspect_data_bad_file_exits_2_naming_it() {
    let t = Scratch::new("cli-bad");
    write_samples(&t.path("d"), 2, None, &[3]);
    let mut bytes = std::fs::read(t.path("d/s_0001.npy")).unwrap();
    bytes.truncate(bytes.len() - 4);
    std::fs::write(t.path("d/s_0001.npy"), bytes).unwrap();
    let o = trtq(&["inspect-data", t.path("d").to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "printed output despite a bad file");
    let err = text(&o.stderr);
    assert!(
        err.contains("s_0001.npy: header says (3,) <f4 = 12 bytes, but 8 bytes follow"),
        "{err}"
    );
    let o = trtq(&["inspect-data"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = trtq(&["inspect-data", "--shape", "3xq", "x"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("bad shape '3xq'"));
}

#[test]
fn bench_feed_json_through_hostcuda() {
    let lib = support::hostcuda();
    let t = Scratch::new("cli-bench");
    write_samples(&t.path("d"), 10, None, &[3, 8, 8]);
    let o = trtq(
        &[
            "bench-feed",
            t.path("d").to_str().unwrap(),
            "--batch-size",
            "4",
            "--cuda-lib",
            lib.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    let v = json(&o);
    for k in [
        "device",
        "cuda_lib",
        "batch_size",
        "samples",
        "batches",
        "dropped",
        "batch_bytes",
        "bytes",
        "seconds",
        "gb_per_s",
        "feed_mode",
        "feed_path",
        "decision",
        "consumer_ms",
        "wait_mean_ms",
        "wait_p99_ms",
        "ceiling_gb_per_s",
        "ceiling_batch_ms",
        "ratio",
        "warnings",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {v}");
    }
    assert_eq!(
        (
            v["samples"].as_u64(),
            v["batches"].as_u64(),
            v["dropped"].as_u64()
        ),
        (Some(10), Some(2), Some(2))
    );
    assert_eq!(v["batch_bytes"], 4 * 192 * 4);
    assert_eq!(v["bytes"], 2 * 4 * 192 * 4);
    assert_eq!(v["feed_path"], "staged");
    assert!(v["ratio"].as_f64().unwrap() > 0.0);
    // Staged: the copy threads' rates were measured, over both batches (well under 1 GiB),
    // alone and with the DMA running.
    for k in [
        "host_copy_gb_per_s",
        "host_copy_with_dma_gb_per_s",
        "host_copy_dma_gb_per_s",
    ] {
        assert!(v[k].as_f64().unwrap() > 0.0, "{k}: {v}");
    }
    assert_eq!(v["host_copy_batches"], 2);
    assert!(v["dma_trace"].is_null(), "traced only when asked: {v}");
    assert!(v["device"].as_str().unwrap().contains("hostcuda"));
    // TRTQ_LIBCUDA works like --cuda-lib; the text output names the ceiling and the ratio.
    let o = trtq(
        &[
            "bench-feed",
            t.path("d").to_str().unwrap(),
            "--batch-size",
            "5",
            "--consumer-ms",
            "1",
            "--feed",
            "staged",
        ],
        &[("TRTQ_LIBCUDA", lib.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("data: 10 samples: 2 batches of 5 used, 0 dropped"),
        "{out}"
    );
    assert!(
        out.contains("ceiling (pinned cuMemcpyHtoDAsync of one batch)") && out.contains("ratio"),
        "{out}"
    );
    assert!(
        out.contains("host copy (")
            && out.contains("while the DMA runs")
            && out.contains("host: its CPUs"),
        "{out}"
    );
    // Registered batches are not copied by the CPU: no host copy rate.
    let v = json(&bench_registered(&t, &lib, &["--json"]));
    assert_eq!(v["feed_path"], "registered");
    assert!(
        v["host_copy_gb_per_s"].is_null() && v["host_copy_with_dma_gb_per_s"].is_null(),
        "{v}"
    );
}

/// `bench-feed --feed registered` through hostcuda on one file of 8 samples (written under `t`),
/// batches of 4, with `extra` arguments.
fn bench_registered(t: &Scratch, lib: &Path, extra: &[&str]) -> Output {
    let one = t.path("one");
    write_samples(&one, 1, Some(8), &[3, 8, 8]);
    let mut args = vec![
        "bench-feed",
        one.to_str().unwrap(),
        "--batch-size",
        "4",
        "--feed",
        "registered",
    ];
    args.extend_from_slice(extra);
    trtq(&args, &[("TRTQ_LIBCUDA", lib.to_str().unwrap())])
}

#[test]
fn bench_feed_traces_the_dma_when_asked() {
    let lib = support::hostcuda();
    let t = Scratch::new("cli-bench-trace");
    write_samples(&t.path("d"), 10, None, &[3, 8, 8]);
    let dir = t.path("d");
    // `fail_events`: hostcuda's cuEventElapsedTime fails, so the events cannot be read.
    // One copy call per chunk (TRTQ_FEED_MERGE=0) unless `merge`.
    let run_m = |json: bool, fail_events: bool, merge: bool| {
        let mut args = vec![
            "bench-feed",
            dir.to_str().unwrap(),
            "--batch-size",
            "4",
            "--feed",
            "staged",
            "--chunk-kib",
            "1",
            "--trace-dma",
        ];
        if json {
            args.push("--json");
        }
        // Copies take 200 us of stream time each, so every one shows as busy time.
        trtq(
            &args,
            &[
                ("TRTQ_LIBCUDA", lib.to_str().unwrap()),
                ("HOSTCUDA_ASYNC_US", "200"),
                ("HOSTCUDA_ELAPSED_FAIL", if fail_events { "1" } else { "0" }),
                ("TRTQ_FEED_MERGE", if merge { "" } else { "0" }),
            ],
        )
    };
    let run = |json: bool, fail_events: bool| run_m(json, fail_events, false);
    let v = json(&run(true, false));
    let tr = &v["dma_trace"];
    // Two batches of 3072 bytes in 1 KiB chunks.
    assert_eq!(
        (
            tr["copies"].as_u64(),
            tr["chunks"].as_u64(),
            tr["chunk_copies"].as_u64()
        ),
        (Some(6), Some(6), Some(6)),
        "{v}"
    );
    assert_eq!(v["staging"]["merge_chunks"].as_u64(), Some(1), "{v}");
    assert_eq!(tr["bytes"], v["bytes"]);
    let f = |k: &str| tr[k].as_f64().unwrap();
    assert!(f("busy_ms") >= 6.0 * 0.2 * 0.99, "{v}");
    assert!(f("busy_ms") <= f("span_ms") * 1.01 + 0.01, "{v}");
    assert!(f("chunk_gb_per_s_p10") <= f("chunk_gb_per_s_median"), "{v}");
    let o = run(false, false);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains(
            "dma (traced; the events cost the feed a few %): 6 copy calls (6 ring chunks) over "
        ) && out.contains("6 calls of whole 1 KiB chunks at ")
            && out.contains("pinned buffers of 1 KiB; one copy call per chunk\n"),
        "{out}"
    );
    // Merging (the default where the driver has cuMemcpyBatchAsync, as hostcuda does): the
    // same chunks, in as many calls or fewer.
    let v = json(&run_m(true, false, true));
    let tr = &v["dma_trace"];
    assert_eq!(tr["chunks"].as_u64(), Some(6), "{v}");
    assert!(tr["copies"].as_u64().is_some_and(|c| c <= 6), "{v}");
    assert_eq!(v["staging"]["merge_chunks"].as_u64(), Some(4), "{v}");
    let out = text(&run_m(false, false, true).stdout);
    assert!(
        out.contains("; up to 4 chunks per copy call while the copy engine is busy\n"),
        "{out}"
    );
    // Events that cannot be read: no trace line, the reason among the warnings.
    let o = run(false, true);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("dma: no trace (see the warnings)")
            && out.contains("warning: the DMA trace could not be read: cuEventElapsedTime failed"),
        "{out}"
    );
    // Registered batches do not pass the ring: nothing traced, and the text says so.
    let o = bench_registered(&t, &lib, &["--trace-dma"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("dma: not traced (only the staged path's ring copies are)"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn bench_feed_exit_codes() {
    let lib = support::hostcuda();
    let lib = lib.to_str().unwrap();
    let t = Scratch::new("cli-bench-codes");
    write_samples(&t.path("d"), 4, None, &[2]);
    write_samples(&t.path("one"), 1, Some(8), &[2]);
    let d = t.path("d");
    let d = d.to_str().unwrap();
    // Bad data: exit 2 before libcuda is loaded (the library path does not exist).
    let o = trtq(
        &[
            "bench-feed",
            d,
            "--batch-size",
            "5",
            "--cuda-lib",
            "/nonexistent/libcuda.so.1",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("fewer than one batch of 5"));
    // Staging sizes no host has: exit 2 before any memory is pinned (libcuda not loaded).
    for (flag, value, says) in [
        (
            "--staging-mib",
            "100000000",
            "--staging-mib 100000000 is more than 65536",
        ),
        (
            "--chunk-kib",
            "2000000",
            "--chunk-kib 2000000 is more than 1048576",
        ),
    ] {
        let o = trtq(
            &[
                "bench-feed",
                d,
                "--batch-size",
                "2",
                flag,
                value,
                "--cuda-lib",
                "/nonexistent/libcuda.so.1",
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(says), "{}", text(&o.stderr));
    }
    // No library: exit 1, every path tried named with the loader's message.
    let o = trtq(
        &[
            "bench-feed",
            d,
            "--batch-size",
            "2",
            "--cuda-lib",
            "/nonexistent/libcuda.so.1",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("could not load libcuda")
            && err.contains("/nonexistent/libcuda.so.1: ")
            && err.contains("TRTQ_LIBCUDA"),
        "{err}"
    );
    // Driver failures, named.
    for (knob, want) in [
        (
            ("HOSTCUDA_INIT_ERROR", "100"),
            "cuInit(0) failed: CUDA_ERROR_NO_DEVICE (100)",
        ),
        (
            ("HOSTCUDA_OOM_AFTER", "1"),
            "cuMemAlloc_v2(16 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2)",
        ),
        (
            ("HOSTCUDA_HTOD_FAIL_AFTER", "30"),
            "cuMemcpyHtoDAsync_v2(16 bytes) failed: CUDA_ERROR_ILLEGAL_ADDRESS (700)",
        ),
    ] {
        let o = trtq(
            &[
                "bench-feed",
                d,
                "--batch-size",
                "2",
                "--cuda-lib",
                lib,
                "--feed",
                "staged",
            ],
            &[knob],
        );
        assert_eq!(o.status.code(), Some(1), "{knob:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(want),
            "{knob:?}: {}",
            text(&o.stderr)
        );
    }
    // Pinned memory refused: auto falls back to pageable copies and says so.
    let o = trtq(
        &[
            "bench-feed",
            d,
            "--batch-size",
            "2",
            "--cuda-lib",
            lib,
            "--json",
        ],
        &[("HOSTCUDA_HOSTALLOC_FAIL", "1")],
    );
    let v = json(&o);
    assert_eq!(v["feed_path"], "pageable");
    let w = v["warnings"].to_string();
    assert!(
        w.contains("falling back to pageable") && w.contains("ceiling could not be measured"),
        "{w}"
    );
    // Registered needs one contiguous file; forcing it on a directory of samples fails clearly.
    let o = trtq(
        &[
            "bench-feed",
            d,
            "--batch-size",
            "2",
            "--cuda-lib",
            lib,
            "--feed",
            "registered",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("--feed registered is not possible here"),
        "{}",
        text(&o.stderr)
    );
    let one = t.path("one/s_0000.npy");
    let v = json(&trtq(
        &[
            "bench-feed",
            one.to_str().unwrap(),
            "--batch-size",
            "2",
            "--cuda-lib",
            lib,
            "--feed",
            "registered",
            "--json",
        ],
        &[],
    ));
    assert_eq!(
        (v["feed_path"].as_str(), v["batches"].as_u64()),
        (Some("registered"), Some(4))
    );
    // Usage errors: exit 2.
    assert_eq!(trtq(&["bench-feed", d], &[]).status.code(), Some(2));
    assert_eq!(
        trtq(
            &["bench-feed", d, "--batch-size", "2", "--feed", "fast"],
            &[]
        )
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        trtq(&["bench-feed", d, "--batch-size", "0"], &[])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn bench_feed_two_named_inputs() {
    let lib = support::hostcuda();
    let t = Scratch::new("cli-two");
    write_samples(&t.path("img"), 6, None, &[3, 2]);
    write_samples(&t.path("mask"), 6, None, &[2]);
    let a = format!("images={}", t.path("img").display());
    let b = format!("mask={}", t.path("mask").display());
    let v = json(&trtq(
        &[
            "bench-feed",
            &a,
            &b,
            "--batch-size",
            "3",
            "--cuda-lib",
            lib.to_str().unwrap(),
            "--json",
        ],
        &[],
    ));
    assert_eq!(v["batch_bytes"], 3 * (6 + 2) * 4);
    assert_eq!(v["shapes"][1]["name"], "mask");
    write_samples(&t.path("short"), 5, None, &[2]);
    let c = format!("mask={}", t.path("short").display());
    let o = trtq(
        &[
            "bench-feed",
            &a,
            &c,
            "--batch-size",
            "3",
            "--cuda-lib",
            lib.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("disagree on the number of samples"),
        "{}",
        text(&o.stderr)
    );
}
