//! In-process timing of the cache parser and writer, for bench/cache_bench.sh (which also times
//! the whole `inspect-cache` process). Usage: cache_bench FILE [ITERATIONS]
//! Prints one line per step: min and median wall time over the iterations.

use std::time::{Duration, Instant};

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(v[0]), us(v[v.len() / 2]))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: cache_bench FILE [ITERATIONS]");
        std::process::exit(2);
    };
    let iters: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
        .max(1);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let mut parse_t = Vec::with_capacity(iters);
    let mut write_t = Vec::with_capacity(iters);
    let mut entries = 0;
    for _ in 0..iters {
        let t = Instant::now();
        let c = match trtq_lite::cache::parse(std::hint::black_box(&bytes)) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2);
            }
        };
        parse_t.push(t.elapsed());
        let t = Instant::now();
        let out = c.to_bytes();
        write_t.push(t.elapsed());
        entries = c.entries.len();
        std::hint::black_box(out);
    }
    let (pmin, pmed) = stats(parse_t);
    let (wmin, wmed) = stats(write_t);
    println!(
        "in-process, {entries} entries, {} bytes, {iters} iterations",
        bytes.len()
    );
    println!("| step | min (µs) | median (µs) |");
    println!("|---|---:|---:|");
    println!("| cache::parse | {pmin:.0} | {pmed:.0} |");
    println!("| Cache::to_bytes | {wmin:.0} | {wmed:.0} |");
}
