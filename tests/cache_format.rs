//! The calibration cache format (`trtq_lite::cache`) on the real caches in fixtures/caches/ and
//! the hand-made edge cases in fixtures/caches/edge/ (made by edge/make.py).
//!
//! Expected values are written from the hex by hand (`f32::from_bits(0x3c010a14)`) or decoded
//! here by a separate, deliberately simple decoder, never by the code under test.

use std::path::{Path, PathBuf};

use trtq_lite::cache::{self, Algorithm, Cache, Entry, Flag, Format, TrtVersion};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/caches")
        .join(rel)
}

fn bytes(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn parse_ok(rel: &str) -> Cache {
    cache::parse(&bytes(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A second decoder, as simple as possible: every line after the first is `name: 8 hex digits`
/// (true of all five real caches).
fn simple_decode(text: &[u8]) -> Vec<(String, u32)> {
    let text = std::str::from_utf8(text).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let (name, hex) = l.rsplit_once(": ").unwrap();
            assert_eq!(hex.len(), 8, "{l}");
            (name.to_string(), u32::from_str_radix(hex, 16).unwrap())
        })
        .collect()
}

struct Real {
    file: &'static str,
    format: Format,
    code: Option<u32>,
    algorithm: Option<Algorithm>,
    /// (name, bits) of the first and last entries, copied from the file by hand.
    first: (&'static str, u32),
    last: (&'static str, u32),
}

fn reals() -> Vec<Real> {
    vec![
        Real {
            file: "yolo11_trt10.3_entropy2.cache",
            format: Format::Trt,
            code: Some(100300),
            algorithm: Some(Algorithm::EntropyCalibration2),
            first: ("images", 0x3c008912),
            last: ("/model.23/Sub_1_output_0", 0x3e73be80),
        },
        Real {
            file: "yolov4tiny_trt7.1.3_entropy2.bin",
            format: Format::Trt,
            code: Some(7103),
            algorithm: Some(Algorithm::EntropyCalibration2),
            first: ("000_net", 0x3c010a14),
            last: ("(Unnamed Layer* 77) [PluginV2IOExt]_output_0", 0x3ef222c6),
        },
        Real {
            file: "vgg16_trt8.4_minmax.cache",
            format: Format::Trt,
            code: Some(8400),
            algorithm: Some(Algorithm::MinMaxCalibration),
            first: ("input_0", 0x3cb1a063),
            last: ("output_0", 0x3e33f00d),
        },
        Real {
            file: "unet3d_legacy.cache",
            format: Format::Legacy,
            code: None,
            algorithm: None,
            first: ("input", 0x3d97aca7),
            last: ("output", 0x3e6cb3f8),
        },
        Real {
            file: "old_header_1.bin",
            format: Format::V1,
            code: None,
            algorithm: None,
            first: ("272", 0x3c7a236f),
            last: ("409", 0x3c17d3b7),
        },
    ]
}

#[test]
fn real_caches_decode_exactly() {
    for r in reals() {
        let raw = bytes(r.file);
        let c = parse_ok(r.file);
        assert_eq!(c.format, r.format, "{}", r.file);
        assert_eq!(c.version.map(|v| v.code()), r.code, "{}", r.file);
        assert_eq!(c.algorithm, r.algorithm, "{}", r.file);
        assert!(c.notes.is_empty(), "{}: {:?}", r.file, c.notes);

        let expect = simple_decode(&raw);
        let newlines = raw.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(expect.len(), newlines - 1, "{}", r.file);
        assert_eq!(c.entries.len(), expect.len(), "{}", r.file);
        for (i, (e, (name, bits))) in c.entries.iter().zip(&expect).enumerate() {
            assert_eq!(&e.name, name, "{} entry {i}", r.file);
            assert_eq!(e.hex_bits, *bits, "{} {name}", r.file);
            assert_eq!(e.scale.to_bits(), *bits, "{} {name}", r.file);
            assert_eq!(e.line, i + 2, "{} {name}", r.file);
        }

        let first = &c.entries[0];
        assert_eq!(first.name, r.first.0);
        assert_eq!(first.scale, f32::from_bits(r.first.1));
        let last = c.entries.last().unwrap();
        assert_eq!(last.name, r.last.0);
        assert_eq!(last.scale, f32::from_bits(r.last.1));

        assert!(c.duplicates().is_empty(), "{}", r.file);
        // Every real cache is in canonical form: written back byte for byte.
        assert_eq!(c.to_bytes(), raw, "{}", r.file);
    }
}

#[test]
fn real_values_spot_checked() {
    // 0x3c010a14 is 2/254.9 = 0.0078749..., the scale of an input normalised to 0..1.
    let c = parse_ok("yolov4tiny_trt7.1.3_entropy2.bin");
    let e = c.get("000_net").unwrap();
    assert_eq!(e.scale, f32::from_bits(0x3c010a14));
    assert!((e.scale - 0.007874).abs() < 1e-5, "{}", e.scale);
    assert_eq!(e.amax(), f32::from_bits(0x3c010a14) * 127.0);
    assert_eq!(e.amax_f64(), f64::from(f32::from_bits(0x3c010a14)) * 127.0);
    assert!((e.amax() - 1.0).abs() < 1e-3);

    let c = parse_ok("yolo11_trt10.3_entropy2.cache");
    // A TensorRT-made tensor name (line 139 of the file).
    let e = c.get("ONNXTRT_Broadcast_output").unwrap();
    assert_eq!((e.line, e.scale), (139, f32::from_bits(0x3ab67d3d)));
    assert_eq!(c.get("output0").unwrap().hex_bits, 0x41234473);
    assert_eq!(c.get("output0").unwrap().scale, f32::from_bits(0x41234473));
}

#[test]
fn legacy_header_values() {
    let c = parse_ok("unet3d_legacy.cache");
    let l = c.legacy.unwrap();
    assert_eq!(l.regression_cutoff, 1.0);
    assert_eq!(l.quantile, f64::from_bits(0x3fefffeb074a771d));
    assert!((l.quantile - 0.99999).abs() < 1e-12);
    assert_eq!(c.header_line(), "0 3ff0000000000000 3fefffeb074a771d");
    assert_eq!(c.version, None);
    assert_eq!(c.algorithm, None);
}

#[test]
fn headers_decode_both_version_encodings() {
    let v = |rel: &str| parse_ok(rel).version.unwrap();
    let t9 = v("edge/ok_trt9.cache");
    assert_eq!((t9.major, t9.minor, t9.patch, t9.code), (9, 2, 0, 9200));
    let t10 = v("edge/ok_trt10_14.cache");
    assert_eq!(
        (t10.major, t10.minor, t10.patch, t10.code),
        (10, 14, 1, 101401)
    );
    let t7 = v("yolov4tiny_trt7.1.3_entropy2.bin");
    assert_eq!((t7.major, t7.minor, t7.patch), (7, 1, 3));
    let t103 = v("yolo11_trt10.3_entropy2.cache");
    assert_eq!((t103.major, t103.minor, t103.patch), (10, 3, 0));
    assert_eq!(
        parse_ok("edge/ok_trt10_14.cache").algorithm,
        Some(Algorithm::EntropyCalibration)
    );
    assert_eq!(
        parse_ok("edge/ok_legacy_calib.cache").algorithm,
        Some(Algorithm::LegacyCalibration)
    );
    let u = parse_ok("edge/ok_unknown_algorithm.cache");
    assert_eq!(
        u.algorithm,
        Some(Algorithm::Unknown("PercentileCalibration".into()))
    );
    assert_eq!(u.notes.len(), 1);
    assert!(u.notes[0].msg.contains("unknown calibration algorithm"));
    assert_eq!(u.to_bytes(), bytes("edge/ok_unknown_algorithm.cache"));
}

fn names_bits(c: &Cache) -> Vec<(&str, u32)> {
    c.entries
        .iter()
        .map(|e| (e.name.as_str(), e.hex_bits))
        .collect()
}

#[test]
fn tolerated_line_endings_and_blank_lines() {
    let canonical = b"TRT-8601-EntropyCalibration2\nimages: 3c010a14\nconv: 3d1c8e6f\n";
    for (rel, note) in [
        ("edge/ok_crlf.cache", "CRLF"),
        ("edge/ok_no_final_newline.cache", "no newline"),
        ("edge/ok_blank_lines.cache", "blank line"),
    ] {
        let c = parse_ok(rel);
        assert_eq!(
            names_bits(&c),
            [("images", 0x3c010a14), ("conv", 0x3d1c8e6f)],
            "{rel}"
        );
        assert_eq!(c.to_bytes(), canonical, "{rel}");
        assert!(
            c.notes.iter().any(|n| n.msg.contains(note)),
            "{rel}: {:?}",
            c.notes
        );
    }
    let b = parse_ok("edge/ok_blank_lines.cache");
    assert_eq!(b.entries[0].line, 3);
    assert_eq!(b.entries[1].line, 6);
}

#[test]
fn names_split_at_the_last_colon_space() {
    let c = parse_ok("edge/ok_colon_names.cache");
    assert_eq!(
        names_bits(&c),
        [
            ("a : b", 0x3c010a14),
            ("(Unnamed Layer* 3) [Convolution]_output", 0x3d1c8e6f),
            ("%input.1 #2", 0x3e4974f2),
            ("ns::tensor:0", 0x3dc86a5b),
            ("x: ", 0x3c810204),
        ]
    );
    assert_eq!(c.to_bytes(), bytes("edge/ok_colon_names.cache"));
}

#[test]
fn short_and_uppercase_hex() {
    let c = parse_ok("edge/ok_short_hex.cache");
    assert_eq!(
        names_bits(&c),
        [
            ("zero", 0),
            ("tiny", 0x3c01),
            ("min_normal", 0x0080_0000),
            ("upper", 0x3c010a14),
        ]
    );
    assert_eq!(c.entries[2].scale, f32::MIN_POSITIVE);
    assert_eq!(c.entries[1].scale, f32::from_bits(0x0000_3c01));
    assert_eq!(
        c.to_bytes(),
        b"TRT-8601-EntropyCalibration2\nzero: 00000000\ntiny: 00003c01\n\
          min_normal: 00800000\nupper: 3c010a14\n"
    );
    let msgs: Vec<&str> = c.notes.iter().map(|n| n.msg.as_str()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("3 entries with fewer than 8")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("uppercase")), "{msgs:?}");
}

#[test]
fn duplicates_are_reported_not_merged() {
    let c = parse_ok("edge/ok_duplicates.cache");
    assert_eq!(
        names_bits(&c),
        [
            ("a", 0x3c010a14),
            ("b", 0x3d1c8e6f),
            ("a", 0x3e4974f2),
            ("c", 0x3dc86a5b),
            ("a", 0x3c010a14),
        ]
    );
    assert_eq!(c.duplicates(), vec![("a", vec![0, 2, 4])]);
    assert_eq!(c.get("a").unwrap().hex_bits, 0x3c010a14);
    assert_eq!(c.notes.len(), 1);
    assert!(c.notes[0].msg.contains("lines 2, 4, 6"), "{:?}", c.notes);
    assert_eq!(c.to_bytes(), bytes("edge/ok_duplicates.cache"));
}

#[test]
fn flags_for_extreme_values() {
    let c = parse_ok("edge/ok_flags.cache");
    let got: Vec<(&str, Vec<&str>)> = (0..c.entries.len())
        .map(|i| {
            (
                c.entries[i].name.as_str(),
                c.flags(i).iter().map(|f| f.as_str()).collect(),
            )
        })
        .collect();
    let want: Vec<(&str, Vec<&str>)> = vec![
        ("normal", vec![]),
        ("zero", vec!["zero"]),
        ("neg_zero", vec!["zero", "negative"]),
        ("negative", vec!["negative"]),
        ("nan", vec!["nan"]),
        ("inf", vec!["inf"]),
        ("neg_inf", vec!["negative", "inf"]),
        ("subnormal", vec!["subnormal"]),
        ("huge", vec!["huge"]),
        ("tiny", vec![]),
    ];
    assert_eq!(got, want);
    assert!(c.entries[4].scale.is_nan());
    assert_eq!(c.entries[5].scale, f32::INFINITY);
    assert_eq!(c.entries[8].amax_f64(), 12700.0);
    assert_eq!(c.entries[9].scale, f32::from_bits(0x26901d7d));
    // Values are kept, never rejected; NaN's exact bits survive writing.
    assert_eq!(c.to_bytes(), bytes("edge/ok_flags.cache"));
}

#[test]
fn unnormalised_first_input() {
    let c = parse_ok("edge/ok_unnormalised.cache");
    assert_eq!(
        c.entries[0].amax_f64(),
        f64::from(f32::from_bits(0x40008102)) * 127.0
    );
    assert!((c.entries[0].amax_f64() - 255.0).abs() < 1e-3);
    assert_eq!(c.flags(0), vec![Flag::Unnormalised]);
    assert_eq!(c.flags(1), vec![]);
    // Only the first tensor is taken as the network input.
    let mut moved = c.clone();
    moved.entries.swap(0, 1);
    assert_eq!(moved.flags(1), vec![]);
    assert_eq!(parse_ok("yolo11_trt10.3_entropy2.cache").flags(0), vec![]);
}

#[test]
fn header_only_and_truncated_tail() {
    let h = parse_ok("edge/ok_header_only.cache");
    assert!(h.entries.is_empty());
    assert_eq!(h.to_bytes(), bytes("edge/ok_header_only.cache"));

    let t = parse_ok("edge/ok_truncated_tail.cache");
    assert_eq!(names_bits(&t), [("images", 0x3c010a14), ("conv", 0x3d1)]);
    assert!(
        t.notes
            .iter()
            .any(|n| n.line == 3 && n.msg.contains("truncated")),
        "{:?}",
        t.notes
    );
}

/// (file, line of the error, a word the message must contain)
const BAD: &[(&str, usize, &str)] = &[
    ("bad_empty.cache", 1, "empty file"),
    ("bad_blank_only.cache", 2, "only blank lines"),
    ("bad_binary.bin", 1, "binary data"),
    ("bad_ort_table.cache", 1, "ONNX Runtime"),
    ("bad_json.cache", 1, "JSON"),
    ("bad_missing_header.cache", 1, "missing header"),
    ("bad_header_code.cache", 1, "TRT-<version code>-<algorithm>"),
    ("bad_header_alg.cache", 1, "algorithm name"),
    ("bad_header_leading_zero.cache", 1, "leading zero"),
    ("bad_legacy_header.cache", 1, "legacy header"),
    ("bad_hex.cache", 3, "1-8 hex digits"),
    ("bad_long_hex.cache", 2, "9 digits"),
    ("bad_decimal_value.cache", 2, "decimal number"),
    ("bad_truncated_colon.cache", 3, "truncated"),
    ("bad_truncated_name.cache", 3, "no `: ` separator"),
    ("bad_truncated_space.cache", 3, "truncated"),
    ("bad_trailing_space.cache", 2, "1-8 hex digits"),
    ("bad_concatenated.cache", 3, "second header"),
    ("bad_utf8_name.cache", 3, "not valid UTF-8"),
    ("bad_nul_in_name.cache", 3, "control character"),
    ("bad_empty_name.cache", 2, "empty tensor name"),
    ("bad_ort_line_in_body.cache", 3, "ONNX Runtime"),
    ("bad_bom.cache", 1, "byte-order mark"),
];

#[test]
fn bad_files_are_refused_with_a_line_number() {
    for (file, line, word) in BAD {
        let rel = format!("edge/{file}");
        let e = cache::parse(&bytes(&rel)).expect_err(&rel);
        assert_eq!(e.line, *line, "{rel}: {e}");
        assert!(e.msg.contains(word), "{rel}: `{word}` not in: {e}");

        let err = Cache::read(&fixture(&rel)).expect_err(&rel);
        assert_eq!(err.exit_code(), 2);
        let shown = err.to_string();
        assert!(
            shown.contains(&format!("{file}:{line}: ")),
            "{rel}: {shown}"
        );
    }
}

#[test]
fn every_edge_fixture_is_covered() {
    let dir = fixture("edge");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("bad_") {
            assert!(BAD.iter().any(|(f, _, _)| *f == name), "{name} not in BAD");
        } else if name.starts_with("ok_") {
            let c = parse_ok(&format!("edge/{name}"));
            // Canonical output parses back to the same entries and is a fixed point.
            let again = cache::parse(&c.to_bytes()).unwrap();
            assert_eq!(names_bits(&again), names_bits(&c), "{name}");
            assert_eq!(again.to_bytes(), c.to_bytes(), "{name}");
        }
    }
}

#[test]
fn read_reports_missing_files() {
    let e = Cache::read(Path::new("/nonexistent/x.cache")).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("/nonexistent/x.cache"), "{e}");
}

/// Deterministic pseudo-random numbers (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn made_caches_round_trip_every_bit_pattern() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let names = [
        "x",
        "a : b",
        "(Unnamed Layer* 1) [Shuffle]_output",
        "t: ",
        "é ü",
    ];
    let mut entries = Vec::new();
    for i in 0..2000 {
        let bits = rng.next() as u32;
        let mut e = Entry::new(format!("{}{i}", names[i % names.len()]), 0.0);
        e.hex_bits = bits;
        e.scale = f32::from_bits(bits);
        entries.push(e);
    }
    let c = Cache::new_trt(
        TrtVersion::from_code(100300),
        Algorithm::EntropyCalibration2,
        entries,
    );
    let back = cache::parse(&c.to_bytes()).unwrap();
    assert!(back.notes.is_empty(), "{:?}", &back.notes[..1]);
    assert_eq!(back.entries.len(), 2000);
    for (a, b) in c.entries.iter().zip(&back.entries) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.hex_bits, b.hex_bits);
        assert_eq!(a.scale.to_bits(), b.scale.to_bits());
    }
    assert_eq!(back.to_bytes(), c.to_bytes());
}

#[test]
fn mutated_files_never_panic() {
    let mut rng = Rng(12345);
    let seeds: Vec<Vec<u8>> = reals().iter().map(|r| bytes(r.file)).collect();
    for round in 0..3000 {
        let mut b = seeds[round % seeds.len()].clone();
        for _ in 0..(1 + rng.next() % 4) {
            let i = (rng.next() as usize) % b.len();
            match rng.next() % 4 {
                0 => b[i] = rng.next() as u8,
                1 => {
                    b.remove(i);
                }
                2 => b.insert(i, b": \r\n\0\xff"[(rng.next() % 6) as usize]),
                _ => b.truncate(i),
            }
            if b.is_empty() {
                break;
            }
        }
        if let Ok(c) = cache::parse(&b) {
            // Anything accepted writes back into something accepted, with the same entries.
            let again = cache::parse(&c.to_bytes()).expect("canonical output must parse");
            assert_eq!(names_bits(&again), names_bits(&c));
        }
    }
}

#[test]
fn retarget_changes_only_the_version() {
    let c = parse_ok("vgg16_trt8.4_minmax.cache");
    let r = c.retarget(TrtVersion::from_code(100300)).unwrap();
    assert_eq!(r.header_line(), "TRT-100300-MinMaxCalibration");
    let raw = bytes("vgg16_trt8.4_minmax.cache");
    let mut want = b"TRT-100300-MinMaxCalibration\n".to_vec();
    let body = raw.iter().position(|&b| b == b'\n').unwrap() + 1;
    want.extend_from_slice(&raw[body..]);
    assert_eq!(r.to_bytes(), want);

    let legacy = parse_ok("unet3d_legacy.cache");
    assert!(legacy.retarget(TrtVersion::from_code(8601)).is_err());
    let e = parse_ok("old_header_1.bin")
        .retarget(TrtVersion::from_code(8601))
        .unwrap_err();
    assert!(e.contains("no TensorRT version header"), "{e}");
}

#[test]
fn fit_against_a_build() {
    let c = parse_ok("vgg16_trt8.4_minmax.cache");
    let names: Vec<&str> = c.entries.iter().map(|e| e.name.as_str()).collect();
    let v84 = TrtVersion::new(8, 4, 0).unwrap();
    let same = c.fit(v84, &Algorithm::MinMaxCalibration, &names);
    assert_eq!(same.header, None);
    assert!(same.missing.is_empty() && same.extra.is_empty());

    let mut net = names[1..].to_vec();
    net.push("new_tensor");
    let other = c.fit(
        TrtVersion::from_code(100300),
        &Algorithm::EntropyCalibration2,
        &net,
    );
    let h = other.header.unwrap();
    assert!(h.contains("TensorRT 8.4.0"), "{h}");
    assert!(h.contains("10.3.0"), "{h}");
    assert!(h.contains("MinMaxCalibration"), "{h}");
    assert_eq!(other.missing, ["new_tensor"]);
    assert_eq!(other.extra, ["input_0"]);

    let patch = c.fit(
        TrtVersion::new(8, 4, 1).unwrap(),
        &Algorithm::MinMaxCalibration,
        &names,
    );
    assert!(patch.header.is_some());

    let legacy = parse_ok("unet3d_legacy.cache");
    let h = legacy
        .fit(v84, &Algorithm::LegacyCalibration, &[])
        .header
        .unwrap();
    assert!(h.contains("legacy"), "{h}");
}
