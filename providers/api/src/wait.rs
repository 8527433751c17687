//! Waiting on the cloud, shared by every provider and the engine: retries of one call on
//! throttling and transient faults, and polls of long-running operations, both with
//! jittered exponential backoff, honouring `Retry-After` and the resource's deadline.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::{ErrorKind, ProviderError};

/// Jittered exponential backoff: attempt `n` waits about `first × 2ⁿ`, at most `max`, and
/// never less than what the cloud asked for.
#[derive(Clone, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    seed: u64,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Backoff {
            first,
            max,
            seed: nanos | 1,
        }
    }

    /// The backoff for polling an operation: from 200 ms up to 30 s.
    pub fn polling() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(30))
    }

    /// The backoff for retrying a refused call: from 200 ms up to 20 s.
    pub fn retrying() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(20))
    }

    /// Mix something of the caller's into the jitter, so callers started together spread.
    pub fn salted(mut self, salt: u64) -> Self {
        self.seed ^= salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        self
    }

    /// How long to wait before attempt `attempt` (1 for the first retry).
    pub fn wait(&mut self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let base = self
            .first
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max);
        let ms = base.as_millis().max(1) as u64;
        // Half the base plus a random part of it: [base/2, 3·base/2), capped.
        let jittered = Duration::from_millis(ms / 2 + self.seed % ms).min(self.max);
        match retry_after {
            Some(asked) => jittered.max(asked),
            None => jittered,
        }
    }
}

/// The deadline of an operation from its `timeouts` value, or `default` when unset.
pub fn deadline(timeout_seconds: Option<u64>, default: Duration) -> Instant {
    Instant::now() + timeout_seconds.map(Duration::from_secs).unwrap_or(default)
}

/// Call `call` until it succeeds, fails for good, or another wait would pass `deadline`.
/// Throttling and transient faults are retried (at most `attempts` times).
pub async fn retry<T, F, Fut>(
    deadline: Instant,
    attempts: u32,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut backoff = Backoff::retrying();
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if e.is_retryable() && attempt < attempts => {
                attempt += 1;
                let wait = backoff.wait(attempt, e.retry_after);
                if Instant::now() + wait >= deadline {
                    return Err(e);
                }
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

/// What one poll of a long-running operation found.
#[derive(Debug)]
pub enum Poll<T> {
    /// Finished; the value is what the caller wanted to know.
    Ready(T),
    /// Still going; the text says how far (`CREATING`, `RECONCILING`) for the timeout message.
    Pending(String),
}

/// Poll until the operation is ready, fails, or the deadline passes. A poll that is
/// throttled or meets a transient fault counts as still pending: the operation itself is
/// not known to have failed. `what` names the operation in the timeout error ("EKS
/// cluster train to become ACTIVE").
pub async fn until<T, F, Fut>(
    what: &str,
    deadline: Instant,
    mut poll: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    let mut backoff = Backoff::polling();
    let mut attempt = 0;
    loop {
        let (last, asked) = match poll().await {
            Ok(Poll::Ready(v)) => return Ok(v),
            Ok(Poll::Pending(status)) => (status, None),
            Err(e) if e.is_retryable() => (format!("unknown ({e})"), e.retry_after),
            Err(e) => return Err(e),
        };
        attempt += 1;
        let wait = backoff.wait(attempt, asked);
        if Instant::now() + wait > deadline {
            return Err(ProviderError::new(
                ErrorKind::Timeout,
                format!("waited for {what}, but the timeout ran out (last status: {last})"),
            ));
        }
        tokio::time::sleep(wait).await;
    }
}

/// Poll until `probe` no longer finds the object (it answers `None`).
pub async fn until_gone<T, F, Fut>(
    what: &str,
    deadline: Instant,
    mut probe: F,
) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ProviderError>>,
{
    until(&format!("{what} to be deleted"), deadline, || {
        let found = probe();
        async move {
            Ok(match found.await? {
                Some(_) => Poll::Pending("still there".into()),
                None => Poll::Ready(()),
            })
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..20 {
            let w = b.wait(attempt, None);
            let base = Duration::from_millis(100)
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(Duration::from_secs(2));
            assert!(
                w >= base / 2 && w <= Duration::from_secs(2),
                "{attempt}: {w:?}"
            );
        }
        assert!(b.wait(1, Some(Duration::from_secs(5))) >= Duration::from_secs(5));
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    #[test]
    fn retry_retries_only_what_can_succeed() {
        let calls = Cell::new(0);
        let r: Result<u32, _> =
            rt().block_on(retry(Instant::now() + Duration::from_secs(3600), 5, || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(ProviderError::new(ErrorKind::Throttled, "slow down"))
                    } else {
                        Ok(n)
                    }
                }
            }));
        assert_eq!(r.unwrap(), 3);
        calls.set(0);
        let r: Result<u32, _> =
            rt().block_on(retry(Instant::now() + Duration::from_secs(3600), 5, || {
                calls.set(calls.get() + 1);
                async { Err(ProviderError::invalid("bad name")) }
            }));
        assert_eq!(r.unwrap_err().kind, ErrorKind::Invalid);
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn until_polls_to_ready_and_times_out_with_the_last_status() {
        let polls = Cell::new(0);
        let r = rt().block_on(until(
            "a thing",
            Instant::now() + Duration::from_secs(3600),
            || {
                polls.set(polls.get() + 1);
                let n = polls.get();
                async move {
                    Ok(match n {
                        1 => return Err(ProviderError::new(ErrorKind::Transient, "reset")),
                        2..=4 => Poll::Pending("CREATING".into()),
                        _ => Poll::Ready("ok"),
                    })
                }
            },
        ));
        assert_eq!(r.unwrap(), "ok");
        let e = rt()
            .block_on(until::<(), _, _>(
                "EKS cluster x to become ACTIVE",
                Instant::now() + Duration::from_secs(5),
                || async { Ok(Poll::Pending("CREATING".into())) },
            ))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(e.message.contains("last status: CREATING"), "{}", e.message);
        let e = rt()
            .block_on(until::<(), _, _>(
                "x",
                Instant::now() + Duration::from_secs(5),
                || async { Err(ProviderError::new(ErrorKind::Capacity, "no GPUs")) },
            ))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Capacity);
    }
}
