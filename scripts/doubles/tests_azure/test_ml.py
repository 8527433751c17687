"""The Azure ML calls mlinfra makes, made by Microsoft's own ARM client for
Microsoft.MachineLearningServices: the MachineLearningServicesMgmtClient that azure-ai-ml
carries (azure.ai.ml._restclient.arm_ml_service; the azure-mgmt-machinelearningservices
package on PyPI stops at api-version 2020-08-01), pinned to mlinfra's api-version, with
its long-running-operation pollers. Bodies are JSON, as the client accepts them."""

import pytest
import requests
from azure.ai.ml._restclient.arm_ml_service import MachineLearningServicesMgmtClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from conftest import RESOURCES_API, SUBSCRIPTION

ML_API = "2026-05-01"
RG = "ml-check"


@pytest.fixture
def ml(client):
    client(ResourceManagementClient, api_version=RESOURCES_API).resource_groups.create_or_update(
        RG, {"location": "eastus"})
    return client(MachineLearningServicesMgmtClient, api_version=ML_API)


def test_registry_create_add_a_region_and_delete(ml):
    body = {"location": "eastus", "identity": {"type": "SystemAssigned"}, "tags": {"description": "models"},
            "properties": {"regionDetails": [{"location": "eastus", "storageAccountDetails": [
                {"systemCreatedStorageAccount": {"storageAccountType": "Standard_LRS"}}],
                "acrDetails": [{"systemCreatedAcrAccount": {"acrAccountSku": "Premium"}}]}]}}
    reg = ml.registries.begin_create_or_update(RG, "fraud-models", body).result()
    assert reg.properties.discovery_url.endswith("/registries/fraud-models/discovery")
    body["properties"]["regionDetails"].append({"location": "westeurope"})
    reg = ml.registries.begin_create_or_update(RG, "fraud-models", body).result()
    assert [r.location for r in reg.properties.region_details] == ["eastus", "westeurope"]
    body["properties"]["regionDetails"].pop()
    with pytest.raises(HttpResponseError) as e:
        ml.registries.begin_create_or_update(RG, "fraud-models", body).result()
    assert e.value.status_code == 400
    ml.registries.begin_delete(RG, "fraud-models").result()
    with pytest.raises(ResourceNotFoundError):
        ml.registries.get(RG, "fraud-models")


def test_workspace_assets_endpoint_and_blue_green_deployments(ml, double):
    ws = ml.workspaces.begin_create_or_update(RG, "mlinfra", {
        "location": "eastus", "kind": "Default", "identity": {"type": "SystemAssigned"},
        "properties": {"friendlyName": "mlinfra", "systemDatastoresAuthMode": "Identity"}}).result()
    assert ws.properties.workspace_id
    env = ml.environment_versions.create_or_update(RG, "mlinfra", "scorer-image", "1", {
        "properties": {"image": "acme.azurecr.io/scorer:3", "osType": "Linux"}})
    assert env.properties.image == "acme.azurecr.io/scorer:3"
    # Versions are immutable.
    with pytest.raises(HttpResponseError) as e:
        ml.environment_versions.create_or_update(RG, "mlinfra", "scorer-image", "1", {
            "properties": {"image": "acme.azurecr.io/scorer:4", "osType": "Linux"}})
    assert e.value.status_code == 409
    model = ml.model_versions.create_or_update(RG, "mlinfra", "scorer-model", "1", {
        "properties": {"modelUri": "https://acme.blob.core.windows.net/models/fraud.tar.gz",
                       "modelType": "custom_model"}})
    ep = ml.online_endpoints.begin_create_or_update(RG, "mlinfra", "fraud-scorer", {
        "location": "eastus", "identity": {"type": "SystemAssigned"},
        "properties": {"authMode": "Key", "traffic": {}}}).result()
    assert ep.properties.scoring_uri == "https://fraud-scorer.eastus.inference.ml.azure.com/score"

    def deploy(name, env_id):
        return ml.online_deployments.begin_create_or_update(RG, "mlinfra", "fraud-scorer", name, {
            "location": "eastus", "sku": {"name": "Default", "capacity": 2},
            "properties": {"endpointComputeType": "Managed", "instanceType": "Standard_DS3_v2",
                           "environmentId": env_id, "model": model.id, "scaleSettings": {"scaleType": "Default"}}
        }).result()

    blue = deploy("blue", env.id)
    assert blue.sku.capacity == 2
    ml.online_endpoints.begin_create_or_update(RG, "mlinfra", "fraud-scorer", {
        "location": "eastus", "properties": {"authMode": "Key", "traffic": {"blue": 100}}}).result()
    env2 = ml.environment_versions.create_or_update(RG, "mlinfra", "scorer-image", "2", {
        "properties": {"image": "acme.azurecr.io/scorer:4", "osType": "Linux"}})
    deploy("green", env2.id)
    # A split must send all traffic somewhere, and only to deployments that exist.
    with pytest.raises(HttpResponseError) as e:
        ml.online_endpoints.begin_create_or_update(RG, "mlinfra", "fraud-scorer", {
            "location": "eastus", "properties": {"authMode": "Key", "traffic": {"blue": 50, "green": 40}}}).result()
    assert e.value.status_code == 400
    ml.online_endpoints.begin_create_or_update(RG, "mlinfra", "fraud-scorer", {
        "location": "eastus", "properties": {"authMode": "Key", "traffic": {"blue": 90, "green": 10}}}).result()
    # A deployment that takes traffic cannot be deleted.
    with pytest.raises(HttpResponseError) as e:
        ml.online_deployments.begin_delete(RG, "mlinfra", "fraud-scorer", "blue").result()
    assert e.value.status_code == 400
    ml.online_endpoints.begin_create_or_update(RG, "mlinfra", "fraud-scorer", {
        "location": "eastus", "properties": {"authMode": "Key", "traffic": {"green": 100}}}).result()
    ml.online_deployments.begin_delete(RG, "mlinfra", "fraud-scorer", "blue").result()
    assert [d.name for d in ml.online_deployments.list(RG, "mlinfra", "fraud-scorer")] == ["green"]
    # An instance type is fixed.
    with pytest.raises(HttpResponseError):
        ml.online_deployments.begin_create_or_update(RG, "mlinfra", "fraud-scorer", "green", {
            "location": "eastus", "sku": {"name": "Default", "capacity": 2},
            "properties": {"endpointComputeType": "Managed", "instanceType": "Standard_F4s_v2",
                           "environmentId": env2.id}}).result()
    state = requests.get(double["base"] + "/__double/state", verify=double["ca"]).json()
    key = ("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.MachineLearningServices/workspaces/mlinfra/"
           "onlineEndpoints/fraud-scorer" % (SUBSCRIPTION, RG)).lower()
    assert {"blue": 90, "green": 10} in state["trafficHistory"][key]
    ml.online_endpoints.begin_delete(RG, "mlinfra", "fraud-scorer").result()
    with pytest.raises(ResourceNotFoundError):
        ml.online_endpoints.get(RG, "mlinfra", "fraud-scorer")
