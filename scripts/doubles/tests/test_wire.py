"""Wire-level behaviour the official Rust clients (google-cloud-rust) rely on, sent as plain
HTTP: enum names (the Python clients send numbers), one query parameter per update-mask
path, empty optional query parameters, snake_case names, chunked bodies, keep-alive."""

import http.client
import json

from conftest import PARENT, raw, state

ALT = {"$alt": "json;enum-encoding=int"}


def test_rust_style_requests(base, double):
    r = raw(base, "POST", "/v1/%s/clusters" % PARENT, {"cluster": {
        "name": "wire", "nodePools": [{"name": "gpu", "initialNodeCount": 1, "config": {
            "machineType": "a3-highgpu-8g", "spot": True, "accelerators": [{
                "acceleratorType": "nvidia-h100-80gb", "acceleratorCount": "8", "gpuPartitionSize": "1g.10gb",
                "gpuSharingConfig": {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": "7"},
                "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"}}]}}]}}, **ALT)
    assert r.status_code == 200, r.text
    # deprecated fields sent empty, as the Rust client does
    r = raw(base, "GET", "/v1/%s/clusters/wire" % PARENT, None, projectId="", zone="", clusterId="", **ALT)
    assert r.status_code == 200
    acc = r.json()["nodePools"][0]["config"]["accelerators"][0]
    assert acc["gpuSharingConfig"] == {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": "7"}
    assert acc["acceleratorCount"] == "8"

    # Artifact Registry: updateMask once per path; list with empty paging parameters
    r = raw(base, "POST", "/v1/%s/repositories" % PARENT, {"format": "PYTHON", "description": "a"},
            repositoryId="wheels", **ALT)
    op = r.json()["name"]
    for _ in range(2):
        r = raw(base, "GET", "/v1/" + op)
    assert r.json()["done"] and r.json()["response"]["format"] == "PYTHON"
    r = raw(base, "PATCH", "/v1/%s/repositories/wheels?updateMask=description&updateMask=labels" % PARENT,
            {"description": "b", "labels": {"x": "y"}})
    assert r.status_code == 200, r.text
    assert r.json()["description"] == "b" and r.json()["labels"] == {"x": "y"}
    r = raw(base, "GET", "/v1/%s/repositories" % PARENT, None, pageSize="0", pageToken="", filter="", orderBy="")
    assert [x["name"].rsplit("/", 1)[1] for x in r.json()["repositories"]] == ["wheels"]
    # snake_case names are accepted, as Google's front end accepts proto names
    r = raw(base, "PATCH", "/v1/%s/repositories/wheels" % PARENT, {"description": "c", "cleanup_policy_dry_run": True},
            updateMask="description,cleanupPolicyDryRun")
    assert r.status_code == 200 and r.json()["cleanupPolicyDryRun"] is True
    # an enum number out of range is refused
    r = raw(base, "POST", "/v1/%s/repositories" % PARENT, {"format": 99}, repositoryId="x")
    assert r.status_code == 400

    # Vertex: the operations also answer under /ui/
    r = raw(base, "POST", "/v1/%s/endpoints" % PARENT, {"displayName": "e"}, endpointId="e")
    op = r.json()["name"]
    assert raw(base, "GET", "/ui/" + op).status_code == 200
    assert raw(base, "GET", "/v1/" + op).json()["done"]


def test_keep_alive_and_chunked(double):
    conn = http.client.HTTPConnection("127.0.0.1", double["port"], timeout=10)
    for _ in range(3):
        conn.request("GET", "/v1/%s/clusters" % PARENT)
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {}
    body = json.dumps({"displayName": "chunked"}).encode()

    def chunks():
        yield body[:5]
        yield body[5:]

    conn.request("POST", "/v1/%s/endpoints?endpointId=chunked" % PARENT, body=chunks(),
                 headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                 encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    resp.read()
    conn.close()
    assert not state("http://127.0.0.1:%d" % double["port"])["operations"][0]["done"]
