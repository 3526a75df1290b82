//! TensorRT version numbers and the choice of ABI (which declaration set the shim uses).
//!
//! `getInferLibVersion()` packs the version per major release (shared/abi-facts SUMMARY,
//! "Version constants"): 8.x `major*1000 + minor*100 + patch` (8601 = 8.6.1), 10.x and later
//! `major*10000 + minor*100 + patch` (100300 = 10.3.0). Values >= 100000 use the second form.

use std::fmt;

use crate::error::{Error, Result};

/// A decoded TensorRT (or parser) version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// The number the library returned.
    pub raw: i32,
}

impl Version {
    /// Decodes a `getInferLibVersion()` value. Negative values decode as 0.0.0.
    pub fn from_raw(raw: i32) -> Version {
        let v = u32::try_from(raw).unwrap_or(0);
        if v >= 100_000 {
            Version {
                major: v / 10_000,
                minor: (v / 100) % 100,
                patch: v % 100,
                raw,
            }
        } else {
            Version {
                major: v / 1000,
                minor: (v / 100) % 10,
                patch: v % 100,
                raw,
            }
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Which hand-written declaration set (shim/abi/) matches the loaded library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abi {
    /// TensorRT 8.5 and 8.6 (shim/abi/trt8.hpp).
    Trt8,
    /// TensorRT 10.x (shim/abi/trt10.hpp; 10.0 ... 10.16 checked against the headers).
    Trt10,
}

/// The message for TensorRT 11 and later, which dropped IInt8Calibrator.
pub const TRT11_MESSAGE: &str = "TensorRT 11 removed implicit INT8 calibration (IInt8Calibrator); \
use TensorRT 8.5–10.x, or explicit quantization (Q/DQ nodes)";

/// Picks the ABI for a library version, or explains why there is none.
pub fn choose_abi(v: Version) -> Result<Abi> {
    match (v.major, v.minor) {
        (8, 5..) => Ok(Abi::Trt8),
        (10, _) => Ok(Abi::Trt10),
        (11.., _) => Err(Error::Unsupported(format!(
            "the loaded TensorRT is {v} (getInferLibVersion() = {}): {TRT11_MESSAGE}",
            v.raw
        ))),
        (9, _) => Err(Error::Unsupported(format!(
            "the loaded TensorRT is {v} (getInferLibVersion() = {}): TensorRT 9 was a limited \
             release and is not supported; use TensorRT 8.5–8.6 or 10.x",
            v.raw
        ))),
        _ => Err(Error::Unsupported(format!(
            "the loaded TensorRT is {v} (getInferLibVersion() = {}): trtq-lite needs TensorRT \
             8.5–8.6 or 10.x (older releases have a different ABI)",
            v.raw
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_formats() {
        let v = Version::from_raw(8601);
        assert_eq!((v.major, v.minor, v.patch), (8, 6, 1));
        let v = Version::from_raw(8503);
        assert_eq!((v.major, v.minor, v.patch), (8, 5, 3));
        let v = Version::from_raw(100300);
        assert_eq!((v.major, v.minor, v.patch), (10, 3, 0));
        let v = Version::from_raw(101600);
        assert_eq!((v.major, v.minor, v.patch), (10, 16, 0));
        let v = Version::from_raw(101303);
        assert_eq!(v.to_string(), "10.13.3");
        let v = Version::from_raw(110000);
        assert_eq!((v.major, v.minor, v.patch), (11, 0, 0));
        assert_eq!(Version::from_raw(-5).major, 0);
    }

    #[test]
    fn chooses_abi() {
        assert_eq!(choose_abi(Version::from_raw(8500)).unwrap(), Abi::Trt8);
        assert_eq!(choose_abi(Version::from_raw(8601)).unwrap(), Abi::Trt8);
        assert_eq!(choose_abi(Version::from_raw(100001)).unwrap(), Abi::Trt10);
        assert_eq!(choose_abi(Version::from_raw(101600)).unwrap(), Abi::Trt10);
    }

    #[test]
    fn refuses_other_versions() {
        let e = choose_abi(Version::from_raw(110000))
            .unwrap_err()
            .to_string();
        assert!(e.contains(TRT11_MESSAGE), "{e}");
        assert!(e.contains("11.0.0"), "{e}");
        let e = choose_abi(Version::from_raw(120100))
            .unwrap_err()
            .to_string();
        assert!(e.contains("TensorRT 11 removed"), "{e}");
        for raw in [8402, 8205, 7103, 9300, 0] {
            let e = choose_abi(Version::from_raw(raw)).unwrap_err().to_string();
            assert!(e.contains("8.5–8.6 or 10.x"), "{raw}: {e}");
        }
    }
}
