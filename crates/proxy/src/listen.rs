//! The listener: hyper's HTTP/1.1 server with bounds on heads (bytes, header count,
//! time to send), connections served at once, and a [`Tracker`] on each connection's
//! bytes that tells handlers what hyper does not (head size, conflicting framing).
//!
//! Two tiers of header limits: heads up to `max_header_bytes` and `max_headers` pass;
//! heads above them but within twice the limits get an AWS-shaped 400 from the
//! handler; beyond that hyper itself answers 431 and closes the connection.

use crate::frame::{Facts, Tracker};
use crate::handle::{handle, Shared};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A connection whose incoming bytes also go through a [`Tracker`].
struct Sniffed {
    inner: TcpStream,
    tracker: Tracker,
}

impl AsyncRead for Sniffed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.tracker.feed(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for Sniffed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Serve `listener` until `shutdown` resolves; then stop accepting and give requests
/// in flight (holds included) time to finish.
pub async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let limits = shared.config.limits.clone();
    let backstop_bytes = limits.max_header_bytes.saturating_mul(2).max(16 << 10);
    let backstop_count = limits.max_headers.saturating_mul(2).max(16);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.timeouts.client_head)
        .max_header_size(backstop_bytes)
        .max_buf_size(backstop_bytes.max(256 << 10))
        .max_headers(backstop_count)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let facts = Facts::default();
        let io = Sniffed {
            inner: stream,
            tracker: Tracker::new(facts.clone(), backstop_bytes, backstop_count),
        };
        let s = shared.clone();
        let svc = service_fn(move |req| {
            let s = s.clone();
            // hyper serves one request of a connection at a time, in order: this is
            // the head the tracker saw for it.
            let f = facts.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
            async move { Ok::<_, Infallible>(handle(s, req, f).await) }
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(io), svc));
        let s = shared.clone();
        tokio::spawn(async move {
            let _open = s.metrics.connection();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    let grace = shared.config.hold + Duration::from_secs(5);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            "connections still open after the grace period; closing"
        );
    }
    Ok(())
}

/// Serve only the metrics (and a health check) on their own listener.
pub async fn serve_metrics(shared: Arc<Shared>, listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let s = shared.clone();
        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let s = s.clone();
            async move {
                Ok::<_, Infallible>(
                    crate::handle::own_endpoint(&s, req.uri().path())
                        .unwrap_or_else(crate::handle::not_found),
                )
            }
        });
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
