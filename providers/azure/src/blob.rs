//! The Blob data plane (azure_storage_blob), for the files mlinfra keeps beside what it
//! manages: an Azure ML feature set's specification (`FeatureSetSpec.yaml`) in the
//! feature store's offline container. Calls take the provider's credentials (a token for
//! `https://storage.azure.com/.default`) and transport (its `ca_file`).

use azure_core::http::{RequestContent, StatusCode, Url};
use azure_storage_blob::{BlobClient, BlobClientOptions};
use mlinfra_provider_api::{ErrorKind, ProviderError};

use crate::clients::Clients;

fn failed(what: &str, e: &azure_core::Error) -> ProviderError {
    let kind = match e.http_status() {
        Some(StatusCode::Forbidden) | Some(StatusCode::Unauthorized) => ErrorKind::Auth,
        Some(StatusCode::TooManyRequests) => ErrorKind::Throttled,
        Some(StatusCode::InternalServerError)
        | Some(StatusCode::BadGateway)
        | Some(StatusCode::ServiceUnavailable)
        | Some(StatusCode::GatewayTimeout) => ErrorKind::Transient,
        Some(StatusCode::NotFound) => ErrorKind::NotFound,
        Some(_) => ErrorKind::Invalid,
        None => ErrorKind::Transient,
    };
    ProviderError::new(kind, format!("{what}: {e}"))
}

impl Clients {
    fn blob(&self, url: &str) -> Result<BlobClient, ProviderError> {
        let parsed = Url::parse(url)
            .map_err(|e| ProviderError::invalid(format!("\"{url}\" is not a blob URL: {e}")))?;
        let options = BlobClientOptions {
            client_options: self.options.clone(),
            ..Default::default()
        };
        BlobClient::new(parsed, Some(self.credential.clone()), Some(options))
            .map_err(|e| ProviderError::invalid(format!("blob {url}: {e}")))
    }

    /// Writes `content` to the block blob at `url`, replacing what is there.
    pub async fn put_blob(&self, url: &str, content: Vec<u8>) -> Result<(), ProviderError> {
        self.blob(url)?
            .upload(RequestContent::from(content), None)
            .await
            .map_err(|e| failed(&format!("writing blob {url}"), &e))?;
        Ok(())
    }

    /// The blob's bytes, or `None` when it (or its container) is not there.
    pub async fn get_blob(&self, url: &str) -> Result<Option<Vec<u8>>, ProviderError> {
        match self.blob(url)?.download(None).await {
            Ok(r) => {
                let bytes = r
                    .body
                    .collect()
                    .await
                    .map_err(|e| failed(&format!("reading blob {url}"), &e))?;
                Ok(Some(bytes.to_vec()))
            }
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(None),
            Err(e) => Err(failed(&format!("reading blob {url}"), &e)),
        }
    }

    /// Deletes the blob at `url`; one that is not there is already deleted.
    pub async fn delete_blob(&self, url: &str) -> Result<(), ProviderError> {
        match self.blob(url)?.delete(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(()),
            Err(e) => Err(failed(&format!("deleting blob {url}"), &e)),
        }
    }
}
