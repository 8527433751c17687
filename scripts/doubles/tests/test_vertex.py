"""Vertex AI through google-cloud-aiplatform's GAPIC aiplatform_v1 clients over REST."""

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as aip
from google.protobuf import field_mask_pb2

from conftest import FAST, PARENT, VPARENT, client_options, raw, state, status_of


def _client(cls, base, creds):
    return cls(credentials=creds, transport="rest", client_options=client_options(base))


@pytest.fixture
def stores(base, creds):
    return _client(aip.FeatureOnlineStoreAdminServiceClient, base, creds)


@pytest.fixture
def registry(base, creds):
    return _client(aip.FeatureRegistryServiceClient, base, creds)


@pytest.fixture
def models(base, creds):
    return _client(aip.ModelServiceClient, base, creds)


@pytest.fixture
def endpoints(base, creds):
    return _client(aip.EndpointServiceClient, base, creds)


def test_feature_store_lifecycle(stores, registry, base):
    op = registry.create_feature_group(parent=PARENT, feature_group_id="users", feature_group=aip.FeatureGroup(
        big_query=aip.FeatureGroup.BigQuery(big_query_source=aip.BigQuerySource(input_uri="bq://demo.ds.users"),
                                            entity_id_columns=["user_id"]),
        description="user features"))
    assert op.operation.name.startswith(VPARENT + "/featureGroups/users/operations/")
    group = op.result(polling=FAST)
    assert isinstance(op.metadata, aip.CreateFeatureGroupOperationMetadata)
    assert group.name == VPARENT + "/featureGroups/users" and group.create_time

    feat = registry.create_feature(parent=group.name, feature_id="age", feature=aip.Feature(
        version_column_name="age", description="age in years")).result(polling=FAST)
    assert feat.name == group.name + "/features/age"
    op = registry.batch_create_features(parent=group.name, requests=[
        aip.CreateFeatureRequest(feature_id="country", feature=aip.Feature(version_column_name="country")),
        aip.CreateFeatureRequest(feature_id="plan", feature=aip.Feature(version_column_name="plan"))])
    resp = op.result(polling=FAST)
    assert [f.name.rsplit("/", 1)[1] for f in resp.features] == ["country", "plan"]
    assert isinstance(op.metadata, aip.BatchCreateFeaturesOperationMetadata)
    assert sorted(f.name.rsplit("/", 1)[1] for f in registry.list_features(parent=group.name)) == \
        ["age", "country", "plan"]
    upd = registry.update_feature(feature=aip.Feature(name=feat.name, description="years"),
                                  update_mask=field_mask_pb2.FieldMask(paths=["description"])).result(polling=FAST)
    assert upd.description == "years" and upd.version_column_name == "age"

    op = stores.create_feature_online_store(parent=PARENT, feature_online_store_id="online",
                                            feature_online_store=aip.FeatureOnlineStore(
                                                bigtable=aip.FeatureOnlineStore.Bigtable(
                                                    auto_scaling=aip.FeatureOnlineStore.Bigtable.AutoScaling(
                                                        min_node_count=1, max_node_count=3,
                                                        cpu_utilization_target=50)),
                                                labels={"env": "test"}))
    store = op.result(polling=FAST)
    assert isinstance(op.metadata, aip.CreateFeatureOnlineStoreOperationMetadata)
    assert store.state == aip.FeatureOnlineStore.State.STABLE
    assert store.bigtable.auto_scaling.max_node_count == 3
    with pytest.raises(exceptions.Conflict):
        stores.create_feature_online_store(parent=PARENT, feature_online_store_id="online",
                                           feature_online_store=aip.FeatureOnlineStore(
                                               optimized=aip.FeatureOnlineStore.Optimized()))

    op = stores.create_feature_view(parent=store.name, feature_view_id="user_view", feature_view=aip.FeatureView(
        feature_registry_source=aip.FeatureView.FeatureRegistrySource(feature_groups=[
            aip.FeatureView.FeatureRegistrySource.FeatureGroup(feature_group_id="users",
                                                               feature_ids=["age", "country"])]),
        sync_config=aip.FeatureView.SyncConfig(cron="0 * * * *")))
    view = op.result(polling=FAST)
    assert isinstance(op.metadata, aip.CreateFeatureViewOperationMetadata)
    assert view.name == store.name + "/featureViews/user_view"
    assert view.sync_config.cron == "0 * * * *"
    # a view over a feature that does not exist
    with pytest.raises(exceptions.NotFound):
        stores.create_feature_view(parent=store.name, feature_view_id="bad", feature_view=aip.FeatureView(
            feature_registry_source=aip.FeatureView.FeatureRegistrySource(feature_groups=[
                aip.FeatureView.FeatureRegistrySource.FeatureGroup(feature_group_id="users",
                                                                   feature_ids=["nope"])])))
    op = stores.update_feature_view(feature_view=aip.FeatureView(
        name=view.name, sync_config=aip.FeatureView.SyncConfig(cron="30 2 * * *")),
        update_mask=field_mask_pb2.FieldMask(paths=["sync_config"]))
    assert op.result(polling=FAST).sync_config.cron == "30 2 * * *"
    assert isinstance(op.metadata, aip.UpdateFeatureViewOperationMetadata)
    op = stores.update_feature_online_store(feature_online_store=aip.FeatureOnlineStore(
        name=store.name, labels={"env": "prod"}), update_mask=field_mask_pb2.FieldMask(paths=["labels"]))
    assert op.result(polling=FAST).labels == {"env": "prod"}

    # a store with views is deleted only with force
    with pytest.raises(exceptions.BadRequest) as e:
        stores.delete_feature_online_store(name=store.name)
    assert status_of(e) == "FAILED_PRECONDITION"
    op = stores.delete_feature_online_store(request=aip.DeleteFeatureOnlineStoreRequest(name=store.name, force=True))
    op.result(polling=FAST)
    assert isinstance(op.metadata, aip.DeleteOperationMetadata)
    assert op.operation.name.startswith(VPARENT + "/operations/")
    with pytest.raises(exceptions.NotFound):
        stores.get_feature_view(name=view.name)

    registry.delete_feature(name=feat.name).result(polling=FAST)
    with pytest.raises(exceptions.BadRequest) as e:
        registry.delete_feature_group(name=group.name)
    assert status_of(e) == "FAILED_PRECONDITION"
    registry.delete_feature_group(request=aip.DeleteFeatureGroupRequest(name=group.name, force=True)).result(
        polling=FAST)
    with pytest.raises(exceptions.NotFound):
        registry.get_feature_group(name=group.name)
    assert state(base)["empty"]


def upload(models, model_id=None, parent_model=None):
    op = models.upload_model(request=aip.UploadModelRequest(
        parent=PARENT, model_id=model_id or "", parent_model=parent_model or "",
        model=aip.Model(display_name="ranker", artifact_uri="gs://demo/ranker/",
                        container_spec=aip.ModelContainerSpec(image_uri="us-docker.pkg.dev/demo/serve:1"))))
    resp = op.result(polling=FAST)
    assert isinstance(op.metadata, aip.UploadModelOperationMetadata)
    return resp


def test_model_and_endpoint_lifecycle(models, endpoints, base):
    resp = upload(models, "ranker")
    assert resp.model == VPARENT + "/models/ranker" and resp.model_version_id == "1"
    assert VPARENT.split("/")[1].isdigit()
    assert models.get_model(name=PARENT + "/models/ranker").name == resp.model  # the id is accepted too
    m = models.get_model(name=resp.model)
    assert m.display_name == "ranker" and m.version_id == "1" and "default" in m.version_aliases
    assert [x.name for x in models.list_models(parent=PARENT)] == [resp.model]
    v2 = upload(models, parent_model=resp.model)
    assert v2.model == resp.model and v2.model_version_id == "2"
    m = models.update_model(model=aip.Model(name=resp.model, description="ranks"),
                            update_mask=field_mask_pb2.FieldMask(paths=["description"]))
    assert m.description == "ranks"
    other = upload(models)  # server-chosen numeric id
    assert other.model.rsplit("/", 1)[1].isdigit()

    op = endpoints.create_endpoint(parent=PARENT, endpoint=aip.Endpoint(display_name="serve"), endpoint_id="serve")
    ep = op.result(polling=FAST)
    assert isinstance(op.metadata, aip.CreateEndpointOperationMetadata)
    assert ep.name == VPARENT + "/endpoints/serve"
    auto = endpoints.create_endpoint(parent=PARENT, endpoint=aip.Endpoint(display_name="auto")).result(polling=FAST)
    assert auto.name.rsplit("/", 1)[1].isdigit()

    gpu = aip.DedicatedResources(machine_spec=aip.MachineSpec(
        machine_type="g2-standard-8", accelerator_type=aip.AcceleratorType.NVIDIA_L4, accelerator_count=1),
        min_replica_count=1, max_replica_count=2)
    op = endpoints.deploy_model(endpoint=ep.name, deployed_model=aip.DeployedModel(
        model=resp.model, display_name="blue", dedicated_resources=gpu), traffic_split={"0": 100})
    assert not op.done()
    blue = op.result(polling=FAST).deployed_model
    assert isinstance(op.metadata, aip.DeployModelOperationMetadata)
    assert op.metadata.deployment_stage == aip.DeploymentStage.SUCCESSFULLY_DEPLOYED
    assert blue.id and blue.model == resp.model and blue.model_version_id == "2"
    ep = endpoints.get_endpoint(name=ep.name)
    assert dict(ep.traffic_split) == {blue.id: 100}
    assert ep.deployed_models[0].dedicated_resources.machine_spec.accelerator_type == aip.AcceleratorType.NVIDIA_L4
    assert models.get_model(name=resp.model).deployed_models[0].deployed_model_id == blue.id

    # canary: a second model at 10%
    green = endpoints.deploy_model(endpoint=ep.name, deployed_model=aip.DeployedModel(
        model=other.model, display_name="green", dedicated_resources=gpu),
        traffic_split={blue.id: 90, "0": 10}).result(polling=FAST).deployed_model
    assert dict(endpoints.get_endpoint(name=ep.name).traffic_split) == {blue.id: 90, green.id: 10}
    # splits that do not add up to 100, or name a model that is not deployed
    with pytest.raises(exceptions.BadRequest):
        endpoints.deploy_model(endpoint=ep.name, deployed_model=aip.DeployedModel(
            model=other.model, dedicated_resources=gpu), traffic_split={blue.id: 50, "0": 10})
    with pytest.raises(exceptions.BadRequest):
        endpoints.update_endpoint(endpoint=aip.Endpoint(name=ep.name, traffic_split={"123": 100}),
                                  update_mask=field_mask_pb2.FieldMask(paths=["traffic_split"]))
    # a model with traffic is not undeployed unless the split moves its traffic away
    with pytest.raises(exceptions.BadRequest) as e:
        endpoints.undeploy_model(endpoint=ep.name, deployed_model_id=blue.id)
    assert status_of(e) == "FAILED_PRECONDITION"
    ep = endpoints.update_endpoint(endpoint=aip.Endpoint(name=ep.name, traffic_split={blue.id: 50, green.id: 50},
                                                         display_name="serving"),
                                   update_mask=field_mask_pb2.FieldMask(paths=["traffic_split", "display_name"]))
    assert dict(ep.traffic_split) == {blue.id: 50, green.id: 50} and ep.display_name == "serving"

    op = endpoints.mutate_deployed_model(endpoint=ep.name, deployed_model=aip.DeployedModel(
        id=green.id, dedicated_resources=aip.DedicatedResources(min_replica_count=2, max_replica_count=4)),
        update_mask=field_mask_pb2.FieldMask(paths=["dedicated_resources.min_replica_count",
                                                    "dedicated_resources.max_replica_count"]))
    mutated = op.result(polling=FAST).deployed_model
    assert isinstance(op.metadata, aip.MutateDeployedModelOperationMetadata)
    assert mutated.dedicated_resources.min_replica_count == 2
    assert mutated.dedicated_resources.machine_spec.machine_type == "g2-standard-8"

    # a deployed model cannot be deleted, nor an endpoint with deployed models
    with pytest.raises(exceptions.BadRequest) as e:
        models.delete_model(name=resp.model)
    assert status_of(e) == "FAILED_PRECONDITION"
    with pytest.raises(exceptions.BadRequest) as e:
        endpoints.delete_endpoint(name=ep.name)
    assert status_of(e) == "FAILED_PRECONDITION"

    op = endpoints.undeploy_model(endpoint=ep.name, deployed_model_id=blue.id, traffic_split={green.id: 100})
    op.result(polling=FAST)
    assert isinstance(op.metadata, aip.UndeployModelOperationMetadata)
    assert dict(endpoints.get_endpoint(name=ep.name).traffic_split) == {green.id: 100}
    # the last model goes even with all the traffic; the split ends up empty
    endpoints.undeploy_model(endpoint=ep.name, deployed_model_id=green.id).result(polling=FAST)
    ep = endpoints.get_endpoint(name=ep.name)
    assert not ep.deployed_models and not ep.traffic_split

    for e in (ep.name, auto.name):
        op = endpoints.delete_endpoint(name=e)
        op.result(polling=FAST)
        assert op.operation.response.type_url == "type.googleapis.com/google.protobuf.Empty"
    for name in (resp.model, other.model):
        models.delete_model(name=name).result(polling=FAST)
    with pytest.raises(exceptions.NotFound):
        models.get_model(name=resp.model)
    with pytest.raises(exceptions.NotFound):
        endpoints.get_endpoint(name=ep.name)
    assert state(base)["empty"]


def test_vertex_validation(endpoints, stores, base):
    with pytest.raises(exceptions.BadRequest) as e:
        endpoints.create_endpoint(parent=PARENT, endpoint=aip.Endpoint())
    assert "display_name" in e.value.message
    with pytest.raises(exceptions.BadRequest):
        stores.create_feature_online_store(parent=PARENT, feature_online_store_id="Bad-Id",
                                           feature_online_store=aip.FeatureOnlineStore(
                                               optimized=aip.FeatureOnlineStore.Optimized()))
    ep = endpoints.create_endpoint(parent=PARENT, endpoint=aip.Endpoint(display_name="x"),
                                   endpoint_id="x").result(polling=FAST)
    with pytest.raises(exceptions.NotFound):
        endpoints.deploy_model(endpoint=ep.name, deployed_model=aip.DeployedModel(
            model=PARENT + "/models/missing", automatic_resources=aip.AutomaticResources(min_replica_count=1)))
    r = raw(base, "POST", "/v1/%s:deployModel" % ep.name, {"deployedModel": {
        "model": PARENT + "/models/m", "dedicatedResources": {"machineSpec": {
            "machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L5"}, "minReplicaCount": 1}}})
    assert r.status_code == 400 and "accelerator_type" in r.json()["error"]["message"]
    r = raw(base, "POST", "/v1/%s:deployModel" % ep.name, {"deployedModel": {
        "id": "not-digits", "model": PARENT + "/models/m", "automaticResources": {"minReplicaCount": 1}}})
    assert r.status_code in (400, 404)
    r = raw(base, "POST", "/v1/%s:mutateDeployedModel" % ep.name, {"deployedModel": {"id": "1", "displayName": "z"},
                                                                  "updateMask": "displayName"})
    assert r.status_code == 400 and "cannot be mutated" in r.json()["error"]["message"]
    r = raw(base, "POST", "/v1/%s/endpoints" % PARENT, {"displayName": "y", "trafficSplitt": {}})
    assert r.status_code == 400 and 'Unknown name "trafficSplitt"' in r.json()["error"]["message"]
    r = raw(base, "GET", "/v1/%s/operations/123" % ep.name)
    assert r.status_code == 404
    endpoints.delete_endpoint(name=ep.name).result(polling=FAST)
    assert state(base)["empty"]
