//! Google API errors to the provider contract's kinds.
//!
//! Google answers with a canonical status (`NOT_FOUND`, `RESOURCE_EXHAUSTED`, …) over
//! REST and gRPC alike; a long-running operation that failed carries the same status, and
//! GKE's own operations an error string with the Compute Engine code
//! (`ZONE_RESOURCE_POOL_EXHAUSTED`).

use std::time::Duration;

use google_cloud_gax::error::rpc::{Code, Status, StatusDetails};
use google_cloud_gax::error::Error;
use mlinfra_provider_api::{ErrorKind, ProviderError};

/// Compute Engine's codes for "no machines of that kind in that zone right now".
const CAPACITY_CODES: &[&str] = &[
    "ZONE_RESOURCE_POOL_EXHAUSTED",
    "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
    "RESOURCE_POOL_EXHAUSTED",
    "STOCKOUT",
];

/// The kind of a canonical code and its message.
pub fn kind_of(code: Code, message: &str) -> ErrorKind {
    if CAPACITY_CODES.iter().any(|c| message.contains(c)) {
        return ErrorKind::Capacity;
    }
    match code {
        Code::NotFound => ErrorKind::NotFound,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        Code::ResourceExhausted if message.to_ascii_lowercase().contains("quota") => {
            ErrorKind::Quota
        }
        Code::ResourceExhausted => ErrorKind::Throttled,
        Code::PermissionDenied | Code::Unauthenticated => ErrorKind::Auth,
        // GKE runs one operation per cluster at a time: the next call waits its turn.
        Code::FailedPrecondition if message.contains("incompatible operation") => {
            ErrorKind::Transient
        }
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => ErrorKind::Invalid,
        Code::Unavailable | Code::Internal | Code::Aborted | Code::DeadlineExceeded => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Other,
    }
}

fn kind_of_http(status: u16) -> ErrorKind {
    match status {
        404 => ErrorKind::NotFound,
        409 => ErrorKind::AlreadyExists,
        429 => ErrorKind::Throttled,
        401 | 403 => ErrorKind::Auth,
        400 | 412 => ErrorKind::Invalid,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// The code a user can search for: a capacity code in the message, else the canonical one.
fn code_of(code: Code, message: &str) -> String {
    CAPACITY_CODES
        .iter()
        .find(|c| message.contains(*c))
        .map(|c| c.to_string())
        .unwrap_or_else(|| code.name().to_string())
}

/// A failed call: what we were doing, and what Google said.
pub fn classify(doing: &str, e: Error) -> ProviderError {
    let retry_after = e
        .http_headers()
        .and_then(|h| h.get("retry-after"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    if let Some(s) = e.status() {
        // Over gRPC the wait comes as a google.rpc.RetryInfo detail.
        let retry_info = s.details.iter().find_map(|d| match d {
            StatusDetails::RetryInfo(r) => r.retry_delay.and_then(|d| Duration::try_from(d).ok()),
            _ => None,
        });
        return from_status(doing, s).with_retry_after(retry_after.or(retry_info));
    }
    let kind = if e.is_authentication() {
        ErrorKind::Auth
    } else if e.is_timeout() || e.is_connect() || e.is_io() || e.is_transport() {
        ErrorKind::Transient
    } else if let Some(code) = e.http_status_code() {
        kind_of_http(code)
    } else {
        ErrorKind::Other
    };
    let mut err = ProviderError::new(kind, format!("{doing}: {e}")).with_retry_after(retry_after);
    if let Some(code) = e.http_status_code() {
        err = err.with_code(format!("HTTP {code}"));
    }
    err
}

/// A status from a call or from a failed long-running operation.
pub fn from_status(doing: &str, s: &Status) -> ProviderError {
    let kind = kind_of(s.code, &s.message);
    let hint = if kind == ErrorKind::Capacity {
        "; Google has no capacity for this machine there right now: try again later, another zone or region, another machine type, or spot or reserved capacity"
    } else {
        ""
    };
    ProviderError::new(
        kind,
        format!("{doing}: {} ({}){hint}", s.message, s.code.name()),
    )
    .with_code(code_of(s.code, &s.message))
}

/// Whether the error says the object is not there.
pub fn is_not_found(e: &Error) -> bool {
    e.status().is_some_and(|s| s.code == Code::NotFound) || e.http_status_code() == Some(404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grpc_retry_info_is_the_wait_google_asked_for() {
        let status = Status::default()
            .set_code(Code::ResourceExhausted)
            .set_message("rate of requests too high")
            .set_details([StatusDetails::RetryInfo(
                google_cloud_rpc::model::RetryInfo::new()
                    .set_retry_delay(google_cloud_wkt::Duration::clamp(3, 0)),
            )]);
        let e = classify("creating a bucket", Error::service(status));
        assert_eq!(e.kind, ErrorKind::Throttled);
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(e.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
    }

    #[test]
    fn canonical_codes_map_to_kinds() {
        assert_eq!(kind_of(Code::NotFound, "x"), ErrorKind::NotFound);
        assert_eq!(kind_of(Code::AlreadyExists, "x"), ErrorKind::AlreadyExists);
        assert_eq!(
            kind_of(Code::ResourceExhausted, "Quota exceeded for quota metric"),
            ErrorKind::Quota
        );
        assert_eq!(
            kind_of(Code::ResourceExhausted, "rate of requests"),
            ErrorKind::Throttled
        );
        assert_eq!(
            kind_of(
                Code::Unknown,
                "Instance 'gke-x' creation failed: Code: 'ZONE_RESOURCE_POOL_EXHAUSTED'"
            ),
            ErrorKind::Capacity
        );
        assert_eq!(
            kind_of(
                Code::FailedPrecondition,
                "Cluster is running incompatible operation operation-1"
            ),
            ErrorKind::Transient
        );
        assert_eq!(kind_of(Code::InvalidArgument, "x"), ErrorKind::Invalid);
        assert_eq!(kind_of(Code::PermissionDenied, "x"), ErrorKind::Auth);
        assert_eq!(kind_of(Code::Unavailable, "x"), ErrorKind::Transient);
        assert_eq!(
            code_of(Code::Unknown, "Code: 'ZONE_RESOURCE_POOL_EXHAUSTED'"),
            "ZONE_RESOURCE_POOL_EXHAUSTED"
        );
    }
}
