"""Vertex AI (aiplatform v1): feature online stores and views, feature groups and features,
models, endpoints (deploy, undeploy, mutate, traffic split), and their operations."""

import copy
import re

from .discovery import camel, merge_mask, snake
from .errors import ApiError, already_exists, failed_precondition, invalid, not_found
from .lro import generic_metadata, get_lro, lro_json, new_lro, paginate, stamp, wait_lro
from .registry import handles

P = "aiplatform.projects.locations."
T = "type.googleapis.com/google.cloud.aiplatform.v1."
DELETE_META = T + "DeleteOperationMetadata"

ID_60 = re.compile(r"^[a-z_][a-z0-9_]{0,59}$")
ID_128 = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
MODEL_ID = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")
ENDPOINT_ID = re.compile(r"^(?:[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?|[1-9][0-9]{0,8})$")


def required(*fields):
    """Vertex's shape for missing required fields."""
    msg = "List of found errors:\t" + "".join(
        "%d.Field: %s; Message: Required field is not set.\t" % (i + 1, f) for i, f in enumerate(fields))
    return invalid(msg, field=fields[0])


def _bad(field, message):
    return invalid("List of found errors:\t1.Field: %s; Message: %s\t" % (field, message), field=field)


def _loc(ctx):
    parts = ctx.name.split("/")
    return "/".join(parts[:4])


def _op_id(ctx):
    return ctx.store.digits(19)


def _table(ctx, kind):
    return ctx.store.table("vertex." + kind)


def _lookup(ctx, kind, label, name, touch=True):
    if touch:
        ctx.store.touch(name)
    r = _table(ctx, kind).get(name)
    if r is None:
        raise not_found("%s %s is not found." % (label, name))
    return r


def _pending_create(ctx, name):
    return any(o.extra.get("creates") for o in ctx.store.running_on(name) if o.target == name)


class Kind:
    """A Vertex resource with the standard create/get/list/patch/delete surface."""

    def __init__(self, kind, label, collection, id_param, id_re, parent_kind=None, parent_label=None,
                 children=(), lro_patch=True, meta=None, mutable=None, check=None, fill=None):
        self.kind, self.label, self.collection, self.id_param, self.id_re = kind, label, collection, id_param, id_re
        self.parent_kind, self.parent_label = parent_kind, parent_label
        self.children = children  # kinds deleted with force
        self.lro_patch = lro_patch
        self.meta = meta or label  # metadata type stem
        self.mutable = mutable
        self.check = check
        self.fill = fill

    def resolve_parent(self, ctx, parent):
        if self.parent_kind:
            _lookup(ctx, self.parent_kind, self.parent_label, parent)

    def create(self, ctx, parent, rid, body, metadata_type=None):
        if not rid:
            raise required(snake(self.id_param))
        if not self.id_re.match(rid):
            raise _bad(snake(self.id_param), "%s \"%s\" is invalid: it must match %s."
                       % (snake(self.id_param), rid, self.id_re.pattern))
        self.resolve_parent(ctx, parent)
        name = "%s/%s/%s" % (parent, self.collection, rid)
        if name in _table(ctx, self.kind) or _pending_create(ctx, name):
            raise already_exists("%s %s already exists." % (self.label, name))
        res = copy.deepcopy(body or {})
        if self.check:
            self.check(ctx, res, parent)
        res["name"] = name
        res["etag"] = ctx.store.hex(12)
        stamp(res, created=True)
        if self.fill:
            self.fill(ctx, res)

        def finish():
            _table(ctx, self.kind)[name] = res
            return res

        op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (name, _op_id(ctx)), name, finish,
                     metadata_type or T + "Create%sOperationMetadata" % self.meta, T + self.label,
                     generic_metadata())
        op.extra["creates"] = True
        return op

    def get(self, ctx):
        return _lookup(ctx, self.kind, self.label, ctx.name)

    def list(self, ctx):
        prefix = ctx.name + "/"
        if self.parent_kind:
            self.resolve_parent(ctx, ctx.name.rsplit("/", 1)[0])
        items = [r for n, r in sorted(_table(ctx, self.kind).items())
                 if n.startswith(prefix) and "/" not in n[len(prefix):]]
        return paginate(items, ctx.query, self.collection)

    def patch(self, ctx):
        res = _lookup(ctx, self.kind, self.label, ctx.name)
        body = ctx.body or {}
        mask = ctx.query.get("updateMask")
        if self.mutable is not None:
            for p in (mask.split(",") if mask else [k for k in body if k != "name"]):
                top = camel(p.strip().split(".")[0])
                if top and top not in self.mutable:
                    raise _bad("update_mask", "Field %s cannot be updated; updatable fields: %s."
                               % (snake(top), ", ".join(sorted(snake(m) for m in self.mutable))))
        if body.get("etag") and body["etag"] != res.get("etag"):
            raise ApiError("ABORTED", "The etag of the %s does not match." % self.label)
        new = copy.deepcopy(res)
        merge_mask(new, body, mask)
        if self.check:
            self.check(ctx, new, ctx.name.rsplit("/", 2)[0])

        def apply():
            res.clear()
            res.update(new)
            res["etag"] = ctx.store.hex(12)
            stamp(res)
            return res

        if not self.lro_patch:
            return apply()
        op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (ctx.name, _op_id(ctx)), ctx.name, apply,
                     T + "Update%sOperationMetadata" % self.meta, T + self.label, generic_metadata())
        return lro_json(op)

    def delete(self, ctx, extra_check=None):
        res = _lookup(ctx, self.kind, self.label, ctx.name)
        name = res["name"]
        kids = [(k, n) for k in self.children for n in _table(ctx, k) if n.startswith(name + "/")]
        if kids and not ctx.query.get("force"):
            raise failed_precondition("%s %s has %d child resource(s) (%s); delete them first or set force to true."
                                      % (self.label, name, len(kids), kids[0][1]))
        if extra_check:
            extra_check(res)

        def finish():
            _table(ctx, self.kind).pop(name, None)
            for k, n in kids:
                _table(ctx, k).pop(n, None)
            return None

        op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (_loc(ctx), _op_id(ctx)), name, finish,
                     DELETE_META, None, generic_metadata())
        return lro_json(op)


# ---- feature store (feature online stores, views, groups, features) ---------------------

def _check_store(ctx, res, parent):
    kinds = [k for k in ("bigtable", "optimized") if k in res]
    if len(kinds) != 1:
        raise _bad("feature_online_store.storage_type", "Exactly one of bigtable or optimized must be set.")
    if "bigtable" in res:
        auto = (res["bigtable"] or {}).get("autoScaling")
        if not auto:
            raise required("feature_online_store.bigtable.auto_scaling")
        lo, hi = auto.get("minNodeCount", 0), auto.get("maxNodeCount", 0)
        if lo < 1:
            raise _bad("feature_online_store.bigtable.auto_scaling.min_node_count", "Must be greater than 0.")
        if hi < lo:
            raise _bad("feature_online_store.bigtable.auto_scaling.max_node_count",
                       "Must be greater than or equal to min_node_count.")
        cpu = auto.get("cpuUtilizationTarget")
        if cpu is not None and not (10 <= cpu <= 80):
            raise _bad("feature_online_store.bigtable.auto_scaling.cpu_utilization_target",
                       "Must be between 10 and 80.")


def _fill_store(ctx, res):
    res["state"] = "STABLE"
    if "optimized" in res:
        res["dedicatedServingEndpoint"] = {
            "publicEndpointDomainName": "%s.%s-%s.featurestore.vertexai.goog"
                                        % (ctx.store.digits(10), res["name"].split("/")[3], ctx.store.digits(12))}


def _check_view(ctx, res, parent):
    sources = [k for k in ("bigQuerySource", "featureRegistrySource", "vertexRagSource") if k in res]
    if len(sources) != 1:
        raise _bad("feature_view.source", "Exactly one of big_query_source, feature_registry_source or "
                                          "vertex_rag_source must be set.")
    if "bigQuerySource" in res:
        src = res["bigQuerySource"]
        if not src.get("uri"):
            raise required("feature_view.big_query_source.uri")
        if not src.get("entityIdColumns"):
            raise required("feature_view.big_query_source.entity_id_columns")
    if "featureRegistrySource" in res:
        groups = res["featureRegistrySource"].get("featureGroups") or []
        if not groups:
            raise required("feature_view.feature_registry_source.feature_groups")
        loc = "/".join(parent.split("/")[:4])
        for i, g in enumerate(groups):
            gname = "%s/featureGroups/%s" % (loc, g.get("featureGroupId", ""))
            if gname not in _table(ctx, "featureGroups"):
                raise not_found("FeatureGroup %s is not found." % gname)
            if not g.get("featureIds"):
                raise required("feature_view.feature_registry_source.feature_groups[%d].feature_ids" % i)
            for f in g["featureIds"]:
                fname = "%s/features/%s" % (gname, f)
                if fname not in _table(ctx, "features"):
                    raise not_found("Feature %s is not found." % fname)
    cron = (res.get("syncConfig") or {}).get("cron")
    if cron is not None and len(re.sub(r"^(CRON_TZ|TZ)=\S+\s+", "", cron).split()) != 5:
        raise _bad("feature_view.sync_config.cron", "Invalid cron expression \"%s\"." % cron)


def _check_group(ctx, res, parent):
    bq = res.get("bigQuery")
    if not bq or not (bq.get("bigQuerySource") or {}).get("inputUri"):
        raise required("feature_group.big_query.big_query_source.input_uri")


STORES = Kind("featureOnlineStores", "FeatureOnlineStore", "featureOnlineStores", "featureOnlineStoreId", ID_60,
              children=("featureViews",), mutable={"labels", "bigtable", "dedicatedServingEndpoint", "encryptionSpec"},
              check=_check_store, fill=_fill_store)
VIEWS = Kind("featureViews", "FeatureView", "featureViews", "featureViewId", ID_60,
             parent_kind="featureOnlineStores", parent_label="FeatureOnlineStore",
             mutable={"labels", "serviceAgentType", "bigQuerySource", "featureRegistrySource", "syncConfig",
                      "indexConfig", "optimizedConfig", "vertexRagSource"}, check=_check_view)
GROUPS = Kind("featureGroups", "FeatureGroup", "featureGroups", "featureGroupId", ID_60,
              children=("features",), mutable={"labels", "description", "bigQuery", "serviceAgentType"},
              check=_check_group)
FEATURES = Kind("features", "Feature", "features", "featureId", ID_128,
                parent_kind="featureGroups", parent_label="FeatureGroup",
                mutable={"labels", "description", "disableMonitoring", "pointOfContact", "versionColumnName"})


def _std(kind, prefix):
    @handles(P + prefix + ".create")
    def create(ctx):
        return lro_json(kind.create(ctx, ctx.name.rsplit("/", 1)[0], ctx.query.get(kind.id_param), ctx.body))

    @handles(P + prefix + ".get")
    def get(ctx):
        return kind.get(ctx)

    @handles(P + prefix + ".list")
    def list_(ctx):
        return kind.list(ctx)

    @handles(P + prefix + ".patch")
    def patch(ctx):
        return kind.patch(ctx)

    @handles(P + prefix + ".delete")
    def delete(ctx):
        return kind.delete(ctx)


_std(STORES, "featureOnlineStores")
_std(VIEWS, "featureOnlineStores.featureViews")
_std(GROUPS, "featureGroups")
_std(FEATURES, "featureGroups.features")


@handles(P + "featureGroups.features.batchCreate")
def batch_create_features(ctx):
    group = ctx.name.rsplit("/", 1)[0]
    _lookup(ctx, "featureGroups", "FeatureGroup", group)
    reqs = (ctx.body or {}).get("requests") or []
    if not reqs:
        raise required("requests")
    ids = set()
    made = []
    for i, r in enumerate(reqs):
        if r.get("parent") and r["parent"] != group:
            raise _bad("requests[%d].parent" % i, "Must be empty or %s." % group)
        fid = r.get("featureId")
        if fid in ids:
            raise _bad("requests[%d].feature_id" % i, "Duplicate feature_id \"%s\"." % fid)
        ids.add(fid)
        if not fid:
            raise required("requests[%d].feature_id" % i)
        if not ID_128.match(fid):
            raise _bad("requests[%d].feature_id" % i, "feature_id \"%s\" is invalid." % fid)
        name = "%s/features/%s" % (group, fid)
        if name in _table(ctx, "features"):
            raise already_exists("Feature %s already exists." % name)
        f = copy.deepcopy(r.get("feature") or {})
        f.update({"name": name, "etag": ctx.store.hex(12)})
        stamp(f, created=True)
        made.append(f)

    def finish():
        for f in made:
            _table(ctx, "features")[f["name"]] = f
        return {"features": made}

    op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (group, _op_id(ctx)), group, finish,
                 T + "BatchCreateFeaturesOperationMetadata", T + "BatchCreateFeaturesResponse", generic_metadata())
    return lro_json(op)


# ---- models -----------------------------------------------------------------------------

MODEL_MUTABLE = {"displayName", "description", "labels", "versionAliases", "versionDescription", "explanationSpec",
                 "metadata", "encryptionSpec", "dataStats", "defaultCheckpointId"}


@handles(P + "models.upload")
def upload_model(ctx):
    loc = _loc(ctx)
    body = ctx.body or {}
    model = copy.deepcopy(body.get("model") or {})
    if not body.get("model"):
        raise required("model")
    if not model.get("displayName"):
        raise required("model.display_name")
    spec = model.get("containerSpec")
    if spec is not None and not spec.get("imageUri"):
        raise required("model.container_spec.image_uri")
    parent = body.get("parentModel")
    if parent:
        existing = _lookup(ctx, "models", "Model", parent, touch=False)
        name = parent
        version = str(int(existing["versionId"]) + 1)
    else:
        mid = body.get("modelId") or ctx.store.digits(19)
        if body.get("modelId") and not MODEL_ID.match(mid):
            raise _bad("model_id", "model_id \"%s\" is invalid: up to 63 characters of [a-z0-9_-], not starting "
                                   "with a number or hyphen." % mid)
        name = "%s/models/%s" % (loc, mid)
        if name in _table(ctx, "models") or _pending_create(ctx, name):
            raise already_exists("Model %s already exists." % name)
        version = "1"
    model.update({"name": name, "versionId": version, "etag": ctx.store.hex(12)})
    aliases = model.get("versionAliases") or []
    if version == "1" or "default" in aliases:
        aliases = ["default"] + [a for a in aliases if a != "default"]
    model["versionAliases"] = aliases
    stamp(model, created=True)
    model["versionCreateTime"] = model["versionUpdateTime"] = model["createTime"]
    if spec is not None:
        model["supportedDeploymentResourcesTypes"] = ["DEDICATED_RESOURCES"]

    def finish():
        table = _table(ctx, "models")
        if parent and name in table:
            old = table[name]
            model["createTime"] = old["createTime"]
            model["deployedModels"] = old.get("deployedModels", [])
            if "default" in aliases:
                old_aliases = [a for a in old.get("versionAliases", []) if a != "default"]
                ctx.store.extra.setdefault("model_versions", {}).setdefault(name, []).append(
                    dict(old, versionAliases=old_aliases))
        table[name] = model
        return {"model": name, "modelVersionId": version}

    op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (name, _op_id(ctx)), name, finish,
                 T + "UploadModelOperationMetadata", T + "UploadModelResponse", generic_metadata())
    op.extra["creates"] = not parent
    return lro_json(op)


def _model_name(ctx):
    return ctx.name.split("@")[0]


@handles(P + "models.get")
def get_model(ctx):
    name = _model_name(ctx)
    return _lookup(ctx, "models", "Model", name)


@handles(P + "models.list")
def list_models(ctx):
    prefix = ctx.name + "/"
    return paginate([m for n, m in sorted(_table(ctx, "models").items()) if n.startswith(prefix)], ctx.query,
                    "models")


@handles(P + "models.patch")
def patch_model(ctx):
    m = _lookup(ctx, "models", "Model", _model_name(ctx))
    mask = ctx.query.get("updateMask")
    if not mask:
        raise required("update_mask")
    for p in mask.split(","):
        if camel(p.strip().split(".")[0]) not in MODEL_MUTABLE:
            raise _bad("update_mask", "Field %s cannot be updated." % p.strip())
    merge_mask(m, ctx.body or {}, mask)
    m["etag"] = ctx.store.hex(12)
    stamp(m)
    m["versionUpdateTime"] = m["updateTime"]
    return m


@handles(P + "models.delete")
def delete_model(ctx):
    m = _lookup(ctx, "models", "Model", _model_name(ctx))
    if m.get("deployedModels"):
        raise failed_precondition("The Model \"%s\" is deployed or being deployed at the following Endpoint(s): %s."
                                  % (m["name"], ", ".join(sorted({d["endpoint"] for d in m["deployedModels"]}))))
    name = m["name"]

    def finish():
        _table(ctx, "models").pop(name, None)
        ctx.store.extra.get("model_versions", {}).pop(name, None)

    op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (_loc(ctx), _op_id(ctx)), name, finish,
                 DELETE_META, None, generic_metadata())
    return lro_json(op)


# ---- endpoints --------------------------------------------------------------------------

ENDPOINT_MUTABLE = {"displayName", "description", "labels", "trafficSplit", "predictRequestResponseLoggingConfig",
                    "clientConnectionConfig", "encryptionSpec", "genAiAdvancedFeaturesConfig",
                    "dedicatedEndpointEnabled", "privateServiceConnectConfig"}
# What MutateDeployedModelRequest.deployed_model documents as mutable (v1).
MUTATE_PATHS = {"dedicatedResources.minReplicaCount", "dedicatedResources.maxReplicaCount",
                "dedicatedResources.autoscalingMetricSpecs", "dedicatedResources.requiredReplicaCount",
                "automaticResources.minReplicaCount", "automaticResources.maxReplicaCount",
                "disableContainerLogging", "dedicatedResources", "automaticResources"}
DEPLOYED_ID = re.compile(r"^[0-9]{1,10}$")


def _endpoint(ctx, name=None):
    return _lookup(ctx, "endpoints", "Endpoint", name or "/".join(ctx.name.split("/")[:6]))


def _check_split(split, ids, field, allow_zero_key=False):
    """A traffic split: keys are deployed model ids (or "0" for the one being deployed), the
    percentages are non-negative and add up to 100."""
    for k, v in split.items():
        if not (k in ids or (allow_zero_key and k == "0")):
            raise _bad(field, "DeployedModel with ID \"%s\" is not deployed to the Endpoint." % k)
        if v < 0 or v > 100:
            raise _bad(field, "Traffic percentage must be between 0 and 100, got %d for %s." % (v, k))
    if split and sum(split.values()) != 100:
        raise _bad(field, "The traffic split percentages must add up to 100, got %d." % sum(split.values()))


@handles(P + "endpoints.create")
def create_endpoint(ctx):
    loc = _loc(ctx)
    body = copy.deepcopy(ctx.body or {})
    if not body.get("displayName"):
        raise required("endpoint.display_name")
    eid = ctx.query.get("endpointId")
    if eid is not None and eid != "" and not ENDPOINT_ID.match(eid):
        raise _bad("endpoint_id", "endpoint_id \"%s\" is invalid: up to 63 characters of [a-z0-9-] starting with a "
                                  "letter, or up to 9 digits with no leading zero." % eid)
    eid = eid or ctx.store.digits(19)
    name = "%s/endpoints/%s" % (loc, eid)
    if name in _table(ctx, "endpoints") or _pending_create(ctx, name):
        raise already_exists("Endpoint %s already exists." % name)
    if body.get("trafficSplit"):
        raise _bad("endpoint.traffic_split", "An Endpoint without deployed models cannot have a traffic split.")
    body.update({"name": name, "etag": ctx.store.hex(12), "deployedModels": [], "trafficSplit": {}})
    body.pop("deployedModels")
    stamp(body, created=True)

    def finish():
        _table(ctx, "endpoints")[name] = body
        return body

    meta = generic_metadata()
    meta["deploymentStage"] = "DEPLOYMENT_STAGE_UNSPECIFIED"
    op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (name, _op_id(ctx)), name, finish,
                 T + "CreateEndpointOperationMetadata", T + "Endpoint", meta)
    op.extra["creates"] = True
    return lro_json(op)


@handles(P + "endpoints.get")
def get_endpoint(ctx):
    return _endpoint(ctx)


@handles(P + "endpoints.list")
def list_endpoints(ctx):
    prefix = ctx.name + "/"
    return paginate([e for n, e in sorted(_table(ctx, "endpoints").items()) if n.startswith(prefix)], ctx.query,
                    "endpoints")


@handles(P + "endpoints.patch")
def patch_endpoint(ctx):
    e = _endpoint(ctx)
    mask = ctx.query.get("updateMask")
    if not mask:
        raise required("update_mask")
    body = ctx.body or {}
    for p in mask.split(","):
        if camel(p.strip().split(".")[0]) not in ENDPOINT_MUTABLE:
            raise _bad("update_mask", "Field %s cannot be updated." % p.strip())
    if "trafficSplit" in [camel(p.strip()) for p in mask.split(",")]:
        _check_split(body.get("trafficSplit") or {}, {d["id"] for d in e.get("deployedModels", [])},
                     "endpoint.traffic_split")
    merge_mask(e, body, mask)
    e.setdefault("trafficSplit", {})
    e["etag"] = ctx.store.hex(12)
    stamp(e)
    return e


@handles(P + "endpoints.delete")
def delete_endpoint(ctx):
    e = _endpoint(ctx)
    if e.get("deployedModels") or [o for o in ctx.store.running_on(e["name"]) if o.extra.get("deploys")]:
        raise failed_precondition("The Endpoint \"%s\" has deployed or being deployed DeployedModel(s); undeploy them "
                                  "before deleting the Endpoint." % e["name"])
    name = e["name"]

    def finish():
        _table(ctx, "endpoints").pop(name, None)

    op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (_loc(ctx), _op_id(ctx)), name, finish,
                 DELETE_META, None, generic_metadata())
    return lro_json(op)


def _check_resources(dm):
    kinds = [k for k in ("dedicatedResources", "automaticResources", "sharedResources") if dm.get(k)]
    if len(kinds) != 1:
        raise _bad("deployed_model.prediction_resources",
                   "Exactly one of dedicated_resources, automatic_resources or shared_resources must be set.")
    d = dm.get("dedicatedResources")
    if d:
        spec = d.get("machineSpec") or {}
        if not spec.get("machineType"):
            raise required("deployed_model.dedicated_resources.machine_spec.machine_type")
        if spec.get("acceleratorType", "ACCELERATOR_TYPE_UNSPECIFIED") != "ACCELERATOR_TYPE_UNSPECIFIED" \
                and int(spec.get("acceleratorCount", 0)) < 1:
            raise _bad("deployed_model.dedicated_resources.machine_spec.accelerator_count",
                       "Must be at least 1 when accelerator_type is set.")
        lo, hi = d.get("minReplicaCount", 0), d.get("maxReplicaCount", 0)
        if lo < 1:
            raise _bad("deployed_model.dedicated_resources.min_replica_count", "Must be greater than 0.")
        if hi and hi < lo:
            raise _bad("deployed_model.dedicated_resources.max_replica_count",
                       "Must be greater than or equal to min_replica_count.")
        if not hi:
            d["maxReplicaCount"] = lo


@handles(P + "endpoints.deployModel")
def deploy_model(ctx):
    e = _endpoint(ctx)
    body = ctx.body or {}
    dm = copy.deepcopy(body.get("deployedModel") or {})
    if not body.get("deployedModel"):
        raise required("deployed_model")
    if not dm.get("model"):
        raise required("deployed_model.model")
    model_name = dm["model"].split("@")[0]
    model = _table(ctx, "models").get(model_name)
    if model is None:
        raise not_found("Model %s is not found." % dm["model"])
    _check_resources(dm)
    ids = {d["id"] for d in e.get("deployedModels", [])}
    running = [o for o in ctx.store.running_on(e["name"]) if o.extra.get("deploys")]
    if dm.get("id") and not DEPLOYED_ID.match(dm["id"]):
        raise _bad("deployed_model.id", "DeployedModel id \"%s\" is invalid: 1-10 characters of [0-9]." % dm["id"])
    dm_id = dm.get("id") or ctx.store.digits(19)
    if dm_id in ids or any(o.extra.get("deploys") == dm_id for o in running):
        raise already_exists("DeployedModel with ID \"%s\" already exists in the Endpoint." % dm_id)
    split = body.get("trafficSplit") or {}
    _check_split(split, ids, "traffic_split", allow_zero_key=True)
    dm.update({"id": dm_id, "model": model_name, "modelVersionId": dm["model"].split("@")[1]
               if "@" in dm["model"] else model["versionId"]})
    dm.setdefault("displayName", model.get("displayName", ""))
    name = e["name"]

    def finish():
        e2 = _table(ctx, "endpoints").get(name)
        if e2 is None:
            raise not_found("Endpoint %s is not found." % name)
        stamp(dm, created=True)
        dm.pop("updateTime", None)
        e2.setdefault("deployedModels", []).append(dm)
        if split:
            e2["trafficSplit"] = {(dm_id if k == "0" else k): v for k, v in split.items()}
        e2["etag"] = ctx.store.hex(12)
        stamp(e2)
        m = _table(ctx, "models").get(model_name)
        if m is not None:
            m.setdefault("deployedModels", []).append({"endpoint": name, "deployedModelId": dm_id})
        return {"deployedModel": dm}

    meta = generic_metadata()
    meta["deploymentStage"] = "PREPARING_MODEL"
    op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (name, _op_id(ctx)), name, finish,
                 T + "DeployModelOperationMetadata", T + "DeployModelResponse", meta)
    op.extra["deploys"] = dm_id
    if op.done:
        op.extra["metadata"]["deploymentStage"] = "FAILED_TO_DEPLOY" if op.error else "SUCCESSFULLY_DEPLOYED"
    else:
        orig = op.finish

        def staged():
            try:
                r = orig()
                op.extra["metadata"]["deploymentStage"] = "SUCCESSFULLY_DEPLOYED"
                return r
            except ApiError:
                op.extra["metadata"]["deploymentStage"] = "FAILED_TO_DEPLOY"
                raise
        op.finish = staged
        op.extra["on_error"] = lambda err: op.extra["metadata"].__setitem__("deploymentStage", "FAILED_TO_DEPLOY")
    return lro_json(op)


@handles(P + "endpoints.undeployModel")
def undeploy_model(ctx):
    e = _endpoint(ctx)
    body = ctx.body or {}
    dm_id = body.get("deployedModelId")
    if not dm_id:
        raise required("deployed_model_id")
    deployed = {d["id"]: d for d in e.get("deployedModels", [])}
    if dm_id not in deployed:
        raise not_found("DeployedModel with ID \"%s\" is not found in Endpoint %s." % (dm_id, e["name"]))
    remaining = set(deployed) - {dm_id}
    split = body.get("trafficSplit")
    current = e.get("trafficSplit") or {}
    if split:
        if split.get(dm_id, 0) > 0:
            raise failed_precondition("The traffic_split assigns %d%% of the traffic to DeployedModel %s, which is "
                                      "being undeployed." % (split[dm_id], dm_id))
        _check_split({k: v for k, v in split.items() if k != dm_id}, remaining, "traffic_split")
    elif current.get(dm_id, 0) > 0 and remaining:
        raise failed_precondition(
            "DeployedModel %s has %d%% of the Endpoint's traffic; it can be undeployed only when no traffic is "
            "assigned to it: give a traffic_split that moves its traffic to other DeployedModels."
            % (dm_id, current[dm_id]))
    name = e["name"]

    def finish():
        e2 = _table(ctx, "endpoints").get(name)
        if e2 is None:
            raise not_found("Endpoint %s is not found." % name)
        dm = next((d for d in e2["deployedModels"] if d["id"] == dm_id), None)
        e2["deployedModels"] = [d for d in e2["deployedModels"] if d["id"] != dm_id]
        if not e2["deployedModels"]:
            e2["trafficSplit"] = {}
        elif split:
            e2["trafficSplit"] = {k: v for k, v in split.items() if k != dm_id}
        else:
            e2["trafficSplit"] = {k: v for k, v in (e2.get("trafficSplit") or {}).items() if k != dm_id}
        e2["etag"] = ctx.store.hex(12)
        stamp(e2)
        if dm is not None:
            m = _table(ctx, "models").get(dm["model"])
            if m is not None:
                m["deployedModels"] = [r for r in m.get("deployedModels", [])
                                       if not (r["endpoint"] == name and r["deployedModelId"] == dm_id)]
                if not m["deployedModels"]:
                    del m["deployedModels"]
        return {}

    op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (name, _op_id(ctx)), name, finish,
                 T + "UndeployModelOperationMetadata", T + "UndeployModelResponse", generic_metadata())
    return lro_json(op)


@handles(P + "endpoints.mutateDeployedModel")
def mutate_deployed_model(ctx):
    e = _endpoint(ctx)
    body = ctx.body or {}
    dm = body.get("deployedModel") or {}
    if not dm.get("id"):
        raise required("deployed_model.id")
    mask = body.get("updateMask")
    if not mask:
        raise required("update_mask")
    paths = [".".join(camel(x) for x in p.strip().split(".")) for p in mask.split(",") if p.strip()]
    for p in paths:
        if p not in MUTATE_PATHS:
            raise _bad("update_mask", "Field %s cannot be mutated; mutable: %s." % (
                p, ", ".join(sorted(MUTATE_PATHS - {"dedicatedResources", "automaticResources"}))))
    current = next((d for d in e.get("deployedModels", []) if d["id"] == dm["id"]), None)
    if current is None:
        raise not_found("DeployedModel with ID \"%s\" is not found in Endpoint %s." % (dm["id"], e["name"]))
    new = copy.deepcopy(current)
    merge_mask(new, dm, ",".join(paths))
    if new.get("dedicatedResources"):
        _check_resources(new)
    name = e["name"]

    def finish():
        current.clear()
        current.update(new)
        stamp(_table(ctx, "endpoints")[name])
        return {"deployedModel": current}

    op = new_lro(ctx, "aiplatform", "%s/operations/%s" % (name, _op_id(ctx)), name, finish,
                 T + "MutateDeployedModelOperationMetadata", T + "MutateDeployedModelResponse", generic_metadata())
    return lro_json(op)


# ---- operations -------------------------------------------------------------------------

OP_PARENTS = ["", "endpoints.", "models.", "featureOnlineStores.", "featureOnlineStores.featureViews.",
              "featureGroups.", "featureGroups.features."]
for _p in OP_PARENTS:
    handles(P + _p + "operations.get")(lambda ctx: get_lro(ctx, "aiplatform"))
    handles(P + _p + "operations.wait")(lambda ctx: wait_lro(ctx, "aiplatform"))
