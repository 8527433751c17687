"""HTTPS: ARM routes, the Entra token endpoint, and the double's control endpoints."""

import http.server
import json
import re
import sys
import time
import traceback
import urllib.parse

from .arm import RESOURCE_GROUP_VERSIONS, TYPES, ArmError

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

CONTROL_HELP = {
    "GET /__double/state": "everything the double holds (resource groups, resources, operations, faults, config)",
    "POST /__double/reset": "forget every resource, operation and fault",
    "POST /__double/faults": "add a fault (JSON object, or a list of them); answers the faults added",
    "GET /__double/faults": "the faults and how often each was hit",
    "DELETE /__double/faults": "remove every fault",
    "POST /__double/config": "change readyAfterPolls / readyAfterMs / latencyMs / retryAfter",
    "POST /__double/operations/complete": "complete every running operation now",
}


class Ref:
    """A parsed resource path."""

    def __init__(self, base, sub, rg, ns, segments, api_version):
        self.base, self.sub, self.rg, self.ns, self.api_version = base, sub, rg, ns, api_version
        types = [segments[i] for i in range(0, len(segments), 2)]
        names = [segments[i] for i in range(1, len(segments), 2)]
        self.is_collection = len(types) > len(names)
        canon = _canonical(ns, types)
        if canon is None:
            raise ArmError(400, "InvalidResourceType", "The resource type '%s' could not be found in the namespace "
                           "'%s' for api version '%s'." % ("/".join(types), ns, api_version))
        self.ns, self.types, self.names = canon[0], canon[1], names
        self.type_path = "/".join(self.types)
        self.full_type = "%s/%s" % (self.ns, self.type_path)
        rg_id = "/subscriptions/%s/resourceGroups/%s" % (sub, rg)
        parts = [rg_id, "providers", self.ns]
        for t, n in zip(self.types, self.names):
            parts += [t, n]
        if self.is_collection:
            parts.append(self.types[-1])
        self.id = "/".join(parts)
        self.key = self.id.lower()
        self.name = names[-1] if names and not self.is_collection else None
        n_parent = len(names) - (0 if self.is_collection else 1)
        if n_parent > 0:
            pparts = [rg_id, "providers", self.ns]
            for t, n in zip(self.types[:n_parent], names[:n_parent]):
                pparts += [t, n]
            self.parent_key = "/".join(pparts).lower()
            self.parent_type = "%s/%s" % (self.ns, "/".join(self.types[:n_parent]))
            self.parent_name = names[n_parent - 1]
        else:
            self.parent_key = self.parent_type = self.parent_name = None
        self.rg_key = rg_id.lower()


def _canonical(ns, types):
    for (tns, tpath) in TYPES:
        if tns.lower() == ns.lower() and tpath.lower() == "/".join(types).lower():
            return tns, tpath.split("/")
    return None


class ArmServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, store, tls_context):
        self.store = store
        self.tls = tls_context
        self.verbose = False
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # the handshake happens in the request's own thread, on its first read
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "azure-double"

    def setup(self):
        try:
            self.request.do_handshake()
        except (OSError, ValueError):
            self.close_connection = True
        super().setup()

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s\n" % (fmt % args))

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, code, body=None, headers=None):
        data = b"" if body is None else (json.dumps(body, indent=2) + "\n").encode()
        self.send_response(code)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", self._request_id)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    def handle_any(self):
        store = self.server.store
        store.requests += 1
        self._request_id = "%08x-double" % store.requests
        if store.latency_ms:
            time.sleep(store.latency_ms / 1000.0)
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        raw = self.read_body()
        form = path.endswith("/oauth2/v2.0/token")
        try:
            body = json.loads(raw) if raw.strip() and not form else None
        except ValueError as e:
            return self.send(400, {"error": {"code": "InvalidRequestContent",
                                             "message": "The request content is not valid JSON: %s" % e}})
        try:
            if path.startswith("/__double"):
                return self.control(path, body)
            m = re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", path)
            if m and self.command == "POST":
                return self.token(m.group(1), raw)
            m = re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", path)
            if m:
                return self.openid(m.group(1))
            if path.lower().startswith("/subscriptions/"):
                return self.arm(path, query, body)
            raise ArmError(404, "NotFound", "No route for %s %s on the Azure double." % (self.command, path))
        except ArmError as e:
            hdr = dict(e.headers)
            if e.status == 401:
                hdr.setdefault("WWW-Authenticate", 'Bearer authorization_uri="https://%s/common", '
                               'error="invalid_token"' % self.headers.get("Host", "127.0.0.1"))
            return self.send(e.status, e.body(), hdr)
        except Exception as e:  # a bug in the double: say so, never hang the client
            traceback.print_exc()
            return self.send(500, {"error": {"code": "InternalServerError", "message": "azure double: %r" % e}})

    # -- Entra ---------------------------------------------------------------------------
    def token(self, tenant, raw):
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        if form.get("grant_type") != "client_credentials":
            return self.send(400, {"error": "unsupported_grant_type",
                                   "error_description": "AADSTS70003: the double serves client_credentials only"})
        if not form.get("client_id") or not (form.get("client_secret") or form.get("client_assertion")):
            return self.send(400, {"error": "invalid_request",
                                   "error_description": "AADSTS900144: client_id and a secret are required"})
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            return self.send(400, {"error": "invalid_scope",
                                   "error_description": "AADSTS1002012: the scope %r is not a .default scope" % scope})
        self.server.store.token_requests.append({
            "tenant": tenant, "clientId": form["client_id"],
            "method": "assertion" if form.get("client_assertion") else "secret"})
        return self.send(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                               "access_token": self.server.store.issue_token(
                                   scope, tenant, form["client_id"])})

    def openid(self, tenant):
        host = "https://%s" % self.headers.get("Host", "127.0.0.1")
        return self.send(200, {"token_endpoint": "%s/%s/oauth2/v2.0/token" % (host, tenant),
                               "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (host, tenant),
                               "issuer": "%s/%s/v2.0" % (host, tenant),
                               "token_endpoint_auth_methods_supported": ["client_secret_post"]})

    # -- control -------------------------------------------------------------------------
    def control(self, path, body):
        store = self.server.store
        cmd = (self.command, path.rstrip("/"))
        if cmd == ("GET", "/__double"):
            return self.send(200, CONTROL_HELP)
        if cmd == ("GET", "/__double/state"):
            return self.send(200, store.view())
        if cmd == ("POST", "/__double/reset"):
            store.reset()
            return self.send(200, {})
        if cmd == ("POST", "/__double/faults"):
            return self.send(200, store.add_faults(body or {}))
        if cmd == ("GET", "/__double/faults"):
            return self.send(200, [f.view() for f in store.faults])
        if cmd == ("DELETE", "/__double/faults"):
            store.faults.clear()
            return self.send(200, {})
        if cmd == ("POST", "/__double/config"):
            return self.send(200, store.configure(body or {}))
        if cmd == ("POST", "/__double/operations/complete"):
            store.complete_all()
            return self.send(200, {})
        raise ArmError(404, "NotFound", "unknown control endpoint %s %s; GET /__double lists them" % cmd)

    # -- ARM -----------------------------------------------------------------------------
    def auth(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Bearer ") or not h[7:].strip():
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                           "missing.")
        if self.command not in ("GET", "HEAD") and h[7:].strip() not in self.server.store.tokens:
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid: it was not issued by "
                           "this double's token endpoint.")

    def arm(self, path, query, body):
        self.auth()
        store = self.server.store
        base = "https://%s" % self.headers.get("Host", "127.0.0.1")
        segs = [s for s in path.split("/") if s]
        # segs[0] == "subscriptions"
        if len(segs) < 2:
            raise ArmError(404, "NotFound", "No route for %s." % path)
        sub = segs[1]
        if not GUID.match(sub):
            raise ArmError(400, "InvalidSubscriptionId", "The provided subscription identifier '%s' is malformed or "
                           "invalid." % sub)
        api = query.get("api-version")
        if not api:
            raise ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is "
                           "required for all requests.")
        fault = store.fault_for(self.command, path)
        if fault is not None and fault.latency_ms:
            time.sleep(fault.latency_ms / 1000.0)
            if fault.delay_only:
                fault = None
        if fault is not None and not fault.operation:
            hdr = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            raise ArmError(fault.status, fault.code, fault.message, hdr)
        rest = segs[2:]
        # /subscriptions/S/providers/NS/locations/L/(operations|operationResults|operationStatuses)/ID
        if len(rest) == 6 and rest[0].lower() == "providers" and rest[2].lower() == "locations":
            return self.operation(rest[4], rest[5])
        if not rest or rest[0].lower() != "resourcegroups":
            raise ArmError(404, "NotFound", "No route for %s on the Azure double." % path)
        if len(rest) == 1:
            self._check_api(api, RESOURCE_GROUP_VERSIONS, "resourceGroups", "Microsoft.Resources")
            subkey = ("/subscriptions/%s/" % sub).lower()
            return self.send(200, {"value": [g for k, g in sorted(store.groups.items()) if k.startswith(subkey)]})
        rg = rest[1]
        if len(rest) == 2:
            self._check_api(api, RESOURCE_GROUP_VERSIONS, "resourceGroups", "Microsoft.Resources")
            return self.resource_group(sub, rg, body)
        if len(rest) < 5 or rest[2].lower() != "providers":
            raise ArmError(404, "NotFound", "No route for %s on the Azure double." % path)
        ref = Ref(base, sub, rg, rest[3], rest[4:], api)
        want = store.schemas.api_version(ref.ns, ref.type_path) or TYPES[(ref.ns, ref.type_path)].get("api")
        self._check_api(api, (want,), ref.type_path, ref.ns)
        return self.resource(ref, body, fault)

    def _check_api(self, api, allowed, rtype, ns):
        if api not in allowed:
            raise ArmError(400, "NoRegisteredProviderFound", "No registered resource provider found for location "
                           "and API version '%s' for type '%s'. The supported api-versions are '%s'."
                           % (api, rtype, ", ".join(allowed)))

    def resource_group(self, sub, rg, body):
        store = self.server.store
        if self.command in ("GET", "HEAD"):
            g = store.group(sub, rg, must=False)
            if self.command == "HEAD":
                return self.send(204 if g else 404)
            if g is None:
                raise ArmError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)
            return self.send(200, g)
        if self.command == "PUT":
            status, g = store.put_group(sub, rg, body or {})
            return self.send(status, g)
        if self.command == "PATCH":
            g = store.group(sub, rg)
            if body and "tags" in body:
                g["tags"] = body["tags"]
            return self.send(200, g)
        if self.command == "DELETE":
            op = store.delete_group(sub, rg)
            if op is None:
                return self.send(404, {"error": {"code": "ResourceGroupNotFound",
                                                 "message": "Resource group '%s' could not be found." % rg}})
            loc = "https://%s/subscriptions/%s/providers/Microsoft.Resources/locations/%s/operationResults/%s" \
                  "?api-version=2024-03-01" % (self.headers.get("Host"), sub, op.location, op.id)
            return self.send(202, None, {"Location": loc, "Retry-After": store.retry_after})
        raise ArmError(405, "MethodNotAllowed", "%s is not allowed on a resource group" % self.command)

    def resource(self, ref, body, fault):
        store = self.server.store
        if ref.is_collection:
            if self.command != "GET":
                raise ArmError(405, "MethodNotAllowed", "%s is not allowed on a collection" % self.command)
            store.group(ref.sub, ref.rg)
            if ref.parent_key and store.get_or_implicit_parent(ref) is None:
                raise ArmError(404, "ParentResourceNotFound", "Parent resource '%s' not found." % ref.parent_name)
            return self.send(200, {"value": store.list(ref.parent_key or ref.rg_key + "/", ref.ns, ref.type_path)})
        if self.command in ("GET", "HEAD"):
            store.group(ref.sub, ref.rg)
            r = store.get_or_implicit(ref)
            if r is None:
                raise ArmError(404, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not "
                               "found." % (ref.full_type, ref.name, ref.rg))
            return self.send(200, r)
        if self.command in ("PUT", "PATCH", "DELETE") and TYPES[(ref.ns, ref.type_path)].get("read_only"):
            raise ArmError(405, "MethodNotAllowed", "%s is read-only: Azure ML derives it." % ref.full_type)
        if self.command in ("PUT", "PATCH"):
            if body is None:
                raise ArmError(400, "InvalidRequestContent", "The request content was invalid: a JSON body is "
                               "required.")
            if self.command == "PATCH" and not TYPES[(ref.ns, ref.type_path)].get("patch"):
                raise ArmError(405, "MethodNotAllowed", "PATCH is not supported for %s" % ref.full_type)
            status, out, hdr = store.put(ref, body, fault if fault and fault.operation else None,
                                         patch=self.command == "PATCH")
            if hdr:
                hdr["Retry-After"] = store.retry_after
            return self.send(status, out, hdr)
        if self.command == "DELETE":
            status, out, hdr = store.delete(ref, fault if fault and fault.operation else None)
            if hdr:
                hdr["Retry-After"] = store.retry_after
            return self.send(status, out, hdr)
        raise ArmError(405, "MethodNotAllowed", "%s is not allowed" % self.command)

    def operation(self, kind, op_id):
        store = self.server.store
        op = store.poll(op_id)
        if op is None:
            raise ArmError(404, "NotFound", "The operation '%s' was not found." % op_id)
        k = kind.lower()
        if k in ("operations", "operationstatuses"):
            return self.send(200, store.op_status(op))
        if k == "operationresults":
            if op.status == "InProgress":
                return self.send(202, None, {"Location": self._self_url(), "Retry-After": store.retry_after})
            if op.status == "Failed":
                return self.send(400, {"error": op.error})
            if op.kind == "delete":
                return self.send(204)
            r = store.get(op.resource_key)
            return self.send(200, r) if r is not None else self.send(204)
        raise ArmError(404, "NotFound", "No route for operation kind %s." % kind)

    def _self_url(self):
        return "https://%s%s" % (self.headers.get("Host", "127.0.0.1"), self.path)
