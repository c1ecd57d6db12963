//! `loadgen idle`: server memory per idle connection.

use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, Instant};

use crate::echo::ECHO;
use crate::open::open_many;
use crate::procfs::{check_open_files, rss_kib};
use crate::wire::{client_frame, Socket};
use crate::{Options, Result};

/// Runs `idle` and prints its line.
pub(crate) async fn run(options: Options) -> Result<()> {
    let pid = options.pid.ok_or("idle needs --pid of the server")?;
    check_open_files(options.conns as u64 + 64)?;
    let before = rss_kib(pid)?;
    let options = Arc::new(options);
    let frame = Arc::new(client_frame(ECHO.request.as_bytes()));
    let opened = Instant::now();
    let sockets = open_many(options.conns, options.concurrency, |_| {
        let (options, frame) = (Arc::clone(&options), Arc::clone(&frame));
        async move {
            let mut socket = Socket::open(&options.target).await?;
            if options.talk {
                socket.exchange(&frame, ECHO.reply).await?;
            }
            Ok(socket)
        }
    })
    .await?;
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
