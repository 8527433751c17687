"""google.storage.v2.Storage over gRPC: the bucket methods, ListObjects, GetObject and
DeleteObject. The messages are those of the GAPIC package in google-cloud-storage
(google.cloud._storage_v2); other methods answer UNIMPLEMENTED."""

import concurrent.futures
import time

import grpc
from google.protobuf import any_pb2, duration_pb2, empty_pb2, field_mask_pb2, json_format
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from google.cloud._storage_v2.types import storage as _st

from . import storage as model
from .errors import ApiError, CODES

SERVICE = "google.storage.v2.Storage"
Bucket = _st.Bucket.pb()
Object = _st.Object.pb()
IMMUTABLE = {"name", "bucket_id", "project", "location", "location_type", "create_time", "update_time",
             "metageneration", "etag", "owner", "satisfies_pzs", "custom_placement_config", "hierarchical_namespace",
             "object_retention"}


def _pb(cls, d):
    m = cls()
    json_format.ParseDict(d, m, ignore_unknown_fields=True)
    return m


def _dict(m):
    return json_format.MessageToDict(m, preserving_proto_field_name=False)


class Abort(Exception):
    def __init__(self, err):
        self.err = err


def _abort(context, err):
    code = grpc.StatusCode[err.status] if err.status in grpc.StatusCode.__members__ else grpc.StatusCode.UNKNOWN
    st = status_pb2.Status(code=code.value[0], message=err.message)
    for d in err.details:
        if d.get("@type", "").endswith("google.rpc.RetryInfo"):
            info = error_details_pb2.RetryInfo()
            secs = float(str(d.get("retryDelay", "1s")).rstrip("s"))
            info.retry_delay.CopyFrom(duration_pb2.Duration(seconds=int(secs), nanos=int((secs % 1) * 1e9)))
            a = any_pb2.Any()
            a.Pack(info)
            st.details.append(a)
    context.abort_with_status(rpc_status.to_status(st))


class Servicer:
    def __init__(self, store):
        self.store = store

    def call(self, method, fn, request, context):
        store = self.store
        latency = store.config.get("latencyMs") or 0
        if latency:
            time.sleep(latency / 1000.0)
        full = "%s/%s" % (SERVICE, method)
        fault = store.take_fault(full, "GRPC", "/" + full)
        if fault is not None:
            if fault.latency_ms:
                time.sleep(fault.latency_ms / 1000.0)
            err = store.fault_error(fault)
            if err is not None:
                _abort(context, err)
        try:
            with store.lock:
                return fn(request)
        except ApiError as e:
            _abort(context, e)

    # ---- buckets ------------------------------------------------------------------------

    def CreateBucket(self, req):
        parent = req.parent
        if not parent.startswith("projects/") or parent.count("/") != 1 or parent == "projects/_":
            parent = req.bucket.project or parent
        if not parent.startswith("projects/") or parent.count("/") != 1 or parent == "projects/_":
            raise ApiError("INVALID_ARGUMENT", "Invalid project in parent: '%s'; expected projects/{project}."
                           % req.parent)
        if not req.bucket_id:
            raise ApiError("INVALID_ARGUMENT", "bucket_id is required.")
        b = model.create_bucket(self.store, parent.split("/")[1], req.bucket_id, _dict(req.bucket))
        return _pb(Bucket, b)

    def GetBucket(self, req):
        b = model.get_bucket(self.store, model.bucket_id_of(req.name))
        model.check_metageneration(b, req.if_metageneration_match if req.HasField("if_metageneration_match")
                                   else None, req.if_metageneration_not_match
                                   if req.HasField("if_metageneration_not_match") else None)
        out = _pb(Bucket, b)
        if req.HasField("read_mask") and req.read_mask.paths and "*" not in req.read_mask.paths:
            masked = Bucket()
            req.read_mask.MergeMessage(out, masked)
            out = masked
        return out

    def DeleteBucket(self, req):
        bid = model.bucket_id_of(req.name)
        b = model.get_bucket(self.store, bid)
        model.check_metageneration(b, req.if_metageneration_match if req.HasField("if_metageneration_match")
                                   else None, req.if_metageneration_not_match
                                   if req.HasField("if_metageneration_not_match") else None)
        model.delete_bucket(self.store, bid)
        return empty_pb2.Empty()

    def UpdateBucket(self, req):
        bid = model.bucket_id_of(req.bucket.name)
        b = model.get_bucket(self.store, bid)
        model.check_metageneration(b, req.if_metageneration_match if req.HasField("if_metageneration_match")
                                   else None, req.if_metageneration_not_match
                                   if req.HasField("if_metageneration_not_match") else None)
        if not req.HasField("update_mask") or not req.update_mask.paths:
            raise ApiError("INVALID_ARGUMENT", "update_mask is required.")
        paths = list(req.update_mask.paths)
        current = _pb(Bucket, b)
        if paths == ["*"]:
            new = Bucket()
            new.CopyFrom(req.bucket)
            for f in IMMUTABLE:
                setattr_copy(new, current, f)
        else:
            for p in paths:
                top = p.split(".")[0]
                if top not in Bucket.DESCRIPTOR.fields_by_name:
                    raise ApiError("INVALID_ARGUMENT", "Invalid update_mask path: '%s'." % p)
                if top in IMMUTABLE:
                    raise ApiError("INVALID_ARGUMENT", "Field '%s' cannot be updated." % p)
            if req.bucket.storage_class and req.bucket.storage_class.upper() not in model.STORAGE_CLASSES:
                raise ApiError("INVALID_ARGUMENT", "Invalid storage class: '%s'." % req.bucket.storage_class)
            new = Bucket()
            new.CopyFrom(current)
            # labels.KEY paths update one label
            plain = []
            for p in paths:
                if p.startswith("labels."):
                    key = p[len("labels."):]
                    if key in req.bucket.labels:
                        new.labels[key] = req.bucket.labels[key]
                    else:
                        new.labels.pop(key, None)
                else:
                    plain.append(p)
            if plain:
                field_mask_pb2.FieldMask(paths=plain).MergeMessage(req.bucket, new, replace_message_field=True,
                                                                   replace_repeated_field=True)
        d = _dict(new)
        d["storageClass"] = d.get("storageClass", "STANDARD").upper()
        b.clear()
        b.update(d)
        model.touch_bucket(b)
        return _pb(Bucket, b)

    def ListBuckets(self, req):
        if not req.parent.startswith("projects/") or req.parent.count("/") != 1:
            raise ApiError("INVALID_ARGUMENT", "Invalid parent: '%s'; expected projects/{project}." % req.parent)
        items = model.list_buckets(self.store, req.parent.split("/")[1], req.prefix)
        start = int(req.page_token) if req.page_token.isdigit() else 0
        size = req.page_size if req.page_size > 0 else 1000
        page = items[start:start + size]
        resp = _st.ListBucketsResponse.pb()()
        for b in page:
            resp.buckets.append(_pb(Bucket, b))
        if start + size < len(items):
            resp.next_page_token = str(start + size)
        return resp

    # ---- objects ------------------------------------------------------------------------

    def ListObjects(self, req):
        bid = model.bucket_id_of(req.parent)
        objs, prefixes = model.list_objects(self.store, bid, req.prefix, req.delimiter,
                                            req.include_trailing_delimiter)
        start = int(req.page_token) if req.page_token.isdigit() else 0
        size = req.page_size if req.page_size > 0 else 1000
        resp = _st.ListObjectsResponse.pb()()
        for o in objs[start:start + size]:
            resp.objects.append(_pb(Object, o))
        resp.prefixes.extend(prefixes)
        if start + size < len(objs):
            resp.next_page_token = str(start + size)
        return resp

    def GetObject(self, req):
        o = model.get_object(self.store, model.bucket_id_of(req.bucket), getattr(req, "object_"),
                             req.generation or None)
        return _pb(Object, o)

    def DeleteObject(self, req):
        model.delete_object(self.store, model.bucket_id_of(req.bucket), getattr(req, "object_"),
                            req.generation or None,
                            req.if_generation_match if req.HasField("if_generation_match") else None)
        return empty_pb2.Empty()


def setattr_copy(dst, src, field):
    fd = dst.DESCRIPTOR.fields_by_name[field]
    if fd.message_type is not None:
        dst.ClearField(field)
        if src.HasField(field):
            getattr(dst, field).CopyFrom(getattr(src, field))
    else:
        setattr(dst, field, getattr(src, field))


METHODS = {
    "CreateBucket": (_st.CreateBucketRequest, Bucket),
    "GetBucket": (_st.GetBucketRequest, Bucket),
    "DeleteBucket": (_st.DeleteBucketRequest, empty_pb2.Empty),
    "UpdateBucket": (_st.UpdateBucketRequest, Bucket),
    "ListBuckets": (_st.ListBucketsRequest, _st.ListBucketsResponse.pb()),
    "ListObjects": (_st.ListObjectsRequest, _st.ListObjectsResponse.pb()),
    "GetObject": (_st.GetObjectRequest, Object),
    "DeleteObject": (_st.DeleteObjectRequest, empty_pb2.Empty),
}


def serve(store):
    servicer = Servicer(store)
    handlers = {}
    for name, (req_cls, resp_cls) in METHODS.items():
        req_pb = req_cls.pb()
        fn = getattr(servicer, name)

        def make(name=name, fn=fn):
            return lambda request, context: servicer.call(name, fn, request, context)

        handlers[name] = grpc.unary_unary_rpc_method_handler(
            make(), request_deserializer=req_pb.FromString, response_serializer=resp_cls.SerializeToString)
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


__all__ = ["serve", "CODES"]
