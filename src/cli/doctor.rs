//! `trtq-lite doctor`: where libcuda, libnvinfer and libnvonnxparser were found (or every
//! path tried), their versions, the ABI chosen, the GPUs, what the builder reports about the
//! platform, and whether implicit INT8 calibration is available. Exit 0 when `calibrate`
//! can run, 1 otherwise.

use std::path::PathBuf;

use argh::FromArgs;

use crate::cuda::{Context, DeviceInfo, Driver};
use crate::error::{Error, Result};
use crate::json::Value;
use crate::trt;

/// check that libcuda, TensorRT and the GPU are usable for calibration
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "doctor")]
pub struct Args {
    /// folder holding libnvinfer and libnvonnxparser (else TRTQ_NVINFER_DIR, then the system)
    #[argh(option)]
    pub nvinfer: Option<PathBuf>,
    /// path of libcuda (else TRTQ_LIBCUDA, then the system)
    #[argh(option)]
    pub cuda_lib: Option<PathBuf>,
    /// CUDA device whose builder platform is queried (default 0)
    #[argh(option, default = "0")]
    pub device: usize,
    /// print one JSON document on stdout
    #[argh(switch)]
    pub json: bool,
}

struct Cuda {
    path: String,
    devices: Vec<DeviceInfo>,
}

struct TrtFound {
    nvinfer: String,
    parser: String,
    version: String,
    code: i32,
    parser_version: i32,
    abi: &'static str,
    simulator: bool,
    platform: std::result::Result<trt::Platform, String>,
}

fn gib(b: usize) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

pub fn run(a: Args) -> Result<()> {
    let cuda: std::result::Result<(std::sync::Arc<Driver>, Cuda), Error> = (|| {
        let drv = Driver::load(a.cuda_lib.as_deref())?;
        let n = drv.device_count()?;
        let devices = (0..n)
            .map(|i| drv.device_info(i))
            .collect::<Result<Vec<_>>>()?;
        let path = drv.library_path().to_string();
        Ok((drv, Cuda { path, devices }))
    })();
    let trt_lib = trt::Trt::load(a.nvinfer.as_deref());

    // The builder's view of the platform needs both libraries and a context on the device.
    let found = match (&cuda, &trt_lib) {
        (_, Err(_)) => None,
        (Err(_), Ok(t)) => Some(found(t, Err("libcuda not loaded".into()))),
        (Ok((drv, c)), Ok(t)) => {
            let platform = if a.device >= c.devices.len() {
                Err(format!(
                    "no CUDA device {} ({} found)",
                    a.device,
                    c.devices.len()
                ))
            } else {
                platform(drv, a.device, t).map_err(|e| e.chain())
            };
            Some(found(t, platform))
        }
    };
    let calibration = match (&trt_lib, &cuda) {
        (Ok(t), Ok(_)) => Ok(format!(
            "yes: TensorRT {} has implicit INT8 calibration (IInt8Calibrator)",
            t.version()
        )),
        (Err(e @ Error::Unsupported(_)), _) => Err(e.to_string()),
        (Err(_), _) => Err("no: TensorRT not loaded".to_string()),
        (Ok(_), Err(_)) => Err("no: libcuda not loaded".to_string()),
    };
    let ok = calibration.is_ok()
        && found.as_ref().is_some_and(|f| f.platform.is_ok())
        && cuda.as_ref().is_ok_and(|(_, c)| !c.devices.is_empty());

    if a.json {
        let v = Value::obj([
            (
                "libcuda",
                match &cuda {
                    Ok((_, c)) => Value::obj([
                        ("path", Value::from(c.path.as_str())),
                        (
                            "driver_version",
                            c.devices.first().map(|d| d.driver_version_string()).into(),
                        ),
                        (
                            "devices",
                            Value::Arr(c.devices.iter().map(device_json).collect()),
                        ),
                    ]),
                    Err(e) => Value::obj([("error", Value::from(e.chain()))]),
                },
            ),
            (
                "tensorrt",
                match (&found, &trt_lib) {
                    (Some(f), _) => Value::obj([
                        ("nvinfer", Value::from(f.nvinfer.as_str())),
                        ("nvonnxparser", Value::from(f.parser.as_str())),
                        ("version", Value::from(f.version.as_str())),
                        ("version_code", Value::Int(f.code as i64)),
                        ("parser_version", Value::Int(f.parser_version as i64)),
                        ("abi", Value::from(f.abi)),
                        ("simulator", Value::from(f.simulator)),
                        (
                            "platform",
                            match &f.platform {
                                Ok(p) => Value::obj([
                                    ("fast_int8", Value::from(p.fast_int8)),
                                    ("fast_fp16", Value::from(p.fast_fp16)),
                                    ("dla_cores", Value::Int(p.nb_dla_cores as i64)),
                                ]),
                                Err(e) => Value::obj([("error", Value::from(e.as_str()))]),
                            },
                        ),
                    ]),
                    (None, Err(e)) => Value::obj([("error", Value::from(e.chain()))]),
                    (None, Ok(_)) => Value::Null,
                },
            ),
            (
                "implicit_int8_calibration",
                Value::from(calibration.is_ok()),
            ),
            (
                "calibration",
                Value::from(match &calibration {
                    Ok(s) | Err(s) => s.as_str(),
                }),
            ),
            ("ok", Value::from(ok)),
        ]);
        super::write_stdout(&v.pretty())?;
    } else {
        let mut s = String::new();
        match &cuda {
            Ok((_, c)) => {
                s.push_str(&format!("libcuda:        {}\n", c.path));
                if let Some(d) = c.devices.first() {
                    s.push_str(&format!(
                        "driver:         CUDA {} ({})\n",
                        d.driver_version_string(),
                        d.driver_version
                    ));
                }
                if c.devices.is_empty() {
                    s.push_str("GPUs:           none\n");
                }
                for d in &c.devices {
                    s.push_str(&format!(
                        "GPU {}:          {}, compute {}.{}, {:.1} GiB, {}{}\n",
                        d.ordinal,
                        d.name,
                        d.compute_capability.0,
                        d.compute_capability.1,
                        gib(d.total_mem),
                        if d.integrated {
                            "integrated"
                        } else {
                            "discrete"
                        },
                        if d.can_map_host_memory {
                            ", can map host memory"
                        } else {
                            ""
                        }
                    ));
                }
            }
            Err(e) => s.push_str(&format!(
                "libcuda:        not usable\n{}\n",
                indent(&e.chain())
            )),
        }
        match (&found, &trt_lib) {
            (Some(f), _) => {
                s.push_str(&format!(
                    "libnvinfer:     {}{}\n",
                    f.nvinfer,
                    if f.simulator {
                        " (trtsim: the project's test simulator, not NVIDIA's TensorRT)"
                    } else {
                        ""
                    }
                ));
                s.push_str(&format!("libnvonnxparser: {}\n", f.parser));
                s.push_str(&format!(
                    "TensorRT:       {} (code {}, parser {}), {} ABI\n",
                    f.version, f.code, f.parser_version, f.abi
                ));
                match &f.platform {
                    Ok(p) => s.push_str(&format!(
                        "platform:       fast INT8 {}, fast FP16 {}, DLA cores {}\n",
                        yes(p.fast_int8),
                        yes(p.fast_fp16),
                        p.nb_dla_cores
                    )),
                    Err(e) => s.push_str(&format!("platform:       not queried: {e}\n")),
                }
            }
            (None, Err(e)) => s.push_str(&format!(
                "TensorRT:       not usable\n{}\n",
                indent(&e.chain())
            )),
            (None, Ok(_)) => {}
        }
        s.push_str(&format!(
            "INT8 calibration: {}\n",
            match &calibration {
                Ok(m) | Err(m) => m,
            }
        ));
        super::write_stdout(&s)?;
    }
    if ok {
        Ok(())
    } else {
        Err(Error::Unsupported(
            "doctor: calibration cannot run on this machine (see above)".into(),
        ))
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn device_json(d: &DeviceInfo) -> Value {
    Value::obj([
        ("ordinal", Value::from(d.ordinal)),
        ("name", Value::from(d.name.as_str())),
        (
            "compute_capability",
            Value::from(format!(
                "{}.{}",
                d.compute_capability.0, d.compute_capability.1
            )),
        ),
        ("total_mem", Value::from(d.total_mem)),
        ("integrated", Value::from(d.integrated)),
        ("can_map_host_memory", Value::from(d.can_map_host_memory)),
        ("pci_bus_id", d.pci_bus_id.clone().into()),
    ])
}

fn found(t: &trt::Trt, platform: std::result::Result<trt::Platform, String>) -> TrtFound {
    TrtFound {
        nvinfer: t.nvinfer_path().to_string(),
        parser: t.parser_path().to_string(),
        version: t.version().to_string(),
        code: t.version().raw,
        parser_version: t.parser_version(),
        abi: match t.abi() {
            trt::Abi::Trt8 => "8.x",
            trt::Abi::Trt10 => "10.x",
        },
        simulator: t.is_simulator(),
        platform,
    }
}

fn platform(drv: &std::sync::Arc<Driver>, device: usize, t: &trt::Trt) -> Result<trt::Platform> {
    let ctx = Context::new(drv, device)?;
    let _bound = ctx.bind()?;
    let session = trt::Session::new(t, trt::Severity::Error, Box::new(|_, _| {}))?;
    session.platform()
}
