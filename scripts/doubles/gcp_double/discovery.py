"""The discovery documents: routing and request validation.

Every JSON request is matched against the methods of the loaded discovery documents (the
HTTP method and the `flatPath`, or `path` where a method has no `flatPath`), its query
parameters are checked against the method's and the document's parameters, and its body
against the method's request schema. What comes out is the request normalised the way a
proto JSON parser sees it: camelCase names (snake_case accepted, as Google's front end
accepts the proto names too), enum values as names (numbers accepted, as the official REST
clients send them with `$alt=json;enum-encoding=int`), int64 as strings, output-only fields
dropped.
"""

import base64
import json
import os
import re
import urllib.parse

from .errors import ApiError, invalid

HERE = os.path.dirname(os.path.abspath(__file__))

# Which document each API is in, and its name in the double's state.
DOCS = {
    "container": "container.v1.json",
    "artifactregistry": "artifactregistry.v1.json",
    "aiplatform": "aiplatform.v1.json",
    "storage": "storage.v1.json",
}
# When one path and HTTP method is a method of several documents (operations.get,
# locations.get, ...), the state decides (who owns the operation); failing that, this order.
PRIORITY = ["container", "artifactregistry", "aiplatform", "storage"]

# System parameters every Google API accepts, with and without the `$` prefix.
SYSTEM_PARAMS = {"alt", "fields", "key", "prettyPrint", "quotaUser", "callback", "upload_protocol",
                 "uploadType", "access_token", "oauth_token", ".xgafv", "userIp", "trace",
                 "requestReason", "userProject"}
ALT_VALUES = {"json", "json;enum-encoding=int", "media", "proto", "sse"}


def default_specs_dir():
    env = os.environ.get("MLINFRA_GCP_SPECS")
    if env:
        return env
    # The copies kept beside the double (scripts/doubles/specs/gcp), else ../shared/specs/gcp.
    local = os.path.abspath(os.path.join(HERE, "..", "specs", "gcp"))
    if os.path.isdir(local):
        return local
    repo = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
    return os.path.join(os.path.dirname(repo), "shared", "specs", "gcp")


def snake(name):
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def camel(name):
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


class Method:
    __slots__ = ("api", "id", "http", "template", "regex", "params", "request", "response", "upload",
                 "doc", "var_names")

    def __init__(self, api, doc, m, template, upload=False):
        self.api = api
        self.doc = doc
        self.id = m["id"]
        self.http = m["httpMethod"]
        self.template = template
        self.params = m.get("parameters", {})
        self.request = (m.get("request") or {}).get("$ref")
        self.response = (m.get("response") or {}).get("$ref")
        self.upload = upload
        self.var_names = []
        self.regex = self._compile(template)

    def _compile(self, template):
        out = "^"
        pos = 0
        # storage.v1 object names may hold ':'; elsewhere ':' starts a custom verb.
        seg = "[^/]+" if self.api == "storage" else "[^/:]+"
        for m in re.finditer(r"\{(\+?)([^}]+)\}", template):
            out += re.escape(template[pos:m.start()])
            group = "v%d" % len(self.var_names)
            self.var_names.append(m.group(2))
            out += "(?P<%s>%s)" % (group, ".+" if m.group(1) else seg)
            pos = m.end()
        out += re.escape(template[pos:]) + "$"
        return re.compile(out)

    def match(self, path):
        m = self.regex.match(path)
        if not m:
            return None
        return {name: urllib.parse.unquote(m.group("v%d" % i)) for i, name in enumerate(self.var_names)}


class Api:
    def __init__(self, name, doc):
        self.name = name
        self.doc = doc
        self.schemas = doc["schemas"]
        self.global_params = doc.get("parameters", {})
        self.methods = []
        service = doc.get("servicePath", "")
        self._walk(doc, service)

    def _walk(self, res, service):
        for m in res.get("methods", {}).values():
            template = "/" + service + (m.get("flatPath") or m["path"])
            self.methods.append(Method(self.name, self, m, template))
            media = m.get("mediaUpload", {}).get("protocols", {}).get("simple")
            if media:
                self.methods.append(Method(self.name, self, m, media["path"], upload=True))
            if m.get("useMediaDownloadService"):
                self.methods.append(Method(self.name, self, m, "/download/" + service + m["path"]))
        for r in res.get("resources", {}).values():
            self._walk(r, service)


class Discovery:
    def __init__(self, specs_dir=None, enum_numbers=None):
        specs_dir = specs_dir or default_specs_dir()
        self.apis = {}
        for name, fname in DOCS.items():
            with open(os.path.join(specs_dir, fname)) as f:
                self.apis[name] = Api(name, json.load(f))
        if enum_numbers is None:
            with open(os.path.join(HERE, "enum_numbers.json")) as f:
                enum_numbers = json.load(f)
        self.enum_numbers = enum_numbers
        self.by_id = {}
        for api in self.apis.values():
            for m in api.methods:
                if not m.upload:
                    self.by_id[m.id] = m

    def route(self, http_method, path):
        """All (method, path variables) matching; [] when none."""
        found = []
        for name in PRIORITY:
            for m in self.apis[name].methods:
                if m.http != http_method:
                    continue
                v = m.match(path)
                if v is not None:
                    found.append((m, v))
        return found

    def path_exists(self, path):
        return any(m.match(path) is not None for a in self.apis.values() for m in a.methods)

    # ---- query parameters -------------------------------------------------------------

    def validate_query(self, method, query):
        """query: dict name -> list of strings. Returns dict name -> value (lists for repeated)."""
        api = method.doc
        out = {}
        for raw_name, values in query.items():
            name = raw_name[1:] if raw_name.startswith("$") else raw_name
            spec = method.params.get(name)
            if spec is not None and spec.get("location") == "path":
                spec = None
            if spec is None:
                spec = method.params.get(camel(name)) if "_" in name else None
                if spec is not None:
                    name = camel(name)
            if spec is None:
                spec = api.global_params.get(name)
                if spec is None and name in SYSTEM_PARAMS:
                    spec = {"type": "string"}
            if spec is None:
                raise invalid("Invalid JSON payload received. Unknown name \"%s\": Cannot bind query parameter. "
                              "Field '%s' could not be found in request message." % (raw_name, raw_name),
                              field=raw_name)
            if name == "alt":
                if any(v not in ALT_VALUES for v in values):
                    raise invalid("Invalid value for parameter alt: %s" % values[0], field="alt")
                out[name] = values[-1]
                continue
            conv = [self._query_value(name, spec, v) for v in values]
            if spec.get("format") == "google-fieldmask":
                # one `updateMask=a,b`, or one parameter per path (the Rust clients)
                out[name] = ",".join(v for v in conv if v)
            else:
                out[name] = conv if spec.get("repeated") else conv[-1]
        for name, spec in method.params.items():
            if spec.get("location") == "query" and spec.get("required") and name not in out:
                raise invalid("Required parameter %s is missing." % name, field=name)
        return out

    def _query_value(self, name, spec, v):
        t = spec.get("type")
        if "enum" in spec:
            if v in spec["enum"]:
                return v
            if re.fullmatch(r"\d+", v) and int(v) < len(spec["enum"]):
                return spec["enum"][int(v)]
            raise invalid("Invalid value at '%s' (TYPE_ENUM), \"%s\"" % (snake(name), v), field=name)
        if t == "integer":
            if not re.fullmatch(r"-?\d+", v):
                raise invalid("Invalid value at '%s' (TYPE_INT32), \"%s\"" % (snake(name), v), field=name)
            return int(v)
        if t == "boolean":
            if v.lower() not in ("true", "false", "1", "0"):
                raise invalid("Invalid value at '%s' (TYPE_BOOL), \"%s\"" % (snake(name), v), field=name)
            return v.lower() in ("true", "1")
        if spec.get("format") in ("int64", "uint64") and not re.fullmatch(r"-?\d+", v):
            raise invalid("Invalid value at '%s' (TYPE_INT64), \"%s\"" % (snake(name), v), field=name)
        return v

    # ---- request bodies ------------------------------------------------------------------

    def validate_body(self, method, raw):
        if method.request is None:
            return None
        if raw is None or raw.strip() == b"":
            value = {}
        else:
            try:
                value = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as e:
                raise invalid("Invalid JSON payload received. %s" % e)
        return self.validate_value(method.doc, value, {"$ref": method.request}, "", method.request, None)

    def validate_value(self, api, value, spec, path, schema_name, prop):
        if value is None:
            return None
        if "$ref" in spec:
            name = spec["$ref"]
            return self._object(api, value, api.schemas[name], path, name)
        t = spec.get("type")
        where = path or "root"
        if t == "object":
            if not isinstance(value, dict):
                raise invalid("Invalid JSON payload received. Expected an object at '%s', got %s."
                              % (where, json.dumps(value)), field=path)
            if "properties" in spec:
                return self._object(api, value, spec, path, schema_name)
            ap = spec.get("additionalProperties")
            if ap is None:
                return value
            return {k: self.validate_value(api, v, ap, "%s[%s]" % (path, k), schema_name, prop)
                    for k, v in value.items()}
        if t == "array":
            if not isinstance(value, list):
                raise invalid("Invalid JSON payload received. Expected a list at '%s', got %s."
                              % (where, json.dumps(value)), field=path)
            return [self.validate_value(api, v, spec.get("items", {}), "%s[%d]" % (path, i), schema_name, prop)
                    for i, v in enumerate(value)]
        if "enum" in spec:
            return self._enum(api, value, spec["enum"], path, schema_name, prop)
        if t == "string":
            return self._string(value, spec.get("format"), path)
        if t == "integer":
            if isinstance(value, bool) or not (
                    (isinstance(value, int)) or (isinstance(value, float) and value.is_integer())
                    or (isinstance(value, str) and re.fullmatch(r"-?\d+", value))):
                raise invalid("Invalid value at '%s' (TYPE_%s), %s"
                              % (where, (spec.get("format") or "int32").upper(), json.dumps(value)), field=path)
            return int(value)
        if t == "number":
            if isinstance(value, bool):
                raise invalid("Invalid value at '%s' (TYPE_DOUBLE), %s" % (where, json.dumps(value)), field=path)
            if isinstance(value, (int, float)):
                return value
            if isinstance(value, str):
                if value in ("NaN", "Infinity", "-Infinity"):
                    return value
                try:
                    return float(value)
                except ValueError:
                    pass
            raise invalid("Invalid value at '%s' (TYPE_DOUBLE), %s" % (where, json.dumps(value)), field=path)
        if t == "boolean":
            if not isinstance(value, bool):
                raise invalid("Invalid value at '%s' (TYPE_BOOL), %s" % (where, json.dumps(value)), field=path)
            return value
        return value  # "any"

    def _object(self, api, value, schema, path, schema_name):
        where = path or "root"
        if not isinstance(value, dict):
            raise invalid("Invalid JSON payload received. Expected an object at '%s' (%s), got %s."
                          % (where, schema_name, json.dumps(value)[:80]), field=path)
        props = schema.get("properties")
        if props is None:
            ap = schema.get("additionalProperties")
            if ap is None:
                return value
            return {k: self.validate_value(api, v, ap, "%s[%s]" % (path, k), schema_name, None)
                    for k, v in value.items()}
        out = {}
        for key, v in value.items():
            name = key
            if name not in props and "_" in name and camel(name) in props:
                name = camel(name)
            if name not in props:
                if key == "@type" and schema_name in ("GoogleProtobufAny",):
                    out[key] = v
                    continue
                msg = "Invalid JSON payload received. Unknown name \"%s\"%s: Cannot find field." % (
                    key, " at '%s'" % path if path else "")
                raise invalid(msg, field=path or key)
            spec = props[name]
            sub = (path + "." if path else "") + snake(name)
            conv = self.validate_value(api, v, spec, sub, schema_name, name)
            if spec.get("readOnly"):
                continue
            out[name] = conv
        return out

    def _enum(self, api, value, names, path, schema_name, prop):
        where = path or "root"
        if isinstance(value, str):
            if value in names:
                return value
            if re.fullmatch(r"\d+", value):
                value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            table = self.enum_numbers.get(api.name, {}).get(schema_name, {}).get(prop)
            if table is not None:
                for n, num in table.items():
                    if num == value:
                        return n
            elif 0 <= value < len(names):
                return names[value]
        raise invalid("Invalid value at '%s' (TYPE_ENUM), %s" % (where, json.dumps(value)), field=path)

    def _string(self, value, fmt, path):
        where = path or "root"
        if fmt in ("int64", "uint64"):
            if isinstance(value, bool) or not (
                    isinstance(value, int) or (isinstance(value, float) and value.is_integer())
                    or (isinstance(value, str) and re.fullmatch(r"-?\d+", value))):
                raise invalid("Invalid value at '%s' (TYPE_%s), %s" % (where, fmt.upper(), json.dumps(value)),
                              field=path)
            if fmt == "uint64" and int(value) < 0:
                raise invalid("Invalid value at '%s' (TYPE_UINT64), %s" % (where, json.dumps(value)), field=path)
            return str(int(value))
        if not isinstance(value, str):
            raise invalid("Invalid value at '%s' (TYPE_STRING), %s" % (where, json.dumps(value)), field=path)
        if fmt == "google-datetime" and not re.fullmatch(
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)", value):
            raise invalid("Invalid value at '%s' (type.googleapis.com/google.protobuf.Timestamp), \"%s\""
                          % (where, value), field=path)
        if fmt == "google-duration" and not re.fullmatch(r"-?\d+(\.\d{1,9})?s", value):
            raise invalid("Invalid value at '%s' (type.googleapis.com/google.protobuf.Duration), \"%s\""
                          % (where, value), field=path)
        if fmt == "byte":
            try:
                s = value.replace("-", "+").replace("_", "/")
                base64.b64decode(s + "=" * (-len(s) % 4), validate=True)
            except ValueError:
                raise invalid("Invalid value at '%s' (TYPE_BYTES), Base64 decoding failed for \"%s\""
                              % (where, value[:40]), field=path)
        return value


def merge_mask(target, patch, mask, allowed=None):
    """Apply an update: the fields named by `mask` (comma-separated camelCase or snake paths)
    are copied from patch to target; an empty mask copies every field present in patch."""
    if mask:
        paths = [camel(p.strip()) for p in mask.split(",") if p.strip()]
    else:
        paths = list(patch.keys())
    for p in paths:
        top = p.split(".")[0]
        if allowed is not None and top not in allowed:
            raise invalid("Invalid update mask path '%s'." % snake(p), field="update_mask")
        parts = p.split(".")
        src, dst = patch, target
        for part in parts[:-1]:
            src = src.get(part, {}) if isinstance(src, dict) else {}
            dst = dst.setdefault(part, {})
        last = parts[-1]
        if isinstance(src, dict) and last in src and src[last] is not None:
            dst[last] = src[last]
        else:
            dst.pop(last, None)
    return paths
