"""Artifact Registry v1: repositories and their operations."""

import copy
import re

from .discovery import merge_mask
from .errors import already_exists, invalid, not_found
from .lro import get_lro, new_lro, lro_json, paginate, stamp
from .registry import handles

P = "artifactregistry.projects.locations."
TABLE = "artifactregistry.repositories"
META = "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"
REPO = "type.googleapis.com/google.devtools.artifactregistry.v1.Repository"
ID_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
HOST_SUFFIX = {"DOCKER": "docker", "MAVEN": "maven", "NPM": "npm", "APT": "apt", "YUM": "yum",
               "PYTHON": "python", "KFP": "kfp", "GO": "go", "GENERIC": "generic", "RUBY": "ruby",
               "GOOGET": "googet"}
MUTABLE = {"description", "labels", "cleanupPolicies", "cleanupPolicyDryRun", "dockerConfig",
           "vulnerabilityScanningConfig", "virtualRepositoryConfig", "remoteRepositoryConfig",
           "platformLogsConfig", "disallowUnspecifiedMode", "mavenConfig"}


def _repos(store):
    return store.table(TABLE)


def _op_name(ctx, location):
    project = ctx.name.split("/")[1]
    return "projects/%s/locations/%s/operations/%s" % (project, location, ctx.store.uuid())


@handles(P + "repositories.create")
def create(ctx):
    parts = ctx.name.split("/")
    project, location = parts[1], parts[3]
    rid = ctx.query.get("repositoryId")
    if not rid:
        raise invalid("repository_id is required.", field="repository_id")
    if len(rid) > 63 or not ID_RE.match(rid):
        raise invalid("Invalid repository ID \"%s\": it must start with a lowercase letter, end with a letter or "
                      "number, contain only lowercase letters, numbers and hyphens, and be at most 63 characters."
                      % rid, field="repository_id")
    repo = copy.deepcopy(ctx.body or {})
    fmt = repo.get("format", "FORMAT_UNSPECIFIED")
    if fmt == "FORMAT_UNSPECIFIED":
        raise invalid("Repository format must be specified.", field="repository.format")
    name = "projects/%s/locations/%s/repositories/%s" % (project, location, rid)
    pending = [o for o in ctx.store.running_on(name) if o.extra.get("creates")]
    if name in _repos(ctx.store) or pending:
        raise already_exists("the repository already exists")
    mode = repo.get("mode", "MODE_UNSPECIFIED")
    if mode == "MODE_UNSPECIFIED":
        mode = "STANDARD_REPOSITORY"
    if mode == "REMOTE_REPOSITORY" and not repo.get("remoteRepositoryConfig"):
        raise invalid("remote_repository_config is required for a remote repository.",
                      field="repository.remote_repository_config")
    if mode == "VIRTUAL_REPOSITORY" and not repo.get("virtualRepositoryConfig"):
        raise invalid("virtual_repository_config is required for a virtual repository.",
                      field="repository.virtual_repository_config")
    repo.update({"name": name, "format": fmt, "mode": mode, "satisfiesPzi": False, "satisfiesPzs": False,
                 "registryUri": "%s-%s.pkg.dev/%s/%s" % (location, HOST_SUFFIX.get(fmt, fmt.lower()), project, rid)})
    stamp(repo, created=True)

    def finish():
        _repos(ctx.store)[name] = repo
        return repo

    op = new_lro(ctx, "artifactregistry", _op_name(ctx, location), name, finish, META, REPO)
    op.extra["creates"] = True
    return lro_json(op)


def _get(ctx):
    ctx.store.touch(ctx.name)
    repo = _repos(ctx.store).get(ctx.name)
    if repo is None:
        raise not_found("Requested entity was not found.")
    return repo


@handles(P + "repositories.get")
def get(ctx):
    return _get(ctx)


@handles(P + "repositories.list")
def list_(ctx):
    prefix = ctx.name + "/"
    items = [r for n, r in sorted(_repos(ctx.store).items()) if n.startswith(prefix)]
    return paginate(items, ctx.query, "repositories")


@handles(P + "repositories.patch")
def patch(ctx):
    repo = _get(ctx)
    body = ctx.body or {}
    mask = ctx.query.get("updateMask")
    if not mask:
        mask = ",".join(k for k in body if k != "name")
    for p in mask.split(","):
        top = p.strip().split(".")[0]
        if top in ("format", "mode", "kmsKeyName", "name"):
            raise invalid("%s is immutable and cannot be updated." % top, field="update_mask")
    merge_mask(repo, body, mask, allowed=MUTABLE)
    stamp(repo)
    return repo


@handles(P + "repositories.delete")
def delete(ctx):
    repo = _get(ctx)
    name = repo["name"]
    location = name.split("/")[3]

    def finish():
        _repos(ctx.store).pop(name, None)
        return None

    op = new_lro(ctx, "artifactregistry", _op_name(ctx, location), name, finish, META)
    return lro_json(op)


@handles(P + "operations.get")
def get_operation(ctx):
    return get_lro(ctx, "artifactregistry")


@handles(P + "get")
def get_location(ctx):
    parts = ctx.name.split("/")
    return {"name": ctx.name, "locationId": parts[3]}
