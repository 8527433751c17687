"""What the double holds: resources, operations, faults, and the knobs that drive them."""

import datetime
import fnmatch
import random
import re
import threading
import time

from .errors import ApiError, CODES


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Operation:
    """A long-running operation of any of the APIs.

    It completes on the `ready_after_polls`-th poll (a GET of the operation, or of the
    resource it acts on) once `ready_after_ms` have passed since it started; completing runs
    `finish`, which changes the resources and returns the response (or raises ApiError,
    which becomes the operation's error)."""

    def __init__(self, store, api, name, target, finish, kind, extra=None):
        self.store = store
        self.api = api
        self.name = name
        self.target = target
        self.finish = finish
        self.kind = kind
        self.extra = extra or {}
        self.started = time.monotonic()
        self.start_time = now_rfc3339()
        self.end_time = None
        self.polls = 0
        self.done = False
        self.response = None
        self.error = None  # ApiError
        self.forced_error = None  # ApiError to finish with (fault injection)
        self.polls_needed = store.config["readyAfterPolls"]
        self.ms_needed = store.config["readyAfterMs"]

    def poll(self):
        if self.done:
            return
        self.polls += 1
        if self.polls >= self.polls_needed and (time.monotonic() - self.started) * 1000 >= self.ms_needed:
            self.complete()

    def complete(self):
        if self.done:
            return
        self.done = True
        self.end_time = now_rfc3339()
        try:
            if self.forced_error is not None:
                raise self.forced_error
            self.response = self.finish()
        except ApiError as e:
            self.error = e
            on_error = self.extra.get("on_error")
            if on_error:
                on_error(e)


class Fault:
    def __init__(self, spec, fid):
        self.id = fid
        self.spec = spec
        self.method = spec.get("method")  # discovery id / gRPC method, glob
        self.path = re.compile(spec["path"]) if spec.get("path") else None
        self.http_method = (spec.get("httpMethod") or "").upper() or None
        self.times = spec.get("times", 1)
        self.fault = spec.get("fault")
        self.latency_ms = spec.get("latencyMs", 0)
        self.hits = 0

    def matches(self, method_id, http_method, path):
        if self.method and not fnmatch.fnmatchcase(method_id or "", self.method):
            return False
        if self.http_method and self.http_method != http_method:
            return False
        if self.path and not self.path.search(path or ""):
            return False
        return True

    def describe(self):
        d = dict(self.spec)
        d.update({"id": self.id, "remaining": self.times - self.hits if self.times is not None else None,
                  "hits": self.hits})
        return d


FAULT_PRESETS = {
    "RESOURCE_EXHAUSTED": (429, "RESOURCE_EXHAUSTED",
                           "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "ALREADY_EXISTS": (409, "ALREADY_EXISTS", "Resource already exists."),
    "ABORTED": (409, "ABORTED", "The operation was aborted due to a concurrent modification."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "DEADLINE_EXCEEDED": (504, "DEADLINE_EXCEEDED", "Deadline exceeded."),
    "PERMISSION_DENIED": (403, "PERMISSION_DENIED", "The caller does not have permission."),
    "NOT_FOUND": (404, "NOT_FOUND", "Not found."),
}
# Faults that are not an answer to the call but make the operation it starts fail.
OPERATION_FAULTS = {"ZONE_RESOURCE_POOL_EXHAUSTED", "OPERATION_ERROR"}


class Store:
    def __init__(self, seed=None, ready_after_polls=2, ready_after_ms=0, latency_ms=0):
        self.lock = threading.RLock()
        self.seed = seed
        self.config = {"readyAfterPolls": ready_after_polls, "readyAfterMs": ready_after_ms,
                       "latencyMs": latency_ms}
        self.reset()

    def reset(self):
        with self.lock:
            self.rng = random.Random(self.seed)
            self.resources = {}  # kind -> {name: resource}
            self.operations = {}  # name -> Operation
            self.faults = []
            self.fault_seq = 0
            self.extra = {}  # module-private state

    # ---- resources ----------------------------------------------------------------------

    def table(self, kind):
        return self.resources.setdefault(kind, {})

    def snapshot(self):
        res = {k: dict(v) for k, v in self.resources.items() if v}
        ops = []
        for op in self.operations.values():
            ops.append({"api": op.api, "name": op.name, "target": op.target, "kind": op.kind,
                        "done": op.done, "error": op.error.rpc_status() if op.error else None})
        return {"empty": not any(self.resources.values()), "resources": res, "operations": ops,
                "config": dict(self.config),
                "faults": [f.describe() for f in self.faults]}

    # ---- operations ---------------------------------------------------------------------

    def new_operation(self, api, name, target, finish, kind, extra=None):
        op = Operation(self, api, name, target, finish, kind, extra)
        self.operations[name] = op
        if op.polls_needed <= 0 and op.ms_needed <= 0:
            op.complete()
        return op

    def touch(self, target, children=False):
        """A GET of a resource counts as a poll of the operations running on it (and, with
        `children`, on what it contains: a GKE cluster's node pools)."""
        for op in list(self.operations.values()):
            if not op.done and op.target and (op.target == target
                                              or (children and op.target.startswith(target + "/"))):
                op.poll()

    def running_on(self, prefix):
        return [op for op in self.operations.values()
                if not op.done and op.target and (op.target == prefix or op.target.startswith(prefix + "/"))]

    # ---- ids ----------------------------------------------------------------------------

    def hex(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def digits(self, n):
        return str(self.rng.randint(1, 9)) + "".join(self.rng.choice("0123456789") for _ in range(n - 1))

    def uuid(self):
        h = self.hex(32)
        return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    # ---- faults -------------------------------------------------------------------------

    def add_fault(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        fault = spec.get("fault")
        if fault is not None and fault not in FAULT_PRESETS and fault not in OPERATION_FAULTS \
                and fault != "latency" and not isinstance(spec.get("error"), dict):
            raise ValueError("unknown fault %r; one of %s, or give \"error\": {code, status, message}"
                             % (fault, ", ".join(sorted(list(FAULT_PRESETS) + sorted(OPERATION_FAULTS) + ["latency"]))))
        if fault is None and not spec.get("error") and not spec.get("latencyMs"):
            raise ValueError("a fault needs \"fault\", \"error\" or \"latencyMs\"")
        if spec.get("path"):
            re.compile(spec["path"])
        with self.lock:
            self.fault_seq += 1
            f = Fault(spec, self.fault_seq)
            self.faults.append(f)
            return f.describe()

    def take_fault(self, method_id, http_method, path, operation=False):
        """The first matching fault (consumed), or None. `operation` selects faults that act
        on the operation a call starts (capacity) rather than on the call's answer."""
        with self.lock:
            for f in self.faults:
                is_op = f.fault in OPERATION_FAULTS
                if is_op != operation:
                    continue
                if f.times is not None and f.hits >= f.times:
                    continue
                if f.matches(method_id, http_method, path):
                    f.hits += 1
                    return f
        return None

    def fault_error(self, f):
        """The ApiError a call-level fault answers with (None for a latency-only fault)."""
        spec = f.spec
        headers = {}
        if isinstance(spec.get("error"), dict):
            e = spec["error"]
            status = e.get("status") or "UNKNOWN"
            http = e.get("code") or CODES.get(status, (2, 500))[1]
            message = e.get("message") or status
        elif f.fault in FAULT_PRESETS:
            http, status, message = FAULT_PRESETS[f.fault]
            message = spec.get("message", message)
            http = spec.get("code", http)
        else:
            return None
        if status not in CODES:
            status = "UNKNOWN"
        retry_after = spec.get("retryAfter")
        if retry_after is None and status == "RESOURCE_EXHAUSTED":
            retry_after = 1
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        details = spec.get("details")
        if details is None and retry_after is not None:
            details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "%ss" % retry_after}]
        return ApiError(status, message, http=http, details=details, headers=headers)
