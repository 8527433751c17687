"""Cloud Storage buckets and objects, shared by the gRPC (google.storage.v2) and the JSON
(storage v1) surfaces. Buckets are kept in the v2 proto JSON form, objects too; object data
is kept aside."""

import base64
import hashlib
import re
import time

from .errors import ApiError
from .state import now_rfc3339

BUCKETS = "storage.buckets"
OBJECTS = "storage.objects"
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9]$")
MULTI_REGIONS = {"US", "EU", "ASIA"}
DUAL_REGIONS = {"NAM4", "EUR4", "ASIA1", "EUR5", "EUR7", "EUR8"}
STORAGE_CLASSES = {"STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE", "MULTI_REGIONAL", "REGIONAL",
                   "DURABLE_REDUCED_AVAILABILITY"}


def buckets(store):
    return store.table(BUCKETS)


def objects(store):
    return store.table(OBJECTS)


def blobs(store):
    return store.extra.setdefault("storage.data", {})


def bucket_id_of(name):
    """`projects/_/buckets/b` (v2) or `b` (v1) -> b."""
    if name.startswith("projects/"):
        parts = name.split("/")
        if len(parts) != 4 or parts[2] != "buckets":
            raise ApiError("INVALID_ARGUMENT", "Invalid bucket name: '%s'." % name)
        return parts[3]
    return name


def check_bucket_id(bid):
    if (not BUCKET_RE.match(bid) or ".." in bid or bid.startswith("goog") or "google" in bid
            or (len(bid) > 63 and "." not in bid) or any(len(p) > 63 for p in bid.split("."))
            or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", bid)):
        raise ApiError("INVALID_ARGUMENT", "Invalid bucket name: '%s'." % bid)


def get_bucket(store, bid):
    b = buckets(store).get(bid)
    if b is None:
        raise ApiError("NOT_FOUND", "The specified bucket does not exist.")
    return b


def check_metageneration(b, match, not_match):
    mg = int(b.get("metageneration", "1"))
    if match is not None and int(match) != mg:
        raise ApiError("FAILED_PRECONDITION", "At least one of the pre-conditions you specified did not hold.",
                       http=412)
    if not_match is not None and int(not_match) == mg:
        raise ApiError("FAILED_PRECONDITION", "At least one of the pre-conditions you specified did not hold.",
                       http=412)


def create_bucket(store, project, bid, bucket):
    """bucket: v2 proto JSON dict (camelCase). Returns the stored bucket."""
    check_bucket_id(bid)
    existing = buckets(store).get(bid)
    if existing is not None:
        if existing["project"] == "projects/%s" % project:
            raise ApiError("ALREADY_EXISTS", "Your previous request to create the named bucket succeeded and you "
                                             "already own it.")
        raise ApiError("ALREADY_EXISTS", "The requested bucket name is not available. The bucket namespace is "
                                         "shared by all users of the system. Please select a different name and "
                                         "try again.")
    b = dict(bucket)
    location = (b.get("location") or "US").upper()
    sc = (b.get("storageClass") or "STANDARD").upper()
    if sc not in STORAGE_CLASSES:
        raise ApiError("INVALID_ARGUMENT", "Invalid storage class: '%s'." % b.get("storageClass"))
    t = now_rfc3339()
    b.update({
        "name": "projects/_/buckets/%s" % bid, "bucketId": bid, "project": "projects/%s" % project,
        "location": location, "storageClass": sc, "metageneration": "1", "etag": "CAE=",
        "locationType": "multi-region" if location in MULTI_REGIONS else (
            "dual-region" if location in DUAL_REGIONS or b.get("customPlacementConfig") else "region"),
        "createTime": t, "updateTime": t, "rpo": b.get("rpo") or "DEFAULT",
    })
    b.setdefault("softDeletePolicy", {"retentionDuration": "604800s", "effectiveTime": t})
    b.setdefault("iamConfig", {"uniformBucketLevelAccess": {"enabled": False}, "publicAccessPrevention": "inherited"})
    buckets(store)[bid] = b
    return b


def touch_bucket(b):
    mg = int(b.get("metageneration", "1")) + 1
    b["metageneration"] = str(mg)
    b["etag"] = base64.b64encode(b"\x08" + bytes([mg % 128])).decode()
    b["updateTime"] = now_rfc3339()


def delete_bucket(store, bid):
    get_bucket(store, bid)
    if any(k.split("/", 1)[0] == bid for k in objects(store)):
        raise ApiError("FAILED_PRECONDITION", "The bucket you tried to delete is not empty.", http=409)
    buckets(store).pop(bid)


def list_buckets(store, project, prefix=""):
    return [b for bid, b in sorted(buckets(store).items())
            if b["project"] == "projects/%s" % project and bid.startswith(prefix or "")]


def crc32c(data):
    try:
        import google_crc32c
        return google_crc32c.value(data)
    except ImportError:  # pragma: no cover - google-crc32c is pinned
        import zlib
        return zlib.crc32(data)


def put_object(store, bid, name, data, content_type=None, metadata=None):
    b = get_bucket(store, bid)
    if not name:
        raise ApiError("INVALID_ARGUMENT", "Object name is required.", http=400)
    t = now_rfc3339()
    gen = str(int(time.time() * 1e6))
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    obj = dict(metadata or {})
    obj.update({"name": name, "bucket": "projects/_/buckets/%s" % bid, "generation": gen, "metageneration": "1",
                "storageClass": b.get("storageClass", "STANDARD"), "size": str(len(data)),
                "contentType": content_type or obj.get("contentType") or "application/octet-stream",
                "createTime": t, "updateTime": t, "finalizeTime": t, "updateStorageClassTime": t,
                "checksums": {"crc32c": crc32c(data), "md5Hash": md5},
                "etag": base64.b64encode(gen.encode()[-8:]).decode()})
    objects(store)["%s/%s" % (bid, name)] = obj
    blobs(store)["%s/%s" % (bid, name)] = data
    return obj


def get_object(store, bid, name, generation=None):
    get_bucket(store, bid)
    obj = objects(store).get("%s/%s" % (bid, name))
    if obj is None or (generation and str(generation) != "0" and str(generation) != obj["generation"]):
        raise ApiError("NOT_FOUND", "No such object: %s/%s" % (bid, name))
    return obj


def delete_object(store, bid, name, generation=None, if_generation_match=None):
    obj = get_object(store, bid, name, generation)
    if if_generation_match is not None and str(if_generation_match) != obj["generation"]:
        raise ApiError("FAILED_PRECONDITION", "At least one of the pre-conditions you specified did not hold.",
                       http=412)
    objects(store).pop("%s/%s" % (bid, name))
    blobs(store).pop("%s/%s" % (bid, name), None)


def list_objects(store, bid, prefix="", delimiter="", include_trailing=False):
    """(objects, prefixes) in name order."""
    get_bucket(store, bid)
    out, prefixes = [], []
    for key, obj in sorted(objects(store).items()):
        b, name = key.split("/", 1)
        if b != bid or not name.startswith(prefix or ""):
            continue
        if delimiter:
            rest = name[len(prefix or ""):]
            i = rest.find(delimiter)
            if i >= 0:
                p = (prefix or "") + rest[:i + len(delimiter)]
                if p not in prefixes:
                    prefixes.append(p)
                if not (include_trailing and name == p):
                    continue
        out.append(obj)
    return out, prefixes
