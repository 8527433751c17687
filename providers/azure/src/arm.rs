//! A small Azure Resource Manager client on azure_core's pipeline.
//!
//! No maintained Rust crates exist for the ARM management plane, so this is the part of one
//! mlinfra needs: JSON resources by id with a pinned api-version, the bearer policy for
//! `https://management.azure.com/.default`, azure_core's retry policy (which honours
//! `Retry-After`, `retry-after-ms` and `x-ms-retry-after-ms`), and ARM's long-running
//! operations, which azure_core leaves to each client: a 201/202 answer with an
//! `Azure-AsyncOperation` or `Location` header, or a resource whose `provisioningState`
//! is not yet terminal, is polled until it is `Succeeded`, `Failed` or `Canceled`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::HeaderName;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::policies::Policy;
use azure_core::http::{
    ClientOptions, Context, ExponentialRetryOptions, Method, Pipeline, PipelineSendOptions,
    RawResponse, Request, RetryOptions, Url,
};
use mlinfra_provider_api::wait::Backoff;
use mlinfra_provider_api::{ErrorKind, ProviderError};
use serde_json::Value as Json;

use crate::errors;

/// The scope of an ARM token.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

const AZURE_ASYNC_OPERATION: HeaderName = HeaderName::from_static("azure-asyncoperation");
const LOCATION: HeaderName = HeaderName::from_static("location");
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");

/// One answer: status, the headers that matter, and the JSON body (if any).
pub struct Reply {
    pub status: u16,
    pub body: Option<Json>,
    async_operation: Option<String>,
    location: Option<String>,
    retry_after: Option<Duration>,
}

/// The ARM client of one provider configuration.
pub struct Arm {
    pipeline: Pipeline,
    base: Url,
}

impl Arm {
    pub fn new(base: Url, credential: Arc<dyn TokenCredential>, mut options: ClientOptions) -> Arm {
        options.retry = RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 4,
            max_total_elapsed: azure_core::time::Duration::seconds(60),
            max_delay: azure_core::time::Duration::seconds(30),
        });
        let auth: Arc<dyn Policy> =
            Arc::new(BearerTokenAuthorizationPolicy::new(credential, [ARM_SCOPE]));
        let pipeline = Pipeline::new(
            Some("mlinfra"),
            Some(env!("CARGO_PKG_VERSION")),
            options,
            Vec::new(),
            vec![auth],
            None,
        );
        Arm { pipeline, base }
    }

    fn url(&self, path_or_url: &str, api: Option<&str>) -> Result<Url, ProviderError> {
        let mut url =
            if path_or_url.starts_with("https://") || path_or_url.starts_with("http://") {
                Url::parse(path_or_url)
            } else {
                self.base.join(path_or_url)
            }
            .map_err(|e| ProviderError::invalid(format!("{path_or_url} is not a URL: {e}")))?;
        if let Some(api) = api {
            let others: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "api-version")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(others)
                .append_pair("api-version", api);
        }
        Ok(url)
    }

    /// One call, any status: the caller decides what a status means.
    pub async fn send(
        &self,
        method: Method,
        path_or_url: &str,
        api: Option<&str>,
        body: Option<&Json>,
    ) -> Result<Reply, ProviderError> {
        let url = self.url(path_or_url, api)?;
        let mut req = Request::new(url, method);
        if let Some(b) = body {
            req.insert_header("content-type", "application/json");
            req.set_body(serde_json::to_vec(b).unwrap_or_default());
        }
        let ctx = Context::new();
        let resp: RawResponse = self
            .pipeline
            .send(
                &ctx,
                &mut req,
                Some(PipelineSendOptions {
                    skip_checks: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(errors::transport)?;
        let status = u16::from(resp.status());
        let header = |h: &HeaderName| resp.headers().get_optional_string(h);
        let retry_after = header(&RETRY_AFTER).and_then(|v| v.trim().parse::<u64>().ok());
        let async_operation = header(&AZURE_ASYNC_OPERATION);
        let location = header(&LOCATION);
        let bytes = resp.into_body();
        let raw: &[u8] = bytes.as_ref();
        let body = if raw.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            serde_json::from_slice(raw).ok()
        };
        Ok(Reply {
            status,
            body,
            async_operation,
            location,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    /// The resource at `path`, or `None` when ARM answers 404.
    /// The names of a collection's members (`{"value": [{"name": …}, …]}`); none when the
    /// collection or its parent is not there.
    pub async fn names(&self, path: &str, api: &str) -> Result<Vec<String>, ProviderError> {
        Ok(self
            .get(path, api)
            .await?
            .as_ref()
            .and_then(|l| l.get("value"))
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.get("name").and_then(Json::as_str).map(str::to_string))
            .collect())
    }

    pub async fn get(&self, path: &str, api: &str) -> Result<Option<Json>, ProviderError> {
        let r = self.send(Method::Get, path, Some(api), None).await?;
        match r.status {
            200 => Ok(r.body),
            404 => Ok(None),
            _ => Err(errors::from_reply(&format!("reading {path}"), &r)),
        }
    }

    /// PUT (create or replace) and wait until ARM says the resource is provisioned.
    pub async fn put(
        &self,
        path: &str,
        api: &str,
        body: &Json,
        deadline: Instant,
    ) -> Result<Json, ProviderError> {
        self.write(Method::Put, path, api, body, deadline).await
    }

    /// PUT a resource that was not there, and wait until it is provisioned. When ARM
    /// refuses it after accepting it (its operation ends `Failed`), the resource ARM left
    /// behind in provisioningState `Failed` is deleted, so a failed create leaves nothing.
    pub async fn create(
        &self,
        path: &str,
        api: &str,
        body: &Json,
        deadline: Instant,
    ) -> Result<Json, ProviderError> {
        match self.put(path, api, body, deadline).await {
            Ok(res) => Ok(res),
            Err(e) if e.is_retryable() || e.kind == ErrorKind::Timeout => Err(e),
            Err(mut e) => {
                let failed = matches!(
                    self.get(path, api).await,
                    Ok(Some(res)) if provisioning_state(&res)
                        .is_some_and(|s| s.eq_ignore_ascii_case("Failed"))
                );
                if failed {
                    match self.delete(path, api, deadline).await {
                        Ok(()) => e.message.push_str("; the failed resource ARM left behind was deleted"),
                        Err(d) => e.message.push_str(&format!(
                            "; ARM left the resource behind in provisioningState Failed, and deleting it failed too ({d})"
                        )),
                    }
                }
                Err(e)
            }
        }
    }

    /// `call`, again while ARM answers that another operation on the resource (an AKS
    /// cluster and its pools run one at a time) is in progress, or another fault that
    /// passes; until `deadline`.
    pub async fn retrying_busy<T, F, Fut>(
        &self,
        deadline: Instant,
        call: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        mlinfra_provider_api::wait::retry(deadline, 60, call).await
    }

    /// PATCH (merge) and wait until ARM says the resource is provisioned.
    pub async fn patch(
        &self,
        path: &str,
        api: &str,
        body: &Json,
        deadline: Instant,
    ) -> Result<Json, ProviderError> {
        self.write(Method::Patch, path, api, body, deadline).await
    }

    async fn write(
        &self,
        method: Method,
        path: &str,
        api: &str,
        body: &Json,
        deadline: Instant,
    ) -> Result<Json, ProviderError> {
        let verb = if method == Method::Put {
            "creating or updating"
        } else {
            "updating"
        };
        let what = format!("{verb} {path}");
        let r = self.send(method, path, Some(api), Some(body)).await?;
        if !(200..300).contains(&r.status) {
            return Err(errors::from_reply(&what, &r));
        }
        self.follow(&what, path, api, r, deadline).await?;
        // The operation is over: the resource as ARM now has it.
        match self.get(path, api).await? {
            Some(res) => match provisioning_state(&res) {
                Some(s)
                    if s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Canceled") =>
                {
                    Err(ProviderError::new(
                        ErrorKind::Other,
                        format!("{what}: the resource's provisioningState is {s}"),
                    ))
                }
                _ => Ok(res),
            },
            None => Err(ProviderError::new(
                ErrorKind::Transient,
                format!("{what}: the operation finished, but {path} cannot be read back yet"),
            )),
        }
    }

    /// DELETE and wait until the resource is gone. A resource already gone is not an error.
    pub async fn delete(
        &self,
        path: &str,
        api: &str,
        deadline: Instant,
    ) -> Result<(), ProviderError> {
        let what = format!("deleting {path}");
        let r = self.send(Method::Delete, path, Some(api), None).await?;
        match r.status {
            404 | 204 => return Ok(()),
            s if (200..300).contains(&s) => {}
            _ => return Err(errors::from_reply(&what, &r)),
        }
        self.follow(&what, path, api, r, deadline).await?;
        // ARM may say Succeeded a moment before a GET agrees.
        self.poll(&what, deadline, |arm| async move {
            Ok(match arm.get(path, api).await? {
                None => Some(()),
                Some(_) => None,
            })
        })
        .await
    }

    /// Waits out the long-running operation a write or delete answered with, if any.
    async fn follow(
        &self,
        what: &str,
        path: &str,
        api: &str,
        first: Reply,
        deadline: Instant,
    ) -> Result<(), ProviderError> {
        if let Some(op) = first.async_operation.clone() {
            // Azure-AsyncOperation: an operation status resource with `status`.
            let mut hint = first.retry_after;
            return self
                .poll_with(what, deadline, &mut hint, |arm| {
                    let op = op.clone();
                    async move {
                        let r = arm.send(Method::Get, &op, None, None).await?;
                        if r.status != 200 {
                            return Err(errors::from_reply(
                                &format!("{what} (status of the operation)"),
                                &r,
                            ));
                        }
                        let status = r
                            .body
                            .as_ref()
                            .and_then(|b| b.get("status"))
                            .and_then(Json::as_str)
                            .unwrap_or("InProgress")
                            .to_string();
                        match status.to_ascii_lowercase().as_str() {
                            "succeeded" => Ok((Some(()), r.retry_after)),
                            "failed" | "canceled" | "cancelled" => {
                                Err(errors::operation_failed(what, &status, r.body.as_ref()))
                            }
                            _ => Ok((None, r.retry_after)),
                        }
                    }
                })
                .await;
        }
        if first.status == 202 {
            if let Some(loc) = first.location.clone() {
                // Location: 202 while it runs; then 200/201/204 (done) or an error status.
                let mut hint = first.retry_after;
                return self
                    .poll_with(what, deadline, &mut hint, |arm| {
                        let loc = loc.clone();
                        async move {
                            let r = arm.send(Method::Get, &loc, None, None).await?;
                            match r.status {
                                202 => Ok((None, r.retry_after)),
                                200 | 201 | 204 => Ok((Some(()), None)),
                                _ => Err(errors::operation_failed(what, "Failed", r.body.as_ref())),
                            }
                        }
                    })
                    .await;
            }
        }
        // No operation header: the resource's own provisioningState says when it is done.
        let pending = first
            .body
            .as_ref()
            .and_then(provisioning_state)
            .is_some_and(|s| !is_terminal(s));
        if pending {
            self.poll(what, deadline, |arm| async move {
                match arm.get(path, api).await? {
                    Some(res) => Ok(provisioning_state(&res)
                        .is_none_or(is_terminal)
                        .then_some(())),
                    None => Ok(Some(())),
                }
            })
            .await?;
        }
        Ok(())
    }

    async fn poll<'a, F, Fut>(
        &'a self,
        what: &str,
        deadline: Instant,
        f: F,
    ) -> Result<(), ProviderError>
    where
        F: Fn(&'a Arm) -> Fut,
        Fut: std::future::Future<Output = Result<Option<()>, ProviderError>>,
    {
        let mut hint = None;
        self.poll_with(what, deadline, &mut hint, |arm| {
            let fut = f(arm);
            async move { fut.await.map(|done| (done, None)) }
        })
        .await
    }

    /// Polls `f` until it answers `Some`, waiting between polls as ARM's `Retry-After`
    /// asks (at least) and backing off otherwise; transient faults are polled through.
    async fn poll_with<'a, F, Fut>(
        &'a self,
        what: &str,
        deadline: Instant,
        hint: &mut Option<Duration>,
        f: F,
    ) -> Result<(), ProviderError>
    where
        F: Fn(&'a Arm) -> Fut,
        Fut: std::future::Future<Output = Result<(Option<()>, Option<Duration>), ProviderError>>,
    {
        let mut backoff = Backoff::polling();
        let mut attempt = 0u32;
        loop {
            let wait = backoff.wait(attempt.max(1), *hint);
            if attempt > 0 || hint.is_some() {
                if Instant::now() + wait > deadline {
                    return Err(ProviderError::new(
                        ErrorKind::Timeout,
                        format!("{what}: the operation did not finish within the timeout"),
                    ));
                }
                tokio::time::sleep(wait).await;
            }
            attempt += 1;
            match f(self).await {
                Ok((Some(()), _)) => return Ok(()),
                Ok((None, asked)) => *hint = asked,
                Err(e) if e.is_retryable() => *hint = e.retry_after,
                Err(e) => return Err(e),
            }
        }
    }
}

pub fn provisioning_state(res: &Json) -> Option<&str> {
    res.get("properties")
        .and_then(|p| p.get("provisioningState"))
        .and_then(Json::as_str)
}

fn is_terminal(state: &str) -> bool {
    ["succeeded", "failed", "canceled", "cancelled"].contains(&state.to_ascii_lowercase().as_str())
}

impl Reply {
    /// The ARM error object's `code` and `message`, when the body has one.
    pub fn error(&self) -> (Option<&str>, Option<&str>) {
        let e = self.body.as_ref().and_then(|b| b.get("error"));
        (
            e.and_then(|e| e.get("code")).and_then(Json::as_str),
            e.and_then(|e| e.get("message")).and_then(Json::as_str),
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}
