"""Fault and latency injection, the control endpoints, and the entry point's options."""

import os
import subprocess
import time

import pytest
import requests
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as aip
from google.cloud import artifactregistry_v1 as ar
from google.cloud import container_v1

from conftest import DOUBLE, FAST, PARENT, _free_port, client_options, fault, raw, state


@pytest.fixture
def gke(base, creds):
    return container_v1.ClusterManagerClient(credentials=creds, transport="rest",
                                             client_options=client_options(base))


@pytest.fixture
def registry(base, creds):
    return ar.ArtifactRegistryClient(credentials=creds, transport="rest", client_options=client_options(base))


def test_429_with_retry_after(gke, base):
    f = fault(base, method="container.projects.locations.clusters.get", fault="RESOURCE_EXHAUSTED", retryAfter=5)
    assert f["remaining"] == 1
    with pytest.raises(exceptions.TooManyRequests) as e:
        gke.get_cluster(name=PARENT + "/clusters/any", retry=None)
    assert e.value.response.headers["Retry-After"] == "5"
    err = e.value.response.json()["error"]
    assert err["status"] == "RESOURCE_EXHAUSTED" and err["code"] == 429
    assert err["details"][0]["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
    assert err["details"][0]["retryDelay"] == "5s"
    # consumed: the next call is answered normally
    with pytest.raises(exceptions.NotFound):
        gke.get_cluster(name=PARENT + "/clusters/any", retry=None)
    faults = requests.get(base + "/__double/faults").json()["faults"]
    assert faults[0]["hits"] == 1 and faults[0]["remaining"] == 0


def test_503_and_409_and_path_match(registry, base):
    fault(base, path=r"/repositories$", httpMethod="POST", fault="UNAVAILABLE", times=2)
    for _ in range(2):
        with pytest.raises(exceptions.ServiceUnavailable):
            registry.create_repository(parent=PARENT, repository_id="r", retry=None,
                                       repository=ar.Repository(format_=ar.Repository.Format.DOCKER))
    # a GET on the same path is not matched
    assert list(registry.list_repositories(parent=PARENT)) == []
    registry.create_repository(parent=PARENT, repository_id="r", repository=ar.Repository(
        format_=ar.Repository.Format.DOCKER)).result(polling=FAST)
    fault(base, method="artifactregistry.*.repositories.get", fault="ALREADY_EXISTS")
    with pytest.raises(exceptions.Conflict):
        registry.get_repository(name=PARENT + "/repositories/r", retry=None)
    fault(base, method="artifactregistry.projects.locations.repositories.get",
          error={"code": 403, "status": "PERMISSION_DENIED", "message": "no"})
    with pytest.raises(exceptions.Forbidden):
        registry.get_repository(name=PARENT + "/repositories/r", retry=None)
    registry.delete_repository(name=PARENT + "/repositories/r").result(polling=FAST)
    assert state(base)["empty"]


def test_latency(gke, base):
    fault(base, method="container.projects.locations.clusters.list", fault="latency", latencyMs=300)
    t = time.monotonic()
    gke.list_clusters(parent=PARENT)
    assert time.monotonic() - t >= 0.3
    requests.post(base + "/__double/config", json={"latencyMs": 200}).raise_for_status()
    t = time.monotonic()
    gke.list_clusters(parent=PARENT)
    assert time.monotonic() - t >= 0.2


def test_operation_error_fault_on_vertex(base, creds):
    models = aip.ModelServiceClient(credentials=creds, transport="rest", client_options=client_options(base))
    endpoints = aip.EndpointServiceClient(credentials=creds, transport="rest", client_options=client_options(base))
    m = models.upload_model(parent=PARENT, model=aip.Model(display_name="m", container_spec=aip.ModelContainerSpec(
        image_uri="img"))).result(polling=FAST)
    ep = endpoints.create_endpoint(parent=PARENT, endpoint=aip.Endpoint(display_name="e")).result(polling=FAST)
    fault(base, method="aiplatform.projects.locations.endpoints.deployModel", fault="ZONE_RESOURCE_POOL_EXHAUSTED")
    op = endpoints.deploy_model(endpoint=ep.name, deployed_model=aip.DeployedModel(
        model=m.model, dedicated_resources=aip.DedicatedResources(
            machine_spec=aip.MachineSpec(machine_type="a2-highgpu-1g", accelerator_type=aip.AcceleratorType.NVIDIA_TESLA_A100,
                                         accelerator_count=1), min_replica_count=1)),
        traffic_split={"0": 100})
    with pytest.raises(exceptions.GoogleAPICallError) as e:
        op.result(polling=FAST)
    assert "ZONE_RESOURCE_POOL_EXHAUSTED" in str(e.value)
    assert op.operation.error.code == 8
    assert op.metadata.deployment_stage == aip.DeploymentStage.FAILED_TO_DEPLOY
    assert not endpoints.get_endpoint(name=ep.name).deployed_models
    endpoints.delete_endpoint(name=ep.name).result(polling=FAST)
    models.delete_model(name=m.model).result(polling=FAST)
    assert state(base)["empty"]


def test_control_endpoints(base):
    assert requests.get(base + "/__double").status_code == 200
    r = requests.post(base + "/__double/faults", json={"fault": "NOPE"})
    assert r.status_code == 400 and "unknown fault" in r.json()["error"]["message"]
    r = requests.post(base + "/__double/faults", json=[{"fault": "UNAVAILABLE", "method": "a"},
                                                       {"fault": "latency", "latencyMs": 5}])
    assert [f["id"] for f in r.json()["faults"]] == [1, 2]
    assert len(state(base)["faults"]) == 2
    assert requests.delete(base + "/__double/faults").json() == {"faults": []}
    r = requests.post(base + "/__double/config", json={"readyAfterPolls": 0})
    assert r.json()["config"]["readyAfterPolls"] == 0
    assert requests.post(base + "/__double/config", json={"bogus": 1}).status_code == 400
    r = raw(base, "GET", "/v2/nothing/here")
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"
    # a discovery method the double does not model says so
    r = raw(base, "GET", "/v1/%s/clusters/c/jwks" % PARENT)
    assert r.status_code == 501 and r.json()["error"]["status"] == "UNIMPLEMENTED"


def test_operations_complete_endpoint(gke, base):
    op = gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(name="now", initial_node_count=1))
    assert requests.post(base + "/__double/operations/complete").json() == {"completed": 1}
    done = gke.get_operation(name="%s/operations/%s" % (PARENT, op.name))
    assert done.status == container_v1.Operation.Status.DONE


def test_entry_point_options(creds):
    """A second double: --ready-after-polls 0 (operations done at once), --latency-ms, --seed."""
    port = _free_port()
    proc = subprocess.Popen([DOUBLE, "--port", str(port), "--ready-after-polls", "0", "--latency-ms", "150",
                             "--seed", "1"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        base = "http://127.0.0.1:%d" % port
        gke = container_v1.ClusterManagerClient(credentials=creds, transport="rest",
                                                client_options=client_options(base))
        t = time.monotonic()
        op = gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(name="fast", initial_node_count=1))
        assert time.monotonic() - t >= 0.15
        assert op.status == container_v1.Operation.Status.DONE
        assert gke.get_cluster(name=PARENT + "/clusters/fast").status == container_v1.Cluster.Status.RUNNING
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode in (0, -15)


def test_enum_table_matches_official_protos():
    """gcp_double/enum_numbers.json (enum numbers the REST clients send) is what the
    installed official packages' protos say."""
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run([os.sys.executable, os.path.join(here, "gen_enum_numbers.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
