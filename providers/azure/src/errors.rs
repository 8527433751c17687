//! ARM errors to the contract's kinds. ARM answers `{"error": {"code", "message"}}` with an
//! HTTP status; a long-running operation that fails carries the same object in its status.

use mlinfra_provider_api::{ErrorKind, ProviderError};
use serde_json::Value as Json;

use crate::arm::Reply;

/// Codes that mean the region has no room for the request right now.
const CAPACITY: &[&str] = &[
    "AllocationFailed",
    "ZonalAllocationFailed",
    "OverconstrainedAllocationRequest",
    "OverconstrainedZonalAllocationRequest",
    "SkuNotAvailable",
    "ReadOnlyDisabledSubscription",
];

/// Codes of a quota or limit of the subscription.
const QUOTA: &[&str] = &[
    "QuotaExceeded",
    "OperationNotAllowed",
    "ErrCode_InsufficientVCPUQuota",
    "InsufficientVCPUQuota",
];

/// Codes of a name another subscription or resource group already holds.
const TAKEN: &[&str] = &[
    "StorageAccountAlreadyTaken",
    "StorageAccountAlreadyExists",
    "AlreadyInUse",
    "RegistryNameNotAvailable",
    "ResourceExists",
];

/// Codes of a conflict that goes away: another operation on the resource is running.
const BUSY: &[&str] = &[
    "AnotherOperationInProgress",
    "OperationPreempted",
    "Conflict",
    "EtagMismatch",
];

/// The error of an ARM answer that is not a success.
pub fn from_reply(what: &str, r: &Reply) -> ProviderError {
    let (code, message) = r.error();
    classify(what, r.status, code, message).with_retry_after(r.retry_after())
}

pub fn classify(
    what: &str,
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
) -> ProviderError {
    let c = code.unwrap_or("");
    let kind = if CAPACITY.contains(&c) {
        ErrorKind::Capacity
    } else if QUOTA.contains(&c) && (c != "OperationNotAllowed" || mentions_quota(message)) {
        ErrorKind::Quota
    } else if TAKEN.contains(&c) {
        ErrorKind::AlreadyExists
    } else {
        match status {
            404 => ErrorKind::NotFound,
            409 if BUSY.contains(&c) || c.is_empty() || c == "OperationNotAllowed" => {
                ErrorKind::Transient
            }
            409 => ErrorKind::AlreadyExists,
            429 => ErrorKind::Throttled,
            401 | 403 => ErrorKind::Auth,
            408 | 500..=599 => ErrorKind::Transient,
            _ => ErrorKind::Invalid,
        }
    };
    let mut text = format!("{what}: ARM answered {status}");
    if let Some(code) = code {
        text.push_str(&format!(" {code}"));
    }
    if let Some(m) = message {
        text.push_str(&format!(": {m}"));
    }
    if kind == ErrorKind::Capacity {
        text.push_str(" (another VM size, region or zone may have capacity; or try again later)");
    }
    let err = ProviderError::new(kind, text);
    match code {
        Some(c) => err.with_code(c),
        None => err,
    }
}

fn mentions_quota(message: Option<&str>) -> bool {
    message.is_some_and(|m| m.to_ascii_lowercase().contains("quota"))
}

/// A long-running operation that ended `Failed` or `Canceled`.
pub fn operation_failed(what: &str, status: &str, body: Option<&Json>) -> ProviderError {
    let err = body.and_then(|b| b.get("error"));
    let code = err.and_then(|e| e.get("code")).and_then(Json::as_str);
    let message = err.and_then(|e| e.get("message")).and_then(Json::as_str);
    let mut e = classify(what, 400, code, message);
    e.message = format!("{} (the operation ended {status})", e.message);
    if status.eq_ignore_ascii_case("canceled") && e.kind == ErrorKind::Invalid {
        e.kind = ErrorKind::Other;
    }
    e
}

/// A call that never got an answer: connection refused, TLS, a token that could not be had.
pub fn transport(e: azure_core::Error) -> ProviderError {
    use azure_core::error::ErrorKind as K;
    let kind = match e.kind() {
        K::Credential => ErrorKind::Auth,
        K::Connection | K::Io => ErrorKind::Transient,
        K::HttpResponse { status, .. } => match u16::from(*status) {
            401 | 403 => ErrorKind::Auth,
            429 => ErrorKind::Throttled,
            _ => ErrorKind::Transient,
        },
        _ => ErrorKind::Other,
    };
    let mut text = format!("calling Azure Resource Manager: {e}");
    if kind == ErrorKind::Auth {
        text.push_str(" (set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID, or ARM_CLIENT_ID/ARM_CLIENT_SECRET/ARM_TENANT_ID; or sign in with `az login`)");
    }
    ProviderError::new(kind, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_codes_map_to_kinds() {
        let k = |status, code: &str, msg: &str| classify("x", status, Some(code), Some(msg)).kind;
        assert_eq!(k(404, "ResourceNotFound", ""), ErrorKind::NotFound);
        assert_eq!(
            k(409, "StorageAccountAlreadyTaken", ""),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            k(409, "AnotherOperationInProgress", ""),
            ErrorKind::Transient
        );
        assert_eq!(k(429, "TooManyRequests", ""), ErrorKind::Throttled);
        assert_eq!(k(503, "ServiceUnavailable", ""), ErrorKind::Transient);
        assert_eq!(k(400, "AllocationFailed", ""), ErrorKind::Capacity);
        assert_eq!(k(400, "SkuNotAvailable", ""), ErrorKind::Capacity);
        assert_eq!(
            k(400, "OperationNotAllowed", "exceeds quota"),
            ErrorKind::Quota
        );
        assert_eq!(k(400, "OperationNotAllowed", "not now"), ErrorKind::Invalid);
        assert_eq!(k(400, "InvalidRequestContent", ""), ErrorKind::Invalid);
        assert_eq!(k(401, "InvalidAuthenticationToken", ""), ErrorKind::Auth);
        let e = classify("creating x", 400, Some("AllocationFailed"), Some("no room"));
        assert_eq!(e.code.as_deref(), Some("AllocationFailed"));
        assert!(e
            .message
            .contains("creating x: ARM answered 400 AllocationFailed: no room"));
    }
}
