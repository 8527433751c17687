"""The feature-store calls mlinfra makes, made by Microsoft's own clients: azure-mgmt-storage
for the offline account and container, azure-storage-blob (with azure-identity's credential)
for the feature set specification in Azurite, and the ARM client of
Microsoft.MachineLearningServices in azure-ai-ml for the FeatureStore workspace, its entity,
a feature set version and the features Azure ML reads from its specification."""

import json

import pytest
from azure.ai.ml._restclient.arm_ml_service import MachineLearningServicesMgmtClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.storage.blob import BlobClient

from conftest import BLOB_ACCOUNTS, RESOURCES_API, STORAGE_API

ML_API = "2026-05-01"
RG = "ml-features"
WS = "fraud-features"


@pytest.fixture
def store(client, credential, ca):
    """A FeatureStore workspace over an offline container; answers (ml, write_spec)."""
    client(ResourceManagementClient, api_version=RESOURCES_API).resource_groups.create_or_update(
        RG, {"location": "eastus"})
    storage = client(StorageManagementClient, api_version=STORAGE_API)
    acct = storage.storage_accounts.begin_create(RG, BLOB_ACCOUNTS[0], {
        "location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}).result()
    storage.blob_containers.create(RG, BLOB_ACCOUNTS[0], "offline", {})
    blob_base = acct.primary_endpoints.blob
    ml = client(MachineLearningServicesMgmtClient, api_version=ML_API)
    ws = ml.workspaces.begin_create_or_update(RG, WS, {
        "location": "eastus", "kind": "FeatureStore", "identity": {"type": "SystemAssigned"},
        "properties": {"friendlyName": WS, "storageAccount": acct.id, "systemDatastoresAuthMode": "Identity",
                       "featureStoreSettings": {"computeRuntime": {"sparkRuntimeVersion": "3.4"}}}}).result()
    assert ws.kind == "FeatureStore"

    def write_spec(folder, features):
        spec = {"source": {"type": "parquet", "path": blob_base + "offline/data/transactions/",
                           "timestamp_column": {"name": "ts"}},
                "features": [{"name": n, "type": t} for n, t in features],
                "index_columns": [{"name": "account_id", "type": "string"}]}
        url = "%soffline/%s/FeatureSetSpec.yaml" % (blob_base, folder)
        BlobClient.from_blob_url(url, credential=credential, connection_verify=ca).upload_blob(
            json.dumps(spec).encode(), overwrite=True)
        return blob_base + "offline/" + folder

    return ml, write_spec


def test_an_entity_a_feature_set_version_and_its_features(store):
    ml, write_spec = store
    ml.featurestore_entity_versions.begin_create_or_update(RG, WS, "account_id", "1", {"properties": {
        "indexColumns": [{"columnName": "account_id", "dataType": "String"}]}}).result()
    path = write_spec("features/featuresets/transactions/1", [("amount", "double"), ("count_7d", "long")])
    v = ml.featureset_versions.begin_create_or_update(RG, WS, "transactions", "1", {"properties": {
        "entities": ["azureml:account_id:1"], "specification": {"path": path},
        "materializationSettings": {"storeType": "None"}}}).result()
    assert v.properties.specification.path == path
    feats = {f.properties.feature_name: f.properties.data_type
             for f in ml.features.list(RG, WS, "transactions", "1")}
    assert feats == {"amount": "Double", "count_7d": "Long"}
    # A version is immutable: writing version 1 with another specification is refused.
    other = write_spec("features/featuresets/transactions/1b", [("amount", "double")])
    with pytest.raises(HttpResponseError) as e:
        ml.featureset_versions.begin_create_or_update(RG, WS, "transactions", "1", {"properties": {
            "entities": ["azureml:account_id:1"], "specification": {"path": other}}}).result()
    assert e.value.status_code == 409
    versions = [x.name for x in ml.featureset_versions.list(RG, WS, "transactions")]
    assert versions == ["1"]
    ml.featureset_versions.begin_delete(RG, WS, "transactions", "1").result()
    with pytest.raises(ResourceNotFoundError):
        ml.featureset_versions.get(RG, WS, "transactions", "1")


def test_what_azure_ml_refuses_for_a_feature_set(store):
    ml, write_spec = store
    ml.featurestore_entity_versions.begin_create_or_update(RG, WS, "account_id", "1", {"properties": {
        "indexColumns": [{"columnName": "account_id", "dataType": "String"}]}}).result()
    # No specification in the folder.
    with pytest.raises(HttpResponseError) as e:
        ml.featureset_versions.begin_create_or_update(RG, WS, "transactions", "1", {"properties": {
            "entities": ["azureml:account_id:1"],
            "specification": {"path": write_spec("a", [("x", "double")]) + "-missing"}}}).result()
    assert e.value.status_code == 400
    # An entity that does not exist.
    with pytest.raises(HttpResponseError) as e:
        ml.featureset_versions.begin_create_or_update(RG, WS, "transactions", "1", {"properties": {
            "entities": ["azureml:customer_id:1"], "specification": {"path": write_spec("b", [("x", "double")])}}}
        ).result()
    assert e.value.status_code == 400
    # A type Azure ML does not have.
    with pytest.raises(HttpResponseError) as e:
        ml.featureset_versions.begin_create_or_update(RG, WS, "transactions", "1", {"properties": {
            "entities": ["azureml:account_id:1"], "specification": {"path": write_spec("c", [("x", "vector")])}}}
        ).result()
    assert e.value.status_code == 400
    # A feature set lives in a feature store, not in a Default workspace.
    ml.workspaces.begin_create_or_update(RG, "plain", {"location": "eastus", "kind": "Default",
                                                       "properties": {"friendlyName": "plain"}}).result()
    with pytest.raises(HttpResponseError) as e:
        ml.featurestore_entity_versions.begin_create_or_update(RG, "plain", "account_id", "1", {"properties": {
            "indexColumns": [{"columnName": "account_id", "dataType": "String"}]}}).result()
    assert e.value.status_code == 400
