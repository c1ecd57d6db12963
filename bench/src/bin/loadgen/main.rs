//! A WebSocket load generator cheap enough on one core not to be the bottleneck.
//!
//! It speaks just enough WebSocket by hand: a raw `TcpStream`, a hand-written upgrade
//! request, client frames encoded once (masked with a constant key, as clients must), and
//! for the server's frames only their 2-10 byte headers are parsed, to count replies.
//!
//! ```text
//! loadgen echo [--url ws://127.0.0.1:9001/ws] [--conns 32] [--inflight 16] [--secs 10] [--warmup 2] [--pid PID]
//!     (every mode also takes `--deflate`: offer permessage-deflate to a server started with
//!     `DEFLATE_THRESHOLD=N`, and inflate the compressed messages it checks; and `--resume`:
//!     ask a server started with `RESUME=1` for session resume on every connection)
//! loadgen rpc [--url ws://127.0.0.1:9001/ws] [--conns 32] [--inflight 16] [--secs 10] [--warmup 2] [--pid PID]
//! loadgen idle --pid PID [--url ws://127.0.0.1:9001/ws] [--conns 10000] [--talk]
//! loadgen fanout [--url ws://127.0.0.1:9001/ws] [--subs 1000] [--inflight 16] [--secs 10] [--warmup 2] [--pid PID]
//! loadgen latency --url SUBSCRIBER_URL --pub-url PUBLISHER_URL [--samples 2000]
//! loadgen paced --rate 400000 [--url ws://127.0.0.1:9001/ws] [--conns 32] [--secs 10] [--warmup 2]
//! loadgen soak --pid PID [--url ws://127.0.0.1:9001/ws] [--conns 1000] [--rate 1000] [--secs 10]
//!     [--sample-secs 10] [--warmup 2] [--topics 100] [--mix 45:45:10] [--grace 10]
//! ```
//!
//! `echo` keeps exactly `--inflight` ECHO frames in flight on each connection (one new
//! frame per reply, the new frames of one read written at once) and prints the round trips
//! per second after the warm-up, as `rt_per_sec=N`, with its own CPU use over that window
//! and, given `--pid`, the server's (`server_cpu_pct=100` means one core busy: the server
//! is the bottleneck), of which `server_sys_pct` in the kernel.
//!
//! `rpc` (against `wskit_echo`) does the same with an RPC request carrying a correlation
//! id, answered by an `#[rpc]` handler: the cost of the RPC path next to the plain one.
//!
//! `idle` reads the server's VmRSS from `/proc/PID/status`, opens `--conns` connections,
//! waits until all are upgraded (and, with `--talk`, have exchanged one ECHO each), waits
//! for the server's RSS to settle, and prints the growth per connection as
//! `kib_per_conn=N`. It needs a file descriptor limit above `--conns` (`ulimit -n`).
//!
//! `fanout` (against `wskit_pubsub`) subscribes `--subs` connections to one topic, checks
//! one publish at each, then publishes continuously from one more connection with at most
//! `--inflight` publishes not yet delivered to every subscriber, and prints the deliveries
//! per second summed over the subscribers, as `deliveries_per_sec=N`, with the CPU use as
//! in `echo`.
//!
//! `paced` sends ECHO at a fixed `--rate` per second over all connections whatever the
//! replies do (open loop), and prints percentiles of the round trip of the requests sent
//! after the warm-up, as `p50_us=N p99_us=N`: the latency at a given load, which a closed
//! loop hides.
//!
//! `latency` (against two `wskit_pubsub` instances sharing a Redis) subscribes at `--url`,
//! publishes at `--pub-url` one message at a time, and prints percentiles of the time from
//! writing a publish to reading its delivery, as `p50_us=N p99_us=N`.
//!
//! `soak` (against `wskit_pubsub`) keeps `--conns` connections busy for `--secs` with a
//! steady mix of ECHO, ECHO_RPC and PUBLISH at `--rate` messages per second in all,
//! tracks every request to its reply and every publish to its deliveries, prints the
//! server's RSS and open descriptors every `--sample-secs`, and fails if anything was lost
//! or wrong, or the RSS or the descriptors grew (see `soak/mod.rs`).
//!
//! Only loopback addresses are accepted; every phase has a time limit.

mod echo;
mod fanout;
mod histogram;
mod idle;
mod latency;
mod open;
mod paced;
mod procfs;
mod pubsub;
mod soak;
mod window;
mod wire;

use std::process::ExitCode;
use std::time::Duration;
use wire::Target;

/// Time allowed for one connection's TCP connect, upgrade and first exchange.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

type Result<T, E = String> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, flags) = args.split_first().map_or(("", &[][..]), |(mode, flags)| (mode.as_str(), flags));
    let default_conns = match mode {
        "idle" => 10_000,
        "soak" => 1000,
        _ => 32,
    };
    let outcome = Options::parse(flags, default_conns).and_then(|options| match mode {
        "echo" => block_on(echo::run(options, echo::ECHO)),
        "rpc" => block_on(echo::run(options, echo::RPC)),
        "idle" => block_on(idle::run(options)),
        "fanout" => block_on(fanout::run(options)),
        "latency" => block_on(latency::run(options)),
        "soak" => block_on(soak::run(options)),
        "paced" => block_on(paced::run(options)),
        _ => Err(format!(
            "usage: loadgen echo|rpc|paced|idle|fanout|latency|soak [options]; see the doc of {}",
            file!()
        )),
    });
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

/// The command line of every mode; each mode reads the options it needs.
struct Options {
    target: Target,
    /// `--pub-url`: where `latency` publishes.
    publisher: Option<Target>,
    conns: usize,
    subs: usize,
    inflight: usize,
    samples: usize,
    secs: f64,
    warmup: f64,
    pid: Option<u32>,
    talk: bool,
    concurrency: usize,
    /// `--rate`: messages per second of `soak` and `paced`, over all connections.
    rate: f64,
    /// `--sample-secs`: between two samples of `soak`.
    sample_secs: f64,
    /// `--topics`: topics the connections of `soak` subscribe to, one each.
    topics: usize,
    /// `--mix`: the shares of ECHO, ECHO_RPC and PUBLISH in `soak`.
    mix: soak::Mix,
    /// `--grace`: seconds `soak` waits for the last answers after it stops sending.
    grace: f64,
}

impl Options {
    fn parse(args: &[String], default_conns: usize) -> Result<Self> {
        let mut options = Options {
            target: Target::parse("ws://127.0.0.1:9001/ws")?,
            publisher: None,
            conns: default_conns,
            subs: 1000,
            inflight: 16,
            samples: 2000,
            secs: 10.0,
            warmup: 2.0,
            pid: None,
            talk: false,
            concurrency: 256,
            rate: 1000.0,
            sample_secs: 10.0,
            topics: 100,
            mix: soak::Mix::default(),
            grace: 10.0,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            if flag == "--talk" {
                options.talk = true;
                continue;
            }
            if flag == "--deflate" {
                options.target.deflate = true;
                continue;
            }
            if flag == "--resume" {
                options.target.resume = true;
                continue;
            }
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || value.parse::<f64>().map_err(|_| format!("{flag}: not a number: {value}"));
            match flag.as_str() {
                "--url" => {
                    let (deflate, resume) = (options.target.deflate, options.target.resume);
                    options.target = Target::parse(value)?;
                    (options.target.deflate, options.target.resume) = (deflate, resume);
                }
                "--pub-url" => options.publisher = Some(Target::parse(value)?),
                "--conns" => options.conns = number()? as usize,
                "--subs" => options.subs = number()? as usize,
                "--inflight" => options.inflight = number()? as usize,
                "--samples" => options.samples = number()? as usize,
                "--secs" => options.secs = number()?,
                "--warmup" => options.warmup = number()?,
                "--pid" => options.pid = Some(number()? as u32),
                "--concurrency" => options.concurrency = number()? as usize,
                "--rate" => options.rate = number()?,
                "--sample-secs" => options.sample_secs = number()?,
                "--topics" => options.topics = number()? as usize,
                "--mix" => options.mix = soak::Mix::parse(value)?,
                "--grace" => options.grace = number()?,
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        let in_range = |value: f64, max: f64| value.is_finite() && (0.0..=max).contains(&value);
        if options.conns == 0 || options.conns > 100_000 {
            return Err("--conns must be 1..=100000".into());
        }
        if options.subs == 0 || options.subs > 100_000 {
            return Err("--subs must be 1..=100000".into());
        }
        if options.inflight == 0 || options.inflight > 4096 {
            return Err("--inflight must be 1..=4096".into());
        }
        if options.samples == 0 || options.samples > 1_000_000 {
            return Err("--samples must be 1..=1000000".into());
        }
        // A soak may run for a day.
        if !in_range(options.secs, 86_400.0) || options.secs == 0.0 || !in_range(options.warmup, 3600.0) {
            return Err("--secs must be in (0, 86400], --warmup in [0, 3600]".into());
        }
        if !in_range(options.rate, 1_000_000.0) || options.rate == 0.0 {
            return Err("--rate must be in (0, 1000000]".into());
        }
        if !in_range(options.sample_secs, 3600.0)
            || options.sample_secs < 0.1
            || !in_range(options.grace, 600.0)
        {
            return Err("--sample-secs must be in [0.1, 3600], --grace in [0, 600]".into());
        }
        if options.topics == 0 || options.topics > 100_000 {
            return Err("--topics must be 1..=100000".into());
        }
        options.concurrency = options.concurrency.clamp(1, 4096);
        Ok(options)
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }

    fn secs(&self) -> Duration {
        Duration::from_secs_f64(self.secs)
    }
}
