#!/usr/bin/env python3
"""A Shared Signals push receiver (RFC 8935) for tests, on loopback only.

    scripts/ssf-test-receiver.py PLAN_FILE LOG_FILE

Prints its port as the first line of standard output. Every POST is answered with the next status of the
plan, re-read from PLAN_FILE for each request: {"script": [503, 400], "default": 202} answers the first
request 503, the second 400 (with RFC 8935's {"err": "invalid_key", ...}), every later one 202. Each request
is appended to LOG_FILE as one JSON line: {"status", "authorization", "content_type", "body"}.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PLAN, LOG = sys.argv[1], sys.argv[2]
served = 0
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the name http.server calls
        global served
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length).decode("ascii", "replace")
        with lock:
            with open(PLAN) as handle:
                plan = json.load(handle)
            script = plan.get("script", [])
            status = script[served] if served < len(script) else plan.get("default", 202)
            served += 1
            with open(LOG, "a") as log:
                log.write(json.dumps({
                    "status": status,
                    "authorization": self.headers.get("authorization"),
                    "content_type": self.headers.get("content-type"),
                    "body": body,
                }) + "\n")
        answer = b""
        if status == 400:
            answer = json.dumps({"err": "invalid_key", "description": "test receiver refuses it"}).encode()
        self.send_response(status)
        self.send_header("content-length", str(len(answer)))
        if answer:
            self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()
