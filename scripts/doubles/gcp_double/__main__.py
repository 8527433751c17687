"""python -m gcp_double --port PORT: serves the GCP double on 127.0.0.1:PORT.

One port carries both protocols: a connection that opens with the HTTP/2 connection preface
(`PRI * HTTP/2.0`, what a gRPC client sends over plain http) is passed to the gRPC server,
anything else to the HTTP/1.1 JSON server; both listen on private loopback ports.
"""

import argparse
import asyncio
import os
import signal
import sys
import threading

from . import VERSION

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


async def _pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def _serve_front(host, port, http_port, grpc_port, started):
    async def on_conn(reader, writer):
        head = b""
        try:
            while len(head) < len(PREFACE) and PREFACE.startswith(head):
                chunk = await reader.read(len(PREFACE) - len(head))
                if not chunk:
                    break
                head += chunk
        except ConnectionError:
            writer.close()
            return
        if not head:
            writer.close()
            return
        target = grpc_port if head == PREFACE else http_port
        try:
            br, bw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.close()
            return
        bw.write(head)
        t1 = asyncio.ensure_future(_pipe(reader, bw))
        t2 = asyncio.ensure_future(_pipe(br, writer))
        await asyncio.wait([t1, t2], return_when=asyncio.ALL_COMPLETED)
        for w in (bw, writer):
            try:
                w.close()
            except OSError:
                pass

    server = await asyncio.start_server(on_conn, host, port, reuse_address=True)
    started(server)
    async with server:
        await server.serve_forever()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="scripts/doubles/gcp", description="GCP API double (GKE, Artifact Registry, "
                                 "Vertex AI, Cloud Storage) on one loopback port, gRPC and HTTP/1.1 JSON.")
    ap.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: pick a free one)")
    ap.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    ap.add_argument("--latency-ms", type=float, default=0, help="added to every response")
    ap.add_argument("--seed", type=int, default=None, help="seed for generated ids (deterministic runs)")
    ap.add_argument("--ready-after-polls", type=int, default=2,
                    help="an operation is done on its N-th poll (a GET of it or of its resource); 0: at once")
    ap.add_argument("--ready-after-ms", type=float, default=0,
                    help="and not before this many milliseconds after it started")
    ap.add_argument("--vertex-project-ids", action="store_true",
                    help="answer Vertex AI names with the project id (default: its number, as Vertex AI does)")
    ap.add_argument("--specs", default=None, help="folder of the discovery documents (default scripts/doubles/specs/gcp)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ap.add_argument("--version", action="version", version=VERSION)
    args = ap.parse_args(argv)

    from .discovery import Discovery
    from .state import Store
    from .http_server import JsonServer
    from . import gke, artifactregistry, vertex, storage_json  # noqa: F401  (register handlers)
    from . import storage_grpc

    try:
        disc = Discovery(args.specs)
    except OSError as e:
        sys.stderr.write("gcp double: cannot read the discovery documents (%s); they are expected in "
                         "scripts/doubles/specs/gcp, or give --specs DIR or MLINFRA_GCP_SPECS\n" % e)
        return 1
    store = Store(seed=args.seed, ready_after_polls=args.ready_after_polls, ready_after_ms=args.ready_after_ms,
                  latency_ms=args.latency_ms)
    from .projects import Numbers
    httpd = JsonServer(("127.0.0.1", 0), store, disc, Numbers(vertex_numbers=not args.vertex_project_ids))
    httpd.verbose = args.verbose
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    grpc_server, grpc_port = storage_grpc.serve(store)

    def started(server):
        port = server.sockets[0].getsockname()[1]
        if args.port == 0:
            sys.stderr.write("gcp double listening on 127.0.0.1:%d\n" % port)
        sys.stdout.write("ready\n")
        sys.stdout.flush()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, loop.stop)
        except (NotImplementedError, RuntimeError):
            pass
    task = loop.create_task(_serve_front(args.host, args.port, httpd.server_address[1], grpc_port, started))
    task.add_done_callback(lambda t: loop.stop())
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if task.done() and not task.cancelled() and task.exception():
            sys.stderr.write("gcp double: %s\n" % task.exception())
            os._exit(1)
        grpc_server.stop(0)
        httpd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
