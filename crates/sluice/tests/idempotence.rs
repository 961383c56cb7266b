//! The idempotent producer (enable.idempotence=true, acks=all, 5 requests in flight) under forced
//! retries: the log must end up with every record exactly once, in send order, at the offset
//! its delivery report gave.
//!
//! Why: retries are where duplicates come from. A small TCP proxy between librdkafka and the
//! broker lets a Produce request reach the broker, then drops the connection instead of
//! returning the response, so the client *must* resend a batch the broker already appended.
//! Only the broker's sequence-number deduplication keeps that batch from landing twice. The
//! restart tests hold the client off while the broker restarts (cleanly or by crash) between
//! the append and the resend, so the deduplication state must survive the restart, as Kafka's
//! producer-state snapshots and log recovery make it.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use common::{delivery, send, unique_topic, wait_until, Broker, BrokerOptions, Rec};
use rdkafka::producer::future_producer::Delivery;
use rdkafka::producer::FutureProducer;

/// A loopback TCP proxy that swallows the responses to chosen Produce requests and cuts the
/// connection at that moment, as a network failure after the broker's append would.
mod dropping_proxy {
    use std::collections::HashSet;
    use std::io::{Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;

    const PRODUCE_API_KEY: i16 = 0;

    pub struct Proxy {
        pub addr: SocketAddr,
        /// Responses swallowed so far (each one a batch the broker appended unacknowledged).
        pub dropped: Arc<AtomicUsize>,
        paused: Arc<AtomicBool>,
        stopping: Arc<AtomicBool>,
    }

    /// Every `every`-th Produce request (counting across connections) gets its response
    /// swallowed, at most `max` times in total.
    #[derive(Clone, Copy)]
    pub struct Plan {
        pub every: usize,
        pub max: usize,
        /// Forward nothing after a doomed request on its connection, so the doomed batch is the
        /// last one the broker sees before the client reconnects (the only unacknowledged one).
        pub hold_after_doomed: bool,
        /// After swallowing a response, refuse new connections until [`Proxy::resume`].
        pub pause_after_drop: bool,
    }

    struct Shared {
        upstream: SocketAddr,
        plan: Plan,
        produce_requests: AtomicUsize,
        doomed_total: AtomicUsize,
        dropped: Arc<AtomicUsize>,
        paused: Arc<AtomicBool>,
    }

    impl Proxy {
        pub fn start(listener: TcpListener, upstream: SocketAddr, plan: Plan) -> Proxy {
            let addr = listener.local_addr().expect("proxy addr");
            let dropped = Arc::new(AtomicUsize::new(0));
            let paused = Arc::new(AtomicBool::new(false));
            let stopping = Arc::new(AtomicBool::new(false));
            let shared = Arc::new(Shared {
                upstream,
                plan,
                produce_requests: AtomicUsize::new(0),
                doomed_total: AtomicUsize::new(0),
                dropped: dropped.clone(),
                paused: paused.clone(),
            });
            let stop = stopping.clone();
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // While paused, a connection is closed as soon as it is accepted.
                    let Ok(client) = client else { continue };
                    if shared.paused.load(Ordering::SeqCst) {
                        continue;
                    }
                    let shared = shared.clone();
                    thread::spawn(move || serve_connection(client, shared));
                }
            });
            Proxy {
                addr,
                dropped,
                paused,
                stopping,
            }
        }

        /// Lets clients connect again after a pause.
        pub fn resume(&self) {
            self.paused.store(false, Ordering::SeqCst);
        }
    }

    impl Drop for Proxy {
        fn drop(&mut self) {
            self.stopping.store(true, Ordering::SeqCst);
            // Wake the accept loop so it sees the flag.
            let _ = TcpStream::connect(self.addr);
        }
    }

    /// One size-prefixed Kafka frame, prefix included.
    fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).ok()?;
        let size = i32::from_be_bytes(len);
        if !(0..=64 << 20).contains(&size) {
            return None;
        }
        let mut frame = vec![0u8; 4 + size as usize];
        frame[..4].copy_from_slice(&len);
        stream.read_exact(&mut frame[4..]).ok()?;
        Some(frame)
    }

    fn serve_connection(mut client: TcpStream, shared: Arc<Shared>) {
        let Ok(mut upstream) = TcpStream::connect(shared.upstream) else {
            return;
        };
        let (Ok(mut client_w), Ok(mut upstream_r)) = (client.try_clone(), upstream.try_clone())
        else {
            return;
        };
        let (Ok(client_k), Ok(upstream_k)) = (client.try_clone(), upstream.try_clone()) else {
            return;
        };
        let doomed: Arc<Mutex<HashSet<i32>>> = Arc::default();
        let both = Arc::new((client_k, upstream_k));
        let both2 = both.clone();
        let cut = move |both: &(TcpStream, TcpStream)| {
            let _ = both.0.shutdown(Shutdown::Both);
            let _ = both.1.shutdown(Shutdown::Both);
        };

        let doomed_r = doomed.clone();
        let shared_r = shared.clone();
        let responses = thread::spawn(move || {
            while let Some(frame) = read_frame(&mut upstream_r) {
                let correlation = i32::from_be_bytes(frame[4..8].try_into().expect("4 bytes"));
                if doomed_r.lock().expect("lock").remove(&correlation) {
                    if shared_r.plan.pause_after_drop {
                        shared_r.paused.store(true, Ordering::SeqCst);
                    }
                    shared_r.dropped.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                if client_w.write_all(&frame).is_err() {
                    break;
                }
            }
            cut(&both2);
        });

        let mut holding = false;
        while let Some(frame) = read_frame(&mut client) {
            if holding {
                continue;
            }
            if frame.len() >= 12 {
                let api_key = i16::from_be_bytes([frame[4], frame[5]]);
                let correlation = i32::from_be_bytes(frame[8..12].try_into().expect("4 bytes"));
                if api_key == PRODUCE_API_KEY {
                    let n = shared.produce_requests.fetch_add(1, Ordering::SeqCst) + 1;
                    if n.is_multiple_of(shared.plan.every)
                        && shared.doomed_total.fetch_add(1, Ordering::SeqCst) < shared.plan.max
                    {
                        // Marked before forwarding, so the response thread cannot miss it.
                        doomed.lock().expect("lock").insert(correlation);
                        holding = shared.plan.hold_after_doomed;
                    }
                }
            }
            if upstream.write_all(&frame).is_err() {
                break;
            }
        }
        cut(&both);
        let _ = responses.join();
    }
}

const PARTITIONS: i32 = 2;

/// An idempotent producer that retries quickly and never gives up within the test's time.
fn idempotent_producer(broker: &Broker) -> FutureProducer {
    broker
        .producer_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("max.in.flight.requests.per.connection", "5")
        .set("message.timeout.ms", "60000")
        .set("linger.ms", "2")
        .set("batch.num.messages", "40")
        .set("retry.backoff.ms", "10")
        .set("retry.backoff.max.ms", "100")
        .set("reconnect.backoff.ms", "10")
        .set("reconnect.backoff.max.ms", "100")
        .create()
        .expect("idempotent producer")
}

fn record(i: usize) -> Rec {
    Rec {
        key: Some(format!("k{i}").into_bytes()),
        ..Rec::value((i % PARTITIONS as usize) as i32, format!("record-{i:06}"))
    }
}

/// The log holds every sent record exactly once, in send order per partition, at contiguous
/// offsets, and each delivery report's offset points at its own record.
fn assert_exactly_once_in_order(
    broker: &Broker,
    topic: &str,
    sent: &[Rec],
    deliveries: &[Delivery],
) {
    let read = broker.read_all(topic);
    let mut by_partition: BTreeMap<i32, Vec<&Rec>> = BTreeMap::new();
    for r in sent {
        by_partition.entry(r.partition).or_default().push(r);
    }
    for (p, expected) in &by_partition {
        let got = &read[p];
        let got_values: Vec<String> = got
            .iter()
            .map(|c| String::from_utf8_lossy(c.payload.as_deref().unwrap_or_default()).into_owned())
            .collect();
        let want_values: Vec<String> = expected
            .iter()
            .map(|r| String::from_utf8_lossy(r.payload.as_deref().unwrap_or_default()).into_owned())
            .collect();
        if got_values != want_values {
            let mut seen = std::collections::HashMap::new();
            let dups: Vec<_> = got
                .iter()
                .filter(|c| seen.insert(c.payload.clone(), c.offset).is_some())
                .map(|c| c.offset)
                .take(20)
                .collect();
            panic!(
                "partition {p}: log has {} records, sent {}; first duplicate offsets {dups:?}; first difference at index {:?}",
                got.len(),
                expected.len(),
                got_values.iter().zip(&want_values).position(|(a, b)| a != b)
            );
        }
        let offsets: Vec<i64> = got.iter().map(|c| c.offset).collect();
        assert_eq!(
            offsets,
            (0..expected.len() as i64).collect::<Vec<_>>(),
            "partition {p}: offsets contiguous from 0"
        );
    }
    for (i, (rec, d)) in sent.iter().zip(deliveries).enumerate() {
        assert_eq!(d.partition, rec.partition, "record #{i} partition");
        let at = read[&d.partition].get(d.offset as usize);
        assert!(
            at.is_some_and(|c| c.offset == d.offset && c.matches(rec)),
            "record #{i} reported at {}/{} but the log has {at:?}",
            d.partition,
            d.offset
        );
    }
}

/// A broker advertised through a fresh proxy: every client connection after bootstrap goes
/// through the proxy, which must exist (to know its address) before the broker starts.
fn broker_behind_proxy(plan: dropping_proxy::Plan) -> (Broker, dropping_proxy::Proxy) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy listener");
    let proxy_addr = listener.local_addr().expect("addr");
    let broker = Broker::start_with(BrokerOptions {
        advertised: Some(proxy_addr),
        ..BrokerOptions::default()
    });
    let proxy = dropping_proxy::Proxy::start(listener, broker.addr(), plan);
    (broker, proxy)
}

fn await_all(futures: Vec<rdkafka::producer::future_producer::DeliveryFuture>) -> Vec<Delivery> {
    futures
        .into_iter()
        .enumerate()
        .map(|(i, f)| delivery(f).unwrap_or_else(|e| panic!("record #{i} not delivered: {e}")))
        .collect()
}

#[test]
fn resent_batches_after_lost_produce_responses_are_stored_once() {
    const N: usize = 4000;
    let plan = dropping_proxy::Plan {
        every: 3,
        max: 6,
        hold_after_doomed: false,
        pause_after_drop: false,
    };
    let (broker, proxy) = broker_behind_proxy(plan);
    let topic = unique_topic("idem-proxy");
    broker.create_topic(&topic, PARTITIONS, &[]);
    let producer = idempotent_producer(&broker);
    let sent: Vec<Rec> = (0..N).map(record).collect();

    let futures: Vec<_> = sent.iter().map(|r| send(&producer, &topic, r)).collect();
    let deliveries = await_all(futures);

    assert_eq!(
        proxy.dropped.load(Ordering::SeqCst),
        plan.max,
        "produce responses swallowed, forcing resends"
    );
    assert_exactly_once_in_order(&broker, &topic, &sent, &deliveries);
}

/// The broker appends a batch, the client never hears back, the broker restarts (`crash`:
/// SIGKILL, else SIGTERM), and only then does the client resend that batch.
fn resend_after_restart(crash: bool) {
    const N: usize = 3000;
    let plan = dropping_proxy::Plan {
        every: 5,
        max: 1,
        hold_after_doomed: true,
        pause_after_drop: true,
    };
    let (mut broker, proxy) = broker_behind_proxy(plan);
    let topic = unique_topic(if crash { "idem-crash" } else { "idem-restart" });
    broker.create_topic(&topic, PARTITIONS, &[]);
    let producer = idempotent_producer(&broker);
    let sent: Vec<Rec> = (0..N).map(record).collect();

    let futures: Vec<_> = sent.iter().map(|r| send(&producer, &topic, r)).collect();
    wait_until(
        common::WAIT,
        "the proxy to swallow a produce response",
        || (proxy.dropped.load(Ordering::SeqCst) == 1).then_some(()),
    );
    if crash {
        broker.kill();
    }
    broker.restart();
    proxy.resume();
    let deliveries = await_all(futures);

    assert_eq!(proxy.dropped.load(Ordering::SeqCst), 1);
    assert_exactly_once_in_order(&broker, &topic, &sent, &deliveries);
}

#[test]
fn batch_resent_after_a_clean_restart_is_recognised_as_a_duplicate() {
    resend_after_restart(false);
}

#[test]
fn batch_resent_after_a_crash_restart_is_recognised_as_a_duplicate() {
    resend_after_restart(true);
}
