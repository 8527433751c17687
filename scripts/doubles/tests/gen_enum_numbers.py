"""Writes gcp_double/enum_numbers.json: the proto numbers of the enum values whose position
in the discovery document's `enum` list is not their proto number.

The official REST clients send enums as numbers (`$alt=json;enum-encoding=int`), and a
discovery document only lists the names, in declaration order, which is not always number
order (GKE's GPUDirectStrategy RDMA is 2, Artifact Registry's APT is 5). The numbers come
from the official Python packages' protos. Run with the check's venv:

    python scripts/doubles/tests/gen_enum_numbers.py [--check]

`--check` exits 1 when the shipped file differs from what the installed packages say.
"""

import importlib
import json
import os
import pkgutil
import sys

import proto

HERE = os.path.dirname(os.path.abspath(__file__))
SPECS = os.environ.get("MLINFRA_GCP_SPECS") or os.path.join(HERE, "..", "specs", "gcp")
OUT = os.path.join(HERE, "..", "gcp_double", "enum_numbers.json")

APIS = {
    "container": ("container.v1.json", "google.cloud.container_v1.types", "google.container.v1.", ""),
    "artifactregistry": ("artifactregistry.v1.json", "google.cloud.artifactregistry_v1.types",
                         "google.devtools.artifactregistry.v1.", ""),
    "aiplatform": ("aiplatform.v1.json", "google.cloud.aiplatform_v1.types", "google.cloud.aiplatform.v1.",
                   "GoogleCloudAiplatformV1"),
}


def descriptors(modname):
    mod = importlib.import_module(modname)
    out = {}

    def add(md):
        out[md.full_name] = md
        for n in md.nested_types:
            add(n)

    for info in pkgutil.iter_modules(mod.__path__):
        m = importlib.import_module(modname + "." + info.name)
        for v in vars(m).values():
            if isinstance(v, type) and issubclass(v, proto.Message) and v is not proto.Message:
                add(v.pb().DESCRIPTOR)
    return out


def table():
    result = {}
    for api, (doc, modname, pkg, prefix) in APIS.items():
        byflat, bysimple = {}, {}
        for fn, md in descriptors(modname).items():
            if fn.startswith(pkg):
                byflat.setdefault(fn[len(pkg):].replace(".", ""), []).append(md)
                bysimple.setdefault(md.name, []).append(md)
        with open(os.path.join(SPECS, doc)) as f:
            d = json.load(f)
        api_out = {}
        for sname, s in sorted(d["schemas"].items()):
            if not sname.startswith(prefix):
                continue
            key = sname[len(prefix):]
            cands = byflat.get(key) or bysimple.get(key) or []
            if len(cands) != 1:
                continue
            fields = {f.json_name: f for f in cands[0].fields}
            for pname, p in sorted(s.get("properties", {}).items()):
                names = p.get("enum") or p.get("items", {}).get("enum")
                f = fields.get(pname)
                if not names or f is None or f.enum_type is None:
                    continue
                nums = {v.name: v.number for v in f.enum_type.values}
                if [nums.get(n) for n in names] != list(range(len(names))):
                    api_out.setdefault(sname, {})[pname] = {n: nums[n] for n in names if n in nums}
        result[api] = api_out
    return result


def main():
    t = table()
    text = json.dumps(t, indent=1, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                print("enum_numbers.json differs from the installed protos; regenerate it")
                return 1
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
