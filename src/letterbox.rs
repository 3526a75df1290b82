//! Ultralytics-style letterbox and the conversion of the result into an input tensor.
//!
//! Matches `ultralytics.data.augment.LetterBox(new_shape, auto=False, scaleup=True,
//! center=True)` followed by the predictor's `[..., ::-1].transpose(...) / 255`:
//! 1. `r = min(out_h / h, out_w / w)` (with `scaleup=False`, also at most 1);
//! 2. the resized size is `round(w * r) x round(h * r)` with Python's `round` (ties to even);
//! 3. padding `d = (out - new) / 2` per axis: `top = round(dh - 0.1)`, `bottom = round(dh + 0.1)`,
//!    likewise left/right (so an odd leftover goes to the bottom/right);
//! 4. bilinear resize with `cv2.INTER_LINEAR` sampling: pixel centres at `+0.5`,
//!    `src = (dst + 0.5) * (in / out) - 0.5`, two taps per axis, edges clamped, no
//!    anti-aliasing; 8-bit results, as OpenCV gives for 8-bit images;
//! 5. constant padding (114 by default);
//! 6. channel order, scaling by 1/255 (a division, as torch does), layout and dtype.
//!
//! The resize repeats OpenCV's fixed-point arithmetic for 8-bit images, so most pixels are
//! bit-identical to `cv2.resize`; exact rounding differs by at most one grey level (tests
//! check against an f64 reference and, where OpenCV is installed, against cv2 itself).

use crate::image::Rgb8;
use crate::npy::{f32_to_f16, DType};

/// Where the resized image goes inside the output canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    pub src_w: usize,
    pub src_h: usize,
    /// The scale factor `r`.
    pub ratio: f64,
    pub new_w: usize,
    pub new_h: usize,
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
    pub out_w: usize,
    pub out_h: usize,
}

/// Python 3's `round(x)` for a float: nearest integer, ties to even.
fn py_round(x: f64) -> i64 {
    x.round_ties_even() as i64
}

/// The letterbox geometry for a `src_w x src_h` image in an `out_w x out_h` canvas.
/// `scaleup = false` never enlarges (Ultralytics' `scaleup=False`). A side that would round
/// to 0 pixels (an image thousands of times wider than high) is kept at 1 pixel, where
/// Ultralytics would fail inside cv2.resize.
pub fn geometry(src_w: usize, src_h: usize, out_w: usize, out_h: usize, scaleup: bool) -> Geometry {
    let mut r = (out_h as f64 / src_h as f64).min(out_w as f64 / src_w as f64);
    if !scaleup {
        r = r.min(1.0);
    }
    let fit = |src: usize, out: usize| (py_round(src as f64 * r).max(1) as usize).min(out);
    let (new_w, new_h) = (fit(src_w, out_w), fit(src_h, out_h));
    let split = |out: usize, new: usize| {
        let d = (out - new) as f64 / 2.0;
        (py_round(d - 0.1) as usize, py_round(d + 0.1) as usize)
    };
    let (top, bottom) = split(out_h, new_h);
    let (left, right) = split(out_w, new_w);
    Geometry {
        src_w,
        src_h,
        ratio: r,
        new_w,
        new_h,
        top,
        bottom,
        left,
        right,
        out_w,
        out_h,
    }
}

/// Fixed-point weights as OpenCV's 8-bit linear resize keeps them (`INTER_RESIZE_COEF_BITS`).
const COEF_SCALE: f32 = 2048.0;

/// One output coordinate along one axis: the two source taps and their fixed-point weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tap {
    s0: usize,
    s1: usize,
    w0: i32,
    w1: i32,
}

/// `cv2.INTER_LINEAR`'s mapping: `f = (d + 0.5) * (src / dst) - 0.5` (in f32, as OpenCV),
/// taps `floor(f)` and the next, weights `1 - frac` and `frac` rounded to 1/2048; before the
/// first pixel and from the last one on, the edge pixel alone.
fn taps(src: usize, dst: usize) -> Vec<Tap> {
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let fl = f.floor();
            let (s0, frac) = if fl < 0.0 {
                (0, 0.0f32)
            } else if fl as usize >= src - 1 {
                (src - 1, 0.0)
            } else {
                (fl as usize, f - fl)
            };
            Tap {
                s0,
                s1: (s0 + 1).min(src - 1),
                w0: ((1.0 - frac) * COEF_SCALE).round_ties_even() as i32,
                w1: (frac * COEF_SCALE).round_ties_even() as i32,
            }
        })
        .collect()
}

/// Bilinear resize of an RGB image to `new_w x new_h`, written into `canvas` (row stride
/// `canvas_w * 3`) at (`left`, `top`). Integer arithmetic in OpenCV's order (horizontal sums
/// at 2^11, vertical products shifted as its SIMD-matching scalar code does), so results are
/// mostly bit-identical to `cv2.resize`; an exact halving takes OpenCV's INTER_AREA shortcut
/// (rounded mean of each 2x2 block), as `cv2.resize` does for INTER_LINEAR.
fn resize_into(
    img: &Rgb8,
    new_w: usize,
    new_h: usize,
    canvas: &mut [u8],
    canvas_w: usize,
    left: usize,
    top: usize,
) {
    let stride = canvas_w * 3;
    let src_stride = img.width * 3;
    if img.width == new_w && img.height == new_h {
        for (y, row) in img.data.chunks_exact(src_stride).enumerate() {
            let o = (top + y) * stride + left * 3;
            canvas[o..o + new_w * 3].copy_from_slice(row);
        }
        return;
    }
    if img.width == 2 * new_w && img.height == 2 * new_h {
        for y in 0..new_h {
            let (r0, r1) = (
                &img.data[2 * y * src_stride..][..src_stride],
                &img.data[(2 * y + 1) * src_stride..][..src_stride],
            );
            let o = (top + y) * stride + left * 3;
            let out = &mut canvas[o..o + new_w * 3];
            for x in 0..new_w {
                for c in 0..3 {
                    let (i, j) = (6 * x + c, 6 * x + 3 + c);
                    let sum = r0[i] as u32 + r0[j] as u32 + r1[i] as u32 + r1[j] as u32;
                    out[3 * x + c] = ((sum + 2) >> 2) as u8;
                }
            }
        }
        return;
    }
    let xt = taps(img.width, new_w);
    let yt = taps(img.height, new_h);
    let horiz = |y: usize, out: &mut Vec<i32>| {
        let s = &img.data[y * src_stride..(y + 1) * src_stride];
        out.clear();
        for t in &xt {
            let (a, b) = (&s[t.s0 * 3..t.s0 * 3 + 3], &s[t.s1 * 3..t.s1 * 3 + 3]);
            for c in 0..3 {
                out.push(a[c] as i32 * t.w0 + b[c] as i32 * t.w1);
            }
        }
    };
    // Two cached horizontally-resized source rows; consecutive output rows mostly reuse them.
    let mut rows: [(usize, Vec<i32>); 2] = [
        (usize::MAX, Vec::with_capacity(new_w * 3)),
        (usize::MAX, Vec::with_capacity(new_w * 3)),
    ];
    for (y, t) in yt.iter().enumerate() {
        if rows[0].0 != t.s0 {
            if rows[1].0 == t.s0 {
                rows.swap(0, 1);
            } else {
                horiz(t.s0, &mut rows[0].1);
                rows[0].0 = t.s0;
            }
        }
        if rows[1].0 != t.s1 && t.s1 != t.s0 {
            horiz(t.s1, &mut rows[1].1);
            rows[1].0 = t.s1;
        }
        // At the bottom edge both taps are the same row (the second has weight 0).
        let second = if t.s1 == t.s0 { 0 } else { 1 };
        let o = (top + y) * stride + left * 3;
        let out = &mut canvas[o..o + new_w * 3];
        for ((d, &a), &b) in out.iter_mut().zip(&rows[0].1).zip(&rows[second].1) {
            let v = (((t.w0 * (a >> 4)) >> 16) + ((t.w1 * (b >> 4)) >> 16) + 2) >> 2;
            *d = v.clamp(0, 255) as u8;
        }
    }
}

/// The letterboxed 8-bit RGB canvas (`out_w x out_h`) of `img`.
pub fn letterbox(
    img: &Rgb8,
    out_w: usize,
    out_h: usize,
    scaleup: bool,
    pad: u8,
) -> (Rgb8, Geometry) {
    let g = geometry(img.width, img.height, out_w, out_h, scaleup);
    let mut data = vec![pad; out_w * out_h * 3];
    resize_into(img, g.new_w, g.new_h, &mut data, out_w, g.left, g.top);
    (
        Rgb8 {
            width: out_w,
            height: out_h,
            data,
        },
        g,
    )
}

/// Memory order of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// (3, H, W): what Ultralytics-exported ONNX models take.
    Nchw,
    /// (H, W, 3).
    Nhwc,
}

/// How the canvas becomes numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorOptions {
    pub layout: Layout,
    /// Channel order B, G, R (as `cv2.imread` gives) instead of R, G, B.
    pub bgr: bool,
    /// Divide by 255 (values 0..=1); otherwise 0..=255.
    pub normalise: bool,
    /// F32 or F16.
    pub dtype: DType,
}

impl TensorOptions {
    /// Shape of one sample without the batch dimension.
    pub fn sample_shape(&self, w: usize, h: usize) -> [usize; 3] {
        match self.layout {
            Layout::Nchw => [3, h, w],
            Layout::Nhwc => [h, w, 3],
        }
    }
}

/// Appends the canvas as little-endian `opts.dtype` values to `out`.
pub fn append_tensor(canvas: &Rgb8, opts: &TensorOptions, out: &mut Vec<u8>) {
    // One table entry per 8-bit value: the exact bytes every pixel of that value becomes.
    let mut table = [[0u8; 4]; 256];
    for (v, t) in table.iter_mut().enumerate() {
        let x = if opts.normalise {
            v as f32 / 255.0
        } else {
            v as f32
        };
        match opts.dtype {
            DType::F16 => t[..2].copy_from_slice(&f32_to_f16(x).to_le_bytes()),
            _ => *t = x.to_le_bytes(),
        }
    }
    let size = if opts.dtype == DType::F16 { 2 } else { 4 };
    let order: [usize; 3] = if opts.bgr { [2, 1, 0] } else { [0, 1, 2] };
    out.reserve(canvas.data.len() * size);
    match opts.layout {
        Layout::Nchw => {
            for c in order {
                for p in canvas.data.chunks_exact(3) {
                    out.extend_from_slice(&table[p[c] as usize][..size]);
                }
            }
        }
        Layout::Nhwc => {
            for p in canvas.data.chunks_exact(3) {
                for c in order {
                    out.extend_from_slice(&table[p[c] as usize][..size]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_matches_ultralytics_cases() {
        // 1920x1080 -> 640: r = 1/3, 640x360, 140 above and below.
        let g = geometry(1920, 1080, 640, 640, true);
        assert_eq!(
            (g.new_w, g.new_h, g.top, g.bottom, g.left, g.right),
            (640, 360, 140, 140, 0, 0)
        );
        // Odd leftover: 640 - 427 = 213 -> 106 left, 107 right.
        let g = geometry(427, 640, 640, 640, true);
        assert_eq!((g.new_w, g.left, g.right), (427, 106, 107));
        // Upscaling by default; not with scaleup = false.
        let g = geometry(320, 240, 640, 640, true);
        assert_eq!((g.new_w, g.new_h, g.top, g.bottom), (640, 480, 80, 80));
        let g = geometry(320, 240, 640, 640, false);
        assert_eq!((g.new_w, g.new_h, g.top, g.left), (320, 240, 200, 160));
        // Python rounds half to even: 3 * 640/1280 = 1.5 -> 2, 5 * 0.5 = 2.5 -> 2.
        assert_eq!(geometry(3, 1280, 640, 640, true).new_w, 2);
        assert_eq!(geometry(5, 1280, 640, 640, true).new_w, 2);
        // Never 0 pixels.
        assert_eq!(geometry(1, 5000, 640, 640, true).new_w, 1);
        for (w, h) in [(1, 1), (7, 3), (641, 639), (1000, 1), (33, 4000)] {
            let g = geometry(w, h, 640, 480, true);
            assert_eq!(g.left + g.new_w + g.right, 640);
            assert_eq!(g.top + g.new_h + g.bottom, 480);
        }
    }

    #[test]
    fn taps_follow_half_pixel_centres() {
        let t = |s0, s1, w0, w1| Tap { s0, s1, w0, w1 };
        // Downscale by 3/2: output 0 at source 0.25.
        assert_eq!(taps(3, 2), vec![t(0, 1, 1536, 512), t(1, 2, 512, 1536)]);
        // Upscale by 2: output 0 maps to -0.25 and clamps to source 0; output 1 maps to
        // 0.25 (weights 3/4, 1/4), output 2 to 0.75, output 3 to 1.25 and clamps to source 1.
        assert_eq!(
            taps(2, 4),
            vec![
                t(0, 1, 2048, 0),
                t(0, 1, 1536, 512),
                t(0, 1, 512, 1536),
                t(1, 1, 2048, 0)
            ]
        );
    }

    #[test]
    fn identity_and_constant_images() {
        let img = Rgb8 {
            width: 4,
            height: 2,
            data: (0..24).map(|i| i as u8 * 10).collect(),
        };
        let (c, g) = letterbox(&img, 4, 4, true, 114);
        assert_eq!((g.new_w, g.new_h, g.top), (4, 2, 1));
        assert_eq!(&c.data[12..36], &img.data[..]);
        assert!(c.data[..12].iter().chain(&c.data[36..]).all(|&v| v == 114));
        let flat = Rgb8 {
            width: 37,
            height: 23,
            data: vec![200; 37 * 23 * 3],
        };
        let (c, g) = letterbox(&flat, 16, 16, true, 0);
        let inner = (g.top..g.top + g.new_h)
            .flat_map(|y| (g.left..g.left + g.new_w).map(move |x| (y, x)))
            .all(|(y, x)| c.data[(y * 16 + x) * 3..][..3] == [200, 200, 200]);
        assert!(inner);
    }

    #[test]
    fn tensor_orders_and_scales() {
        let canvas = Rgb8 {
            width: 2,
            height: 1,
            data: vec![255, 0, 51, 0, 102, 255],
        };
        let f = |opts: TensorOptions| {
            let mut out = Vec::new();
            append_tensor(&canvas, &opts, &mut out);
            out.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<_>>()
        };
        let base = TensorOptions {
            layout: Layout::Nchw,
            bgr: false,
            normalise: true,
            dtype: DType::F32,
        };
        assert_eq!(f(base), vec![1.0, 0.0, 0.0, 0.4, 0.2, 1.0]);
        assert_eq!(
            f(TensorOptions { bgr: true, ..base }),
            vec![0.2, 1.0, 0.0, 0.4, 1.0, 0.0]
        );
        assert_eq!(
            f(TensorOptions {
                layout: Layout::Nhwc,
                normalise: false,
                ..base
            }),
            vec![255.0, 0.0, 51.0, 0.0, 102.0, 255.0]
        );
        let mut half = Vec::new();
        append_tensor(
            &canvas,
            &TensorOptions {
                dtype: DType::F16,
                ..base
            },
            &mut half,
        );
        assert_eq!(half.len(), 12);
        assert_eq!(u16::from_le_bytes([half[0], half[1]]), 0x3c00);
    }
}
