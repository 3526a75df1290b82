//! Command-line interface: one argh struct per subcommand, each in its own file, and `run`,
//! which dispatches. Nothing here touches a GPU or TensorRT before arguments are parsed.

use argh::FromArgs;

use crate::error::Result;

pub mod bench_feed;
pub mod inspect_cache;
pub mod inspect_data;

/// trtq-lite: FP32 ONNX -> INT8 TensorRT engines by post-training calibration, no Python.
#[derive(FromArgs, Debug)]
pub struct TopLevel {
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    InspectCache(inspect_cache::Args),
    InspectData(inspect_data::Args),
    BenchFeed(bench_feed::Args),
}

pub fn run(top: TopLevel) -> Result<()> {
    if top.version {
        println!("trtq-lite {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    match top.command {
        None => Err(crate::Error::Usage(
            "no subcommand given; run `trtq-lite --help` for the list".into(),
        )),
        Some(Command::InspectCache(a)) => inspect_cache::run(a),
        Some(Command::InspectData(a)) => inspect_data::run(a),
        Some(Command::BenchFeed(a)) => bench_feed::run(a),
    }
}

/// Write a subcommand's output to stdout. A closed pipe (`trtq-lite … | head`) ends the output
/// quietly, as for other command-line tools (`print!` would panic); any other failure is an
/// error naming stdout.
pub fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(crate::Error::Io {
            op: "cannot write",
            path: "<stdout>".into(),
            source,
        }),
    }
}
