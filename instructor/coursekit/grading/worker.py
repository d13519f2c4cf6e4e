"""The worker: the only process that runs a submission's code.

It is started by the grader inside the sandbox (sandbox/isolation.py), with a copy of this file and of protocol.py
in a read-only runtime folder, the submission's package read-only, and one socket to the grader
(its fd number is the first argument).
It imports nothing from coursekit: student code here could read or change anything in this process,
so nothing in it decides a score. The grader sends requests (protocol.Request: call a function or method by
name with inputs it made; build an object; read an attribute), which Worker.answer dispatches to one method per
protocol.Op, and gets back plain data or handles.

One worker serves the checks of one TODO. Every other TODO of the assignment is replaced, wherever the
package refers to it, by a stub that asks the grader to run the reference implementation on the same
inputs (a callback), so a TODO's checks depend on that TODO alone and no reference code is ever here.

A module that fails to import is replaced by the release's stubbed copy when it does not hold the TODO
under test (its own TODOs then answer through callbacks as usual); when it does, setup reports the
error and every check of the TODO fails with it.
"""

import importlib
import importlib.util
import os
import random
import socket
import sys
import traceback

import numpy as np

if __package__:
    # Imported by the grader itself (coursekit.grading.expected runs the reference through this same code).
    from . import protocol
else:
    # -I keeps the script's folder off sys.path; the protocol module sits beside this file.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _coursekit_protocol as protocol

MAX_MESSAGE = 500
Op = protocol.Op


class _Refused(Exception):
    """A request the worker cannot carry out (bad target, value that is not plain data)."""


class Worker:
    """Answers the grader's Requests (`answer`, served by protocol.serve); `channel` carries its Callbacks."""

    def __init__(self, channel):
        self.channel = channel
        self.objects = {}
        self.next_id = 1
        self.package = None
        self.sub = None

    # -- handles ---------------------------------------------------------------------------------

    def store(self, obj):
        handle = protocol.Handle(self.next_id)
        self.objects[self.next_id] = obj
        self.next_id += 1
        return handle

    def resolve(self, handle_id):
        if handle_id not in self.objects:
            raise _Refused(f"unknown object #{handle_id}")
        return self.objects[handle_id]

    def reply(self, value, spec):
        """The reply frame of `value` shaped by `spec`: "data", "handle" or a list of those for the items of a tuple."""
        try:
            return protocol.Reply(self._shape(value, spec)).to_frame()
        except protocol.Unencodable as exc:
            return protocol.Reply.failure("BadReturn", f"returned {exc}").to_frame()

    def _shape(self, value, spec):
        if spec == "data":
            return value
        if spec == "handle":
            return self.store(value)
        if isinstance(spec, list):
            if not isinstance(value, tuple | list) or len(value) != len(spec):
                got = f"a {type(value).__name__}" + (f" of length {len(value)}" if isinstance(value, tuple | list) else "")
                raise protocol.Unencodable(f"{got} where a tuple of {len(spec)} items was expected")
            return tuple(self._shape(v, s) for v, s in zip(value, spec))
        raise _Refused(f"unknown return spec {spec!r}")

    # -- the submission --------------------------------------------------------------------------

    def _module_of_file(self, filename):
        try:
            rel = os.path.relpath(os.path.realpath(filename), os.path.realpath(self.sub))
        except ValueError:
            return None
        if rel.startswith("..") or not rel.endswith(".py"):
            return None
        parts = rel[:-3].split(os.sep)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        return ".".join(parts)

    def _culprit(self, exc):
        """The package module whose own code raised `exc` while importing."""
        if isinstance(exc, SyntaxError) and exc.filename:
            name = self._module_of_file(exc.filename)
            if name:
                return name
        found = None
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            name = self._module_of_file(frame.f_code.co_filename)
            if name:
                found = name
        return found

    def _load_fallback(self, name, fallback):
        rel = name.split(".")
        path = os.path.join(fallback, *rel) + ".py"
        if not os.path.isfile(path):
            path = os.path.join(fallback, *rel, "__init__.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, module)

    def setup(self, package, sub, fallback, modules, todo_module):
        """Import `modules`, replacing a broken one by its release copy unless it is `todo_module`."""
        self.package, self.sub = package, sub
        sys.path.insert(0, sub)
        report = {}
        pending = list(modules)
        for _ in range(4 * len(modules) + 4):
            if not pending:
                break
            name = pending[0]
            try:
                importlib.import_module(name)
                pending.pop(0)
            except BaseException as exc:  # noqa: BLE001 - SystemExit and friends at import count too
                culprit = self._culprit(exc) or name
                error = _error(exc, self.sub)
                for loaded in [m for m in sys.modules if m == culprit]:
                    del sys.modules[loaded]
                if culprit == todo_module or culprit in report:
                    report[culprit] = {"status": "broken", "error": error}
                    pending = [m for m in pending if m != culprit]
                    if culprit == todo_module:
                        break
                    continue
                report[culprit] = {"status": "fallback", "error": error}
                try:
                    self._load_fallback(culprit, fallback)
                except BaseException as fexc:  # noqa: BLE001
                    report[culprit] = {"status": "broken", "error": error, "fallback_error": _error(fexc, fallback)}
                    pending = [m for m in pending if m != culprit]
        return report

    def _target(self, path):
        module_name, _, qualname = path.partition(":")
        obj = sys.modules.get(module_name)
        if obj is None:
            obj = importlib.import_module(module_name)
        for part in qualname.split(".") if qualname else []:
            obj = getattr(obj, part)
        return obj

    def _package_modules(self):
        return [m for name, m in list(sys.modules.items())
                if m is not None and (name == self.package or name.startswith(self.package + "."))]

    def _replace(self, module_name, qualname, make, ours):
        """Put `make(original)` in place of `qualname` of `module_name`, wherever the package refers to it."""
        module = sys.modules.get(module_name)
        if module is None:
            return
        *owner_path, attr = qualname.split(".")
        owner = module
        try:
            for part in owner_path:
                owner = getattr(owner, part)
        except AttributeError:
            return
        original = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
        new = make(original)
        setattr(owner, attr, new)
        if not owner_path and original is not None:
            for mod in ours:
                for key, value in list(vars(mod).items()):
                    if value is original:
                        setattr(mod, key, new)

    def install_callbacks(self, todos):
        """Replace each TODO's student object by a stub that runs the reference in the grader."""
        ours = self._package_modules()
        for todo_id, module_name, qualname in todos:
            method = "." in qualname
            self._replace(module_name, qualname, lambda _, t=todo_id, q=qualname, m=method:
                          self._method_stub(t) if m else self._function_stub(t, q), ours)

    def disable(self, entries):
        """Make given code that can do the work of a TODO under test raise instead (grading.toml stand_ins)."""
        for module_name, _, _ in entries:
            try:
                importlib.import_module(module_name)
            except Exception:  # noqa: BLE001 - a given module that does not import cannot stand in either
                continue
        ours = self._package_modules()
        for module_name, qualname, todo in entries:
            self._replace(module_name, qualname, lambda _, q=qualname, t=todo: _refused(q, t), ours)

    def _function_stub(self, todo_id, qualname):
        worker = self

        def stub(*args, **kwargs):
            return worker.callback(todo_id, args, kwargs, None)

        stub.__name__ = stub.__qualname__ = qualname.rsplit(".", 1)[-1]
        return stub

    def _method_stub(self, todo_id):
        worker = self

        def stub(self, *args, **kwargs):
            return worker.callback(todo_id, args, kwargs, self)

        stub.__name__ = stub.__qualname__ = todo_id.rsplit(".", 1)[-1]
        return stub

    def callback(self, todo_id, args, kwargs, obj):
        """Run the reference of `todo_id` in the grader on these inputs; update mutated dicts in place."""
        state = protocol.plain_attrs(obj) if obj is not None else None
        try:
            frame = protocol.Callback(todo_id, list(args), kwargs, state).to_frame()
        except protocol.Unencodable as exc:
            raise TypeError(
                f"{todo_id.rsplit('::', 1)[-1]} was called with {exc}; while another TODO is checked it runs "
                "as the reference, which takes arrays, numbers and dicts"
            ) from None
        self.channel.send(*frame)
        reply = protocol.Reply.from_frame(*self.channel.recv())
        if reply.error is not None:
            cls = {"ValueError": ValueError, "TypeError": TypeError, "KeyError": KeyError,
                   "IndexError": IndexError}.get(reply.error.type, RuntimeError)
            raise cls(reply.error.message[:MAX_MESSAGE])
        result = reply.value
        for position, new in result.get("dicts", {}).items():
            target = args[position] if isinstance(position, int) else kwargs[position]
            _merge(target, new)
        if obj is not None:
            for key, new in result.get("state", {}).items():
                old = getattr(obj, key, None)
                if isinstance(old, dict | list) and type(old) is type(new):
                    _merge(old, new)
                else:
                    setattr(obj, key, new)
        return result["value"]

    # -- requests: one method per protocol.Op, each returning the reply frame -------------------------

    def _setup(self, request):
        body = request.value
        report = self.setup(body["package"], body["sub"], body["fallback"], body["modules"], body["todo_module"])
        self.install_callbacks(body["callbacks"])
        self.disable(body.get("disabled", []))
        return self.reply(report, "data")

    def _seed(self, request):
        np.random.seed(request.value["seed"])
        random.seed(request.value["seed"])
        return self.reply(None, "data")

    def _put(self, request):
        return self.reply(request.value["value"], "handle")

    def _get(self, request):
        return self.reply(request.value["obj"], "data")

    def _call(self, request):
        body = request.value
        fn = self._target(body["target"]) if isinstance(body["target"], str) else body["target"]
        return self.reply(fn(*body.get("args", ()), **body.get("kwargs", {})), request.returns)

    def _method(self, request):
        body = request.value
        return self.reply(getattr(body["obj"], body["name"])(*body.get("args", ()), **body.get("kwargs", {})),
                          request.returns)

    def _bare(self, request):
        body = request.value
        cls = self._target(body["cls"])
        init = body.get("init")
        obj = cls(*init[0], **init[1]) if init is not None else cls.__new__(cls)
        for key, value in body["state"].items():
            setattr(obj, key, value)
        return self.reply(obj, "handle")

    def _getattr(self, request):
        return self.reply(getattr(request.value["obj"], request.value["name"]), request.returns)

    def _setattr(self, request):
        setattr(request.value["obj"], request.value["name"], request.value["value"])
        return self.reply(None, "data")

    OPS = {Op.SETUP: _setup, Op.SEED: _seed, Op.PUT: _put, Op.GET: _get, Op.CALL: _call, Op.METHOD: _method,
           Op.BARE: _bare, Op.GETATTR: _getattr, Op.SETATTR: _setattr}

    def answer(self, message, buffers):
        """The reply frame to one request frame: the value, or the error the code under test raised. A frame that
        is no Request (an unknown op, a value outside the format, an unknown handle) is refused."""
        try:
            request = protocol.Request.from_frame(message, buffers, resolve_handle=self.resolve)
            return self.OPS[request.op](self, request)
        except (_Refused, protocol.ProtocolError) as exc:
            return protocol.Reply.failure("Refused", str(exc)[:MAX_MESSAGE]).to_frame()
        except BaseException as exc:  # noqa: BLE001 - the student's code raised; report it, keep serving
            if isinstance(exc, KeyboardInterrupt):
                raise
            return protocol.Reply(error=protocol.Error(**_error(exc, self.sub))).to_frame()


def _refused(qualname, todo):
    name = qualname.rsplit(".", 1)[-1]

    def refused(*args, **kwargs):
        raise RuntimeError(f"{name} is given code that does the work of {todo}, so it cannot be used while {todo} is "
                           f"graded: write {todo} without it")

    refused.__name__ = refused.__qualname__ = name
    return refused


def _merge(old, new):
    """Make container `old` equal to `new` in place, keeping the identity of nested dicts and lists."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            if isinstance(old.get(key), dict | list) and type(old[key]) is type(value):
                _merge(old[key], value)
            else:
                old[key] = value
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) == len(new):
            for i, value in enumerate(new):
                if isinstance(old[i], dict | list) and type(old[i]) is type(value):
                    _merge(old[i], value)
                else:
                    old[i] = value
        else:
            old[:] = new


def _where(exc, sub):
    """'cs231n/layers.py:123 in affine_forward' for the innermost frame of the submission, or ''."""
    found = ""
    if sub:
        root = os.path.realpath(sub)
        for frame, line in traceback.walk_tb(exc.__traceback__):
            path = os.path.realpath(frame.f_code.co_filename)
            if path.startswith(root + os.sep):
                found = f"{os.path.relpath(path, root)}:{line} in {frame.f_code.co_name}"
    return found


def _error(exc, sub):
    where = _where(exc, sub)
    if isinstance(exc, SyntaxError) and exc.filename:
        try:
            where = f"{os.path.relpath(os.path.realpath(exc.filename), os.path.realpath(sub))}:{exc.lineno}"
        except ValueError:
            pass
    return {"type": type(exc).__name__[:100], "message": " ".join(str(exc).split())[:MAX_MESSAGE], "where": where}


def main():
    channel = protocol.Channel(socket.socket(fileno=int(sys.argv[1])))
    protocol.serve(channel, Worker(channel).answer)


if __name__ == "__main__":
    main()
