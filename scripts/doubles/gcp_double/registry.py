"""Handlers by discovery method id, and the context a handler gets."""

from .errors import ApiError

HANDLERS = {}


def handles(*method_ids):
    def deco(fn):
        for m in method_ids:
            HANDLERS[m] = fn
        return fn
    return deco


class Ctx:
    """One JSON request, validated."""

    def __init__(self, server, method, variables, path, query, body, raw, headers, http_method):
        self.server = server
        self.store = server.store
        self.disc = server.disc
        self.method = method
        self.vars = variables
        self.path = path
        self.query = query
        self.body = body
        self.raw = raw
        self.headers = headers
        self.http_method = http_method
        host = headers.get("Host") or "127.0.0.1"
        self.base_url = "http://" + host
        # The resource name the path acts on: after the version, before a custom verb.
        p = path
        for prefix in ("/v1/", "/storage/v1/", "/upload/storage/v1/"):
            if p.startswith(prefix):
                p = p[len(prefix):]
                break
        if ":" in p.rsplit("/", 1)[-1]:
            p = p[:p.rindex(":")]
        self.name = p

    def operation_fault(self):
        """A fault that makes the operation this call starts fail (consumed), or None."""
        return self.store.take_fault(self.method.id, self.http_method, self.path, operation=True)


def resolve(candidates, store, path):
    """Choose among the methods of several documents that match one path."""
    with_handler = [(m, v) for m, v in candidates if m.id in HANDLERS]
    if not with_handler:
        return candidates[0]
    if len(with_handler) == 1:
        return with_handler[0]
    name = path
    for prefix in ("/v1/",):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name[:name.rindex(":")]
    op = store.operations.get(name)
    if op is not None:
        for m, v in with_handler:
            if m.api == op.api:
                return m, v
    return with_handler[0]


def unimplemented(method):
    return ApiError("UNIMPLEMENTED",
                    "Method %s is in the discovery document but not modelled by the GCP double." % method.id,
                    http=501)
