//! Random access to what is being scanned: a file on disk (read only where needed, so
//! tensor payloads are skipped at seek cost) or bytes already in memory.

use std::fs::File;
use std::io;

pub trait ReadAt: Sync {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fill `buf` from `offset`; returns how many bytes were available.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Up to `n` bytes from `offset` (fewer at the end).
    fn bytes_at(&self, offset: u64, n: usize) -> io::Result<Vec<u8>> {
        let avail = self.len().saturating_sub(offset).min(n as u64) as usize;
        let mut buf = vec![0; avail];
        let got = self.read_at(offset, &mut buf)?;
        buf.truncate(got);
        Ok(buf)
    }
}

impl ReadAt for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let data: &[u8] = self;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
}

impl ReadAt for Vec<u8> {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }
}

pub struct FileBlob {
    pub file: File,
    pub len: u64,
}

impl ReadAt for FileBlob {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let n = read_at_os(&self.file, &mut buf[done..], offset + done as u64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }
}

#[cfg(unix)]
fn read_at_os(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, off)
}

#[cfg(windows)]
fn read_at_os(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, off)
}

/// A field that cannot be read: the input ends first, or the file read fails.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("needs {n} bytes at offset {at} but the input ends at {len}")]
    Short { n: u64, at: u64, len: u64 },
    #[error("read error at offset {at}")]
    Io {
        at: u64,
        #[source]
        source: io::Error,
    },
    #[error("input ends inside the field at offset {at}")]
    Inside { at: u64 },
}

/// Sequential reads over `ReadAt` through one buffer: GGUF headers (hundreds of
/// thousands of small strings), the pickle emulator's input, decompressors (`Read`).
pub struct Cursor<'a> {
    src: &'a dyn ReadAt,
    pub pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a dyn ReadAt, pos: u64) -> Self {
        Cursor {
            src,
            pos,
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    pub fn remaining(&self) -> u64 {
        self.src.len().saturating_sub(self.pos)
    }

    /// The buffered bytes from the current position, at least `min` of them when the
    /// input has them (refilled as needed; empty at the end).
    pub fn window(&mut self, min: usize) -> io::Result<&[u8]> {
        let end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos + min as u64 > end || self.pos >= end {
            self.buf = self.src.bytes_at(self.pos, min.max(64 << 10))?;
            self.buf_start = self.pos;
        }
        Ok(&self.buf[(self.pos - self.buf_start) as usize..])
    }

    /// Exactly `n` bytes or an error naming the offset.
    pub fn take(&mut self, n: usize) -> Result<&[u8], ReadError> {
        if n as u64 > self.remaining() {
            return Err(ReadError::Short {
                n: n as u64,
                at: self.pos,
                len: self.src.len(),
            });
        }
        let at = self.pos;
        let w = self
            .window(n)
            .map_err(|source| ReadError::Io { at, source })?;
        if w.len() < n {
            return Err(ReadError::Inside { at });
        }
        self.pos += n as u64;
        let i = (at - self.buf_start) as usize;
        Ok(&self.buf[i..i + n])
    }

    pub fn skip(&mut self, n: u64) -> Result<(), ReadError> {
        if n > self.remaining() {
            return Err(ReadError::Short {
                n,
                at: self.pos,
                len: self.src.len(),
            });
        }
        self.pos += n;
        Ok(())
    }

    pub fn u8(&mut self) -> Result<u8, ReadError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, ReadError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub fn u64(&mut self) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

impl io::Read for Cursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let w = self.window(1)?;
        let n = buf.len().min(w.len());
        buf[..n].copy_from_slice(&w[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// A window of another blob (a stored archive member): nothing is copied.
pub struct SubBlob<'a> {
    pub src: &'a dyn ReadAt,
    pub start: u64,
    pub len: u64,
}

impl ReadAt for SubBlob<'_> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(self.len - offset) as usize;
        self.src.read_at(self.start + offset, &mut buf[..n])
    }
}
