//! Ordered, bounded-concurrency paging: runs the listings of many independent jobs at once and
//! hands their pages to a consumer in job order, page by page.
//!
//! Each job (one resource type's listing, or one resource's entitlements or grants) pages
//! sequentially, since a page's token comes from the previous page. Up to `workers` jobs fetch at
//! once. Every job has its own one-page channel; the consumer drains the channels strictly in job
//! order, so the output does not depend on which call finishes first. Memory stays bounded: at
//! most `workers` jobs run, at most `workers` more wait to be consumed, and each holds at most two
//! pages (one in its channel, one being sent).

use std::future::Future;
use std::pin::pin;

use futures::future::{self, Either};
use futures::stream::{self, StreamExt};
use tokio::sync::mpsc;

use crate::engine::connector::Page;
use crate::engine::progress::Phase;
use crate::error::SyncError;

/// A unit of sequential paging.
pub(crate) trait Job: Clone {
    /// The phase the job belongs to (for errors).
    fn phase(&self) -> Phase;
    /// The resource type whose syncer the job calls (for errors).
    fn resource_type(&self) -> &str;
}

type PageResult<T> = Result<Page<T>, SyncError>;

enum Slot<J, T> {
    /// Preparing the job failed (e.g. reading it back from the spool).
    Failed(SyncError),
    /// A running job and the receiving end of its page channel.
    Job(J, mpsc::Receiver<PageResult<T>>),
}

/// Fetches every page of every job with up to `workers` jobs in flight, and calls `consume` for
/// each page in job order, then page order. The first error (from a job, in job order, or from
/// `consume`) ends the run; jobs still in flight are dropped.
pub(crate) async fn run_ordered<J, T, I, F, Fut, C>(
    jobs: I,
    workers: usize,
    fetch: &F,
    mut consume: C,
) -> Result<(), SyncError>
where
    J: Job,
    I: Iterator<Item = Result<J, SyncError>>,
    F: Fn(J, String) -> Fut,
    Fut: Future<Output = PageResult<T>>,
    C: FnMut(&J, Page<T>) -> Result<(), SyncError>,
{
    let workers = workers.max(1);
    let (slot_tx, mut slot_rx) = mpsc::channel::<Slot<J, T>>(workers);

    let producer = async move {
        stream::iter(jobs)
            .then(|job| {
                let slot_tx = slot_tx.clone();
                async move {
                    match job {
                        Err(error) => {
                            // If the consumer is gone the run is over anyway.
                            let _ = slot_tx.send(Slot::Failed(error)).await;
                            None
                        }
                        Ok(job) => {
                            let (page_tx, page_rx) = mpsc::channel(1);
                            slot_tx.send(Slot::Job(job.clone(), page_rx)).await.ok()?;
                            Some((job, page_tx))
                        }
                    }
                }
            })
            .map(|prepared| async move {
                if let Some((job, page_tx)) = prepared {
                    produce(fetch, job, page_tx).await;
                }
            })
            .buffer_unordered(workers)
            .for_each(|()| future::ready(()))
            .await;
        // `slot_tx` is dropped here, which ends the consumer's loop once it drained every slot.
    };

    let consumer = async {
        while let Some(slot) = slot_rx.recv().await {
            match slot {
                Slot::Failed(error) => return Err(error),
                Slot::Job(job, mut pages) => {
                    while let Some(page) = pages.recv().await {
                        consume(&job, page?)?;
                    }
                }
            }
        }
        Ok(())
    };

    match future::select(pin!(consumer), pin!(producer)).await {
        Either::Left((result, _producer)) => result,
        Either::Right(((), consumer)) => consumer.await,
    }
}

/// Pages through one job, sending each page (or the error that ends it) to the consumer.
async fn produce<J, T, F, Fut>(fetch: &F, job: J, pages: mpsc::Sender<PageResult<T>>)
where
    J: Job,
    F: Fn(J, String) -> Fut,
    Fut: Future<Output = PageResult<T>>,
{
    let mut token = String::new();
    loop {
        let page = match fetch(job.clone(), token.clone()).await {
            Ok(page) => page,
            Err(error) => {
                let _ = pages.send(Err(error)).await;
                return;
            }
        };
        let next = page.next_token.clone();
        if pages.send(Ok(page)).await.is_err() || next.is_empty() {
            return;
        }
        if next == token {
            let _ = pages
                .send(Err(SyncError::PageTokenRepeated {
                    phase: job.phase(),
                    resource_type: job.resource_type().to_owned(),
                    token: next,
                }))
                .await;
            return;
        }
        token = next;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::time::Duration;

    use super::*;

    #[derive(Debug, Clone)]
    struct TestJob {
        id: usize,
        pages: usize,
        delay_ms: u64,
    }

    impl Job for TestJob {
        fn phase(&self) -> Phase {
            Phase::Resources
        }
        fn resource_type(&self) -> &'static str {
            "test"
        }
    }

    async fn fetch_page(job: TestJob, token: String) -> PageResult<(usize, usize)> {
        // Later jobs answer sooner, so completion order is the reverse of job order.
        tokio::time::sleep(Duration::from_millis(job.delay_ms)).await;
        let index: usize = if token.is_empty() {
            0
        } else {
            token.parse().map_err(|_| unreachable_token())?
        };
        let items = vec![(job.id, index)];
        if index + 1 < job.pages {
            Ok(Page::next(items, (index + 1).to_string()))
        } else {
            Ok(Page::last(items))
        }
    }

    fn unreachable_token() -> SyncError {
        SyncError::Spool {
            source: "bad token".into(),
        }
    }

    fn jobs() -> Vec<TestJob> {
        (0..10)
            .map(|id| TestJob {
                id,
                pages: 1 + id % 3,
                delay_ms: 100 - 10 * id as u64,
            })
            .collect()
    }

    fn expected() -> Vec<(usize, usize)> {
        jobs()
            .iter()
            .flat_map(|job| (0..job.pages).map(move |page| (job.id, page)))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn pages_arrive_in_job_order_whatever_the_completion_order() {
        for workers in [1, 3, 8] {
            let seen = RefCell::new(Vec::new());
            run_ordered(
                jobs().into_iter().map(Ok),
                workers,
                &fetch_page,
                |_job, page| {
                    seen.borrow_mut().extend(page.items);
                    Ok(())
                },
            )
            .await
            .unwrap();
            assert_eq!(seen.into_inner(), expected(), "workers = {workers}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_job_stops_the_run_after_the_jobs_before_it() {
        let seen = RefCell::new(Vec::new());
        let mut jobs: Vec<Result<TestJob, SyncError>> = jobs().into_iter().map(Ok).collect();
        jobs[4] = Err(unreachable_token());
        let result = run_ordered(jobs.into_iter(), 4, &fetch_page, |job, _page| {
            seen.borrow_mut().push(job.id);
            Ok(())
        })
        .await;
        assert!(matches!(result, Err(SyncError::Spool { .. })));
        assert_eq!(seen.into_inner(), [0, 1, 1, 2, 2, 2, 3]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_token_is_an_error() {
        let fetch = |_job: TestJob, _token: String| async { Ok(Page::next(vec![()], "same")) };
        let job = TestJob {
            id: 0,
            pages: 0,
            delay_ms: 0,
        };
        let mut pages = 0;
        let result = run_ordered(std::iter::once(Ok(job)), 2, &fetch, |_job, _page| {
            pages += 1;
            Ok(())
        })
        .await;
        assert_eq!(pages, 2);
        assert!(
            matches!(result, Err(SyncError::PageTokenRepeated { ref token, .. }) if token == "same"),
            "{result:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_consumer_error_ends_the_run() {
        let result = run_ordered(jobs().into_iter().map(Ok), 4, &fetch_page, |job, _page| {
            if job.id == 2 {
                Err(unreachable_token())
            } else {
                Ok(())
            }
        })
        .await;
        assert!(matches!(result, Err(SyncError::Spool { .. })));
    }
}
