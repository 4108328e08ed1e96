//! The stdio transport towards a child MCP server, with the same bounded framing as the
//! client side. The SDK's own transport drops a line over its limit and logs it, so the
//! call it answered waits for the call timeout; here an oversized or unreadable answer
//! fails its call at once with an error that says so, and an oversized or unreadable
//! request from the server is answered with an error instead of being left waiting.

use super::lines::{Line, LineReader};
use rmcp::model::{ErrorData, JsonRpcMessage, RequestId};
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

pub struct UpstreamIo<R, W> {
    read: LineReader<R>,
    max: usize,
    write: Arc<Mutex<Option<W>>>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> UpstreamIo<R, W> {
    pub fn new(read: R, write: W, max: usize) -> Self {
        UpstreamIo {
            read: LineReader::new(read, max, "the upstream MCP server"),
            max,
            write: Arc::new(Mutex::new(Some(write))),
        }
    }
}

async fn write_line<W: AsyncWrite + Unpin>(
    write: &Mutex<Option<W>>,
    message: &TxJsonRpcMessage<RoleClient>,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut guard = write.lock().await;
    let w = guard
        .as_mut()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotConnected, "closed"))?;
    w.write_all(&line).await?;
    w.flush().await
}

/// What to do with a line from the server that is not a message the SDK can take.
enum Refusal {
    /// Fail the gateway's own request `id` with this error.
    Answer(RequestId, ErrorData),
    /// Answer the server's request `id` with this error.
    Reply(RequestId, ErrorData),
    /// Nothing to answer (a notification, or no id could be read).
    Drop(String),
}

fn refuse(id: Option<RequestId>, is_request: bool, error: ErrorData) -> Refusal {
    match id {
        Some(id) if is_request => Refusal::Reply(id, error),
        Some(id) => Refusal::Answer(id, error),
        None => Refusal::Drop(error.message.into_owned()),
    }
}

/// Read one line from the server: the message, or what to do instead.
fn read_line(bytes: &[u8]) -> Option<Result<RxJsonRpcMessage<RoleClient>, Refusal>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<RxJsonRpcMessage<RoleClient>>(bytes) {
        Ok(m) => Some(Ok(m)),
        Err(e) => {
            let value: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
            let id = value
                .get("id")
                .and_then(|id| serde_json::from_value::<RequestId>(id.clone()).ok());
            let is_request = value.get("method").is_some();
            let error = ErrorData::internal_error(
                format!(
                    "the upstream MCP server sent a message that is not MCP ({}); nothing of it was passed on",
                    if e.is_syntax() || e.is_eof() {
                        format!("not JSON: {e}")
                    } else {
                        "JSON of another shape".into()
                    }
                ),
                None,
            );
            Some(Err(refuse(id, is_request, error)))
        }
    }
}

impl<R, W> Transport<RoleClient> for UpstreamIo<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        let write = self.write.clone();
        async move { write_line(&write, &item).await }
    }

    /// Cancel-safe: the one await is `fill_buf`; replies to the server are written by
    /// their own task, so a cancelled receive never cuts a line in half.
    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let line = self.read.next().await?;
            let read = match line {
                Line::Whole(bytes) => match read_line(&bytes) {
                    None => continue,
                    Some(r) => r,
                },
                Line::Oversized { len, envelope } => {
                    let error = ErrorData::internal_error(
                        format!(
                            "the upstream MCP server's message of {len} bytes exceeds the gateway's limit of {} bytes (--max-message); nothing of it was passed on",
                            self.max
                        ),
                        None,
                    );
                    Err(refuse(envelope.id, envelope.has_method, error))
                }
            };
            match read {
                Ok(message) => return Some(message),
                Err(Refusal::Answer(id, error)) => {
                    tracing::warn!(id = ?id, message = ?error.message, "failed a call on the upstream's unreadable answer");
                    return Some(JsonRpcMessage::error(error, Some(id)));
                }
                Err(Refusal::Reply(id, error)) => {
                    tracing::warn!(id = ?id, message = ?error.message, "refused a request of the upstream's");
                    let write = self.write.clone();
                    let reply = JsonRpcMessage::error(
                        ErrorData::invalid_request(error.message, None),
                        Some(id),
                    );
                    tokio::spawn(async move {
                        if let Err(e) = write_line(&write, &reply).await {
                            tracing::debug!(error = %e, "could not answer the upstream");
                        }
                    });
                }
                Err(Refusal::Drop(why)) => {
                    tracing::warn!(message = ?why, "dropped a message from the upstream")
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
