//! A fleet of raw ZMTP DEALER clients, for tests and probes that need more
//! connections than one process may hold next to the server:
//!
//! `fleet tcp://127.0.0.1:5555 10000`
//!
//! Opens the connections one after another (each completes its NULL handshake before
//! the next starts, so a small listen backlog is never overrun), then sends one request
//! on every connection, then reads every reply and checks it is the echo of its
//! request. Prints `open N`, then `served N`, then holds every connection open until its
//! standard input closes. Raises its RLIMIT_NOFILE to the hard limit first.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use monocoque_zmtp::{Event, Outgoing, Session, SessionConfig, SocketType};

struct Client {
    stream: TcpStream,
    session: Session,
    input: BytesMut,
}

impl Client {
    fn open(addr: &str) -> std::io::Result<Client> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut session = Session::new(SessionConfig::new(SocketType::Dealer), Instant::now());
        let mut out = Outgoing::new();
        let mut input = BytesMut::new();
        let mut buf = [0u8; 512];
        loop {
            // What came in, then what the session queued in answer (the greeting
            // goes in steps), and only then wait for more.
            let mut ready = false;
            while let Some(ev) = session.handle_input(&mut input).map_err(other)? {
                ready |= matches!(ev, Event::Ready(_));
            }
            session.poll_transmit(&mut out);
            stream.write_all(&out.copy_to_bytes(out.remaining()))?;
            if ready {
                return Ok(Client {
                    stream,
                    session,
                    input,
                });
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(other("server closed during the handshake"));
            }
            input.extend_from_slice(&buf[..n]);
        }
    }

    fn request(&mut self, body: &[u8]) -> std::io::Result<()> {
        let mut out = Outgoing::new();
        let body = Bytes::copy_from_slice(body);
        self.session.encode_message(&mut out, [body]);
        self.stream.write_all(&out.copy_to_bytes(out.remaining()))
    }

    fn reply(&mut self) -> std::io::Result<Vec<u8>> {
        let mut buf = [0u8; 512];
        loop {
            if let Some(ev) = self.session.handle_input(&mut self.input).map_err(other)? {
                match ev {
                    Event::Frame { body, .. } => return Ok(body.to_vec()),
                    _ => continue,
                }
            }
            let n = self.stream.read(&mut buf)?;
            if n == 0 {
                return Err(other("server closed before replying"));
            }
            self.input.extend_from_slice(&buf[..n]);
        }
    }
}

fn other(e: impl ToString) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(endpoint), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: fleet tcp://HOST:PORT COUNT");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("COUNT is a number");
    let addr = endpoint.trim_start_matches("tcp://").to_string();
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("getrlimit");
    let raised = rlimit::increase_nofile_limit(u64::MAX).expect("raise RLIMIT_NOFILE");
    eprintln!("fleet: RLIMIT_NOFILE soft {soft} -> {raised} (hard {hard})");
    let start = Instant::now();
    let mut clients: Vec<Client> = (0..count)
        .map(|i| Client::open(&addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    println!("open {} in {:.2?}", clients.len(), start.elapsed());
    for (i, c) in clients.iter_mut().enumerate() {
        c.request(format!("request {i}").as_bytes())
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let reply = c.reply().unwrap_or_else(|e| panic!("reply {i}: {e}"));
        assert_eq!(reply, format!("request {i}").as_bytes(), "reply {i}");
    }
    println!("served {} in {:.2?}", clients.len(), start.elapsed());
    // Hold the connections until told to go.
    for _ in std::io::stdin().lock().lines() {}
    drop(clients);
}
