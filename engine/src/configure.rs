//! Configure: each provider block a run will call is validated and its credentials
//! resolved once, before refresh, import, recovery or apply make any call. A refusal is one
//! error naming the provider block; nothing has been read or changed.

use std::collections::BTreeSet;

use mlinfra_provider_api::{ConfigureRequest, ErrorKind, ProviderSet};
use mlinfra_schema::Cloud;

use crate::config::eval::Evaluated;
use crate::diag::{Diagnostic, Diagnostics};

/// Configure the providers behind `keys` (provider keys such as `aws` or `aws.west`; a key
/// whose cloud has no provider in this build is skipped: nothing will call it).
pub async fn configure(
    providers: &ProviderSet,
    evaluated: &Evaluated,
    keys: &BTreeSet<String>,
) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for key in keys {
        let inst = evaluated.providers.iter().find(|p| &p.key == key);
        let cloud = inst
            .map(|p| p.cloud)
            .or_else(|| Cloud::parse(key.split('.').next().unwrap_or(key)));
        let Some(provider) = cloud.and_then(|c| providers.get(c)) else {
            continue;
        };
        let config = crate::apply::provider_config(evaluated, key);
        if let Err(e) = provider.configure(ConfigureRequest::new(config)).await {
            let block = match inst.and_then(|p| p.span) {
                Some(_) => format!("provider \"{key}\""),
                None => format!(
                    "provider \"{key}\" (no block declares it; resources on {} use its defaults)",
                    provider.cloud()
                ),
            };
            let help = match e.kind {
                ErrorKind::Auth => "set the credentials this provider reads (see its documentation page), then run again; nothing was read or changed",
                _ => "fix the provider block, then run again; nothing was read or changed",
            };
            diags.push(
                Diagnostic::error(format!("{block}: {}", e.message))
                    .at(inst.and_then(|p| p.span))
                    .help(help),
            );
        }
    }
    diags
}

/// The provider keys that resources of `state`-like records and the plan name.
pub fn keys<'a>(providers: impl IntoIterator<Item = Option<&'a str>>) -> BTreeSet<String> {
    providers
        .into_iter()
        .flatten()
        .map(str::to_string)
        .collect()
}
