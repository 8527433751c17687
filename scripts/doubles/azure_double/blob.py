"""The blob data plane of the double's storage accounts: Azurite, started by the double.

Azurite serves only the accounts it starts with, so the double is given their names
(--blob-accounts): a storage account of one of those names answers its `primaryEndpoints.blob`
at Azurite (https://127.0.0.1:PORT/NAME/, with the double's TLS certificate), and the
containers ARM creates and deletes in it are created and deleted there too, as one service
does in Azure. Azurite checks bearer tokens (--oauth basic: a JWT from an Entra issuer for
the storage audience), which the double's token endpoint issues.
"""

import base64
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

X_MS_VERSION = "2025-11-05"


def _die_with_parent():
    """Azurite ends when the double does, even when the double is killed (Linux)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class BlobPlane:
    def __init__(self, azurite_bin, accounts, cert, key, ca, workdir, mint):
        self.accounts = [a for a in accounts if a]
        self.mint = mint  # () -> a bearer token for https://storage.azure.com
        self.ctx = ssl.create_default_context(cafile=ca)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        env = dict(os.environ)
        env["AZURITE_ACCOUNTS"] = ";".join(
            "%s:%s" % (a, base64.b64encode(os.urandom(32)).decode()) for a in self.accounts)
        self.log = open(os.path.join(workdir, "azurite.log"), "wb")
        self.proc = subprocess.Popen(
            [azurite_bin, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--cert", cert, "--key", key,
             "--oauth", "basic", "--inMemoryPersistence", "--disableProductStyleUrl", "--skipApiVersionCheck",
             "--silent"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("Azurite exited with %s; see %s" % (self.proc.returncode, self.log.name))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("Azurite did not listen on 127.0.0.1:%d within 60 s" % self.port)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def serves(self, account):
        return account in self.accounts

    def endpoint(self, account):
        return "https://127.0.0.1:%d/%s/" % (self.port, account)

    def _call(self, method, path, query="", body=None):
        url = "https://127.0.0.1:%d/%s%s" % (self.port, urllib.parse.quote(path), ("?" + query) if query else "")
        req = urllib.request.Request(url, data=body, method=method, headers={
            "Authorization": "Bearer " + self.mint(), "x-ms-version": X_MS_VERSION,
            "Content-Length": str(len(body or b""))})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def create_container(self, account, container):
        status, body = self._call("PUT", "%s/%s" % (account, container), "restype=container")
        if status not in (201, 409):
            raise RuntimeError("Azurite refused container %s/%s: %s %s" % (account, container, status, body[:300]))

    def delete_container(self, account, container):
        status, body = self._call("DELETE", "%s/%s" % (account, container), "restype=container")
        if status not in (202, 404):
            raise RuntimeError("Azurite refused deleting %s/%s: %s %s" % (account, container, status, body[:300]))

    def get_blob(self, account, container, name):
        """The blob's bytes, or None when it is not there."""
        status, body = self._call("GET", "%s/%s/%s" % (account, container, name))
        if status == 200:
            return body
        if status == 404:
            return None
        raise RuntimeError("Azurite answered %s reading %s/%s/%s: %s" % (status, account, container, name, body[:300]))

    def reset(self):
        for a in self.accounts:
            status, body = self._call("GET", a, "comp=list")
            if status != 200:
                continue
            text = body.decode("utf-8", "replace")
            for part in text.split("<Name>")[1:]:
                self.delete_container(a, part.split("</Name>", 1)[0])


def jwt(claims, secret):
    """An HS256 JSON Web Token (Azurite decodes it; the double keeps the set it issued)."""
    import hashlib
    import hmac

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret, ("%s.%s" % (head, body)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, b64(sig))
