//! The way into raft for the leader's proposals: one batch per scheduler
//! tick instead of one per connection.
//!
//! Why: raft's core runs a loop (log append, commands, metrics) for whatever
//! it finds waiting when it wakes. A connection that hands its proposals to
//! raft directly wakes the core into tokio's "LIFO slot", so the core runs
//! the moment that connection's task yields, before the other connections
//! that are ready in the same tick. Under load every connection's handful of
//! writes then costs a whole core loop, a WAL `pwrite` and a wake-up of the
//! flusher. Here the proposals go into a queue instead, and one task feeds
//! raft from it: woken by the first proposal, it steps to the back of the
//! run queue once, so the connections already waiting to run add theirs,
//! and then hands all of them over together. Raft merges consecutive client
//! writes, so a tick's proposals become one loop and one append.
//!
//! A lone writer pays one extra poll of the feeding task and no extra
//! system call: with nothing else ready it runs again at once. The queue
//! belongs to the feeding task, not to the connection that filled it, so a
//! proposal queued by a task that is then dropped still reaches raft (or,
//! if raft has stopped, is dropped with its responder, which releases the
//! waiting client). Order is kept: the queue is FIFO and one task drains it.
//! The queue is not bounded here: what may be in flight is bounded before a
//! proposal gets this far (`Pending`'s room, the leader link's batches).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

/// How many proposals the feeding task hands over before it looks at the
/// queue again; a bound on one batch's memory, not a delay.
pub const INTAKE_BATCH_PROPOSALS_MAX: usize = 4096;

/// Where the feeding task delivers a batch, in queue order.
pub trait BatchSink<T>: Send + 'static {
    /// Takes every item of `batch` (leaving it empty) and delivers them in
    /// order.
    fn deliver<'a>(&'a mut self, batch: &'a mut Vec<T>) -> impl Future<Output = ()> + Send + 'a;
}

/// The sending side of the queue; cheap to clone. The feeding task ends when
/// every clone is dropped, after delivering what was queued.
#[derive(Debug)]
pub struct Intake<T> {
    queue: mpsc::UnboundedSender<T>,
}

impl<T> Clone for Intake<T> {
    fn clone(&self) -> Self {
        Intake {
            queue: self.queue.clone(),
        }
    }
}

impl<T: Send + 'static> Intake<T> {
    /// Starts the feeding task on the current tokio runtime.
    pub fn spawn(sink: impl BatchSink<T>) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, rx) = mpsc::unbounded_channel();
        let feeder = tokio::spawn(feed(rx, sink));
        (Intake { queue }, feeder)
    }

    /// Queues `item` behind everything queued before it. `Err` gives it back
    /// when the feeding task is gone (its runtime shut down).
    pub fn push(&self, item: T) -> Result<(), T> {
        self.queue.send(item).map_err(|e| e.0)
    }
}

async fn feed<T: Send + 'static>(mut rx: mpsc::UnboundedReceiver<T>, mut sink: impl BatchSink<T>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, INTAKE_BATCH_PROPOSALS_MAX).await > 0 {
        // Let the tasks that are ready to run in this tick queue theirs.
        ToBackOfRunQueue::default().await;
        while batch.len() < INTAKE_BATCH_PROPOSALS_MAX {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        sink.deliver(&mut batch).await;
        batch.clear();
    }
}

/// Returns `Pending` once, having woken its own task. Tokio puts a task that
/// was woken while it ran at the back of the worker's run queue (neither the
/// LIFO slot nor `yield_now`'s wait for the next poll of the I/O driver), so
/// every task that was ready runs before this one resumes, and with none
/// ready it resumes at once.
#[derive(Default)]
struct ToBackOfRunQueue {
    yielded: bool,
}

impl Future for ToBackOfRunQueue {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A test proposal: (task, its n-th).
    type Item = (usize, usize);

    /// Records each delivered batch.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<Item>>>>);

    impl BatchSink<Item> for Recorder {
        async fn deliver(&mut self, batch: &mut Vec<Item>) {
            let taken = std::mem::take(batch);
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(taken);
        }
    }

    impl Recorder {
        fn batches(&self) -> Vec<Vec<Item>> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }
    }

    /// Waits for the feeding task to deliver `count` items.
    async fn delivered(recorder: &Recorder, count: usize) -> Vec<Vec<Item>> {
        for _ in 0..1000 {
            let batches = recorder.batches();
            if batches.iter().map(Vec::len).sum::<usize>() >= count {
                return batches;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        panic!("only {:?} delivered", recorder.batches());
    }

    /// As the server runs: one worker thread. Tasks ready in the same tick
    /// each queue a few proposals; raft must see them as one batch, each
    /// task's in its own order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn one_tick_of_proposals_is_one_batch_in_each_tasks_order() {
        const TASKS: usize = 6;
        const EACH: usize = 5;
        let recorder = Recorder::default();
        let (intake, _feeder) = Intake::spawn(recorder.clone());
        // Spawned from a task on the worker, so all of them are ready at
        // once, as connections woken by one poll of the I/O driver are.
        let parent = tokio::spawn(async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|task| {
                    let intake = intake.clone();
                    tokio::spawn(async move {
                        for n in 0..EACH {
                            assert!(intake.push((task, n)).is_ok());
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
        });
        parent.await.expect("parent");
        let batches = delivered(&recorder, TASKS * EACH).await;
        assert_eq!(batches.len(), 1, "batches: {batches:?}");
        for task in 0..TASKS {
            let order: Vec<usize> = batches[0]
                .iter()
                .filter(|(t, _)| *t == task)
                .map(|(_, n)| *n)
                .collect();
            assert_eq!(order, (0..EACH).collect::<Vec<_>>());
        }
    }

    /// A lone writer's proposal is not held back waiting for company.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_lone_proposal_is_delivered_at_once() {
        let recorder = Recorder::default();
        let (intake, _feeder) = Intake::spawn(recorder.clone());
        for round in 0..3 {
            assert!(intake.push((0, round)).is_ok());
            let batches = delivered(&recorder, round + 1).await;
            assert_eq!(batches.len(), round + 1);
            assert_eq!(batches[round], vec![(0, round)]);
        }
    }

    /// What a task queued reaches the sink even if the task is aborted
    /// right after; dropping every `Intake` ends the feeding task once the
    /// queue is delivered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn queued_proposals_outlive_their_task_and_the_feeder_ends_with_the_intake() {
        let recorder = Recorder::default();
        let (intake, feeder) = Intake::spawn(recorder.clone());
        let queuing = intake.clone();
        let task = tokio::spawn(async move {
            for n in 0..3 {
                assert!(queuing.push((7, n)).is_ok());
            }
            std::future::pending::<()>().await;
        });
        while recorder.batches().is_empty() {
            tokio::task::yield_now().await;
        }
        task.abort();
        drop(intake);
        tokio::time::timeout(std::time::Duration::from_secs(5), feeder)
            .await
            .expect("the feeder ends")
            .expect("the feeder does not panic");
        assert_eq!(recorder.batches().concat(), vec![(7, 0), (7, 1), (7, 2)]);
    }
}
