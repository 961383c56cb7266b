//! One client connection: framing, pipelining and in-order responses.
//!
//! Requests are read and *started* strictly in arrival order, so a producer's pipelined batches
//! reach the log in the order it sent them. A request whose answer must wait (a long-polling fetch,
//! a produce waiting for fsync) hands the writer a future instead of bytes; the writer resolves the
//! queue in order, so responses leave in request order while the reader moves on. The queue is
//! bounded, which caps the requests in flight per connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::broker::Broker;
use crate::dispatch::{self, DispatchError};

/// Requests a client may have in flight on one connection before reads pause.
const MAX_IN_FLIGHT: usize = 64;

/// An encoded response: one buffer, or several (record data travels as read from the log).
pub enum Frame {
    Contiguous(BytesMut),
    Chunks(Vec<Bytes>),
}

/// A response on its way out, in request order.
pub enum Reply {
    Ready(Frame),
    Deferred(BoxFuture<'static, Frame>),
    /// acks=0 produce: Kafka sends nothing back.
    None,
}

pub async fn serve(broker: Arc<Broker>, stream: TcpStream, peer: SocketAddr) {
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Reply>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_loop(wr, rx));
    let max = broker.config.socket_request_max_bytes;
    loop {
        let size = tokio::select! {
            r = rd.read_i32() => match r {
                Ok(n) => n,
                Err(_) => break, // closed by the client
            },
            _ = broker.shutdown.cancelled() => break,
        };
        if size < 0 || size as usize > max {
            tracing::warn!(%peer, size, max, "closing connection: request size out of bounds");
    let _open = broker.metrics.connection_opened();
            break;
        }
        // Grow the buffer as bytes arrive rather than trusting the length prefix up front.
        let mut frame = Vec::with_capacity((size as usize).min(64 * 1024));
        match (&mut rd).take(size as u64).read_to_end(&mut frame).await {
            Ok(n) if n == size as usize => {}
            _ => {
                tracing::debug!(%peer, "closing connection: truncated request");
                break;
            }
        }
        match dispatch::dispatch(&broker, Bytes::from(frame), peer).await {
            Ok(reply) => {
                if tx.send(reply).await.is_err() {
                    break;
                }
            }
            Err(DispatchError::Close(why)) => {
                tracing::info!(%peer, "closing connection: {why}");
                break;
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

async fn write_loop(wr: tokio::net::tcp::OwnedWriteHalf, mut rx: mpsc::Receiver<Reply>) {
    let mut wr = BufWriter::with_capacity(64 * 1024, wr);
    while let Some(reply) = rx.recv().await {
        let frame = match reply {
            Reply::Ready(f) => f,
            Reply::Deferred(f) => f.await,
            Reply::None => continue,
        };
        let written = match frame {
            Frame::Contiguous(bytes) => wr.write_all(&bytes).await,
            // Small chunks gather in the buffer; large record chunks go straight to the socket.
            Frame::Chunks(chunks) => {
                let mut result = Ok(());
                for chunk in chunks {
                    result = wr.write_all(&chunk).await;
                    if result.is_err() {
                        break;
                    }
                }
                result
            }
        };
        if written.is_err() {
            return;
        }
        // Coalesce: flush only when no further response is ready to go.
        if rx.is_empty() && wr.flush().await.is_err() {
            return;
        }
    }
    let _ = wr.flush().await;
}
