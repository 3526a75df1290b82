//! `trtq-lite inspect-cache` run as a process: text output, `--json` (read with serde_json),
//! `--against`, `--retarget`, and exit codes. Expected values come from the fixture bytes
//! (decoded here with `u32::from_str_radix` / `f32::from_bits`) or from literals.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_trtq-lite");

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/caches")
        .join(rel)
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("inspect-cache")
        .args(args)
        .output()
        .expect("run trtq-lite")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}\n{}", stderr(&o));
    o
}

fn json(args: &[&str]) -> Value {
    let o = ok(args);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", stdout(&o)))
}

/// A fresh empty folder for one test.
fn tmpdir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "trtq-cache-cli-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// (name, bits) per entry line, decoded without the crate.
fn lines_of(path: &Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (n, h) = l.rsplit_once(": ").unwrap();
            (n.to_string(), u32::from_str_radix(h, 16).unwrap())
        })
        .collect()
}

#[test]
fn summary_and_table() {
    let f = fixture("yolo11_trt10.3_entropy2.cache");
    let out = stdout(&ok(&[s(&f)]));
    assert!(
        out.contains("header:     TRT-100300-EntropyCalibration2\n"),
        "{out}"
    );
    assert!(out.contains("TensorRT:   10.3.0 (code 100300)\n"), "{out}");
    assert!(out.contains("algorithm:  EntropyCalibration2\n"), "{out}");
    assert!(out.contains("entries:    343\n"), "{out}");
    assert!(out.contains("flags:      none\n"), "{out}");
    let rows: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("line"))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 343);
    // File order: the first row is line 2, `images: 3c008912`.
    let first: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(first[0], "2");
    assert_eq!(first[1], "images");
    assert_eq!(first[4], "3c008912");
    let amax: f64 = first[3].parse().unwrap();
    let want = f64::from(f32::from_bits(0x3c008912)) * 127.0;
    assert!((amax - want).abs() < 1e-5 * want, "{amax} vs {want}");
}

#[test]
fn summary_of_legacy_and_v1() {
    let out = stdout(&ok(&[s(&fixture("unet3d_legacy.cache"))]));
    assert!(
        out.contains("legacy calibrator (regression cutoff 1, quantile 0.99999)"),
        "{out}"
    );
    assert!(out.contains("entries:    56\n"), "{out}");
    let out = stdout(&ok(&[s(&fixture("old_header_1.bin"))]));
    assert!(out.contains("before TensorRT 5"), "{out}");
    assert!(out.contains("entries:    62\n"), "{out}");
}

/// (file, format, trt_version, trt_version_code, algorithm)
type JsonCase = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<i64>,
    Option<&'static str>,
);

#[test]
fn json_matches_the_file_for_every_real_cache() {
    let cases: [JsonCase; 5] = [
        (
            "yolo11_trt10.3_entropy2.cache",
            "trt",
            Some("10.3.0"),
            Some(100300),
            Some("EntropyCalibration2"),
        ),
        (
            "yolov4tiny_trt7.1.3_entropy2.bin",
            "trt",
            Some("7.1.3"),
            Some(7103),
            Some("EntropyCalibration2"),
        ),
        (
            "vgg16_trt8.4_minmax.cache",
            "trt",
            Some("8.4.0"),
            Some(8400),
            Some("MinMaxCalibration"),
        ),
        ("unet3d_legacy.cache", "legacy", None, None, None),
        ("old_header_1.bin", "v1", None, None, None),
    ];
    for (file, format, ver, code, alg) in cases {
        let p = fixture(file);
        let v = json(&[s(&p), "--json"]);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want_keys = [
            "file",
            "format",
            "trt_version",
            "trt_version_code",
            "algorithm",
            "legacy",
            "entries",
            "warnings",
        ];
        want_keys.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, want_keys, "{file}");
        assert_eq!(v["file"], s(&p), "{file}");
        assert_eq!(v["format"], format, "{file}");
        assert_eq!(v["trt_version"].as_str(), ver, "{file}");
        assert_eq!(v["trt_version_code"].as_i64(), code, "{file}");
        assert_eq!(v["algorithm"].as_str(), alg, "{file}");
        assert_eq!(v["warnings"].as_array().unwrap().len(), 0, "{file}");
        if format == "legacy" {
            assert_eq!(v["legacy"]["regression_cutoff"].as_f64(), Some(1.0));
            assert_eq!(
                v["legacy"]["quantile"].as_f64(),
                Some(f64::from_bits(0x3fefffeb074a771d))
            );
        } else {
            assert!(v["legacy"].is_null(), "{file}");
        }
        let entries = v["entries"].as_array().unwrap();
        let want = lines_of(&p);
        assert_eq!(entries.len(), want.len(), "{file}");
        for (e, (name, bits)) in entries.iter().zip(&want) {
            let scale = f64::from(f32::from_bits(*bits));
            assert_eq!(e["name"], name.as_str());
            assert_eq!(e["hex"], format!("{bits:08x}"));
            assert_eq!(e["scale"].as_f64(), Some(scale), "{file} {name}");
            assert_eq!(e["amax"].as_f64(), Some(scale * 127.0), "{file} {name}");
            assert_eq!(e["flags"], serde_json::json!([]), "{file} {name}");
        }
    }
}

#[test]
fn json_flags_and_non_finite_values() {
    let v = json(&[s(&fixture("edge/ok_flags.cache")), "--json"]);
    let e = v["entries"].as_array().unwrap();
    let by = |name: &str| e.iter().find(|x| x["name"] == name).unwrap().clone();
    assert_eq!(by("nan")["scale"], "nan");
    assert_eq!(by("nan")["flags"], serde_json::json!(["nan"]));
    assert_eq!(by("inf")["amax"], "inf");
    assert_eq!(by("neg_inf")["scale"], "-inf");
    assert_eq!(
        by("neg_inf")["flags"],
        serde_json::json!(["negative", "inf"])
    );
    assert_eq!(by("huge")["amax"].as_f64(), Some(12700.0));
    assert_eq!(by("huge")["flags"], serde_json::json!(["huge"]));
    assert_eq!(
        by("subnormal")["scale"].as_f64(),
        Some(f64::from(f32::from_bits(1)))
    );
    assert_eq!(
        by("neg_zero")["flags"],
        serde_json::json!(["zero", "negative"])
    );
    assert_eq!(
        by("tiny")["scale"].as_f64(),
        Some(f64::from(f32::from_bits(0x26901d7d)))
    );

    let out = stdout(&ok(&[s(&fixture("edge/ok_flags.cache"))]));
    assert!(
        out.contains("flags:      zero 2, negative 3, nan 1, inf 2, subnormal 1, huge 1\n"),
        "{out}"
    );
}

#[test]
fn unnormalised_input_warning() {
    let f = fixture("edge/ok_unnormalised.cache");
    let v = json(&[s(&f), "--json"]);
    assert_eq!(
        v["entries"][0]["flags"],
        serde_json::json!(["unnormalised"])
    );
    let w = v["warnings"].as_array().unwrap();
    assert!(
        w.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("un-normalised (0-255 instead of 0-1)")),
        "{w:?}"
    );
    let out = stdout(&ok(&[s(&f)]));
    assert!(
        out.contains("warning:    the first tensor `images`"),
        "{out}"
    );
}

#[test]
fn tolerated_irregularities_become_warnings() {
    for (file, word) in [
        ("edge/ok_crlf.cache", "CRLF"),
        ("edge/ok_duplicates.cache", "appears 3 times"),
        ("edge/ok_short_hex.cache", "fewer than 8 hex digits"),
        (
            "edge/ok_unknown_algorithm.cache",
            "unknown calibration algorithm",
        ),
        ("edge/ok_truncated_tail.cache", "may be truncated"),
        ("edge/ok_header_only.cache", "no entries"),
    ] {
        let v = json(&[s(&fixture(file)), "--json"]);
        let w = v["warnings"].as_array().unwrap();
        assert!(
            w.iter().any(|x| x.as_str().unwrap().contains(word)),
            "{file}: {w:?}"
        );
    }
    let v = json(&[s(&fixture("edge/ok_duplicates.cache")), "--json"]);
    let names: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b", "a", "c", "a"]);
}

#[test]
fn sort_by_name_and_amax() {
    let f = fixture("vgg16_trt8.4_minmax.cache");
    let names = |v: &Value| -> Vec<String> {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    let by_name = names(&json(&[s(&f), "--json", "--sort", "name"]));
    let mut want: Vec<String> = lines_of(&f).into_iter().map(|(n, _)| n).collect();
    want.sort();
    assert_eq!(by_name, want);

    let v = json(&[s(&f), "--json", "--sort", "amax"]);
    let amax: Vec<f64> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amax"].as_f64().unwrap())
        .collect();
    assert_eq!(amax.len(), 67);
    assert!(amax.windows(2).all(|w| w[0] >= w[1]), "{amax:?}");
    let largest = lines_of(&f)
        .iter()
        .map(|(_, b)| f64::from(f32::from_bits(*b)) * 127.0)
        .fold(f64::MIN, f64::max);
    assert_eq!(amax[0], largest);

    let o = run(&[s(&f), "--sort", "size"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected `name` or `amax`"),
        "{}",
        stderr(&o)
    );
}

/// Every bad fixture: exit 2, `file:line:` in the message, nothing on stdout.
#[test]
fn bad_files_exit_2_with_line_numbers() {
    let cases = [
        ("bad_empty.cache", 1),
        ("bad_blank_only.cache", 2),
        ("bad_binary.bin", 1),
        ("bad_ort_table.cache", 1),
        ("bad_json.cache", 1),
        ("bad_missing_header.cache", 1),
        ("bad_header_code.cache", 1),
        ("bad_header_alg.cache", 1),
        ("bad_header_leading_zero.cache", 1),
        ("bad_legacy_header.cache", 1),
        ("bad_hex.cache", 3),
        ("bad_long_hex.cache", 2),
        ("bad_decimal_value.cache", 2),
        ("bad_truncated_colon.cache", 3),
        ("bad_truncated_name.cache", 3),
        ("bad_truncated_space.cache", 3),
        ("bad_trailing_space.cache", 2),
        ("bad_concatenated.cache", 3),
        ("bad_utf8_name.cache", 3),
        ("bad_nul_in_name.cache", 3),
        ("bad_empty_name.cache", 2),
        ("bad_ort_line_in_body.cache", 3),
        ("bad_bom.cache", 1),
    ];
    for (file, line) in cases {
        let p = fixture(&format!("edge/{file}"));
        for extra in [&[][..], &["--json"][..]] {
            let mut args = vec![s(&p)];
            args.extend_from_slice(extra);
            let o = run(&args);
            assert_eq!(o.status.code(), Some(2), "{file} {extra:?}");
            let err = stderr(&o);
            assert!(
                err.starts_with(&format!("error: {}:{line}: ", s(&p))),
                "{file}: {err}"
            );
            assert!(o.stdout.is_empty(), "{file}: {}", stdout(&o));
        }
    }
    let o = run(&[s(&fixture("edge/bad_ort_table.cache"))]);
    assert!(stderr(&o).contains("ONNX Runtime calibration table"));

    // As the second file of --against too.
    let o = run(&[
        s(&fixture("vgg16_trt8.4_minmax.cache")),
        "--against",
        s(&fixture("edge/bad_hex.cache")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad_hex.cache:3: "), "{}", stderr(&o));
}

#[test]
fn missing_file_and_bad_usage_exit_2() {
    let o = run(&["/nonexistent/calib.cache"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read /nonexistent/calib.cache"));
    assert!(stderr(&o).contains("caused by:"), "{}", stderr(&o));

    let f = fixture("vgg16_trt8.4_minmax.cache");
    for args in [
        vec![s(&f), "--retarget", "100300"],
        vec![s(&f), "-o", "/tmp/x.cache"],
        vec![s(&f), "--force"],
        vec![s(&f), "--against", s(&f), "--sort", "amax"],
        vec![s(&f), "--retarget", "100300", "-o", "/tmp/x", "--json"],
        vec![],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&o).is_empty());
    }
}

/// A copy of the yolo11 cache with one scale changed, one entry dropped and one added.
fn edited_yolo(dir: &Path) -> PathBuf {
    let src = std::fs::read_to_string(fixture("yolo11_trt10.3_entropy2.cache")).unwrap();
    let mut out = String::new();
    for l in src.lines() {
        if l == "images: 3c008912" {
            out.push_str("images: 3c808912\n"); // exponent +1: scale doubled
        } else if l.starts_with("/model.23/Sub_1_output_0: ") {
            continue;
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str("extra_tensor: 3c010a14\n");
    let p = dir.join("edited.cache");
    std::fs::write(&p, out).unwrap();
    p
}

#[test]
fn against_reports_changes_and_missing_tensors() {
    let dir = tmpdir();
    let a = fixture("yolo11_trt10.3_entropy2.cache");
    let b = edited_yolo(&dir);
    let v = json(&[s(&a), "--against", s(&b), "--json"]);
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["a", "b", "changes", "only_in_a", "only_in_b"]);
    assert_eq!(v["a"], s(&a));
    assert_eq!(v["b"], s(&b));
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 342);
    assert_eq!(changes[0]["name"], "images");
    let amax_a = f64::from(f32::from_bits(0x3c008912)) * 127.0;
    let amax_b = f64::from(f32::from_bits(0x3c808912)) * 127.0;
    assert_eq!(changes[0]["amax_a"].as_f64(), Some(amax_a));
    assert_eq!(changes[0]["amax_b"].as_f64(), Some(amax_b));
    assert_eq!(changes[0]["rel_change"].as_f64(), Some(1.0));
    assert!(changes[1..]
        .iter()
        .all(|c| c["rel_change"].as_f64() == Some(0.0)));
    assert_eq!(
        v["only_in_a"],
        serde_json::json!(["/model.23/Sub_1_output_0"])
    );
    assert_eq!(v["only_in_b"], serde_json::json!(["extra_tensor"]));

    let out = stdout(&ok(&[s(&a), "--against", s(&b)]));
    assert!(
        out.contains("tensors:    342 in both, 1 only in a, 1 only in b\n"),
        "{out}"
    );
    assert!(out.contains("|change|:   max 100%  median 0%\n"), "{out}");
    let row = out.lines().find(|l| l.starts_with("images ")).unwrap();
    assert!(row.ends_with("+100%"), "{row}");
    assert!(
        out.contains("only in a:\n  /model.23/Sub_1_output_0\n"),
        "{out}"
    );
    assert!(out.contains("only in b:\n  extra_tensor\n"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn against_across_versions_warns() {
    let dir = tmpdir();
    let a = fixture("vgg16_trt8.4_minmax.cache");
    let b = dir.join("b.cache");
    let o = ok(&[s(&a), "--retarget", "100300", "-o", s(&b)]);
    drop(o);
    let v = json(&[s(&a), "--against", s(&b), "--json"]);
    assert!(v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["rel_change"].as_f64() == Some(0.0)));
    let o = ok(&[s(&a), "--against", s(&b), "--json"]);
    assert!(
        stderr(&o).contains("different TensorRT versions: a 8.4.0, b 10.3.0"),
        "{}",
        stderr(&o)
    );
    let out = stdout(&ok(&[s(&a), "--against", s(&b)]));
    assert!(out.contains("warning:    the caches come from different TensorRT versions"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retarget_writes_a_copy_with_the_new_header() {
    let dir = tmpdir();
    let input = fixture("vgg16_trt8.4_minmax.cache");
    let out = dir.join("trt10.cache");
    let o = ok(&[s(&input), "--retarget", "10.3.0", "-o", s(&out)]);
    let raw = std::fs::read(&input).unwrap();
    let body = raw.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut want = b"TRT-100300-MinMaxCalibration\n".to_vec();
    want.extend_from_slice(&raw[body..]);
    assert_eq!(std::fs::read(&out).unwrap(), want);
    assert!(
        stdout(&o).contains("TRT-8400-MinMaxCalibration -> TRT-100300-MinMaxCalibration"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("computed by TensorRT 8.4.0"),
        "{}",
        stderr(&o)
    );
    // Only the output is in the folder: no temp file left behind.
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(names.len(), 1);

    // Retargeting the copy back gives the original bytes.
    let back = dir.join("back.cache");
    ok(&[s(&out), "--retarget", "8400", "-o", s(&back)]);
    assert_eq!(std::fs::read(&back).unwrap(), raw);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retarget_normalises_and_refuses_bad_targets() {
    let dir = tmpdir();
    let crlf = dir.join("crlf.cache");
    std::fs::copy(fixture("edge/ok_crlf.cache"), &crlf).unwrap();
    let out = dir.join("out.cache");
    let o = ok(&[s(&crlf), "--retarget", "100300", "-o", s(&out)]);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        b"TRT-100300-EntropyCalibration2\nimages: 3c010a14\nconv: 3d1c8e6f\n"
    );
    assert!(stderr(&o).contains("CRLF"), "{}", stderr(&o));

    for (input, target, word) in [
        (
            "unet3d_legacy.cache",
            "100300",
            "no TensorRT version header",
        ),
        ("old_header_1.bin", "8601", "no TensorRT version header"),
        (
            "vgg16_trt8.4_minmax.cache",
            "10300",
            "did you mean 100300 (10.3.0)?",
        ),
        (
            "vgg16_trt8.4_minmax.cache",
            "999",
            "not a code TensorRT writes",
        ),
        (
            "vgg16_trt8.4_minmax.cache",
            "ten",
            "expected a version code",
        ),
        ("edge/bad_hex.cache", "100300", "bad_hex.cache:3:"),
    ] {
        let target_out = dir.join("refused.cache");
        let o = run(&[
            s(&fixture(input)),
            "--retarget",
            target,
            "-o",
            s(&target_out),
        ]);
        assert_eq!(o.status.code(), Some(2), "{input} {target}");
        assert!(stderr(&o).contains(word), "{input}: {}", stderr(&o));
        assert!(!target_out.exists(), "{input}: output written");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retarget_never_overwrites_the_input_without_force() {
    let dir = tmpdir();
    let p = dir.join("calib.cache");
    std::fs::copy(fixture("vgg16_trt8.4_minmax.cache"), &p).unwrap();
    let before = std::fs::read(&p).unwrap();

    // Same file by another spelling of its path, and through a hard link.
    let other_spelling = dir.join(".").join("calib.cache");
    let link = dir.join("link.cache");
    std::fs::hard_link(&p, &link).unwrap();
    for out in [&p, &other_spelling, &link] {
        let o = run(&[s(&p), "--retarget", "100300", "-o", s(out)]);
        assert_eq!(o.status.code(), Some(2), "{}", s(out));
        assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
        assert_eq!(std::fs::read(&p).unwrap(), before);
    }

    ok(&[s(&p), "--retarget", "100300", "-o", s(&p), "--force"]);
    let after = std::fs::read(&p).unwrap();
    assert!(after.starts_with(b"TRT-100300-MinMaxCalibration\n"));
    assert_eq!(after.len(), before.len() + 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retarget_into_a_missing_folder_fails_cleanly() {
    let o = run(&[
        s(&fixture("vgg16_trt8.4_minmax.cache")),
        "--retarget",
        "100300",
        "-o",
        "/nonexistent-trtq-dir/out.cache",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent-trtq-dir/out.cache"),
        "{}",
        stderr(&o)
    );
}

/// `inspect-cache big.cache | head` : the closed pipe ends the output quietly, exit 0, no panic.
#[test]
fn closed_stdout_pipe_is_not_an_error() {
    let dir = tmpdir();
    let p = dir.join("big.cache");
    let mut text = String::from("TRT-100300-EntropyCalibration2\n");
    for i in 0..5000 {
        text.push_str(&format!("/model.{i}/conv/Conv_output_0: 3c010a14\n"));
    }
    std::fs::write(&p, text).unwrap();
    for extra in [&[][..], &["--json"][..]] {
        let mut child = Command::new(BIN)
            .arg("inspect-cache")
            .arg(&p)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end at once: the output (> 64 KiB, a pipe's buffer) cannot all fit.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", stderr(&o));
        assert!(o.stderr.is_empty(), "{extra:?}: {}", stderr(&o));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An engine or data file given by mistake is refused from its size, before being read whole.
#[test]
fn oversized_file_is_refused_unread() {
    let dir = tmpdir();
    let p = dir.join("model.engine");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(trtq_lite::cache::MAX_FILE_BYTES + 1).unwrap(); // sparse: no disk used
    drop(f);
    let o = run(&[s(&p)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("too large for a calibration cache"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
