"""moto's server, handling one request at a time.

Five moto (5.x) shortcomings that real DynamoDB and S3 do not have, worked around here so
the tests exercise Vigil rather than wait on its stand-in:

- TransactWriteItems deep-copies the table (for its rollback) while other requests change
  it, failing with "dictionary changed size during iteration": requests are serialised.
- It makes that deep copy once per item of the transaction: 100 copies of the whole table
  per call, seconds each once the table holds thousands of items, and even one copy per call
  grows with the table. The rollback needs only the items the transaction touches: those
  are kept before the call and put back if it fails, and no table is copied.
- Its UpdateItem parses and validates the expression by walking its syntax tree some twenty
  times: ~2 ms per item, so a 100-item transaction of counter updates takes 200 ms. An
  unconditional update made only of `ADD #n :v`, `SET #n = :v` and `REMOVE #n` terms (what
  Vigil's state store sends) is applied directly; anything else goes to moto as before.
- Its CopyObject into an Object Lock bucket asks for `Content-MD5` (or the SDK's checksum
  header) as a PutObject there must carry: a copy has no body to hash, and S3 asks for
  none. The backup copier's copies get the header moto looks for (`_copy_needs_no_md5`).
- Its CompleteMultipartUpload answer is rooted at `CompleteMultipartUploadResponse`, where
  S3 (and the Rust SDK, which refuses anything else) has `CompleteMultipartUploadResult`
  (`_complete_multipart_root`).

Same arguments as `moto_server` (-H host, -p port).
"""

import argparse
import copy
import io
import json
import random
import re
import threading
import time
from decimal import Decimal

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class _NoTableCopy:
    """`copy` for one TransactWriteItems call: the table "backup" is the table itself
    (moto's rollback then restores nothing; the wrapper below does it per item)."""

    def deepcopy(self, obj, memo=None):
        return obj

    def __getattr__(self, name):
        return getattr(copy, name)


_transact = dynamodb_models.DynamoDBBackend.transact_write_items


def _key(backend, op_type, op):
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _transact_rolling_back_items(self, transact_items):
    before = []
    for item in transact_items:
        for op_type, op in item.items():
            try:
                key = _key(self, op_type, op)
                current = self.get_item(op["TableName"], key)
            except Exception:  # moto itself reports a bad table or key
                continue
            attrs = copy.deepcopy(current.to_json()["Attributes"]) if current else None
            before.append((op["TableName"], key, attrs))
    dynamodb_models.copy = _NoTableCopy()
    try:
        return _transact(self, transact_items)
    except Exception:
        for table_name, key, attrs in reversed(before):
            if attrs is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attrs)
        raise
    finally:
        dynamodb_models.copy = copy


_update = dynamodb_models.DynamoDBBackend.update_item
_TERM = {
    "ADD": re.compile(r"(#\w+)\s+(:\w+)"),
    "SET": re.compile(r"(#\w+)\s*=\s*(:\w+)"),
    "REMOVE": re.compile(r"(#\w+)"),
}


def _simple_actions(expression, names, values):
    """[(action, attribute, value)] of an expression made only of placeholder terms
    `ADD #n :v` (numbers), `SET #n = :v` and `REMOVE #n`; None for anything else."""
    parts = re.split(r"\s*\b(ADD|SET|REMOVE)\b\s*", expression.strip())
    if parts[0] != "" or len(parts) < 3:
        return None
    actions = []
    for action, body in zip(parts[1::2], parts[2::2]):
        for term in body.split(","):
            match = _TERM[action].fullmatch(term.strip())
            if not match or match.group(1) not in names:
                return None
            value = values.get(match.group(2)) if action != "REMOVE" else None
            if action != "REMOVE" and value is None:
                return None
            if action == "ADD" and set(value) != {"N"}:
                return None
            actions.append((action, names[match.group(1)], value))
    return actions


def _update_simply(self, table_name, key, update_expression, expression_attribute_names,
                   expression_attribute_values, attribute_updates=None, expected=None,
                   condition_expression=None, return_values_on_condition_check_failure=None):
    table = self.get_table(table_name)
    actions = None
    if (update_expression and not (attribute_updates or expected or condition_expression)
            and table.range_key_attr is None and set(key) == {table.hash_key_attr}):
        actions = _simple_actions(update_expression, expression_attribute_names or {},
                                  expression_attribute_values or {})
    item = table.get_item(DynamoType(key[table.hash_key_attr]), None) if actions else None
    if actions is not None:
        for action, name, _ in actions:
            current = item.attrs.get(name) if item else None
            if name == table.hash_key_attr or (action == "ADD" and current and current.type != "N"):
                actions = None
    if actions is None:
        return _update(self, table_name, key, update_expression, expression_attribute_names,
                       expression_attribute_values, attribute_updates, expected,
                       condition_expression, return_values_on_condition_check_failure)
    if item is None:
        table.put_item({table.hash_key_attr: key[table.hash_key_attr]})
        item = table.get_item(DynamoType(key[table.hash_key_attr]), None)
    for action, name, value in actions:
        if action == "SET":
            item.attrs[name] = DynamoType(value)
        elif action == "REMOVE":
            item.attrs.pop(name, None)
        elif name in item.attrs:
            total = Decimal(item.attrs[name].value) + Decimal(value["N"])
            item.attrs[name] = DynamoType({"N": str(total)})
        else:
            item.attrs[name] = DynamoType(value)
    return item


class Faults:
    """Faults injected at the protocol, for Vigil's drill and fault tests: a rule names an
    operation (`DynamoDB_20120810.TransactWriteItems`, `AWSEvents.PutEvents`,
    `sns.Publish`, ...; a trailing `*` matches a prefix), a fault and a rate:

    - `throttle`: answered 400 with the service's throttling error, not applied;
    - `conflict` (TransactWriteItems): cancelled with a TransactionConflict, not applied;
    - `slow`: applied, answered `ms` milliseconds late (past the client's timeout: the
      client cannot tell whether it was applied);
    - `error_after`: applied, answered 500 (the same doubt, sooner).

    A rule with `burst: n` strikes the next n matching requests once it fires (throttling
    comes in bursts, and a burst outlasts the client's retries). S3 is named by method and
    path (`PUT /bucket/*`). `POST /_vigil/faults` with
    `{"seed": n, "rules": [{"target", "fault", "rate", "ms", "burst"}]}` sets them (an empty
    list clears them); `GET /_vigil/faults` returns them with how many were injected."""

    def __init__(self):
        self.rules = []
        self.rng = random.Random(0)
        self.lock = threading.Lock()

    def configure(self, config):
        with self.lock:
            self.rng = random.Random(config.get("seed", 0))
            self.rules = [dict(rule, injected=0, pending=0) for rule in config.get("rules", [])]

    def describe(self):
        with self.lock:
            return {"rules": [{k: v for k, v in r.items() if k != "pending"} for r in self.rules]}

    def pick(self, target):
        with self.lock:
            for rule in self.rules:
                pattern = rule["target"]
                matches = target.startswith(pattern[:-1]) if pattern.endswith("*") else target == pattern
                if not matches:
                    continue
                if rule["pending"] > 0:
                    rule["pending"] -= 1
                elif self.rng.random() < rule.get("rate", 0):
                    rule["pending"] = rule.get("burst", 1) - 1
                else:
                    continue
                rule["injected"] += 1
                return rule
        return None


def _target(environ, body):
    """The operation a request calls: `X-Amz-Target` (JSON protocols), or the signing
    service and the `Action` of a query-protocol body (SNS)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target
    service = re.search(r"/([\w-]+)/aws4_request", environ.get("HTTP_AUTHORIZATION", ""))
    action = re.search(rb"(?:^|&)Action=(\w+)", body or b"")
    if service and action:
        return f"{service.group(1)}.{action.group(1).decode()}"
    return environ.get("REQUEST_METHOD", "") + " " + environ.get("PATH_INFO", "")


def _refusal(target, fault, body):
    """The status, headers and body a service answers with for `fault`."""
    if target.split(" ")[0] in ("GET", "PUT", "POST", "DELETE", "HEAD"):
        xml = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        return "503 Slow Down", [("Content-Type", "application/xml")], xml.encode()
    if target.startswith("DynamoDB_"):
        content = "application/x-amz-json-1.0"
        if fault == "conflict":
            items = len(json.loads(body or b"{}").get("TransactItems", [])) or 1
            reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
            reasons += [{"Code": "None"}] * (items - 1)
            codes = ", ".join(r["Code"] for r in reasons)
            error = {
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                "CancellationReasons": reasons,
            }
        else:
            error = {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                     "message": "Rate of requests exceeds the allowed throughput."}
        return "400 Bad Request", [("Content-Type", content)], json.dumps(error).encode()
    if "." in target and not target.split(".")[0][:1].isupper():
        xml = ("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
               "<Message>Rate exceeded</Message></Error><RequestId>vigil-fault</RequestId></ErrorResponse>")
        return "400 Bad Request", [("Content-Type", "text/xml")], xml.encode()
    error = {"__type": "ThrottlingException", "message": "Rate exceeded"}
    return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")], json.dumps(error).encode()


def _copy_needs_no_md5(environ):
    """Lets a server-side CopyObject into an Object Lock bucket through moto's Content-MD5
    check (meant for uploads with a body)."""
    copy_source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if environ.get("REQUEST_METHOD") == "PUT" and copy_source and "uploadId" not in environ.get("QUERY_STRING", ""):
        environ.setdefault("HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM", environ.get("HTTP_X_AMZ_CHECKSUM_ALGORITHM", "SHA256"))


def _complete_multipart_root(environ, headers, body):
    """Renames the root of a CompleteMultipartUpload answer to S3's; fixes its length."""
    if environ.get("REQUEST_METHOD") != "POST" or "uploadId" not in environ.get("QUERY_STRING", ""):
        return headers, body
    text = b"".join(body)
    if b"<CompleteMultipartUploadResponse" not in text:
        return headers, body
    text = text.replace(b"CompleteMultipartUploadResponse", b"CompleteMultipartUploadResult")
    headers = [(k, str(len(text)) if k.lower() == "content-length" else v) for k, v in headers]
    return headers, [text]


def main() -> None:
    dynamodb_models.DynamoDBBackend.transact_write_items = _transact_rolling_back_items
    dynamodb_models.DynamoDBBackend.update_item = _update_simply

    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    faults = Faults()

    def serial(environ, start_response):
        if environ.get("PATH_INFO") == "/_vigil/faults":
            if environ["REQUEST_METHOD"] == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                faults.configure(json.loads(environ["wsgi.input"].read(length) or b"{}"))
            answer = json.dumps(faults.describe()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
            return [answer]
        _copy_needs_no_md5(environ)
        rule = None
        if faults.rules:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            target = _target(environ, body)
            rule = faults.pick(target)
            if rule and rule["fault"] in ("throttle", "conflict"):
                status, headers, payload = _refusal(target, rule["fault"], body)
                start_response(status, headers)
                return [payload]
        answer = []
        with lock:
            # Materialise the body under the lock: it may be generated lazily.
            body = list(app(environ, lambda status, headers, exc_info=None: answer.append((status, headers))))
        status, headers = answer[-1]
        headers, body = _complete_multipart_root(environ, headers, body)
        if rule and rule["fault"] == "slow":
            time.sleep(rule.get("ms", 1000) / 1000)
        if rule and rule["fault"] == "error_after":
            status, headers = "500 Internal Server Error", [("Content-Type", "application/json")]
            body = [json.dumps({"__type": "InternalServerError", "message": "injected after applying"}).encode()]
        start_response(status, headers)
        return body

    run_simple(args.host, args.port, serial, threaded=True)


if __name__ == "__main__":
    main()
