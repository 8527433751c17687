"""python -m azure_double --port PORT --ca-out FILE: serves the Azure double on https://127.0.0.1:PORT."""

import argparse
import os
import shutil
import signal
import ssl
import sys
import tempfile
import threading

from . import VERSION


def main(argv=None):
    ap = argparse.ArgumentParser(prog="scripts/doubles/azure", description="Azure double: Azure Resource Manager "
                                 "and the Entra token endpoint, over TLS with a test CA, on one loopback port.")
    ap.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: pick a free one)")
    ap.add_argument("--ca-out", required=True, help="where to write the test CA certificate (PEM)")
    ap.add_argument("--latency-ms", type=float, default=0, help="added to every response")
    ap.add_argument("--ready-after-polls", type=int, default=2,
                    help="a long-running operation is done on its N-th poll (of it or of its resource); 0: at once")
    ap.add_argument("--ready-after-ms", type=float, default=0, help="and not before this many milliseconds")
    ap.add_argument("--retry-after", type=int, default=0,
                    help="the Retry-After (seconds) of long-running operation answers")
    ap.add_argument("--seed", type=int, default=None, help="seed of generated ids (repeatable runs)")
    ap.add_argument("--specs", default=os.environ.get("MLINFRA_AZURE_SPECS"),
                    help="folder of the ARM schemas (default scripts/doubles/specs/azure)")
    ap.add_argument("--blob-accounts", default="",
                    help="storage account names whose blob data plane Azurite serves (comma-separated; "
                         "the launcher installs Azurite from npm)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ap.add_argument("--version", action="version", version=VERSION)
    args = ap.parse_args(argv)

    from .arm import Store
    from .schema import Schemas
    from .server import ArmServer
    from . import tls

    specs = args.specs or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "specs", "azure")
    try:
        schemas = Schemas(specs)
    except OSError as e:
        sys.stderr.write("azure double: cannot read the ARM schemas (%s); they are expected in "
                         "scripts/doubles/specs/azure, or give --specs DIR or MLINFRA_AZURE_SPECS\n" % e)
        return 1
    work = tempfile.mkdtemp(prefix="azure-double-")
    paths = tls.make(work)
    tmp = args.ca_out + ".tmp"
    shutil.copyfile(paths["ca.pem"], tmp)
    os.replace(tmp, args.ca_out)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(paths["server.pem"], paths["server.key"])
    ctx.set_alpn_protocols(["http/1.1"])
    store = Store(schemas, ready_after_polls=args.ready_after_polls, ready_after_ms=args.ready_after_ms,
                  latency_ms=args.latency_ms, retry_after=args.retry_after, seed=args.seed)
    httpd = ArmServer(("127.0.0.1", args.port), store, ctx)
    if args.blob_accounts:
        from .blob import BlobPlane
        azurite = os.environ.get("MLINFRA_AZURITE_BLOB")
        if not azurite:
            sys.stderr.write("azure double: --blob-accounts needs Azurite; start the double through "
                             "scripts/doubles/azure, which installs it\n")
            httpd.server_close()
            return 1
        try:
            store.blob = BlobPlane(azurite, [a.strip() for a in args.blob_accounts.split(",")],
                                   paths["server.pem"], paths["server.key"], paths["ca.pem"], work,
                                   lambda: store.issue_token("https://storage.azure.com/.default"))
        except RuntimeError as e:
            sys.stderr.write("azure double: %s\n" % e)
            httpd.server_close()
            return 1
        sys.stderr.write("azure double: Azurite serves the blobs of %s on https://127.0.0.1:%d\n"
                         % (args.blob_accounts, store.blob.port))
    httpd.verbose = args.verbose
    if args.port == 0:
        sys.stderr.write("azure double listening on https://127.0.0.1:%d\n" % httpd.server_address[1])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    stop.wait()
    httpd.shutdown()
    if store.blob is not None:
        store.blob.stop()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
