"""The Azure double: Azure Resource Manager and the Entra token endpoint over TLS, on one loopback port."""

import os

VERSION = open(os.path.join(os.path.dirname(__file__), "VERSION")).read().strip()
