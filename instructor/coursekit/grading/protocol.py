"""The wire format between the grader and a worker: JSON plus raw array bytes, never pickle.

This module is copied next to the worker and imported by both sides, so it depends on the standard
library and numpy only.

A message is a frame:

    u32 header length | u32 number of buffers | JSON header | per buffer: u64 length, bytes

The JSON header is any plain value. Every JSON object in it is a tagged value with one key:

    {"t": [...]}                  tuple
    {"d": [[key, value], ...]}    dict with str or int keys
    {"a": [dtype, shape, index]}  numpy array whose bytes are buffer `index` (C order, little endian)
    {"h": n}                      handle: an object that stays in the worker (a cache, a model)
    {"dt": "float32"}             a numpy scalar type such as np.float32 (models keep one as self.dtype)
    {"f": "nan" | "inf" | "-inf"} a float JSON cannot spell

Lists, str, int, float, bool and None are themselves. `decode` checks everything it reads against caps
and an allowlist of dtypes; the grader decodes worker messages only with it, so a worker can send
nothing but plain data: no objects of its own classes, no ndarray subclasses, no callables.

The messages are typed records, each with `to_frame()` -> (message, buffers) and `from_frame(message, buffers)`,
which raises ProtocolError on a frame that is not one:

    Request  grader -> worker     {"op": Op, "value": {arguments}, "returns": spec}
    Callback worker -> grader     {"callback": TODO id, "value": {"args", "kwargs", "state"}}
             grader -> reference  the same, once the grader has checked it (session.py)
    Reply    the answer to either {"ok": value} or {"error": {"type", "message", "where"}}
    Ready    reference -> grader  {"ready": true}, once it has loaded the reference

The worker and the reference process answer frames with the same loop, `serve`.
"""

import enum
import json
import math
import struct
from dataclasses import dataclass, field

import numpy as np

DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32", "float64"]
)
MAX_HEADER_BYTES = 16 * 2**20
MAX_FRAME_BYTES = 512 * 2**20
MAX_BUFFERS = 100_000
MAX_DEPTH = 32
MAX_NDIM = 8
MAX_STRING = 100_000
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class ProtocolError(ValueError):
    """A message that is not valid under this format; the message says what is wrong."""


class Unencodable(TypeError):
    """A value that is not plain data (arrays, numbers, strings, lists, tuples, dicts)."""


class Handle:
    """A reference to an object that lives in the worker; only its number crosses the pipe."""

    __slots__ = ("id",)

    def __init__(self, id):
        self.id = id

    def __repr__(self):
        return f"<worker object #{self.id}>"

    def __eq__(self, other):
        return isinstance(other, Handle) and other.id == self.id

    def __hash__(self):
        return hash(("handle", self.id))


def encode(value):
    """Return (json-able header, buffers) for `value`; anything but plain data and Handles raises Unencodable
    naming its type (the worker turns its own objects into Handles before it encodes a reply)."""
    buffers = []

    def enc(v, depth):
        if depth > MAX_DEPTH:
            raise Unencodable(f"nested deeper than {MAX_DEPTH} levels")
        if v is None or isinstance(v, bool | str):
            if isinstance(v, str) and len(v) > MAX_STRING:
                raise Unencodable(f"a string of {len(v)} characters (at most {MAX_STRING})")
            return v
        if type(v) is int:
            return v
        if type(v) is float:
            return v if math.isfinite(v) else {"f": "nan" if v != v else ("inf" if v > 0 else "-inf")}
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.floating):
            return enc(float(v), depth)
        if type(v) is np.ndarray:
            if v.dtype.name not in DTYPES:
                raise Unencodable(f"an array of dtype {v.dtype} (numeric arrays only)")
            if v.ndim > MAX_NDIM:
                raise Unencodable(f"an array with {v.ndim} dimensions")
            data = np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")).tobytes()
            buffers.append(data)
            return {"a": [v.dtype.name, list(v.shape), len(buffers) - 1]}
        if isinstance(v, Handle):
            return {"h": v.id}
        if isinstance(v, type) and issubclass(v, np.generic) and np.dtype(v).name in DTYPES:
            return {"dt": np.dtype(v).name}
        if type(v) is tuple:
            return {"t": [enc(x, depth + 1) for x in v]}
        if type(v) is list:
            return [enc(x, depth + 1) for x in v]
        if type(v) is dict:
            items = []
            for k, x in v.items():
                if type(k) is not str and type(k) is not int:
                    raise Unencodable(f"a dict key of type {type(k).__name__} (str or int keys only)")
                items.append([k, enc(x, depth + 1)])
            return {"d": items}
        raise Unencodable(f"a {_type_name(v)}")

    header = enc(value, 0)
    if len(buffers) > MAX_BUFFERS:
        raise Unencodable(f"{len(buffers)} arrays in one value (at most {MAX_BUFFERS})")
    return header, buffers


def _type_name(v):
    cls = type(v)
    name = f"{cls.__module__}.{cls.__qualname__}" if cls.__module__ not in ("builtins", None) else cls.__qualname__
    return name[:100]


def decode(header, buffers, resolve_handle=None):
    """Rebuild the value of an encoded header; raise ProtocolError on anything outside the format.

    `resolve_handle(id)` turns a handle number into an object (the worker side); by default handles
    come back as Handle instances (the grader side)."""
    used = set()

    def dec(v, depth):
        if depth > MAX_DEPTH:
            raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
        if v is None or type(v) in (bool, int, float):
            return v
        if type(v) is str:
            if len(v) > MAX_STRING:
                raise ProtocolError("string too long")
            return v
        if type(v) is list:
            return [dec(x, depth + 1) for x in v]
        if type(v) is not dict or len(v) != 1:
            raise ProtocolError("malformed value: objects must be single-key tagged values")
        (tag, body), = v.items()
        if tag == "t" and type(body) is list:
            return tuple(dec(x, depth + 1) for x in body)
        if tag == "d" and type(body) is list:
            out = {}
            for item in body:
                if type(item) is not list or len(item) != 2 or type(item[0]) not in (str, int):
                    raise ProtocolError("malformed dict item")
                out[item[0]] = dec(item[1], depth + 1)
            return out
        if tag == "a":
            return _array(body)
        if tag == "h" and type(body) is int:
            return resolve_handle(body) if resolve_handle else Handle(body)
        if tag == "dt" and body in DTYPES:
            return np.dtype(body).type
        if tag == "f" and body in ("nan", "inf", "-inf"):
            return float(body)
        raise ProtocolError(f"unknown tag {tag!r}")

    def _array(body):
        if type(body) is not list or len(body) != 3:
            raise ProtocolError("malformed array")
        name, shape, index = body
        if name not in DTYPES:
            raise ProtocolError(f"array dtype {name!r} is not allowed")
        if type(shape) is not list or len(shape) > MAX_NDIM or any(type(n) is not int or n < 0 for n in shape):
            raise ProtocolError("malformed array shape")
        if type(index) is not int or not 0 <= index < len(buffers) or index in used:
            raise ProtocolError("array refers to a missing or reused buffer")
        used.add(index)
        dtype = np.dtype(name).newbyteorder("<")
        count = math.prod(shape)
        if count * dtype.itemsize != len(buffers[index]):
            raise ProtocolError("array buffer size does not match its shape")
        return np.frombuffer(buffers[index], dtype=dtype).astype(np.dtype(name), copy=True).reshape(shape)

    return dec(header, 0)


def plain_attrs(obj):
    """The attributes of `obj` that are plain data: what of an object crosses between worker and grader."""
    out = {}
    for key, value in vars(obj).items():
        try:
            encode(value)
        except Unencodable:
            continue
        out[key] = value
    return out


def pack(message, buffers=()):
    """Serialise one frame."""
    head = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8")
    if len(head) > MAX_HEADER_BYTES:
        raise Unencodable(f"a message header of {len(head)} bytes (at most {MAX_HEADER_BYTES})")
    total = len(head) + sum(len(b) for b in buffers)
    if total > MAX_FRAME_BYTES:
        raise Unencodable(f"a message of {total} bytes (at most {MAX_FRAME_BYTES})")
    parts = [_U32.pack(len(head)), _U32.pack(len(buffers)), head]
    for b in buffers:
        parts += [_U64.pack(len(b)), b]
    return b"".join(parts)


def _no_constant(name):
    raise ProtocolError(f"frame header holds the bare constant {name}")


def recv_frame(sock):
    """Read one frame from a blocking socket; (message, buffers). EOFError when the other end has closed it."""

    def read_exact(n):
        chunks, left = [], n
        while left:
            chunk = sock.recv(min(left, 1 << 20))
            if not chunk:
                raise EOFError("the other end closed the connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    return unpack(read_exact)


def unpack(read_exact):
    """Read one frame with `read_exact(n) -> bytes`; return (message, buffers)."""
    head_len = _U32.unpack(read_exact(4))[0]
    count = _U32.unpack(read_exact(4))[0]
    if head_len > MAX_HEADER_BYTES or count > MAX_BUFFERS:
        raise ProtocolError("frame header too large")
    try:
        message = json.loads(read_exact(head_len).decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"frame header is not JSON ({exc})") from None
    total = head_len
    buffers = []
    for _ in range(count):
        size = _U64.unpack(read_exact(8))[0]
        total += size
        if total > MAX_FRAME_BYTES:
            raise ProtocolError("frame too large")
        buffers.append(read_exact(size))
    return message, buffers


class Channel:
    """Frames over a blocking socket: the worker's and the reference process's end (the grader's end reads under
    a deadline: session.py)."""

    def __init__(self, sock):
        self.sock = sock

    def send(self, message, buffers=()):
        self.sock.sendall(pack(message, buffers))

    def recv(self):
        return recv_frame(self.sock)


def serve(channel, answer):
    """Answer frames until the other end closes `channel`: `answer(message, buffers)` returns the reply frame."""
    while True:
        try:
            message, buffers = channel.recv()
        except EOFError:
            return
        channel.send(*answer(message, buffers))


class Op(str, enum.Enum):
    """What a Request asks of the worker (worker.Worker has one method per member); `value` holds the keys named."""

    SETUP = "setup"  # package, sub, fallback, modules, todo_module, callbacks, disabled: import the submission
    SEED = "seed"  # seed: seed np.random and random
    PUT = "put"  # value: keep it in the worker (returns a handle)
    GET = "get"  # obj: a handle's object as plain data
    CALL = "call"  # target ("module:qualname" or a handle), args, kwargs
    METHOD = "method"  # obj, name, args, kwargs
    BARE = "bare"  # cls, state, init ([args, kwargs] or None for no __init__): an object (a handle)
    GETATTR = "getattr"  # obj, name
    SETATTR = "setattr"  # obj, name, value


@dataclass(frozen=True)
class Request:
    """The grader asks the worker for one thing. `returns`: "data", "handle" or a list of those for the items
    of a returned tuple (handles keep objects in the worker)."""

    op: Op
    value: dict = field(default_factory=dict)
    returns: str | list = "data"

    def to_frame(self):
        header, buffers = encode(self.value)
        return {"op": Op(self.op).value, "value": header, "returns": self.returns}, buffers

    @classmethod
    def from_frame(cls, message, buffers, resolve_handle=None):
        """`resolve_handle(id)`: the worker's object of a handle number (see decode)."""
        if not isinstance(message, dict):
            raise ProtocolError("a request must be a JSON object")
        op = message.get("op")
        try:
            op = Op(op)
        except (ValueError, TypeError):
            raise ProtocolError(f"unknown request {op!r}") from None
        value = decode(message["value"], buffers, resolve_handle) if "value" in message else {}
        return cls(op, value, message.get("returns", "data"))


@dataclass(frozen=True)
class Error:
    """What went wrong: an exception type name, its message, and `file.py:line in function` or ''. The worker
    writes it, so the grader shows it only through feedback.py."""

    type: str
    message: str
    where: str = ""


@dataclass(frozen=True)
class Reply:
    """The answer to a Request or a Callback: `value`, or `error` when it is not None."""

    value: object = None
    error: Error | None = None

    @classmethod
    def failure(cls, type_name, message, where=""):
        return cls(error=Error(type_name, message, where))

    def to_frame(self):
        """Unencodable when the value is not plain data."""
        if self.error is not None:
            return {"error": {"type": self.error.type, "message": self.error.message, "where": self.error.where}}, []
        header, buffers = encode(self.value)
        return {"ok": header}, buffers

    @classmethod
    def from_frame(cls, message, buffers, resolve_handle=None):
        if not isinstance(message, dict):
            raise ProtocolError("invalid message")
        if "ok" in message:
            try:
                return cls(decode(message["ok"], buffers, resolve_handle))
            except ProtocolError as exc:
                raise ProtocolError(f"invalid value ({exc})") from None
        error = message.get("error")
        if not isinstance(error, dict):
            raise ProtocolError("invalid message")
        # Any JSON goes in the text fields: they are shown as text, and only through feedback.py.
        return cls.failure(str(error.get("type", "Exception")), str(error.get("message", "")),
                           str(error.get("where", "")))


@dataclass(frozen=True)
class Callback:
    """The worker asks for the reference of TODO `todo` on these inputs (its stub was called; `state`: the plain
    attributes of the object of a method). The answer is a Reply whose value is {"value": the result, "dicts":
    {argument position or name: a dict argument as the reference left it}, "state": the object's plain
    attributes after a method}, so the worker can update the submission's own dicts and object in place."""

    todo: str
    args: list
    kwargs: dict
    state: dict | None = None

    def to_frame(self):
        header, buffers = encode({"args": list(self.args), "kwargs": self.kwargs, "state": self.state})
        return {"callback": self.todo, "value": header}, buffers

    @staticmethod
    def is_one(message):
        """Whether a frame from the worker is a Callback (else it is the Reply to the grader's Request)."""
        return isinstance(message, dict) and "callback" in message

    @staticmethod
    def todo_of(message):
        """The TODO a callback frame names, unchecked: the grader checks it before decoding the inputs."""
        return message.get("callback")

    @classmethod
    def from_frame(cls, message, buffers):
        body = decode(message.get("value"), buffers)
        todo = message.get("callback")
        if (not isinstance(todo, str) or not isinstance(body, dict) or not isinstance(body.get("args"), list)
                or not isinstance(body.get("kwargs"), dict)):
            raise ProtocolError("malformed callback")
        return cls(todo, body["args"], body["kwargs"], body.get("state"))


@dataclass(frozen=True)
class Ready:
    """The reference process's hello: it has loaded the reference and answers Callbacks from now on."""

    def to_frame(self):
        return {"ready": True}, []

    @classmethod
    def from_frame(cls, message, buffers):
        if message != {"ready": True}:
            raise ProtocolError("not the ready message")
        return cls()
