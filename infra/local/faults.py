"""Faults as AWS gives them, for the emulator (`emulator.py`): DynamoDB and S3 faults drawn at a rate
from a seed for the tables and bucket of one stack's name prefix, the contention mode in which two
transactions on one item at once conflict, the counts of what was done, and the answers AWS sends.
"""
import io
import json
import random
import threading
import time
import uuid
import zlib
from urllib.parse import parse_qs

DYNAMODB_KINDS = ("conflict", "throughput", "throttling", "internal", "slow")
S3_KINDS = ("internal", "slowdown", "slow")
DYNAMODB_TARGET = "DynamoDB_20120810."
# What a conflict can answer in DynamoDB: writes and transactions; a plain read never conflicts.
CONFLICTING_OPERATIONS = {"TransactWriteItems", "TransactGetItems", "PutItem", "UpdateItem", "DeleteItem"}
SINGLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
TRANSACTIONS = {"TransactWriteItems", "TransactGetItems"}


class BadFaults(ValueError):
    pass


class Rule:
    """Faults drawn for the requests on one name prefix's tables (or bucket): a fault with probability
    `rate`, its kind uniformly among the kinds that apply to the operation, from `random.Random(seed)`
    in arrival order, so a sequential run draws the same faults every time."""

    def __init__(self, service, spec):
        every = DYNAMODB_KINDS if service == "dynamodb" else S3_KINDS
        if not isinstance(spec, dict):
            raise BadFaults(f"{service}: each rule is an object")
        self.prefix = spec.get("prefix")
        if not isinstance(self.prefix, str) or not self.prefix:
            raise BadFaults(f"{service}: a rule needs a prefix")
        self.rate = spec.get("rate", 0)
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not 0 <= self.rate <= 1:
            raise BadFaults(f"{service}: rate must be a number from 0 to 1")
        self.kinds = spec.get("kinds") or list(every)
        unknown = [k for k in self.kinds if k not in every]
        if unknown:
            raise BadFaults(f"{service}: unknown kinds {unknown}; known: {list(every)}")
        operations = spec.get("operations")
        if operations is not None and (not isinstance(operations, list) or not all(isinstance(o, str) for o in operations)):
            raise BadFaults(f"{service}: operations must be a list of operation names")
        self.operations = None if not operations else set(operations)
        self.slow_ms = spec.get("slow_ms", 200)
        if isinstance(self.slow_ms, bool) or not isinstance(self.slow_ms, (int, float)) or self.slow_ms < 0:
            raise BadFaults(f"{service}: slow_ms must be a number of milliseconds")
        seed = spec.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, (int, str)):
            raise BadFaults(f"{service}: seed must be an integer")
        self.rng = random.Random(seed)


class Request:
    """What the fault rules look at: the service, the operation, the tables (or bucket) it names and, for
    DynamoDB, its parsed body."""

    def __init__(self, service, operation, resources, body=None):
        self.service = service
        self.operation = operation
        self.resources = resources
        self.body = body or {}


class Fault:
    def __init__(self, kind, slow_ms, conflict_at=None):
        self.kind = kind
        self.slow_ms = slow_ms
        self.conflict_at = conflict_at


def dynamodb_tables(body):
    """Every table a DynamoDB request names."""
    names = []
    if isinstance(body.get("TableName"), str):
        names.append(body["TableName"])
    if isinstance(body.get("RequestItems"), dict):
        names.extend(body["RequestItems"].keys())
    for entry in body.get("TransactItems") or []:
        for op in entry.values() if isinstance(entry, dict) else []:
            if isinstance(op, dict) and isinstance(op.get("TableName"), str):
                names.append(op["TableName"])
    for field in ("TableArn", "ResourceArn"):
        arn = body.get(field)
        if isinstance(arn, str) and ":table/" in arn:
            names.append(arn.split(":table/", 1)[1].split("/", 1)[0])
    return names


def signing_service(environ):
    """The service in a SigV4 (or SigV4a) credential scope, from the header or a presigned URL."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        credential = (query.get("X-Amz-Credential") or [""])[0]
    parts = credential.strip().split("/")
    if len(parts) >= 3 and parts[-1] == "aws4_request":
        return parts[-2].lower()
    return None


S3_OBJECT_SUBRESOURCES = (("tagging", "ObjectTagging"), ("acl", "ObjectAcl"), ("retention", "ObjectRetention"),
                          ("legal-hold", "ObjectLegalHold"), ("attributes", "ObjectAttributes"))
S3_BUCKET_SUBRESOURCES = (("cors", "Cors"), ("lifecycle", "LifecycleConfiguration"), ("versioning", "Versioning"),
                          ("policy", "Policy"), ("tagging", "Tagging"), ("encryption", "Encryption"),
                          ("notification", "NotificationConfiguration"), ("publicAccessBlock", "PublicAccessBlock"),
                          ("acl", "Acl"), ("location", "Location"), ("ownershipControls", "OwnershipControls"),
                          ("website", "Website"), ("logging", "Logging"), ("object-lock", "ObjectLockConfiguration"))
VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}


def s3_operation(environ, key):
    """The S3 API operation of a path-style request: the SDK's `x-id` when it sends one, else from the
    method, whether a key is named and the subresource."""
    method = environ.get("REQUEST_METHOD", "GET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if query.get("x-id"):
        return query["x-id"][0]
    copy = "HTTP_X_AMZ_COPY_SOURCE" in environ
    if key:
        if "uploadId" in query:
            return {"PUT": "UploadPartCopy" if copy else "UploadPart", "POST": "CompleteMultipartUpload",
                    "DELETE": "AbortMultipartUpload", "GET": "ListParts"}.get(method, method)
        if "uploads" in query and method == "POST":
            return "CreateMultipartUpload"
        for sub, name in S3_OBJECT_SUBRESOURCES:
            if sub in query and method in VERBS:
                return VERBS[method] + name
        return {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "CopyObject" if copy else "PutObject",
                "DELETE": "DeleteObject", "POST": "RestoreObject" if "restore" in query else "PostObject"}.get(method, method)
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "GET" and "versions" in query:
        return "ListObjectVersions"
    if method == "GET" and "uploads" in query:
        return "ListMultipartUploads"
    for sub, name in S3_BUCKET_SUBRESOURCES:
        if sub in query and method in VERBS:
            return VERBS[method] + "Bucket" + name
    listing = "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    return {"GET": listing, "HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, method)


def key_attributes(table):
    """The table's key attribute names, from moto's key schema; `pk`/`sk` for a table it does not know."""
    from moto.dynamodb.models import dynamodb_backends

    try:
        for account in list(dynamodb_backends.keys()):
            for region in list(dynamodb_backends[account].keys()):
                t = dynamodb_backends[account][region].tables.get(table)
                if t is not None:
                    return [a for a in (t.hash_key_attr, t.range_key_attr) if a]
    except Exception:  # a backend being created meanwhile: the usual names will do
        pass
    return ["pk", "sk"]


def new_stats():
    return {"dynamodb": {"calls": 0, "faults": {k: 0 for k in DYNAMODB_KINDS}},
            "s3": {"calls": 0, "faults": {k: 0 for k in S3_KINDS}},
            "contention": {"transactions": 0, "conflicts": 0, "writes": 0, "write_conflicts": 0}}


class Faults:
    """The DynamoDB and S3 fault rules and the contention mode, by name prefix, with what they did. Its
    own lock, never held while a request sleeps or moto works, so decisions follow arrival order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = {"dynamodb": {}, "s3": {}}
        self.contention = {}
        self.in_flight = {}
        self.stats = {}
        self.key_names = {}

    def stats_of(self, prefix):
        return self.stats.setdefault(prefix, new_stats())

    def configure(self, body):
        """Checks every rule first, so a bad request changes nothing."""
        clear = body.get("clear")
        if clear is not None and not isinstance(clear, str):
            raise BadFaults("clear: a name prefix")
        rules = {service: [Rule(service, spec) for spec in body.get(service) or []] for service in ("dynamodb", "s3")}
        contention = body.get("contention")
        contention = [] if contention is None else contention if isinstance(contention, list) else [contention]
        holds = []
        for c in contention:
            prefix = c.get("prefix") if isinstance(c, dict) else None
            hold = c.get("hold_ms", 20) if isinstance(c, dict) else None
            window = c.get("window", "processed") if isinstance(c, dict) else None
            if not isinstance(prefix, str) or not prefix:
                raise BadFaults("contention: needs a prefix")
            if isinstance(hold, bool) or not isinstance(hold, (int, float)) or hold < 0:
                raise BadFaults("contention: hold_ms must be a number of milliseconds")
            if window not in ("processed", "hold"):
                raise BadFaults('contention: window is "processed" or "hold"')
            holds.append((prefix, (hold, window)))
        with self.lock:
            if clear:
                for service in self.rules.values():
                    service.pop(clear, None)
                self.contention.pop(clear, None)
            for service, new in rules.items():
                for rule in new:
                    self.rules[service][rule.prefix] = rule
                    self.stats_of(rule.prefix)
            for prefix, hold in holds:
                self.contention[prefix] = hold
                self.stats_of(prefix)

    def stats_for(self, prefix):
        with self.lock:
            return json.loads(json.dumps(self.stats.get(prefix) or new_stats()))

    def describe(self, environ):
        """The request as the rules see it, or None when no rule could apply to it (the common case: then
        nothing is read or parsed)."""
        with self.lock:
            dynamodb = bool(self.rules["dynamodb"] or self.contention)
            s3 = bool(self.rules["s3"])
        if not (dynamodb or s3):
            return None
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(DYNAMODB_TARGET):
            if not dynamodb:
                return None
            try:
                body = json.loads(read_body(environ) or b"{}")
            except ValueError:
                return None
            if not isinstance(body, dict):
                return None
            return Request("dynamodb", target[len(DYNAMODB_TARGET):], dynamodb_tables(body), body)
        if s3 and signing_service(environ) == "s3":
            bucket, _, key = environ.get("PATH_INFO", "").lstrip("/").partition("/")
            if bucket:
                return Request("s3", s3_operation(environ, key), [bucket])
        return None

    @staticmethod
    def matching(by_prefix, names):
        """The entry of the longest prefix that every name starts with (a request naming nothing matches none)."""
        if not names:
            return None, None
        best = None
        for prefix in by_prefix:
            if all(n.startswith(prefix) for n in names) and (best is None or len(prefix) > len(best)):
                best = prefix
        return best, by_prefix.get(best) if best is not None else None

    def decide(self, req):
        """The fault drawn for this request, if any, counted."""
        with self.lock:
            prefix, rule = self.matching(self.rules[req.service], req.resources)
            if rule is None or (rule.operations is not None and req.operation not in rule.operations):
                return None
            kinds = [k for k in rule.kinds if k != "conflict" or req.operation in CONFLICTING_OPERATIONS]
            if not kinds:
                return None
            stats = self.stats_of(prefix)[req.service]
            stats["calls"] += 1
            if rule.rng.random() >= rule.rate:
                return None
            kind = rule.rng.choice(kinds)
            stats["faults"][kind] += 1
            conflict_at = None
            if kind == "conflict" and req.operation in TRANSACTIONS:
                conflict_at = rule.rng.randrange(max(1, len(req.body.get("TransactItems") or [])))
            return Fault(kind, rule.slow_ms, conflict_at)

    def item_keys(self, req):
        """(table, key) of every item a DynamoDB write names, in the request's order."""
        if req.operation == "TransactWriteItems":
            entries = [next(iter(e.values()), {}) for e in req.body.get("TransactItems") or [] if isinstance(e, dict)]
        else:
            entries = [req.body]
        keys = []
        for op in entries:
            table = op.get("TableName") if isinstance(op, dict) else None
            attrs = (op.get("Item") or op.get("Key") or {}) if isinstance(op, dict) else {}
            if table not in self.key_names:
                self.key_names[table] = key_attributes(table)
            key = {a: attrs.get(a) for a in self.key_names[table]}
            keys.append((table, json.dumps(key, sort_keys=True)))
        return keys

    def enter(self, req):
        """Contention mode, as DynamoDB defines a conflict: a transaction whose items include one of another
        transaction in flight is cancelled, and so is a single-item write to such an item; two single-item
        writes to one item never conflict (DynamoDB orders them). A transaction that goes ahead marks its
        items in flight for `hold_ms` and then, with the window `processed` (the default), until the
        emulator has applied it, its wait for the lock included; with `hold`, for `hold_ms` only, the time
        DynamoDB itself would take, as the emulator's queue (every stack's requests, one at a time) has no
        counterpart in DynamoDB. Answers None (not contended), ("conflict", flags per item) or ("hold",
        seconds, keys to unmark, whether to unmark them after the hold)."""
        if req.service != "dynamodb" or req.operation not in SINGLE_WRITES | {"TransactWriteItems"}:
            return None
        with self.lock:
            prefix, mode = self.matching(self.contention, req.resources)
            if prefix is None:
                return None
            keys = self.item_keys(req)
            stats = self.stats_of(prefix)["contention"]
            single = req.operation in SINGLE_WRITES
            stats["writes" if single else "transactions"] += 1
            busy = [k in self.in_flight for k in keys]
            if any(busy):
                stats["write_conflicts" if single else "conflicts"] += 1
                return ("conflict", busy)
            if single:
                return None
            for k in keys:
                self.in_flight[k] = self.in_flight.get(k, 0) + 1
            hold_ms, window = mode
            return ("hold", hold_ms / 1000.0, keys, window == "hold")

    def leave(self, keys):
        with self.lock:
            for k in keys:
                n = self.in_flight.get(k, 0) - 1
                if n > 0:
                    self.in_flight[k] = n
                else:
                    self.in_flight.pop(k, None)


def request_id(n):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    raw = uuid.uuid4().int
    out = []
    for _ in range(n):
        raw, d = divmod(raw, len(alphabet))
        out.append(alphabet[d])
        if raw == 0:
            raw = uuid.uuid4().int
    return "".join(out)


def dynamodb_error(start_response, status, code, message, **fields):
    """An error as DynamoDB answers it (awsJson1_0): `__type` with the namespace, the message and its CRC32."""
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}"}
    body.update(fields)
    if "Message" not in fields:
        body["message"] = message
    raw = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id(52)),
                            ("x-amz-crc32", str(zlib.crc32(raw) & 0xFFFFFFFF)), ("Content-Length", str(len(raw)))])
    return [raw]


def cancelled(start_response, conflicting):
    """TransactionCanceledException with a reason per item: TransactionConflict where `conflicting` says so."""
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"} if c
               else {"Code": "None"} for c in conflicting]
    message = "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]".format(
        ", ".join(r["Code"] for r in reasons))
    return dynamodb_error(start_response, "400 Bad Request", "TransactionCanceledException", message,
                          CancellationReasons=reasons, Message=message)


def conflict_answer(req, start_response, conflicting):
    if req.operation in TRANSACTIONS:
        return cancelled(start_response, conflicting)
    return dynamodb_error(start_response, "400 Bad Request", "TransactionConflictException",
                          "Transaction is ongoing for the item")


def dynamodb_fault(req, fault, start_response):
    if fault.kind == "conflict":
        n = len(req.body.get("TransactItems") or []) or 1
        return conflict_answer(req, start_response, [i == fault.conflict_at for i in range(n)])
    status, code, message = {
        "throughput": ("400 Bad Request", "ProvisionedThroughputExceededException",
                       "The level of configured provisioned throughput for the table was exceeded. "
                       "Consider increasing your provisioning level with the UpdateTable API."),
        "throttling": ("400 Bad Request", "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
        "internal": ("500 Internal Server Error", "InternalServerError", "Internal server error"),
    }[fault.kind]
    return dynamodb_error(start_response, status, code, message)


def s3_fault(environ, fault, start_response):
    """An S3 error document (no body for a HEAD, as S3 does); the request's body is read first, so the
    client sees the answer rather than a connection closed on its upload."""
    read_body(environ)
    status, code, message = {
        "internal": ("500 Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
        "slowdown": ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
    }[fault.kind]
    rid = request_id(16)
    body = b""
    if environ.get("REQUEST_METHOD") != "HEAD":
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{}</Code><Message>{}</Message>'
                "<RequestId>{}</RequestId><HostId>{}</HostId></Error>").format(code, message, rid, rid.lower()).encode()
    start_response(status, [("Content-Type", "application/xml"), ("x-amz-request-id", rid),
                            ("x-amz-id-2", rid.lower()), ("Content-Length", str(len(body)))])
    return [body]


def read_body(environ):
    """The request's body, put back for the app to read again."""
    size = environ.get("CONTENT_LENGTH")
    if size:
        raw = environ["wsgi.input"].read(int(size))
    else:
        # Without a length only a chunked body ends on its own.
        raw = environ["wsgi.input"].read() if environ.get("wsgi.input_terminated") else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    return raw
