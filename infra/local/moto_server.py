"""moto's server, handling one request at a time.

Three moto (5.x) shortcomings that real DynamoDB does not have, worked around here so the
tests exercise Vigil rather than wait on its stand-in:

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

Same arguments as `moto_server` (-H host, -p port).
"""

import argparse
import copy
import re
import threading
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


def main() -> None:
    dynamodb_models.DynamoDBBackend.transact_write_items = _transact_rolling_back_items
    dynamodb_models.DynamoDBBackend.update_item = _update_simply

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
