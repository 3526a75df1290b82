//! The .npy reader on the committed fixtures (fixtures/npy, made by fixtures/npy/make.py).

use std::path::PathBuf;

use trtq_lite::npy::{DType, NpyFile, Values};
use trtq_lite::Error;

fn fx(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/npy")
        .join(name)
}

#[test]
fn good_files_give_their_values() {
    let f = NpyFile::open(&fx("good_v1_f4_2x3.npy")).unwrap();
    assert_eq!(
        (f.shape(), f.dtype(), f.header().version),
        (&[2usize, 3][..], DType::F32, (1, 0))
    );
    match f.values() {
        Values::F32(v) => assert_eq!(v, &[-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]),
        other => panic!("{other:?}"),
    }
    let f = NpyFile::open(&fx("good_v2_f2_4.npy")).unwrap();
    assert_eq!(f.header().version, (2, 0));
    match f.values() {
        Values::F16(v) => assert_eq!(
            v.iter()
                .map(|&h| trtq_lite::npy::f16_to_f32(h))
                .collect::<Vec<_>>(),
            vec![0.0, 1.0, -2.0, 0.5]
        ),
        other => panic!("{other:?}"),
    }
    let f = NpyFile::open(&fx("good_v3_f8_2x2.npy")).unwrap();
    assert_eq!(f.header().version, (3, 0));
    match f.values() {
        Values::F64(v) => assert_eq!(v, &[1.5, -0.25, 1e300, 3.0]),
        other => panic!("{other:?}"),
    }
    let f = NpyFile::open(&fx("good_v1_u1_2x2x2.npy")).unwrap();
    assert_eq!(f.bytes(), &[0, 1, 2, 3, 4, 5, 6, 7]);
    let f = NpyFile::open(&fx("good_v1_i1_3.npy")).unwrap();
    match f.values() {
        Values::I8(v) => assert_eq!(v, &[-1, 0, 1]),
        other => panic!("{other:?}"),
    }
    let f = NpyFile::open(&fx("good_v1_f4_align16.npy")).unwrap();
    assert_eq!(f.header().data_offset % 16, 0);
    assert_eq!(f.bytes().len(), 8);
    let f = NpyFile::open(&fx("good_v1_f4_fortran_1d.npy")).unwrap();
    assert_eq!(f.shape(), &[3]);
}

#[test]
fn bad_files_are_refused_naming_file_and_fact() {
    let cases = [
        (
            "bad_truncated.npy",
            "header says (4, 3) <f4 = 48 bytes, but 40 bytes follow",
        ),
        (
            "bad_longer.npy",
            "header says (4, 3) <f4 = 48 bytes, but 56 bytes follow",
        ),
        (
            "bad_lying_header.npy",
            "header length field says 4000 bytes",
        ),
        ("bad_big_endian.npy", "big-endian dtype '>f4'"),
        ("bad_object.npy", "object dtype '|O'"),
        ("bad_structured.npy", "structured dtype"),
        ("bad_fortran.npy", "Fortran-order"),
        ("bad_zero_d.npy", "0-d array"),
        ("bad_magic.npy", "not a .npy file"),
        ("bad_dict.npy", "bad header dict"),
        ("bad_version.npy", "unsupported .npy format version 4.0"),
        ("bad_dtype_i4.npy", "unsupported dtype '<i4'"),
        ("bad_misaligned.npy", "not aligned for float64"),
    ];
    for (name, fact) in cases {
        let e = NpyFile::open(&fx(name))
            .err()
            .unwrap_or_else(|| panic!("{name} was accepted"));
        let msg = e.to_string();
        assert!(
            msg.starts_with(&fx(name).display().to_string()),
            "{name}: {msg}"
        );
        assert!(msg.contains(fact), "{name}: {msg}");
        assert!(matches!(e, Error::Npy { .. }), "{name}: {e:?}");
        assert_eq!(e.exit_code(), 2);
    }
}

#[test]
fn missing_and_empty_files() {
    let e = NpyFile::open(&fx("no_such.npy")).err().unwrap();
    assert!(matches!(e, Error::ReadInput { .. }), "{e:?}");
    let dir = std::env::temp_dir().join(format!("trtq-npy-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("empty.npy");
    std::fs::write(&p, b"").unwrap();
    let e = NpyFile::open(&p).err().unwrap();
    assert!(e.to_string().contains("empty file"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every prefix of a good file is refused with an error, never a panic.
#[test]
fn truncations_of_good_files_are_errors() {
    let dir = std::env::temp_dir().join(format!("trtq-npy-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = std::fs::read(fx("good_v3_f8_2x2.npy")).unwrap();
    for n in 1..bytes.len() {
        let p = dir.join("t.npy");
        std::fs::write(&p, &bytes[..n]).unwrap();
        assert!(NpyFile::open(&p).is_err(), "prefix of {n} bytes accepted");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
