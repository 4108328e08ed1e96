//! The NATS client against a hostile server: a real socket on loopback whose "server"
//! sends arbitrary protocol text (wrong lengths, huge sizes, cut messages, bad headers,
//! junk). The client must never panic or hang: every message it hands over is within
//! the limits, and everything else is a clear error or a timeout.

use parapet_trail::nats::Client;
use proptest::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

fn piece() -> impl Strategy<Value = Vec<u8>> {
    let len = prop_oneof![
        0usize..40,
        Just(4096usize),
        Just(usize::MAX),
        Just(99_999_999_999usize)
    ];
    prop_oneof![
        (len.clone(), any::<bool>()).prop_map(|(n, reply)| {
            let r = if reply {
                " $JS.ACK.S.c.1.2.3.1700000000000000000.0"
            } else {
                ""
            };
            let body = "x".repeat(n.min(40));
            format!("MSG s 1{r} {n}\r\n{body}\r\n").into_bytes()
        }),
        (len.clone(), len).prop_map(|(h, n)| {
            let head = "NATS/1.0 408 Request Timeout\r\n\r\n";
            format!("HMSG s 1 {h} {n}\r\n{head}\r\n").into_bytes()
        }),
        Just(b"PING\r\n".to_vec()),
        Just(b"+OK\r\n".to_vec()),
        Just(b"-ERR 'Authorization Violation'\r\n".to_vec()),
        Just(b"INFO {}\r\n".to_vec()),
        Just(b"MSG\r\n".to_vec()),
        Just(b"MSG s 1 -5\r\n".to_vec()),
        Just(b"HMSG s 1 9 3\r\nabc\r\n".to_vec()),
        Just(vec![b'A'; 5000]),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Serve one connection: a greeting (or junk), PONG to the client's PING, then `script`.
fn serve(greeting: Vec<u8>, script: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        // A client stuck on a broken greeting never sends CONNECT: give up and close.
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut w = sock.try_clone().unwrap();
        let _ = w.write_all(&greeting);
        let mut r = BufReader::new(sock);
        let mut line = String::new();
        // CONNECT, then PING.
        for _ in 0..2 {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
        }
        let _ = w.write_all(b"PONG\r\n");
        let _ = w.write_all(&script);
        // Closing ends every read the client is still waiting on.
    });
    addr
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn a_hostile_server_gets_errors_not_panics(
        junk_greeting in prop::option::weighted(0.1, prop::collection::vec(any::<u8>(), 0..80)),
        script in prop::collection::vec(piece(), 0..8),
    ) {
        let greeting = junk_greeting
            .unwrap_or_else(|| b"INFO {\"max_payload\": 1048576}\r\n".to_vec());
        let addr = serve(greeting, script.concat());
        let Ok(mut c) = Client::connect(&addr) else {
            return Ok(());
        };
        for _ in 0..20 {
            match c.next(Duration::from_millis(200)) {
                Ok(Some(m)) => prop_assert!(m.payload.len() <= (1 << 20) + 65_536),
                Ok(None) => break,
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    break;
                }
            }
        }
    }
}

/// A server that starts its greeting and never finishes it (nor closes) gets an error
/// once the handshake timeout passes; before, the client waited forever.
#[test]
fn a_greeting_that_never_ends_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.write_all(b"INFO {\"server_id\": ").unwrap();
        // Hold the connection open until the client has given up.
        let _ = done_rx.recv_timeout(Duration::from_secs(60));
    });
    let err = Client::connect(&addr)
        .err()
        .expect("no server greeting, no client");
    done_tx.send(()).unwrap();
    let msg = err.to_string();
    assert!(msg.contains(&addr), "the error names the server: {msg}");
}
