//! Waiting for Google's long-running operations with the contract's one poll helper.
//!
//! Artifact Registry and Vertex AI answer a `google.longrunning.Operation`; the provider
//! polls its `get` until `done` and turns a failed one into the contract's error. (GKE's
//! own `Operation` type is polled by the GKE modules the same way.)

use std::future::Future;
use std::time::Instant;

use google_cloud_gax::error::rpc::Status;
use google_cloud_longrunning::model::{operation, Operation};
use mlinfra_provider_api::wait::{self, Poll};
use mlinfra_provider_api::ProviderError;

use crate::errors::from_status;

/// Poll `op` with `get` until it is done; a failed operation is its status as an error.
pub async fn done<F, Fut>(
    what: &str,
    deadline: Instant,
    op: Operation,
    mut get: F,
) -> Result<Operation, ProviderError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Operation, ProviderError>>,
{
    let finished = if op.done {
        op
    } else {
        let name = op.name.clone();
        wait::until(what, deadline, || {
            let call = get(name.clone());
            async move {
                let o = call.await?;
                Ok(if o.done {
                    Poll::Ready(o)
                } else {
                    Poll::Pending("running".into())
                })
            }
        })
        .await?
    };
    if let Some(operation::Result::Error(s)) = &finished.result {
        return Err(from_status(what, &Status::from(s.as_ref())));
    }
    Ok(finished)
}
