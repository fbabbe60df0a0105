"""The local emulator: moto's server, handling one request at a time.

DynamoDB checks a transaction's conditions and applies its writes as one atomic step, and conditional
writes to one item are serialised. moto's threaded server does neither across concurrent requests, so
two racing transactions can both pass a condition. Serialising requests restores the guarantee the code
relies on (concurrent duplicate submissions make one record). The recorder's replay calls back into this
server over HTTP, so it runs outside the lock.

Usage: emulator.py -H 127.0.0.1 -p 4566
"""
import argparse
import json
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def sent_emails(environ, start_response):
    """The raw messages SES has sent, without dumping every other model as /moto-api/data.json does."""
    from moto.ses.models import RawMessage, ses_backends

    out = []
    for account in list(ses_backends.keys()):
        for region in list(ses_backends[account].keys()):
            for m in ses_backends[account][region].sent_messages:
                if isinstance(m, RawMessage):
                    out.append({"id": m.id, "source": m.source, "destinations": m.destinations, "raw_data": m.raw_data})
    body = json.dumps({"ses": {"RawMessage": out}}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Serialised:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/moto-api/recorder/"):
            return self.app(environ, start_response)
        with self.lock:
            if environ.get("PATH_INFO") == "/_rapport/emails":
                return sent_emails(environ, start_response)
            # Produce the whole body inside the lock: a WSGI app may answer with a lazy iterable.
            return list(self.app(environ, start_response))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
