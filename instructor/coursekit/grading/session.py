"""The grader's side of a worker: start it in the sandbox, send requests, answer its callbacks.

Everything the worker sends is decoded with protocol.decode under size caps and a deadline, so a
submission can return nothing but plain data, late or never. A callback (the worker calling a TODO that
is not under test) is validated here and answered by the reference implementation in a reference process
(reference_server.py), which the grader kills when the request's deadline passes.
"""

import os
import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import feedback, protocol

# The reference runs on what a callback sends; no honest TODO passes more than this to another one in a
# check, and the cap bounds the work a submission can ask of the reference.
MAX_CALLBACK_BYTES = 8 * 2**20
# Starting the reference process (numpy and the reference package) is the grader's cost, not a request's.
REFERENCE_START_TIMEOUT = 120


class WorkerError(Exception):
    """Base of the ways a request to the worker can fail; the message is fit for a student to read."""


class StudentError(WorkerError):
    """The submission's code raised an exception."""

    def __init__(self, type_name, message, where):
        self.type_name, self.message, self.where = type_name, message, where
        super().__init__(f"raised {type_name}: {message}" + (f" ({where})" if where else ""))


class BadReturn(WorkerError):
    """The submission returned something that is not plain data of the expected form."""


class CallTimeout(WorkerError):
    """The request did not finish in time; the worker has been stopped."""


class WorkerDied(WorkerError):
    """The worker process ended during a request."""


class _Closed(Exception):
    """The other end of a connection closed it."""


class _Connection:
    """Frames of protocol.py over a socket, every read bounded by a deadline."""

    def __init__(self, sock):
        self.sock = sock

    def _read_exact(self, n, deadline):
        chunks, left = [], n
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CallTimeout()
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = self.sock.recv(min(left, 1 << 20))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise _Closed()
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def send(self, message, buffers=()):
        try:
            self.sock.sendall(protocol.pack(message, buffers))
        except (BrokenPipeError, ConnectionResetError):
            raise _Closed() from None

    def recv(self, deadline):
        """(message, buffers); raises CallTimeout, _Closed or protocol.ProtocolError."""
        return protocol.unpack(lambda n: self._read_exact(n, deadline))

    def close(self):
        self.sock.close()


class ReferenceProcess:
    """The reference process of one worker (reference_server.py): started at the first callback, killed
    when a callback outlives the request's deadline, so the next callback starts a fresh one."""

    def __init__(self, root, config, memory_mb):
        self.argv = [sys.executable, "-m", "coursekit.grading.reference_server", None, str(root), str(config), str(memory_mb)]
        self.start_seconds = 0.0
        self.proc = None
        self.conn = None

    def _start(self):
        ours, theirs = socket.socketpair()
        argv = list(self.argv)
        argv[3] = str(theirs.fileno())
        try:
            self.proc = subprocess.Popen(argv, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"))
        finally:
            theirs.close()
        self.conn = _Connection(ours)
        try:
            protocol.Ready.from_frame(*self.conn.recv(time.monotonic() + REFERENCE_START_TIMEOUT))
        except (CallTimeout, _Closed, protocol.ProtocolError):
            self.close()
            raise WorkerError(f"the reference process did not start within {REFERENCE_START_TIMEOUT} s; tell your "
                              "instructor (is the grading machine overloaded?)") from None

    def call(self, callback, deadline):
        """The reference's reply frame to one validated protocol.Callback, passed on to the worker as it is (the
        grader does not read it); CallTimeout when it does not come in time."""
        self.start_seconds = 0.0
        if self.proc is None:
            started = time.monotonic()
            self._start()
            # The request's clock stops while the reference starts (the caller extends its own deadline too).
            self.start_seconds = time.monotonic() - started
            deadline += self.start_seconds
        name = callback.todo.rsplit("::", 1)[-1]
        try:
            self.conn.send(*callback.to_frame())
            return self.conn.recv(deadline)
        except CallTimeout:
            self.close()
            raise CallTimeout(f"the reference {name} it called did not finish in time on the inputs it was "
                              "given; it was stopped") from None
        except (_Closed, protocol.ProtocolError):
            code = self.close()
            return protocol.Reply.failure("RuntimeError",
                                          f"{name} (reference) could not run on its inputs (exit code {code})").to_frame()

    def close(self):
        """Stop the process (if any); the exit code it had ended with by itself, else None."""
        code = None
        if self.proc is not None:
            self.conn.close()
            code = self.proc.poll()
            self.proc.kill()
            self.proc.wait()
            self.proc = self.conn = None
        return code


def read_reply(message, buffers):
    """The protocol.Reply of a worker's frame; BadReturn when the frame is none."""
    try:
        return protocol.Reply.from_frame(message, buffers)
    except protocol.ProtocolError as exc:
        raise BadReturn(f"the worker sent an {exc}") from None


def value_of(reply):
    """The value of a worker's protocol.Reply, or the WorkerError it reports (text a submission controls is
    shown only as feedback.py allows)."""
    if reply.error is None:
        return reply.value
    kind, text = reply.error.type, feedback.message(reply.error.message)
    if kind == "BadReturn":
        raise BadReturn(text)
    if kind == "Refused":
        raise BadReturn(f"the request could not be carried out: {text}")
    raise StudentError(feedback.exception_type(kind), text, feedback.location(reply.error.where))


def decode_reply(message, buffers):
    """The value a worker's reply frame carries, or the WorkerError it reports."""
    return value_of(read_reply(message, buffers))


def install_runtime(folder):
    """Copy the worker's code (worker.py, protocol.py) into `folder`."""
    here = Path(__file__).resolve().parent
    shutil.copyfile(here / "worker.py", Path(folder) / "worker.py")
    shutil.copyfile(here / "protocol.py", Path(folder) / "_coursekit_protocol.py")


class RunningWorker:
    """One running worker process of a Run, and the reference process that answers its callbacks."""

    def __init__(self, run, allowed, reference, *, timeout, answered):
        self.run = run
        # The TODOs whose reference the worker may ask for: never those under test, whose reference the
        # submission could otherwise ask for through the worker's own channel.
        self.allowed = frozenset(allowed)
        # Of those, the ones the reference answers for when the submission's code calls them (the calls the
        # reference of the TODOs under test makes itself: grade.Grader.expected); a check's own requests are
        # answered whatever they target. Any other call is recorded and refused: the grader checks the TODO
        # again with the student's own code for it, and the reference never does that work.
        self.answered = frozenset(answered) & self.allowed
        self.reference = reference
        self.timeout = timeout
        # TODOs whose reference the submission's code asked for (not the check's own direct requests).
        self.called = set()
        self._direct = frozenset()
        ours, theirs = socket.socketpair()
        self.conn = _Connection(ours)
        self.proc = None
        self.dead = False
        try:
            fd = theirs.fileno()
            argv = [run.iso.python, "-I", f"{run.path('runtime')}/worker.py", str(fd)]
            self.proc = run.spawn(argv, pass_fds=(fd,))
        finally:
            theirs.close()

    def stderr_tail(self):
        """What the worker last wrote to stderr (for the instructor's log; the submission controls it)."""
        return self.proc.stderr_tail.text() if self.proc is not None else ""

    def _how_it_ended(self):
        try:
            code = self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - still running: it closed its socket
            return "the worker closed its connection"
        if code == 0:
            return "the code under test ended the worker process (exit code 0: os._exit or sys.exit?)"
        if code >= 128 or code < 0:
            sig = code - 128 if code >= 128 else -code
            hint = {9: " (the memory limit, or killed)", 24: " (the CPU-time limit)", 25: " (the file-size limit)"}
            return f"the worker process was killed by signal {sig}{hint.get(sig, '')}"
        return f"the worker process ended with exit code {code} (the code under test exited or crashed)"

    def _send(self, message, buffers=()):
        try:
            self.conn.send(message, buffers)
        except _Closed:
            raise WorkerDied(self._how_it_ended()) from None

    def _recv(self, deadline):
        try:
            message, buffers = self.conn.recv(deadline)
        except _Closed:
            raise WorkerDied(self._how_it_ended()) from None
        except protocol.ProtocolError as exc:
            raise BadReturn(f"the worker sent an invalid message ({exc})") from None
        if not isinstance(message, dict):
            raise BadReturn("the worker sent an invalid message")
        return message, buffers

    # -- requests ---------------------------------------------------------------------------------

    def request(self, op, value=None, returns="data", timeout=None, direct=()):
        """Send one protocol.Request; answer callbacks until the reply arrives; return the decoded value.

        `direct`: the TODO ids this request targets itself (a check constructing a model runs the reference
        __init__ through a callback): their callbacks do not count as calls made by the submission's code.
        """
        if self.dead:
            raise WorkerDied("the worker was stopped by an earlier failure")
        self._direct = frozenset(direct)
        self._send(*protocol.Request(op, value if value is not None else {}, returns).to_frame())
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while True:
                message, buffers = self._recv(deadline)
                if not protocol.Callback.is_one(message):
                    reply = read_reply(message, buffers)
                    break
                self._answer_callback(message, buffers, deadline)
                deadline += self.reference.start_seconds
        except WorkerError:
            # A timeout, a dead worker or a message outside the protocol: this worker is done for.
            self.close()
            raise
        # An error the code under test raised ends this request only: the worker serves the next one.
        return value_of(reply)

    def _answer_callback(self, message, buffers, deadline):
        self.reference.start_seconds = 0.0
        # The TODO and the size are checked before the inputs are decoded: the cheap refusals first.
        todo_id = protocol.Callback.todo_of(message)
        if not isinstance(todo_id, str) or todo_id not in self.allowed:
            self._send(*protocol.Reply.failure("RuntimeError", f"no reference for {todo_id!r}").to_frame())
            return
        name = todo_id.rsplit("::", 1)[-1]
        if todo_id not in self._direct:
            self.called.add(todo_id)
            if todo_id not in self.answered:
                self._send(*protocol.Reply.failure("RuntimeError", f"{name} is not part of this TODO's work in the "
                                                   "course: it is checked with your own code for it").to_frame())
                return
        if sum(len(b) for b in buffers) > MAX_CALLBACK_BYTES:
            self._send(*protocol.Reply.failure(
                "ValueError", f"{name} was called with more than {MAX_CALLBACK_BYTES >> 20} MB of arrays").to_frame())
            return
        try:
            callback = protocol.Callback.from_frame(message, buffers)
        except protocol.ProtocolError as exc:
            raise BadReturn(f"the worker sent an invalid callback ({exc})") from None
        self._send(*self.reference.call(callback, deadline))

    def close(self):
        if not self.dead:
            self.dead = True
            try:
                self.conn.close()
                self.reference.close()
            finally:
                if self.proc is not None:
                    self.run.stop(self.proc)
