"""moto, plus the AWS operations moto 5.1.22 lacks, for mlinfra's tests.

Started by ./scripts/test exactly like `moto_server` (`-H HOST -p PORT`). Everything moto
implements is served by moto unchanged; this file adds, following the AWS API
references, the operations mlinfra calls that moto does not implement or answers
differently from AWS:

SageMaker (https://docs.aws.amazon.com/sagemaker/latest/APIReference/):
  - DeleteModelPackageGroup.
  - DeleteModel of a model that is not there answers a JSON ValidationException ("Could
    not find model"), as SageMaker does (moto answers an XML body to a JSON client).
  - CreateFeatureGroup keeps OnlineStoreConfig and Description and accepts a group without
    an offline store; DescribeFeatureGroup returns them, answers ResourceNotFound for an
    unknown group (moto fails with a server error), and reports "Creating" on the first
    describe after a create, as AWS does while the group is being created.
  - UpdateFeatureGroup (FeatureAdditions, OnlineStoreConfig.TtlDuration) with the
    documented validation: additions must be new names, TTL needs an online store.
  - DeleteFeatureGroup, and ListFeatureGroups (NameContains).
  - Feature groups are taggable (AddTags, ListTags, DeleteTags), and AddTags overwrites
    the value of an existing key, as AWS documents (moto appends a duplicate).
  - UpdateEndpoint: the endpoint must exist and be InService, the endpoint config must
    exist, the BlueGreenUpdatePolicy traffic routing must carry CanarySize for CANARY and
    LinearStepSize for LINEAR. The endpoint reports "Updating" on the next describe, then
    InService on the new config, with LastDeploymentConfig set.

S3 (https://docs.aws.amazon.com/AmazonS3/latest/API/):
  - Conditional writes (PutObject with If-Match or If-None-Match) are applied one at a
    time, as S3 applies them atomically (moto checks and writes in two steps, so two
    racing creates could both succeed).

Faults, for the tests of what a client does when the service fails:
  - POST /__double/faults with {"method": "PUT", "path": "REGEX", "status": 503,
    "times": N, "after": true} answers the next N matching requests with that status and
    an S3 error body; with "after", the request is carried out first and only its answer
    is lost (the case of a retried conditional write that already landed). "delay_ms"
    holds the answer back that long first (a timeout); with "status": null the real
    answer comes, late.
    DELETE /__double/faults clears them; GET lists them with the counts left.

EKS (https://docs.aws.amazon.com/eks/latest/APIReference/):
  - UpdateClusterVersion: one minor version at a time, cluster UPDATING on the next
    describe, then ACTIVE on the new version.
  - UpdateClusterConfig changes only the endpoint access fields of resourcesVpcConfig
    (moto replaces the whole VPC configuration, losing the subnets).
  - UpdateNodegroupVersion: the version must be the cluster's; the nodegroup is UPDATING
    on the next describe, then ACTIVE on the new version.
"""

import json
import re
import sys
import threading
import time
import uuid

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
import moto.eks.urls as eks_urls
from moto.eks.exceptions import InvalidParameterException, InvalidRequestException
from moto.eks.exceptions import ResourceNotFoundException as EksNotFound
from moto.eks.responses import EKSResponse
from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.models import FeatureGroup, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter
from moto.server import main
from moto.moto_server.werkzeug_app import DomainDispatcherApplication


# ---------------------------------------------------------------- SageMaker


def _feature_group(backend, name):
    arn = arn_formatter(
        region_name=backend.region_name,
        account_id=backend.account_id,
        _type="feature-group",
        _id=name.lower(),
    )
    group = backend.feature_groups.get(arn)
    if group is None:
        raise ResourceNotFound(message=f"Resource Not Found: FeatureGroup {name} does not exist.")
    return arn, group


def delete_model_package_group(self):
    name = self._get_param("ModelPackageGroupName")
    if self.sagemaker_backend.model_package_groups.pop(name, None) is None:
        raise ValidationError(message=f"ModelPackageGroup {name} does not exist.")
    return EmptyResult()


def delete_model(self):
    name = self._get_param("ModelName")
    if self.sagemaker_backend._models.pop(name, None) is None:
        arn = arn_formatter(
            region_name=self.sagemaker_backend.region_name,
            account_id=self.sagemaker_backend.account_id,
            _type="model",
            _id=name,
        )
        raise ValidationError(message=f'Could not find model "{arn}".')
    return EmptyResult()


def create_feature_group(self):
    name = self._get_param("FeatureGroupName")
    offline = self._get_param("OfflineStoreConfig")
    online = self._get_param("OnlineStoreConfig")
    role = self._get_param("RoleArn")
    if offline is None and online is None:
        raise ValidationError(
            message="At least one of OnlineStoreConfig and OfflineStoreConfig must be specified."
        )
    if offline is not None and not role:
        raise ValidationError(message="RoleArn is required when OfflineStoreConfig is specified.")
    backend = self.sagemaker_backend
    arn = arn_formatter(
        region_name=backend.region_name,
        account_id=backend.account_id,
        _type="feature-group",
        _id=name.lower(),
    )
    if arn in backend.feature_groups:
        from moto.sagemaker.exceptions import ResourceInUseException

        raise ResourceInUseException(
            message=f"Resource Already Exists: FeatureGroup with name {name} already exists. Choose a different name."
        )
    group = FeatureGroup(
        region_name=backend.region_name,
        account_id=backend.account_id,
        feature_group_name=name,
        record_identifier_feature_name=self._get_param("RecordIdentifierFeatureName"),
        event_time_feature_name=self._get_param("EventTimeFeatureName"),
        feature_definitions=self._get_param("FeatureDefinitions"),
        offline_store_config=offline or {"S3StorageConfig": {"S3Uri": ""}},
        role_arn=role,
        tags=self._get_param("Tags") or [],
    )
    group.has_offline = offline is not None
    group.online_store_config = online
    group.description = self._get_param("Description")
    group.pending_status = "Creating"
    backend.feature_groups[arn] = group
    return ActionResult({"FeatureGroupArn": arn})


def describe_feature_group(self):
    _, group = _feature_group(self.sagemaker_backend, self._get_param("FeatureGroupName"))
    out = group.describe()
    if not getattr(group, "has_offline", True):
        out.pop("OfflineStoreConfig", None)
    if getattr(group, "online_store_config", None) is not None:
        out["OnlineStoreConfig"] = group.online_store_config
    if getattr(group, "description", None):
        out["Description"] = group.description
    pending = getattr(group, "pending_status", None)
    if pending:
        out["FeatureGroupStatus"] = pending
        group.pending_status = None
    return ActionResult(out)


def update_feature_group(self):
    name = self._get_param("FeatureGroupName")
    arn, group = _feature_group(self.sagemaker_backend, name)
    additions = self._get_param("FeatureAdditions") or []
    known = {f["FeatureName"] for f in group.feature_definitions}
    for f in additions:
        if f["FeatureName"] in known:
            raise ValidationError(
                message=f"Feature {f['FeatureName']} already exists in FeatureGroup {name}."
            )
    online = self._get_param("OnlineStoreConfig")
    if online is not None:
        current = getattr(group, "online_store_config", None)
        if not current or not current.get("EnableOnlineStore"):
            raise ValidationError(
                message=f"FeatureGroup {name} has no online store; TtlDuration cannot be set."
            )
        if "TtlDuration" in online:
            current["TtlDuration"] = online["TtlDuration"]
        else:
            current.pop("TtlDuration", None)
    group.feature_definitions = group.feature_definitions + additions
    return ActionResult({"FeatureGroupArn": arn})


def delete_feature_group(self):
    arn, _ = _feature_group(self.sagemaker_backend, self._get_param("FeatureGroupName"))
    del self.sagemaker_backend.feature_groups[arn]
    return EmptyResult()


def update_endpoint(self):
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(message=f"Could not find endpoint \"{name}\".")
    if endpoint.endpoint_status != "InService":
        raise ValidationError(
            message=f"Cannot update in-progress endpoint \"{endpoint.arn}\"."
        )
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        raise ValidationError(message=f"Could not find endpoint configuration \"{config_name}\".")
    deployment = self._get_param("DeploymentConfig")
    if deployment:
        routing = (deployment.get("BlueGreenUpdatePolicy") or {}).get(
            "TrafficRoutingConfiguration"
        ) or {}
        kind = routing.get("Type")
        if kind not in ("ALL_AT_ONCE", "CANARY", "LINEAR"):
            raise ValidationError(message=f"Invalid TrafficRoutingConfiguration Type {kind!r}.")
        if kind == "CANARY" and "CanarySize" not in routing:
            raise ValidationError(message="CanarySize must be specified for CANARY traffic routing.")
        if kind == "LINEAR" and "LinearStepSize" not in routing:
            raise ValidationError(message="LinearStepSize must be specified for LINEAR traffic routing.")
        wait = routing.get("WaitIntervalInSeconds")
        if wait is None or not 0 <= int(wait) <= 3600:
            raise ValidationError(message="WaitIntervalInSeconds must be between 0 and 3600.")
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config.production_variants
    )
    endpoint.last_deployment_config = deployment
    endpoint.endpoint_status = "Updating"
    endpoint.last_modified_time = utcnow()
    return ActionResult({"EndpointArn": endpoint.arn})


_moto_describe_endpoint = SageMakerResponse.describe_endpoint


def describe_endpoint(self):
    name = self._get_param("EndpointName")
    endpoint = self.sagemaker_backend.endpoints.get(name)
    result = _moto_describe_endpoint(self)
    if endpoint is not None:
        deployment = getattr(endpoint, "last_deployment_config", None)
        if deployment:
            result.result["LastDeploymentConfig"] = deployment
        if endpoint.endpoint_status == "Updating":
            # The update completes between two polls.
            endpoint.endpoint_status = "InService"
    return result


def list_feature_groups(self):
    contains = self._get_param("NameContains") or ""
    groups = sorted(
        (g for g in self.sagemaker_backend.feature_groups.values() if contains in g.feature_group_name),
        key=lambda g: g.feature_group_name,
    )
    return ActionResult(
        {
            "FeatureGroupSummaries": [
                {
                    "FeatureGroupName": g.feature_group_name,
                    "FeatureGroupArn": g.arn,
                    "CreationTime": g.creation_time,
                    "FeatureGroupStatus": "Created",
                }
                for g in groups
            ]
        }
    )


_moto_resource_from_arn = SageMakerModelBackend._get_resource_from_arn


def _resource_from_arn(self, arn):
    # Feature groups are taggable resources too (AddTags, ListTags, DeleteTags).
    if ":feature-group/" in arn:
        group = self.feature_groups.get(arn)
        if group is None:
            raise ValidationError(message=f"Could not find feature-group {arn}")
        if group.tags is None:
            group.tags = []
        return group
    return _moto_resource_from_arn(self, arn)


def add_tags(self, arn, tags):
    # AddTags overwrites the value of a key that is already there.
    resource = self._get_resource_from_arn(arn)
    keys = {t["Key"] for t in tags}
    resource.tags = [t for t in (resource.tags or []) if t["Key"] not in keys] + list(tags)
    return resource.tags


SageMakerModelBackend._get_resource_from_arn = _resource_from_arn
SageMakerModelBackend.add_tags = add_tags
SageMakerResponse.list_feature_groups = list_feature_groups
SageMakerResponse.delete_model_package_group = delete_model_package_group
SageMakerResponse.delete_model = delete_model
SageMakerResponse.create_feature_group = create_feature_group
SageMakerResponse.describe_feature_group = describe_feature_group
SageMakerResponse.update_feature_group = update_feature_group
SageMakerResponse.delete_feature_group = delete_feature_group
SageMakerResponse.update_endpoint = update_endpoint
SageMakerResponse.describe_endpoint = describe_endpoint


# ---------------------------------------------------------------- EKS


def _cluster(self):
    name = self._get_param("name")
    cluster = self.eks_backend.clusters.get(name)
    if cluster is None:
        raise EksNotFound(
            clusterName=name,
            nodegroupName=None,
            fargateProfileName=None,
            addonName=None,
            message=f"No cluster found for name: {name}.",
        )
    return cluster


def _update(kind, params):
    return {
        "id": str(uuid.uuid4()),
        "status": "InProgress",
        "type": kind,
        "params": params,
        "createdAt": utcnow(),
        "errors": [],
    }


def update_cluster_version(self):
    cluster = _cluster(self)
    version = self._get_param("version")
    if cluster.status != "ACTIVE":
        raise InvalidRequestException(
            clusterName=cluster.name,
            nodegroupName=None,
            addonName=None,
            message=f"Cluster {cluster.name} is {cluster.status}; only an ACTIVE cluster can be updated.",
        )
    try:
        have = [int(x) for x in cluster.version.split(".")[:2]]
        want = [int(x) for x in version.split(".")[:2]]
    except (AttributeError, ValueError):
        raise InvalidParameterException(
            clusterName=cluster.name, nodegroupName=None, fargateProfileName=None,
            addonName=None, message=f"Invalid version {version!r}.",
        )
    if want[0] != have[0] or want[1] != have[1] + 1:
        raise InvalidParameterException(
            clusterName=cluster.name, nodegroupName=None, fargateProfileName=None,
            addonName=None,
            message=f"Unsupported Kubernetes minor version update from {cluster.version} to {version}",
        )
    cluster.version = version
    cluster.status = "UPDATING"
    return ActionResult({"update": _update("VersionUpdate", [{"type": "Version", "value": version}])})


def update_cluster_config(self):
    cluster = _cluster(self)
    vpc = self._get_param("resourcesVpcConfig") or {}
    for key in ("endpointPublicAccess", "endpointPrivateAccess", "publicAccessCidrs"):
        if key in vpc:
            cluster.resources_vpc_config[key] = vpc[key]
    cluster.status = "UPDATING"
    params = [{"type": k[0].upper() + k[1:], "value": str(v)} for k, v in vpc.items()]
    return ActionResult({"update": _update("EndpointAccessUpdate", params)})


_moto_describe_cluster = EKSResponse.describe_cluster


def describe_cluster(self):
    cluster = self.eks_backend.clusters.get(self._get_param("name"))
    if cluster is not None and cluster.status == "UPDATING":
        # The first describe after an update sees UPDATING; the next sees it done.
        if getattr(cluster, "updating_seen", False):
            cluster.status = "ACTIVE"
            cluster.updating_seen = False
        else:
            cluster.updating_seen = True
    return _moto_describe_cluster(self)


def update_nodegroup_version(self):
    cluster = _cluster(self)
    name = self._get_param("nodegroupName")
    nodegroup = cluster.nodegroups.get(name)
    if nodegroup is None:
        raise EksNotFound(
            clusterName=cluster.name,
            nodegroupName=name,
            fargateProfileName=None,
            addonName=None,
            message=f"No node group found for name: {name}.",
        )
    version = self._get_param("version") or cluster.version
    if version != cluster.version:
        raise InvalidParameterException(
            clusterName=cluster.name, nodegroupName=name, fargateProfileName=None,
            addonName=None,
            message=f"Requested Nodegroup Kubernetes version {version} must match the cluster version {cluster.version}",
        )
    nodegroup.version = version
    nodegroup.status = "UPDATING"
    return ActionResult({"update": _update("VersionUpdate", [{"type": "Version", "value": version}])})


_moto_describe_nodegroup = EKSResponse.describe_nodegroup


def describe_nodegroup(self):
    cluster = self.eks_backend.clusters.get(self._get_param("name"))
    ng = cluster.nodegroups.get(self._get_param("nodegroupName")) if cluster else None
    if ng is not None and ng.status == "UPDATING":
        # The first describe after an update sees UPDATING; the next sees it done.
        if getattr(ng, "updating_seen", False):
            ng.status = "ACTIVE"
            ng.updating_seen = False
        else:
            ng.updating_seen = True
    return _moto_describe_nodegroup(self)


EKSResponse.update_nodegroup_version = update_nodegroup_version
EKSResponse.describe_nodegroup = describe_nodegroup
eks_urls.url_paths[
    "{0}/clusters/(?P<name>[^/]+)/node-groups/(?P<nodegroupName>[^/]+)/update-version$"
] = eks_urls.response.dispatch
EKSResponse.update_cluster_version = update_cluster_version
EKSResponse.update_cluster_config = update_cluster_config
EKSResponse.describe_cluster = describe_cluster
eks_urls.url_paths["{0}/clusters/(?P<name>[^/]+)/updates$"] = eks_urls.response.dispatch


# ---------------------------------------------------------------- S3 and faults

_FAULTS = []
_FAULTS_LOCK = threading.Lock()
_CONDITIONAL = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _answer(start_response, status, body, content_type="application/json"):
    reason = {200: "OK", 400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}
    start_response(f"{status} {reason.get(status, 'Error')}", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _faults(environ, start_response):
    method = environ["REQUEST_METHOD"]
    with _FAULTS_LOCK:
        if method == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                f = json.loads(environ["wsgi.input"].read(size) or b"{}")
                re.compile(f.get("path", ""))
                status = f.get("status", 503)
                status = None if status is None else int(status)
                delay = int(f.get("delay_ms", 0))
            except (ValueError, re.error) as e:
                return _answer(start_response, 400, json.dumps({"error": str(e)}).encode())
            _FAULTS.append({"method": f.get("method", "*"), "path": f.get("path", ""), "status": status, "times": int(f.get("times", 1)), "after": bool(f.get("after", False)), "delay_ms": delay})
        elif method == "DELETE":
            _FAULTS.clear()
        return _answer(start_response, 200, json.dumps(_FAULTS).encode())


def _take_fault(method, path):
    with _FAULTS_LOCK:
        for f in _FAULTS:
            if f["times"] > 0 and f["method"] in ("*", method) and re.search(f["path"], path):
                f["times"] -= 1
                return dict(f)
    return None


def _s3_error(status):
    code = "ServiceUnavailable" if status == 503 else "InternalError"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>injected by the double</Message><RequestId>{uuid.uuid4()}</RequestId></Error>').encode()


def dispatch(self, environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/__double/faults":
        return _faults(environ, start_response)
    method = environ["REQUEST_METHOD"]
    fault = _take_fault(method, path)
    if fault and not fault["after"]:
        time.sleep(fault["delay_ms"] / 1000)
        if fault["status"] is None:
            fault = None  # only late
        else:
            return _answer(start_response, fault["status"], _s3_error(fault["status"]), "application/xml")
    conditional = method == "PUT" and ("HTTP_IF_MATCH" in environ or "HTTP_IF_NONE_MATCH" in environ)
    if conditional or (fault and fault["after"]):
        # Carried out whole before anything else conditional, and its answer read out.
        with _CONDITIONAL if conditional else threading.Lock():
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers

            body = b"".join(_dispatch(self, environ, capture))
        if fault:
            time.sleep(fault["delay_ms"] / 1000)
        if fault and fault["status"] is not None:
            return _answer(start_response, fault["status"], _s3_error(fault["status"]), "application/xml")
        start_response(captured["status"], captured["headers"])
        return [body]
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = dispatch


if __name__ == "__main__":
    main(sys.argv[1:])
