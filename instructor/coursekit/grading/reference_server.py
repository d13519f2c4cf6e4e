"""The reference implementations of the TODOs, answering a worker's callbacks in a process of their own.

While one TODO is checked, the worker's stubs for every other TODO ask for the reference (session.py). The
reference runs on inputs the submission chose, so it can be made to compute for hours (a naive convolution
with a padding of thousands) or to allocate more memory than the machine has. Here it runs in a process the
grader started, with an address-space limit, that the grader kills when the request's deadline passes: the
grader itself never computes for a submission and never blocks on it. Only reference code runs here, on data
the grader has already decoded and size-checked; student code never does.

Started by session.ReferenceProcess as `python -m coursekit.grading.reference_server FD ROOT CONFIG MEMORY_MB`; it
serves frames of protocol.py on the socket FD until the grader closes it.
"""

import resource
import socket
import sys

from ..reference import Reference
from . import protocol


def function_callback(fn):
    def call(args, kwargs, state):
        value = fn(*args, **kwargs)
        # Dicts the reference updates in place (bn_param's running statistics, an optimizer's config) go back
        # so that the worker can update the student's own dicts the same way.
        dicts = {i: a for i, a in enumerate(args) if type(a) is dict}
        dicts.update({k: v for k, v in kwargs.items() if type(v) is dict})
        return {"value": value, "dicts": dicts}

    return call


def method_callback(cls, name):
    def call(args, kwargs, state):
        obj = cls.__new__(cls)
        obj.__dict__.update(state or {})
        value = getattr(cls, name)(obj, *args, **kwargs)
        dicts = {i: a for i, a in enumerate(args) if type(a) is dict}
        return {"value": value, "dicts": dicts, "state": protocol.plain_attrs(obj)}

    return call


def callbacks(ref):
    """{todo id: callback} for the code TODOs of the reference tree `ref`."""
    name = ref.load_package()
    out = {}
    for todo in ref.config.todos:
        if todo.is_notebook:
            continue
        module = __import__(f"{name}.{todo.module.partition('.')[2]}", fromlist=["_"])
        owner, _, attr = todo.name.rpartition(".")
        out[todo.id] = method_callback(getattr(module, owner), attr) if owner else function_callback(getattr(module, attr))
    return out


def answer(table, message, buffers):
    """The reply frame to one callback frame (protocol.Callback)."""
    name = str(protocol.Callback.todo_of(message)).rsplit("::", 1)[-1]
    try:
        callback = protocol.Callback.from_frame(message, buffers)
        result = table[callback.todo](callback.args, callback.kwargs, callback.state)
        return protocol.Reply(result).to_frame()
    except MemoryError:
        return protocol.Reply.failure("MemoryError", f"{name} (reference) ran out of memory on the inputs it was given").to_frame()
    except Exception as exc:  # noqa: BLE001 - the reference refused the inputs the submission passed
        return protocol.Reply.failure(type(exc).__name__, f"{name} (reference) refused its inputs: {exc}"[:500]).to_frame()


def main(argv=None):
    fd, root, config, memory_mb = (argv if argv is not None else sys.argv[1:])
    limit = int(memory_mb) << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    table = callbacks(Reference(root, config))
    channel = protocol.Channel(socket.socket(fileno=int(fd)))
    # Loading the reference takes a while on a busy machine; that time is not the submission's to pay.
    channel.send(*protocol.Ready().to_frame())
    protocol.serve(channel, lambda message, buffers: answer(table, message, buffers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
