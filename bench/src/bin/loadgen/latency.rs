//! `loadgen latency`: publish-to-delivery latency, typically across two server instances
//! that share a Redis bus.
//!
//! One connection subscribes at `--url`, one publishes at `--pub-url`; publishes go one at a
//! time, each timed from just before its frame is written to when its delivery has been
//! read. The first [`WARMUP_SAMPLES`] are not counted.

use std::time::Duration;
use tokio::time::{timeout, Instant};

use crate::pubsub::{news, publish, subscribe, subscribed};
use crate::wire::{client_frame, Socket};
use crate::{Options, Result, SETUP_TIMEOUT};

/// The topic of the measurement.
const TOPIC: &str = "latency";

/// Publishes before the counted ones, to warm up connections and caches.
const WARMUP_SAMPLES: usize = 100;

/// How long one delivery may take before the run fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `latency` and prints its line.
pub(crate) async fn run(options: Options) -> Result<()> {
    let publisher_target =
        options.publisher.as_ref().ok_or("latency needs --pub-url of the publishing server")?;
    let setup = async {
        let mut subscriber = Socket::open(&options.target).await?;
        subscriber.exchange(&client_frame(subscribe(TOPIC).as_bytes()), &subscribed(TOPIC)).await?;
        let publisher = Socket::open(publisher_target).await?;
        Ok::<_, String>((subscriber, publisher))
    };
    let (mut subscriber, mut publisher) =
        timeout(SETUP_TIMEOUT, setup).await.unwrap_or_else(|_| Err("setup timed out".into()))?;
    let mut samples = Vec::with_capacity(options.samples);
    for i in 0..WARMUP_SAMPLES + options.samples {
        let text = i.to_string();
        let (frame, expected) = (client_frame(publish(TOPIC, &text).as_bytes()), news(&text));
        let sent = Instant::now();
        publisher.send(&frame).await?;
        let delivered = async {
            tokio::select! {
                delivery = subscriber.next_text() => Ok(delivery?),
                answer = publisher.next_text() => {
                    Err(format!("the publisher received {}", String::from_utf8_lossy(&answer?)))
                }
            }
        };
        let delivery = timeout(DELIVERY_TIMEOUT, delivered)
            .await
            .unwrap_or_else(|_| Err(format!("publish {i} was not delivered within {DELIVERY_TIMEOUT:?}")))?;
        let elapsed = sent.elapsed();
        if delivery != expected.as_bytes() {
            return Err(format!(
                "publish {i}: received {}; expected {expected}",
                String::from_utf8_lossy(&delivery)
            ));
        }
        if i >= WARMUP_SAMPLES {
            samples.push(elapsed);
        }
    }
    samples.sort_unstable();
    let micros = |quantile: f64| {
        let index = ((samples.len() as f64 * quantile) as usize).min(samples.len() - 1);
        samples[index].as_micros()
    };
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "latency samples={} p50_us={} p90_us={} p99_us={} max_us={} mean_us={}",
        samples.len(),
        micros(0.50),
        micros(0.90),
        micros(0.99),
        samples[samples.len() - 1].as_micros(),
        mean.as_micros(),
    );
    Ok(())
}
