//! Request and response bodies: read whole (bounded) when the proxy must see them, or
//! streamed with checks. A streamed body whose integrity is only known at its end (a
//! declared sha256, signed aws-chunked) keeps its last piece back until the check
//! passes: the upstream never receives a complete body that failed, because its
//! Content-Length is never reached. Every body has an idle timeout.

use crate::reply::{BoxError, ProxyBody};
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use parapet_sigv4::{ChunkedDecoder, PayloadHasher, SigError};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is over the {limit}-byte limit for a body the proxy reads")]
    TooLarge { limit: u64 },
    #[error("the body sent nothing for {0:?}")]
    Idle(Duration),
    #[error("the client's body failed: {0}")]
    Client(#[source] BoxError),
    #[error(transparent)]
    Sig(#[from] SigError),
}

/// A check over a body's bytes: may transform them (aws-chunked decoding), and says at
/// the end whether the whole was sound.
pub trait Check: Send + 'static {
    fn feed(&mut self, data: Bytes) -> Result<Bytes, SigError>;
    fn finish(&mut self) -> Result<(), SigError>;
}

/// A declared sha256: bytes pass unchanged.
pub struct HashCheck(Option<PayloadHasher>);

impl HashCheck {
    pub fn new(declared_hex: &str) -> HashCheck {
        HashCheck(Some(PayloadHasher::new(declared_hex)))
    }
}

impl Check for HashCheck {
    fn feed(&mut self, data: Bytes) -> Result<Bytes, SigError> {
        if let Some(h) = &mut self.0 {
            h.update(&data);
        }
        Ok(data)
    }

    fn finish(&mut self) -> Result<(), SigError> {
        match self.0.take() {
            Some(h) => h.finish().map(drop),
            None => Ok(()),
        }
    }
}

/// aws-chunked: decoded (and, signed, each chunk verified) into the payload.
pub struct ChunkCheck {
    decoder: Option<ChunkedDecoder>,
    out: Vec<u8>,
}

impl ChunkCheck {
    pub fn new(decoder: ChunkedDecoder) -> ChunkCheck {
        ChunkCheck {
            decoder: Some(decoder),
            out: Vec::new(),
        }
    }
}

impl Check for ChunkCheck {
    fn feed(&mut self, data: Bytes) -> Result<Bytes, SigError> {
        let Some(d) = &mut self.decoder else {
            return Ok(Bytes::new());
        };
        self.out.clear();
        d.feed(&data, &mut self.out)?;
        Ok(Bytes::copy_from_slice(&self.out))
    }

    fn finish(&mut self) -> Result<(), SigError> {
        match self.decoder.take() {
            Some(d) => d.finish().map(drop),
            None => Ok(()),
        }
    }
}

/// Where a streamed body's failure is left for whoever forwarded it, to answer with
/// its AWS code rather than a generic upstream error.
pub type FailureSlot = Arc<Mutex<Option<SigError>>>;

pin_project_lite::pin_project! {
    /// A body under a [`Check`], its last piece held back until the check passes, with
    /// an idle timeout.
    pub struct Checked<B> {
        #[pin]
        inner: B,
        check: Box<dyn Check>,
        held: Option<Bytes>,
        ended: bool,
        failure: FailureSlot,
        idle: Duration,
        #[pin]
        timer: Sleep,
        // The length after checking (the decoded length of aws-chunked), if known.
        exact: Option<u64>,
    }
}

impl<B> Checked<B> {
    pub fn new(
        inner: B,
        check: Box<dyn Check>,
        idle: Duration,
        exact: Option<u64>,
        failure: FailureSlot,
    ) -> Self {
        Checked {
            inner,
            check,
            held: None,
            ended: false,
            failure,
            idle,
            timer: tokio::time::sleep(idle),
            exact,
        }
    }
}

impl<B> Body for Checked<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        loop {
            if *this.ended {
                return Poll::Ready(this.held.take().map(|b| Ok(Frame::data(b))));
            }
            let polled = this.inner.as_mut().poll_frame(cx);
            let frame = match polled {
                Poll::Pending => {
                    if this.timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Some(Err(Box::new(BodyError::Idle(*this.idle)))));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(f) => f,
            };
            let deadline = Instant::now() + *this.idle;
            this.timer.as_mut().reset(deadline);
            match frame {
                None => {
                    *this.ended = true;
                    if let Err(e) = this.check.finish() {
                        *this.held = None;
                        *this.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                        return Poll::Ready(Some(Err(Box::new(BodyError::Sig(e)))));
                    }
                }
                Some(Err(e)) => {
                    return Poll::Ready(Some(Err(Box::new(BodyError::Client(e.into())))))
                }
                Some(Ok(f)) => {
                    // Trailers of the client's own HTTP chunking are not forwarded.
                    let Ok(data) = f.into_data() else { continue };
                    match this.check.feed(data) {
                        Err(e) => {
                            *this.ended = true;
                            *this.held = None;
                            *this.failure.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(e.clone());
                            return Poll::Ready(Some(Err(Box::new(BodyError::Sig(e)))));
                        }
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => {
                            if let Some(prev) = this.held.replace(out) {
                                return Poll::Ready(Some(Ok(Frame::data(prev))));
                            }
                        }
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

pin_project_lite::pin_project! {
    /// A body that fails after `idle` without a frame (upstream responses).
    pub struct Idle<B> {
        #[pin]
        inner: B,
        idle: Duration,
        #[pin]
        timer: Sleep,
    }
}

impl<B> Idle<B> {
    pub fn new(inner: B, idle: Duration) -> Self {
        Idle {
            inner,
            idle,
            timer: tokio::time::sleep(idle),
        }
    }
}

impl<B> Body for Idle<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(BodyError::Idle(*this.idle)))))
            }
            Poll::Ready(f) => {
                let deadline = Instant::now() + *this.idle;
                this.timer.as_mut().reset(deadline);
                Poll::Ready(f.map(|r| r.map_err(Into::into)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Read a whole body, at most `limit` bytes after `check` (if any), with an idle
/// timeout between frames.
pub async fn read_all<B>(
    body: B,
    limit: u64,
    idle: Duration,
    mut check: Option<Box<dyn Check>>,
) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let mut body = body;
    let mut out = BytesMut::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(BodyError::Idle(idle)),
            Ok(None) => break,
            Ok(Some(f)) => f.map_err(|e| BodyError::Client(e.into()))?,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let data = match &mut check {
            Some(c) => c.feed(data)?,
            None => data,
        };
        if out.len() as u64 + data.len() as u64 > limit {
            return Err(BodyError::TooLarge { limit });
        }
        out.extend_from_slice(&data);
    }
    if let Some(c) = &mut check {
        c.finish()?;
    }
    Ok(out.freeze())
}

/// Box any body as the proxy's body type.
pub fn boxed<B>(b: B) -> ProxyBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    b.map_err(Into::into).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A body of the given pieces, one frame each.
    struct Parts(std::collections::VecDeque<Bytes>);

    impl Body for Parts {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> Parts {
        Parts(parts.iter().map(|p| Bytes::from_static(p)).collect())
    }

    const HELLO_SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[tokio::test]
    async fn a_matching_body_passes_whole() {
        let slot = FailureSlot::default();
        let b = Checked::new(
            chunks(&[b"he", b"l", b"lo"]),
            Box::new(HashCheck::new(HELLO_SHA)),
            Duration::from_secs(5),
            Some(5),
            slot.clone(),
        );
        let got = b.collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], b"hello");
        assert!(slot.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn a_mismatch_never_releases_the_last_piece() {
        let slot = FailureSlot::default();
        let mut b = std::pin::pin!(Checked::new(
            chunks(&[b"he", b"l", b"lX"]),
            Box::new(HashCheck::new(HELLO_SHA)),
            Duration::from_secs(5),
            Some(5),
            slot.clone()
        ));
        let mut seen = Vec::new();
        let mut failed = false;
        while let Some(f) = b.frame().await {
            match f {
                Ok(f) => seen.extend_from_slice(&f.into_data().unwrap()),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed);
        assert_eq!(seen, b"hel", "the last piece was held back");
        assert!(matches!(
            *slot.lock().unwrap(),
            Some(SigError::ContentSha256Mismatch { .. })
        ));
    }

    #[tokio::test]
    async fn read_all_is_bounded_and_checked() {
        let got = read_all(
            chunks(&[b"hel", b"lo"]),
            5,
            Duration::from_secs(5),
            Some(Box::new(HashCheck::new(HELLO_SHA))),
        )
        .await
        .unwrap();
        assert_eq!(&got[..], b"hello");
        let e = read_all(chunks(&[b"hel", b"lo"]), 4, Duration::from_secs(5), None)
            .await
            .unwrap_err();
        assert!(matches!(e, BodyError::TooLarge { limit: 4 }));
        let e = read_all(
            chunks(&[b"hel", b"lo!"]),
            9,
            Duration::from_secs(5),
            Some(Box::new(HashCheck::new(HELLO_SHA))),
        )
        .await
        .unwrap_err();
        assert!(matches!(
            e,
            BodyError::Sig(SigError::ContentSha256Mismatch { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_body_times_out() {
        let (_tx, body) = http_body_util::channel::Channel::<Bytes, BoxError>::new(1);
        let e = read_all(body, 10, Duration::from_secs(3), None)
            .await
            .unwrap_err();
        assert!(matches!(e, BodyError::Idle(_)));
        let (_tx, body) = http_body_util::channel::Channel::<Bytes, BoxError>::new(1);
        let mut idle = std::pin::pin!(Idle::new(body, Duration::from_secs(3)));
        assert!(idle.frame().await.unwrap().is_err());
    }
}
