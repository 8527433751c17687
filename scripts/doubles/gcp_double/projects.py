"""Project numbers. Vertex AI answers resource names with the project *number*
(`projects/123456789012/locations/…`) whatever the request named; every API accepts either.
The double gives each project id a stable 12-digit number derived from the id, accepts it
in paths and bodies, and (unless --vertex-project-ids) writes it into Vertex AI answers."""

import hashlib
import re

_PROJECT = re.compile(r"projects/([^/:?&\s\"]+)")


def number_of(project_id):
    h = int(hashlib.sha256(project_id.encode()).hexdigest(), 16)
    return str(100000000000 + h % 900000000000)


class Numbers:
    def __init__(self, vertex_numbers=True):
        self.vertex_numbers = vertex_numbers
        self.ids = {}  # number -> id

    def _register(self, pid):
        if pid != "_" and not pid.isdigit():
            self.ids.setdefault(number_of(pid), pid)

    def inbound(self, text):
        """A path or body as the double keeps it: known project numbers become ids."""
        def sub(m):
            pid = m.group(1)
            if pid.isdigit():
                return "projects/" + self.ids.get(pid, pid)
            self._register(pid)
            return m.group(0)
        return _PROJECT.sub(sub, text)

    def outbound(self, value):
        """A Vertex AI answer: `projects/{id}` becomes `projects/{number}`."""
        if not self.vertex_numbers:
            return value
        if isinstance(value, str):
            if "projects/" not in value:
                return value
            return _PROJECT.sub(lambda m: "projects/" + (number_of(m.group(1)) if m.group(1) != "_"
                                                         and not m.group(1).isdigit() else m.group(1)), value)
        if isinstance(value, dict):
            return {k: self.outbound(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.outbound(v) for v in value]
        return value
