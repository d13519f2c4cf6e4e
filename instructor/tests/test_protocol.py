"""The worker protocol carries plain data only: round trips are exact, anything else is refused."""

import json
import struct

import numpy as np
import pytest
from coursekit.protocol import (
    Handle,
    ProtocolError,
    Unencodable,
    decode,
    encode,
    pack,
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
