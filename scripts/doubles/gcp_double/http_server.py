"""The HTTP/1.1 JSON side: control endpoints, routing, validation, fault injection."""

import http.server
import json
import sys
import time
import traceback
import urllib.parse

from . import registry
from .errors import ApiError, not_found

CONTROL_HELP = {
    "GET /__double/state": "everything the double holds (resources, operations, faults, config)",
    "POST /__double/reset": "forget every resource, operation and fault",
    "POST /__double/faults": "add a fault (JSON object, or a list of them); answers the faults added",
    "GET /__double/faults": "the faults and how often each was hit",
    "DELETE /__double/faults": "remove every fault",
    "POST /__double/config": "change readyAfterPolls / readyAfterMs / latencyMs",
    "POST /__double/operations/complete": "complete every running operation now",
}


class JsonServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, store, disc, numbers=None):
        from .projects import Numbers
        self.store = store
        self.disc = disc
        self.numbers = numbers or Numbers()
        super().__init__(addr, Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gcp-double"

    def log_message(self, fmt, *args):
        if getattr(self.server, "verbose", False):
            sys.stderr.write("%s\n" % (fmt % args))

    # every method goes through one path
    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                line = self.rfile.readline().strip()
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                chunks.append(self.rfile.read(n))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, code, body, headers=None, raw=None, content_type="application/json; charset=UTF-8"):
        data = raw if raw is not None else (json.dumps(body, indent=2) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error_json(self, err):
        self.send(err.http, err.body(), headers=err.headers)

    def handle_any(self):
        try:
            raw = self.read_body()
            split = urllib.parse.urlsplit(self.path)
            path = split.path
            query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
            if path.startswith("/__double/") or path == "/__double":
                return self.control(path, query, raw)
            latency = self.server.store.config.get("latencyMs") or 0
            if latency:
                time.sleep(latency / 1000.0)
            self.api_call(path, query, raw)
        except ApiError as e:
            self.send_error_json(e)
        except Exception as e:  # a bug in the double: say so, as a 500 in Google's shape
            traceback.print_exc()
            self.send_error_json(ApiError("INTERNAL", "GCP double internal error: %s: %s" % (type(e).__name__, e)))

    def api_call(self, path, query, raw):
        store, disc = self.server.store, self.server.disc
        numbers = self.server.numbers
        path = numbers.inbound(path)
        if raw and b"projects/" in raw and not path.startswith("/upload/"):
            try:
                raw = numbers.inbound(raw.decode("utf-8")).encode("utf-8")
            except UnicodeDecodeError:
                pass
        if path.startswith("/upload/storage/v1/b/") and "upload_id" in query and self.command in ("PUT", "POST",
                                                                                                  "DELETE"):
            from .storage_json import resumable_chunk
            fault = store.take_fault("storage.objects.insert", self.command, path)
            if fault is not None:
                if fault.latency_ms:
                    time.sleep(fault.latency_ms / 1000.0)
                err = store.fault_error(fault)
                if err is not None:
                    raise err
            code, out, headers = resumable_chunk(self.server, self.command, query, raw, self.headers,
                                                 "http://" + (self.headers.get("Host") or "127.0.0.1"))
            return self.send(code, out, headers=headers, raw=b"" if out is None else None)
        candidates = disc.route(self.command, path)
        if not candidates and path.startswith("/ui/"):
            # aiplatform's service config binds the google.longrunning.Operations mixin to
            # /ui/{name=projects/*/locations/**/operations/*} as well as /v1/...; the official
            # clients use the /ui/ binding. It is not in the discovery document.
            path = "/v1/" + path[len("/ui/"):]
            candidates = [(m, v) for m, v in disc.route(self.command, path)
                          if m.api == "aiplatform" and ".operations." in m.id]
        if not candidates:
            raise not_found("Method not found: %s %s is not a method of the container, artifactregistry, "
                            "aiplatform or storage discovery documents." % (self.command, path))
        method, variables = registry.resolve(candidates, store, path)
        # call-level faults answer before anything else
        fault = store.take_fault(method.id, self.command, path)
        if fault is not None:
            if fault.latency_ms:
                time.sleep(fault.latency_ms / 1000.0)
            err = store.fault_error(fault)
            if err is not None:
                raise err
        q = disc.validate_query(method, query)
        body = None
        if method.upload:
            body = None  # the storage module parses media / multipart bodies itself
        else:
            body = disc.validate_body(method, raw)
        handler = registry.HANDLERS.get(method.id)
        if handler is None:
            raise registry.unimplemented(method)
        ctx = registry.Ctx(self.server, method, variables, path, q, body, raw, self.headers, self.command)
        with store.lock:
            result = handler(ctx)
        code, out, headers = 200, result, None
        if isinstance(result, tuple):
            code, out = result[0], result[1]
            headers = result[2] if len(result) > 2 else None
        if method.api == "aiplatform" and out is not None:
            with store.lock:
                out = numbers.outbound(out)
        if out is None:
            self.send(code, None, headers=headers, raw=b"")
        elif isinstance(out, dict) and "__raw__" in out:
            self.send(code, None, headers=headers, raw=out["__raw__"], content_type=out["contentType"])
        else:
            self.send(code, out, headers=headers)

    def control(self, path, query, raw):
        store = self.server.store
        try:
            data = json.loads(raw) if raw.strip() else None
        except ValueError as e:
            raise ApiError("INVALID_ARGUMENT", "control body is not JSON: %s" % e)
        cmd = (self.command, path.rstrip("/"))
        with store.lock:
            if cmd == ("GET", "/__double/state"):
                return self.send(200, store.snapshot())
            if cmd == ("POST", "/__double/reset"):
                store.reset()
                return self.send(200, {"reset": True})
            if cmd == ("GET", "/__double/faults"):
                return self.send(200, {"faults": [f.describe() for f in store.faults]})
            if cmd == ("DELETE", "/__double/faults"):
                store.faults = []
                return self.send(200, {"faults": []})
            if cmd == ("POST", "/__double/faults"):
                specs = data if isinstance(data, list) else [data]
                try:
                    added = [store.add_fault(s) for s in specs]
                except (ValueError, TypeError) as e:
                    raise ApiError("INVALID_ARGUMENT", str(e))
                return self.send(200, {"faults": added})
            if cmd == ("POST", "/__double/config"):
                if not isinstance(data, dict) or not set(data) <= set(store.config):
                    raise ApiError("INVALID_ARGUMENT", "config keys: %s" % ", ".join(sorted(store.config)))
                for k, v in data.items():
                    if not isinstance(v, (int, float)) or v < 0:
                        raise ApiError("INVALID_ARGUMENT", "%s must be a non-negative number" % k)
                    store.config[k] = v
                return self.send(200, {"config": store.config})
            if cmd == ("POST", "/__double/operations/complete"):
                n = 0
                for op in list(store.operations.values()):
                    if not op.done:
                        op.complete()
                        n += 1
                return self.send(200, {"completed": n})
            if cmd == ("GET", "/__double"):
                return self.send(200, {"endpoints": CONTROL_HELP})
        raise ApiError("NOT_FOUND", "no control endpoint %s %s; see GET /__double" % cmd)
