//! `trtq-lite prepare`: JPEG/PNG images to letterboxed .npy calibration samples (see
//! [`crate::prepare`] for the order, limit and atomicity rules).

use std::path::PathBuf;

use argh::FromArgs;

use crate::error::{Error, Result};
use crate::letterbox::{Layout, TensorOptions};
use crate::npy::DType;
use crate::prepare::{collect_inputs, run as prepare_run, Options};

/// turn JPEG/PNG images into letterboxed .npy calibration data (Ultralytics preprocessing)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "prepare")]
pub struct Args {
    /// images: files, directories (searched recursively for .jpg/.jpeg/.png), @LIST or
    /// LIST.txt files (one path per line), or quoted globs ('imgs/*.jpg', 'data/**/*.png')
    #[argh(positional)]
    pub images: Vec<String>,

    /// output folder (created if missing)
    #[argh(option, short = 'o')]
    pub out: Option<PathBuf>,

    /// model input size: 640 (square) or HxW such as 384x640
    #[argh(option)]
    pub imgsz: Option<String>,

    /// samples per .npy file (default 1: files of shape (1,3,H,W)); with B > 1 the last
    /// file holds the remainder
    #[argh(option, default = "1")]
    pub per_batch: usize,

    /// use at most N images (counting only images that decoded)
    #[argh(option)]
    pub limit: Option<usize>,

    /// shuffle the sorted inputs with this seed before --limit (default: sorted order)
    #[argh(option)]
    pub seed: Option<u64>,

    /// memory layout of a sample: nchw (default) or nhwc
    #[argh(option, default = "String::from(\"nchw\")")]
    pub layout: String,

    /// keep OpenCV's BGR channel order (default: RGB, as Ultralytics feeds its models)
    #[argh(switch)]
    pub bgr: bool,

    /// padding grey level 0-255 (default 114)
    #[argh(option, default = "114")]
    pub pad: u8,

    /// keep values 0-255 instead of dividing by 255
    #[argh(switch)]
    pub no_normalise: bool,

    /// never enlarge images smaller than the input size (Ultralytics scaleup=False)
    #[argh(switch)]
    pub no_upscale: bool,

    /// element type: f32 (default) or f16
    #[argh(option, default = "String::from(\"f32\")")]
    pub dtype: String,

    /// stop with exit code 2 at the first image that cannot be read or decoded (nothing is
    /// written); default: list it and go on
    #[argh(switch)]
    pub strict: bool,

    /// replace .npy files already in the output folder (others not rewritten are removed)
    #[argh(switch)]
    pub force: bool,

    /// worker threads (default: all cores)
    #[argh(option)]
    pub jobs: Option<usize>,

    /// no progress line or per-image messages on stderr
    #[argh(switch, short = 'q')]
    pub quiet: bool,

    /// print the summary as JSON
    #[argh(switch)]
    pub json: bool,
}

/// `640` -> (640, 640); `384x640` -> width 640, height 384.
pub fn parse_imgsz(s: &str) -> std::result::Result<(usize, usize), String> {
    let bad = || format!("bad --imgsz '{s}': expected a size such as 640 or HxW such as 384x640");
    let dims: Vec<usize> = s
        .split(['x', 'X', ','])
        .map(|d| {
            d.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| (1..=16384).contains(&n))
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    match dims[..] {
        [n] => Ok((n, n)),
        [h, w] => Ok((w, h)),
        _ => Err(bad()),
    }
}

/// The run's options from the arguments; every usage error names the flag.
pub fn options(args: &Args) -> Result<Options> {
    let usage = |m: String| Error::Usage(m);
    let out_dir = args
        .out
        .clone()
        .ok_or_else(|| usage("prepare needs -o OUT_DIR".into()))?;
    let (width, height) =
        parse_imgsz(args.imgsz.as_deref().ok_or_else(|| {
            usage("prepare needs --imgsz (the model's input size, e.g. 640)".into())
        })?)
        .map_err(usage)?;
    if args.per_batch == 0 {
        return Err(usage("--per-batch must be at least 1".into()));
    }
    if args.limit == Some(0) {
        return Err(usage("--limit must be at least 1".into()));
    }
    let layout = match args.layout.to_ascii_lowercase().as_str() {
        "nchw" => Layout::Nchw,
        "nhwc" => Layout::Nhwc,
        other => {
            return Err(usage(format!(
                "bad --layout '{other}': expected nchw or nhwc"
            )))
        }
    };
    let dtype = match args.dtype.to_ascii_lowercase().as_str() {
        "f32" | "float32" => DType::F32,
        "f16" | "float16" => DType::F16,
        other => return Err(usage(format!("bad --dtype '{other}': expected f32 or f16"))),
    };
    let jobs = match args.jobs {
        Some(0) => return Err(usage("--jobs must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    Ok(Options {
        out_dir,
        width,
        height,
        per_batch: args.per_batch,
        limit: args.limit,
        seed: args.seed,
        scaleup: !args.no_upscale,
        pad: args.pad,
        tensor: TensorOptions {
            layout,
            bgr: args.bgr,
            normalise: !args.no_normalise,
            dtype,
        },
        strict: args.strict,
        force: args.force,
        jobs,
        progress: !args.quiet,
    })
}

pub fn run(args: Args) -> Result<()> {
    if args.images.is_empty() {
        return Err(Error::Usage(
            "prepare needs at least one image, directory, list or glob".into(),
        ));
    }
    let opts = options(&args)?;
    let inputs = collect_inputs(&args.images)?;
    let summary = prepare_run(inputs, &opts)?;
    if args.json {
        print!("{}", summary.json(&opts).pretty());
    } else {
        print!("{}", summary.text(&opts));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imgsz() {
        assert_eq!(parse_imgsz("640"), Ok((640, 640)));
        assert_eq!(parse_imgsz("384x640"), Ok((640, 384)));
        for bad in ["", "0", "x", "640x", "1x2x3", "-5", "99999"] {
            assert!(parse_imgsz(bad).is_err(), "{bad}");
        }
    }
}
