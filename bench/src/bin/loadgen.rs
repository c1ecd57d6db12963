//! A WebSocket load generator cheap enough on one core not to be the bottleneck.
//!
//! It speaks just enough WebSocket by hand: a raw `TcpStream`, a hand-written upgrade
//! request, client frames encoded once (masked with a constant key, as clients must), and
//! for the server's frames only their 2-10 byte headers are parsed, to count replies.
//!
//! ```text
//! loadgen echo [--url ws://127.0.0.1:9001/ws] [--conns 32] [--inflight 16] [--secs 10] [--warmup 2] [--pid PID]
//! loadgen idle --pid PID [--url ws://127.0.0.1:9001/ws] [--conns 10000] [--talk]
//! ```
//!
//! `echo` keeps exactly `--inflight` ECHO frames in flight on each connection (one new
//! frame per reply, the new frames of one read written at once) and prints the round trips
//! per second after the warm-up, as `rt_per_sec=N`, with its own CPU use over that window
//! and, given `--pid`, the server's (`server_cpu_pct=100` means one core busy: the server
//! is the bottleneck).
//!
//! `idle` reads the server's VmRSS from `/proc/PID/status`, opens `--conns` connections,
//! waits until all are upgraded (and, with `--talk`, have exchanged one ECHO each), waits
//! for the server's RSS to settle, and prints the growth per connection as
//! `kib_per_conn=N`. It needs a file descriptor limit above `--conns` (`ulimit -n`).
//!
//! Only loopback addresses are accepted; every phase has a time limit.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout, Instant};

/// The text of every client frame.
const ECHO: &str = r#"{"type":"ECHO","payload":{"text":"hello world"}}"#;

/// The reply both servers must send to [`ECHO`], checked once per connection.
const ECHOED: &str = r#"{"type":"ECHOED","meta":{},"payload":{"text":"hello world"}}"#;

/// The constant masking key of the client frames.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Time allowed for one connection's TCP connect, upgrade and first exchange.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes read from the socket at once.
const READ_BUFFER: usize = 64 * 1024;

type Result<T, E = String> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("echo") => Options::parse(&args[1..], 32).and_then(|options| block_on(echo(options))),
        Some("idle") => Options::parse(&args[1..], 10_000).and_then(|options| block_on(idle(options))),
        _ => Err(format!("usage: loadgen echo|idle [options]; see the doc of {}", file!())),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

fn block_on<F: std::future::Future<Output = Result<()>>>(future: F) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(future)
}

/// The command line of either mode.
struct Options {
    addr: SocketAddr,
    host: String,
    path: String,
    conns: usize,
    inflight: usize,
    secs: f64,
    warmup: f64,
    pid: Option<u32>,
    talk: bool,
    concurrency: usize,
}

impl Options {
    fn parse(args: &[String], default_conns: usize) -> Result<Self> {
        let mut options = Options {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9001),
            host: "127.0.0.1:9001".into(),
            path: "/ws".into(),
            conns: default_conns,
            inflight: 16,
            secs: 10.0,
            warmup: 2.0,
            pid: None,
            talk: false,
            concurrency: 256,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            if flag == "--talk" {
                options.talk = true;
                continue;
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || value.parse::<f64>().map_err(|_| format!("{flag}: not a number: {value}"));
            match flag.as_str() {
                "--url" => options.set_url(value)?,
                "--conns" => options.conns = number()? as usize,
                "--inflight" => options.inflight = number()? as usize,
                "--secs" => options.secs = number()?,
                "--warmup" => options.warmup = number()?,
                "--pid" => options.pid = Some(number()? as u32),
                "--concurrency" => options.concurrency = number()? as usize,
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        let in_range = |value: f64, max: f64| value.is_finite() && (0.0..=max).contains(&value);
        if options.conns == 0 || options.conns > 100_000 {
            return Err("--conns must be 1..=100000".into());
        }
        if options.inflight == 0 || options.inflight > 4096 {
            return Err("--inflight must be 1..=4096".into());
        }
        if !in_range(options.secs, 3600.0) || options.secs == 0.0 || !in_range(options.warmup, 600.0) {
            return Err("--secs must be in (0, 3600], --warmup in [0, 600]".into());
        }
        options.concurrency = options.concurrency.clamp(1, 4096);
        Ok(options)
    }

    /// Takes `ws://HOST:PORT/PATH`, where HOST is a loopback address or `localhost`.
    fn set_url(&mut self, url: &str) -> Result<()> {
        let rest = url.strip_prefix("ws://").ok_or_else(|| format!("{url}: only ws:// URLs"))?;
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let resolved = authority.replacen("localhost", "127.0.0.1", 1);
        let addr: SocketAddr =
            resolved.parse().map_err(|_| format!("{url}: HOST:PORT must be an IP address and a port"))?;
        if !addr.ip().is_loopback() {
            return Err(format!("{url}: only loopback addresses are allowed"));
        }
        self.addr = addr;
        self.host = authority.to_owned();
        self.path = path.to_owned();
        Ok(())
    }

    fn upgrade_request(&self) -> String {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            self.path, self.host
        )
    }
}

/// A masked client text frame holding `payload`.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().enumerate().map(|(i, byte)| byte ^ MASK[i % 4]));
    frame
}

/// A connected, upgraded socket and the bytes read past the upgrade response.
struct Socket {
    stream: TcpStream,
    buf: Vec<u8>,
    len: usize,
}

impl Socket {
    /// Connects and upgrades, checking for `101`.
    async fn open(addr: SocketAddr, request: &str) -> Result<Socket> {
        let mut stream =
            TcpStream::connect(addr).await.map_err(|error| format!("connect {addr}: {error}"))?;
        stream.set_nodelay(true).map_err(|error| format!("nodelay: {error}"))?;
        stream.write_all(request.as_bytes()).await.map_err(|error| format!("upgrade request: {error}"))?;
        let mut socket = Socket { stream, buf: vec![0; READ_BUFFER], len: 0 };
        let end = loop {
            if let Some(end) = socket.buf[..socket.len].windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if socket.len > 8192 {
                return Err("upgrade response headers above 8 KiB".into());
            }
            socket.fill().await?;
        };
        let head = String::from_utf8_lossy(&socket.buf[..end]);
        let status = head.lines().next().unwrap_or_default();
        if !status.starts_with("HTTP/1.1 101") {
            return Err(format!("upgrade refused: {status}"));
        }
        socket.buf.copy_within(end..socket.len, 0);
        socket.len -= end;
        Ok(socket)
    }

    /// Reads more bytes; the connection closing is an error.
    async fn fill(&mut self) -> Result<()> {
        match self.stream.read(&mut self.buf[self.len..]).await {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(n) => {
                self.len += n;
                Ok(())
            }
            Err(error) => Err(format!("read: {error}")),
        }
    }

    /// Sends one ECHO and checks that the whole reply is [`ECHOED`].
    async fn exchange(&mut self, frame: &[u8]) -> Result<()> {
        self.stream.write_all(frame).await.map_err(|error| format!("write: {error}"))?;
        loop {
            if let Some(header) = Header::parse(&self.buf[..self.len])? {
                let end = header.size + header.payload;
                if end > self.buf.len() {
                    return Err(format!("first reply of {} bytes, expected {ECHOED}", header.payload));
                }
                if self.len >= end {
                    let payload = &self.buf[header.size..end];
                    if header.opcode != 1 || payload != ECHOED.as_bytes() {
                        return Err(format!(
                            "unexpected reply (opcode {}): {}; expected {ECHOED}",
                            header.opcode,
                            String::from_utf8_lossy(payload)
                        ));
                    }
                    self.buf.copy_within(end..self.len, 0);
                    self.len -= end;
                    return Ok(());
                }
            }
            self.fill().await?;
        }
    }
}

/// The header of a server frame.
struct Header {
    /// FIN bit set.
    fin: bool,
    opcode: u8,
    /// Bytes of the header.
    size: usize,
    /// Bytes of the payload.
    payload: usize,
}

impl Header {
    /// Parses the header at the start of `bytes`; `None` if it is not complete yet.
    fn parse(bytes: &[u8]) -> Result<Option<Header>> {
        let [b0, b1, rest @ ..] = bytes else { return Ok(None) };
        if b1 & 0x80 != 0 {
            return Err("the server sent a masked frame".into());
        }
        let (size, payload) = match b1 & 0x7f {
            126 => match rest {
                [a, b, ..] => (4, u16::from_be_bytes([*a, *b]) as usize),
                _ => return Ok(None),
            },
            127 => match rest.get(..8) {
                Some(len) => (10, u64::from_be_bytes(len.try_into().expect("8 bytes")) as usize),
                None => return Ok(None),
            },
            len => (2, len as usize),
        };
        Ok(Some(Header { fin: b0 & 0x80 != 0, opcode: b0 & 0x0f, size, payload }))
    }
}

/// Counts complete data messages in the server's byte stream, skipping their payloads.
#[derive(Default)]
struct ReplyCounter {
    /// Payload bytes of the current frame still to skip.
    skip: usize,
}

impl ReplyCounter {
    /// Counts the messages that end in `buf[..len]` and moves an incomplete header to the
    /// front; returns the count and the bytes kept.
    fn count(&mut self, buf: &mut [u8], len: usize) -> Result<(usize, usize)> {
        let mut pos = self.skip.min(len);
        self.skip -= pos;
        let mut replies = 0;
        while pos < len {
            let Some(header) = Header::parse(&buf[pos..len])? else { break };
            match header.opcode {
                0..=2 if header.fin => replies += 1,
                0..=2 | 9 | 10 => {}
                8 => return Err("the server sent a close frame".into()),
                other => return Err(format!("unknown opcode {other}")),
            }
            pos += header.size;
            let available = len - pos;
            if header.payload > available {
                self.skip = header.payload - available;
                pos = len;
            } else {
                pos += header.payload;
            }
        }
        buf.copy_within(pos..len, 0);
        Ok((replies, len - pos))
    }
}

/// One connection of `echo`: verify one exchange, report ready, wait for the start, then
/// keep `inflight` frames in flight until the deadline. Returns the replies counted.
async fn echo_connection(
    options: Arc<Options>,
    frames: Arc<Vec<u8>>,
    ready: mpsc::Sender<Result<()>>,
    mut start: watch::Receiver<Option<Instant>>,
    counter: Arc<AtomicU64>,
) -> Result<u64> {
    let frame_len = frames.len() / options.inflight;
    let setup = async {
        let mut socket = Socket::open(options.addr, &options.upgrade_request()).await?;
        socket.exchange(&frames[..frame_len]).await?;
        Ok::<_, String>(socket)
    };
    let socket = match timeout(SETUP_TIMEOUT, setup).await.unwrap_or_else(|_| Err("setup timed out".into())) {
        Ok(socket) => socket,
        Err(error) => {
            let _ = ready.send(Err(error.clone())).await;
            return Err(error);
        }
    };
    let _ = ready.send(Ok(())).await;
    drop(ready);
    let deadline = loop {
        if let Some(deadline) = *start.borrow_and_update() {
            break deadline;
        }
        if start.changed().await.is_err() {
            return Ok(0);
        }
    };
    // After the checked exchange nothing is in flight: what is buffered is at most an
    // incomplete header of an unexpected frame, counted (and refused) with the next read.
    let Socket { mut stream, mut buf, len: mut kept } = socket;
    let mut replies_total = 0u64;
    let mut reply_counter = ReplyCounter::default();
    let mut in_flight = options.inflight;
    let stop = sleep_until(deadline);
    tokio::pin!(stop);
    let io = |error: std::io::Error| error.to_string();
    tokio::select! {
        () = &mut stop => return Ok(0),
        written = stream.write_all(&frames) => written.map_err(io)?,
    }
    loop {
        let read = tokio::select! {
            biased;
            () = &mut stop => break,
            read = stream.read(&mut buf[kept..]) => match read.map_err(io)? {
                0 => return Err("the server closed the connection".into()),
                n => n,
            },
        };
        let (replies, left) = reply_counter.count(&mut buf, kept + read)?;
        kept = left;
        if replies == 0 {
            continue;
        }
        if replies > in_flight {
            return Err(format!("{replies} replies with only {in_flight} requests in flight"));
        }
        counter.fetch_add(replies as u64, Ordering::Relaxed);
        replies_total += replies as u64;
        in_flight -= replies;
        tokio::select! {
            biased;
            () = &mut stop => break,
            written = stream.write_all(&frames[..replies * frame_len]) => written.map_err(io)?,
        }
        in_flight += replies;
    }
    Ok(replies_total)
}

async fn echo(options: Options) -> Result<()> {
    let options = Arc::new(options);
    let frame = client_frame(ECHO.as_bytes());
    let frames = Arc::new(frame.repeat(options.inflight));
    let counter = Arc::new(AtomicU64::new(0));
    let (ready_tx, mut ready) = mpsc::channel(options.conns);
    let (start_tx, start) = watch::channel(None);
    let mut tasks = JoinSet::new();
    for _ in 0..options.conns {
        let task = echo_connection(
            Arc::clone(&options),
            Arc::clone(&frames),
            ready_tx.clone(),
            start.clone(),
            Arc::clone(&counter),
        );
        tasks.spawn(task);
    }
    drop(ready_tx);
    for _ in 0..options.conns {
        match timeout(SETUP_TIMEOUT * 2, ready.recv()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(error))) => return Err(error),
            Ok(None) | Err(_) => return Err("connections were not set up in time".into()),
        }
    }
    let begin = Instant::now();
    let warmup = Duration::from_secs_f64(options.warmup);
    let window = Duration::from_secs_f64(options.secs);
    let deadline = begin + warmup + window + Duration::from_millis(200);
    start_tx.send_replace(Some(deadline));
    sleep_until(begin + warmup).await;
    let (from, first) = (Instant::now(), counter.load(Ordering::Relaxed));
    let cpu_from = (cpu_ticks("self"), options.pid.and_then(|pid| cpu_ticks(&pid.to_string())));
    sleep_until(begin + warmup + window).await;
    let (to, last) = (Instant::now(), counter.load(Ordering::Relaxed));
    let cpu_to = (cpu_ticks("self"), options.pid.and_then(|pid| cpu_ticks(&pid.to_string())));
    let elapsed = (to - from).as_secs_f64();
    let percent = |from: Option<u64>, to: Option<u64>| match (from, to) {
        (Some(from), Some(to)) => format!("{:.0}", (to - from) as f64 / CLOCK_TICKS / elapsed * 100.0),
        _ => "?".to_owned(),
    };
    let (loadgen_cpu, server_cpu) = (percent(cpu_from.0, cpu_to.0), percent(cpu_from.1, cpu_to.1));
    let mut per_connection = Vec::with_capacity(options.conns);
    while let Some(joined) = timeout(Duration::from_secs(5), tasks.join_next())
        .await
        .map_err(|_| "connections did not stop at the deadline".to_owned())?
    {
        per_connection.push(joined.map_err(|error| error.to_string())??);
    }
    let replies = last - first;
    let rate = replies as f64 / elapsed;
    println!(
        "echo conns={} inflight={} warmup_s={} secs={} replies={replies} rt_per_sec={rate:.0} \
         per_conn_min={} per_conn_max={} loadgen_cpu_pct={loadgen_cpu} server_cpu_pct={server_cpu}",
        options.conns,
        options.inflight,
        options.warmup,
        options.secs,
        per_connection.iter().min().unwrap_or(&0),
        per_connection.iter().max().unwrap_or(&0),
    );
    Ok(())
}

/// Clock ticks per second of the CPU times in `/proc/PID/stat` (`USER_HZ`, 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;

/// User plus system CPU time of process `pid` (or `self`), in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split_whitespace().collect();
    // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The soft limit on open files of this process.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|error| format!("cannot read /proc/{pid}/status: {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

async fn idle(options: Options) -> Result<()> {
    let pid = options.pid.ok_or("idle needs --pid of the server")?;
    let needed = options.conns as u64 + 64;
    match open_files_limit() {
        Some(limit) if limit >= needed => {}
        limit => {
            return Err(format!(
                "{} connections need {needed} open files, the limit is {limit:?}: run `ulimit -n {}` first",
                options.conns,
                needed.max(65536)
            ))
        }
    }
    let before = rss_kib(pid)?;
    let options = Arc::new(options);
    let frame = Arc::new(client_frame(ECHO.as_bytes()));
    let opened = Instant::now();
    let mut sockets = Vec::with_capacity(options.conns);
    let mut tasks = JoinSet::new();
    let phase_deadline = opened + Duration::from_secs(120);
    for i in 0..options.conns {
        while tasks.len() >= options.concurrency {
            let joined = timeout_at_phase(phase_deadline, tasks.join_next()).await?;
            sockets.push(joined.expect("tasks are running").map_err(|error| error.to_string())??);
        }
        let (options, frame) = (Arc::clone(&options), Arc::clone(&frame));
        tasks.spawn(async move {
            let setup = async {
                let mut socket = Socket::open(options.addr, &options.upgrade_request()).await?;
                if options.talk {
                    socket.exchange(&frame).await?;
                }
                Ok::<_, String>(socket)
            };
            timeout(SETUP_TIMEOUT, setup)
                .await
                .unwrap_or_else(|_| Err("setup timed out".into()))
                .map_err(|error| format!("connection {i}: {error}"))
        });
    }
    while let Some(joined) = timeout_at_phase(phase_deadline, tasks.join_next()).await? {
        sockets.push(joined.map_err(|error| error.to_string())??);
    }
    let open_secs = opened.elapsed().as_secs_f64();
    // The server finishes each upgrade after sending 101: wait for its RSS to settle.
    let mut after = rss_kib(pid)?;
    let settle_deadline = Instant::now() + Duration::from_secs(10);
    sleep(Duration::from_millis(500)).await;
    while Instant::now() < settle_deadline {
        sleep(Duration::from_millis(250)).await;
        let now = rss_kib(pid)?;
        let stable = now == after;
        after = now;
        if stable {
            break;
        }
    }
    let per_connection = after.saturating_sub(before) as f64 / sockets.len() as f64;
    println!(
        "idle conns={} talk={} open_s={open_secs:.2} rss_before_kib={before} rss_after_kib={after} \
         kib_per_conn={per_connection:.2}",
        sockets.len(),
        options.talk,
    );
    drop(sockets);
    Ok(())
}

async fn timeout_at_phase<F: std::future::Future>(deadline: Instant, future: F) -> Result<F::Output> {
    tokio::time::timeout_at(deadline, future)
        .await
        .map_err(|_| "opening the connections took over 120 s".into())
}
