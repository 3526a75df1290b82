//! The properties the fuzz targets check, shared with the normal test suite
//! (`tests/fuzz_inputs.rs` includes this file with `#[path]`), which replays every committed
//! seed and former crash input through them. Each function panics when a property fails;
//! the code under test must never panic on its own.
#![allow(dead_code)]

use std::path::Path;

use trtq_lite::cache::{self, Algorithm, TrtVersion};
use trtq_lite::npy::{self, NpyFile, Values};

/// `npy::parse_header`: an accepted header is self-consistent (the facts the memory-mapped
/// reader relies on before casting).
pub fn npy_header(data: &[u8]) {
    let Ok(h) = npy::parse_header(data) else {
        return;
    };
    assert!(matches!(h.version, (1, 0) | (2, 0) | (3, 0)), "{h:?}");
    assert!(h.data_offset <= data.len(), "{h:?}");
    assert!(!h.shape.is_empty(), "{h:?}");
    assert_eq!(h.data_offset % h.dtype.size(), 0, "{h:?}");
    let len = h
        .shape
        .iter()
        .try_fold(h.dtype.size(), |a, &d| a.checked_mul(d));
    assert_eq!(len, Some(h.data_len), "{h:?}");
    // The dtype names itself back.
    assert_eq!(npy::DType::from_descr(h.dtype.descr()), Ok(h.dtype));
}

/// `npy::check_bytes` (what `NpyFile::open` runs on the map): what it accepts holds exactly
/// the promised data, and it agrees with `parse_header`.
pub fn npy_bytes(data: &[u8]) {
    let whole = npy::check_bytes(data);
    let header = npy::parse_header(data);
    match (&whole, &header) {
        (Ok(w), Ok(h)) => {
            assert_eq!(w, h);
            assert_eq!(w.data_offset + w.data_len, data.len(), "{w:?}");
        }
        // A header error is reported as is.
        (Err(we), Err(he)) => assert_eq!(we, he),
        (Err(we), Ok(h)) => {
            assert_ne!(h.data_offset + h.data_len, data.len(), "{h:?}: {we}");
            assert!(we.contains("bytes follow"), "{we}");
        }
        (Ok(w), Err(he)) => panic!("check_bytes accepted {w:?} but parse_header said {he}"),
    }
}

/// `NpyFile::open` on `data` written to `scratch`: mapped, validated and, when accepted,
/// read through the typed zero-copy view (the npy module's only `unsafe` casts). An accepted
/// file's view covers exactly its data; a refusal names the file and the same fact as
/// `check_bytes`.
pub fn npy_open(data: &[u8], scratch: &Path) {
    std::fs::write(scratch, data).expect("write the scratch file");
    let opened = NpyFile::open(scratch);
    let checked = npy::check_bytes(data);
    match opened {
        Ok(f) => {
            let h = checked.expect("open accepted what check_bytes refuses");
            assert_eq!(f.header(), &h);
            assert_eq!(f.bytes(), &data[h.data_offset..]);
            let n = h.data_len / h.dtype.size();
            // Touch every element through the typed view (ASan sees any out-of-bounds read).
            let (len, sum) = match f.values() {
                Values::F32(v) => (v.len(), v.iter().map(|x| x.to_bits() as u64).sum::<u64>()),
                Values::F16(v) => (v.len(), v.iter().map(|&x| x as u64).sum()),
                Values::F64(v) => (v.len(), v.iter().map(|x| x.to_bits() >> 32).sum()),
                Values::U8(v) => (v.len(), v.iter().map(|&x| x as u64).sum()),
                Values::I8(v) => (v.len(), v.iter().map(|&x| x as u8 as u64).sum()),
            };
            assert_eq!(len, n);
            std::hint::black_box(sum);
            f.evict(0, h.data_len);
        }
        Err(e) => {
            let msg = e.to_string();
            if data.is_empty() {
                assert!(msg.contains("empty"), "{msg}");
            } else if let Err(c) = &checked {
                assert!(msg.contains(c.as_str()), "{msg} lacks {c}");
            }
            // Otherwise the refusal is the data's alignment in memory (never for a page-
            // aligned map with an element-aligned data offset, which parse_header demands).
            assert!(msg.contains(&scratch.display().to_string()), "{msg}");
        }
    }
}

/// `cache::parse`: errors carry a line; an accepted cache survives the canonical write-back
/// (`to_bytes`): it parses again to the same header and entries, and writing it again gives
/// the same bytes. The reporting helpers run on it too.
pub fn cache_parse(data: &[u8]) {
    let c = match cache::parse(data) {
        Ok(c) => c,
        Err(e) => {
            assert!(e.line >= 1, "{e:?}");
            assert!(!e.msg.is_empty());
            return;
        }
    };
    for n in &c.notes {
        assert!(n.line >= 1, "{n:?}");
    }
    let canon = c.to_bytes();
    let again = cache::parse(&canon)
        .unwrap_or_else(|e| panic!("canonical text of {c:?} refused: {e}\n{canon:?}"));
    assert_eq!(again.format, c.format);
    assert_eq!(again.version, c.version);
    assert_eq!(again.algorithm, c.algorithm);
    assert_eq!(
        again
            .legacy
            .map(|l| (l.regression_cutoff.to_bits(), l.quantile.to_bits())),
        c.legacy
            .map(|l| (l.regression_cutoff.to_bits(), l.quantile.to_bits()))
    );
    let names = |c: &cache::Cache| {
        c.entries
            .iter()
            .map(|e| (e.name.clone(), e.hex_bits))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&again), names(&c));
    // Only notes about content survive (duplicates, an unknown algorithm, an implausible
    // version code); the layout irregularities were normalised away.
    assert!(
        again.notes.iter().all(|n| n.msg.contains("appears")
            || n.msg.contains("unknown calibration algorithm")
            || n.msg.contains("no TensorRT release writes")),
        "{:?}",
        again.notes
    );
    assert_eq!(again.to_bytes(), canon);

    for i in 0..c.entries.len() {
        let _ = c.flags(i);
    }
    let _ = c.duplicates();
    let tensors: Vec<&str> = c.entries.iter().take(4).map(|e| e.name.as_str()).collect();
    let _ = c.fit(
        TrtVersion::from_code(8601),
        &Algorithm::from_header_name("EntropyCalibration2"),
        &tensors,
    );
    if let Some(v) = TrtVersion::new(10, 3, 0) {
        let _ = c.retarget(v);
    }
}
