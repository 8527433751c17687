"""google.longrunning.Operation, as Artifact Registry and Vertex AI answer it, and helpers
shared by the JSON APIs (paging, update masks, name checks)."""

import base64
import copy

from .errors import ApiError, invalid, not_found
from .state import now_rfc3339

EMPTY = {"@type": "type.googleapis.com/google.protobuf.Empty"}


def lro_json(op):
    """op.extra: metadata_type, metadata (dict, without @type), response_type."""
    meta = dict(op.extra.get("metadata") or {})
    generic = meta.get("genericMetadata")
    if generic is not None and op.done:
        generic["updateTime"] = op.end_time
    out = {"name": op.name, "metadata": dict({"@type": op.extra["metadata_type"]}, **copy.deepcopy(meta))}
    if op.done:
        out["done"] = True
        if op.error is not None:
            out["error"] = op.error.rpc_status()
        else:
            resp = op.response
            if resp is None:
                out["response"] = dict(EMPTY)
            else:
                out["response"] = dict({"@type": op.extra["response_type"]}, **copy.deepcopy(resp))
    return out


def new_lro(ctx, api, name, target, finish, metadata_type, response_type=None, metadata=None, on_error=None):
    op = ctx.store.new_operation(api, name, target, finish, "lro", {
        "metadata_type": metadata_type, "response_type": response_type, "metadata": metadata or {},
        "on_error": on_error})
    fault = ctx.operation_fault()
    if fault is not None:
        op.forced_error = operation_fault_error(fault)
    return op


def operation_fault_error(fault):
    if fault.fault == "ZONE_RESOURCE_POOL_EXHAUSTED":
        return ApiError("RESOURCE_EXHAUSTED", fault.spec.get("message") or (
            "ZONE_RESOURCE_POOL_EXHAUSTED: The zone does not have enough resources available to fulfill the "
            "request. Try a different zone, or try again later."))
    e = fault.spec.get("error") or {}
    return ApiError(e.get("status", "INTERNAL"), e.get("message", "Operation failed."))


def get_lro(ctx, api):
    op = ctx.store.operations.get(ctx.name)
    if op is None or op.api != api:
        raise not_found("Operation \"%s\" not found." % ctx.name)
    op.poll()
    return lro_json(op)


def wait_lro(ctx, api, seconds=None):
    """operations.wait: poll until done (counting polls as GETs would), bounded."""
    op = ctx.store.operations.get(ctx.name)
    if op is None or op.api != api:
        raise not_found("Operation \"%s\" not found." % ctx.name)
    for _ in range(1000):
        if op.done:
            break
        op.poll()
        if op.done or op.ms_needed > 0:
            break
    return lro_json(op)


def paginate(items, query, key):
    size = int(query.get("pageSize") or 0)
    token = query.get("pageToken") or ""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode() + b"==").decode())
        except (ValueError, UnicodeDecodeError):
            raise invalid("Invalid page token.", field="page_token")
    if size <= 0:
        size = 1000
    page = items[start:start + size]
    out = {key: page} if page else {}
    if start + size < len(items):
        out["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode().rstrip("=")
    return out


def stamp(resource, created=False):
    t = now_rfc3339()
    if created:
        resource["createTime"] = t
    resource["updateTime"] = t
    return resource


def generic_metadata():
    t = now_rfc3339()
    return {"genericMetadata": {"createTime": t, "updateTime": t}}
