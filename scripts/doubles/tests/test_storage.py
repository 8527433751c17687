"""Cloud Storage: buckets over gRPC (google.storage.v2.Storage, the GAPIC client inside
google-cloud-storage), objects uploaded with the JSON API (google-cloud-storage's Client and
a plain media upload), listed and deleted over gRPC."""

import grpc
import pytest
import requests
from google.api_core import exceptions
from google.cloud import storage as gcs
from google.cloud._storage_v2 import StorageClient
from google.cloud._storage_v2.services.storage.transports import StorageGrpcTransport
from google.cloud._storage_v2.types import storage as v2
from google.protobuf import field_mask_pb2

from conftest import PROJECT, fault, state


@pytest.fixture
def grpc_client(double, creds):
    channel = grpc.insecure_channel("127.0.0.1:%d" % double["port"])
    yield StorageClient(transport=StorageGrpcTransport(channel=channel, credentials=creds))
    channel.close()


@pytest.fixture
def json_client(base, creds):
    return gcs.Client(project=PROJECT, credentials=creds, client_options={"api_endpoint": base})


def test_bucket_lifecycle(grpc_client, json_client, base):
    b = grpc_client.create_bucket(parent="projects/%s" % PROJECT, bucket_id="ml-artifacts", bucket=v2.Bucket(
        location="us-central1", storage_class="STANDARD", labels={"team": "ml"}))
    assert b.name == "projects/_/buckets/ml-artifacts" and b.bucket_id == "ml-artifacts"
    assert b.location == "US-CENTRAL1" and b.location_type == "region" and b.metageneration == 1
    assert b.project == "projects/%s" % PROJECT
    with pytest.raises(exceptions.AlreadyExists):
        grpc_client.create_bucket(parent="projects/%s" % PROJECT, bucket_id="ml-artifacts", bucket=v2.Bucket())
    with pytest.raises(exceptions.InvalidArgument):
        grpc_client.create_bucket(parent="projects/%s" % PROJECT, bucket_id="Bad_Bucket", bucket=v2.Bucket())
    got = grpc_client.get_bucket(name=b.name)
    assert got.labels["team"] == "ml"

    up = grpc_client.update_bucket(bucket=v2.Bucket(name=b.name, labels={"team": "research", "env": "dev"},
                                                    versioning=v2.Bucket.Versioning(enabled=True),
                                                    storage_class="NEARLINE"),
                                   update_mask=field_mask_pb2.FieldMask(paths=["labels", "versioning",
                                                                               "storage_class"]))
    assert dict(up.labels) == {"team": "research", "env": "dev"} and up.versioning.enabled
    assert up.storage_class == "NEARLINE" and up.metageneration == 2
    with pytest.raises(exceptions.InvalidArgument):
        grpc_client.update_bucket(bucket=v2.Bucket(name=b.name, location="EU"),
                                  update_mask=field_mask_pb2.FieldMask(paths=["location"]))
    with pytest.raises(exceptions.FailedPrecondition):
        grpc_client.update_bucket(request=v2.UpdateBucketRequest(
            bucket=v2.Bucket(name=b.name), if_metageneration_match=1,
            update_mask=field_mask_pb2.FieldMask(paths=["labels"])))

    grpc_client.create_bucket(parent="projects/%s" % PROJECT, bucket_id="ml-other", bucket=v2.Bucket())
    names = [x.name for x in grpc_client.list_buckets(parent="projects/%s" % PROJECT)]
    assert names == ["projects/_/buckets/ml-artifacts", "projects/_/buckets/ml-other"]
    pager = grpc_client.list_buckets(request=v2.ListBucketsRequest(parent="projects/%s" % PROJECT, page_size=1))
    assert [x.bucket_id for x in pager] == ["ml-artifacts", "ml-other"]

    # objects arrive through the JSON API: the official client (multipart) and a media upload
    json_client.bucket("ml-artifacts").blob("models/ranker/model.pt").upload_from_string(b"weights")
    r = requests.post(base + "/upload/storage/v1/b/ml-artifacts/o", params={"uploadType": "media",
                                                                           "name": "models/ranker/meta.json"},
                      data=b'{"v": 1}', headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "models/ranker/meta.json" and r.json()["size"] == "8"
    assert [o.name for o in json_client.list_blobs("ml-artifacts")] == ["models/ranker/meta.json",
                                                                       "models/ranker/model.pt"]
    assert json_client.bucket("ml-artifacts").blob("models/ranker/model.pt").download_as_bytes() == b"weights"
    # a resumable upload in 256 KiB chunks (what large uploads use)
    big = bytes(range(256)) * 2600
    blob = json_client.bucket("ml-artifacts").blob("data/big.bin", chunk_size=256 * 1024)
    blob.upload_from_string(big, content_type="application/x-test")
    blob.reload()
    assert blob.size == len(big) and blob.content_type == "application/x-test"
    assert blob.download_as_bytes() == big
    blob.delete()
    listed = requests.get(base + "/storage/v1/b/ml-artifacts/o", params={"prefix": "models/",
                                                                         "delimiter": "/"}).json()
    assert listed["prefixes"] == ["models/ranker/"] and "items" not in listed

    objs = list(grpc_client.list_objects(parent=b.name))
    assert [o.name for o in objs] == ["models/ranker/meta.json", "models/ranker/model.pt"]
    assert objs[1].size == 7 and objs[1].bucket == b.name
    with pytest.raises(exceptions.FailedPrecondition) as e:
        grpc_client.delete_bucket(name=b.name)
    assert "not empty" in e.value.message
    for o in objs:
        grpc_client.delete_object(bucket=b.name, object_=o.name)
    with pytest.raises(exceptions.NotFound):
        grpc_client.delete_object(bucket=b.name, object_="models/ranker/model.pt")
    assert list(grpc_client.list_objects(parent=b.name)) == []

    grpc_client.delete_bucket(name=b.name)
    grpc_client.delete_bucket(name="projects/_/buckets/ml-other")
    with pytest.raises(exceptions.NotFound):
        grpc_client.get_bucket(name=b.name)
    assert state(base)["empty"]


def test_grpc_faults(grpc_client, base):
    fault(base, method="google.storage.v2.Storage/CreateBucket", fault="UNAVAILABLE", times=1)
    with pytest.raises(exceptions.ServiceUnavailable):
        grpc_client.create_bucket(parent="projects/%s" % PROJECT, bucket_id="flaky", bucket=v2.Bucket(),
                                  retry=None)
    b = grpc_client.create_bucket(parent="projects/%s" % PROJECT, bucket_id="flaky", bucket=v2.Bucket())
    fault(base, method="google.storage.v2.Storage/GetBucket", fault="RESOURCE_EXHAUSTED", retryAfter=3)
    with pytest.raises(exceptions.ResourceExhausted) as e:
        grpc_client.get_bucket(name=b.name, retry=None)
    # RetryInfo travels in the grpc-status-details-bin trailer, as Google sends it
    assert any(getattr(d, "retry_delay", None) and d.retry_delay.seconds == 3 for d in e.value.details)
    grpc_client.delete_bucket(name=b.name)
    assert state(base)["empty"]
