//! Newline-delimited JSON-RPC over stdio with a size limit, answering what the SDK's own
//! stdio transport drops silently: an oversized line gets an Invalid Request error, a
//! line that is not JSON a Parse error, JSON of the wrong shape an Invalid Request (with
//! its id when one can be read). A client never waits on a message the gateway threw
//! away.

use rmcp::model::{ClientNotification, ErrorData, JsonRpcError, JsonRpcMessage, RequestId};
use rmcp::service::{RoleServer, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::lines::{Line, LineReader, LineSplitter};

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
            tracing::debug!(error = %e, "a message of the wrong shape");
            // Well-formed JSON of the wrong shape: answer with its id when it has one.
            let value: Value = serde_json::from_slice(line).unwrap_or(Value::Null);
            let id = value
                .get("id")
                .and_then(|id| serde_json::from_value::<RequestId>(id.clone()).ok());
            let what = explain_shape(&value);
            Frame::Reject(ErrorData::invalid_request(what, None), id)
        }
    }
}

/// Why well-formed JSON is not a JSON-RPC message, in the specification's terms (the
/// SDK's own error names its Rust types, which mean nothing to a client's author).
fn explain_shape(value: &Value) -> String {
    let Some(obj) = value.as_object() else {
        return if value.is_array() {
            "JSON-RPC batches are not part of MCP; send one message per line".into()
        } else {
            "a JSON-RPC message is a JSON object".into()
        };
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return "not a JSON-RPC 2.0 message: \"jsonrpc\" must be \"2.0\"".into();
    }
    if let Some(id) = obj.get("id") {
        if !(id.is_string() || id.is_i64() || id.is_u64()) {
            return "\"id\" must be a string or an integer".into();
        }
    }
    match obj.get("method") {
        Some(Value::String(m)) => match obj.get("params") {
            Some(p) if !p.is_object() => format!("{m}: \"params\" must be an object"),
            _ => format!("{m}: the message does not have the shape MCP gives this method"),
        },
        Some(_) => "\"method\" must be a string".into(),
        None if obj.contains_key("result") || obj.contains_key("error") => {
            "a response needs an \"id\" and one \"result\" or one \"error\" object".into()
        }
        None => "a message needs a \"method\" (a request or a notification) or a \"result\" or \"error\" (a response)".into(),
    }
}

fn oversized(len: usize, max: usize, id: Option<RequestId>) -> Frame {
    Frame::Reject(
        ErrorData::invalid_request(
            format!(
                "message of {len} bytes exceeds the gateway's limit of {max} bytes (--max-message)"
            ),
            None,
        ),
        id,
    )
}

/// Splits a byte stream into frames of at most `max` bytes per line. Pure: the I/O
/// side feeds it whatever it has read (and the fuzz target feeds it any split).
#[derive(Debug)]
pub struct Splitter {
    lines: LineSplitter,
    max: usize,
}

impl Splitter {
    pub fn new(max: usize) -> Self {
        Splitter {
            lines: LineSplitter::new(max),
            max,
        }
    }

    /// Take bytes from `chunk`: how many were used, and the frame they completed.
    /// Call again with the rest while it returns a frame.
    pub fn push(&mut self, chunk: &[u8]) -> (usize, Option<Frame>) {
        let (used, line) = self.lines.push(chunk);
        (used, line.map(|line| frame_of(line, self.max)))
    }
}

/// What a line from the client is.
fn frame_of(line: Line, max: usize) -> Frame {
    match line {
        Line::Whole(bytes) => decode(&bytes),
        // An oversized request is answered by its id; an oversized answer (to an
        // elicitation of ours) has no request of the client's to answer.
        Line::Oversized { len, envelope } => {
            oversized(len, max, envelope.id.filter(|_| envelope.has_method))
        }
    }
}

/// Reads frames; cancel-safe (see [`LineReader`]).
struct Lines<R> {
    read: LineReader<R>,
    max: usize,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    /// The next frame, or None at end of input or on a read error.
    async fn next(&mut self) -> Option<Frame> {
        let line = self.read.next().await?;
        Some(frame_of(line, self.max))
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
    /// Ids of the client's requests not yet answered. JSON-RPC ids are unique among
    /// requests in flight; a second request with a live id would make two answers with
    /// one id, and the client could take one for the other.
    in_flight: Arc<std::sync::Mutex<std::collections::HashSet<RequestId>>>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> FramedIo<R, W> {
    pub fn new(read: R, write: W, max_message: usize) -> Self {
        FramedIo {
            lines: Lines {
                read: LineReader::new(read, max_message, "the client"),
                max: max_message,
            },
            write: Arc::new(Mutex::new(Some(write))),
            asked: Arc::default(),
            in_flight: Arc::default(),
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

/// Write an answer from `receive` in its own task: `receive` is cancelled whenever the
/// SDK has something else to do, and a write cut short would corrupt the stream.
fn spawn_write<W: AsyncWrite + Unpin + Send + 'static>(
    write: &Arc<Mutex<Option<W>>>,
    reply: TxJsonRpcMessage<RoleServer>,
) {
    let write = write.clone();
    tokio::spawn(async move {
        if let Err(e) = write_line(&write, &reply).await {
            tracing::debug!(error = %e, "could not answer the client");
        }
    });
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<R, W> FramedIo<R, W> {
    /// Note a request or notification from the client; the error to answer instead
    /// when it reuses the id of a request still in flight.
    fn admit(
        &self,
        message: &RxJsonRpcMessage<RoleServer>,
    ) -> Option<TxJsonRpcMessage<RoleServer>> {
        match message {
            JsonRpcMessage::Request(r) => {
                if lock(&self.in_flight).insert(r.id.clone()) {
                    return None;
                }
                tracing::warn!(id = ?r.id, "refused a request reusing the id of one in flight");
                Some(JsonRpcMessage::error(
                    ErrorData::invalid_request(
                        format!("request id {} is already in use by a request the gateway has not answered yet; JSON-RPC ids must be unique among requests in flight", r.id),
                        None,
                    ),
                    Some(r.id.clone()),
                ))
            }
            JsonRpcMessage::Notification(n) => {
                // A cancelled request gets no answer: its id is free again.
                if let ClientNotification::CancelledNotification(c) = &n.notification {
                    if let Some(id) = &c.params.request_id {
                        lock(&self.in_flight).remove(id);
                    }
                }
                None
            }
            _ => None,
        }
    }
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
        match &item {
            JsonRpcMessage::Request(r) => {
                lock(&self.asked).insert(r.id.clone());
            }
            JsonRpcMessage::Response(r) => {
                lock(&self.in_flight).remove(&r.id);
            }
            JsonRpcMessage::Error(JsonRpcError { id: Some(id), .. }) => {
                lock(&self.in_flight).remove(id);
            }
            _ => {}
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
                        if let Some(reply) = self.admit(&m) {
                            spawn_write(&self.write, reply);
                            continue;
                        }
                        return Some(*m);
                    };
                    let ours = id.is_some_and(|id| lock(&self.asked).remove(id));
                    if ours {
                        return Some(*m);
                    }
                    tracing::warn!(id = ?id, "dropped a response to no request of the gateway's");
                }
                Frame::Skip => {}
                Frame::Reject(error, id) => {
                    tracing::warn!(code = error.code.0, message = ?error.message, "rejected a message from the client");
                    spawn_write(&self.write, JsonRpcMessage::error(error, id));
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
                read: LineReader::with_capacity(7, input, max),
                max,
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
            matches!(&got[0], Frame::Reject(e, Some(RequestId::Number(1))) if e.message.contains("limit of 60 bytes"))
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
