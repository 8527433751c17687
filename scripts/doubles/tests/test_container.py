"""GKE (container v1) through google-cloud-container's ClusterManagerClient over REST."""

import time

import pytest
from google.api_core import exceptions
from google.cloud import container_v1

from conftest import PARENT, client_options, raw, state, fault


@pytest.fixture
def gke(base, creds):
    return container_v1.ClusterManagerClient(credentials=creds, transport="rest",
                                             client_options=client_options(base))


def wait(gke, op, limit=50):
    """Poll a container Operation until DONE, the way a caller must."""
    name = "%s/operations/%s" % (PARENT, op.name)
    seen = [op.status]
    for _ in range(limit):
        if op.status == container_v1.Operation.Status.DONE:
            return op, seen
        time.sleep(0.01)
        op = gke.get_operation(name=name)
        seen.append(op.status)
    raise AssertionError("operation %s not done after %d polls" % (op.name, limit))


def gpu_pool(name="gpu"):
    return container_v1.NodePool(
        name=name,
        initial_node_count=1,
        config=container_v1.NodeConfig(
            machine_type="g2-standard-8",
            spot=True,
            labels={"team": "ml"},
            taints=[container_v1.NodeTaint(key="nvidia.com/gpu", value="present",
                                           effect=container_v1.NodeTaint.Effect.NO_SCHEDULE)],
            accelerators=[container_v1.AcceleratorConfig(
                accelerator_type="nvidia-l4",
                accelerator_count=1,
                gpu_sharing_config=container_v1.GPUSharingConfig(
                    gpu_sharing_strategy=container_v1.GPUSharingConfig.GPUSharingStrategy.MPS,
                    max_shared_clients_per_gpu=4),
                gpu_driver_installation_config=container_v1.GPUDriverInstallationConfig(
                    gpu_driver_version=container_v1.GPUDriverInstallationConfig.GPUDriverVersion.LATEST),
            )],
        ),
        autoscaling=container_v1.NodePoolAutoscaling(enabled=True, min_node_count=0, max_node_count=4),
    )


def test_cluster_and_node_pool_lifecycle(gke, base):
    op = gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(
        name="ml", initial_node_count=1, resource_labels={"env": "test"}))
    assert op.operation_type == container_v1.Operation.Type.CREATE_CLUSTER
    assert op.status in (container_v1.Operation.Status.PENDING, container_v1.Operation.Status.RUNNING)
    assert op.target_link.endswith("/v1/%s/clusters/ml" % PARENT)
    c = gke.get_cluster(name=PARENT + "/clusters/ml")
    assert c.status == container_v1.Cluster.Status.PROVISIONING
    op, seen = wait(gke, op)
    assert container_v1.Operation.Status.RUNNING in seen
    assert not op.error.message
    c = gke.get_cluster(name=PARENT + "/clusters/ml")
    assert c.status == container_v1.Cluster.Status.RUNNING
    assert [np.name for np in c.node_pools] == ["default-pool"]
    assert c.resource_labels["env"] == "test"
    assert c.location == "us-central1" and c.endpoint and c.current_master_version

    # an accelerator node pool with MPS GPU sharing
    op = gke.create_node_pool(parent=PARENT + "/clusters/ml", node_pool=gpu_pool())
    assert op.operation_type == container_v1.Operation.Type.CREATE_NODE_POOL
    # one operation at a time per cluster, as GKE
    with pytest.raises(exceptions.BadRequest) as e:
        gke.create_node_pool(parent=PARENT + "/clusters/ml", node_pool=container_v1.NodePool(
            name="other", initial_node_count=1))
    assert "incompatible operation" in e.value.message
    assert e.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    np = gke.get_node_pool(name=PARENT + "/clusters/ml/nodePools/gpu")
    assert np.status in (container_v1.NodePool.Status.PROVISIONING, container_v1.NodePool.Status.RUNNING)
    wait(gke, op)
    np = gke.get_node_pool(name=PARENT + "/clusters/ml/nodePools/gpu")
    assert np.status == container_v1.NodePool.Status.RUNNING
    acc = np.config.accelerators[0]
    assert acc.accelerator_type == "nvidia-l4" and acc.accelerator_count == 1
    assert acc.gpu_sharing_config.gpu_sharing_strategy == container_v1.GPUSharingConfig.GPUSharingStrategy.MPS
    assert acc.gpu_sharing_config.max_shared_clients_per_gpu == 4
    assert acc.gpu_driver_installation_config.gpu_driver_version == \
        container_v1.GPUDriverInstallationConfig.GPUDriverVersion.LATEST
    assert np.config.spot and np.config.labels["team"] == "ml"
    assert np.config.taints[0].effect == container_v1.NodeTaint.Effect.NO_SCHEDULE
    assert np.autoscaling.enabled and np.autoscaling.max_node_count == 4
    # the stored state holds enum names, whatever the client sent (numbers here)
    st = state(base)["resources"]["gke.clusters"][PARENT + "/clusters/ml"]
    share = st["nodePools"][1]["config"]["accelerators"][0]["gpuSharingConfig"]
    assert share == {"gpuSharingStrategy": "MPS", "maxSharedClientsPerGpu": "4"}

    pools = gke.list_node_pools(parent=PARENT + "/clusters/ml").node_pools
    assert sorted(p.name for p in pools) == ["default-pool", "gpu"]

    # node pool updates
    op = gke.update_node_pool(request=container_v1.UpdateNodePoolRequest(
        name=PARENT + "/clusters/ml/nodePools/gpu", node_version="-", image_type="COS_CONTAINERD",
        labels=container_v1.NodeLabels(labels={"team": "research"})))
    assert op.operation_type == container_v1.Operation.Type.UPGRADE_NODES
    wait(gke, op)
    np = gke.get_node_pool(name=PARENT + "/clusters/ml/nodePools/gpu")
    assert np.config.labels == {"team": "research"}
    op = gke.set_node_pool_autoscaling(request=container_v1.SetNodePoolAutoscalingRequest(
        name=PARENT + "/clusters/ml/nodePools/gpu",
        autoscaling=container_v1.NodePoolAutoscaling(enabled=True, min_node_count=1, max_node_count=8)))
    wait(gke, op)
    op = gke.set_node_pool_size(request=container_v1.SetNodePoolSizeRequest(
        name=PARENT + "/clusters/ml/nodePools/gpu", node_count=2))
    assert op.operation_type == container_v1.Operation.Type.SET_NODE_POOL_SIZE
    wait(gke, op)
    op = gke.set_node_pool_management(request=container_v1.SetNodePoolManagementRequest(
        name=PARENT + "/clusters/ml/nodePools/gpu",
        management=container_v1.NodeManagement(auto_upgrade=False, auto_repair=True)))
    wait(gke, op)
    np = gke.get_node_pool(name=PARENT + "/clusters/ml/nodePools/gpu")
    assert np.autoscaling.max_node_count == 8 and not np.management.auto_upgrade

    # cluster update
    op = gke.update_cluster(name=PARENT + "/clusters/ml", update=container_v1.ClusterUpdate(
        desired_logging_service="none"))
    assert gke.get_cluster(name=PARENT + "/clusters/ml").status in (
        container_v1.Cluster.Status.RECONCILING, container_v1.Cluster.Status.RUNNING)
    wait(gke, op)
    assert gke.get_cluster(name=PARENT + "/clusters/ml").logging_service == "none"

    ops = gke.list_operations(parent=PARENT).operations
    assert len(ops) == 7 and all(o.status == container_v1.Operation.Status.DONE for o in ops)
    assert [c.name for c in gke.list_clusters(parent=PARENT).clusters] == ["ml"]
    assert [c.name for c in gke.list_clusters(parent="projects/demo/locations/-").clusters] == ["ml"]

    # deletes: node pool, then cluster (STOPPING, then gone)
    op = gke.delete_node_pool(name=PARENT + "/clusters/ml/nodePools/gpu")
    assert gke.get_node_pool(name=PARENT + "/clusters/ml/nodePools/gpu").status == \
        container_v1.NodePool.Status.STOPPING
    wait(gke, op)
    with pytest.raises(exceptions.NotFound):
        gke.get_node_pool(name=PARENT + "/clusters/ml/nodePools/gpu")
    op = gke.delete_cluster(name=PARENT + "/clusters/ml")
    assert op.operation_type == container_v1.Operation.Type.DELETE_CLUSTER
    assert gke.get_cluster(name=PARENT + "/clusters/ml").status == container_v1.Cluster.Status.STOPPING
    wait(gke, op)
    with pytest.raises(exceptions.NotFound):
        gke.get_cluster(name=PARENT + "/clusters/ml")
    assert state(base)["empty"]


def test_not_found_and_already_exists(gke):
    with pytest.raises(exceptions.NotFound) as e:
        gke.get_cluster(name=PARENT + "/clusters/nope")
    assert e.value.response.json()["error"]["status"] == "NOT_FOUND"
    with pytest.raises(exceptions.NotFound):
        gke.get_operation(name=PARENT + "/operations/operation-1-deadbeef")
    gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(name="dup", initial_node_count=1))
    with pytest.raises(exceptions.Conflict) as e:
        gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(name="dup", initial_node_count=1))
    assert e.value.response.json()["error"]["status"] == "ALREADY_EXISTS"


def test_invalid_requests(gke, base):
    with pytest.raises(exceptions.BadRequest) as e:
        gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(name="Bad_Name", initial_node_count=1))
    assert "cluster.name" in e.value.message
    # a GPU on a machine type that takes none
    pool = gpu_pool()
    pool.config.machine_type = "e2-standard-4"
    with pytest.raises(exceptions.BadRequest) as e:
        gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(name="c", node_pools=[pool]))
    assert "not supported with machine type" in e.value.message
    # MIG partition size the accelerator does not have
    pool = gpu_pool()
    pool.config.machine_type = "a2-highgpu-1g"
    pool.config.accelerators[0].accelerator_type = "nvidia-tesla-a100"
    pool.config.accelerators[0].gpu_partition_size = "1g.10gb"
    with pytest.raises(exceptions.BadRequest) as e:
        gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(name="c", node_pools=[pool]))
    assert "partition size" in e.value.message
    pool.config.accelerators[0].gpu_partition_size = "1g.5gb"
    gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(name="c", node_pools=[pool]))
    # what the typed client cannot send: unknown field, wrong type, bad enum value
    r = raw(base, "POST", "/v1/%s/clusters" % PARENT, {"cluster": {"name": "x", "initialNodeCount": 1,
                                                                    "nodeConfg": {}}})
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert 'Unknown name "nodeConfg"' in r.json()["error"]["message"]
    r = raw(base, "POST", "/v1/%s/clusters" % PARENT, {"cluster": {"name": "x", "initialNodeCount": "three"}})
    assert r.status_code == 400 and "cluster.initial_node_count" in r.json()["error"]["message"]
    r = raw(base, "POST", "/v1/%s/clusters/c/nodePools" % PARENT, {"nodePool": {
        "name": "p", "initialNodeCount": 1, "config": {"machineType": "g2-standard-4", "accelerators": [{
            "acceleratorType": "nvidia-l4", "acceleratorCount": "1",
            "gpuSharingConfig": {"gpuSharingStrategy": "SPACE_SHARING", "maxSharedClientsPerGpu": "2"}}]}}})
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "gpu_sharing_strategy" in r.json()["error"]["message"]
    r = raw(base, "GET", "/v1/%s/clusters" % PARENT, None, bogusParam="1")
    assert r.status_code == 400 and "bogusParam" in r.json()["error"]["message"]
    r = raw(base, "GET", "/v1/%s/clusterz" % PARENT)
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


def test_capacity_failure(gke, base):
    op = gke.create_cluster(parent=PARENT, cluster=container_v1.Cluster(name="cap", initial_node_count=1))
    wait(gke, op)
    fault(base, method="container.projects.locations.clusters.nodePools.create",
          fault="ZONE_RESOURCE_POOL_EXHAUSTED")
    op = gke.create_node_pool(parent=PARENT + "/clusters/cap", node_pool=gpu_pool())
    op, _ = wait(gke, op)
    assert op.status == container_v1.Operation.Status.DONE
    assert "ZONE_RESOURCE_POOL_EXHAUSTED" in op.error.message
    assert op.error.code == 8  # RESOURCE_EXHAUSTED
    assert "ZONE_RESOURCE_POOL_EXHAUSTED" in op.status_message
    assert op.nodepool_conditions[0].canonical_code == 8  # google.rpc.Code RESOURCE_EXHAUSTED
    np = gke.get_node_pool(name=PARENT + "/clusters/cap/nodePools/gpu")
    assert np.status == container_v1.NodePool.Status.ERROR
    # the fault was consumed: the next create after deleting the failed pool succeeds
    wait(gke, gke.delete_node_pool(name=PARENT + "/clusters/cap/nodePools/gpu"))
    op, _ = wait(gke, gke.create_node_pool(parent=PARENT + "/clusters/cap", node_pool=gpu_pool()))
    assert not op.error.message
