//! `trtq-lite inspect-cache`: decode, compare and retarget TensorRT calibration caches.
//! (Foundation placeholder: issue 2 implements it.)

use argh::FromArgs;

use crate::error::Result;

/// decode a TensorRT calibration cache
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "inspect-cache")]
pub struct Args {
    /// the calibration cache file
    #[argh(positional)]
    pub file: std::path::PathBuf,
}

pub fn run(_args: Args) -> Result<()> {
    unimplemented!("issue 2")
}
