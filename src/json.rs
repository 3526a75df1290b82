//! A small JSON value and writer for `--json` output. Non-finite floats are written as the
//! strings "nan", "inf" and "-inf" (JSON has no such numbers; scripts match on the strings).

use std::fmt::{self, Write};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(Vec<(String, Value)>),
}

impl Value {
    /// An object from (key, value) pairs, keeping their order.
    pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Pretty-printed with two-space indentation and a final newline.
    pub fn pretty(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, Some(0))
            .expect("writing to a String cannot fail");
        s.push('\n');
        s
    }

    fn write(&self, out: &mut String, indent: Option<usize>) -> fmt::Result {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => write!(out, "{b}")?,
            Value::Int(i) => write!(out, "{i}")?,
            Value::Num(x) => write_f64(out, *x)?,
            Value::Str(s) => write_str(out, s),
            Value::Arr(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return Ok(());
                }
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, indent.map(|n| n + 1));
                    v.write(out, indent.map(|n| n + 1))?;
                }
                newline(out, indent);
                out.push(']');
            }
            Value::Obj(pairs) => {
                if pairs.is_empty() {
                    out.push_str("{}");
                    return Ok(());
                }
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, indent.map(|n| n + 1));
                    write_str(out, k);
                    out.push_str(if indent.is_some() { ": " } else { ":" });
                    v.write(out, indent.map(|n| n + 1))?;
                }
                newline(out, indent);
                out.push('}');
            }
        }
        Ok(())
    }
}

impl fmt::Display for Value {
    /// Compact, on one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s, None)?;
        f.write_str(&s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Num(x)
    }
}
impl From<f32> for Value {
    fn from(x: f32) -> Self {
        Value::Num(x as f64)
    }
}
impl From<i64> for Value {
    fn from(x: i64) -> Self {
        Value::Int(x)
    }
}
impl From<u64> for Value {
    fn from(x: u64) -> Self {
        Value::Int(x as i64)
    }
}
impl From<usize> for Value {
    fn from(x: usize) -> Self {
        Value::Int(x as i64)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Arr(v.into_iter().map(Into::into).collect())
    }
}

fn newline(out: &mut String, indent: Option<usize>) {
    if let Some(n) = indent {
        out.push('\n');
        for _ in 0..n {
            out.push_str("  ");
        }
    }
}

fn write_f64(out: &mut String, x: f64) -> fmt::Result {
    if x.is_nan() {
        out.push_str("\"nan\"");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "\"inf\"" } else { "\"-inf\"" });
    } else if x == x.trunc() && x.abs() < 1e15 {
        // Keep a decimal point so readers see a float, as Python's json does.
        write!(out, "{x:.1}")?;
    } else {
        // Rust's shortest round-trip form; exponent form for very large or small values.
        let s = format!("{x}");
        if s.len() > 24 {
            write!(out, "{x:e}")?;
        } else {
            out.push_str(&s);
        }
    }
    Ok(())
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_non_finite() {
        let v = Value::obj([
            ("a", Value::from("q\"\\\n\u{1}")),
            ("n", Value::from(f64::NAN)),
            ("i", Value::from(f64::NEG_INFINITY)),
            ("x", Value::from(0.5f64)),
            ("y", Value::from(3.0f64)),
        ]);
        assert_eq!(
            v.to_string(),
            r#"{"a":"q\"\\\n\u0001","n":"nan","i":"-inf","x":0.5,"y":3.0}"#
        );
    }
}
