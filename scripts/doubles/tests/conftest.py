"""Starts the GCP double once (scripts/doubles/gcp --port P, waiting for its `ready` line)
and gives the tests Google's official clients pointed at it with anonymous credentials."""

import json
import os
import select
import socket
import subprocess
import sys
import time

import pytest
import requests
from google.api_core import retry as retries
from google.api_core.future import polling
from google.auth.credentials import AnonymousCredentials

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "..", "gcp")
PROJECT = "demo"
REGION = "us-central1"
PARENT = "projects/%s/locations/%s" % (PROJECT, REGION)
sys.path.insert(0, os.path.join(HERE, ".."))
from gcp_double.projects import number_of  # noqa: E402

# Vertex AI answers names with the project number.
VPARENT = "projects/%s/locations/%s" % (number_of(PROJECT), REGION)

# The clients' default LRO polling waits 1s, 1.5s, ...; the double needs no such patience.
FAST = retries.Retry(predicate=polling.POLLING_PREDICATE, initial=0.02, maximum=0.1, multiplier=1.5, timeout=30)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="session")
def double():
    port = _free_port()
    proc = subprocess.Popen([DOUBLE, "--port", str(port), "--seed", "7"], stdout=subprocess.PIPE,
                            stderr=sys.stderr, text=True)
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
        pytest.fail("the GCP double did not print ready (got %r, exit %s)" % (line, proc.poll()))
    base = "http://127.0.0.1:%d" % port
    yield {"base": base, "port": port, "proc": proc}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def base(double):
    return double["base"]


@pytest.fixture(autouse=True)
def fresh(double):
    requests.post(double["base"] + "/__double/reset").raise_for_status()
    requests.post(double["base"] + "/__double/config",
                  json={"readyAfterPolls": 2, "readyAfterMs": 0, "latencyMs": 0}).raise_for_status()
    yield


def state(base):
    return requests.get(base + "/__double/state").json()


def fault(base, **spec):
    r = requests.post(base + "/__double/faults", json=spec)
    r.raise_for_status()
    return r.json()["faults"][0]


def client_options(base):
    from google.api_core.client_options import ClientOptions
    return ClientOptions(api_endpoint=base)


@pytest.fixture
def creds():
    return AnonymousCredentials()


def raw(base, method, path, body=None, **params):
    """A plain HTTP call, for what a client would not send."""
    data = json.dumps(body) if body is not None and not isinstance(body, (str, bytes)) else body
    return requests.request(method, base + path, data=data, params=params,
                            headers={"Content-Type": "application/json"})


def status_of(exc):
    """The google.rpc status name of a REST error (FAILED_PRECONDITION arrives as HTTP 400,
    which the clients raise as BadRequest)."""
    return exc.value.response.json()["error"]["status"]
