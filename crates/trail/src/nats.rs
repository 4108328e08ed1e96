//! CloudTrail from a NATS JetStream subject: a minimal, synchronous client speaking the
//! NATS text protocol (INFO/CONNECT/PING/SUB/PUB/MSG/HMSG) and the JetStream API over
//! request/reply (stream info and create, durable pull consumers, fetch, ack).
//!
//! Messages carry CloudTrail in any shape the file readers accept (a record, JSON
//! lines, `{"Records": [...]}`, gzip). Each message is acknowledged after the caller
//! has processed it, so a restart resumes where the durable consumer stopped.
//! Everything read from the server is bounded: control lines (4 KiB), payloads (the
//! server's `max_payload`, at most 64 MiB).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("NATS {addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("NATS protocol: {0}")]
    Protocol(String),
    #[error("JetStream: {0}")]
    JetStream(String),
}

/// A message delivered to a subscription.
#[derive(Debug)]
pub struct Msg {
    pub subject: String,
    pub reply: Option<String>,
    /// `NATS/1.0 404 No Messages` and the like, for status messages.
    pub status: Option<u16>,
    pub payload: Vec<u8>,
}

pub struct Client {
    addr: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    inbox: String,
    next_id: u64,
    max_payload: usize,
    /// The socket's read timeout as last set (setting it is a system call).
    read_timeout: Option<Duration>,
}

const MAX_LINE: usize = 4096;

/// How long connecting and the INFO/CONNECT/PING exchange may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Once a message has begun to arrive, how long the rest of it may take.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Append one `PUB` (subject, optional reply, payload) to `b`.
fn frame_pub(b: &mut Vec<u8>, subject: &str, reply: Option<&str>, payload: &[u8]) {
    use std::io::Write as _;
    let _ = match reply {
        Some(r) => write!(b, "PUB {subject} {r} {}\r\n", payload.len()),
        None => write!(b, "PUB {subject} {}\r\n", payload.len()),
    };
    b.extend_from_slice(payload);
    b.extend_from_slice(b"\r\n");
}

/// Connect to the first address `addr` resolves to that answers within the handshake
/// timeout.
fn connect_any(addr: &str) -> std::io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, HANDSHAKE_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no address to connect to")
    }))
}

impl Client {
    /// Connect to `nats://host:port` (or `host:port`).
    pub fn connect(url: &str) -> Result<Client, NatsError> {
        let addr = url
            .trim_start_matches("nats://")
            .trim_end_matches('/')
            .to_string();
        let io = |source| NatsError::Io {
            addr: addr.clone(),
            source,
        };
        let stream = connect_any(&addr).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        // A server that stops half-way through the handshake is an error, not a hang.
        stream
            .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(io)?;
        let writer = stream.try_clone().map_err(io)?;
        let mut c = Client {
            addr: addr.clone(),
            // Large enough that one read takes in many messages of a busy stream.
            reader: BufReader::with_capacity(256 << 10, stream),
            writer,
            inbox: format!("_INBOX.parapet.{:x}", rand_u64()),
            next_id: 0,
            max_payload: 1 << 20,
            read_timeout: Some(HANDSHAKE_TIMEOUT),
        };
        let info = c.line()?;
        let Some(json) = info.strip_prefix("INFO ") else {
            return Err(NatsError::Protocol(format!(
                "expected INFO, got {:?}",
                clip(&info)
            )));
        };
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(json) {
            if let Some(m) = v.get("max_payload").and_then(|m| m.as_u64()) {
                c.max_payload = (m as usize).min(64 << 20);
            }
        }
        c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"rust\",\"name\":\"parapet\",\"protocol\":1,\"headers\":true,\"no_responders\":true}\r\nPING\r\n")?;
        loop {
            let l = c.line()?;
            match l.as_str() {
                "PONG" => break,
                "PING" => c.send(b"PONG\r\n")?,
                l if l.starts_with("-ERR") => return Err(NatsError::Protocol(l.to_string())),
                _ => {}
            }
        }
        let sub = format!("SUB {}.* 1\r\n", c.inbox);
        c.send(sub.as_bytes())?;
        Ok(c)
    }

    fn io(&self, source: std::io::Error) -> NatsError {
        NatsError::Io {
            addr: self.addr.clone(),
            source,
        }
    }

    fn send(&mut self, b: &[u8]) -> Result<(), NatsError> {
        self.writer.write_all(b).map_err(|e| NatsError::Io {
            addr: self.addr.clone(),
            source: e,
        })
    }

    /// Whether bytes already read from the socket are waiting to be parsed.
    fn buffered(&self) -> bool {
        !self.reader.buffer().is_empty()
    }

    fn set_read_timeout(&mut self, t: Duration) -> Result<(), NatsError> {
        if self.read_timeout != Some(t) {
            self.reader
                .get_ref()
                .set_read_timeout(Some(t))
                .map_err(|e| self.io(e))?;
            self.read_timeout = Some(t);
        }
        Ok(())
    }

    fn line(&mut self) -> Result<String, NatsError> {
        let mut buf = Vec::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .map_err(|e| self.io(e))?;
        if n == 0 {
            return Err(NatsError::Protocol(
                "connection closed by the server".into(),
            ));
        }
        if !buf.ends_with(b"\n") {
            return Err(NatsError::Protocol(format!(
                "control line longer than {MAX_LINE} bytes"
            )));
        }
        let s = String::from_utf8(buf)
            .map_err(|_| NatsError::Protocol("control line is not UTF-8".into()))?;
        Ok(s.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Publish `payload` to `subject`.
    pub fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        payload: &[u8],
    ) -> Result<(), NatsError> {
        let mut b = Vec::with_capacity(payload.len() + 64);
        frame_pub(&mut b, subject, reply, payload);
        self.send(&b)
    }

    /// Wait up to `timeout` for the next message on any subscription (None on timeout).
    pub fn next(&mut self, timeout: Duration) -> Result<Option<Msg>, NatsError> {
        loop {
            // Only the wait for a message's first byte may time out: a timeout inside
            // a line or a payload would lose the bytes already read and the stream's
            // framing with them.
            if !self.buffered() {
                self.set_read_timeout(timeout.max(Duration::from_millis(1)))?;
                match self.reader.fill_buf() {
                    Ok([]) => {
                        return Err(NatsError::Protocol(
                            "connection closed by the server".into(),
                        ))
                    }
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        return Ok(None)
                    }
                    Err(e) => return Err(self.io(e)),
                }
            }
            self.set_read_timeout(MESSAGE_TIMEOUT)?;
            let l = self.line()?;
            if l == "PING" {
                self.send(b"PONG\r\n")?;
                continue;
            }
            if l == "PONG" || l == "+OK" || l.is_empty() {
                continue;
            }
            if l.starts_with("-ERR") {
                return Err(NatsError::Protocol(l));
            }
            if l.starts_with("INFO ") {
                continue;
            }
            let parts: Vec<&str> = l.split_ascii_whitespace().collect();
            let (subject, reply, hdr_len, total) = match parts.as_slice() {
                ["MSG", s, _sid, n] => (*s, None, 0, *n),
                ["MSG", s, _sid, r, n] => (*s, Some(*r), 0, *n),
                ["HMSG", s, _sid, h, n] => (*s, None, parse_len(h)?, *n),
                ["HMSG", s, _sid, r, h, n] => (*s, Some(*r), parse_len(h)?, *n),
                _ => return Err(NatsError::Protocol(format!("unexpected {:?}", clip(&l)))),
            };
            let total = parse_len(total)?;
            if total > self.max_payload + 65_536 || hdr_len > total {
                return Err(NatsError::Protocol(format!(
                    "message of {total} bytes is over the limit"
                )));
            }
            let mut body = vec![0u8; total + 2];
            self.reader.read_exact(&mut body).map_err(|e| self.io(e))?;
            body.truncate(total);
            let status = (hdr_len > 0)
                .then(|| {
                    let head = String::from_utf8_lossy(&body[..hdr_len]);
                    head.lines()
                        .next()
                        .and_then(|first| first.split_ascii_whitespace().nth(1))
                        .and_then(|c| c.parse::<u16>().ok())
                })
                .flatten();
            let payload = body.split_off(hdr_len);
            return Ok(Some(Msg {
                subject: subject.to_string(),
                reply: reply.map(String::from),
                status,
                payload,
            }));
        }
    }

    /// Send a request and wait for its reply.
    pub fn request(
        &mut self,
        subject: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Msg, NatsError> {
        self.next_id += 1;
        let reply = format!("{}.{}", self.inbox, self.next_id);
        self.publish(subject, Some(&reply), payload)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(NatsError::JetStream(format!(
                    "no reply to {subject} within {timeout:?}"
                )));
            }
            match self.next(left)? {
                Some(m) if m.subject == reply => {
                    if m.status == Some(503) {
                        return Err(NatsError::JetStream(format!(
                            "no responders for {subject}: is JetStream enabled?"
                        )));
                    }
                    return Ok(m);
                }
                _ => continue,
            }
        }
    }

    fn js(&mut self, api: &str, body: &serde_json::Value) -> Result<serde_json::Value, NatsError> {
        let m = self.request(
            &format!("$JS.API.{api}"),
            body.to_string().as_bytes(),
            Duration::from_secs(5),
        )?;
        let v: serde_json::Value = serde_json::from_slice(&m.payload)
            .map_err(|e| NatsError::JetStream(format!("{api}: reply is not JSON: {e}")))?;
        if let Some(err) = v.get("error") {
            return Err(NatsError::JetStream(format!(
                "{api}: {}",
                err.get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or("error")
            )));
        }
        Ok(v)
    }
}

fn parse_len(s: &str) -> Result<usize, NatsError> {
    s.parse()
        .map_err(|_| NatsError::Protocol(format!("bad length {:?}", clip(s))))
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// A durable pull consumer on a JetStream stream.
pub struct Consumer {
    client: Client,
    stream: String,
    durable: String,
    pending_acks: Vec<String>,
    /// Open pull requests: reply subject and how many messages it may still bring.
    pulls: Vec<(String, usize)>,
}

impl Consumer {
    /// Bind to `stream` (created over `subject` when it does not exist) with the durable
    /// consumer `durable` (created when missing; it resumes where it stopped).
    pub fn open(
        url: &str,
        stream: &str,
        subject: &str,
        durable: &str,
    ) -> Result<Consumer, NatsError> {
        for (what, name) in [("stream", stream), ("consumer", durable)] {
            if name.is_empty() || name.contains(['.', '*', '>', ' ']) {
                return Err(NatsError::JetStream(format!(
                    "{what} name {name:?} must be non-empty, without '.', '*', '>' or spaces"
                )));
            }
        }
        let mut client = Client::connect(url)?;
        if client
            .js(&format!("STREAM.INFO.{stream}"), &serde_json::json!({}))
            .is_err()
        {
            client.js(
                &format!("STREAM.CREATE.{stream}"),
                &serde_json::json!({"name": stream, "subjects": [subject], "storage": "file", "retention": "limits"}),
            )?;
        }
        client.js(
            &format!("CONSUMER.DURABLE.CREATE.{stream}.{durable}"),
            &serde_json::json!({"stream_name": stream, "config": {
                "durable_name": durable, "ack_policy": "explicit", "deliver_policy": "all",
                "filter_subject": subject, "ack_wait": 60_000_000_000u64, "max_ack_pending": 20_000}}),
        )?;
        Ok(Consumer {
            client,
            stream: stream.to_string(),
            durable: durable.to_string(),
            pending_acks: Vec::new(),
            pulls: Vec::new(),
        })
    }

    /// Up to `batch` messages, waiting at most `wait` for the first and returning as
    /// soon as no more are already here. A pull request stays open between calls (a
    /// new one is sent when fewer than `batch` messages are still asked for), so a
    /// message is handed over when it arrives: waiting for a batch to fill kept alerts
    /// back for up to `wait` on a slow stream.
    pub fn fetch(&mut self, batch: usize, wait: Duration) -> Result<Vec<Msg>, NatsError> {
        let asked: usize = self.pulls.iter().map(|(_, n)| n).sum();
        if asked < batch {
            self.client.next_id += 1;
            let reply = format!("{}.{}", self.client.inbox, self.client.next_id);
            let req = serde_json::json!({"batch": batch, "expires": wait.as_nanos() as u64});
            let subject = format!("$JS.API.CONSUMER.MSG.NEXT.{}.{}", self.stream, self.durable);
            self.client
                .publish(&subject, Some(&reply), req.to_string().as_bytes())?;
            self.pulls.push((reply, batch));
        }
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + wait + Duration::from_millis(500);
        while out.len() < batch && !self.pulls.is_empty() {
            // The first message may take until the deadline; after it, only what has
            // been read already. Waiting even 1 ms for more held a batch open for as
            // long as messages kept coming about that often: at 1,000 events/s, up to
            // a whole batch (a quarter of a second) of alert latency.
            if !out.is_empty() && !self.client.buffered() {
                break;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if out.is_empty() && left.is_zero() {
                break;
            }
            let Some(m) = self.client.next(left)? else {
                break;
            };
            if m.status.is_some() {
                // A request ended (expired, or the consumer refused it); its status
                // comes on its own reply subject.
                self.pulls.retain(|(r, _)| *r != m.subject);
                continue;
            }
            if !m
                .reply
                .as_deref()
                .is_some_and(|r| r.starts_with("$JS.ACK."))
            {
                continue;
            }
            // Messages carry their stream subject, not the request's: JetStream serves
            // requests in order, so each one counts against the oldest.
            if let Some(first) = self.pulls.first_mut() {
                first.1 -= 1;
                if first.1 == 0 {
                    self.pulls.remove(0);
                }
            }
            out.push(m);
        }
        Ok(out)
    }

    /// Remember `m` for acknowledgement (sent by [`Consumer::ack_pending`]).
    pub fn will_ack(&mut self, m: &Msg) {
        if let Some(r) = &m.reply {
            self.pending_acks.push(r.clone());
        }
    }

    /// Acknowledge every message remembered so far, in one write (a write per ack
    /// was what held a 50k events/s stream back).
    pub fn ack_pending(&mut self) -> Result<(), NatsError> {
        if self.pending_acks.is_empty() {
            return Ok(());
        }
        let mut b = Vec::with_capacity(self.pending_acks.len() * 64);
        for r in self.pending_acks.drain(..) {
            frame_pub(&mut b, &r, None, b"+ACK");
        }
        self.client.send(&b)
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}
