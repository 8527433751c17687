"""mlinfra's local GCP API double. See docs/gcp-double.md."""

import os

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")) as _f:
    VERSION = _f.read().strip()
