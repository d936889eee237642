"""moto's server, handling one request at a time.

Two moto (5.x) shortcomings that real DynamoDB does not have, worked around here so the
tests exercise Vigil rather than wait on its stand-in:

- TransactWriteItems deep-copies the table (for its rollback) while other requests change
  it, failing with "dictionary changed size during iteration": requests are serialised.
- It makes that deep copy once per item of the transaction: 100 copies of the whole table
  per call, seconds each once the table holds thousands of items, and even one copy per call
  grows with the table. The rollback needs only the items the transaction touches: those
  are kept before the call and put back if it fails, and no table is copied.

Same arguments as `moto_server` (-H host, -p port).
"""

import argparse
import copy
import threading

import moto.dynamodb.models as dynamodb_models

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


def main() -> None:
    dynamodb_models.DynamoDBBackend.transact_write_items = _transact_rolling_back_items

    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):
        with lock:
            # Materialise the body under the lock: it may be generated lazily.
            return list(app(environ, start_response))

    run_simple(args.host, args.port, serial, threaded=True)


if __name__ == "__main__":
    main()
