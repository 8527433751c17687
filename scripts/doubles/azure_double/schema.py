"""Request bodies checked against Microsoft's published ARM resource schemas.

The schemas (JSON Schema draft-04, the ones ARM templates are checked with) are copies in
scripts/doubles/specs/azure. ARM refuses a property it does not know: every object here is
closed unless its schema says `additionalProperties` (a map, like `tags`). The
`expression` alternative of a `oneOf` (a template expression `[...]`) never matches a
request body.
"""

import json
import os
import re

COMMON = "https://schema.management.azure.com/schemas/common/definitions.json"

FILES = {
    "Microsoft.ContainerService": "Microsoft.ContainerService.Aks.json",
    "Microsoft.MachineLearningServices": "Microsoft.MachineLearningServices.json",
    "Microsoft.ContainerRegistry": "Microsoft.ContainerRegistry.json",
    "Microsoft.Storage": "Microsoft.Storage.json",
    "Microsoft.Insights": "Microsoft.Insights.json",
}

# What a PUT body may carry beside the schema's own properties: ARM ignores the read-only
# envelope a client may echo back.
ENVELOPE = {"id", "name", "type", "systemData", "etag"}


class Invalid(Exception):
    def __init__(self, path, message):
        super().__init__("%s: %s" % (path or "body", message))
        self.path = path


class Schemas:
    def __init__(self, folder):
        self.docs = {}
        self.folder = folder
        self.common = json.load(open(os.path.join(folder, "definitions.json")))
        for ns, f in FILES.items():
            self.docs[ns] = json.load(open(os.path.join(folder, f)))

    def api_version(self, ns, rtype):
        """The one api-version the schema of NS/RTYPE (`registries`, `storageAccounts/blobServices`) has."""
        rd = self.resource_definition(ns, rtype)
        return rd["properties"]["apiVersion"]["enum"][0] if rd else None

    def resource_definition(self, ns, rtype):
        doc = self.docs.get(ns)
        if doc is None:
            return None
        return doc["resourceDefinitions"].get(rtype.replace("/", "_"))

    def check_name(self, ns, rtype, name):
        rd = self.resource_definition(ns, rtype)
        s = rd["properties"].get("name")
        if s is None:
            return
        alts = s.get("oneOf", [s])
        for alt in alts:
            if "$ref" in alt:
                continue
            pattern = alt.get("pattern")
            if pattern and "/" in pattern:
                return  # a template's parent/child name, not a path segment
            try:
                self._check(ns, alt, name, "name")
                return
            except Invalid as e:
                err = e
        raise Invalid("name", "%r is not a valid name: %s" % (name, str(err).split(": ", 1)[1]))

    def check_body(self, ns, rtype, body):
        rd = self.resource_definition(ns, rtype)
        if not isinstance(body, dict):
            raise Invalid("", "expected a JSON object")
        props = rd["properties"]
        for k, v in body.items():
            if k in ENVELOPE:
                continue
            if k in ("apiVersion", "resources", "dependsOn", "condition", "scope", "copy", "comments"):
                raise Invalid(k, "unknown property %r (a template field, not part of the resource)" % k)
            if k not in props:
                raise Invalid(k, "unknown property %r; known: %s" % (k, ", ".join(sorted(
                    p for p in props if p not in ("apiVersion", "name", "type", "resources")))))
            self._check(ns, props[k], v, k)

    # -- JSON Schema, the subset the ARM schemas use ---------------------------------------
    def _resolve(self, ns, ref):
        if ref.startswith(COMMON):
            doc, frag = self.common, ref[len(COMMON):]
        else:
            doc, frag = self.docs[ns], ref
        frag = frag.lstrip("#")
        node = doc
        for part in [p for p in frag.split("/") if p]:
            node = node[part]
        return node

    def _check(self, ns, s, v, path):
        if "$ref" in s:
            if s["$ref"].endswith("/definitions/expression"):
                raise Invalid(path, "a template expression is not a value")
            return self._check(ns, self._resolve(ns, s["$ref"]), v, path)
        if "oneOf" in s or "anyOf" in s:
            alts = s.get("oneOf") or s.get("anyOf")
            errors = []
            for alt in alts:
                if alt.get("$ref", "").endswith("/definitions/expression"):
                    continue
                try:
                    self._check(ns, alt, v, path)
                    break
                except Invalid as e:
                    errors.append(e)
            else:
                if len(errors) == 1:
                    raise errors[0]
                raise Invalid(path, "matches none of the allowed forms (%s)" % "; ".join(str(e) for e in errors))
        if "allOf" in s:
            # allOf composes object parts (a base and, through a oneOf, its discriminated
            # variants): the object is checked against the union of their properties
            merged = {"type": "object", "properties": {}, "required": []}
            opened = self._collect(ns, s, merged, top=True)
            if opened:
                merged["additionalProperties"] = True
            return self._check(ns, merged, v, path)
        t = s.get("type")
        if t == "object" or (t is None and "properties" in s):
            if not isinstance(v, dict):
                raise Invalid(path, "expected an object, got %s" % _kind(v))
            props = s.get("properties", {})
            extra = s.get("additionalProperties")
            for req in s.get("required", []):
                if req not in v:
                    raise Invalid(path, "the property %r is required" % req)
            for k, x in v.items():
                sub = "%s.%s" % (path, k) if path else k
                if k in props:
                    self._check(ns, props[k], x, sub)
                elif isinstance(extra, dict):
                    self._check(ns, extra, x, sub)
                elif extra is True or (extra is None and not props and t == "object" and "properties" not in s):
                    continue  # a free-form object ({"type": "object"})
                else:
                    raise Invalid(sub, "unknown property %r; known: %s" % (k, ", ".join(sorted(props)) or "none"))
        elif t == "array":
            if not isinstance(v, list):
                raise Invalid(path, "expected an array, got %s" % _kind(v))
            if "items" in s:
                for i, x in enumerate(v):
                    self._check(ns, s["items"], x, "%s[%d]" % (path, i))
        elif t == "string":
            if not isinstance(v, str):
                raise Invalid(path, "expected a string, got %s" % _kind(v))
            if "minLength" in s and len(v) < s["minLength"]:
                raise Invalid(path, "%r is shorter than %d characters" % (v, s["minLength"]))
            if "maxLength" in s and len(v) > s["maxLength"]:
                raise Invalid(path, "%r is longer than %d characters" % (v, s["maxLength"]))
            if "pattern" in s and not re.search(s["pattern"], v):
                raise Invalid(path, "%r does not match %s" % (v, s["pattern"]))
        elif t == "integer":
            if isinstance(v, bool) or not isinstance(v, int):
                raise Invalid(path, "expected an integer, got %s" % _kind(v))
            _bounds(s, v, path)
        elif t == "number":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise Invalid(path, "expected a number, got %s" % _kind(v))
            _bounds(s, v, path)
        elif t == "boolean":
            if not isinstance(v, bool):
                raise Invalid(path, "expected a boolean, got %s" % _kind(v))
        if "const" in s and v != s["const"]:
            raise Invalid(path, "%r is not %r" % (v, s["const"]))
        if "enum" in s and v not in s["enum"]:
            raise Invalid(path, "%r is not one of %s" % (v, ", ".join(map(str, s["enum"]))))


def _collect_doc(self, ns, s, merged, top):
    """Adds the properties of S and of its allOf/oneOf parts to MERGED; True when a part is open."""
    if "$ref" in s:
        if s["$ref"].endswith("/definitions/expression"):
            return False
        s = self._resolve(ns, s["$ref"])
    opened = isinstance(s.get("additionalProperties"), dict) or s.get("additionalProperties") is True
    for k, sub in s.get("properties", {}).items():
        if k not in merged["properties"] or "const" not in sub:
            merged["properties"].setdefault(k, sub)
    if top:
        merged["required"] += s.get("required", [])
    for part in s.get("allOf", []):
        opened |= self._collect(ns, part, merged, top)
    for part in s.get("oneOf", []) + s.get("anyOf", []):
        opened |= self._collect(ns, part, merged, False)
    return opened


Schemas._collect = _collect_doc


def _bounds(s, v, path):
    if "minimum" in s and v < s["minimum"]:
        raise Invalid(path, "%s is below the minimum %s" % (v, s["minimum"]))
    if "maximum" in s and v > s["maximum"]:
        raise Invalid(path, "%s is above the maximum %s" % (v, s["maximum"]))


def _kind(v):
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(v), "a number")
