"""Cloud Storage JSON API (storage v1): object upload (media and multipart), listing, get,
download and delete, and bucket get/list/insert/delete, on the same state as the gRPC side."""

import base64
import email.parser
import email.policy
import json
import struct
import urllib.parse

from . import storage as model
from .errors import ApiError, invalid
from .registry import handles


def bucket_v1(ctx, b):
    bid = b["bucketId"]
    out = {"kind": "storage#bucket", "id": bid, "name": bid,
           "selfLink": "%s/storage/v1/b/%s" % (ctx.base_url, bid),
           "projectNumber": b["project"].split("/")[1], "metageneration": b["metageneration"],
           "location": b["location"], "locationType": b.get("locationType"), "storageClass": b["storageClass"],
           "etag": b["etag"], "timeCreated": b["createTime"], "updated": b["updateTime"], "rpo": b.get("rpo")}
    if b.get("labels"):
        out["labels"] = b["labels"]
    if b.get("versioning"):
        out["versioning"] = {"enabled": bool(b["versioning"].get("enabled"))}
    return out


def object_v1(ctx, o):
    bid = o["bucket"].split("/")[-1]
    enc = urllib.parse.quote(o["name"], safe="")
    out = {"kind": "storage#object", "id": "%s/%s/%s" % (bid, o["name"], o["generation"]),
           "selfLink": "%s/storage/v1/b/%s/o/%s" % (ctx.base_url, bid, enc),
           "mediaLink": "%s/download/storage/v1/b/%s/o/%s?generation=%s&alt=media" % (ctx.base_url, bid, enc,
                                                                                       o["generation"]),
           "name": o["name"], "bucket": bid, "generation": o["generation"], "metageneration": o["metageneration"],
           "contentType": o["contentType"], "storageClass": o["storageClass"], "size": o["size"],
           "md5Hash": o["checksums"]["md5Hash"],
           "crc32c": base64.b64encode(struct.pack(">I", o["checksums"]["crc32c"])).decode(),
           "etag": o["etag"], "timeCreated": o["createTime"], "updated": o["updateTime"],
           "timeStorageClassUpdated": o["updateStorageClassTime"], "timeFinalized": o["finalizeTime"]}
    if o.get("metadata"):
        out["metadata"] = o["metadata"]
    return out


def _object_metadata_v2(meta):
    out = {}
    for k in ("contentType", "contentEncoding", "contentDisposition", "cacheControl", "contentLanguage",
              "metadata"):
        if meta.get(k) is not None:
            out[k] = meta[k]
    return out


@handles("storage.objects.insert")
def insert_object(ctx):
    bid = ctx.vars["bucket"]
    kind = ctx.query.get("uploadType")
    if not ctx.method.upload:
        raise invalid("Uploads go to /upload/storage/v1/b/{bucket}/o with uploadType=media or multipart.")
    ctype = ctx.headers.get("Content-Type") or "application/octet-stream"
    if kind == "media":
        name = ctx.query.get("name")
        if not name:
            raise invalid("Required parameter: name", field="name")
        data, meta = ctx.raw, {"contentType": ctype}
    elif kind == "multipart":
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + ctx.raw)
        parts = list(msg.iter_parts()) if msg.is_multipart() else []
        if len(parts) != 2:
            raise invalid("A multipart upload has two parts: the object's JSON metadata, then its data.")
        try:
            meta_raw = json.loads(parts[0].get_payload(decode=True) or b"{}")
        except ValueError as e:
            raise invalid("Invalid JSON payload received. %s" % e)
        api = ctx.disc.apis["storage"]
        meta = ctx.disc.validate_value(api, meta_raw, {"$ref": "Object"}, "", "Object", None)
        data = parts[1].get_payload(decode=True) or b""
        meta.setdefault("contentType", parts[1].get_content_type())
        name = ctx.query.get("name") or meta.get("name")
        if not name:
            raise invalid("Required parameter: name", field="name")
    elif kind == "resumable":
        raise ApiError("UNIMPLEMENTED", "Resumable uploads are not modelled by the GCP double; use uploadType=media "
                                        "or multipart.", http=501)
    else:
        raise invalid("Invalid upload type: %s" % kind, field="uploadType")
    m = ctx.query.get("ifGenerationMatch")
    existing = model.objects(ctx.store).get("%s/%s" % (bid, name))
    if m is not None and ((m == "0" and existing) or (m != "0" and (not existing or existing["generation"] != m))):
        raise ApiError("FAILED_PRECONDITION", "At least one of the pre-conditions you specified did not hold.",
                       http=412)
    o = model.put_object(ctx.store, bid, name, data, meta.get("contentType"), _object_metadata_v2(meta))
    return object_v1(ctx, o)


@handles("storage.objects.list")
def list_objects(ctx):
    bid = ctx.vars["bucket"]
    objs, prefixes = model.list_objects(ctx.store, bid, ctx.query.get("prefix", ""), ctx.query.get("delimiter", ""),
                                        ctx.query.get("includeTrailingDelimiter", False))
    size = int(ctx.query.get("maxResults") or 1000)
    token = ctx.query.get("pageToken")
    start = int(token) if token and token.isdigit() else 0
    out = {"kind": "storage#objects"}
    page = objs[start:start + size]
    if page:
        out["items"] = [object_v1(ctx, o) for o in page]
    if prefixes:
        out["prefixes"] = prefixes
    if start + size < len(objs):
        out["nextPageToken"] = str(start + size)
    return out


@handles("storage.objects.get")
def get_object(ctx):
    bid, name = ctx.vars["bucket"], ctx.vars["object"]
    o = model.get_object(ctx.store, bid, name, ctx.query.get("generation"))
    if ctx.query.get("alt") == "media":
        data = model.blobs(ctx.store).get("%s/%s" % (bid, name), b"")
        return 200, {"__raw__": data, "contentType": o["contentType"]}
    return object_v1(ctx, o)


@handles("storage.objects.delete")
def delete_object(ctx):
    model.delete_object(ctx.store, ctx.vars["bucket"], ctx.vars["object"], ctx.query.get("generation"),
                        ctx.query.get("ifGenerationMatch"))
    return 204, None


@handles("storage.buckets.get")
def get_bucket(ctx):
    return bucket_v1(ctx, model.get_bucket(ctx.store, ctx.vars["bucket"]))


@handles("storage.buckets.list")
def list_buckets(ctx):
    project = ctx.query.get("project")
    if not project:
        raise invalid("Required parameter: project", field="project")
    items = [bucket_v1(ctx, b) for b in model.list_buckets(ctx.store, project, ctx.query.get("prefix", ""))]
    out = {"kind": "storage#buckets"}
    if items:
        out["items"] = items
    return out


@handles("storage.buckets.insert")
def insert_bucket(ctx):
    project = ctx.query.get("project")
    if not project:
        raise invalid("Required parameter: project", field="project")
    body = ctx.body or {}
    if not body.get("name"):
        raise invalid("Required field: name", field="name")
    v2 = {}
    for k in ("location", "storageClass", "labels", "rpo"):
        if body.get(k) is not None:
            v2[k] = body[k]
    if body.get("versioning") is not None:
        v2["versioning"] = {"enabled": bool(body["versioning"].get("enabled"))}
    return bucket_v1(ctx, model.create_bucket(ctx.store, project, body["name"], v2))


@handles("storage.buckets.delete")
def delete_bucket(ctx):
    model.delete_bucket(ctx.store, ctx.vars["bucket"])
    return 204, None
