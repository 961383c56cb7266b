//! One client connection: framing, pipelining and in-order responses.
//!
//! Requests are read and *started* strictly in arrival order, so a producer's pipelined batches
//! reach the log in the order it sent them. A request whose answer must wait (a long-polling fetch,
//! a produce waiting for fsync) hands the writer a future instead of bytes; the writer resolves the
//! queue in order, so responses leave in request order while the reader moves on. The queue is
//! bounded, which caps the requests in flight per connection.
//!
//! The reader fills one reused buffer with as much as the socket has (often several pipelined
//! requests per read) and splits frames off it; the space of handled frames is reclaimed for the
//! next reads. The writer sends record data that is still in segment files with `sendfile(2)`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Buf, BytesMut};
use futures::future::BoxFuture;
use sluice_log::FileSlice;
use tokio::io::Interest;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::broker::Broker;
use crate::dispatch::{self, DispatchError};
pub use crate::fetch_encode::Chunk;

/// Requests a client may have in flight on one connection before reads pause.
const MAX_IN_FLIGHT: usize = 64;

/// Initial size of a connection's read buffer; it grows for larger requests (never beyond what
/// has actually arrived plus one read's worth) and is reused from then on.
const READ_BUFFER: usize = 64 * 1024;

/// Size of a connection's write buffer, where small answers coalesce between flushes.
const WRITE_BUFFER: usize = 64 * 1024;

/// An encoded response: one buffer, or several pieces (record data travels as stored).
pub enum Frame {
    Contiguous(BytesMut),
    Chunks(Vec<Chunk>),
}

/// A response on its way out, in request order.
pub enum Reply {
    Ready(Frame),
    Deferred(BoxFuture<'static, Frame>),
    /// acks=0 produce: Kafka sends nothing back.
    None,
}

pub async fn serve(broker: Arc<Broker>, stream: TcpStream, peer: SocketAddr) {
    let _open = broker.metrics.connection_opened();
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Reply>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_loop(wr, rx));
    let max = broker.config.socket_request_max_bytes;
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    loop {
        // The size prefix, then the frame: read until the buffer holds `want` bytes.
        let mut want = 4;
        let mut size = None;
        let closed = loop {
            if buf.len() >= want {
                match size {
                    Some(_) => break false,
                    None => {
                        let n = size_prefix(&buf).expect("want is 4 until the size is known");
                        if n < 0 || n as usize > max {
                            tracing::warn!(%peer, size = n, max, "closing connection: request size out of bounds");
                            break true;
                        }
                        size = Some(n as usize);
                        want = 4 + n as usize;
                        continue;
                    }
                }
            }
            // Grow as bytes arrive rather than trusting the length prefix up front; `reserve`
            // reuses the buffer's start once earlier frames are dropped.
            if buf.capacity() - buf.len() < READ_BUFFER / 4 {
                buf.reserve((want - buf.len()).clamp(READ_BUFFER / 4, READ_BUFFER));
            }
            let read = tokio::select! {
                r = rd.read_buf(&mut buf) => r,
                _ = broker.shutdown.cancelled() => break true,
            };
            match read {
                Ok(0) | Err(_) => {
                    if !buf.is_empty() {
                        tracing::debug!(%peer, "closing connection: truncated request");
                    }
                    break true; // closed by the client
                }
                Ok(_) => {}
            }
        };
        let Some(size) = size.filter(|_| !closed) else {
            break;
        };
        buf.advance(4);
        let frame = buf.split_to(size).freeze();
        match dispatch::dispatch(&broker, frame, peer).await {
            Ok(reply) => {
                if tx.send(reply).await.is_err() {
                    break;
                }
                // More requests already read: let the writer send this answer before handling
                // them, unless the next one is small and already whole. On one worker thread a
                // large request's answer would otherwise wait for the rest of the burst (a
                // producer sends one request per partition back to back), and the producer's
                // queue frees up only as acks arrive. Small whole requests are handled at once:
                // they take microseconds, their answers then leave in one write, and a fetch
                // waiting for their records wakes once with all of them instead of once per
                // request (each wake-up is a round trip for a tailing consumer).
                if !buf.is_empty() && !small_frame_ready(&buf) {
                    tokio::task::yield_now().await;
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

/// Requests up to this size that are already whole in the read buffer are handled back to back
/// (see `serve`).
const SMALL_FRAME: usize = 64 * 1024;

/// The request size a frame starts with, once its 4 bytes are buffered.
fn size_prefix(buf: &[u8]) -> Option<i32> {
    let prefix: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(prefix))
}

/// True when `buf` starts with a whole request of at most [`SMALL_FRAME`] bytes.
fn small_frame_ready(buf: &[u8]) -> bool {
    size_prefix(buf).is_some_and(|size| {
        size >= 0 && size as usize <= SMALL_FRAME && buf.len() >= 4 + size as usize
    })
}

async fn write_loop(wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Reply>) {
    let mut wr = BufWriter::with_capacity(WRITE_BUFFER, wr);
    while let Some(reply) = rx.recv().await {
        let frame = match reply {
            Reply::Ready(f) => f,
            Reply::Deferred(mut f) => match futures::poll!(&mut f) {
                Poll::Ready(frame) => frame,
                Poll::Pending => {
                    // This answer waits (a long poll, a sync): the answers already buffered go
                    // out first. Otherwise, with the next request already queued (so no flush
                    // after the previous answer), a producer's acks sat behind a durable sync
                    // or a heartbeat's answer behind a fetch's max wait.
                    if wr.flush().await.is_err() {
                        return;
                    }
                    f.await
                }
            },
            Reply::None => continue,
        };
        let written = match frame {
            Frame::Contiguous(bytes) => wr.write_all(&bytes).await,
            Frame::Chunks(chunks) => write_chunks(&mut wr, chunks).await,
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

/// Chunks held in memory gather in the buffer when they fit; a longer run of them (an answer
/// whose records were read into memory) goes out in one vectored write, and file ranges by
/// `sendfile` once what is buffered before them has been sent.
async fn write_chunks(wr: &mut BufWriter<OwnedWriteHalf>, chunks: Vec<Chunk>) -> io::Result<()> {
    let mut rest = chunks.as_slice();
    while let Some(first) = rest.first() {
        if let Chunk::File(file) = first {
            wr.flush().await?;
            send_file(wr.get_ref().as_ref(), file).await?;
            rest = &rest[1..];
            continue;
        }
        let run = rest
            .iter()
            .position(|c| matches!(c, Chunk::File(_)))
            .unwrap_or(rest.len());
        let (bytes, after) = rest.split_at(run);
        rest = after;
        let total: usize = bytes.iter().map(Chunk::len).sum();
        if total <= WRITE_BUFFER - wr.buffer().len() {
            for chunk in bytes {
                if let Chunk::Bytes(b) = chunk {
                    wr.write_all(b).await?;
                }
            }
        } else {
            wr.flush().await?;
            write_all_vectored(wr.get_mut(), bytes).await?;
        }
    }
    Ok(())
}

/// Writes every byte of `chunks` (all in memory) with as few `writev` calls as the socket allows.
async fn write_all_vectored(wr: &mut OwnedWriteHalf, chunks: &[Chunk]) -> io::Result<()> {
    let mut parts: Vec<&[u8]> = chunks
        .iter()
        .filter_map(|c| match c {
            Chunk::Bytes(b) if !b.is_empty() => Some(b.as_ref()),
            _ => None,
        })
        .collect();
    let mut first = 0;
    while first < parts.len() {
        let slices: Vec<io::IoSlice<'_>> =
            parts[first..].iter().map(|p| io::IoSlice::new(p)).collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while first < parts.len() && n >= parts[first].len() {
            n -= parts[first].len();
            first += 1;
        }
        if n > 0 {
            parts[first] = &parts[first][n..];
        }
    }
    Ok(())
}

/// Copies a segment file range to the socket inside the kernel (page cache to socket buffer).
async fn send_file(socket: &TcpStream, file: &FileSlice) -> io::Result<()> {
    let mut offset = libc::off_t::try_from(file.position)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file position out of range"))?;
    let mut left = file.len;
    while left > 0 {
        let sent = socket
            .async_io(Interest::WRITABLE, || {
                // SAFETY: both descriptors are open for the call (the socket is borrowed, the
                // file is held by `file`), and `offset` is a valid off_t the kernel updates.
                let n = unsafe {
                    libc::sendfile(socket.as_raw_fd(), file.file.as_raw_fd(), &mut offset, left)
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            })
            .await?;
        if sent == 0 {
            // The file is shorter than the range: the response cannot be completed.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "segment file ended inside a fetch range",
            ));
        }
        left -= sent;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tokio::net::TcpListener;

    #[test]
    fn only_whole_small_frames_count_as_ready() {
        let frame = |size: usize, have: usize| {
            let mut b = (size as i32).to_be_bytes().to_vec();
            b.resize(4 + have, 0);
            b
        };
        assert!(small_frame_ready(&frame(10, 10)));
        assert!(small_frame_ready(&frame(10, 30)), "a whole frame and more");
        assert!(!small_frame_ready(&frame(10, 9)), "missing its last byte");
        assert!(small_frame_ready(&frame(SMALL_FRAME, SMALL_FRAME)));
        assert!(!small_frame_ready(&frame(SMALL_FRAME + 1, SMALL_FRAME + 1)));
        assert!(!small_frame_ready(&[0, 0, 0]), "no whole size prefix");
        assert!(!small_frame_ready(&(-1i32).to_be_bytes()));
    }

    /// A vectored write the socket takes in many small pieces (a 4 KiB send buffer, a reader that
    /// drains slowly) still delivers every chunk's bytes once and in order, empty chunks included.
    #[tokio::test]
    async fn vectored_writes_survive_partial_sends() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (server, _) = listener.accept().await.unwrap();
        let mut client = client.await.unwrap();
        let size: libc::c_int = 4096;
        // SAFETY: setsockopt on a socket we own, with a c_int option value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                server.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                &size as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        let chunks: Vec<Chunk> = (0..40u32)
            .map(|i| {
                let len = if i % 7 == 3 {
                    0
                } else {
                    1 + (i as usize * 7919) % 60_000
                };
                Chunk::Bytes(Bytes::from(
                    (0..len).map(|j| (j as u32 ^ i) as u8).collect::<Vec<u8>>(),
                ))
            })
            .collect();
        let expected: Vec<u8> = chunks
            .iter()
            .flat_map(|c| match c {
                Chunk::Bytes(b) => b.to_vec(),
                Chunk::File(_) => unreachable!(),
            })
            .collect();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 1000];
            loop {
                let n = client.read(&mut buf).await.unwrap();
                if n == 0 {
                    return got;
                }
                got.extend_from_slice(&buf[..n]);
                tokio::task::yield_now().await;
            }
        });
        let (_rd, mut wr) = server.into_split();
        write_all_vectored(&mut wr, &chunks).await.unwrap();
        drop(wr);
        let got = reader.await.unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "bytes differ");
    }
}
