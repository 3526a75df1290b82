//! `trtq-lite prepare` end to end: the binary on committed fixtures and on images generated
//! here, checked against an independent letterbox written in this file (f64 bilinear with
//! half-pixel centres, Ultralytics' geometry) within one grey level, plus the CLI contract:
//! exit codes, skipped list, --strict, --force, batching, order, limit, seed, inspect-data.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_trtq-lite");
const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/prepare");
const LEVEL: f32 = 1.0 / 255.0 + 1e-6;
const MAX_SHARE: f64 = 0.2;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("trtq-prepare-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let o = Command::new(BIN).args(args).output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn ps(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// (shape, f32 values) of a .npy file written by prepare (f4 or f2).
fn load(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let h = trtq_lite::npy::parse_header(&bytes).unwrap();
    assert_eq!(h.version, (1, 0));
    let data = &bytes[h.data_offset..];
    assert_eq!(data.len(), h.data_len);
    let vals = match h.dtype {
        trtq_lite::npy::DType::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        trtq_lite::npy::DType::F16 => data
            .chunks_exact(2)
            .map(|b| trtq_lite::npy::f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        d => panic!("unexpected dtype {d}"),
    };
    (h.shape, vals)
}

/// sources.tsv: image path -> (file, row).
fn sources(out: &Path) -> Vec<(String, usize, String)> {
    std::fs::read_to_string(out.join("sources.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let v: Vec<&str> = l.split('\t').collect();
            (v[0].to_string(), v[1].parse().unwrap(), v[2].to_string())
        })
        .collect()
}

fn npy_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "npy"))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// The independent reference

#[derive(Clone)]
struct Img {
    w: usize,
    h: usize,
    /// RGB interleaved.
    px: Vec<u8>,
}

impl Img {
    fn from_fn(w: usize, h: usize, mut f: impl FnMut(usize, usize, usize) -> u8) -> Img {
        let mut px = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    px.push(f(x, y, c));
                }
            }
        }
        Img { w, h, px }
    }
    fn at(&self, x: usize, y: usize, c: usize) -> u8 {
        self.px[(y * self.w + x) * 3 + c]
    }
}

/// Python 3 `round()`: nearest, ties to even.
fn round_even(x: f64) -> f64 {
    let f = x.floor();
    let d = x - f;
    if d > 0.5 || (d == 0.5 && f % 2.0 != 0.0) {
        f + 1.0
    } else {
        f
    }
}

/// Ultralytics LetterBox(auto=False, scaleup) + cv2 INTER_LINEAR sampling, computed per output
/// pixel in f64; RGB, /255, CHW.
fn reference(img: &Img, out_w: usize, out_h: usize, scaleup: bool, pad: u8) -> Vec<f32> {
    let mut r = (out_h as f64 / img.h as f64).min(out_w as f64 / img.w as f64);
    if !scaleup {
        r = r.min(1.0);
    }
    let nw = (round_even(img.w as f64 * r) as usize).max(1);
    let nh = (round_even(img.h as f64 * r) as usize).max(1);
    // round(d - 0.1) with d = (out - new) / 2 is the integer half, rounded down.
    let (left, top) = ((out_w - nw) / 2, (out_h - nh) / 2);
    let sample = |x: usize, y: usize, c: usize| -> f64 {
        let map = |d: usize, src: usize, dst: usize| {
            let s = ((d as f64 + 0.5) * src as f64 / dst as f64 - 0.5).clamp(0.0, (src - 1) as f64);
            let i0 = s.floor() as usize;
            (i0, (i0 + 1).min(src - 1), s - i0 as f64)
        };
        let (x0, x1, fx) = map(x, img.w, nw);
        let (y0, y1, fy) = map(y, img.h, nh);
        let v = |x, y| img.at(x, y, c) as f64;
        let top_row = v(x0, y0) * (1.0 - fx) + v(x1, y0) * fx;
        let bottom_row = v(x0, y1) * (1.0 - fx) + v(x1, y1) * fx;
        top_row * (1.0 - fy) + bottom_row * fy
    };
    let mut out = vec![0f32; 3 * out_w * out_h];
    for c in 0..3 {
        for y in 0..out_h {
            for x in 0..out_w {
                let inside = x >= left && x < left + nw && y >= top && y < top + nh;
                let v = if inside {
                    (sample(x - left, y - top, c) + 0.5).floor()
                } else {
                    pad as f64
                };
                out[(c * out_h + y) * out_w + x] = (v / 255.0) as f32;
            }
        }
    }
    out
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Share of values that differ at all. OpenCV's fixed-point rounding (which prepare repeats)
/// departs from exact arithmetic on few pixels; a systematic bias would touch many.
fn share_differing(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x != y).count() as f64 / a.len() as f64
}

/// Both bounds: at most one grey level anywhere, and exact on all but `MAX_SHARE` of values.
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    let d = max_diff(got, want);
    let share = share_differing(got, want);
    eprintln!(
        "{what}: max diff {} levels, {:.3}% differ",
        d * 255.0,
        share * 100.0
    );
    assert!(d <= LEVEL, "{what}: max diff {} levels", d * 255.0);
    assert!(
        share <= MAX_SHARE,
        "{what}: {:.2}% of values differ",
        share * 100.0
    );
}

/// The PNG fixtures' pixel rule (tests/fixtures/prepare/make.py `value`).
fn value(x: usize, y: usize, c: usize) -> u8 {
    ((x * 11 + y * 7 + c * 85 + (x * y) % 17) % 256) as u8
}

/// What each PNG fixture must decode to, built from make.py's rules (not from a decoder).
fn png_fixture_expected() -> Vec<(&'static str, Img)> {
    let rgb = |w, h| Img::from_fn(w, h, value);
    let grey = |w, h| Img::from_fn(w, h, |x, y, _| value(x, y, 0));
    let palette = Img::from_fn(40, 24, |x, y, c| value((x + 2 * y) % 16, 0, c));
    // Stored 30x18, EXIF orientation 6: shown rotated 90° clockwise, 18 wide and 30 high.
    let exif6 = Img::from_fn(18, 30, |x, y, c| value(y, 18 - 1 - x, c));
    vec![
        ("rgb8.png", rgb(61, 37)),
        ("grey8.png", grey(29, 41)),
        ("rgba8.png", rgb(33, 50)),
        ("greya8.png", grey(20, 22)),
        ("grey16.png", grey(23, 19)),
        ("rgb16.png", rgb(17, 13)),
        ("palette4.png", palette),
        ("exif6.png", exif6),
    ]
}

fn decode_fixture(name: &str) -> Img {
    let bytes = std::fs::read(Path::new(FIX).join(name)).unwrap();
    let d = trtq_lite::image::decode(&bytes).unwrap();
    Img {
        w: d.width,
        h: d.height,
        px: d.data,
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

#[test]
fn png_fixtures_decode_exactly() {
    for (name, want) in png_fixture_expected() {
        let got = decode_fixture(name);
        assert_eq!((got.w, got.h), (want.w, want.h), "{name}");
        assert!(
            got.px == want.px,
            "{name}: pixels differ from make.py's rule"
        );
    }
}

#[test]
fn jpeg_fixtures_decode_close_to_their_source() {
    // make.py: r = 3x, g = 4y, b = 2(x+y) (mod 256), saved at quality 90-92. Mean error stays
    // small even though the mod-256 wrap makes sharp edges that ring.
    let src = |x: usize, y: usize, c: usize| -> f64 {
        [(x * 3) % 256, (y * 4) % 256, ((x + y) * 2) % 256][c] as f64
    };
    for (name, w, h) in [("baseline.jpg", 80, 60), ("progressive.jpg", 64, 48)] {
        let img = decode_fixture(name);
        assert_eq!((img.w, img.h), (w, h), "{name}");
        let mut err = 0.0;
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    err += (img.at(x, y, c) as f64 - src(x, y, c)).abs();
                }
            }
        }
        let mean = err / (w * h * 3) as f64;
        assert!(mean < 6.0, "{name}: mean error {mean}");
    }
    let grey = decode_fixture("grey.jpg");
    assert_eq!((grey.w, grey.h), (70, 45));
    assert!(grey
        .px
        .chunks_exact(3)
        .all(|p| p[0] == p[1] && p[1] == p[2]));
    // Stored 48x32 with orientation 6: upright it is 32 wide, 48 high, and the stored top-left
    // (dark) corner is now at the top right.
    let e = decode_fixture("exif6.jpg");
    assert_eq!((e.w, e.h), (32, 48));
    let stored = |x: usize, y: usize| src(x, y, 0) + src(x, y, 1);
    let shown_top_right = e.at(31, 0, 0) as f64 + e.at(31, 0, 1) as f64;
    assert!(
        (shown_top_right - stored(0, 0)).abs() < 30.0,
        "{shown_top_right}"
    );
}

#[test]
fn mutated_files_never_panic() {
    // Flip and truncate bytes of every fixture; decode must return Ok or Err, never panic
    // (the CLI would still catch a decoder panic, but the decoders should not need it).
    let mut n = 0;
    for entry in std::fs::read_dir(FIX).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_none_or(|e| e == "py") {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        let step = (bytes.len() / 40).max(1);
        for i in (0..bytes.len()).step_by(step) {
            for x in [0u8, 0xff, 0x7f] {
                let mut m = bytes.clone();
                m[i] = x;
                let _ = trtq_lite::image::decode(&m);
                let _ = trtq_lite::image::decode(&m[..i]);
                n += 2;
            }
        }
    }
    assert!(n > 1000, "only {n} cases");
}

// ---------------------------------------------------------------------------------------------
// Letterbox output against the reference

#[test]
fn fixtures_match_the_reference_letterbox() {
    let out = tmp("fixtures");
    for (w, h) in [(64usize, 64usize), (80, 48)] {
        let o = out.join(format!("{w}x{h}"));
        let r = run(&[
            "prepare",
            "-q",
            FIX,
            "-o",
            ps(&o),
            "--imgsz",
            &format!("{h}x{w}"),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let src = sources(&o);
        let mut expected: Vec<(String, Img)> = png_fixture_expected()
            .into_iter()
            .map(|(n, i)| (n.to_string(), i))
            .collect();
        // JPEGs: the reference takes the decoder's pixels and checks the letterbox only.
        for j in ["baseline.jpg", "progressive.jpg", "grey.jpg", "exif6.jpg"] {
            expected.push((j.to_string(), decode_fixture(j)));
        }
        assert_eq!(src.len(), expected.len(), "{src:?}");
        for (name, img) in &expected {
            let (file, row, _) = src
                .iter()
                .find(|(_, _, s)| s.ends_with(&format!("/{name}")))
                .unwrap_or_else(|| panic!("{name} not in sources.tsv"));
            assert_eq!(*row, 0);
            let (shape, got) = load(&o.join(file));
            assert_eq!(shape, vec![1, 3, h, w]);
            let want = reference(img, w, h, true, 114);
            assert_close(&got, &want, &format!("{name} at {w}x{h}"));
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// xorshift64* noise: the worst case for rounding (no smooth areas).
fn noise(w: usize, h: usize, seed: u64) -> Img {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    Img::from_fn(w, h, |_, _, _| {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
    })
}

fn write_png(path: &Path, img: &Img) {
    let f = std::fs::File::create(path).unwrap();
    let mut e = png::Encoder::new(std::io::BufWriter::new(f), img.w as u32, img.h as u32);
    e.set_color(png::ColorType::Rgb);
    e.set_depth(png::BitDepth::Eight);
    let mut w = e.write_header().unwrap();
    w.write_image_data(&img.px).unwrap();
}

#[test]
fn generated_sizes_match_the_reference_letterbox() {
    let dir = tmp("sizes");
    // Down- and up-scaling, odd sizes, the identity, an exact halving (OpenCV's area
    // shortcut), a 1-pixel-high strip, and a tall image.
    let cases: [(usize, usize, usize, usize, bool); 9] = [
        (97, 211, 64, 64, true),
        (211, 97, 64, 64, true),
        (13, 7, 64, 64, true),
        (13, 7, 64, 64, false),
        (64, 64, 64, 64, true),
        (256, 144, 128, 128, true),
        (300, 1, 64, 64, true),
        (5, 400, 96, 64, true),
        (1280, 720, 640, 640, true),
    ];
    for (i, &(w, h, ow, oh, up)) in cases.iter().enumerate() {
        let img = noise(w, h, i as u64 + 1);
        let src = dir.join(format!("case{i}.png"));
        write_png(&src, &img);
        let out = dir.join(format!("out{i}"));
        let size = format!("{oh}x{ow}");
        let mut args = vec!["prepare", "-q", ps(&src), "-o", ps(&out), "--imgsz", &size];
        if !up {
            args.push("--no-upscale");
        }
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (shape, got) = load(&out.join("000000.npy"));
        assert_eq!(shape, vec![1, 3, oh, ow]);
        let want = reference(&img, ow, oh, up, 114);
        assert_close(&got, &want, &format!("{w}x{h} -> {ow}x{oh}"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn options_change_the_tensor_as_documented() {
    let dir = tmp("options");
    let img = FIX.to_string() + "/rgb8.png";
    let go = |name: &str, extra: &[&str]| -> (Vec<usize>, Vec<f32>) {
        let o = dir.join(name);
        let mut a = vec!["prepare", "-q", &img, "-o", ps(&o), "--imgsz", "32"];
        a.extend_from_slice(extra);
        let r = run(&a);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        load(&o.join("000000.npy"))
    };
    let (s, base) = go("base", &[]);
    assert_eq!(s, vec![1, 3, 32, 32]);
    let plane = 32 * 32;
    let (_, bgr) = go("bgr", &["--bgr"]);
    assert_eq!(&bgr[..plane], &base[2 * plane..]);
    assert_eq!(&bgr[2 * plane..], &base[..plane]);
    let (_, raw) = go("raw", &["--no-normalise", "--pad", "0"]);
    assert!(raw
        .iter()
        .all(|v| v.fract() == 0.0 && (0.0..=255.0).contains(v)));
    assert!(raw.iter().any(|&v| v > 1.0));
    let (s, nhwc) = go("nhwc", &["--layout", "nhwc"]);
    assert_eq!(s, vec![1, 32, 32, 3]);
    for c in 0..3 {
        for p in [0, 517, plane - 1] {
            assert_eq!(nhwc[p * 3 + c], base[c * plane + p]);
        }
    }
    let (s, half) = go("half", &["--dtype", "f16"]);
    assert_eq!(s, vec![1, 3, 32, 32]);
    assert!(max_diff(&half, &base) < 1e-3);
    let (_, padded) = go("pad", &["--pad", "0"]);
    // The 61x37 image fills 32x19 (round(37*32/61) = 19): rows 0..6 are padding.
    assert!(padded[..6 * 32].iter().all(|&v| v == 0.0));
    assert!(base[..6 * 32].iter().all(|&v| v == 114.0 / 255.0));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// CLI contract

#[test]
fn bad_images_are_listed_and_skipped() {
    let out = tmp("skipped");
    let r = run(&["prepare", FIX, "-o", ps(&out), "--imgsz", "32", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["candidates"], 15);
    assert_eq!(v["prepared"], 12);
    let skipped: Vec<String> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(skipped, ["corrupt.jpg", "notimage.jpg", "truncated.png"]);
    for s in v["skipped"].as_array().unwrap() {
        assert!(!s["reason"].as_str().unwrap().is_empty());
    }
    for name in ["corrupt.jpg", "notimage.jpg", "truncated.png"] {
        assert!(
            r.stderr.contains(&format!("skipped {FIX}/{name}: ")),
            "{}",
            r.stderr
        );
    }
    assert!(!r.stderr.contains("panicked"));
    assert_eq!(npy_files(&out).len(), 12);
    // No staging folder left behind.
    let hidden = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(hidden, 0);
    // The text summary names them too.
    let out2 = tmp("skipped-text");
    let r = run(&["prepare", "-q", FIX, "-o", ps(&out2), "--imgsz", "32"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("prepared 12 of 15 image(s) into 12 file(s)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("skipped 3:"), "{}", r.stdout);
    assert!(
        r.stdout.contains("notimage.jpg: not a JPEG or PNG file"),
        "{}",
        r.stdout
    );
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&out2).unwrap();
}

#[test]
fn strict_stops_and_leaves_the_output_untouched() {
    let out = tmp("strict");
    std::fs::write(out.join("keep.txt"), "x").unwrap();
    let r = run(&[
        "prepare",
        "-q",
        FIX,
        "-o",
        ps(&out),
        "--imgsz",
        "32",
        "--strict",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("corrupt.jpg"), "{}", r.stderr);
    assert!(r.stderr.contains("--strict"), "{}", r.stderr);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["keep.txt"]);
    // A folder the failed run created is gone again.
    let fresh = out.join("new/deeper");
    let r = run(&[
        "prepare",
        "-q",
        FIX,
        "-o",
        ps(&fresh),
        "--imgsz",
        "32",
        "--strict",
    ]);
    assert_eq!(r.code, 2);
    assert!(!fresh.exists());
    // Only good images: --strict succeeds.
    let good = FIX.to_string() + "/rgb8.png";
    let r = run(&[
        "prepare",
        "-q",
        &good,
        "-o",
        ps(&out),
        "--imgsz",
        "32",
        "--strict",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn existing_npy_needs_force_and_stale_files_go() {
    let out = tmp("force");
    let old: Vec<PathBuf> = (0..5).map(|i| out.join(format!("{i:06}.npy"))).collect();
    for p in &old {
        std::fs::write(p, b"old").unwrap();
    }
    let imgs = [
        FIX.to_string() + "/rgb8.png",
        FIX.to_string() + "/grey8.png",
    ];
    let r = run(&[
        "prepare",
        "-q",
        &imgs[0],
        &imgs[1],
        "-o",
        ps(&out),
        "--imgsz",
        "16",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert!(old.iter().all(|p| std::fs::read(p).unwrap() == b"old"));
    let r = run(&[
        "prepare",
        "-q",
        &imgs[0],
        &imgs[1],
        "-o",
        ps(&out),
        "--imgsz",
        "16",
        "--force",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("removed 3 older .npy file(s)"),
        "{}",
        r.stdout
    );
    let files = npy_files(&out);
    assert_eq!(files, old[..2]);
    assert_eq!(load(&files[0]).0, vec![1, 3, 16, 16]);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn batches_hold_the_same_samples_in_order() {
    let dir = tmp("batches");
    let single = dir.join("single");
    let batched = dir.join("batched");
    let r = run(&["prepare", "-q", FIX, "-o", ps(&single), "--imgsz", "24"]);
    assert_eq!(r.code, 0);
    let r = run(&[
        "prepare",
        "-q",
        FIX,
        "-o",
        ps(&batched),
        "--imgsz",
        "24",
        "--per-batch",
        "5",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bfiles = npy_files(&batched);
    let shapes: Vec<Vec<usize>> = bfiles.iter().map(|f| load(f).0).collect();
    // 12 good images: 5 + 5 + a last file of 2.
    assert_eq!(
        shapes,
        vec![vec![5, 3, 24, 24], vec![5, 3, 24, 24], vec![2, 3, 24, 24]]
    );
    let all_batched: Vec<f32> = bfiles.iter().flat_map(|f| load(f).1).collect();
    let all_single: Vec<f32> = npy_files(&single).iter().flat_map(|f| load(f).1).collect();
    assert!(all_batched == all_single);
    let src = sources(&batched);
    assert_eq!(src[6].0, "000001.npy");
    assert_eq!(src[6].1, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn order_limit_seed_and_threads_are_deterministic() {
    let dir = tmp("order");
    let go = |name: &str, extra: &[&str]| -> (Vec<String>, Vec<Vec<u8>>) {
        let o = dir.join(name);
        let mut a = vec!["prepare", "-q", FIX, "-o", ps(&o), "--imgsz", "16"];
        a.extend_from_slice(extra);
        let r = run(&a);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let names = sources(&o).into_iter().map(|(_, _, s)| s).collect();
        let bytes = npy_files(&o)
            .iter()
            .map(|f| std::fs::read(f).unwrap())
            .collect();
        (names, bytes)
    };
    let (sorted, _) = go("sorted", &[]);
    let mut resorted = sorted.clone();
    resorted.sort();
    assert_eq!(sorted, resorted);
    // --limit counts prepared images: the first 5 good ones in sorted order.
    let (lim, _) = go("limit", &["--limit", "5"]);
    assert_eq!(lim, sorted[..5]);
    let (a, abytes) = go("seed-a", &["--seed", "42", "--jobs", "1"]);
    let (b, bbytes) = go("seed-b", &["--seed", "42", "--jobs", "2"]);
    let (c, _) = go("seed-c", &["--seed", "43"]);
    assert_eq!(a, b);
    assert!(abytes == bbytes, "thread count changed the bytes");
    assert_ne!(a, sorted);
    assert_ne!(a, c);
    let mut s = a.clone();
    s.sort();
    assert_eq!(s, sorted);
    // Limit after the shuffle: a prefix of the shuffled order.
    let (la, _) = go("seed-limit", &["--seed", "42", "--limit", "4"]);
    assert_eq!(la, a[..4]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lists_globs_and_directories() {
    let dir = tmp("inputs");
    let sub = dir.join("imgs/deeper");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::create_dir_all(dir.join("imgs/.hidden")).unwrap();
    for (from, to) in [
        ("rgb8.png", "imgs/a.png"),
        ("baseline.jpg", "imgs/b.JPG"),
        ("grey8.png", "imgs/deeper/c.png"),
        ("grey8.png", "imgs/.hidden/d.png"),
        ("notimage.jpg", "imgs/readme.md"),
    ] {
        std::fs::copy(Path::new(FIX).join(from), dir.join(to)).unwrap();
    }
    let count = |args: &[&str]| -> usize {
        let o = dir.join("out");
        let _ = std::fs::remove_dir_all(&o);
        let mut a = vec!["prepare", "-q", "-o", ps(&o), "--imgsz", "8", "--json"];
        a.extend_from_slice(args);
        let r = run(&a);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        v["prepared"].as_u64().unwrap() as usize
    };
    let imgs = dir.join("imgs");
    // Recursive, by extension (any case), hidden folders skipped.
    assert_eq!(count(&[ps(&imgs)]), 3);
    let g1 = format!("{}/*.png", imgs.display());
    assert_eq!(count(&[&g1]), 1);
    let g2 = format!("{}/**/*.png", imgs.display());
    assert_eq!(count(&[&g2]), 2);
    let g3 = format!("{}/?.*", imgs.display());
    assert_eq!(count(&[&g3]), 2);
    // Lists: relative to the list's folder, comments and blanks ignored.
    std::fs::write(
        dir.join("list.txt"),
        "# calib\nimgs/a.png\n\nimgs/deeper/c.png\n",
    )
    .unwrap();
    assert_eq!(count(&[ps(&dir.join("list.txt"))]), 2);
    std::fs::write(dir.join("list.any"), "imgs/b.JPG\n").unwrap();
    let at = format!("@{}", dir.join("list.any").display());
    assert_eq!(count(&[&at]), 1);
    // The same file through two inputs counts once.
    assert_eq!(count(&[ps(&imgs), &g1]), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_and_input_errors_exit_2() {
    let dir = tmp("errors");
    let o = dir.join("out");
    let img = FIX.to_string() + "/rgb8.png";
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let nomatch = format!("{}/*.png", empty.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["prepare", &img, "--imgsz", "640"], "-o OUT_DIR"),
        (vec!["prepare", &img, "-o", ps(&o)], "--imgsz"),
        (
            vec!["prepare", &img, "-o", ps(&o), "--imgsz", "0"],
            "bad --imgsz",
        ),
        (
            vec!["prepare", "-o", ps(&o), "--imgsz", "64"],
            "at least one image",
        ),
        (
            vec!["prepare", "/no/such.png", "-o", ps(&o), "--imgsz", "64"],
            "/no/such.png",
        ),
        (
            vec!["prepare", ps(&empty), "-o", ps(&o), "--imgsz", "64"],
            "holds no image files",
        ),
        (
            vec!["prepare", &nomatch, "-o", ps(&o), "--imgsz", "64"],
            "matches no image files",
        ),
        (
            vec![
                "prepare",
                &img,
                "-o",
                ps(&o),
                "--imgsz",
                "64",
                "--dtype",
                "f64",
            ],
            "bad --dtype",
        ),
        (
            vec![
                "prepare",
                &img,
                "-o",
                ps(&o),
                "--imgsz",
                "64",
                "--layout",
                "chw",
            ],
            "bad --layout",
        ),
        (
            vec![
                "prepare",
                &img,
                "-o",
                ps(&o),
                "--imgsz",
                "64",
                "--per-batch",
                "0",
            ],
            "--per-batch",
        ),
        (
            vec![
                "prepare",
                &img,
                "-o",
                ps(&o),
                "--imgsz",
                "64",
                "--limit",
                "0",
            ],
            "--limit",
        ),
        (
            vec![
                "prepare",
                &img,
                "-o",
                ps(&o),
                "--imgsz",
                "64",
                "--pad",
                "300",
            ],
            "pad",
        ),
    ];
    for (args, want) in cases {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }
    // Only bad images: exit 2, nothing written.
    let bad = FIX.to_string() + "/corrupt.jpg";
    let r = run(&["prepare", "-q", &bad, "-o", ps(&o), "--imgsz", "64"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("none of the 1 input(s) could be prepared"),
        "{}",
        r.stderr
    );
    assert!(
        !o.exists(),
        "the output folder this run created is removed again"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inspect_data_sees_zero_to_one_samples() {
    let out = tmp("inspect");
    let r = run(&["prepare", "-q", FIX, "-o", ps(&out), "--imgsz", "48"]);
    assert_eq!(r.code, 0);
    let r = run(&["inspect-data", "--json", ps(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let s = &v["sources"][0];
    assert_eq!(s["samples"], 12);
    assert_eq!(s["shape"], serde_json::json!([3, 48, 48]));
    assert_eq!(s["dtype"], "float32");
    assert!(s["min"].as_f64().unwrap() >= 0.0);
    assert!(s["max"].as_f64().unwrap() <= 1.0);
    assert!(s["max"].as_f64().unwrap() > 0.9);
    assert_eq!(s["nan"], 0);
    assert!(s["warnings"].as_array().unwrap().is_empty(), "{s}");
    std::fs::remove_dir_all(&out).unwrap();
}
