"""Artifact Registry v1 through google-cloud-artifact-registry over REST."""

import pytest
from google.api_core import exceptions
from google.cloud import artifactregistry_v1 as ar
from google.protobuf import field_mask_pb2

from conftest import FAST, PARENT, client_options, raw, state


@pytest.fixture
def client(base, creds):
    return ar.ArtifactRegistryClient(credentials=creds, transport="rest", client_options=client_options(base))


def test_repository_lifecycle(client, base):
    op = client.create_repository(parent=PARENT, repository_id="images", repository=ar.Repository(
        format_=ar.Repository.Format.DOCKER, description="model images", labels={"team": "ml"}))
    assert not op.done()
    assert op.operation.name.startswith(PARENT + "/operations/")
    repo = op.result(polling=FAST)
    assert repo.name == PARENT + "/repositories/images"
    assert repo.format_ == ar.Repository.Format.DOCKER
    assert repo.mode == ar.Repository.Mode.STANDARD_REPOSITORY
    assert repo.registry_uri == "us-central1-docker.pkg.dev/demo/images"
    # the metadata and response @types are the ones the client resolves
    assert isinstance(op.metadata, ar.OperationMetadata)
    got = client.get_repository(name=repo.name)
    assert got.description == "model images" and got.labels["team"] == "ml" and got.create_time

    # a format whose proto number is not its place in the discovery list (PYTHON is 8, 7th)
    py = client.create_repository(parent=PARENT, repository_id="wheels",
                                  repository=ar.Repository(format_=ar.Repository.Format.PYTHON)).result(polling=FAST)
    assert py.format_ == ar.Repository.Format.PYTHON
    assert state(base)["resources"]["artifactregistry.repositories"][py.name]["format"] == "PYTHON"
    assert py.registry_uri == "us-central1-python.pkg.dev/demo/wheels"

    updated = client.update_repository(repository=ar.Repository(name=repo.name, description="v2"),
                                       update_mask=field_mask_pb2.FieldMask(paths=["description"]))
    assert updated.description == "v2" and updated.labels["team"] == "ml"
    with pytest.raises(exceptions.BadRequest):
        client.update_repository(repository=ar.Repository(name=repo.name, format_=ar.Repository.Format.NPM),
                                 update_mask=field_mask_pb2.FieldMask(paths=["format"]))

    names = [r.name for r in client.list_repositories(parent=PARENT)]
    assert names == [repo.name, py.name]
    pages = client.list_repositories(request=ar.ListRepositoriesRequest(parent=PARENT, page_size=1))
    assert [r.name for r in pages] == [repo.name, py.name]

    with pytest.raises(exceptions.Conflict):
        client.create_repository(parent=PARENT, repository_id="images",
                                 repository=ar.Repository(format_=ar.Repository.Format.DOCKER))

    for name in (repo.name, py.name):
        op = client.delete_repository(name=name)
        op.result(polling=FAST)
        assert op.operation.response.type_url == "type.googleapis.com/google.protobuf.Empty"
    with pytest.raises(exceptions.NotFound):
        client.get_repository(name=repo.name)
    assert state(base)["empty"]


def test_repository_validation(client, base):
    with pytest.raises(exceptions.BadRequest) as e:
        client.create_repository(parent=PARENT, repository_id="Bad_Id",
                                 repository=ar.Repository(format_=ar.Repository.Format.DOCKER))
    assert "repository ID" in e.value.message
    with pytest.raises(exceptions.BadRequest):
        client.create_repository(parent=PARENT, repository_id="noformat", repository=ar.Repository())
    r = raw(base, "POST", "/v1/%s/repositories" % PARENT, {"format": "DOKCER"}, repositoryId="x")
    assert r.status_code == 400 and "format" in r.json()["error"]["message"]
    r = raw(base, "POST", "/v1/%s/repositories" % PARENT, {"format": "DOCKER", "colour": "red"},
            repositoryId="x")
    assert r.status_code == 400 and 'Unknown name "colour"' in r.json()["error"]["message"]
    r = raw(base, "POST", "/v1/%s/repositories" % PARENT, {"format": "DOCKER", "labels": {"a": 1}},
            repositoryId="x")
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    with pytest.raises(exceptions.NotFound):
        client.get_repository(name=PARENT + "/repositories/none")
    assert state(base)["empty"]
