"""GKE: container v1, `projects/{p}/locations/{l}/clusters`, node pools and operations.

Mutations answer a container v1 `Operation` (not a google.longrunning one): PENDING or
RUNNING, then DONE after the configured number of polls. While an operation runs on a
cluster (or one of its node pools), any other mutating call on that cluster is refused with
400 FAILED_PRECONDITION, as GKE does.
"""

import copy
import re
import time

from .errors import ApiError, already_exists, failed_precondition, invalid, not_found
from .registry import handles
from .state import now_rfc3339

P = "container.projects.locations."
CLUSTERS = "gke.clusters"
DEFAULT_VERSION = "1.33.5-gke.1201000"
NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
LOCATION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+(?:-[a-z])?$")

# Machine families with fixed GPUs, and the accelerator types GKE accepts on them. Other
# families are not checked (GKE adds new ones; the double should not refuse them).
GPU_FAMILIES = {
    "n1": {"nvidia-tesla-t4", "nvidia-tesla-v100", "nvidia-tesla-p100", "nvidia-tesla-p4"},
    "a2": {"nvidia-tesla-a100", "nvidia-a100-80gb"},
    "a3": {"nvidia-h100-80gb", "nvidia-h100-mega-80gb", "nvidia-h200-141gb"},
    "g2": {"nvidia-l4"},
}
NO_GPU_FAMILIES = {"e2", "n2", "n2d", "c2", "c2d", "c3", "t2d", "t2a", "m1", "m2", "m3"}
# Multi-instance GPU partition sizes by accelerator type (GKE's documented MIG profiles).
MIG_SIZES = {
    "nvidia-tesla-a100": {"1g.5gb", "2g.10gb", "3g.20gb", "7g.40gb"},
    "nvidia-a100-80gb": {"1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"},
    "nvidia-h100-80gb": {"1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"},
    "nvidia-h100-mega-80gb": {"1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"},
}


def _clusters(store):
    return store.table(CLUSTERS)


def _parent(ctx):
    """projects/{p}/locations/{l} from the path, validated."""
    parts = ctx.name.split("/")
    project, location = parts[1], parts[3]
    if location != "-" and not LOCATION_RE.match(location):
        raise invalid("Location \"%s\" is not a valid GCP region or zone." % location, field="parent")
    return project, location


def _link(ctx, name):
    return "%s/v1/%s" % (ctx.base_url, name)


def _cluster_name(ctx):
    parts = ctx.name.split("/")
    return "/".join(parts[:6])


def _get_cluster(ctx, name=None):
    name = name or _cluster_name(ctx)
    c = _clusters(ctx.store).get(name)
    if c is None:
        raise not_found("Not found: %s." % name)
    return c


def _get_pool(ctx, cluster):
    pool_id = ctx.name.split("/")[7]
    for np in cluster["nodePools"]:
        if np["name"] == pool_id:
            return np
    raise not_found("Not found: %s." % "/".join(ctx.name.split("/")[:8]))


def _busy(ctx, cluster_name):
    running = ctx.store.running_on(cluster_name)
    if running:
        raise failed_precondition("Cluster is running incompatible operation %s." % running[0].name.rsplit("/", 1)[-1])


def _op_json(ctx, op):
    out = {
        "name": op.name.rsplit("/", 1)[-1],
        "zone": op.extra["location"],
        "operationType": op.extra["type"],
        "status": "DONE" if op.done else ("PENDING" if op.polls == 0 and op.extra.get("pending") else "RUNNING"),
        "selfLink": _link(ctx, op.name),
        "targetLink": _link(ctx, op.target),
        "location": op.extra["location"],
        "startTime": op.start_time,
    }
    if op.done:
        out["endTime"] = op.end_time
        out["progress"] = {"status": "DONE"}
    else:
        out["progress"] = {"status": "RUNNING"}
    if op.error is not None:
        out["error"] = op.error.rpc_status()
        out["statusMessage"] = op.error.message
        out["detail"] = op.error.message
        cond = {"code": "GCE_STOCKOUT" if op.error.status == "RESOURCE_EXHAUSTED" else "UNKNOWN",
                "message": op.error.message, "canonicalCode": op.error.status}
        if op.extra["type"] in ("CREATE_NODE_POOL",):
            out["nodepoolConditions"] = [cond]
        else:
            out["clusterConditions"] = [cond]
    return out


def _new_op(ctx, location, optype, target, finish, on_error=None, fault=None):
    project = ctx.name.split("/")[1]
    op_id = "operation-%d-%s" % (int(time.time() * 1000), ctx.store.hex(8))
    name = "projects/%s/locations/%s/operations/%s" % (project, location, op_id)
    op = ctx.store.new_operation("container", name, target, finish, "gke",
                                 {"location": location, "type": optype, "on_error": on_error})
    if fault is not None:
        op.forced_error = _fault_error(fault, location)
    return op


def _fault_error(fault, location):
    if fault.fault == "ZONE_RESOURCE_POOL_EXHAUSTED":
        zone = location if location.count("-") == 2 else location + "-a"
        msg = fault.spec.get("message") or (
            "Deploy error: Not all instances running in IGM after 5m0s. Expected 1, running 0, transitioning 1. "
            "Current errors: [ZONE_RESOURCE_POOL_EXHAUSTED]: Instance 'gke-node-0' creation failed: The zone "
            "'projects/demo/zones/%s' does not have enough resources available to fulfill the request. "
            "Try a different zone, or try again later." % zone)
        return ApiError("RESOURCE_EXHAUSTED", msg)
    e = fault.spec.get("error") or {}
    return ApiError(e.get("status", "INTERNAL"), e.get("message", "Operation failed."))


def _answer(ctx, op):
    return _op_json(ctx, op)


# ---- validation -------------------------------------------------------------------------

def _check_node_pool(np, where):
    name = np.get("name")
    if not name:
        raise invalid("%s.name must be specified." % where, field=where + ".name")
    if not NAME_RE.match(name):
        raise invalid("Invalid value for field '%s.name': '%s'. Must be a match of regex "
                      "'(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)' (only alphanumerics and '-' allowed, must start "
                      "with a letter and end with an alphanumeric, and must be no longer than 40 characters)."
                      % (where, name), field=where + ".name")
    if np.get("initialNodeCount", 0) < 0:
        raise invalid("%s.initial_node_count must be non-negative." % where, field=where + ".initial_node_count")
    _check_autoscaling(np.get("autoscaling"), where + ".autoscaling")
    _check_config(np.get("config") or {}, where + ".config")


def _check_autoscaling(a, where):
    if not a:
        return
    lo, hi = a.get("minNodeCount", 0), a.get("maxNodeCount", 0)
    tlo, thi = a.get("totalMinNodeCount", 0), a.get("totalMaxNodeCount", 0)
    if lo < 0 or hi < 0 or tlo < 0 or thi < 0:
        raise invalid("%s: node counts must be non-negative." % where, field=where)
    if (lo or hi) and (tlo or thi):
        raise invalid("%s: per zone limits (min_node_count, max_node_count) and total limits "
                      "(total_min_node_count, total_max_node_count) cannot be used together." % where, field=where)
    if a.get("enabled"):
        if lo > hi or tlo > thi:
            raise invalid("%s: minimum node count cannot be greater than its maximum node count." % where,
                          field=where)
        if not hi and not thi:
            raise invalid("%s: max_node_count must be greater than 0 when autoscaling is enabled." % where,
                          field=where)


def _check_config(cfg, where):
    if cfg.get("spot") and cfg.get("preemptible"):
        raise invalid("%s: spot and preemptible cannot be set together." % where, field=where + ".spot")
    machine = cfg.get("machineType", "e2-medium")
    family = machine.split("-")[0]
    for i, acc in enumerate(cfg.get("accelerators") or []):
        w = "%s.accelerators[%d]" % (where, i)
        atype = acc.get("acceleratorType")
        count = int(acc.get("acceleratorCount", "0"))
        if not atype:
            raise invalid("%s.accelerator_type must be specified." % w, field=w + ".accelerator_type")
        if count <= 0:
            raise invalid("%s.accelerator_count must be greater than 0." % w, field=w + ".accelerator_count")
        if family in NO_GPU_FAMILIES:
            raise invalid("Accelerator type \"%s\" is not supported with machine type \"%s\"." % (atype, machine),
                          field=w + ".accelerator_type")
        if family in GPU_FAMILIES and atype in set().union(*GPU_FAMILIES.values()) \
                and atype not in GPU_FAMILIES[family]:
            raise invalid("Accelerator type \"%s\" is not supported with machine type \"%s\"." % (atype, machine),
                          field=w + ".accelerator_type")
        m = re.search(r"-(\d+)g$", machine)
        if family in ("a2", "a3") and m and int(m.group(1)) != count:
            raise invalid("Machine type \"%s\" comes with %s accelerators, but %d were requested."
                          % (machine, m.group(1), count), field=w + ".accelerator_count")
        part = acc.get("gpuPartitionSize")
        if part and atype in MIG_SIZES and part not in MIG_SIZES[atype]:
            raise invalid("GPU partition size \"%s\" is not supported for accelerator type \"%s\"; supported: %s."
                          % (part, atype, ", ".join(sorted(MIG_SIZES[atype]))), field=w + ".gpu_partition_size")
        if part and atype not in MIG_SIZES and atype in set().union(*GPU_FAMILIES.values()):
            raise invalid("GPU partitioning is not supported for accelerator type \"%s\"." % atype,
                          field=w + ".gpu_partition_size")
        share = acc.get("gpuSharingConfig")
        if share:
            strategy = share.get("gpuSharingStrategy", "GPU_SHARING_STRATEGY_UNSPECIFIED")
            clients = int(share.get("maxSharedClientsPerGpu", "0"))
            if strategy == "GPU_SHARING_STRATEGY_UNSPECIFIED":
                raise invalid("%s.gpu_sharing_config.gpu_sharing_strategy must be specified." % w,
                              field=w + ".gpu_sharing_config.gpu_sharing_strategy")
            if clients < 2 or clients > 48:
                raise invalid("%s.gpu_sharing_config.max_shared_clients_per_gpu must be between 2 and 48, got %d."
                              % (w, clients), field=w + ".gpu_sharing_config.max_shared_clients_per_gpu")
    for i, t in enumerate(cfg.get("taints") or []):
        if not t.get("key"):
            raise invalid("%s.taints[%d].key must be specified." % (where, i), field="%s.taints[%d].key" % (where, i))
        if t.get("effect", "EFFECT_UNSPECIFIED") == "EFFECT_UNSPECIFIED":
            raise invalid("%s.taints[%d].effect must be specified." % (where, i),
                          field="%s.taints[%d].effect" % (where, i))


def _default_locations(location):
    if location.count("-") == 2:
        return [location]
    return [location + "-a", location + "-b", location + "-c"]


def _fill_pool(ctx, cluster_name, location, np, version):
    np = copy.deepcopy(np)
    cfg = np.setdefault("config", {})
    cfg.setdefault("machineType", "e2-medium")
    cfg.setdefault("diskSizeGb", 100)
    cfg.setdefault("diskType", "pd-balanced")
    cfg.setdefault("imageType", "COS_CONTAINERD")
    cfg.setdefault("serviceAccount", "default")
    cfg.setdefault("oauthScopes", ["https://www.googleapis.com/auth/cloud-platform"])
    np.setdefault("initialNodeCount", 0 if np.get("autoscaling", {}).get("enabled") else 3)
    np.setdefault("locations", _default_locations(location))
    np.setdefault("management", {"autoUpgrade": True, "autoRepair": True})
    np.setdefault("upgradeSettings", {"maxSurge": 1, "strategy": "SURGE"})
    np["version"] = np.get("version") or version
    np["status"] = "PROVISIONING"
    np["selfLink"] = _link(ctx, "%s/nodePools/%s" % (cluster_name, np["name"]))
    np["etag"] = ctx.store.hex(16)
    np["podIpv4CidrSize"] = 24
    np["instanceGroupUrls"] = []
    return np


def _count(cluster):
    return sum(len(np.get("locations") or [1]) * int(np.get("_size", np.get("initialNodeCount", 0)))
               for np in cluster["nodePools"])


def public(cluster):
    """A cluster as the API shows it (private bookkeeping removed)."""
    c = copy.deepcopy(cluster)
    for np in c.get("nodePools", []):
        np.pop("_size", None)
    c["currentNodeCount"] = _count(cluster)
    return c


# ---- clusters ---------------------------------------------------------------------------

@handles(P + "clusters.create")
def create_cluster(ctx):
    project, location = _parent(ctx)
    body = ctx.body or {}
    cluster = body.get("cluster")
    if not cluster:
        raise invalid("Cluster.name must be specified.", field="cluster")
    name = cluster.get("name")
    if not name:
        raise invalid("Cluster.name must be specified.", field="cluster.name")
    if not NAME_RE.match(name):
        raise invalid("Invalid value for field 'cluster.name': '%s'. Must be a match of regex "
                      "'(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)' (only alphanumerics and '-' allowed, must start "
                      "with a letter and end with an alphanumeric, and must be no longer than 40 characters)."
                      % name, field="cluster.name")
    if location == "-":
        raise invalid("Location \"-\" is not a valid location for creating a cluster.", field="parent")
    full = "projects/%s/locations/%s/clusters/%s" % (project, location, name)
    if full in _clusters(ctx.store):
        raise already_exists("Already exists: %s." % full)
    pools = cluster.get("nodePools") or []
    autopilot = (cluster.get("autopilot") or {}).get("enabled")
    if pools and cluster.get("initialNodeCount"):
        raise invalid("Cluster.initial_node_count and Cluster.node_pools are mutually exclusive.",
                      field="cluster.initial_node_count")
    if cluster.get("nodeConfig") and pools:
        raise invalid("Cluster.node_config and Cluster.node_pools are mutually exclusive.",
                      field="cluster.node_config")
    if not pools and not autopilot:
        if not cluster.get("initialNodeCount"):
            raise invalid("Cluster.initial_node_count must be greater than zero.", field="cluster.initial_node_count")
        pools = [{"name": "default-pool", "initialNodeCount": cluster["initialNodeCount"],
                  "config": cluster.get("nodeConfig") or {}}]
    seen = set()
    for i, np in enumerate(pools):
        _check_node_pool(np, "cluster.node_pools[%d]" % i)
        if np["name"] in seen:
            raise invalid("Node pool names must be unique: \"%s\" appears twice." % np["name"],
                          field="cluster.node_pools[%d].name" % i)
        seen.add(np["name"])
    version = cluster.get("initialClusterVersion") or DEFAULT_VERSION
    if version in ("latest", "-"):
        version = DEFAULT_VERSION
    c = copy.deepcopy(cluster)
    c.pop("initialNodeCount", None)
    c.pop("nodeConfig", None)
    c.update({
        "location": location, "zone": location,
        "selfLink": _link(ctx, full),
        "status": "PROVISIONING",
        "createTime": now_rfc3339(),
        "currentMasterVersion": version, "currentNodeVersion": version,
        "initialClusterVersion": cluster.get("initialClusterVersion") or version,
        "endpoint": "34.%d.%d.%d" % (ctx.store.rng.randint(0, 255), ctx.store.rng.randint(0, 255),
                                     ctx.store.rng.randint(1, 254)),
        "id": ctx.store.hex(32),
        "etag": ctx.store.hex(16),
        "labelFingerprint": ctx.store.hex(8),
        "servicesIpv4Cidr": "34.118.224.0/20",
        "clusterIpv4Cidr": c.get("clusterIpv4Cidr") or "10.%d.0.0/14" % (ctx.store.rng.randint(0, 63) * 4),
    })
    c.setdefault("network", "default")
    c.setdefault("subnetwork", "default")
    c.setdefault("loggingService", "logging.googleapis.com/kubernetes")
    c.setdefault("monitoringService", "monitoring.googleapis.com/kubernetes")
    c.setdefault("locations", _default_locations(location))
    c.setdefault("releaseChannel", {"channel": "REGULAR"})
    c["nodePools"] = [_fill_pool(ctx, full, location, np, version) for np in pools]
    _clusters(ctx.store)[full] = c

    def finish():
        c["status"] = "RUNNING"
        for np in c["nodePools"]:
            np["status"] = "RUNNING"
        return None

    def on_error(err):
        c["status"] = "ERROR"
        c["statusMessage"] = err.message
        c["conditions"] = [{"code": "GCE_STOCKOUT", "message": err.message, "canonicalCode": err.status}]
        for np in c["nodePools"]:
            np["status"] = "ERROR"
            np["statusMessage"] = err.message

    op = _new_op(ctx, location, "CREATE_CLUSTER", full, finish, on_error, ctx.operation_fault())
    return _answer(ctx, op)


@handles(P + "clusters.get")
def get_cluster(ctx):
    name = _cluster_name(ctx)
    ctx.store.touch(name, children=True)
    return public(_get_cluster(ctx, name))


@handles(P + "clusters.list")
def list_clusters(ctx):
    project, location = _parent(ctx)
    out = []
    for name, c in sorted(_clusters(ctx.store).items()):
        if name.split("/")[1] == project and (location == "-" or c["location"] == location):
            out.append(public(c))
    return {"clusters": out} if out else {}


@handles(P + "clusters.delete")
def delete_cluster(ctx):
    name = _cluster_name(ctx)
    c = _get_cluster(ctx, name)
    _busy(ctx, name)
    c["status"] = "STOPPING"
    for np in c["nodePools"]:
        np["status"] = "STOPPING"

    def finish():
        _clusters(ctx.store).pop(name, None)

    op = _new_op(ctx, c["location"], "DELETE_CLUSTER", name, finish, fault=ctx.operation_fault())
    return _answer(ctx, op)


def _apply_cluster_update(c, upd):
    for key, value in upd.items():
        if key in ("desiredNodePoolId", "etag") or value is None:
            continue
        if key == "desiredMasterVersion":
            c["currentMasterVersion"] = DEFAULT_VERSION if value in ("latest", "-") else value
        elif key == "desiredNodeVersion":
            v = c["currentMasterVersion"] if value in ("latest", "-") else value
            c["currentNodeVersion"] = v
            for np in c["nodePools"]:
                if not upd.get("desiredNodePoolId") or np["name"] == upd["desiredNodePoolId"]:
                    np["version"] = v
        elif key == "desiredNodePoolAutoscaling":
            for np in c["nodePools"]:
                if np["name"] == upd.get("desiredNodePoolId"):
                    np["autoscaling"] = value
        elif key == "desiredImageType":
            for np in c["nodePools"]:
                if not upd.get("desiredNodePoolId") or np["name"] == upd["desiredNodePoolId"]:
                    np["config"]["imageType"] = value
        elif key.startswith("desired"):
            field = key[len("desired"):]
            field = field[:1].lower() + field[1:]
            c[field] = value


@handles(P + "clusters.update")
def update_cluster(ctx):
    name = _cluster_name(ctx)
    c = _get_cluster(ctx, name)
    upd = (ctx.body or {}).get("update")
    if not upd:
        raise invalid("Cluster.update must be specified and must not be empty.", field="update")
    if "desiredNodePoolAutoscaling" in upd:
        if not upd.get("desiredNodePoolId"):
            raise invalid("desired_node_pool_id must be specified with desired_node_pool_autoscaling.",
                          field="update.desired_node_pool_id")
        if not any(np["name"] == upd["desiredNodePoolId"] for np in c["nodePools"]):
            raise not_found("Not found: %s/nodePools/%s." % (name, upd["desiredNodePoolId"]))
        _check_autoscaling(upd["desiredNodePoolAutoscaling"], "update.desired_node_pool_autoscaling")
    _busy(ctx, name)
    c["status"] = "RECONCILING"
    optype = "UPGRADE_MASTER" if "desiredMasterVersion" in upd else (
        "UPGRADE_NODES" if "desiredNodeVersion" in upd else "UPDATE_CLUSTER")

    def finish():
        _apply_cluster_update(c, upd)
        c["status"] = "RUNNING"
        c["etag"] = ctx.store.hex(16)

    def on_error(err):
        c["status"] = "RUNNING"

    op = _new_op(ctx, c["location"], optype, name, finish, on_error, ctx.operation_fault())
    return _answer(ctx, op)


@handles(P + "clusters.setResourceLabels")
def set_labels(ctx):
    name = _cluster_name(ctx)
    c = _get_cluster(ctx, name)
    body = ctx.body or {}
    fp = body.get("labelFingerprint")
    if fp and fp != c.get("labelFingerprint"):
        raise failed_precondition("Labels could not be set due to fingerprint mismatch. Expected fingerprint %s, "
                                  "got %s." % (c.get("labelFingerprint"), fp))
    _busy(ctx, name)

    def finish():
        c["resourceLabels"] = body.get("resourceLabels") or {}
        c["labelFingerprint"] = ctx.store.hex(8)

    op = _new_op(ctx, c["location"], "SET_LABELS", name, finish, fault=ctx.operation_fault())
    return _answer(ctx, op)


# ---- node pools -------------------------------------------------------------------------

@handles(P + "clusters.nodePools.create")
def create_node_pool(ctx):
    cname = _cluster_name(ctx)
    c = _get_cluster(ctx, cname)
    np = (ctx.body or {}).get("nodePool")
    if not np:
        raise invalid("NodePool must be specified.", field="node_pool")
    _check_node_pool(np, "node_pool")
    if any(p["name"] == np["name"] for p in c["nodePools"]):
        raise already_exists("Already exists: %s/nodePools/%s." % (cname, np["name"]))
    if c["status"] in ("STOPPING", "ERROR"):
        raise failed_precondition("Cluster %s is in status %s." % (c["name"], c["status"]))
    _busy(ctx, cname)
    pool = _fill_pool(ctx, cname, c["location"], np, c["currentNodeVersion"])
    c["nodePools"].append(pool)
    c["status"] = "RECONCILING"
    target = "%s/nodePools/%s" % (cname, pool["name"])

    def finish():
        pool["status"] = "RUNNING"
        c["status"] = "RUNNING"

    def on_error(err):
        pool["status"] = "ERROR"
        pool["statusMessage"] = err.message
        pool["conditions"] = [{"code": "GCE_STOCKOUT" if err.status == "RESOURCE_EXHAUSTED" else "UNKNOWN",
                               "message": err.message, "canonicalCode": err.status}]
        c["status"] = "RUNNING"

    op = _new_op(ctx, c["location"], "CREATE_NODE_POOL", target, finish, on_error, ctx.operation_fault())
    return _answer(ctx, op)


@handles(P + "clusters.nodePools.get")
def get_node_pool(ctx):
    c = _get_cluster(ctx)
    name = "/".join(ctx.name.split("/")[:8])
    ctx.store.touch(name)
    np = copy.deepcopy(_get_pool(ctx, c))
    np.pop("_size", None)
    return np


@handles(P + "clusters.nodePools.list")
def list_node_pools(ctx):
    c = _get_cluster(ctx)
    pools = []
    for np in c["nodePools"]:
        np = copy.deepcopy(np)
        np.pop("_size", None)
        pools.append(np)
    return {"nodePools": pools} if pools else {}


@handles(P + "clusters.nodePools.delete")
def delete_node_pool(ctx):
    cname = _cluster_name(ctx)
    c = _get_cluster(ctx, cname)
    np = _get_pool(ctx, c)
    _busy(ctx, cname)
    np["status"] = "STOPPING"
    c["status"] = "RECONCILING"
    target = "%s/nodePools/%s" % (cname, np["name"])

    def finish():
        c["nodePools"] = [p for p in c["nodePools"] if p is not np]
        c["status"] = "RUNNING"

    op = _new_op(ctx, c["location"], "DELETE_NODE_POOL", target, finish, fault=ctx.operation_fault())
    return _answer(ctx, op)


WRAPPED = {"labels": "labels", "taints": "taints", "resourceLabels": "labels", "tags": "tags",
           "resourceManagerTags": None}
REQUEST_ONLY = {"name", "projectId", "zone", "clusterId", "nodePoolId", "etag", "nodeVersion", "locations",
                "upgradeSettings", "queuedProvisioning", "nodeDrainConfig", "maintenancePolicy",
                "nodeConfigUpdateMode", "imageProject", "image"}


def _pool_mutation(ctx, optype, apply, check=None):
    cname = _cluster_name(ctx)
    c = _get_cluster(ctx, cname)
    np = _get_pool(ctx, c)
    if check:
        check(np)
    _busy(ctx, cname)
    np["status"] = "RECONCILING"
    target = "%s/nodePools/%s" % (cname, np["name"])

    def finish():
        apply(c, np)
        np["status"] = "RUNNING"
        np["etag"] = ctx.store.hex(16)

    def on_error(err):
        np["status"] = "RUNNING"

    op = _new_op(ctx, c["location"], optype, target, finish, on_error, ctx.operation_fault())
    return _answer(ctx, op)


@handles(P + "clusters.nodePools.update")
def update_node_pool(ctx):
    body = ctx.body or {}
    node_config_fields = set(ctx.disc.apis["container"].schemas["NodeConfig"]["properties"])

    def check(np):
        if body.get("etag") and body["etag"] != np.get("etag"):
            raise ApiError("ABORTED", "Node pool etag mismatch: the node pool was changed since it was read.")
        cfg = copy.deepcopy(np.get("config") or {})
        cfg.update(_config_changes(body, node_config_fields))
        _check_config(cfg, "node_pool.config")

    def apply(c, np):
        if body.get("nodeVersion"):
            np["version"] = c["currentMasterVersion"] if body["nodeVersion"] in ("-", "latest") else body["nodeVersion"]
        for k in ("locations", "upgradeSettings", "queuedProvisioning", "nodeDrainConfig", "maintenancePolicy"):
            if k in body:
                np[k] = body[k]
        np.setdefault("config", {}).update(_config_changes(body, node_config_fields))

    return _pool_mutation(ctx, "UPGRADE_NODES", apply, check)


def _config_changes(body, node_config_fields):
    out = {}
    for k, v in body.items():
        if k in REQUEST_ONLY or v is None:
            continue
        if k in WRAPPED and isinstance(v, dict):
            inner = WRAPPED[k]
            v = v.get(inner) if inner else v
            if k == "tags":
                out["tags"] = v or []
                continue
            out[k] = v if v is not None else ({} if k != "taints" else [])
        elif k in node_config_fields:
            out[k] = v
        elif k == "accelerators":
            out[k] = v
    return out


@handles(P + "clusters.nodePools.setAutoscaling")
def set_autoscaling(ctx):
    a = (ctx.body or {}).get("autoscaling") or {}

    def check(np):
        _check_autoscaling(a, "autoscaling")

    def apply(c, np):
        np["autoscaling"] = a

    return _pool_mutation(ctx, "UPDATE_CLUSTER", apply, check)


@handles(P + "clusters.nodePools.setSize")
def set_size(ctx):
    n = (ctx.body or {}).get("nodeCount")
    if n is None or n < 0:
        raise invalid("node_count must be specified and non-negative.", field="node_count")

    def apply(c, np):
        np["_size"] = n

    return _pool_mutation(ctx, "SET_NODE_POOL_SIZE", apply)


@handles(P + "clusters.nodePools.setManagement")
def set_management(ctx):
    m = (ctx.body or {}).get("management") or {}

    def apply(c, np):
        np["management"] = m

    return _pool_mutation(ctx, "SET_NODE_POOL_MANAGEMENT", apply)


# ---- operations -------------------------------------------------------------------------

@handles(P + "operations.get")
def get_operation(ctx):
    op = ctx.store.operations.get(ctx.name)
    if op is None or op.api != "container":
        raise not_found("Not found: %s." % ctx.name)
    op.poll()
    return _op_json(ctx, op)


@handles(P + "operations.list")
def list_operations(ctx):
    parts = ctx.name.split("/")
    project, location = parts[1], parts[3]
    ops = []
    for op in ctx.store.operations.values():
        if op.api != "container":
            continue
        p = op.name.split("/")
        if p[1] == project and (location == "-" or p[3] == location):
            ops.append(_op_json(ctx, op))
    return {"operations": ops} if ops else {}


@handles(P + "operations.cancel")
def cancel_operation(ctx):
    op = ctx.store.operations.get(ctx.name)
    if op is None or op.api != "container":
        raise not_found("Not found: %s." % ctx.name)
    raise failed_precondition("Operation %s cannot be cancelled." % op.name.rsplit("/", 1)[-1])


@handles(P + "getServerConfig")
def server_config(ctx):
    return {"defaultClusterVersion": DEFAULT_VERSION, "validMasterVersions": [DEFAULT_VERSION],
            "validNodeVersions": [DEFAULT_VERSION], "defaultImageType": "COS_CONTAINERD",
            "validImageTypes": ["COS_CONTAINERD", "UBUNTU_CONTAINERD"],
            "channels": [{"channel": c, "defaultVersion": DEFAULT_VERSION, "validVersions": [DEFAULT_VERSION]}
                         for c in ("RAPID", "REGULAR", "STABLE")]}
