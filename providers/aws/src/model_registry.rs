//! `model_registry` → a SageMaker model package group. Tags change in place.

use std::time::Duration;

use mlinfra_provider_api::wait::{self, Poll};

use aws_sdk_sagemaker::types::ModelPackageGroupStatus;
use mlinfra_provider_api::{
    already_exists, ApplyAction, ApplyRequest, ApplyResponse, Attributes, ErrorKind, ProviderError,
    ReadResponse,
};
use mlinfra_schema::Value;

use crate::attrs::{invalid, named, str_attr};
use crate::clients::Clients;
use crate::errors::classify;
use crate::sagemaker::{check_name, is_existing, is_missing, read_tags, sdk_tags, update_tags};

pub async fn apply(c: &Clients, req: &ApplyRequest) -> Result<ApplyResponse, ProviderError> {
    let name = str_attr(&req.planned, "name")
        .or_else(|| req.prior.as_ref().and_then(|p| str_attr(p, "name")))
        .ok_or_else(|| invalid("model_registry has no name".into()))?
        .to_string();
    let deadline = wait::deadline(req.timeout_seconds, Duration::from_secs(30 * 60));
    match req.action {
        ApplyAction::Create => {
            check_name("model package group", &name)?;
            // Looked up first: not every endpoint refuses a second create of the same name.
            let existing = describe(c, &name).await?.is_some();
            if existing && !req.adopt_existing {
                return Err(already_exists(
                    &format!("SageMaker model package group {name}"),
                    &name,
                ));
            }
            let call = c
                .sagemaker
                .create_model_package_group()
                .model_package_group_name(&name)
                .set_model_package_group_description(
                    str_attr(&req.planned, "description").map(str::to_string),
                )
                .set_tags(sdk_tags(&req.planned));
            let sent = if existing {
                Ok(())
            } else {
                call.send().await.map(|_| ())
            };
            if let Err(e) = sent {
                let exists = e.as_service_error().is_some_and(is_existing);
                if !exists {
                    return Err(classify(
                        &format!("creating SageMaker model package group {name}"),
                        e,
                    ));
                }
                if !req.adopt_existing {
                    return Err(already_exists(
                        &format!("SageMaker model package group {name}"),
                        &name,
                    ));
                }
            }
        }
        ApplyAction::Update => {
            let arn = describe(c, &name)
                .await?
                .and_then(|d| d.model_package_group_arn().map(str::to_string))
                .ok_or_else(|| invalid(format!("model package group {name} has no ARN")))?;
            let prior = req.prior.clone().unwrap_or_default();
            update_tags(c, &arn, &prior, &req.planned).await?;
        }
        ApplyAction::Delete => {
            match c
                .sagemaker
                .delete_model_package_group()
                .model_package_group_name(&name)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(is_missing) => {}
                Err(e) => {
                    return Err(classify(
                        &format!("deleting SageMaker model package group {name}"),
                        e,
                    ))
                }
            }
            wait::until_gone(&format!("model package group {name}"), deadline, || {
                describe(c, &name)
            })
            .await?;
            return Ok(ApplyResponse::default());
        }
    }
    wait::until(
        &format!("model package group {name} to be Completed"),
        deadline,
        || async {
            match describe(c, &name)
                .await?
                .and_then(|d| d.model_package_group_status().cloned())
            {
                Some(ModelPackageGroupStatus::Completed) => Ok(Poll::Ready(())),
                Some(ModelPackageGroupStatus::Failed) => Err(invalid(format!(
                    "SageMaker model package group {name} failed to create"
                ))),
                status => Ok(Poll::Pending(format!("{status:?}"))),
            }
        },
    )
    .await?;
    match read(c, &name, &req.planned).await? {
        ReadResponse::Found { attributes } => Ok(ApplyResponse {
            id: Some(name),
            attributes: Some(attributes),
        }),
        ReadResponse::Gone => Err(ProviderError::new(
            ErrorKind::Transient,
            format!("model package group {name} is not visible yet"),
        )),
    }
}

async fn describe(
    c: &Clients,
    name: &str,
) -> Result<
    Option<
        aws_sdk_sagemaker::operation::describe_model_package_group::DescribeModelPackageGroupOutput,
    >,
    ProviderError,
> {
    match c
        .sagemaker
        .describe_model_package_group()
        .model_package_group_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(is_missing) => Ok(None),
        Err(e) => Err(classify(
            &format!("reading SageMaker model package group {name}"),
            e,
        )),
    }
}

pub async fn read(
    c: &Clients,
    id: &str,
    prior: &Attributes,
) -> Result<ReadResponse, ProviderError> {
    let Some(d) = describe(c, id).await? else {
        return Ok(ReadResponse::Gone);
    };
    let mut attrs = named(prior, id);
    attrs.insert(
        "description".into(),
        d.model_package_group_description()
            .map(Value::from)
            .unwrap_or(Value::Null),
    );
    if let Some(arn) = d.model_package_group_arn() {
        attrs.insert("tags".into(), read_tags(c, arn).await?);
    }
    Ok(ReadResponse::Found { attributes: attrs })
}
