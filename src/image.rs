//! Image decoding for `prepare`: JPEG (baseline and progressive, via zune-jpeg) and PNG (every
//! bit depth and colour type, via png) into 8-bit interleaved RGB, the way OpenCV's
//! `cv2.imread(path, IMREAD_COLOR)` delivers images to Ultralytics (there in BGR order):
//! - grey is replicated into three channels, palettes are expanded;
//! - alpha is dropped, not composited (IMREAD_COLOR strips it);
//! - 16-bit samples keep their high byte (libpng's `png_set_strip_16`, as OpenCV does);
//! - the EXIF orientation tag (JPEG APP1, PNG eXIf) is applied, as `imread` does by default.
//!
//! The format is told by the file's magic bytes, not its name. Every failure is a message
//! (`Err(String)`), never a panic: callers list the file and skip it.

use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// Largest width or height accepted (a decoded 16384² RGB image is 768 MiB; larger ones are
/// more likely corrupt headers than calibration photos).
pub const MAX_SIDE: usize = 16384;

/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb8 {
    pub width: usize,
    pub height: usize,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

/// What the magic bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else {
            None
        }
    }
}

/// Decodes a JPEG or PNG held in memory and applies its EXIF orientation.
pub fn decode(bytes: &[u8]) -> Result<Rgb8, String> {
    let (img, exif) = match Format::sniff(bytes) {
        Some(Format::Jpeg) => decode_jpeg(bytes)?,
        Some(Format::Png) => decode_png(bytes)?,
        None => {
            return Err(if bytes.is_empty() {
                "empty file".into()
            } else {
                "not a JPEG or PNG file (unknown magic bytes)".into()
            })
        }
    };
    let orientation = exif.as_deref().and_then(exif_orientation).unwrap_or(1);
    Ok(orient(img, orientation))
}

fn check_size(width: usize, height: usize) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("image has no pixels ({width}x{height})"));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "image is {width}x{height}; sides above {MAX_SIDE} are refused"
        ));
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8]) -> Result<(Rgb8, Option<Vec<u8>>), String> {
    let opts = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(MAX_SIDE)
        .set_max_height(MAX_SIDE);
    let mut dec = JpegDecoder::new_with_options(ZCursor::new(bytes), opts);
    dec.decode_headers()
        .map_err(|e| format!("bad JPEG header: {}", jpeg_error(&e)))?;
    let (width, height) = dec.dimensions().ok_or("bad JPEG header: no dimensions")?;
    check_size(width, height)?;
    let exif = dec.exif().cloned();
    let data = dec
        .decode()
        .map_err(|e| format!("bad JPEG data: {}", jpeg_error(&e)))?;
    if data.len() != width * height * 3 {
        return Err(format!(
            "JPEG decoder returned {} bytes for {width}x{height} RGB",
            data.len()
        ));
    }
    Ok((
        Rgb8 {
            width,
            height,
            data,
        },
        exif,
    ))
}

/// zune-jpeg's Display is its Debug text; say the common cases in plain words.
fn jpeg_error(e: &zune_jpeg::errors::DecodeErrors) -> String {
    use zune_jpeg::errors::DecodeErrors as E;
    match e {
        E::IoErrors(_) | E::ExhaustedData => "the data ends early (truncated or corrupt)".into(),
        E::Format(s) => s.clone(),
        E::FormatStatic(s) => (*s).into(),
        other => other.to_string(),
    }
}

fn decode_png(bytes: &[u8]) -> Result<(Rgb8, Option<Vec<u8>>), String> {
    let mut dec = png::Decoder::new_with_limits(
        std::io::Cursor::new(bytes),
        // The default 64 MiB refuses ordinary 16-bit photos; MAX_SIDE bounds the image anyway.
        png::Limits { bytes: 1 << 31 },
    );
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().map_err(|e| format!("bad PNG: {e}"))?;
    let (width, height) = {
        let info = reader.info();
        (info.width as usize, info.height as usize)
    };
    check_size(width, height)?;
    let (color, depth) = reader.output_color_type();
    if depth != png::BitDepth::Eight {
        return Err(format!("PNG decoder left {depth:?}-bit samples"));
    }
    let channels = match color {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("PNG palette was not expanded".into()),
    };
    let size = reader
        .output_buffer_size()
        .ok_or("PNG is too large for this machine's address space")?;
    let mut buf = vec![0u8; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("bad PNG data: {e}"))?;
    let exif = reader.info().exif_metadata.as_ref().map(|c| c.to_vec());
    let line = frame.line_size;
    if line < width * channels || buf.len() < line * height {
        return Err("PNG decoder returned a short frame".into());
    }
    let mut data = Vec::with_capacity(width * height * 3);
    for row in buf.chunks_exact(line).take(height) {
        let row = &row[..width * channels];
        match channels {
            3 => data.extend_from_slice(row),
            4 => row
                .chunks_exact(4)
                .for_each(|p| data.extend_from_slice(&p[..3])),
            _ => row
                .chunks_exact(channels)
                .for_each(|p| data.extend_from_slice(&[p[0], p[0], p[0]])),
        }
    }
    Ok((
        Rgb8 {
            width,
            height,
            data,
        },
        exif,
    ))
}

/// The orientation tag (0x0112) of IFD0 in an EXIF block (with or without the `Exif\0\0`
/// prefix). `None` when absent, malformed or outside 1..=8.
pub fn exif_orientation(exif: &[u8]) -> Option<u16> {
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let big = match tiff.get(..4)? {
        [b'I', b'I', 42, 0] => false,
        [b'M', b'M', 0, 42] => true,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u16> {
        let b = tiff.get(o..o.checked_add(2)?)?;
        Some(if big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    };
    let u32_at = |o: usize| -> Option<u32> {
        let b = tiff.get(o..o.checked_add(4)?)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    for i in 0..count {
        let e = ifd.checked_add(2 + i * 12)?;
        if u16_at(e)? == 0x0112 {
            // Type 3 = SHORT; the value sits in the first two bytes of the value field.
            if u16_at(e + 2)? != 3 {
                return None;
            }
            let v = u16_at(e + 8)?;
            return (1..=8).contains(&v).then_some(v);
        }
    }
    None
}

/// Applies an EXIF orientation (1..=8) so the result is upright as a viewer shows it.
pub fn orient(img: Rgb8, orientation: u16) -> Rgb8 {
    if !(2..=8).contains(&orientation) {
        return img;
    }
    let (w, h) = (img.width, img.height);
    let transposed = orientation >= 5;
    let (ow, oh) = if transposed { (h, w) } else { (w, h) };
    let mut data = vec![0u8; img.data.len()];
    for y in 0..oh {
        for x in 0..ow {
            // (sx, sy): the stored pixel shown at (x, y).
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x), // 8
            };
            let s = (sy * w + sx) * 3;
            let d = (y * ow + x) * 3;
            data[d..d + 3].copy_from_slice(&img.data[s..s + 3]);
        }
    }
    Rgb8 {
        width: ow,
        height: oh,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiff(big: bool, tag: u16, typ: u16, val: u16) -> Vec<u8> {
        let mut v = Vec::new();
        let p16 = |v: &mut Vec<u8>, x: u16| {
            v.extend(if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        v.extend(if big { b"MM\0*" } else { b"II*\0" });
        v.extend(if big {
            8u32.to_be_bytes()
        } else {
            8u32.to_le_bytes()
        });
        p16(&mut v, 1);
        p16(&mut v, tag);
        p16(&mut v, typ);
        v.extend(if big {
            1u32.to_be_bytes()
        } else {
            1u32.to_le_bytes()
        });
        p16(&mut v, val);
        v.extend([0, 0]);
        v
    }

    #[test]
    fn reads_orientation_both_byte_orders() {
        assert_eq!(exif_orientation(&tiff(false, 0x0112, 3, 6)), Some(6));
        assert_eq!(exif_orientation(&tiff(true, 0x0112, 3, 8)), Some(8));
        let mut with_prefix = b"Exif\0\0".to_vec();
        with_prefix.extend(tiff(false, 0x0112, 3, 3));
        assert_eq!(exif_orientation(&with_prefix), Some(3));
        assert_eq!(exif_orientation(&tiff(false, 0x0110, 3, 6)), None);
        assert_eq!(exif_orientation(&tiff(false, 0x0112, 3, 9)), None);
        assert_eq!(exif_orientation(&tiff(false, 0x0112, 4, 6)), None);
    }

    #[test]
    fn exif_parser_never_panics() {
        let t = tiff(false, 0x0112, 3, 6);
        for n in 0..t.len() {
            let _ = exif_orientation(&t[..n]);
        }
        for i in 0..t.len() {
            for x in [0u8, 0xff, 0x7f] {
                let mut m = t.clone();
                m[i] = x;
                let _ = exif_orientation(&m);
            }
        }
    }

    fn numbered(w: usize, h: usize) -> Rgb8 {
        let data = (0..w * h).flat_map(|i| [i as u8, 0, 0]).collect();
        Rgb8 {
            width: w,
            height: h,
            data,
        }
    }

    fn px(img: &Rgb8, x: usize, y: usize) -> u8 {
        img.data[(y * img.width + x) * 3]
    }

    #[test]
    fn orientations_map_corners() {
        // 3 wide, 2 high: stored
        //   0 1 2
        //   3 4 5
        let img = numbered(3, 2);
        let rows = |o| {
            let r = orient(img.clone(), o);
            (0..r.height)
                .map(|y| (0..r.width).map(|x| px(&r, x, y)).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(1), [[0, 1, 2], [3, 4, 5]]);
        assert_eq!(rows(2), [[2, 1, 0], [5, 4, 3]]);
        assert_eq!(rows(3), [[5, 4, 3], [2, 1, 0]]);
        assert_eq!(rows(4), [[3, 4, 5], [0, 1, 2]]);
        assert_eq!(rows(5), [[0, 3], [1, 4], [2, 5]]);
        // 6: rotate 90° clockwise.
        assert_eq!(rows(6), [[3, 0], [4, 1], [5, 2]]);
        assert_eq!(rows(7), [[5, 2], [4, 1], [3, 0]]);
        // 8: rotate 90° counter-clockwise.
        assert_eq!(rows(8), [[2, 5], [1, 4], [0, 3]]);
    }

    #[test]
    fn refuses_unknown_and_empty() {
        assert!(decode(b"").unwrap_err().contains("empty"));
        assert!(decode(b"hello world")
            .unwrap_err()
            .contains("not a JPEG or PNG"));
        assert!(decode(&[0xff, 0xd8, 0xff, 0xe0, 0, 2]).is_err());
        assert!(decode(b"\x89PNG\r\n\x1a\n\0\0").is_err());
    }
}
