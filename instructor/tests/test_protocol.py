"""The worker protocol carries plain data only: round trips are exact, anything else is refused."""

import json
import socket
import struct
import threading

import numpy as np
import pytest
from coursekit.grading import session, worker
from coursekit.grading.protocol import (
    Callback,
    Channel,
    Error,
    Handle,
    Op,
    ProtocolError,
    Ready,
    Reply,
    Request,
    Unencodable,
    decode,
    encode,
    pack,
    serve,
    unpack,
)


def _round_trip(value):
    header, buffers = encode(value)
    frame = pack({"v": header}, buffers)
    pos = 0

    def read(n):
        nonlocal pos
        chunk = frame[pos : pos + n]
        pos += n
        return chunk

    message, got = unpack(read)
    return decode(message["v"], got)


def test_plain_values_round_trip_exactly():
    rng = np.random.default_rng(0)
    value = {
        "x": rng.standard_normal((3, 4, 5)).astype(np.float32),
        "y": rng.integers(0, 9, 7),
        "flags": np.array([True, False]),
        "empty": np.zeros((0, 3)),
        "scalar0d": np.array(2.5),
        "nested": [(1, 2.0, None, "s"), {"k": [np.float64(1.5), np.int64(3), np.bool_(True)]}],
        "special": [float("nan"), float("inf"), -float("inf")],
        "dtype": np.float32,
        7: "int key",
    }
    got = _round_trip(value)
    assert got["x"].dtype == np.float32 and np.array_equal(got["x"], value["x"])
    assert got["y"].dtype == value["y"].dtype and np.array_equal(got["y"], value["y"])
    assert got["flags"].tolist() == [True, False]
    assert got["empty"].shape == (0, 3)
    assert got["scalar0d"].shape == () and float(got["scalar0d"]) == 2.5
    assert got["nested"][0] == (1, 2.0, None, "s")
    assert got["nested"][1]["k"] == [1.5, 3, True] and type(got["nested"][1]["k"][1]) is int
    assert np.isnan(got["special"][0]) and got["special"][1:] == [float("inf"), -float("inf")]
    assert got["dtype"] is np.float32
    assert got[7] == "int key"


def test_decoded_arrays_are_writable_copies():
    x = np.arange(6.0).reshape(2, 3)
    got = _round_trip(x)
    got[0, 0] = 99
    assert x[0, 0] == 0


class FakeArray(np.ndarray):
    def __sub__(self, other):
        return np.zeros(self.shape)


class Liar:
    def __array__(self, dtype=None, copy=None):
        return np.zeros(3)

    def __eq__(self, other):
        return True


@pytest.mark.parametrize(
    "value",
    [
        np.arange(3.0).view(FakeArray),
        Liar(),
        np.array([object()], dtype=object),
        np.array(["a"]),
        np.array([1 + 2j]),
        {1.5: "float key"},
        lambda: 1,
        type("Sub", (float,), {})(1.0),
    ],
    ids=["ndarray-subclass", "fake-array", "object-array", "str-array", "complex", "float-key", "callable", "float-subclass"],
)
def test_anything_but_plain_data_is_refused(value):
    with pytest.raises(Unencodable):
        encode(value)


def test_handles_cross_only_as_numbers():
    header, buffers = encode((np.ones(2), Handle(4)))
    assert decode(header, buffers)[1] == Handle(4)
    objects = {4: "kept in the worker"}
    assert decode(header, buffers, resolve_handle=objects.__getitem__)[1] == "kept in the worker"


@pytest.mark.parametrize(
    "header, buffers, match",
    [
        ({"a": ["object", [1], 0]}, [b"x" * 8], "not allowed"),
        ({"a": ["float64", [3], 0]}, [b"\0" * 16], "does not match"),
        ({"t": [{"a": ["uint8", [1], 0]}, {"a": ["uint8", [1], 0]}]}, [b"\0"], "reused"),
        ({"a": ["float64", [-1], 0]}, [b""], "shape"),
        ({"zz": 1}, [], "unknown tag"),
        ({"a": 1, "t": 2}, [], "single-key"),
        ({"d": [[1.5, 1]]}, [], "dict item"),
        ({"dt": "object"}, [], "unknown tag"),
    ],
)
def test_malformed_values_are_refused(header, buffers, match):
    with pytest.raises(ProtocolError, match=match):
        decode(header, buffers)


def test_deep_nesting_is_refused():
    value = []
    for _ in range(40):
        value = [value]
    with pytest.raises(Unencodable, match="deeper"):
        encode(value)
    header = []
    for _ in range(40):
        header = [header]
    with pytest.raises(ProtocolError, match="deeper"):
        decode(header, [])


def _reader(data):
    pos = 0

    def read(n):
        nonlocal pos
        chunk = data[pos : pos + n]
        pos += n
        return chunk

    return read


def _frame(head_bytes):
    return _reader(struct.pack("<I", len(head_bytes)) + struct.pack("<I", 0) + head_bytes)


def test_frames_outside_the_format_are_refused():
    with pytest.raises(ProtocolError, match="bare constant NaN"):
        unpack(_frame(b'{"v": NaN}'))
    with pytest.raises(ProtocolError, match="not JSON"):
        unpack(_frame(b"\xff\xfe"))
    with pytest.raises(ProtocolError, match="too large"):
        unpack(_reader(struct.pack("<I", 2**31) + struct.pack("<I", 0)))
    with pytest.raises(ProtocolError, match="too large"):
        unpack(_reader(struct.pack("<I", 2) + struct.pack("<I", 1) + b"{}" + struct.pack("<Q", 2**40)))


def test_pack_refuses_oversized_headers():
    with pytest.raises(Unencodable, match="header"):
        pack({"v": "x" * (17 * 2**20)})


def test_headers_are_strict_json():
    header, _ = encode({"a": float("nan")})
    assert "NaN" not in json.dumps(header, allow_nan=False)


# -- the typed messages ------------------------------------------------------------------------------------


def _over_the_wire(frame):
    """A record's frame as the other end reads it: packed, unpacked."""
    message, buffers = frame
    return unpack(_reader(pack(message, buffers)))


def test_requests_round_trip_and_keep_the_wire_format():
    x = np.arange(6.0).reshape(2, 3)
    request = Request(Op.CALL, {"target": "cs231n.layers:affine_forward", "args": [x, Handle(3)], "kwargs": {}},
                      ["data", "handle"])
    message, buffers = _over_the_wire(request.to_frame())
    # The worker runs a copy of this module, so the frame a grader sends is pinned: plain JSON, the op by name.
    assert message["op"] == "call" and message["returns"] == ["data", "handle"] and len(buffers) == 1
    got = Request.from_frame(message, buffers)
    assert got.op is Op.CALL and got.returns == ["data", "handle"]
    assert np.array_equal(got.value["args"][0], x) and got.value["args"][1] == Handle(3)
    assert Request.from_frame(*_over_the_wire(Request(Op.SEED).to_frame())) == Request(Op.SEED, {}, "data")


def test_replies_callbacks_and_the_hello_round_trip():
    value = {"value": (np.ones(3, np.float32), 2.5), "dicts": {0: {"mode": "train"}}}
    got = Reply.from_frame(*_over_the_wire(Reply(value).to_frame()))
    assert got.error is None and got.value["dicts"] == {0: {"mode": "train"}}
    assert got.value["value"][0].dtype == np.float32 and got.value["value"][1] == 2.5
    failure = Reply.failure("ValueError", "shapes differ", "cs231n/layers.py:12 in affine_forward")
    assert Reply.from_frame(*_over_the_wire(failure.to_frame())) == failure
    callback = Callback("cs231n/layers.py::relu_forward", [np.zeros(2)], {"k": 1}, {"w": 3})
    got = Callback.from_frame(*_over_the_wire(callback.to_frame()))
    assert (got.todo, got.kwargs, got.state) == (callback.todo, {"k": 1}, {"w": 3})
    assert np.array_equal(got.args[0], np.zeros(2))
    assert Callback.is_one(callback.to_frame()[0]) and not Callback.is_one(failure.to_frame()[0])
    assert Ready.from_frame(*_over_the_wire(Ready().to_frame())) == Ready()


@pytest.mark.parametrize("message", [{"op": "release", "value": {"d": []}}, {"op": None}, {"op": ["call"]}, ["call"]],
                         ids=["unsent-op", "no-op", "list-op", "not-an-object"])
def test_a_request_that_names_no_op_is_refused(message):
    with pytest.raises(ProtocolError, match="unknown request|JSON object"):
        Request.from_frame(message, [])


def test_the_worker_has_one_handler_per_op_and_refuses_any_other():
    assert set(worker.Worker.OPS) == set(Op)
    local = worker.Worker(None)
    handle = session.decode_reply(*local.answer(*Request(Op.PUT, {"value": [1, 2]}, "handle").to_frame()))
    assert session.decode_reply(*local.answer(*Request(Op.GET, {"obj": handle}).to_frame())) == [1, 2]
    reply = Reply.from_frame(*local.answer({"op": "release", "value": {"d": []}, "returns": "data"}, []))
    assert reply.error.type == "Refused" and "unknown request 'release'" in reply.error.message
    with pytest.raises(session.BadReturn, match="could not be carried out: unknown object #99"):
        session.decode_reply(*local.answer(*Request(Op.GET, {"obj": Handle(99)}).to_frame()))


@pytest.mark.parametrize(
    "message, match",
    [
        ({"neither": 1}, "invalid message"),
        ({"error": "a string"}, "invalid message"),
        ([1, 2], "invalid message"),
        ({"ok": {"zz": 1}}, r"invalid value \(unknown tag"),
    ],
)
def test_a_reply_that_is_neither_a_value_nor_an_error_is_refused(message, match):
    with pytest.raises(ProtocolError, match=match):
        Reply.from_frame(message, [])
    with pytest.raises(session.BadReturn, match="the worker sent an " + match):
        session.read_reply(message, [])


def test_the_text_of_an_error_reply_is_only_ever_text():
    got = Reply.from_frame({"error": {"type": 5, "message": ["x"], "where": None}}, [])
    assert got.error == Error("5", "['x']", "None")
    assert Reply.from_frame({"error": {}}, []).error == Error("Exception", "", "")


@pytest.mark.parametrize(
    "message, buffers",
    [
        ({"callback": 7, "value": {"d": [["args", []], ["kwargs", {"d": []}]]}}, []),
        ({"callback": "t", "value": {"d": [["args", {"t": []}], ["kwargs", {"d": []}]]}}, []),
        ({"callback": "t", "value": {"d": [["args", []]]}}, []),
        ({"callback": "t"}, []),
    ],
    ids=["todo-not-a-string", "args-not-a-list", "no-kwargs", "no-value"],
)
def test_malformed_callbacks_are_refused(message, buffers):
    with pytest.raises(ProtocolError, match="malformed callback"):
        Callback.from_frame(message, buffers)


def test_only_the_exact_hello_is_ready():
    for message in ({"ready": False}, {"ok": True}, {"ready": True, "x": 1}):
        with pytest.raises(ProtocolError, match="ready"):
            Ready.from_frame(message, [])


def test_serve_answers_each_frame_until_the_other_end_closes():
    ours, theirs = socket.socketpair()
    seen = []

    def answer(message, buffers):
        seen.append(message)
        return Reply(len(seen)).to_frame()

    server = threading.Thread(target=serve, args=(Channel(theirs), answer))
    server.start()
    client = Channel(ours)
    for op in (Op.SEED, Op.GET):
        client.send(*Request(op).to_frame())
        assert Reply.from_frame(*client.recv()).value == len(seen)
    ours.close()
    server.join(timeout=30)
    assert not server.is_alive() and [m["op"] for m in seen] == ["seed", "get"]
    theirs.close()
