//! Data sets: sources, sample grouping, batches and dropping, multi-input and dtype checks.

mod support;

use support::{f32_bytes, f64_bytes, write_npy, write_samples, Scratch};
use trtq_lite::data::{Conversion, DataSet, InputSpec, Source, SourceKind, SourceSpec};
use trtq_lite::npy::DType;

fn input(name: &str, shape: &[usize], dtype: DType) -> InputSpec {
    InputSpec {
        name: name.into(),
        sample_shape: shape.to_vec(),
        dtype,
    }
}

fn spec(s: &str) -> SourceSpec {
    SourceSpec::parse(s)
}

#[test]
fn directory_of_single_samples_batches_in_sorted_order_and_drops_the_rest() {
    let t = Scratch::new("ds-dir");
    write_samples(&t.0, 10, None, &[3, 2, 2]);
    // A non-.npy file is ignored.
    std::fs::write(t.path("README.txt"), "x").unwrap();
    let ds = DataSet::open(
        &[spec(t.0.to_str().unwrap())],
        &[input("images", &[3, 2, 2], DType::F32)],
        4,
        Conversion::Exact,
    )
    .unwrap();
    assert_eq!(
        (ds.samples(), ds.batches(), ds.used(), ds.dropped()),
        (10, 2, 8, 2)
    );
    assert_eq!(ds.summary(), "10 samples: 2 batches of 4 used, 2 dropped");
    assert_eq!(ds.batch_bytes(0), 4 * 12 * 4);
    let p = ds.pieces(0, 1);
    assert_eq!(p.len(), 4);
    assert!(p[0].file.path().ends_with("s_0004.npy"));
    let first: Vec<f32> = p[0]
        .bytes()
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(first[0], support::sample_value(4, 0));
    assert!(ds.pieces(0, 2).is_empty());
}

#[test]
fn leading_one_and_leading_n_files() {
    let t = Scratch::new("ds-lead");
    // 3 files of (1, 2, 2) and 2 files of (5, 2, 2) (leading N) in another folder.
    write_samples(&t.path("ones"), 3, Some(1), &[2, 2]);
    write_samples(&t.path("many"), 2, Some(5), &[2, 2]);
    let ds = DataSet::open(
        &[spec(t.path("ones").to_str().unwrap())],
        &[input("x", &[2, 2], DType::F32)],
        1,
        Conversion::Exact,
    )
    .unwrap();
    assert_eq!(ds.samples(), 3);
    let ds = DataSet::open(
        &[spec(t.path("many").to_str().unwrap())],
        &[input("x", &[2, 2], DType::F32)],
        3,
        Conversion::Exact,
    )
    .unwrap();
    assert_eq!((ds.samples(), ds.batches(), ds.dropped()), (10, 3, 1));
    // Batch 1 = samples 3..6: 2 from the first file, 1 from the second.
    let p = ds.pieces(0, 1);
    assert_eq!(
        p.iter().map(|p| (p.offset, p.len)).collect::<Vec<_>>(),
        vec![(3 * 16, 2 * 16), (0, 16)]
    );
}

#[test]
fn single_file_and_list_sources() {
    let t = Scratch::new("ds-list");
    write_samples(&t.path("d"), 1, Some(6), &[4]);
    write_samples(&t.path("e"), 3, None, &[4]);
    let single = t.path("d/s_0000.npy");
    let src = Source::open(&single).unwrap();
    assert_eq!(
        (src.kind, src.files.len(), src.infer_sample_shape()),
        (SourceKind::File, 1, vec![4])
    );
    std::fs::write(
        t.path("list.txt"),
        "# calibration list\ne/s_0002.npy\n\n  e/s_0000.npy  \n",
    )
    .unwrap();
    let src = Source::open(&t.path("list.txt")).unwrap();
    assert_eq!(src.kind, SourceKind::List);
    // In the list's order, not sorted.
    assert!(src.files[0].path().ends_with("e/s_0002.npy"));
    let ds = DataSet::open(
        &[spec(t.path("list.txt").to_str().unwrap())],
        &[input("x", &[4], DType::F32)],
        2,
        Conversion::Exact,
    )
    .unwrap();
    assert_eq!(ds.samples(), 2);
    std::fs::write(t.path("bad.txt"), "e/missing.npy\n").unwrap();
    let e = Source::open(&t.path("bad.txt")).err().unwrap();
    assert!(e.to_string().contains("missing.npy"), "{e}");
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn shape_inference() {
    let t = Scratch::new("ds-infer");
    write_samples(&t.path("a"), 3, None, &[3, 4]);
    write_samples(&t.path("b"), 3, Some(1), &[3, 4]);
    write_npy(
        &t.path("c/x.npy"),
        "<f4",
        &[2, 3, 4],
        &f32_bytes(vec![0.0; 24]),
    );
    write_npy(
        &t.path("c/y.npy"),
        "<f4",
        &[5, 3, 4],
        &f32_bytes(vec![0.0; 60]),
    );
    for d in ["a", "b", "c"] {
        let src = Source::open(&t.path(d)).unwrap();
        assert_eq!(src.infer_sample_shape(), vec![3, 4], "{d}");
    }
    let src = Source::open(&t.path("c")).unwrap();
    assert_eq!(src.layout(&[3, 4]).samples(), 7);
}

#[test]
fn every_mismatch_is_reported_together() {
    let t = Scratch::new("ds-mismatch");
    write_samples(&t.path("img"), 4, None, &[3, 2, 2]);
    write_samples(&t.path("mask"), 3, None, &[2, 2]);
    // A file of the wrong shape and one of the wrong dtype.
    write_npy(
        &t.path("img/zz_wrong.npy"),
        "<f4",
        &[3, 5, 5],
        &f32_bytes(vec![0.0; 75]),
    );
    let e = DataSet::open(
        &[
            spec(&format!("images={}", t.path("img").display())),
            spec(&format!("mask={}", t.path("mask").display())),
        ],
        &[
            input("images", &[3, 2, 2], DType::F32),
            input("mask", &[2, 2], DType::F16),
        ],
        2,
        Conversion::Exact,
    )
    .err()
    .unwrap();
    let m = e.to_string();
    assert!(
        m.contains("zz_wrong.npy: shape (3, 5, 5) does not fit input 'images'"),
        "{m}"
    );
    assert!(
        m.contains("holds float32 data but input 'mask' takes float16; pass --convert"),
        "{m}"
    );
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn multi_input_counts_must_agree() {
    let t = Scratch::new("ds-count");
    write_samples(&t.path("img"), 5, None, &[2]);
    write_samples(&t.path("mask"), 4, None, &[2]);
    let inputs = [
        input("images", &[2], DType::F32),
        input("mask", &[2], DType::F32),
    ];
    let e = DataSet::open(
        &[
            spec(&format!("images={}", t.path("img").display())),
            spec(&format!("mask={}", t.path("mask").display())),
        ],
        &inputs,
        2,
        Conversion::Exact,
    )
    .err()
    .unwrap();
    assert!(
        e.to_string().contains("disagree on the number of samples"),
        "{e}"
    );
    assert!(
        e.to_string().contains("has 5") && e.to_string().contains("has 4"),
        "{e}"
    );
    // Unknown name, missing input, unnamed source with two inputs.
    let e = DataSet::open(
        &[spec(&format!("imgs={}", t.path("img").display()))],
        &inputs,
        2,
        Conversion::Exact,
    )
    .err()
    .unwrap();
    let m = e.to_string();
    assert!(
        m.contains("no input named 'imgs' (its inputs: images, mask)"),
        "{m}"
    );
    assert!(m.contains("no data given for input 'images'"), "{m}");
    let e = DataSet::open(
        &[spec(t.path("img").to_str().unwrap())],
        &inputs,
        2,
        Conversion::Exact,
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("NAME=SOURCE"), "{e}");
}

#[test]
fn dtype_conversion_only_when_allowed() {
    let t = Scratch::new("ds-conv");
    write_npy(
        &t.path("d.npy"),
        "<f8",
        &[4, 2],
        &f64_bytes((0..8).map(|x| x as f64)),
    );
    let inp = [input("x", &[2], DType::F32)];
    let s = [spec(t.path("d.npy").to_str().unwrap())];
    let e = DataSet::open(&s, &inp, 2, Conversion::Exact).err().unwrap();
    assert!(
        e.to_string()
            .contains("holds float64 data but input 'x' takes float32"),
        "{e}"
    );
    let ds = DataSet::open(&s, &inp, 2, Conversion::Allow).unwrap();
    assert_eq!(ds.inputs()[0].data_dtype, DType::F64);
    assert_eq!(ds.batch_bytes(0), 2 * 2 * 4);
    // No conversion offered for f64 -> f16 or to integers.
    let e = DataSet::open(&s, &[input("x", &[2], DType::U8)], 2, Conversion::Allow)
        .err()
        .unwrap();
    assert!(e.to_string().contains("no conversion is offered"), "{e}");
}

#[test]
fn fewer_samples_than_a_batch() {
    let t = Scratch::new("ds-few");
    write_samples(&t.0, 3, None, &[2]);
    let e = DataSet::open(
        &[spec(t.0.to_str().unwrap())],
        &[input("x", &[2], DType::F32)],
        4,
        Conversion::Exact,
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("fewer than one batch of 4"), "{e}");
}

#[test]
fn source_spec_parsing() {
    assert_eq!(
        spec("images=calib/"),
        SourceSpec {
            name: Some("images".into()),
            path: "calib/".into()
        }
    );
    assert_eq!(
        spec("calib/"),
        SourceSpec {
            name: None,
            path: "calib/".into()
        }
    );
    assert_eq!(spec("./a=b/c").name, None);
    assert_eq!(
        trtq_lite::data::parse_shape("3x640x640").unwrap(),
        vec![3, 640, 640]
    );
    assert!(trtq_lite::data::parse_shape("3x0").is_err());
    assert!(trtq_lite::data::parse_shape("").is_err());
}
