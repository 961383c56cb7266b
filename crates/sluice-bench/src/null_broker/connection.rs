//! One client connection: read size-prefixed frames, answer each in order into one output
//! buffer, and write that buffer whenever no further complete request is waiting.
//!
//! Requests are answered strictly one after another, as Kafka does per connection; a fetch
//! that has to wait flushes the answers before it first.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::apis::{self, Step};
use super::state::Broker;

/// Kafka's socket.request.max.bytes default: larger frames close the connection.
const MAX_FRAME: usize = 100 * 1024 * 1024;
const READ_CHUNK: usize = 256 * 1024;

enum Frame {
    Complete(bytes::Bytes),
    Incomplete,
    TooLarge(i64),
}

fn next_frame(buf: &mut BytesMut) -> Frame {
    if buf.len() < 4 {
        return Frame::Incomplete;
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 || size as usize > MAX_FRAME {
        return Frame::TooLarge(size as i64);
    }
    let size = size as usize;
    if buf.len() < 4 + size {
        // Room for the rest of this frame, grown as it is read rather than trusted up front.
        buf.reserve((4 + size - buf.len()).min(16 * READ_CHUNK));
        return Frame::Incomplete;
    }
    buf.advance(4);
    Frame::Complete(buf.split_to(size).freeze())
}

pub async fn serve(broker: &Broker, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::with_capacity(READ_CHUNK);
    loop {
        loop {
            let frame = match next_frame(&mut input) {
                Frame::Complete(f) => f,
                Frame::Incomplete => break,
                Frame::TooLarge(size) => {
                    eprintln!("null-broker: closing a connection: request size {size}");
                    return Ok(());
                }
            };
            match apis::dispatch(broker, frame, &mut output) {
                Step::Replied | Step::Silent => {}
                Step::Wait(req, pending) => {
                    if !output.is_empty() {
                        stream.write_all(&output).await?;
                        output.clear();
                    }
                    let resp = pending.wait(broker).await;
                    if let Step::Close(why) = apis::encode(&mut output, &req, &resp) {
                        eprintln!("null-broker: closing a connection: {why}");
                        return Ok(());
                    }
                }
                Step::Close(why) => {
                    eprintln!("null-broker: closing a connection: {why}");
                    if !output.is_empty() {
                        stream.write_all(&output).await?;
                    }
                    return Ok(());
                }
            }
        }
        if !output.is_empty() {
            stream.write_all(&output).await?;
            output.clear();
        }
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
    }
}
