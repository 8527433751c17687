"""Azure Resource Manager: resource groups and the resource types mlinfra manages.

Everything is kept in memory, keyed by the resource id in lower case (ARM ids are case
insensitive). One generic lifecycle serves every type; the table TYPES says how each type
answers (synchronously, or as a long-running operation with `Azure-AsyncOperation` or
`Location`) and what the service adds to a resource (`computed`).
"""

import copy
import datetime
import itertools
import os
import random
import re
import threading
import time
import uuid

from .schema import Invalid


class ArmError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def body(self):
        return {"error": {"code": self.code, "message": self.message}}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- what each type adds ---------------------------------------------------------------

def _storage_account(r, store):
    name = r["name"]
    p = r.setdefault("properties", {})
    p.setdefault("accessTier", "Hot" if r.get("kind") in ("StorageV2", "BlobStorage") else None)
    if p.get("accessTier") is None:
        p.pop("accessTier")
    p.setdefault("creationTime", now())
    p["primaryEndpoints"] = {s: "https://%s.%s.core.windows.net/" % (name, s)
                             for s in ("blob", "queue", "table", "file", "dfs", "web")}
    if store.blob is not None and store.blob.serves(name):
        p["primaryEndpoints"]["blob"] = store.blob.endpoint(name)
    p["primaryLocation"] = r.get("location")
    p["statusOfPrimary"] = "available"
    p.setdefault("supportsHttpsTrafficOnly", True)
    p.setdefault("minimumTlsVersion", "TLS1_0")
    p.setdefault("allowBlobPublicAccess", False)
    sku = r.get("sku") or {}
    if sku.get("name"):
        sku["tier"] = "Premium" if sku["name"].startswith("Premium") else "Standard"


def _blob_service(r, store):
    p = r.setdefault("properties", {})
    p.setdefault("isVersioningEnabled", False)
    p.setdefault("deleteRetentionPolicy", {"enabled": False})
    p.setdefault("cors", {"corsRules": []})


def _container(r, store):
    p = r.setdefault("properties", {})
    p.setdefault("publicAccess", "None")
    p.setdefault("defaultEncryptionScope", "$account-encryption-key")
    p.setdefault("denyEncryptionScopeOverride", False)
    p["hasImmutabilityPolicy"] = False
    p["hasLegalHold"] = False
    p["leaseState"] = "Available"
    p["leaseStatus"] = "Unlocked"
    p["deleted"] = False
    p["remainingRetentionDays"] = 0
    p["lastModifiedTime"] = now()


def _account_of(ref):
    return ref.names[0]


def _in_data_plane(store, account, method, *args):
    """Calls the blob plane's METHOD(account, *args) when Azurite serves ACCOUNT; a failure
    there is ARM's 500."""
    if store.blob is None or not store.blob.serves(account):
        return
    try:
        getattr(store.blob, method)(account, *args)
    except RuntimeError as e:
        raise ArmError(500, "InternalError", str(e))


def _after_container(store, ref, r):
    """A container of an account Azurite serves exists there too (its data plane)."""
    _in_data_plane(store, _account_of(ref), "create_container", ref.name)


def _delete_container_data(store, ref):
    """ARM deletes a container with its blobs: so does the data plane."""
    _in_data_plane(store, _account_of(ref), "delete_container", ref.name)


def _delete_account_data(store, ref):
    prefix = ref.key + "/blobservices/default/containers/"
    for k, c in list(store.resources.items()):
        if k.startswith(prefix):
            _in_data_plane(store, ref.name, "delete_container", c["name"])


def _registry(r, store):
    p = r.setdefault("properties", {})
    p["loginServer"] = "%s.azurecr.io" % r["name"].lower()
    p.setdefault("creationDate", now())
    p.setdefault("adminUserEnabled", False)
    p.setdefault("publicNetworkAccess", "Enabled")
    p.setdefault("zoneRedundancy", "Disabled")
    p.setdefault("anonymousPullEnabled", False)
    p.setdefault("dataEndpointEnabled", False)
    p.setdefault("networkRuleBypassOptions", "AzureServices")
    pol = p.setdefault("policies", {})
    pol.setdefault("quarantinePolicy", {"status": "disabled"})
    pol.setdefault("trustPolicy", {"type": "Notary", "status": "disabled"})
    pol.setdefault("retentionPolicy", {"days": 7, "status": "disabled"})
    pol.setdefault("exportPolicy", {"status": "enabled"})
    sku = r.get("sku") or {}
    if sku.get("name"):
        sku["tier"] = sku["name"]


def _hash(text, n):
    import hashlib
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _aks_cluster(r, store):
    p = r.setdefault("properties", {})
    loc = (r.get("location") or "eastus").lower()
    prefix = p.get("dnsPrefix") or r["name"]
    p["fqdn"] = "%s-%s.hcp.%s.azmk8s.io" % (prefix, _hash(r["id"].lower(), 8), loc)
    p["azurePortalFQDN"] = "%s-%s.portal.hcp.%s.azmk8s.io" % (prefix, _hash(r["id"].lower(), 8), loc)
    p["currentKubernetesVersion"] = p.get("kubernetesVersion")
    rg = r["id"].split("/")[4]
    p.setdefault("nodeResourceGroup", "MC_%s_%s_%s" % (rg, r["name"], loc))
    p["powerState"] = {"code": "Running"}
    p["maxAgentPools"] = 100
    if (p.get("oidcIssuerProfile") or {}).get("enabled"):
        p["oidcIssuerProfile"]["issuerURL"] = "https://%s.oic.prod-aks.azure.com/%s/" % (loc, _hash(r["id"], 32))
    ident = r.get("identity")
    if isinstance(ident, dict) and ident.get("type") == "SystemAssigned":
        ident["principalId"] = str(uuid.UUID(_hash(r["id"] + "p", 32)))
        ident["tenantId"] = "00000000-0000-0000-0000-0000000000aa"


def _aks_pool(r, store):
    p = r.setdefault("properties", {})
    p.setdefault("count", 1 if not p.get("enableAutoScaling") else p.get("minCount", 1))
    p.setdefault("mode", "User")
    p.setdefault("osType", "Linux")
    p.setdefault("type", "VirtualMachineScaleSets")
    p.setdefault("osDiskSizeGB", 128)
    if p.get("scaleSetPriority") == "Spot":
        p.setdefault("scaleSetEvictionPolicy", "Delete")
        p.setdefault("spotMaxPrice", -1)
    cluster = store.resources.get(r["id"].lower().rsplit("/agentpools/", 1)[0])
    version = (cluster or {}).get("properties", {}).get("kubernetesVersion")
    p.setdefault("orchestratorVersion", version)
    p["currentOrchestratorVersion"] = p.get("orchestratorVersion")
    p["nodeImageVersion"] = "AKSUbuntu-2204gen2containerd-202611.01.0"
    p["powerState"] = {"code": "Running"}


def _cluster_key(ref):
    return ref.key if ref.type_path == "managedClusters" else ref.parent_key


def _check_cluster(store, ref, existing, body):
    p = body.get("properties") or {}
    if existing is None:
        pools = p.get("agentPoolProfiles") or []
        if not any((x.get("mode") == "System") for x in pools):
            raise ArmError(400, "InvalidParameter", "A managed cluster needs at least one agent pool of mode "
                           "'System' in properties.agentPoolProfiles.")
        if not p.get("dnsPrefix") and not p.get("fqdnSubdomain"):
            raise ArmError(400, "InvalidParameter", "properties.dnsPrefix is required.")
        return
    old, new = _minor(existing["properties"].get("kubernetesVersion")), _minor(p.get("kubernetesVersion"))
    if old and new and new != old:
        if new < old:
            raise ArmError(400, "NotAllowedDowngrade", "Downgrading the control plane from %s to %s is not "
                           "allowed." % (existing["properties"]["kubernetesVersion"], p["kubernetesVersion"]))
        if new[0] == old[0] and new[1] > old[1] + 1:
            raise ArmError(400, "UpgradeNotAllowed", "Upgrading from %s to %s skips a minor version; upgrade to "
                           "%d.%d first." % (existing["properties"]["kubernetesVersion"], p["kubernetesVersion"],
                                             old[0], old[1] + 1))
    for k in ("dnsPrefix",):
        if k in p and p[k] != existing["properties"].get(k):
            raise ArmError(400, "PropertyChangeNotAllowed", "Changing property '%s' is not allowed." % k)


def _check_pool(store, ref, existing, body):
    p = body.get("properties") or {}
    if not p.get("vmSize") and existing is None:
        raise ArmError(400, "InvalidParameter", "properties.vmSize is required.")
    if p.get("enableAutoScaling"):
        lo, hi = p.get("minCount"), p.get("maxCount")
        if lo is None or hi is None:
            raise ArmError(400, "InvalidParameter", "minCount and maxCount are required when enableAutoScaling "
                           "is true.")
        if lo > hi:
            raise ArmError(400, "InvalidParameter", "minCount (%d) is greater than maxCount (%d)." % (lo, hi))
        if "count" in p and not lo <= p["count"] <= hi:
            raise ArmError(400, "InvalidParameter", "count (%d) must be between minCount and maxCount." % p["count"])
    gip = p.get("gpuInstanceProfile")
    if gip and str(p.get("vmSize", (existing or {}).get("properties", {}).get("vmSize"))).lower() not in MIG_SIZES:
        raise ArmError(400, "InvalidParameter", "gpuInstanceProfile %s needs a VM size with MIG-capable GPUs "
                       "(A100 or H100); %s has none." % (gip, p.get("vmSize")))
    for t in p.get("nodeTaints") or []:
        if not re.fullmatch(r"[^=:]+(=[^=:]*)?:(NoSchedule|PreferNoSchedule|NoExecute)", t):
            raise ArmError(400, "InvalidParameter", "nodeTaints %r is not key=value:Effect." % t)
    if existing is not None:
        for k in POOL_FIXED:
            if k in p and p[k] != existing["properties"].get(k):
                raise ArmError(400, "PropertyChangeNotAllowed", "Changing property '%s' is not allowed." % k)
    cluster = store.resources.get(ref.parent_key)
    if cluster is not None and p.get("orchestratorVersion"):
        cv, pv = _minor(cluster["properties"].get("kubernetesVersion")), _minor(p["orchestratorVersion"])
        if cv and pv and pv > cv:
            raise ArmError(400, "InvalidParameter", "orchestratorVersion %s is newer than the control plane's %s."
                           % (p["orchestratorVersion"], cluster["properties"]["kubernetesVersion"]))


def _after_cluster(store, ref, r):
    """The agent pools a cluster PUT lists become (or update) its agentPools children."""
    for prof in (r.get("properties") or {}).get("agentPoolProfiles") or []:
        name = prof.get("name")
        key = ref.key + "/agentpools/" + name.lower()
        child = store.resources.get(key) or {"id": r["id"] + "/agentPools/" + name, "name": name,
                                             "type": "Microsoft.ContainerService/managedClusters/agentPools",
                                             "properties": {}}
        child["properties"].update({k: copy.deepcopy(v) for k, v in prof.items() if k != "name"})
        if not prof.get("orchestratorVersion"):
            child["properties"]["orchestratorVersion"] = r["properties"].get("kubernetesVersion")
        store.resources[key] = child
        _aks_pool(child, store)
        child["properties"]["provisioningState"] = "Succeeded"


def _view_cluster(store, r):
    """A cluster answers its agent pools as agentPoolProfiles, as AKS does."""
    prefix = r["id"].lower() + "/agentpools/"
    profiles = []
    for k, child in sorted(store.resources.items()):
        if k.startswith(prefix) and "/" not in k[len(prefix):]:
            prof = {"name": child["name"]}
            prof.update(copy.deepcopy(child.get("properties", {})))
            profiles.append(prof)
    r.setdefault("properties", {})["agentPoolProfiles"] = profiles
    return r


# VM sizes that AKS splits into MIG instances (gpuInstanceProfile).
MIG_SIZES = ("standard_nc24ads_a100_v4", "standard_nc48ads_a100_v4", "standard_nc96ads_a100_v4",
             "standard_nd96asr_v4", "standard_nd96amsr_a100_v4", "standard_nc40ads_h100_v5",
             "standard_nc80adis_h100_v5", "standard_nd96isr_h100_v5")

# What AKS refuses to change on an existing agent pool.
POOL_FIXED = ("vmSize", "gpuInstanceProfile", "scaleSetPriority", "scaleSetEvictionPolicy", "osDiskSizeGB",
              "osType", "osSKU", "gpuProfile")


def _minor(v):
    try:
        a, b = str(v).split(".")[:2]
        return int(a), int(b)
    except (ValueError, TypeError):
        return None


def _ml_registry(r, store):
    p = r.setdefault("properties", {})
    loc = (r.get("location") or "eastus").lower()
    name = r["name"]
    sub = r["id"].split("/")[2]
    p["discoveryUrl"] = "https://%s.api.azureml.ms/registrymanagement/v1.0/registries/%s/discovery" % (loc, name)
    p["mlFlowRegistryUri"] = "azureml://%s.api.azureml.ms/mlflow/v1.0/subscriptions/%s/resourceGroups/" \
        "azureml-rg-%s/providers/Microsoft.MachineLearningServices/registries/%s" % (loc, sub, name, name)
    p["managedResourceGroup"] = {"resourceId": "/subscriptions/%s/resourceGroups/azureml-rg-%s_%s" % (
        sub, name, _hash(r["id"].lower(), 8))}
    for region in p.get("regionDetails") or []:
        for sa in region.get("storageAccountDetails") or []:
            c = sa.get("systemCreatedStorageAccount")
            if isinstance(c, dict):
                c.setdefault("storageAccountName", ("%s%s" % (name, _hash(region.get("location", "") + name, 6)))
                             .replace("-", "").replace("_", "").lower()[:24])
        for acr in region.get("acrDetails") or []:
            c = acr.get("systemCreatedAcrAccount")
            if isinstance(c, dict):
                c.setdefault("acrAccountName", ("%s%s" % (name, _hash(region.get("location", "") + name, 6)))
                             .replace("-", "").replace("_", "").lower()[:50])
    ident = r.get("identity")
    if isinstance(ident, dict) and "SystemAssigned" in ident.get("type", ""):
        ident["principalId"] = str(uuid.UUID(_hash(r["id"] + "p", 32)))
        ident["tenantId"] = "00000000-0000-0000-0000-0000000000aa"


def _check_ml_registry(store, ref, existing, body):
    p = body.get("properties") or {}
    regions = [x.get("location", "").lower() for x in p.get("regionDetails") or []]
    if not regions:
        raise ArmError(400, "BadRequest", "properties.regionDetails needs at least one region.")
    if (body.get("location") or "").lower() not in regions:
        raise ArmError(400, "BadRequest", "The registry's location must be one of its regionDetails.")
    if existing is not None:
        before = [x.get("location", "").lower() for x in existing["properties"].get("regionDetails") or []]
        gone = [x for x in before if x not in regions]
        if gone:
            raise ArmError(400, "BadRequest", "Regions cannot be removed from a registry (%s)." % ", ".join(gone))


def _workspace(r, store):
    p = r.setdefault("properties", {})
    loc = (r.get("location") or "eastus").lower()
    p.setdefault("workspaceId", str(uuid.UUID(_hash(r["id"].lower(), 32))))
    p["discoveryUrl"] = "https://%s.api.azureml.ms/discovery" % loc
    p["mlFlowTrackingUri"] = "azureml://%s.api.azureml.ms/mlflow/v1.0%s" % (loc, r["id"])
    ident = r.get("identity")
    if isinstance(ident, dict) and "SystemAssigned" in ident.get("type", ""):
        ident["principalId"] = str(uuid.UUID(_hash(r["id"] + "p", 32)))
        ident["tenantId"] = "00000000-0000-0000-0000-0000000000aa"


def _online_endpoint(r, store):
    p = r.setdefault("properties", {})
    loc = (r.get("location") or "eastus").lower()
    p["scoringUri"] = "https://%s.%s.inference.ml.azure.com/score" % (r["name"].lower(), loc)
    p["swaggerUri"] = "https://%s.%s.inference.ml.azure.com/swagger.json" % (r["name"].lower(), loc)
    p.setdefault("traffic", {})
    ident = r.get("identity")
    if isinstance(ident, dict) and "SystemAssigned" in ident.get("type", ""):
        ident["principalId"] = str(uuid.UUID(_hash(r["id"] + "p", 32)))
        ident["tenantId"] = "00000000-0000-0000-0000-0000000000aa"


def _deployment(r, store):
    r.setdefault("properties", {}).setdefault("scaleSettings", {"scaleType": "Default"})
    sku = r.setdefault("sku", {"name": "Default", "capacity": 1})
    sku.setdefault("capacity", 1)


def _asset(r, store):
    r.setdefault("properties", {})


def _check_endpoint(store, ref, existing, body):
    if not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{2,31}", ref.name):
        raise ArmError(400, "InvalidResourceName", "Endpoint name %r must be 3-32 letters, digits and '-', "
                       "starting with a letter." % ref.name)
    p = body.get("properties") or {}
    traffic = p.get("traffic") or {}
    for dep, pct in traffic.items():
        d = store.resources.get(ref.key + "/deployments/" + dep.lower())
        if d is None:
            raise ArmError(400, "BadRequest", "Traffic names deployment %r, which does not exist." % dep)
        if d["properties"].get("provisioningState") != "Succeeded" and pct > 0:
            raise ArmError(400, "BadRequest", "Deployment %r is %s; traffic can only go to a deployment that "
                           "succeeded." % (dep, d["properties"].get("provisioningState")))
        if not 0 <= pct <= 100:
            raise ArmError(400, "BadRequest", "Traffic for %r is %s, not 0-100." % (dep, pct))
    total = sum(traffic.values())
    if traffic and total not in (0, 100):
        raise ArmError(400, "BadRequest", "Traffic values must add up to 100 (or all be 0), not %d." % total)
    store.traffic_history.setdefault(ref.key, []).append(dict(traffic))


def _check_deployment(store, ref, existing, body):
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9-]{2,31}", ref.name):
        raise ArmError(400, "InvalidResourceName", "Deployment name %r must be 3-32 letters, digits and '-'." % ref.name)
    p = body.get("properties") or {}
    if p.get("endpointComputeType") != "Managed":
        raise ArmError(400, "BadRequest", "endpointComputeType must be Managed for a managed online endpoint.")
    cap = (body.get("sku") or {}).get("capacity", 1)
    if cap < 1:
        raise ArmError(400, "BadRequest", "sku.capacity (the instance count) must be at least 1.")
    if existing is not None and p.get("instanceType") != existing["properties"].get("instanceType"):
        raise ArmError(400, "BadRequest", "instanceType of a deployment cannot be changed; create a new deployment.")
    for k in ("environmentId", "model"):
        ref_id = p.get(k)
        if ref_id and ref_id.startswith("/subscriptions/") and ref_id.lower() not in store.resources:
            raise ArmError(400, "BadRequest", "%s %s does not exist." % (k, ref_id))


def _check_version(store, ref, existing, body):
    """Asset versions are immutable: a version is written once."""
    if existing is None:
        return
    before = {k: v for k, v in existing.get("properties", {}).items() if k != "provisioningState"}
    if before != (body.get("properties") or {}):
        raise ArmError(409, "Conflict", "Version %s of %s already exists with other properties; asset versions "
                       "are immutable, create a new version." % (ref.name, ref.parent_name))


# What a feature set specification's types may be (FeatureDataType).
FEATURE_TYPES = ("string", "integer", "long", "float", "double", "binary", "datetime", "boolean")


def _check_workspace(store, ref, existing, body):
    p = body.get("properties") or {}
    acct = p.get("storageAccount")
    if acct and store.resources.get(acct.lower()) is None:
        raise ArmError(400, "BadRequest", "The storage account %s of the workspace does not exist." % acct)
    if existing is not None and (body.get("kind") or "Default").lower() != (existing.get("kind") or "Default").lower():
        raise ArmError(400, "BadRequest", "A workspace's kind cannot change (%s to %s)." % (
            existing.get("kind"), body.get("kind")))


def _feature_store_of(store, ref):
    ws_key = ref.key.split("/workspaces/")[0] + "/workspaces/" + ref.names[0].lower()
    ws = store.resources.get(ws_key)
    if ws is None or (ws.get("kind") or "").lower() != "featurestore":
        raise ArmError(400, "BadRequest", "Workspace %s is not a feature store (kind FeatureStore); feature sets "
                       "and entities live in one." % ref.names[0])
    return ws


def _check_entity_version(store, ref, existing, body):
    _feature_store_of(store, ref)
    _check_version(store, ref, existing, body)
    cols = (body.get("properties") or {}).get("indexColumns") or []
    if not cols:
        raise ArmError(400, "BadRequest", "An entity needs at least one index column.")


def _spec_of(store, path):
    """The parsed FeatureSetSpec.yaml in the folder PATH (a blob URL), as Azure ML reads it."""
    import yaml
    if store.blob is None:
        raise ArmError(400, "BadRequest", "The double serves no blob data (start it with --blob-accounts): the "
                       "feature set specification at %s cannot be read." % path)
    m = re.fullmatch(r"https://127\.0\.0\.1:%d/([^/]+)/([^/]+)/(.+?)/?" % store.blob.port, path or "")
    if m is None:
        raise ArmError(400, "BadRequest", "specification.path %r is not a folder in a storage account the double "
                       "serves (%s)." % (path, store.blob.endpoint("ACCOUNT")))
    account, container, folder = m.groups()
    raw = store.blob.get_blob(account, container, folder + "/FeatureSetSpec.yaml")
    if raw is None:
        raise ArmError(400, "BadRequest", "No FeatureSetSpec.yaml in the specification folder %s." % path)
    try:
        spec = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ArmError(400, "BadRequest", "FeatureSetSpec.yaml in %s is not YAML: %s" % (path, e))
    if not isinstance(spec, dict):
        raise ArmError(400, "BadRequest", "FeatureSetSpec.yaml in %s is not a mapping." % path)
    for k in ("source", "features", "index_columns"):
        if k not in spec:
            raise ArmError(400, "BadRequest", "FeatureSetSpec.yaml in %s has no %r." % (path, k))
    src = spec["source"]
    if not isinstance(src, dict) or not src.get("type") or not src.get("path"):
        raise ArmError(400, "BadRequest", "FeatureSetSpec.yaml: source needs a type and a path.")
    for what in ("features", "index_columns"):
        items = spec[what]
        if not isinstance(items, list) or not items:
            raise ArmError(400, "BadRequest", "FeatureSetSpec.yaml: %s must be a non-empty list." % what)
        for f in items:
            if not isinstance(f, dict) or not f.get("name") or str(f.get("type", "")).lower() not in FEATURE_TYPES:
                raise ArmError(400, "BadRequest", "FeatureSetSpec.yaml: every entry of %s needs a name and a type "
                               "among %s, not %r." % (what, ", ".join(FEATURE_TYPES), f))
    return spec


def _check_featureset_version(store, ref, existing, body):
    _feature_store_of(store, ref)
    _check_version(store, ref, existing, body)
    p = body.get("properties") or {}
    for e in p.get("entities") or []:
        m = re.fullmatch(r"azureml:([^:]+):([^:]+)", e)
        if m is None:
            raise ArmError(400, "BadRequest", "Entity reference %r is not azureml:NAME:VERSION." % e)
        key = ref.key.split("/featuresets/")[0] + "/featurestoreentities/%s/versions/%s" % (
            m.group(1).lower(), m.group(2).lower())
        if store.resources.get(key) is None:
            raise ArmError(400, "BadRequest", "Entity %s does not exist in the feature store." % e)
    if not p.get("entities"):
        raise ArmError(400, "BadRequest", "A feature set version needs at least one entity.")
    _spec_of(store, (p.get("specification") or {}).get("path"))


def _after_featureset_version(store, ref, r):
    """Azure ML lists a version's features from its specification."""
    spec = _spec_of(store, r["properties"]["specification"]["path"])
    prefix = ref.key + "/features/"
    for k in [k for k in store.resources if k.startswith(prefix)]:
        del store.resources[k]
    for f in spec["features"]:
        fid = "%s/features/%s" % (r["id"], f["name"])
        canon = {t.lower(): t for t in ("String", "Integer", "Long", "Float", "Double", "Binary", "Datetime",
                                        "Boolean")}
        store.resources[fid.lower()] = {
            "id": fid, "name": f["name"], "type": ref.full_type + "/features",
            "properties": {"featureName": f["name"], "dataType": canon[str(f["type"]).lower()],
                           "description": f.get("description")}}


def _check_deployment_delete(store, ref):
    ep = store.resources.get(ref.parent_key)
    if ep is not None and (ep["properties"].get("traffic") or {}).get(ref.name, 0) > 0:
        raise ArmError(400, "BadRequest", "Deployment %s takes %d%% of the endpoint's traffic; set its traffic to 0 "
                       "before deleting it." % (ref.name, ep["properties"]["traffic"][ref.name]))


def _autoscale(r, store):
    p = r.setdefault("properties", {})
    p.setdefault("enabled", False)
    p["name"] = r["name"]
    p.setdefault("notifications", [])


def _capacity(profile, where):
    cap = profile.get("capacity") or {}
    out = {}
    for k in ("minimum", "maximum", "default"):
        v = cap.get(k)
        if not isinstance(v, str) or not re.fullmatch(r"\d+", v):
            raise ArmError(400, "InvalidRequestContent", "%s.capacity.%s must be a whole number as a string, "
                           "not %r." % (where, k, v))
        out[k] = int(v)
    if not out["minimum"] <= out["default"] <= out["maximum"]:
        raise ArmError(400, "InvalidRequestContent", "%s.capacity: minimum (%d) <= default (%d) <= maximum (%d) "
                       "does not hold." % (where, out["minimum"], out["default"], out["maximum"]))
    return out


def _check_autoscale(store, ref, existing, body):
    """Azure Monitor checks what an autoscale setting points at: the target and every rule's
    metric resource exist, one setting per target, at most 20 profiles of at most 10 rules."""
    p = body.get("properties") or {}
    target = p.get("targetResourceUri")
    if not target:
        raise ArmError(400, "TargetResourceUriRequired", "targetResourceUri is required.")
    if store.resources.get(target.lower()) is None:
        raise ArmError(400, "TargetResourceNotFound", "The target resource id '%s' was not found." % target)
    for other in store.resources.values():
        if other["type"].lower() == ref.full_type.lower() and other["id"].lower() != ref.id.lower() and \
                (other["properties"].get("targetResourceUri") or "").lower() == target.lower():
            raise ArmError(409, "Conflict", "The target resource '%s' already has an autoscale setting (%s); a "
                           "resource has at most one." % (target, other["name"]))
    profiles = p.get("profiles") or []
    if not 1 <= len(profiles) <= 20:
        raise ArmError(400, "InvalidRequestContent", "An autoscale setting has 1 to 20 profiles, not %d." % len(profiles))
    for i, prof in enumerate(profiles):
        where = "profiles[%d]" % i
        _capacity(prof, where)
        rules = prof.get("rules") or []
        if len(rules) > 10:
            raise ArmError(400, "InvalidRequestContent", "%s has %d rules; the most is 10." % (where, len(rules)))
        for j, rule in enumerate(rules):
            trig = rule["metricTrigger"]
            if store.resources.get(trig["metricResourceUri"].lower()) is None:
                raise ArmError(400, "InvalidRequestContent", "%s.rules[%d]: the metric resource '%s' was not "
                               "found." % (where, j, trig["metricResourceUri"]))
            for k in ("timeGrain", "timeWindow"):
                if not re.fullmatch(r"PT(\d+H)?(\d+M)?(\d+S)?", trig[k]) or trig[k] == "PT":
                    raise ArmError(400, "InvalidRequestContent", "%s.rules[%d].metricTrigger.%s %r is not an ISO "
                                   "8601 duration." % (where, j, k, trig[k]))
            act = rule["scaleAction"]
            if act["type"] == "ChangeCount" and not re.fullmatch(r"[1-9]\d*", act.get("value", "1")):
                raise ArmError(400, "InvalidRequestContent", "%s.rules[%d].scaleAction.value must be a positive "
                               "whole number for ChangeCount." % (where, j))


def _after_autoscale(store, ref, r):
    """An enabled setting holds its target's instance count within the profile's bounds at
    once, as Azure Monitor's first evaluation does (a managed online deployment's `sku.capacity`)."""
    p = r["properties"]
    target = store.resources.get((p.get("targetResourceUri") or "").lower())
    if not p.get("enabled") or target is None or not isinstance(target.get("sku"), dict):
        return
    cap = _capacity(p["profiles"][0], "profiles[0]")
    now_ = target["sku"].get("capacity", 1)
    target["sku"]["capacity"] = min(max(now_, cap["minimum"]), cap["maximum"])


# api-versions Microsoft.Resources answers for resource groups (the ones in common use).
RESOURCE_GROUP_VERSIONS = ("2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-04-01")

# (namespace, type) -> how it behaves.
#   put / delete: "sync" | "async" (201/202 + Azure-AsyncOperation) | "location" (202 + Location)
#   tracked: has a location (inherited from the parent when absent for a child)
#   patch: PATCH is allowed; a mode ("sync") when it answers otherwise than PUT
#   requires: top-level properties a create must have
#   global_name: the name is unique across subscriptions (a DNS name)
#   implicit: the child exists as soon as its parent does (blobServices/default)
TYPES = {
    ("Microsoft.Storage", "storageAccounts"): dict(
        put="location", delete="sync", tracked=True, requires=("sku", "kind", "location"),
        global_name="StorageAccountAlreadyTaken", computed=_storage_account, patch="sync",
        check_delete=_delete_account_data),
    ("Microsoft.Storage", "storageAccounts/blobServices"): dict(
        put="sync", delete=None, implicit="default", computed=_blob_service),
    ("Microsoft.Storage", "storageAccounts/blobServices/containers"): dict(
        put="sync", delete="sync", computed=_container, patch=True, after=_after_container,
        check_delete=_delete_container_data),
    ("Microsoft.ContainerService", "managedClusters"): dict(
        put="async", delete="async", tracked=True, requires=("location",), computed=_aks_cluster,
        patch="async", busy=_cluster_key, check=_check_cluster, after=_after_cluster, view=_view_cluster),
    ("Microsoft.ContainerService", "managedClusters/agentPools"): dict(
        put="async", delete="async", computed=_aks_pool, busy=_cluster_key, check=_check_pool),
    ("Microsoft.MachineLearningServices", "registries"): dict(
        put="async", delete="async", tracked=True, requires=("location",), computed=_ml_registry,
        check=_check_ml_registry, patch="async"),
    ("Microsoft.MachineLearningServices", "workspaces"): dict(
        put="location", delete="async", tracked=True, requires=("location",), computed=_workspace, patch="async",
        check=_check_workspace),
    ("Microsoft.MachineLearningServices", "workspaces/featurestoreEntities"): dict(
        put="async", delete="location", computed=_asset),
    ("Microsoft.MachineLearningServices", "workspaces/featurestoreEntities/versions"): dict(
        put="async", delete="location", computed=_asset, check=_check_entity_version, auto_parent=True),
    ("Microsoft.MachineLearningServices", "workspaces/featuresets"): dict(
        put="async", delete="location", computed=_asset),
    ("Microsoft.MachineLearningServices", "workspaces/featuresets/versions"): dict(
        put="async", delete="location", computed=_asset, check=_check_featureset_version,
        after=_after_featureset_version, auto_parent=True),
    # Read-only: what Azure ML read from a version's specification.
    ("Microsoft.MachineLearningServices", "workspaces/featuresets/versions/features"): dict(
        put=None, delete=None, read_only=True, api="2026-05-01"),
    ("Microsoft.MachineLearningServices", "workspaces/onlineEndpoints"): dict(
        put="async", delete="async", tracked=True, requires=("location",), computed=_online_endpoint,
        check=_check_endpoint, patch="async"),
    ("Microsoft.MachineLearningServices", "workspaces/onlineEndpoints/deployments"): dict(
        put="async", delete="async", tracked=True, requires=("location",), computed=_deployment,
        check=_check_deployment, check_delete=_check_deployment_delete, patch="async"),
    ("Microsoft.MachineLearningServices", "workspaces/environments"): dict(
        put="sync", delete="sync", computed=_asset),
    ("Microsoft.MachineLearningServices", "workspaces/environments/versions"): dict(
        put="sync", delete="sync", computed=_asset, check=_check_version, auto_parent=True),
    ("Microsoft.MachineLearningServices", "workspaces/models"): dict(
        put="sync", delete="sync", computed=_asset),
    ("Microsoft.MachineLearningServices", "workspaces/models/versions"): dict(
        put="sync", delete="sync", computed=_asset, check=_check_version, auto_parent=True),
    ("Microsoft.Insights", "autoscalesettings"): dict(
        put="sync", delete="sync", tracked=True, requires=("location",), computed=_autoscale,
        check=_check_autoscale, after=_after_autoscale, patch="sync"),
    ("Microsoft.ContainerRegistry", "registries"): dict(
        put="async", delete="location", tracked=True, requires=("sku", "location"),
        global_name="AlreadyInUse", computed=_registry, patch=True),
}


class Fault:
    _ids = itertools.count(1)

    def __init__(self, spec):
        self.id = next(self._ids)
        self.method = spec.get("method")
        self.path = re.compile(spec.get("path", ".*"), re.I)
        # latency_ms alone delays the call and lets it through; with a status it delays the error
        self.latency_ms = float(spec.get("latency_ms", 0))
        self.delay_only = "status" not in spec and self.latency_ms > 0
        self.status = int(spec.get("status", 500))
        self.code = spec.get("code") or {429: "TooManyRequests", 409: "Conflict", 404: "ResourceNotFound",
                                         503: "ServiceUnavailable"}.get(self.status, "InternalServerError")
        self.message = spec.get("message") or "injected fault"
        self.times = spec.get("times", 1)
        self.retry_after = spec.get("retry_after")
        # "operation": the call is accepted, and its long-running operation ends Failed
        self.operation = bool(spec.get("operation"))
        self.hits = 0

    def matches(self, method, path):
        if self.times is not None and self.hits >= self.times:
            return False
        return (self.method in (None, method)) and bool(self.path.search(path))

    def view(self):
        return {"id": self.id, "method": self.method, "path": self.path.pattern, "status": self.status,
                "code": self.code, "times": self.times, "retryAfter": self.retry_after,
                "operation": self.operation, "latencyMs": self.latency_ms, "hits": self.hits}


class Operation:
    def __init__(self, op_id, ns, location, resource_key, kind, on_done, fail=None):
        self.id, self.ns, self.location = op_id, ns, location
        self.resource_key, self.kind, self.on_done = resource_key, kind, on_done
        self.fail = fail  # (code, message) when the operation is to end Failed
        self.polls = 0
        self.started = time.monotonic()
        self.start_time = now()
        self.status = "InProgress"
        self.end_time = None
        self.error = None


class Store:
    def __init__(self, schemas, ready_after_polls=2, ready_after_ms=0, latency_ms=0, retry_after=0, seed=None):
        self.schemas = schemas
        self.lock = threading.RLock()
        self.resources = {}   # lower-case id -> resource dict (as GET answers it)
        self.groups = {}      # lower-case "/subscriptions/S/resourcegroups/G" -> group dict
        self.operations = {}
        self.faults = []
        self.tokens = set()
        self.token_secret = os.urandom(32)
        self.blob = None  # a BlobPlane (Azurite) when the double serves blob data
        self.token_requests = []  # who asked the token endpoint, and with a secret or an assertion
        self.traffic_history = {}  # endpoint key -> every traffic map it was given, in order
        self.pool_history = {}  # cluster key -> the pools that served after each pool operation
        self.ready_after_polls = ready_after_polls
        self.ready_after_ms = ready_after_ms
        self.latency_ms = latency_ms
        self.retry_after = retry_after
        self.rand = random.Random(seed)
        self.requests = 0

    # -- control ---------------------------------------------------------------------------
    def reset(self):
        with self.lock:
            self.resources.clear()
            self.groups.clear()
            self.operations.clear()
            self.faults.clear()
            self.traffic_history.clear()
            self.pool_history.clear()
            if self.blob is not None:
                self.blob.reset()

    def view(self):
        with self.lock:
            return {
                "resourceGroups": sorted(g["id"] for g in self.groups.values()),
                "resources": {r["id"]: r for r in sorted(self.resources.values(), key=lambda r: r["id"].lower())},
                "operations": [{"id": o.id, "kind": o.kind, "status": o.status, "resource": o.resource_key,
                                "polls": o.polls} for o in self.operations.values()],
                "faults": [f.view() for f in self.faults],
                "trafficHistory": {k: v for k, v in sorted(self.traffic_history.items())},
                "poolHistory": {k: v for k, v in sorted(self.pool_history.items())},
                "tokenRequests": list(self.token_requests),
                "config": {"readyAfterPolls": self.ready_after_polls, "readyAfterMs": self.ready_after_ms,
                           "latencyMs": self.latency_ms, "retryAfter": self.retry_after},
                "requests": self.requests,
            }

    def configure(self, body):
        with self.lock:
            for k, attr in (("readyAfterPolls", "ready_after_polls"), ("readyAfterMs", "ready_after_ms"),
                            ("latencyMs", "latency_ms"), ("retryAfter", "retry_after")):
                if k in body:
                    setattr(self, attr, body[k])
            return self.view()["config"]

    def add_faults(self, specs):
        with self.lock:
            added = [Fault(s) for s in (specs if isinstance(specs, list) else [specs])]
            self.faults.extend(added)
            return [f.view() for f in added]

    def fault_for(self, method, path):
        with self.lock:
            for f in self.faults:
                if f.matches(method, path):
                    f.hits += 1
                    return f
        return None

    def complete_all(self):
        with self.lock:
            for op in list(self.operations.values()):
                if op.status == "InProgress":
                    self._finish(op)

    # -- tokens ----------------------------------------------------------------------------
    def issue_token(self, scope="https://management.azure.com/.default", tenant="00000000-0000-0000-0000-0000000000aa",
                    client_id="mlinfra-double"):
        """A bearer token for SCOPE's resource: a JWT with Entra's claims (issuer, audience,
        validity), which Azurite checks for the storage audience; the double keeps every
        token it issued and takes only those for ARM writes."""
        from .blob import jwt
        now_ = int(time.time())
        aud = scope[:-len("/.default")] if scope.endswith("/.default") else scope
        claims = {"aud": aud, "iss": "https://sts.windows.net/%s/" % tenant, "iat": now_, "nbf": now_ - 60,
                  "exp": now_ + 3600, "appid": client_id, "tid": tenant,
                  "oid": str(uuid.UUID(int=self.rand.getrandbits(128))), "ver": "1.0"}
        tok = jwt(claims, self.token_secret)
        with self.lock:
            self.tokens.add(tok)
        return tok

    # -- operations ------------------------------------------------------------------------
    def _new_op(self, ns, location, key, kind, on_done, fault):
        op_id = str(uuid.UUID(int=self.rand.getrandbits(128)))
        fail = (fault.code, fault.message) if fault is not None else None
        op = Operation(op_id, ns, location or "eastus", key, kind, on_done, fail)
        self.operations[op_id] = op
        if self.ready_after_polls <= 0 and self.ready_after_ms <= 0:
            self._finish(op)
        return op

    def _finish(self, op):
        if op.status != "InProgress":
            return
        op.end_time = now()
        if op.fail:
            op.status = "Failed"
            op.error = {"code": op.fail[0], "message": op.fail[1]}
        else:
            op.status = "Succeeded"
        op.on_done(op)
        if "/agentpools/" in op.resource_key:
            self._record_pools(op.resource_key.split("/agentpools/")[0])

    def _record_pools(self, cluster_key):
        """The pools of a cluster that serve (provisioned, not being deleted), after every pool operation."""
        prefix = cluster_key + "/agentpools/"
        serving = sorted(r["name"] for k, r in self.resources.items()
                         if k.startswith(prefix) and r.get("properties", {}).get("provisioningState") == "Succeeded")
        self.pool_history.setdefault(cluster_key, []).append(serving)

    def poll(self, op_id):
        with self.lock:
            op = self.operations.get(op_id)
            if op is None:
                return None
            self._tick(op)
            return op

    def _tick(self, op):
        if op.status != "InProgress":
            return
        op.polls += 1
        waited = (time.monotonic() - op.started) * 1000
        if op.polls >= self.ready_after_polls and waited >= self.ready_after_ms:
            self._finish(op)

    def _tick_resource(self, key):
        for op in list(self.operations.values()):
            if op.resource_key == key and op.status == "InProgress":
                self._tick(op)

    def op_status(self, op):
        body = {"id": "/providers/%s/locations/%s/operationStatuses/%s" % (op.ns, op.location, op.id),
                "name": op.id, "status": op.status, "startTime": op.start_time}
        if op.end_time:
            body["endTime"] = op.end_time
        if op.error:
            body["error"] = op.error
        return body

    # -- resource groups -------------------------------------------------------------------
    def group(self, sub, rg, must=True):
        g = self.groups.get(("/subscriptions/%s/resourcegroups/%s" % (sub, rg)).lower())
        if g is None and must:
            raise ArmError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)
        return g

    def put_group(self, sub, rg, body):
        if not re.fullmatch(r"[-\w._()]{1,90}", rg) or rg.endswith("."):
            raise ArmError(400, "InvalidResourceGroup", "The provided resource group name '%s' has these invalid "
                           "characters or length. Allowed: 1-90 letters, digits, '-', '_', '.', '(' and ')'; not "
                           "ending in '.'." % rg)
        for k in body:
            if k not in ("location", "tags", "managedBy", "properties", "id", "name", "type"):
                raise ArmError(400, "InvalidRequestContent", "unknown property %r in the resource group" % k)
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        with self.lock:
            existing = self.group(sub, rg, must=False)
            if existing and existing["location"].lower() != body["location"].lower():
                raise ArmError(409, "InvalidResourceGroupLocation",
                               "Invalid resource group location '%s'. The Resource group already exists in "
                               "location '%s'." % (body["location"], existing["location"]))
            g = {"id": "/subscriptions/%s/resourceGroups/%s" % (sub, existing["name"] if existing else rg),
                 "name": existing["name"] if existing else rg, "type": "Microsoft.Resources/resourceGroups",
                 "location": body["location"], "tags": body.get("tags") or {},
                 "properties": {"provisioningState": "Succeeded"}}
            self.groups[g["id"].lower()] = g
            return (200 if existing else 201), g

    def delete_group(self, sub, rg):
        with self.lock:
            g = self.group(sub, rg, must=False)
            if g is None:
                return None
            prefix = g["id"].lower() + "/"

            def done(op):
                for k in [k for k in self.resources if k.startswith(prefix)]:
                    del self.resources[k]
                self.groups.pop(g["id"].lower(), None)
            g["properties"]["provisioningState"] = "Deleting"
            return self._new_op("Microsoft.Resources", g["location"], g["id"].lower(), "delete", done, None)

    # -- resources -------------------------------------------------------------------------
    def get(self, key):
        with self.lock:
            self._tick_resource(key)
            return self._view(self.resources.get(key))

    def list(self, prefix_key, ns, rtype):
        with self.lock:
            out = []
            for k, r in sorted(self.resources.items()):
                if r["type"].lower() == ("%s/%s" % (ns, rtype)).lower() and k.startswith(prefix_key):
                    out.append(self._view(r))
            return out

    def put(self, ref, body, fault, patch=False):
        """ref: the parsed path. Answers (status, body, headers)."""
        spec = TYPES[(ref.ns, ref.type_path)]
        sch = self.schemas
        with self.lock:
            self.group(ref.sub, ref.rg)
            parent = None
            if ref.parent_key:
                parent = self._existing(ref.parent_key, ref.parent_type)
                if parent is None and spec.get("auto_parent"):
                    parent = self._auto_parent(ref)
                if parent is None:
                    raise ArmError(404, "ParentResourceNotFound",
                                   "Can not perform requested operation on nested resource. Parent resource "
                                   "'%s' not found." % ref.parent_name)
            existing = self.resources.get(ref.key)
            if existing and existing.get("properties", {}).get("provisioningState") == "Deleting":
                raise ArmError(409, "Conflict", "The resource '%s' is being deleted." % ref.name)
            if patch:
                if existing is None:
                    raise ArmError(404, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was "
                                   "not found." % (ref.full_type, ref.name, ref.rg))
                merged = copy.deepcopy(_writable(existing))
                _merge(merged, body)
                body = merged
            try:
                sch.check_name(ref.ns, ref.type_path, ref.name)
            except Invalid as e:
                raise ArmError(400, "InvalidResourceName", str(e))
            try:
                sch.check_body(ref.ns, ref.type_path, body)
            except Invalid as e:
                raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                               "deserialized: %s" % e)
            if spec.get("busy"):
                self._refuse_if_busy(spec["busy"](ref))
            if spec.get("check"):
                spec["check"](self, ref, existing, body)
            if existing is None:
                for req in spec.get("requires", ()):
                    if not body.get(req):
                        code = "LocationRequired" if req == "location" else "InvalidRequestContent"
                        raise ArmError(400, code, "The '%s' property is required to create a %s." % (req, ref.full_type))
                if spec.get("global_name"):
                    for r in self.resources.values():
                        if r["type"].lower() == ref.full_type.lower() and r["name"].lower() == ref.name.lower():
                            raise ArmError(409, spec["global_name"], "The name '%s' is already in use (%s)."
                                           % (ref.name, r["id"]))
            else:
                if spec.get("tracked") and body.get("location") and \
                        body["location"].lower() != existing.get("location", "").lower():
                    raise ArmError(409, "InvalidResourceLocation", "The resource '%s' already exists in location "
                                   "'%s'; it cannot be moved to '%s'." % (ref.name, existing["location"],
                                                                          body["location"]))
            r = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "name", "type", "systemData", "etag")}
            r["id"] = existing["id"] if existing else ref.id
            r["name"] = existing["name"] if existing else ref.name
            r["type"] = ref.full_type
            if spec.get("tracked") or "location" in body:
                r["location"] = body.get("location") or (existing or {}).get("location") or \
                    (parent or {}).get("location")
            if spec.get("tracked"):
                r.setdefault("tags", {})
            stamp = now()
            sd = copy.deepcopy((existing or {}).get("systemData")) or {
                "createdBy": "mlinfra-double", "createdByType": "Application", "createdAt": stamp}
            sd.update({"lastModifiedBy": "mlinfra-double", "lastModifiedByType": "Application",
                       "lastModifiedAt": stamp})
            r["systemData"] = sd
            spec["computed"](r, self)
            if spec.get("after"):
                spec["after"](self, ref, r)
            mode = spec["put"]
            if patch and isinstance(spec.get("patch"), str):
                mode = spec["patch"]  # some types answer PATCH otherwise than PUT
            if fault is not None and mode == "sync":
                mode = "async"
            if mode == "sync":
                if not spec.get("implicit"):
                    r.setdefault("properties", {})["provisioningState"] = "Succeeded"
                self.resources[ref.key] = r
                # an implicit child always exists: writing it is an update
                return (200 if existing or spec.get("implicit") else 201), self._view(r), {}
            state = "Updating" if existing else "Creating"
            r.setdefault("properties", {})["provisioningState"] = state
            self.resources[ref.key] = r

            def done(op, key=ref.key):
                cur = self.resources.get(key)
                if cur is not None:
                    cur["properties"]["provisioningState"] = op.status
            op = self._new_op(ref.ns, r.get("location"), ref.key, "update" if existing else "create", done, fault)
            if mode == "async":
                hdr = {"Azure-AsyncOperation": self._op_url(ref, op, "operations")}
                return (200 if existing else 201), self._view(self.resources[ref.key]), hdr
            hdr = {"Location": self._op_url(ref, op, "operationResults")}
            return 202, None, hdr

    def delete(self, ref, fault):
        spec = TYPES[(ref.ns, ref.type_path)]
        with self.lock:
            self.group(ref.sub, ref.rg)
            r = self.resources.get(ref.key)
            if r is None:
                return 204, None, {}
            if spec.get("delete") is None:
                raise ArmError(405, "MethodNotAllowed", "%s cannot be deleted." % ref.full_type)
            if spec.get("busy"):
                self._refuse_if_busy(spec["busy"](ref))
            if spec.get("check_delete"):
                spec["check_delete"](self, ref)

            def done(op, key=ref.key):
                if op.status == "Succeeded":
                    for k in [k for k in self.resources if k == key or k.startswith(key + "/")]:
                        del self.resources[k]
                else:
                    cur = self.resources.get(key)
                    if cur is not None:
                        cur["properties"]["provisioningState"] = "Failed"
            mode = spec["delete"]
            if fault is not None and mode == "sync":
                mode = "location"
            if mode == "sync":
                done(type("Done", (), {"status": "Succeeded"}))
                return 200, None, {}
            r.setdefault("properties", {})["provisioningState"] = "Deleting"
            op = self._new_op(ref.ns, r.get("location"), ref.key, "delete", done, fault)
            hdr = {"Location": self._op_url(ref, op, "operationResults")}
            if mode == "async":
                hdr["Azure-AsyncOperation"] = self._op_url(ref, op, "operations")
            return 202, None, hdr

    def _existing(self, key, full_type):
        r = self.resources.get(key)
        if r is not None:
            return r
        # an implicit child (blobServices/default) exists with its parent
        ns, rtype = full_type.split("/", 1)
        spec = TYPES.get((ns, rtype))
        if spec and spec.get("implicit") and key.rsplit("/", 1)[-1] == spec["implicit"]:
            parent_key = key.rsplit("/", 2)[0]
            parent = self.resources.get(parent_key)
            if parent is not None:
                return self._implicit(full_type, parent)
        return None

    def _implicit(self, full_type, parent):
        """The child as it is before anyone writes it (not stored: a PUT stores it)."""
        ns, rtype = full_type.split("/", 1)
        spec = TYPES[(ns, rtype)]
        r = {"id": parent["id"] + "/" + rtype.rsplit("/", 1)[-1] + "/" + spec["implicit"],
             "name": spec["implicit"], "type": full_type, "properties": {}}
        spec["computed"](r, self)
        return r

    def _auto_parent(self, ref):
        """An asset version's container (environments/NAME, models/NAME) is made with its first version."""
        grand = ref.parent_key.rsplit("/", 2)[0]
        if self.resources.get(grand) is None:
            return None
        pid = ref.id.rsplit("/", 2)[0]
        c = {"id": pid, "name": ref.parent_name, "type": ref.parent_type, "properties": {"provisioningState": "Succeeded"}}
        self.resources[ref.parent_key] = c
        return c

    def _refuse_if_busy(self, scope_key):
        """AKS runs one operation at a time per cluster (its pools included)."""
        for op in self.operations.values():
            if op.status == "InProgress" and (op.resource_key == scope_key or
                                              op.resource_key.startswith(scope_key + "/")):
                raise ArmError(409, "AnotherOperationInProgress", "Operation is not allowed because there's an "
                               "in-progress %s operation (%s) on the managed cluster." % (op.kind, op.id))

    def _view(self, r):
        if r is None:
            return None
        ns, rtype = r["type"].split("/", 1)
        spec = TYPES.get((ns, rtype)) or {}
        r = copy.deepcopy(r)
        return spec["view"](self, r) if spec.get("view") else r

    def get_or_implicit_parent(self, ref):
        with self.lock:
            return self._existing(ref.parent_key, ref.parent_type)

    def get_or_implicit(self, ref):
        with self.lock:
            self._tick_resource(ref.key)
            return self._view(self._existing(ref.key, ref.full_type))

    def _op_url(self, ref, op, kind):
        return "%s/subscriptions/%s/providers/%s/locations/%s/%s/%s?api-version=%s" % (
            ref.base, ref.sub, ref.ns, (op.location or "eastus").replace(" ", "").lower(), kind, op.id,
            ref.api_version)


def _writable(r):
    out = {k: v for k, v in r.items() if k not in ("id", "name", "type", "systemData", "etag")}
    if isinstance(out.get("properties"), dict):
        out["properties"] = _strip(out["properties"])
    if isinstance(out.get("sku"), dict) and "Microsoft.ContainerService" not in r.get("type", ""):
        out["sku"] = {k: v for k, v in out["sku"].items() if k != "tier"}
    if isinstance(out.get("identity"), dict):
        out["identity"] = {k: v for k, v in out["identity"].items() if k not in ("principalId", "tenantId")}
    return out


def _strip(d):
    return {k: (_strip(v) if isinstance(v, dict) else v) for k, v in d.items() if k not in READ_ONLY}


# Properties the service sets; a PATCH merges onto the resource without them.
READ_ONLY = {"provisioningState", "creationTime", "creationDate", "primaryEndpoints", "primaryLocation",
             "statusOfPrimary", "loginServer", "hasImmutabilityPolicy", "hasLegalHold", "leaseState",
             "leaseStatus", "deleted", "remainingRetentionDays", "lastModifiedTime", "fqdn", "azurePortalFQDN",
             "currentKubernetesVersion", "maxAgentPools", "powerState", "issuerURL", "currentOrchestratorVersion",
             "nodeImageVersion", "discoveryUrl", "mlFlowRegistryUri", "managedResourceGroup", "workspaceId",
             "mlFlowTrackingUri", "scoringUri", "swaggerUri"}


def _merge(dst, src):
    for k, v in src.items():
        if k == "tags":
            dst[k] = v
        elif isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        else:
            dst[k] = v
