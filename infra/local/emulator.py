"""The local emulator: moto's server, handling one request at a time.

DynamoDB checks a transaction's conditions and applies its writes as one atomic step, and conditional
writes to one item are serialised. moto's threaded server does neither across concurrent requests, so
two racing transactions can both pass a condition. Serialising requests restores the guarantee the code
relies on (concurrent duplicate submissions make one record). The recorder's replay calls back into this
server over HTTP, so it runs outside the lock.

It also says no as AWS does when a test asks it to (`POST /_rapport/faults`, see `queue_faults`): SES
and S3 DeleteObjects faults by recipient or key, and DynamoDB and S3 faults drawn at a rate for the
tables and bucket of one stack's name prefix, plus a contention mode in which two transactions on one
item at once conflict, as in DynamoDB. `GET /_rapport/faults/stats?prefix=...` counts what was done.

`GET /_rapport/busy` says, for each kind of request since `POST /_rapport/busy` (or the start), how many
it served, for how long (the lock held) and when it began serving the first and the last, so that a
bench can tell the emulator's limit from the code's.

Usage: emulator.py -H 127.0.0.1 -p 4566
"""
import argparse
import io
import json
import os
import signal
import sys
import threading
import time
from urllib.parse import parse_qs
from xml.etree import ElementTree
from xml.sax.saxutils import escape as xml_escape

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from faults import BadFaults, Faults, conflict_answer, dynamodb_fault, read_body, s3_fault


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


def item_level_rollback():
    """moto backs up every table a transaction names with a deep copy, its rollback, so each transaction
    costs the size of the table and a history of thousands of records slows to a crawl. Back up just the
    items the transaction names instead and put those back if it is cancelled (requests are serialised,
    so nothing else changes them meanwhile), with the stream records they added."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class KeepTables:
        @staticmethod
        def deepcopy(x, memo=None):
            return x if isinstance(x, Table) else copy.deepcopy(x, memo)

    models.copy = KeepTables
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        saved = []
        for entry in transact_items:
            op = next(iter(entry.values()), {})
            table = self.tables.get(op.get("TableName"))
            attrs = op.get("Item") or op.get("Key") or {}
            if table is None or table.hash_key_attr not in attrs:
                continue
            h = DynamoType(attrs[table.hash_key_attr])
            r = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in attrs:
                    continue
                r = DynamoType(attrs[table.range_key_attr])
            saved.append((table, h, r, copy.deepcopy(table.get_item(h, r))))
        # The stream records the cancelled writes added go too: in AWS a cancelled transaction
        # leaves nothing on the stream.
        streams = {id(t): (t.stream_shard, len(t.stream_shard.items))
                   for t, _, _, _ in saved if t.stream_shard is not None}
        try:
            return original(self, transact_items)
        except Exception:
            for shard, length in streams.values():
                del shard.items[length:]
            for table, h, r, item in reversed(saved):
                if r is None:
                    if item is None:
                        table.items.pop(h, None)
                    else:
                        table.items[h] = item
                elif item is None:
                    table.items[h].pop(r, None)
                else:
                    table.items[h][r] = item
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


def fault_stats(environ, start_response, faults):
    prefix = (parse_qs(environ.get("QUERY_STRING", "")).get("prefix") or [""])[0]
    body = json.dumps(faults.stats_for(prefix)).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def queue_faults(environ, start_response, faults, rules):
    """`POST /_rapport/faults`, each part optional:

    `{"ses_send": [{"to": address, "fault": "throttle"|"reject"|"lost_answer"}, ...]}`: the next SES v2 send
    to that address fails so (once per entry); `lost_answer` lets SES take the email and then answers 500,
    as when a response is lost after the send.
    `{"s3_delete": [{"key_contains": text, "times": n}, ...]}`: the next n S3 DeleteObjects requests whose
    body holds that text delete nothing and answer 200 with an InternalError for every object, as S3 does
    when some keys of a batch fail.
    `{"dynamodb": [{"prefix", "rate", "seed", "operations"?, "kinds"?, "slow_ms"?}, ...]}` and the same for
    `"s3"`: every request on the tables (bucket) of that name prefix draws a fault with probability `rate`
    (kinds: conflict, throughput, throttling, internal, slow for DynamoDB; internal, slowdown, slow for
    S3; slow waits `slow_ms`, 200 by default, and then answers normally); a rule replaces the prefix's
    previous one for that service.
    `{"contention": {"prefix", "hold_ms", "window"?}}`: two transactions on one item at once conflict (see
    `Faults.enter`; window `processed`, the default, or `hold`).
    `{"clear": prefix}`, applied first: that prefix's DynamoDB, S3 and contention rules go (its counts stay).
    Keyed by recipient, key or name prefix, so tests running side by side never see each other's faults.
    A bad rule answers 400 and changes nothing."""
    size = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        body = json.loads(environ["wsgi.input"].read(size) or b"{}")
        if not isinstance(body, dict):
            raise BadFaults("the body is a JSON object")
        rules.configure(body)
    except ValueError as e:  # BadFaults, or JSON that does not parse
        raw = json.dumps({"message": str(e)}).encode()
        start_response("400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(raw)))])
        return [raw]
    faults["ses_send"].extend(body.get("ses_send", []))
    faults["s3_delete"].extend(dict(f) for f in body.get("s3_delete", []) if int(f.get("times", 1)) > 0)
    start_response("204 No Content", [])
    return [b""]


def ses_fault(kind, start_response):
    code, status = {
        "throttle": ("TooManyRequestsException", "429 Too Many Requests"),
        "reject": ("MessageRejected", "400 Bad Request"),
        "lost_answer": ("InternalFailure", "500 Internal Server Error"),
    }[kind]
    body = json.dumps({"message": f"injected {code}"}).encode()
    start_response(status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
                            ("Content-Length", str(len(body)))])
    return [body]


def is_delete_objects(environ):
    """S3 DeleteObjects with path-style addressing: `POST /<bucket>?delete`."""
    if environ.get("REQUEST_METHOD") != "POST":
        return False
    path = environ.get("PATH_INFO", "").strip("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return bool(path) and "/" not in path and "delete" in query


def s3_delete_fault(raw, start_response):
    """A DeleteResult with an InternalError for each object of the request; nothing is deleted."""
    errors = []
    for obj in ElementTree.fromstring(raw).iter():
        if obj.tag.rsplit("}", 1)[-1] != "Object":
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in obj}
        version = fields.get("VersionId")
        errors.append(
            "<Error><Key>{}</Key>{}<Code>InternalError</Code><Message>injected InternalError</Message></Error>".format(
                xml_escape(fields.get("Key", "")),
                f"<VersionId>{xml_escape(version)}</VersionId>" if version is not None else "",
            )
        )
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{}</DeleteResult>').format("".join(errors))
    body = body.encode()
    start_response("200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def operation(environ):
    """A request's kind: the JSON protocols' action, else its method and the first parts of its path."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    parts = environ.get("PATH_INFO", "").split("/")[:4]
    return f"{environ.get('REQUEST_METHOD', '')} {'/'.join(parts)}"


class Serialised:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        # By kind: [requests, seconds served, first and last began (epoch seconds)]; under `lock`.
        self.busy = {}
        self.faults = {"ses_send": [], "s3_delete": []}
        self.rules = Faults()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/recorder/"):
            return self.app(environ, start_response)
        if path == "/_rapport/faults/stats":
            return fault_stats(environ, start_response, self.rules)
        if path == "/_rapport/busy":
            return self.busy_report(environ, start_response)
        # The emulator's own endpoints are never faulted.
        req = None if path.startswith(("/_rapport/", "/moto-api/")) else self.rules.describe(environ)
        held = None
        if req is not None:
            # Decided on arrival, answered before moto sees anything; a slow answer waits outside the lock.
            fault = self.rules.decide(req)
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.slow_ms / 1000.0)
            elif fault is not None and req.service == "dynamodb":
                return dynamodb_fault(req, fault, start_response)
            elif fault is not None:
                return s3_fault(environ, fault, start_response)
            contended = self.rules.enter(req)
            if contended is not None and contended[0] == "conflict":
                return conflict_answer(req, start_response, contended[1])
            if contended is not None:
                _, hold, held, after_hold = contended
                time.sleep(hold)
                if after_hold:
                    self.rules.leave(held)
                    held = None
        try:
            with self.lock:
                began, start = time.time(), time.perf_counter()
                try:
                    return self.serve(environ, start_response)
                finally:
                    b = self.busy.setdefault(operation(environ), [0, 0.0, began, began])
                    b[0] += 1
                    b[1] += time.perf_counter() - start
                    b[3] = began
        finally:
            if held:
                self.rules.leave(held)

    def busy_report(self, environ, start_response):
        with self.lock:
            if environ.get("REQUEST_METHOD") == "POST":
                self.busy = {}
                start_response("204 No Content", [])
                return [b""]
            body = json.dumps({op: {"requests": n, "seconds": t, "first": first, "last": last}
                               for op, (n, t, first, last) in self.busy.items()}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def serve(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_rapport/emails":
            return sent_emails(environ, start_response)
        if path == "/_rapport/faults":
            return queue_faults(environ, start_response, self.faults, self.rules)
        if path == "/v2/email/outbound-emails" and self.faults["ses_send"]:
            raw = read_body(environ)
            to = json.loads(raw or b"{}").get("Destination", {}).get("ToAddresses", [])
            hit = next((f for f in self.faults["ses_send"] if f.get("to") in to), None)
            if hit is not None:
                self.faults["ses_send"].remove(hit)
                if hit["fault"] == "lost_answer":
                    list(self.app(environ, lambda *_: None))
                return ses_fault(hit["fault"], start_response)
        if self.faults["s3_delete"] and is_delete_objects(environ):
            raw = read_body(environ)
            text = raw.decode("utf-8", "replace")
            hit = next((f for f in self.faults["s3_delete"] if f.get("key_contains", "") in text), None)
            if hit is not None:
                hit["times"] = int(hit.get("times", 1)) - 1
                if hit["times"] <= 0:
                    self.faults["s3_delete"].remove(hit)
                return s3_delete_fault(raw, start_response)
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
    item_level_rollback()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
