#!/usr/bin/env python3
"""Short HTTPS connections, for bench/live_agent.sh.

    tls_conns.py IP NAME CAFILE COUNT PARALLEL

Opens COUNT connections to IP:443 (PARALLEL worker processes, COUNT/PARALLEL
each, one connection at a time per worker): TCP connect, TLS handshake with
SNI = NAME (no session resumption: every handshake is full), one `GET /`,
the response read to its end, close. Prints one JSON line: connections that
succeeded and failed, wall seconds for all of them, and each successful
connection's connect + handshake latency in microseconds (sorted).
"""
import json
import multiprocessing
import socket
import ssl
import sys
import time


def worker(args):
    ip, name, cafile, count = args
    ctx = ssl.create_default_context(cafile=cafile)
    lat, failed = [], 0
    req = f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode()
    for _ in range(count):
        t0 = time.perf_counter_ns()
        try:
            with socket.create_connection((ip, 443), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname=name) as s:
                    t1 = time.perf_counter_ns()
                    s.sendall(req)
                    while s.recv(65536):
                        pass
            lat.append((t1 - t0) // 1000)
        except OSError:
            failed += 1
    return lat, failed


def main():
    ip, name, cafile, count, parallel = sys.argv[1:6]
    count, parallel = int(count), int(parallel)
    share = [count // parallel + (1 if i < count % parallel else 0) for i in range(parallel)]
    with multiprocessing.Pool(parallel) as pool:
        pool.map(int, range(parallel))  # workers started before the clock
        t0 = time.perf_counter()
        parts = pool.map(worker, [(ip, name, cafile, n) for n in share], chunksize=1)
        secs = time.perf_counter() - t0
    lat = sorted(l for part, _ in parts for l in part)
    print(json.dumps({"ok": len(lat), "failed": sum(f for _, f in parts), "seconds": secs, "latency_us": lat}))


if __name__ == "__main__":
    main()
