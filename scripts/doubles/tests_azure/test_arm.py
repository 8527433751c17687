"""The calls mlinfra's Azure provider makes, made by Microsoft's official Python management
clients and their long-running-operation pollers against the double."""

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.containerregistry import models as acr
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage import models as st

from conftest import AKS_API, REGISTRY_API, RESOURCES_API, SCOPE, STORAGE_API, SUBSCRIPTION, fault_hits, faults

RG = "ml-check"


def _group(client):
    rm = client(ResourceManagementClient, api_version=RESOURCES_API)
    rm.resource_groups.create_or_update(RG, {"location": "eastus", "tags": {"created-by": "check"}})
    return rm


def test_azure_identity_gets_a_token_from_the_doubles_entra(credential):
    """A JWT with Entra's claims: the audience of the scope asked for, an Entra issuer."""
    import base64
    import json

    def claims(token):
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    tok = credential.get_token(SCOPE)
    assert tok.expires_on > 0
    c = claims(tok.token)
    assert c["aud"] == "https://management.azure.com"
    assert c["iss"].startswith("https://sts.windows.net/")
    assert c["nbf"] <= c["iat"] < c["exp"]
    assert claims(credential.get_token("https://storage.azure.com/.default").token)["aud"] == \
        "https://storage.azure.com"


def test_resource_groups_create_get_and_delete_through_the_poller(client):
    rm = _group(client)
    g = rm.resource_groups.get(RG)
    assert g.location == "eastus" and g.tags == {"created-by": "check"}
    assert g.properties.provisioning_state == "Succeeded"
    rm.resource_groups.begin_delete(RG).result()
    with pytest.raises(ResourceNotFoundError):
        rm.resource_groups.get(RG)


def test_storage_account_container_versioning_tier_and_delete(client):
    _group(client)
    sm = client(StorageManagementClient, api_version=STORAGE_API)
    params = st.StorageAccountCreateParameters(
        sku=st.Sku(name="Standard_LRS"), kind="StorageV2", location="eastus",
        tags={"created-by": "mlinfra"}, access_tier="Hot", minimum_tls_version="TLS1_2",
        allow_blob_public_access=False, enable_https_traffic_only=True)
    acct = sm.storage_accounts.begin_create(RG, "checkacct01", params).result()
    assert acct.provisioning_state == "Succeeded"
    assert acct.primary_endpoints.blob == "https://checkacct01.blob.core.windows.net/"
    assert acct.kind == "StorageV2" and acct.access_tier == "Hot"

    svc = sm.blob_services.set_service_properties(
        RG, "checkacct01", st.BlobServiceProperties(is_versioning_enabled=True))
    assert svc.is_versioning_enabled is True
    assert sm.blob_services.get_service_properties(RG, "checkacct01").is_versioning_enabled is True

    c = sm.blob_containers.create(RG, "checkacct01", "models",
                                  st.BlobContainer(public_access="None", metadata={"env": "dev"}))
    assert c.name == "models" and c.metadata == {"env": "dev"}
    got = sm.blob_containers.get(RG, "checkacct01", "models")
    assert got.public_access == "None" and got.has_immutability_policy is False
    assert [x.name for x in sm.blob_containers.list(RG, "checkacct01")] == ["models"]

    upd = sm.storage_accounts.update(RG, "checkacct01", st.StorageAccountUpdateParameters(access_tier="Cool"))
    assert upd.access_tier == "Cool"

    sm.blob_containers.delete(RG, "checkacct01", "models")
    with pytest.raises(ResourceNotFoundError):
        sm.blob_containers.get(RG, "checkacct01", "models")
    sm.storage_accounts.delete(RG, "checkacct01")
    with pytest.raises(ResourceNotFoundError):
        sm.storage_accounts.get_properties(RG, "checkacct01")


def test_registry_create_update_and_delete_through_the_pollers(client):
    _group(client)
    cm = client(ContainerRegistryManagementClient, api_version=REGISTRY_API)
    reg = cm.registries.begin_create(RG, "checkreg01", acr.Registry(
        location="eastus", sku=acr.Sku(name="Standard"), admin_user_enabled=False, tags={"env": "dev"})).result()
    assert reg.provisioning_state == "Succeeded"
    assert reg.login_server == "checkreg01.azurecr.io"
    reg = cm.registries.begin_update(RG, "checkreg01", acr.RegistryUpdateParameters(
        sku=acr.Sku(name="Premium"), tags={"env": "dev", "team": "fraud"})).result()
    assert reg.sku.name == "Premium" and reg.tags == {"env": "dev", "team": "fraud"}
    assert [r.name for r in cm.registries.list_by_resource_group(RG)] == ["checkreg01"]
    cm.registries.begin_delete(RG, "checkreg01").result()
    with pytest.raises(ResourceNotFoundError):
        cm.registries.get(RG, "checkreg01")


def test_unknown_properties_and_bad_names_are_refused_as_arm_does(client, base, ca, credential):
    _group(client)
    token = credential.get_token(SCOPE).token
    url = base + "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerRegistry/registries/%s" \
        "?api-version=" + REGISTRY_API
    r = requests.put(url % (SUBSCRIPTION, RG, "checkreg02"), verify=ca, headers={"Authorization": "Bearer " + token},
                     json={"location": "eastus", "sku": {"name": "Standard"}, "properties": {"adminUser": False}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "InvalidRequestContent"
    assert "adminUser" in r.json()["error"]["message"]
    cm = client(ContainerRegistryManagementClient, api_version=REGISTRY_API)
    with pytest.raises(HttpResponseError) as e:
        cm.registries.begin_create(RG, "check-reg", acr.Registry(location="eastus", sku=acr.Sku(name="Basic"))).result()
    assert e.value.status_code == 400 and e.value.error.code == "InvalidResourceName"
    # A wrong api-version is refused, naming the supported one.
    r = requests.get(url.replace(REGISTRY_API, "2019-05-01") % (SUBSCRIPTION, RG, "x"), verify=ca,
                     headers={"Authorization": "Bearer " + token})
    assert r.status_code == 400 and REGISTRY_API in r.json()["error"]["message"]


def test_throttling_is_ridden_out_by_the_sdks_retry_policy(client, double):
    _group(client)
    faults(double, {"method": "PUT", "path": "/registries/checkreg03", "status": 429, "retry_after": 0, "times": 2})
    cm = client(ContainerRegistryManagementClient, api_version=REGISTRY_API)
    reg = cm.registries.begin_create(RG, "checkreg03", acr.Registry(location="eastus", sku=acr.Sku(name="Basic"))).result()
    assert reg.provisioning_state == "Succeeded"
    assert [f["hits"] for f in fault_hits(double)] == [2]


def test_a_failed_operation_fails_the_poller_with_arms_code(client, double):
    _group(client)
    faults(double, {"method": "PUT", "path": "/registries/checkreg04", "status": 400, "code": "QuotaExceeded",
                    "message": "quota reached", "operation": True})
    cm = client(ContainerRegistryManagementClient, api_version=REGISTRY_API)
    with pytest.raises(HttpResponseError) as e:
        cm.registries.begin_create(RG, "checkreg04", acr.Registry(location="eastus", sku=acr.Sku(name="Basic"))).result()
    assert "QuotaExceeded" in str(e.value)
    assert cm.registries.get(RG, "checkreg04").provisioning_state == "Failed"


def test_a_missing_parent_is_404_as_arm_answers(client):
    sm = client(StorageManagementClient, api_version=STORAGE_API)
    with pytest.raises(ResourceNotFoundError) as e:
        sm.storage_accounts.get_properties("no-such-group", "nosuchacct")
    assert e.value.error.code == "ResourceGroupNotFound"


def test_aks_cluster_and_agent_pools_through_the_pollers(client, double):
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.containerservice import models as aks
    _group(client)
    cs = client(ContainerServiceClient, api_version=AKS_API)
    mc = aks.ManagedCluster(
        location="eastus", tags={"env": "dev"}, identity=aks.ManagedClusterIdentity(type="SystemAssigned"),
        sku=aks.ManagedClusterSKU(name="Base", tier="Standard"),
        kubernetes_version="1.31", dns_prefix="train", enable_rbac=True,
        agent_pool_profiles=[aks.ManagedClusterAgentPoolProfile(
            name="system", mode="System", vm_size="Standard_D4ds_v5", os_type="Linux",
            type="VirtualMachineScaleSets", count=1, enable_auto_scaling=True, min_count=1, max_count=3)],
        network_profile=aks.ContainerServiceNetworkProfile(network_plugin="azure", network_plugin_mode="overlay"),
        oidc_issuer_profile=aks.ManagedClusterOIDCIssuerProfile(enabled=True),
        security_profile=aks.ManagedClusterSecurityProfile(
            workload_identity=aks.ManagedClusterSecurityProfileWorkloadIdentity(enabled=True)),
        api_server_access_profile=aks.ManagedClusterAPIServerAccessProfile(enable_private_cluster=False))
    got = cs.managed_clusters.begin_create_or_update(RG, "train", mc).result()
    assert got.provisioning_state == "Succeeded" and got.fqdn.endswith(".hcp.eastus.azmk8s.io")
    assert got.oidc_issuer_profile.issuer_url.startswith("https://")
    assert [p.name for p in got.agent_pool_profiles] == ["system"]

    pool = aks.AgentPool(
        mode="User", vm_size="Standard_NC24ads_A100_v4", os_type="Linux", type_properties_type="VirtualMachineScaleSets",
        enable_auto_scaling=True, min_count=0, max_count=4, count=0, gpu_instance_profile="MIG1g",
        gpu_profile=aks.GPUProfile(driver="Install"), node_labels={"team": "research"},
        node_taints=["nvidia.com/gpu=present:NoSchedule"], orchestrator_version="1.31")
    p = cs.agent_pools.begin_create_or_update(RG, "train", "a100mig", pool).result()
    assert p.provisioning_state == "Succeeded" and p.gpu_instance_profile == "MIG1g"
    assert sorted(x.name for x in cs.agent_pools.list(RG, "train")) == ["a100mig", "system"]

    # AKS refuses a VM size change in place, and a second operation while one runs.
    pool.vm_size = "Standard_NC48ads_A100_v4"
    with pytest.raises(HttpResponseError) as e:
        cs.agent_pools.begin_create_or_update(RG, "train", "a100mig", pool).result()
    assert e.value.error.code == "PropertyChangeNotAllowed"
    pool.vm_size = "Standard_NC24ads_A100_v4"
    pool.max_count = 8
    cs.agent_pools.begin_create_or_update(RG, "train", "a100mig", pool, polling=False)
    state = requests.get(double["base"] + "/__double/state", verify=double["ca"]).json()
    assert [o["status"] for o in state["operations"] if o["resource"].endswith("/a100mig")][-1] == "InProgress"
    with pytest.raises(HttpResponseError) as e:
        cs.agent_pools.begin_delete(RG, "train", "a100mig").result()
    assert e.value.status_code == 409 and e.value.error.code == "AnotherOperationInProgress"
    requests.post(double["base"] + "/__double/operations/complete", verify=double["ca"]).raise_for_status()
    assert cs.agent_pools.get(RG, "train", "a100mig").max_count == 8

    # One minor at a time: 1.31 -> 1.33 is refused, 1.32 is taken.
    mc.kubernetes_version = "1.33"
    with pytest.raises(HttpResponseError) as e:
        cs.managed_clusters.begin_create_or_update(RG, "train", mc).result()
    assert e.value.error.code == "UpgradeNotAllowed"
    mc.kubernetes_version = "1.32"
    assert cs.managed_clusters.begin_create_or_update(RG, "train", mc).result().kubernetes_version == "1.32"
    tagged = cs.managed_clusters.begin_update_tags(RG, "train", aks.TagsObject(tags={"env": "prod"})).result()
    assert tagged.tags == {"env": "prod"}

    cs.agent_pools.begin_delete(RG, "train", "a100mig").result()
    cs.managed_clusters.begin_delete(RG, "train").result()
    with pytest.raises(ResourceNotFoundError):
        cs.managed_clusters.get(RG, "train")
