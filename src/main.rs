//! `trtq-lite` binary: parse arguments (before any GPU or TensorRT resource is touched), then
//! hand over to the library. Usage errors exit 2, as documented in README.

use std::io::Write;

use argh::FromArgs;
use trtq_lite::cli::TopLevel;
use trtq_lite::error::exit;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cmd = std::path::Path::new(&args[0])
        .file_name()
        .map_or("trtq-lite".into(), |n| n.to_string_lossy().into_owned());
    let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let top = match TopLevel::from_args(&[&cmd], &rest) {
        Ok(top) => top,
        Err(early) => {
            // argh's `EarlyExit`: `--help` text on success, a usage error otherwise.
            if early.status.is_ok() {
                print!("{}", early.output);
                std::process::exit(exit::OK);
            }
            // Not eprint!: it panics when stderr is gone, and the exit code must survive.
            let _ = write!(std::io::stderr(), "{}", early.output);
            std::process::exit(exit::BAD_INPUT);
        }
    };
    match trtq_lite::cli::run(top) {
        Ok(()) => std::process::exit(exit::OK),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}", e.chain());
            std::process::exit(e.exit_code());
        }
    }
}
