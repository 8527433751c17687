"""A reverse proxy that injects faults, put in front of an emulator (fake-gcs-server,
Azurite) so that the state backends' fault tests run against the real server behind it.

    python3 scripts/fault_proxy.py --port P --upstream http://127.0.0.1:4443
    python3 scripts/fault_proxy.py --port P --upstream https://127.0.0.1:10000 \
        --upstream-ca ca.pem --tls-ca-out bundle.pem     # serves TLS with a CA of its own

Control, on the proxy itself:
  - POST /__faults with {"method": "PUT", "path": "REGEX", "status": 503, "times": 1,
    "after": false, "delay_ms": 0}: the next `times` requests whose method matches and
    whose decoded path and query (`PATH?QUERY`) match REGEX are answered `status` instead
    of being passed on (after = false), or passed on and then answered `status` (after =
    true: the request took effect, its answer is lost). With delay_ms, the answer waits
    that long first (a timeout); with a delay and no status, a request that is not passed
    on is dropped without an answer, and one passed on gets its real answer late.
  - DELETE /__faults clears them; GET /__faults lists them with the counts left.
Everything else goes to the upstream unchanged. Needs `cryptography` for --tls-ca-out
(the moto environment of the test command has it).
"""

import argparse
import datetime
import http.client
import http.server
import ipaddress
import json
import re
import ssl
import sys
import threading
import time
import urllib.parse

FAULTS = []
LOCK = threading.Lock()


def take(method, target):
    with LOCK:
        for f in FAULTS:
            if f["times"] > 0 and f["method"] == method and re.search(f["path"], target):
                f["times"] -= 1
                return dict(f)
    return None


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None  # urllib.parse result
    upstream_ctx = None

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def control(self, data):
        global FAULTS
        if self.command == "POST":
            f = json.loads(data or b"{}")
            with LOCK:
                FAULTS.append({"method": f.get("method", "PUT"), "path": f.get("path", ""),
                               "status": f.get("status"), "times": int(f.get("times", 1)),
                               "after": bool(f.get("after", False)),
                               "delay_ms": int(f.get("delay_ms", 0))})
        elif self.command == "DELETE":
            with LOCK:
                FAULTS = []
        with LOCK:
            out = json.dumps({"faults": FAULTS}).encode()
        self.reply(200, [("Content-Type", "application/json")], out)

    def forward(self, data):
        u = self.upstream
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(u.hostname, u.port, context=self.upstream_ctx, timeout=120)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "transfer-encoding", "content-length", "connection")}
        headers["Host"] = "%s:%d" % (u.hostname, u.port)
        if data or self.command in ("PUT", "POST", "PATCH"):
            headers["Content-Length"] = str(len(data))
        conn.request(self.command, self.path, body=data, headers=headers)
        r = conn.getresponse()
        out = (r.status, r.getheaders(), r.read())
        conn.close()
        return out

    def handle_any(self):
        data = self.body()
        if self.path.split("?")[0] == "/__faults":
            return self.control(data)
        target = urllib.parse.unquote(self.path)
        fault = take(self.command, target)
        if fault and not fault["after"]:
            if fault["delay_ms"]:
                time.sleep(fault["delay_ms"] / 1000)
            if fault["status"] is None:
                self.close_connection = True
                return
            return self.reply(fault["status"], [("Content-Type", "application/json")],
                              json.dumps({"error": {"code": fault["status"], "message": "injected"}}).encode())
        status, headers, out = self.forward(data)
        if fault:
            if fault["delay_ms"]:
                time.sleep(fault["delay_ms"] / 1000)
            if fault["status"] is not None:
                status, headers = fault["status"], [("Content-Type", "application/json")]
                out = json.dumps({"error": {"code": status, "message": "injected after"}}).encode()
        try:
            self.reply(status, headers, out)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_any


def own_ca(bundle_out, upstream_ca):
    """A CA and a certificate for 127.0.0.1 signed by it; the CA (with the upstream's) is
    written to bundle_out for the clients to trust."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import tempfile
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mlinfra fault proxy CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    bundle = pem(ca)
    if upstream_ca:
        bundle += open(upstream_ca, "rb").read()
    with open(bundle_out + ".tmp", "wb") as f:
        f.write(bundle)
    import os
    os.replace(bundle_out + ".tmp", bundle_out)
    d = tempfile.mkdtemp(prefix="fault-proxy-")
    cert_path, key_path = d + "/cert.pem", d + "/key.pem"
    open(cert_path, "wb").write(pem(cert))
    open(key_path, "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return cert_path, key_path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--upstream-ca", help="the CA the upstream's certificate is signed by")
    ap.add_argument("--tls-ca-out", help="serve TLS; write the CA bundle clients trust here")
    args = ap.parse_args()
    Proxy.upstream = urllib.parse.urlparse(args.upstream)
    if Proxy.upstream.scheme == "https":
        Proxy.upstream_ctx = ssl.create_default_context(cafile=args.upstream_ca)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Proxy)
    httpd.daemon_threads = True
    if args.tls_ca_out:
        cert, key = own_ca(args.tls_ca_out, args.upstream_ca)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    httpd.serve_forever()


if __name__ == "__main__":
    main()
