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
            let kind = match code {
                "Throttling"
                | "ThrottlingException"
                | "SlowDown"
                | "TooManyRequestsException"
                | "RequestLimitExceeded" => ErrorKind::Throttled,
                "InternalError" | "ServiceUnavailable" | "InternalFailure" => ErrorKind::Transient,
                "AccessDenied"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "UnrecognizedClientException" => ErrorKind::Auth,
                _ if status == 429 || status == 503 => ErrorKind::Throttled,
                _ if status >= 500 => ErrorKind::Transient,
                _ if status == 401 || status == 403 => ErrorKind::Auth,
                _ => ErrorKind::Invalid,
            };
            (kind, format!("{what}: {code} (HTTP {status}): {msg}"))
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
    ProviderError { kind, message }
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
