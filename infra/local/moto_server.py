"""moto's server, handling one request at a time.

Two moto (5.x) shortcomings that real DynamoDB does not have, worked around here so the
tests exercise Vigil rather than wait on its stand-in:

- TransactWriteItems deep-copies the table (for its rollback) while other requests change
  it, failing with "dictionary changed size during iteration": requests are serialised.
- It makes that deep copy once per item of the transaction, 100 copies of the whole table
  per call (seconds each once the table holds thousands of items): one copy per table per
  call is kept, which is what the rollback needs.

Same arguments as `moto_server` (-H host, -p port).
"""

import argparse
import copy
import threading

import moto.dynamodb.models as dynamodb_models

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class _CopyOncePerCall:
    """`copy` for one TransactWriteItems call: repeated deep copies of one object are one."""

    def __init__(self) -> None:
        self._copies: dict[int, object] = {}

    def deepcopy(self, obj, memo=None):
        if id(obj) not in self._copies:
            self._copies[id(obj)] = copy.deepcopy(obj, memo)
        return self._copies[id(obj)]

    def __getattr__(self, name):
        return getattr(copy, name)


_transact = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_copying_once(self, transact_items):
    dynamodb_models.copy = _CopyOncePerCall()
    try:
        return _transact(self, transact_items)
    finally:
        dynamodb_models.copy = copy


def main() -> None:
    dynamodb_models.DynamoDBBackend.transact_write_items = _transact_copying_once

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
