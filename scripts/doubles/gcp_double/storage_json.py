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
        return start_resumable(ctx, bid)
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
        v1 = object_v1(ctx, o)
        headers = {"x-goog-generation": o["generation"], "x-goog-metageneration": o["metageneration"],
                   "x-goog-stored-content-length": str(len(data)),
                   "x-goog-hash": "crc32c=%s,md5=%s" % (v1["crc32c"], v1["md5Hash"]), "Accept-Ranges": "bytes"}
        rng = (ctx.headers.get("Range") or "").strip()
        import re
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng)
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = int(m.group(2)) if m.group(2) else len(data) - 1
            else:
                start, end = max(0, len(data) - int(m.group(2))), len(data) - 1
            end = min(end, len(data) - 1)
            if start >= len(data) and len(data) > 0:
                raise ApiError("OUT_OF_RANGE", "Request range not satisfiable", http=416)
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, len(data))
            return 206, {"__raw__": data[start:end + 1], "contentType": o["contentType"]}, headers
        return 200, {"__raw__": data, "contentType": o["contentType"]}, headers
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


# ---- resumable uploads --------------------------------------------------------------------

def _uploads(store):
    return store.extra.setdefault("storage.uploads", {})


def start_resumable(ctx, bid):
    """POST .../o?uploadType=resumable: a session; its URL is in Location."""
    model.get_bucket(ctx.store, bid)
    meta = {}
    if ctx.raw and ctx.raw.strip():
        try:
            meta_raw = json.loads(ctx.raw)
        except ValueError as e:
            raise invalid("Invalid JSON payload received. %s" % e)
        meta = ctx.disc.validate_value(ctx.disc.apis["storage"], meta_raw, {"$ref": "Object"}, "", "Object", None)
    name = ctx.query.get("name") or meta.get("name")
    if not name:
        raise invalid("Required parameter: name", field="name")
    if ctx.headers.get("X-Upload-Content-Type"):
        meta.setdefault("contentType", ctx.headers["X-Upload-Content-Type"])
    uid = ctx.store.hex(32)
    _uploads(ctx.store)[uid] = {"bucket": bid, "name": name, "meta": meta, "data": bytearray(), "done": None,
                                "ifGenerationMatch": ctx.query.get("ifGenerationMatch")}
    url = "%s/upload/storage/v1/b/%s/o?uploadType=resumable&upload_id=%s" % (
        ctx.base_url, urllib.parse.quote(bid, safe=""), uid)
    return 200, None, {"Location": url, "X-GUploader-UploadID": uid}


def resumable_chunk(server, http_method, query, raw, headers, base_url):
    """PUT (or POST) to a session URL: `Content-Range: bytes A-B/T`, `bytes */T` or `bytes */*`.
    Answers 308 with the persisted `Range` until the total is in, then the object."""
    store = server.store
    uid = (query.get("upload_id") or [""])[-1]
    with store.lock:
        up = _uploads(store).get(uid)
        if up is None:
            raise ApiError("NOT_FOUND", "No such upload session: %s" % uid)
        if http_method == "DELETE":
            _uploads(store).pop(uid)
            return 499, None, {}
        if up["done"] is not None:
            return 200, up["done"], {}
        cr = (headers.get("Content-Range") or "").strip()
        total = None
        start = len(up["data"])
        if cr:
            import re
            m = re.fullmatch(r"bytes (\*|(\d+)-(\d+))/(\*|\d+)", cr)
            if not m:
                raise ApiError("INVALID_ARGUMENT", "Invalid Content-Range: %s" % cr)
            if m.group(2) is not None:
                start = int(m.group(2))
                if int(m.group(3)) - start + 1 != len(raw):
                    raise ApiError("INVALID_ARGUMENT", "Content-Range %s does not match the %d bytes sent."
                                   % (cr, len(raw)))
            elif raw:
                raise ApiError("INVALID_ARGUMENT", "Content-Range %s with a body." % cr)
            if m.group(4) != "*":
                total = int(m.group(4))
        elif raw is not None:
            total = start + len(raw)  # no Content-Range: the whole rest of the object
        if start > len(up["data"]):
            raise ApiError("INVALID_ARGUMENT", "Chunk starts at %d, but only %d bytes were persisted."
                           % (start, len(up["data"])))
        del up["data"][start:]
        up["data"].extend(raw or b"")
        if total is not None and len(up["data"]) >= total:
            if len(up["data"]) != total:
                raise ApiError("INVALID_ARGUMENT", "Received %d bytes, more than the declared total %d."
                               % (len(up["data"]), total))
            m = up["ifGenerationMatch"]
            existing = model.objects(store).get("%s/%s" % (up["bucket"], up["name"]))
            if m is not None and ((m == "0" and existing) or (m != "0" and (not existing
                                                                            or existing["generation"] != m))):
                raise ApiError("FAILED_PRECONDITION", "At least one of the pre-conditions you specified did not "
                                                      "hold.", http=412)
            o = model.put_object(store, up["bucket"], up["name"], bytes(up["data"]), up["meta"].get("contentType"),
                                 _object_metadata_v2(up["meta"]))

            class _C:
                pass
            c = _C()
            c.base_url = base_url
            up["done"] = object_v1(c, o)
            return 200, up["done"], {}
        hdrs = {}
        if up["data"]:
            hdrs["Range"] = "bytes=0-%d" % (len(up["data"]) - 1)
        return 308, None, hdrs
