//! `loadgen echo` and `loadgen rpc`: round trips per second with a fixed number of
//! requests in flight on each connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};

use crate::wire::{client_frame, MessageCounter, Socket};
use crate::{window, Options, Result, SETUP_TIMEOUT};

/// A request the load generator sends over and over, and the reply it checks once per
/// connection.
pub(crate) struct Exchange {
    /// The mode's name, printed first on its line.
    pub(crate) mode: &'static str,
    pub(crate) request: &'static str,
    pub(crate) reply: &'static str,
}

/// `echo`: a plain message answered with `ctx.reply`, by both servers.
pub(crate) const ECHO: Exchange = Exchange {
    mode: "echo",
    request: r#"{"type":"ECHO","payload":{"text":"hello world"}}"#,
    reply: r#"{"type":"ECHOED","meta":{},"payload":{"text":"hello world"}}"#,
};

/// `rpc`: an RPC request with a correlation id, answered by an `#[rpc]` handler (wskit
/// only). Every request carries the same id: the server's work does not depend on its value.
pub(crate) const RPC: Exchange = Exchange {
    mode: "rpc",
    request: r#"{"type":"ECHO_RPC","meta":{"correlationId":"4f1c2a9e"},"payload":{"text":"hello world"}}"#,
    reply: r#"{"type":"ECHOED","meta":{"correlationId":"4f1c2a9e"},"payload":{"text":"hello world"}}"#,
};

/// One connection of `echo`: verify one exchange, report ready, wait for the start, then
/// keep `inflight` frames in flight until the deadline. Returns the replies counted.
async fn echo_connection(
    options: Arc<Options>,
    frames: Arc<Vec<u8>>,
    reply: &'static str,
    ready: mpsc::Sender<Result<()>>,
    mut start: watch::Receiver<Option<Instant>>,
    counter: Arc<AtomicU64>,
) -> Result<u64> {
    let frame_len = frames.len() / options.inflight;
    let setup = async {
        let mut socket = Socket::open(&options.target).await?;
        socket.exchange(&frames[..frame_len], reply).await?;
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
    let mut reply_counter = MessageCounter::default();
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

/// Runs `echo` or `rpc` and prints its line.
pub(crate) async fn run(options: Options, exchange: Exchange) -> Result<()> {
    let options = Arc::new(options);
    let frame = client_frame(exchange.request.as_bytes());
    let frames = Arc::new(frame.repeat(options.inflight));
    let counter = Arc::new(AtomicU64::new(0));
    let (ready_tx, mut ready) = mpsc::channel(options.conns);
    let (start_tx, start) = watch::channel(None);
    let mut tasks = JoinSet::new();
    for _ in 0..options.conns {
        let task = echo_connection(
            Arc::clone(&options),
            Arc::clone(&frames),
            exchange.reply,
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
    let (warmup, secs) = (options.warmup(), options.secs());
    start_tx.send_replace(Some(begin + warmup + secs + Duration::from_millis(200)));
    let window = window::measure(&counter, begin, warmup, secs, options.pid).await;
    let mut per_connection = Vec::with_capacity(options.conns);
    while let Some(joined) = timeout(Duration::from_secs(5), tasks.join_next())
        .await
        .map_err(|_| "connections did not stop at the deadline".to_owned())?
    {
        per_connection.push(joined.map_err(|error| error.to_string())??);
    }
    println!(
        "{} conns={} inflight={} warmup_s={} secs={} replies={} rt_per_sec={:.0} \
         per_conn_min={} per_conn_max={} loadgen_cpu_pct={} server_cpu_pct={} server_sys_pct={}",
        exchange.mode,
        options.conns,
        options.inflight,
        options.warmup,
        options.secs,
        window.count,
        window.rate(),
        per_connection.iter().min().unwrap_or(&0),
        per_connection.iter().max().unwrap_or(&0),
        window.loadgen_cpu,
        window.server_cpu,
        window.server_sys_cpu,
    );
    Ok(())
}
