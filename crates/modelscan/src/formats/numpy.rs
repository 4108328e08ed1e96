//! NumPy `.npy`: a magic string, a Python-literal header, the array. Object arrays are
//! a pickle after the header, which `numpy.load(allow_pickle=True)` runs.

pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Why a `.npy` header cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    #[error("not a .npy file")]
    Magic,
    #[error("unsupported .npy version {0}")]
    Version(u8),
    #[error("header longer than the bytes read")]
    Short,
    #[error("header without 'descr'")]
    NoDescr,
}

/// The header: (dtype descr, whether the data is a pickle, data offset).
pub fn header(head: &[u8]) -> Result<(String, bool, u64), NpyError> {
    if !head.starts_with(MAGIC) || head.len() < 10 {
        return Err(NpyError::Magic);
    }
    let (len, start) = match head[6] {
        1 => (usize::from(u16::from_le_bytes([head[8], head[9]])), 10),
        2 | 3 if head.len() >= 12 => (
            u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) as usize,
            12,
        ),
        v => return Err(NpyError::Version(v)),
    };
    let text = head.get(start..start + len).ok_or(NpyError::Short)?;
    let text = String::from_utf8_lossy(text);
    let descr = text
        .split_once("'descr':")
        .map(|(_, r)| r.trim_start())
        .map(|r| {
            if r.starts_with('[') {
                r.split_once(']')
                    .map(|(d, _)| format!("{d}]"))
                    .unwrap_or_default()
            } else {
                r.split(',')
                    .next()
                    .unwrap_or("")
                    .trim_matches(['\'', '"', ' '])
                    .to_string()
            }
        })
        .ok_or(NpyError::NoDescr)?;
    let object = descr.contains('O');
    Ok((descr, object, (start + len) as u64))
}
