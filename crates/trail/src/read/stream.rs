//! Files and standard input, read as they arrive. gzip is decompressed on the fly,
//! JSON lines go a record at a time (memory holds one record however large the input,
//! and the whole-document limit does not apply), and only a single JSON document (S3's
//! `{"Records": [...]}`, an array) is held whole, up to the document limit.

use super::{read_line, read_text, skip, starts_json_lines, without_bom, Item, Limits};
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::Path;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How much is read before telling JSON lines from one document; the first record
/// must be whole in it to be recognised.
const HEAD: u64 = 1 << 20;

/// Read one file (or `-`, standard input).
pub fn read_file(path: &Path, limits: Limits, out: &mut dyn FnMut(Item)) {
    if path.as_os_str() == "-" {
        return read_stream("stdin", std::io::stdin().lock(), None, limits, out);
    }
    let name = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(f) => {
            let size = f.metadata().ok().map(|m| m.len());
            read_stream(&name, f, size, limits, out)
        }
        Err(e) => out(skip(&name, format!("cannot read: {e}"))),
    }
}

/// Read one input from `r` (`size` bytes long, when known), gzip or plain.
fn read_stream(
    name: &str,
    mut r: impl Read,
    size: Option<u64>,
    limits: Limits,
    out: &mut dyn FnMut(Item),
) {
    let mut magic = Vec::with_capacity(2);
    if let Err(e) = r.by_ref().take(2).read_to_end(&mut magic) {
        return out(skip(name, format!("cannot read: {e}")));
    }
    let gzip = magic == GZIP_MAGIC;
    let r = Cursor::new(magic).chain(r);
    if gzip {
        read_decoded(
            name,
            flate2::read::MultiGzDecoder::new(r),
            Source::Gzip,
            limits,
            out,
        )
    } else {
        read_decoded(name, r, Source::Plain { size }, limits, out)
    }
}

/// Decompressed gzip, in memory: JSON lines stream from the decoder, so a large export
/// never has to fit whole.
pub(super) fn read_gzip(name: &str, bytes: &[u8], limits: Limits, out: &mut dyn FnMut(Item)) {
    read_decoded(
        name,
        flate2::read::MultiGzDecoder::new(bytes),
        Source::Gzip,
        limits,
        out,
    )
}

/// Where the bytes `read_decoded` reads come from.
#[derive(Clone, Copy)]
enum Source {
    Gzip,
    /// `size` when known: a file over the document limit is refused before it is read.
    Plain {
        size: Option<u64>,
    },
}

/// Read plain (or decompressed) bytes from `r`.
fn read_decoded(
    name: &str,
    mut r: impl Read,
    source: Source,
    limits: Limits,
    out: &mut dyn FnMut(Item),
) {
    let broken = |at: &str, e: &std::io::Error| match source {
        Source::Gzip => format!("gzip stream broken {at}: {e}"),
        Source::Plain { .. } => format!("cannot read {at}: {e}"),
    };
    let mut head = Vec::new();
    let first = r.by_ref().take(HEAD).read_to_end(&mut head);
    let body = without_bom(&head);
    if first.is_ok() && starts_json_lines(body) {
        let bom = head.len() - body.len();
        let mut rest = Cursor::new(head);
        rest.set_position(bom as u64);
        let mut lines = BufReader::with_capacity(1 << 20, rest.chain(r));
        if let Err((line, e)) = stream_lines(name, &mut lines, limits, out) {
            out(skip(name, broken(&format!("at line {line}"), &e)));
        }
        return;
    }
    if let (Source::Plain { size: Some(n) }, Ok(_)) = (source, &first) {
        if n > limits.max_document as u64 {
            return out(skip(
                name,
                format!("{n} bytes is over the {} byte limit", limits.max_document),
            ));
        }
        head.reserve_exact((n as usize).saturating_sub(head.len()));
    }
    let mut failed = first.err();
    if failed.is_none() {
        let room = (limits.max_document as u64 + 1).saturating_sub(head.len() as u64);
        failed = r.take(room).read_to_end(&mut head).err();
    }
    if let Some(e) = failed {
        // Keep what was read: whole records before the cut are good.
        out(skip(
            name,
            broken(&format!("after {} bytes", head.len()), &e),
        ));
    }
    if head.len() > limits.max_document {
        let what = match source {
            Source::Gzip => "decompresses",
            Source::Plain { .. } => "is",
        };
        return out(skip(
            name,
            format!("{what} past the {} byte limit", limits.max_document),
        ));
    }
    read_text(name, &head, limits, out);
}

/// JSON lines read from `r` a line at a time: memory holds one record however large
/// the input, and the whole-document limit does not apply. Items are the same as
/// [`super::read_lines`] gives for the same bytes (a test holds the two side by side).
/// A read error stops it with the line it was reading.
fn stream_lines(
    name: &str,
    r: &mut impl std::io::BufRead,
    limits: Limits,
    out: &mut dyn FnMut(Item),
) -> Result<(), (usize, std::io::Error)> {
    let mut buf = Vec::new();
    let mut i = 0;
    // Room for the longest record allowed, its `\r\n`, and one byte to tell it is longer.
    let keep = limits.max_record as u64 + 3;
    loop {
        buf.clear();
        let n = r
            .by_ref()
            .take(keep)
            .read_until(b'\n', &mut buf)
            .map_err(|e| (i + 1, e))?;
        if n == 0 {
            return Ok(());
        }
        i += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            read_line(name, i, &buf, buf.len(), limits, out);
            continue;
        }
        // Cut at `keep` (or the input ended): count the rest of the line, keep none of
        // it. Its length leaves out a final `\r`, as a whole read's does.
        let (mut len, mut last) = (buf.len(), buf.last().copied());
        loop {
            let avail = r.fill_buf().map_err(|e| (i, e))?;
            if avail.is_empty() {
                break;
            }
            let (taken, newline) = match memchr::memchr(b'\n', avail) {
                Some(p) => (p, true),
                None => (avail.len(), false),
            };
            if taken > 0 {
                last = Some(avail[taken - 1]);
            }
            len += taken;
            r.consume(taken + usize::from(newline));
            if newline {
                break;
            }
        }
        if len > buf.len() && last == Some(b'\r') {
            len -= 1;
        }
        read_line(name, i, &buf, len, limits, out);
    }
}
