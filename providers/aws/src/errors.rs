//! Map SDK errors to the provider error kinds the engine retries on.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use mlinfra_provider_api::{ErrorKind, ProviderError};

/// Classify an SDK error: throttling, transient faults, auth, or a refusal.
pub fn classify<E>(
    what: &str,
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (kind, message) = match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("Unknown");
            let msg = e.message().unwrap_or("");
            // Bodiless answers (HEAD) carry no code: the status decides.
            let status = se.raw().status().as_u16();
            let kind = kind_of(code, status);
            let message = format!("{what}: {code} (HTTP {status}): {msg}");
            let retry_after = se
                .raw()
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(std::time::Duration::from_secs);
            return ProviderError::new(kind, message)
                .with_code(code)
                .with_retry_after(retry_after);
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            let chain = aws_smithy_error_chain(&err);
            // Every credentials failure but a timeout is the same on the next attempt: a
            // malformed profile file must fail at once, not after minutes of retries.
            let credentials = [
                "loading credentials",
                "no credentials",
                "credentials provider was not properly configured",
                "credential provider was not enabled",
                "unexpected credentials error",
                "could not parse profile file",
            ]
            .iter()
            .any(|s| chain.contains(s));
            if credentials && !chain.contains("timed out") {
                (
                    ErrorKind::Auth,
                    format!("{what}: no AWS credentials were found, or they could not be loaded (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where a role is available; a malformed ~/.aws/credentials or ~/.aws/config must be fixed): {chain}"),
                )
            } else {
                (ErrorKind::Transient, format!("{what}: {chain}"))
            }
        }
        _ => (
            ErrorKind::Other,
            format!("{what}: {}", aws_smithy_error_chain(&err)),
        ),
    };
    ProviderError::new(kind, message)
}

/// The error kind of an AWS error code, or of the HTTP status when the code says nothing.
fn kind_of(code: &str, status: u16) -> ErrorKind {
    match code {
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "SlowDown"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ProvisionedThroughputExceededException" => ErrorKind::Throttled,
        "InternalError"
        | "ServiceUnavailable"
        | "InternalFailure"
        | "ServerException"
        | "ServiceUnavailableException"
        | "ServerError" => ErrorKind::Transient,
        "AccessDenied"
        | "AccessDeniedException"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException" => ErrorKind::Auth,
        "InsufficientInstanceCapacity"
        | "InsufficientCapacity"
        | "InsufficientCapacityException"
        | "InsufficientCapacityError"
        | "CapacityError" => ErrorKind::Capacity,
        "LimitExceededException"
        | "LimitExceeded"
        | "ResourceLimitExceeded"
        | "ServiceQuotaExceededException"
        | "TooManyBuckets"
        | "VcpuLimitExceeded" => ErrorKind::Quota,
        "NoSuchBucket"
        | "NotFound"
        | "NoSuchKey"
        | "ResourceNotFoundException"
        | "ResourceNotFound"
        | "RepositoryNotFoundException" => ErrorKind::NotFound,
        "BucketAlreadyExists"
        | "BucketAlreadyOwnedByYou"
        | "RepositoryAlreadyExistsException"
        | "ResourceInUseException"
        | "ResourceInUse"
        | "ConflictException" => ErrorKind::AlreadyExists,
        _ if status == 429 || status == 503 => ErrorKind::Throttled,
        _ if status >= 500 => ErrorKind::Transient,
        _ if status == 401 || status == 403 => ErrorKind::Auth,
        _ if status == 404 => ErrorKind::NotFound,
        _ if status == 409 => ErrorKind::AlreadyExists,
        _ => ErrorKind::Invalid,
    }
}

/// The error and its sources on one line (the SDK's top-level message is terse).
fn aws_smithy_error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        parts.push(e.to_string());
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_shared_kinds() {
        assert_eq!(kind_of("ThrottlingException", 400), ErrorKind::Throttled);
        assert_eq!(
            kind_of("InsufficientInstanceCapacity", 500),
            ErrorKind::Capacity
        );
        assert_eq!(kind_of("ResourceLimitExceeded", 400), ErrorKind::Quota);
        assert_eq!(
            kind_of("ResourceNotFoundException", 400),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind_of("BucketAlreadyExists", 409),
            ErrorKind::AlreadyExists
        );
        assert_eq!(kind_of("ExpiredToken", 400), ErrorKind::Auth);
        assert_eq!(kind_of("ValidationException", 400), ErrorKind::Invalid);
        assert_eq!(kind_of("", 503), ErrorKind::Throttled);
        assert_eq!(kind_of("", 502), ErrorKind::Transient);
        assert_eq!(kind_of("", 404), ErrorKind::NotFound);
    }
}
