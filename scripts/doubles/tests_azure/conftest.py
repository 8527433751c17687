"""Starts the Azure double once (scripts/doubles/azure --port P --ca-out FILE, waiting for its
`ready` line) and gives the tests Microsoft's official clients pointed at it: azure-identity's
ClientSecretCredential against its Entra token endpoint, and the management clients against
its ARM, trusting its test CA."""

import os
import select
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests
from azure.identity import ClientSecretCredential

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "..", "azure")
SUBSCRIPTION = "11111111-2222-4333-8444-555555555555"
TENANT = "00000000-0000-0000-0000-0000000000aa"
SCOPE = "https://management.azure.com/.default"

# The api-versions mlinfra pins (providers/azure): the newest stable ones in the ARM schemas.
STORAGE_API = "2026-04-01"
REGISTRY_API = "2025-11-01"
AKS_API = "2026-05-01"
RESOURCES_API = "2024-03-01"
# Storage accounts whose blob data the double serves through Azurite (--blob-accounts).
BLOB_ACCOUNTS = ("checkfs1",)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="session")
def double():
    port = _free_port()
    ca = os.path.join(tempfile.mkdtemp(prefix="azure-check-"), "ca.pem")
    proc = subprocess.Popen([DOUBLE, "--port", str(port), "--ca-out", ca, "--seed", "7",
                             "--blob-accounts", ",".join(BLOB_ACCOUNTS)],
                            stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    deadline = time.time() + 600
    line = ""
    while time.time() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 1.0)
        if r:
            line = proc.stdout.readline()
            if line.strip() == "ready" or not line:
                break
        if proc.poll() is not None:
            break
    if line.strip() != "ready":
        proc.kill()
        pytest.fail("the Azure double did not print ready (got %r, exit %s)" % (line, proc.poll()))
    yield {"base": "https://127.0.0.1:%d" % port, "ca": ca, "proc": proc}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def base(double):
    return double["base"]


@pytest.fixture
def ca(double):
    return double["ca"]


@pytest.fixture(autouse=True)
def fresh(double):
    requests.post(double["base"] + "/__double/reset", verify=double["ca"]).raise_for_status()
    requests.post(double["base"] + "/__double/config", verify=double["ca"],
                  json={"readyAfterPolls": 2, "readyAfterMs": 0, "latencyMs": 0, "retryAfter": 0}
                  ).raise_for_status()
    yield


@pytest.fixture
def credential(double):
    """azure-identity's own client-credentials flow (through MSAL) against the double."""
    return ClientSecretCredential(TENANT, "check-client", "check-secret", authority=double["base"],
                                  connection_verify=double["ca"], disable_instance_discovery=True)


@pytest.fixture
def client(double, credential):
    """make(ClientClass, **kwargs): a management client pointed at the double."""
    def make(cls, **kwargs):
        return cls(credential, SUBSCRIPTION, base_url=double["base"], connection_verify=double["ca"],
                   credential_scopes=[SCOPE], polling_interval=0, **kwargs)
    return make


def faults(double, *specs):
    requests.post(double["base"] + "/__double/faults", json=list(specs), verify=double["ca"]).raise_for_status()


def fault_hits(double):
    return requests.get(double["base"] + "/__double/faults", verify=double["ca"]).json()
