//! Faults for the tests of the Redis bus and of reconnecting clients: a Redis server of the
//! test's own, which can be killed and restarted, and a TCP proxy that can fall silent like
//! a network partition, slow like a congested link, or cut its connections like a dropped
//! network.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a started `redis-server` may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process on a free loopback port, without persistence, so that
/// a test can kill and restart it without touching any other Redis. Killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` (from `PATH`) and waits until it answers. `None` (with the
    /// reason printed) when it cannot be run and `WSKIT_REQUIRE_REDIS` is not `1`; with
    /// `WSKIT_REQUIRE_REDIS=1` that fails the test instead, as [`redis_url`](crate::redis_url) does.
    pub async fn start() -> Option<Self> {
        // The port is free when chosen; redis-server binds it a moment later.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let mut server = RedisServer { port, child: None };
        if let Err(error) = server.spawn() {
            return crate::skip_redis_test(&format!("cannot run redis-server: {error}"));
        }
        server.until_ready().await;
        Some(server)
    }

    /// The URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server with SIGKILL: it closes nothing gracefully, and what it had not
    /// yet written to its clients is gone with it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill redis-server");
            child.wait().expect("reap redis-server");
        }
    }

    /// Starts the server again, empty, on the same port, and returns once it answers.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().expect("restart redis-server");
        self.until_ready().await;
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"])
            .stdin(Stdio::null())
            // Read only if it exits early, to say why; at this log level it writes little.
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls with `PING` until the server answers; panics if it exits or stays silent.
    async fn until_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let client = redis::Client::open(self.url()).expect("a valid URL");
        loop {
            let child = self.child.as_mut().expect("a running redis-server");
            if let Some(status) = child.try_wait().expect("redis-server status") {
                let mut log = String::new();
                let _ = child.stdout.take().map(|mut stdout| stdout.read_to_string(&mut log));
                panic!("redis-server on port {} exited with {status}: {log}", self.port);
            }
            let ping = async {
                let mut connection = client.get_multiplexed_async_connection().await?;
                redis::cmd("PING").query_async::<String>(&mut connection).await
            };
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), ping).await {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server on port {} did not answer in time", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `HOST:PORT` of a plain `redis://HOST:PORT` URL.
pub fn redis_host_port(url: &str) -> String {
    match redis::Client::open(url).expect("a valid Redis URL").get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
        other => panic!("a proxy needs a plain TCP Redis URL, not {other:?}"),
    }
}

/// A TCP proxy on a free loopback port in front of `upstream`. It can fall silent like a
/// network partition: the connections open at that moment neither carry bytes nor close,
/// ever again, and new ones hang until it speaks again. And it can delay every chunk of
/// bytes, each way, like a slow link: bytes keep their order, and a chunk read while the
/// delay is long still waits its full delay after the delay is shortened. And it can sever
/// its connections, as a lost network does: no side gets a word (a WebSocket peer no close
/// frame), the TCP connections just end.
/// Every connection ends when the proxy is dropped.
pub struct FaultProxy {
    addr: std::net::SocketAddr,
    silent: watch::Sender<bool>,
    delay: watch::Sender<Duration>,
    severed: watch::Sender<()>,
    acceptor: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`HOST:PORT`), neither silent nor slow.
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let (silent, _) = watch::channel(false);
        let (delay, _) = watch::channel(Duration::ZERO);
        let (severed, _) = watch::channel(());
        let acceptor = tokio::spawn({
            let (silent, delay, severed) = (silent.clone(), delay.clone(), severed.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let relay = relay(client, upstream.clone(), silent.subscribe(), delay.subscribe());
                    let mut severed = severed.subscribe();
                    tokio::spawn(async move {
                        // Dropping the relay drops both of its sockets.
                        tokio::select! {
                            () = relay => {}
                            _ = severed.changed() => {}
                        }
                    });
                }
            }
        });
        FaultProxy { addr, silent, delay, severed, acceptor }
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The `redis://` URL of the proxy.
    pub fn redis_url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Falls silent, or speaks again (to new connections only).
    pub fn set_silent(&self, silent: bool) {
        self.silent.send_replace(silent);
    }

    /// Delays each chunk read from now on by `delay` before it is written on.
    pub fn set_delay(&self, delay: Duration) {
        self.delay.send_replace(delay);
    }

    /// Ends every connection open now, relaying or not, by closing both of its sockets;
    /// later connections are relayed as usual.
    pub fn sever(&self) {
        self.severed.send_replace(());
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The relays end when the senders they watch are gone.
        self.acceptor.abort();
    }
}

/// Relays one connection until either side closes it, the proxy falls silent (then it
/// holds both sockets open and idle) or the proxy is dropped.
async fn relay(
    mut client: TcpStream,
    upstream: String,
    mut silent: watch::Receiver<bool>,
    delay: watch::Receiver<Duration>,
) {
    if silent.wait_for(|silent| !silent).await.is_err() {
        return;
    }
    // An upstream that refuses is passed on as a closed connection.
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    let (client_read, client_write) = client.split();
    let (server_read, server_write) = server.split();
    let relaying = async {
        tokio::join!(pump(client_read, server_write, delay.clone()), pump(server_read, client_write, delay))
    };
    let fell_silent = tokio::select! {
        _ = relaying => false,
        fell_silent = silent.wait_for(|silent| *silent) => fell_silent.is_ok(),
    };
    if fell_silent {
        // Both sockets stay open and idle: nothing tells either side, until the proxy goes.
        let _ = silent.wait_for(|_| false).await;
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read, and shuts `to` down when
/// `from` ends.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    delay: watch::Receiver<Duration>,
) {
    // Bounded: when the writer falls far enough behind, reading waits for it.
    let (chunks, mut due) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let read = async move {
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(read @ 1..) = from.read(&mut buffer).await {
            let at = Instant::now() + *delay.borrow();
            if chunks.send((at, buffer[..read].to_vec())).await.is_err() {
                break;
            }
        }
    };
    let write = async move {
        while let Some((at, bytes)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&bytes).await.is_err() {
                // Dropping `due` stops the reader too.
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}
