//! joblib writes each NumPy array's bytes straight into the pickle stream after the
//! `NumpyArrayWrapper` BUILD (its unpickler reads them there). Skip exactly those bytes,
//! so array data is never mistaken for opcodes; object arrays are a nested pickle, which
//! is emulated like any other.

use super::input::BlobSource;
use super::value::Value;
use super::vm::{halt, Halt, Vm};

pub fn skip_array(
    vm: &mut Vm<'_>,
    at: u64,
    state: &Value,
    src: &mut BlobSource<'_>,
) -> Result<Value, Halt> {
    let dtype = state
        .dict_get("dtype")
        .and_then(|d| dtype_code(&d))
        .ok_or_else(|| halt(at, "joblib array wrapper without a readable dtype"))?;
    let shape = match state.dict_get("shape") {
        Some(Value::Tuple(dims)) => dims
            .iter()
            .map(|d| match d {
                Value::Int(n) if *n >= 0 => Some(*n as u64),
                _ => None,
            })
            .collect::<Option<Vec<u64>>>(),
        Some(Value::Int(n)) if n >= 0 => Some(vec![n as u64]),
        _ => None,
    }
    .ok_or_else(|| halt(at, "joblib array wrapper without a readable shape"))?;
    if state.dict_get("numpy_array_alignment_bytes").is_some() {
        let pad = vm.fixed::<1>(src, at)?[0];
        if !src.skip(u64::from(pad)).unwrap_or(false) {
            return Err(halt(at, "input ends inside joblib array padding"));
        }
    }
    if dtype
        .trim_start_matches(['<', '>', '|', '='])
        .starts_with('O')
    {
        // object arrays are pickled inline; emulate that pickle with the same imports
        let inner_at = src.pos();
        vm.run_inner(src).map_err(|h| Halt {
            message: format!(
                "in the object array pickled at offset {inner_at}: {}",
                h.message
            ),
            ..h
        })?;
        return Ok(Value::Opaque);
    }
    let item = itemsize(&dtype).ok_or_else(|| {
        halt(
            at,
            &format!("joblib array with unsupported dtype {dtype:?}"),
        )
    })?;
    let count = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .and_then(|c| c.checked_mul(item))
        .ok_or_else(|| halt(at, "joblib array size overflows"))?;
    if count > src.remaining() {
        return Err(halt(
            at,
            &format!(
                "joblib array of {count} bytes but only {} remain",
                src.remaining()
            ),
        ));
    }
    src.skip(count)
        .map_err(|e| halt(at, &format!("read error: {e}")))?;
    Ok(Value::Opaque)
}

/// The type code of `numpy.dtype('f8', ...)`, as the dtype object's first argument.
fn dtype_code(v: &Value) -> Option<String> {
    let Value::Object(o) = v else { return None };
    let Value::Tuple(args) = &o.args else {
        return None;
    };
    args.first()?.as_str().map(str::to_string)
}

/// Bytes per element of a NumPy type code such as `f8`, `<i4`, `U10`, `S5`, `b1`.
fn itemsize(code: &str) -> Option<u64> {
    let code = code.trim_start_matches(['<', '>', '|', '=']);
    let kind = code.chars().next()?;
    let digits = &code[kind.len_utf8()..];
    let n: u64 = if digits.is_empty() {
        match kind {
            '?' | 'b' | 'B' => 1,
            _ => return None,
        }
    } else {
        digits.parse().ok()?
    };
    match kind {
        'U' => n.checked_mul(4),
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'V' | 'M' | 'm' | 'a' | '?' | 'B' => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::itemsize;

    #[test]
    fn itemsizes() {
        assert_eq!(itemsize("f8"), Some(8));
        assert_eq!(itemsize("<i4"), Some(4));
        assert_eq!(itemsize("U10"), Some(40));
        assert_eq!(itemsize("b1"), Some(1));
        assert_eq!(itemsize("c16"), Some(16));
        assert_eq!(itemsize("O8"), None);
        assert_eq!(itemsize(""), None);
    }
}
