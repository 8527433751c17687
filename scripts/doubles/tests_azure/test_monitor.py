"""The autoscale-setting calls mlinfra makes for an endpoint's `autoscaling`, made by
Microsoft's own client for Microsoft.Insights (azure-mgmt-monitor, api-version 2022-10-01):
create on a deployment, read, list, update, delete; and what Azure Monitor refuses."""

import json

import pytest
from azure.ai.ml._restclient.arm_ml_service import MachineLearningServicesMgmtClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.monitor.models import (AutoscaleProfile, AutoscaleSettingResource, MetricTrigger,
                                       ScaleAction, ScaleCapacity, ScaleRule, ScaleRuleMetricDimension)
from azure.mgmt.resource.resources import ResourceManagementClient

from conftest import RESOURCES_API

ML_API = "2026-05-01"
RG = "ml-scale"


@pytest.fixture
def deployment(client):
    """An online endpoint with one deployment (blue, 2 instances); answers (endpoint id, deployment id)."""
    client(ResourceManagementClient, api_version=RESOURCES_API).resource_groups.create_or_update(
        RG, {"location": "eastus"})
    ml = client(MachineLearningServicesMgmtClient, api_version=ML_API)
    ml.workspaces.begin_create_or_update(RG, "mlinfra", {
        "location": "eastus", "kind": "Default", "identity": {"type": "SystemAssigned"},
        "properties": {"friendlyName": "mlinfra"}}).result()
    env = ml.environment_versions.create_or_update(RG, "mlinfra", "scorer-image", "1", {
        "properties": {"image": "acme.azurecr.io/scorer:3", "osType": "Linux"}})
    ep = ml.online_endpoints.begin_create_or_update(RG, "mlinfra", "fraud-scorer", {
        "location": "eastus", "identity": {"type": "SystemAssigned"},
        "properties": {"authMode": "Key", "traffic": {}}}).result()
    dep = ml.online_deployments.begin_create_or_update(RG, "mlinfra", "fraud-scorer", "blue", {
        "location": "eastus", "sku": {"name": "Default", "capacity": 2},
        "properties": {"endpointComputeType": "Managed", "instanceType": "Standard_DS3_v2",
                       "environmentId": env.id}}).result()
    return ml, ep.id, dep.id


def _setting(ep_id, dep_id, minimum="1", maximum="4", default="2"):
    out = ScaleRule(
        metric_trigger=MetricTrigger(
            metric_name="RequestsPerMinute",
            metric_namespace="Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            metric_resource_uri=ep_id, time_grain="PT1M", statistic="Average", time_window="PT5M",
            time_aggregation="Average", operator="GreaterThan", threshold=100, divide_per_instance=True,
            dimensions=[ScaleRuleMetricDimension(dimension_name="deployment", operator="Equals",
                                                 values=["blue"])]),
        scale_action=ScaleAction(direction="Increase", type="ChangeCount", value="1", cooldown="PT5M"))
    return AutoscaleSettingResource(
        location="eastus", tags={"created-by": "mlinfra"}, enabled=True, target_resource_uri=dep_id,
        profiles=[AutoscaleProfile(name="mlinfra", rules=[out],
                                   capacity=ScaleCapacity(minimum=minimum, maximum=maximum, default=default))])


def test_an_autoscale_setting_on_a_deployment_is_made_read_listed_updated_and_deleted(client, deployment):
    ml, ep_id, dep_id = deployment
    mon = client(MonitorManagementClient)
    made = mon.autoscale_settings.create_or_update(RG, "fraud-scorer-blue", _setting(ep_id, dep_id, "3", "6", "3"))
    assert made.target_resource_uri == dep_id
    assert made.enabled is True
    got = mon.autoscale_settings.get(RG, "fraud-scorer-blue")
    rule = got.profiles[0].rules[0]
    assert rule.metric_trigger.threshold == 100
    assert rule.metric_trigger.divide_per_instance is True
    assert rule.metric_trigger.dimensions[0].values == ["blue"]
    assert (got.profiles[0].capacity.minimum, got.profiles[0].capacity.maximum) == ("3", "6")
    # Azure Monitor holds the target within the bounds: 2 instances are raised to the minimum 3.
    assert ml.online_deployments.get(RG, "mlinfra", "fraud-scorer", "blue").sku.capacity == 3
    assert [s.name for s in mon.autoscale_settings.list_by_resource_group(RG)] == ["fraud-scorer-blue"]
    # The bounds change in place (PUT again), and PATCH merges tags.
    mon.autoscale_settings.create_or_update(RG, "fraud-scorer-blue", _setting(ep_id, dep_id, "1", "8", "3"))
    assert mon.autoscale_settings.get(RG, "fraud-scorer-blue").profiles[0].capacity.maximum == "8"
    patched = mon.autoscale_settings.update(RG, "fraud-scorer-blue", {"tags": {"team": "fraud"}})
    assert patched.tags == {"team": "fraud"}
    assert patched.profiles[0].capacity.maximum == "8"
    mon.autoscale_settings.delete(RG, "fraud-scorer-blue")
    with pytest.raises(ResourceNotFoundError):
        mon.autoscale_settings.get(RG, "fraud-scorer-blue")
    mon.autoscale_settings.delete(RG, "fraud-scorer-blue")  # deleting what is gone is not an error


def test_what_azure_monitor_refuses(client, deployment):
    ml, ep_id, dep_id = deployment
    mon = client(MonitorManagementClient)
    # A target that does not exist.
    with pytest.raises(HttpResponseError) as e:
        mon.autoscale_settings.create_or_update(RG, "nowhere", _setting(ep_id, dep_id + "x"))
    assert e.value.status_code == 400
    # Bounds out of order.
    with pytest.raises(HttpResponseError) as e:
        mon.autoscale_settings.create_or_update(RG, "upside-down", _setting(ep_id, dep_id, "4", "2", "3"))
    assert e.value.status_code == 400
    # One setting per target.
    mon.autoscale_settings.create_or_update(RG, "first", _setting(ep_id, dep_id))
    with pytest.raises(HttpResponseError) as e:
        mon.autoscale_settings.create_or_update(RG, "second", _setting(ep_id, dep_id))
    assert e.value.status_code == 409
    # A property the schema does not know, sent as raw JSON past the client's model.
    body = _setting(ep_id, dep_id).serialize()
    body["properties"]["scaleEverything"] = True
    with pytest.raises(HttpResponseError) as e:
        mon.autoscale_settings.create_or_update(RG, "first", json.dumps(body).encode(),
                                                content_type="application/json")
    assert e.value.status_code == 400
    assert "scaleEverything" in str(e.value)
