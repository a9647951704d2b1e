"""moto's server, made cheaper per request for the local stack (behaviour unchanged, only cost).

Profiled per delivered message, moto spent its time on things that do not depend on the request:

* **routing**: ``DomainDispatcherApplication.get_backend_for_host`` lists moto's package directory
  (``backends.list_of_moto_modules``: ``os.listdir`` + an ``isdir`` per entry) on every request, under
  the dispatcher's global lock. The directory does not change while the process runs: :func:`install`
  lists it once.
* **SQS clocks**: moto's ``unix_time()`` builds several ``datetime`` objects per call, and SQS calls it
  twice per message *in the queue* for every receive (``Queue.messages`` filters by visibility and
  delay), so a receive cost grew with the backlog (~20 ms per 300 queued messages). Without an
  argument it is ``time.time()``, which it now is.
* **SQS retention**: for each message a receive returns, moto checks its retention period by building
  the queue's whole attribute map three times (``Queue.attributes``: counting the visible, delayed and
  in-flight messages of the backlog): ~11 ms per received message with 300 queued. It now reads the
  queue's retention period.
* **connections**: werkzeug's development server closes every connection, so each AWS call opened a TCP
  connection (connect, close, a DNS lookup of 127.0.0.1) and the server started a thread for it: ~half
  of a call's time in the local stack, most of it threads queueing for the GIL after each syscall.
  :class:`KeepAliveHandler` serves HTTP/1.1 keep-alive connections (as AWS endpoints do): it reads the
  request body whole before moto sees it and sends the response with its length, so the stream is always
  at the next request's first byte (werkzeug closes connections because it cannot know that).
* **DynamoDB attribute values**: moto parses each request and serialises each answer by walking
  botocore's model, member by member, for every attribute value of every item (the ``S``/``N``/``M``/...
  of ``AttributeValue``): most of the CPU of a ``GetItem``, ``UpdateItem`` or ``Query``. An
  attribute value is already its JSON: :func:`_fast_attribute_values` copies it through (decoding and
  encoding only binary values, as the model walk does).
* **EventBridge input paths**: delivering an event to a rule's target parses eight JSONPath
  expressions (``jsonpath_ng``, a PLY parser) every time: ~75% of a ``PutEvents``. They are the same
  few strings, so each is parsed once.
* **update expressions**: ``UpdateItem`` tokenises and parses its ``UpdateExpression`` twice (the
  handler, then the backend); the application sends the same few expressions over and over. The
  syntax tree is only read, or deep-copied by the validator before it changes anything, so each
  expression is parsed once.
* **expression validation**: moto's validators walk each update expression's syntax tree about ten
  times, and at every node ask ``isinstance`` of abstract classes (``ABCMeta``, slow) whether it is
  a node and whether it is one they process, after rebuilding the tuple of classes they process. The
  answers depend only on the node's class and the validator's: :func:`_fast_traversal` keeps them.
  Its first validator counts the ADD/REMOVE/SET clauses under every node of the tree that is an update
  expression (each count a walk of that node's subtree, three times): the counts are summed bottom
  up once instead, by the same rule (``Node.find_clauses``).
* **method lookup**: every request lists the handler class's methods (``inspect.getmembers``) to
  find the action; the classes do not change while the process runs, so the list is kept per class.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler

log = logging.getLogger("smsdesk_local")

_installed = False
_lock = threading.Lock()


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from moto import backends
        from moto.sqs import models as sqs_models

        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]

        slow_unix_time = sqs_models.unix_time
        slow_unix_time_millis = sqs_models.unix_time_millis

        def unix_time(dt: Any = None) -> float:
            return time.time() if dt is None else slow_unix_time(dt)

        def unix_time_millis(dt: Any = None) -> float:
            return time.time() * 1000.0 if dt is None else slow_unix_time_millis(dt)

        sqs_models.unix_time = unix_time  # type: ignore[assignment]
        sqs_models.unix_time_millis = unix_time_millis  # type: ignore[assignment]

        def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
            retention_s = self.get_queue(queue_name).message_retention_period
            return bool(int(retention_s) + message.sent_timestamp / 1000 > time.time())

        sqs_models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
        _cache_method_names()
        _fast_attribute_values()
        _cache_jsonpath()
        _cache_update_expressions()
        _fast_traversal()
        _installed = True


def _cache_method_names() -> None:
    from moto.core import responses

    slow = responses.method_names_from_class
    cache: dict[type, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        names = cache.get(clazz)
        if names is None:
            names = cache[clazz] = slow(clazz)
        return list(names)

    responses.method_names_from_class = method_names_from_class  # type: ignore[assignment]


def _cache_update_expressions() -> None:
    import functools

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    parsed = functools.lru_cache(maxsize=512)(lambda expression: make(UpdateExpressionParser, expression))

    def cached_make(cls: Any, expression: str) -> Any:
        return parsed(expression) if cls is UpdateExpressionParser else make(cls, expression)

    UpdateExpressionParser.make = classmethod(cached_make)  # type: ignore[method-assign, assignment]


def _fast_traversal() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    is_node: dict[type, bool] = {}
    processed: dict[tuple[type, type], bool] = {}

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        node_type = type(node)
        known = is_node.get(node_type)
        if known is None:
            known = is_node[node_type] = isinstance(node, Node)
        if not known:
            return node
        parent_node = node.parent
        children = node.children
        if children is not None:
            for i, child_node in enumerate(children):
                self.pre_processing_of_child(node, i)
                traverse_node_recursively(self, child_node, i)
        key = (type(self), node_type)
        hit = processed.get(key)
        if hit is None:
            hit = processed[key] = isinstance(node, self.nodes_to_be_processed())
        if hit:
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    DepthFirstTraverser.traverse_node_recursively = traverse_node_recursively  # type: ignore[method-assign]

    from moto.dynamodb.exceptions import TooManyClauses
    from moto.dynamodb.parsing.ast_nodes import (
        Expression,
        UpdateExpressionAddClause,
        UpdateExpressionFunction,
        UpdateExpressionRemoveClause,
        UpdateExpressionSetClause,
    )
    from moto.dynamodb.parsing.validators import ActionCountValidator

    def counts(node: Any, memo: dict[int, tuple[int, int, int]]) -> tuple[int, int, int]:
        """``len(node.find_clauses([Add]))``, ``[Remove]``, ``[Set]``, memoised per node."""
        got = memo.get(id(node))
        if got is None:
            add = remove = set_ = 0
            for child in node.children or []:
                kind = type(child)
                if kind is UpdateExpressionAddClause:
                    add += 1
                elif kind is UpdateExpressionRemoveClause:
                    remove += 1
                elif kind is UpdateExpressionSetClause:
                    set_ += 1
                elif isinstance(child, Expression | UpdateExpressionFunction):
                    a, r, s = counts(child, memo)
                    add, remove, set_ = add + a, remove + r, set_ + s
            got = memo[id(node)] = (add, remove, set_)
        return got

    def verify_action_counts(self: Any, node: Any) -> Any:
        # one validator instance per validation, and this validator changes no node: ids stay valid
        memo = self.__dict__.setdefault("_smsdesk_clause_counts", {})
        add, remove, set_ = counts(node, memo)
        if add > 1:
            raise TooManyClauses("ADD")
        if remove > 1:
            raise TooManyClauses("REMOVE")
        if set_ > 1:
            raise TooManyClauses("SET")
        return node

    ActionCountValidator.verify_action_counts = verify_action_counts  # type: ignore[method-assign]


def _cache_jsonpath() -> None:
    import functools

    from jsonpath_ng import ext

    if not hasattr(ext.parse, "cache_info"):
        ext.parse = functools.lru_cache(maxsize=256)(ext.parse)  # type: ignore[assignment]


#: AttributeValue members whose JSON value needs no conversion (strings, booleans, lists of strings).
_PLAIN = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})


def _fast_attribute_values() -> None:
    from moto.core.parse import BaseJSONParser
    from moto.core.serialize import BaseJSONSerializer

    parse_structure = BaseJSONParser._parse_structure
    serialize_structure = BaseJSONSerializer._serialize_type_structure

    def parsed(self: Any, value: Any) -> Any:
        out = self.MAP_TYPE()
        for k, v in value.items():
            if v is None:
                continue
            if k in _PLAIN:
                out[k] = v
            elif k == "M":
                out[k] = self.MAP_TYPE((mk, parsed(self, mv)) for mk, mv in v.items())
            elif k == "L":
                out[k] = [parsed(self, x) for x in v]
            elif k == "B":
                out[k] = self._blob_parser(v)
            elif k == "BS":
                out[k] = [self._blob_parser(x) for x in v]
            else:
                raise _Unexpected(k)
        return out

    def _parse_structure(self: Any, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue" and isinstance(value, dict):
            try:
                return parsed(self, value)
            except _Unexpected:
                pass
        return parse_structure(self, shape, value)

    def serialized(self: Any, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in value.items():
            if v is None:
                continue
            if k in ("S", "N"):
                out[k] = str(v)
            elif k in ("BOOL", "NULL"):
                out[k] = v
            elif k in ("SS", "NS"):
                out[k] = [str(x) for x in v]
            elif k == "M":
                out[k] = {mk: serialized(self, mv) for mk, mv in v.items()}
            elif k == "L":
                out[k] = [serialized(self, x) for x in v]
            elif k == "B":
                out[k] = self._base64(v)
            elif k == "BS":
                out[k] = [self._base64(x) for x in v]
            else:
                raise _Unexpected(k)
        return out

    def _serialize_type_structure(self: Any, serialized_: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and isinstance(value, dict):
            try:
                serialized_[self.get_serialized_name(shape, key)] = serialized(self, value)
                return
            except _Unexpected:
                pass
        serialize_structure(self, serialized_, value, shape, key)

    BaseJSONParser._parse_structure = _parse_structure  # type: ignore[method-assign]
    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]


class _Unexpected(Exception):
    """Not an attribute value as DynamoDB's model has it: moto's own model walk handles it."""


_NO_BODY = {204, 304}


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler, answering each request on a connection that stays open."""

    protocol_version = "HTTP/1.1"
    #: Headers and body leave as separate writes: with Nagle's algorithm the body would wait for the
    #: client's delayed ACK (40 ms a request on Linux).
    disable_nagle_algorithm = True
    #: The server's open connections, so that stopping it can end them (see :func:`handler_class`).
    open_connections: set[Any]

    def setup(self) -> None:
        super().setup()
        self.open_connections.add(self.connection)

    def finish(self) -> None:
        self.open_connections.discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        stream = environ["wsgi.input"]
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's dechunking reader
            body = stream.read()
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = stream.read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)

        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                for data in result:
                    chunks.append(data)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            log.exception("moto request %s %s failed", self.command, self.path)
            self.close_connection = True
            started[:] = ["500 Internal Server Error", [("Content-Type", "text/plain")]]
            chunks[:] = [b"Internal Server Error"]
        status, headers = started
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        payload = b"".join(chunks)
        self.send_response(code, reason)
        head = self.command == "HEAD"
        for key, value in headers:
            k = key.lower()
            if k in ("connection", "transfer-encoding") or (k == "content-length" and not head):
                continue  # a HEAD answer's length is the resource's (S3 HeadObject), kept as moto gave it
            self.send_header(key, value)
        if not head and code not in _NO_BODY and not 100 <= code < 200:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head and payload:
            self.wfile.write(payload)
        self.wfile.flush()


def handler_class() -> type[KeepAliveHandler]:
    """A :class:`KeepAliveHandler` class with its own set of open connections (one per server)."""
    return type("KeepAliveHandler", (KeepAliveHandler,), {"open_connections": set()})
