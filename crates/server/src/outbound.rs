//! A connection's single outbound queue and the task that writes it to the socket.
//!
//! Everything a client receives after the handshake goes through this one
//! bounded queue: replies pushed by the connection task and watch events pushed
//! by the sequencer at apply time. One queue means one order, which is how "a
//! client sees the event before any reply that reflects the change" holds (see
//! `connection.rs`). Pushing never waits: a full queue means the client is not
//! reading, and the connection is closed instead of an event being dropped.

use crate::control::{CloseReason, ConnControl};
use crate::limits::WRITE_BATCH_BYTES_MAX;
use crate::stats::{ConnStats, ServerStats};
use crate::transport::WriteHalf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, Notify};

/// One encoded frame (length prefix included).
#[derive(Debug)]
pub struct OutFrame {
    pub bytes: Vec<u8>,
    /// A reply to a request: writing it ends that request's outstanding time.
    pub is_reply: bool,
}

impl OutFrame {
    pub fn reply(bytes: Vec<u8>) -> Self {
        OutFrame {
            bytes,
            is_reply: true,
        }
    }

    pub fn event(bytes: Vec<u8>) -> Self {
        OutFrame {
            bytes,
            is_reply: false,
        }
    }
}

/// The sending side of a connection's queue; cheap to clone (the watch
/// registry holds one per connection).
#[derive(Debug, Clone)]
pub struct Outbound {
    tx: mpsc::Sender<OutFrame>,
    control: Arc<ConnControl>,
}

impl Outbound {
    pub fn channel(
        capacity_frames: usize,
        control: Arc<ConnControl>,
    ) -> (Outbound, mpsc::Receiver<OutFrame>) {
        let (tx, rx) = mpsc::channel(capacity_frames);
        (Outbound { tx, control }, rx)
    }

    /// Queues a frame without waiting. On a full queue the connection is closed
    /// (`OutboundFull`) and `false` returned; on a closed one (the connection is
    /// already ending) the frame is discarded with it.
    pub fn push(&self, frame: OutFrame) -> bool {
        match self.tx.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.control.close(CloseReason::OutboundFull);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    pub fn control(&self) -> &Arc<ConnControl> {
        &self.control
    }
}

/// Counters and signals the writer updates.
pub struct WriterContext {
    pub conn_stats: Arc<ConnStats>,
    pub server_stats: Arc<ServerStats>,
    /// Woken each time replies are written, so a reader paused at the
    /// outstanding-requests limit can resume.
    pub space: Arc<Notify>,
    pub control: Arc<ConnControl>,
}

/// Writes queued frames until every sender is gone (then shuts the write half
/// down, flushing what was queued) or the socket fails.
pub async fn run_writer(
    mut rx: mpsc::Receiver<OutFrame>,
    mut socket: WriteHalf,
    ctx: WriterContext,
) {
    let mut batch: Vec<u8> = Vec::with_capacity(WRITE_BATCH_BYTES_MAX);
    // Bounded by the queue: each turn drains at most what is already queued.
    while let Some(first) = rx.recv().await {
        let mut frames: u64 = 0;
        let mut replies: usize = 0;
        let mut next = Some(first);
        while let Some(frame) = next.take() {
            frames += 1;
            replies += usize::from(frame.is_reply);
            batch.extend_from_slice(&frame.bytes);
            if batch.len() < WRITE_BATCH_BYTES_MAX {
                next = rx.try_recv().ok();
            }
        }
        // `flush` hands a TLS stream's buffered records to the socket (a
        // no-op on TCP).
        let written = match socket.write_all(&batch).await {
            Ok(()) => socket.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            ctx.control.close(CloseReason::Io(e.to_string()));
            return;
        }
        batch.clear();
        ctx.conn_stats.packets_sent.fetch_add(frames, Relaxed);
        ctx.server_stats.packets_sent.fetch_add(frames, Relaxed);
        if replies > 0 {
            let _ = ctx
                .conn_stats
                .outstanding
                .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(replies)));
            ctx.space.notify_one();
        }
    }
    let _ = socket.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_closes_the_connection_instead_of_dropping() {
        let control = Arc::new(ConnControl::new());
        let (out, _rx) = Outbound::channel(2, control.clone());
        assert!(out.push(OutFrame::event(vec![1])));
        assert!(out.push(OutFrame::event(vec![2])));
        assert_eq!(control.reason(), None);
        assert!(!out.push(OutFrame::event(vec![3])));
        assert_eq!(control.reason(), Some(CloseReason::OutboundFull));
    }
}
