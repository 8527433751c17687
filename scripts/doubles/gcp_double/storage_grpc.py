"""placeholder"""
import concurrent.futures
import grpc


def serve(store):
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=8))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port
