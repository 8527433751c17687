//! GKE's own long-running operations: every cluster and node pool mutation answers a
//! container v1 `Operation`, polled with `get_operation` until DONE. GKE runs one
//! operation per cluster at a time; a call that meets another one waits its turn.

use std::future::Future;
use std::time::{Duration, Instant};

use google_cloud_container_v1::model::{operation, Operation};
use google_cloud_gax::error::rpc::Status;
use mlinfra_provider_api::wait::{self, Poll};
use mlinfra_provider_api::ProviderError;

use crate::clients::Clients;
use crate::errors::{classify, from_status};

/// `projects/P/locations/L/operations/ID` of an operation GKE answered.
fn op_name(c: &Clients, op: &Operation) -> String {
    if op.name.starts_with("projects/") {
        return op.name.clone();
    }
    let location = if op.location.is_empty() {
        c.region.clone()
    } else {
        op.location.clone()
    };
    format!("{}/operations/{}", c.location(&location), op.name)
}

/// Wait for `op` to be DONE; a failed one is its error (a stockout, whose code GKE puts
/// in the error's message, is a Capacity error).
pub async fn done(
    c: &Clients,
    what: &str,
    deadline: Instant,
    op: Operation,
) -> Result<Operation, ProviderError> {
    let name = op_name(c, &op);
    let finished = if op.status == operation::Status::Done {
        op
    } else {
        wait::until(what, deadline, || {
            let call = c.gke.get_operation().set_name(&name).send();
            let name = name.clone();
            async move {
                let o = call
                    .await
                    .map_err(|e| classify(&format!("reading GKE operation {name}"), e))?;
                Ok(if o.status == operation::Status::Done {
                    Poll::Ready(o)
                } else {
                    Poll::Pending(o.status.name().unwrap_or("RUNNING").to_string())
                })
            }
        })
        .await?
    };
    if let Some(e) = &finished.error {
        return Err(from_status(what, &Status::from(e)));
    }
    Ok(finished)
}

/// Call `start` until GKE takes it: while another operation runs on the cluster, GKE
/// answers FAILED_PRECONDITION ("incompatible operation"), which is worth waiting out.
pub async fn start<T, F, Fut>(deadline: Instant, mut start: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let mut backoff = wait::Backoff::polling();
    let mut attempt = 0;
    loop {
        match start().await {
            Err(e) if e.is_retryable() && Instant::now() + Duration::from_secs(1) < deadline => {
                attempt += 1;
                let pause = backoff.wait(attempt, e.retry_after);
                if Instant::now() + pause >= deadline {
                    return Err(e);
                }
                tokio::time::sleep(pause).await;
            }
            other => return other,
        }
    }
}
