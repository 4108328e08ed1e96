//! Newline-delimited JSON-RPC over stdio with a size limit, answering what the SDK's own
//! stdio transport drops silently: an oversized line gets an Invalid Request error, a
//! line that is not JSON a Parse error, JSON of the wrong shape an Invalid Request (with
//! its id when one can be read). A client never waits on a message the gateway threw
//! away.

use rmcp::model::{ErrorData, JsonRpcMessage, RequestId};
use rmcp::service::{RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// Default largest message (one line) from the client: 4 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 4 << 20;

/// What one line from the client is.
#[derive(Debug)]
pub enum Frame {
    Message(Box<RxJsonRpcMessage<RoleServer>>),
    /// Not a message: answer with this error.
    Reject(ErrorData, Option<RequestId>),
    /// Blank line: nothing to do.
    Skip,
}

/// Decode one line (without its newline). Never panics; anything not a JSON-RPC message
/// the gateway understands becomes a [`Frame::Reject`].
pub fn decode(line: &[u8]) -> Frame {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Frame::Skip;
    }
    match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(line) {
        Ok(m) => Frame::Message(Box::new(m)),
        Err(e) if e.is_syntax() || e.is_eof() => Frame::Reject(
            ErrorData::parse_error(
                format!("not JSON (line {}, column {}): {e}", e.line(), e.column()),
                None,
            ),
            None,
        ),
        Err(e) => {
            // Well-formed JSON of the wrong shape: answer with its id when it has one.
            let value: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
            let id = value
                .get("id")
                .and_then(|id| serde_json::from_value::<RequestId>(id.clone()).ok());
            let what = if value.is_array() {
                "JSON-RPC batches are not part of MCP; send one message per line".to_string()
            } else {
                match value.get("method").and_then(Value::as_str) {
                    Some(m) => format!("{m}: {e}"),
                    None => format!("not a JSON-RPC 2.0 message: {e}"),
                }
            };
            Frame::Reject(ErrorData::invalid_request(what, None), id)
        }
    }
}

fn oversized(len: usize, max: usize) -> Frame {
    Frame::Reject(
        ErrorData::invalid_request(
            format!("message of more than {len} bytes exceeds the gateway's limit of {max} bytes (--max-message)"),
            None,
        ),
        None,
    )
}

/// Splits a byte stream into frames of at most `max` bytes per line. Pure: the I/O
/// side feeds it whatever it has read (and the fuzz target feeds it any split).
#[derive(Debug)]
pub struct Splitter {
    buf: Vec<u8>,
    max: usize,
    /// Inside an oversized line: drop bytes until its newline.
    discarding: bool,
}

impl Splitter {
    pub fn new(max: usize) -> Self {
        Splitter {
            buf: Vec::new(),
            max,
            discarding: false,
        }
    }

    /// Take bytes from `chunk`: how many were used, and the frame they completed.
    /// Call again with the rest while it returns a frame.
    pub fn push(&mut self, chunk: &[u8]) -> (usize, Option<Frame>) {
        let newline = chunk.iter().position(|&b| b == b'\n');
        let take = newline.map_or(chunk.len(), |i| i + 1);
        if self.discarding {
            if newline.is_some() {
                self.discarding = false;
            }
            return (take, None);
        }
        let body = newline.unwrap_or(chunk.len());
        if self.buf.len() + body > self.max {
            let seen = self.buf.len() + body;
            self.buf.clear();
            self.discarding = newline.is_none();
            return (take, Some(oversized(seen, self.max)));
        }
        self.buf.extend_from_slice(&chunk[..body]);
        if newline.is_none() {
            return (take, None);
        }
        let frame = decode(&self.buf);
        self.buf.clear();
        (take, Some(frame))
    }
}

/// Reads frames; cancel-safe (the one await is `fill_buf`, partial lines stay in the
/// splitter).
struct Lines<R> {
    read: BufReader<R>,
    split: Splitter,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    /// The next frame, or None at end of input or on a read error.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            let chunk = match self.read.fill_buf().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "reading from the client failed");
                    return None;
                }
            };
            if chunk.is_empty() {
                return None;
            }
            let (used, frame) = self.split.push(chunk);
            self.read.consume(used);
            if frame.is_some() {
                return frame;
            }
        }
    }
}

/// The downstream stdio transport (the agent's client on the other end).
pub struct FramedIo<R, W> {
    lines: Lines<R>,
    write: Arc<Mutex<Option<W>>>,
    /// Ids of the requests the gateway sent the client (elicitation, ping) that await
    /// an answer. A response to anything else is dropped: the SDK ends a session on a
    /// response it did not ask for (one sent before `initialize` ends it at once).
    asked: Arc<std::sync::Mutex<std::collections::HashSet<RequestId>>>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> FramedIo<R, W> {
    pub fn new(read: R, write: W, max_message: usize) -> Self {
        FramedIo {
            lines: Lines {
                read: BufReader::new(read),
                split: Splitter::new(max_message),
            },
            write: Arc::new(Mutex::new(Some(write))),
            asked: Arc::default(),
        }
    }
}

async fn write_line<W: AsyncWrite + Unpin>(
    write: &Mutex<Option<W>>,
    message: &TxJsonRpcMessage<RoleServer>,
) -> std::io::Result<()> {
    let mut line = match message {
        // JSON-RPC 2.0: an error to a request whose id could not be read carries
        // `"id": null` (the SDK leaves the member out).
        JsonRpcMessage::Error(e) if e.id.is_none() => {
            let mut value = serde_json::to_value(message).map_err(std::io::Error::other)?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("id".into(), Value::Null);
            }
            serde_json::to_vec(&value)
        }
        _ => serde_json::to_vec(message),
    }
    .map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut guard = write.lock().await;
    let w = guard
        .as_mut()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotConnected, "closed"))?;
    w.write_all(&line).await?;
    w.flush().await
}

impl<R, W> Transport<RoleServer> for FramedIo<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let JsonRpcMessage::Request(r) = &item {
            if let Ok(mut asked) = self.asked.lock() {
                asked.insert(r.id.clone());
            }
        }
        let write = self.write.clone();
        async move { write_line(&write, &item).await }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            match self.lines.next().await? {
                Frame::Message(m) => {
                    let answered = match &*m {
                        JsonRpcMessage::Response(r) => Some(Some(&r.id)),
                        JsonRpcMessage::Error(e) => Some(e.id.as_ref()),
                        _ => None,
                    };
                    let Some(id) = answered else {
                        return Some(*m);
                    };
                    let ours = id.is_some_and(|id| {
                        self.asked.lock().map(|mut a| a.remove(id)).unwrap_or(false)
                    });
                    if ours {
                        return Some(*m);
                    }
                    tracing::warn!(id = ?id, "dropped a response to no request of the gateway's");
                }
                Frame::Skip => {}
                Frame::Reject(error, id) => {
                    tracing::warn!(code = error.code.0, message = %error.message, "rejected a message from the client");
                    let reply = JsonRpcMessage::error(error, id);
                    if write_line(&self.write, &reply).await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        if let Some(mut w) = self.write.lock().await.take() {
            w.shutdown().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &'static [u8], max: usize) -> Vec<Frame> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut lines = Lines {
                read: BufReader::with_capacity(7, input),
                split: Splitter::new(max),
            };
            let mut out = Vec::new();
            while let Some(f) = lines.next().await {
                out.push(f);
            }
            out
        })
    }

    #[test]
    fn a_request_a_garbage_line_and_a_wrong_shape() {
        let got = frames(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n\nnot json\n{\"jsonrpc\":\"2.0\",\"id\":\"x\"}\n[1,2]\n",
            1 << 10,
        );
        assert!(matches!(got[0], Frame::Message(_)));
        assert!(matches!(got[1], Frame::Skip));
        assert!(matches!(&got[2], Frame::Reject(e, None) if e.code.0 == -32700));
        assert!(
            matches!(&got[3], Frame::Reject(e, Some(RequestId::String(s))) if e.code.0 == -32600 && &**s == "x")
        );
        assert!(matches!(&got[4], Frame::Reject(e, None) if e.message.contains("batches")));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn an_oversized_line_is_refused_and_the_next_one_read() {
        let got = frames(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n",
            60,
        );
        assert!(
            matches!(&got[0], Frame::Reject(e, None) if e.message.contains("limit of 60 bytes"))
        );
        assert!(matches!(&got[1], Frame::Message(_)));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn an_unterminated_last_line_is_not_a_message() {
        let got = frames(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
            1 << 10,
        );
        assert!(got.is_empty());
    }
}
