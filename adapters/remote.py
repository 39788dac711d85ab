"""Run an adapter in a worker process and talk to it over a pipe.

Used for Keras backends other than the one the current process already imported: each worker is
``python -m convequiv.adapters.remote SPEC`` started with extra environment variables (``KERAS_BACKEND``).
Requests and replies are length-prefixed pickles on a private pair of file descriptors, so
anything a framework prints cannot corrupt the channel. Arrays cross as NumPy.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import struct
import subprocess
import sys
import traceback
from typing import Any, cast

from convequiv.reference.cases import Case

from .base import Adapter, Arrays, Plan, Semantics, Unsupported

_HEADER = struct.Struct("!Q")
#: Class attributes of the remote adapter copied to its proxy.
_INFO = ("apis", "dtypes", "distributions", "frameworks", "produces", "compiles_per_case", "ops", "draws_per_case")


def _send(fd: int, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _recv(fd: int) -> Any:
    def exactly(n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError("adapter worker closed the pipe")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    (size,) = _HEADER.unpack(exactly(_HEADER.size))
    return pickle.loads(exactly(size))


class RemoteError(Exception):
    """An exception raised inside the worker that could not be sent back as itself."""


class RemoteAdapter(Adapter):
    """Proxy with the :class:`Adapter` interface for an adapter living in a worker process."""

    def __init__(self, spec: str, env: dict[str, str]):
        self.name = spec  # type: ignore[misc]
        self._spec = spec
        self.spec = spec  # what selects it again (reproduction lines), as for an adapter loaded in process
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "convequiv.adapters.remote", spec, str(to_worker_r), str(from_worker_w)],
            env={**os.environ, **env},
            pass_fds=(to_worker_r, from_worker_w),
            stdout=sys.stderr.fileno() if hasattr(sys.stderr, "fileno") and _has_fileno(sys.stderr) else None,
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self._out, self._in = to_worker_w, from_worker_r
        atexit.register(self.close)
        info = self._call("__info__")
        for attribute, value in info.items():
            setattr(self, attribute, value)

    def _call(self, method: str, *args: object, **kwargs: object) -> Any:
        if self._proc.poll() is not None:
            raise RuntimeError(f"adapter worker for {self._spec!r} exited with code {self._proc.returncode}")
        _send(self._out, (method, args, kwargs))
        status, value = _recv(self._in)
        if status == "ok":
            return value
        raise value

    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(OSError):
                os.close(self._out)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    # The replies are unpickled (``Any``): each is what the same method of the adapter in the worker
    # returned, so it has that method's return type.
    def apis_for(self, op: str) -> tuple[str, ...]:
        return cast(tuple[str, ...], self._call("apis_for", op))

    def versions(self) -> dict[str, str]:
        return cast(dict[str, str], self._call("versions"))

    def describe(self) -> str:
        return cast(str, self._call("describe"))

    def warm_up(self) -> None:
        self._call("warm_up")

    def support(self, case: Case, api: str, dtype: str) -> Plan | Unsupported:
        return cast(Plan | Unsupported, self._call("support", case, api, dtype))

    def semantics(self, case: Case, api: str) -> Semantics:
        return cast(Semantics, self._call("semantics", case, api))

    def run(self, plan: Plan, inputs: Arrays) -> Arrays:
        return cast(Arrays, self._call("run", plan, inputs))

    def probe_hazard(self, case: Case, inputs: Arrays, api: str) -> str:
        return cast(str, self._call("probe_hazard", case, inputs, api))

    def output_shape(self, case: Case, api: str) -> tuple[int, ...] | None:
        return cast(tuple[int, ...] | None, self._call("output_shape", case, api))

    def layer_params(self, case: Case, api: str) -> tuple[int, int] | None:
        return cast(tuple[int, int] | None, self._call("layer_params", case, api))

    def prove_unsupported(self, verdict: Unsupported, case: Case, inputs: Arrays, api: str) -> str:
        return cast(str, self._call("prove_unsupported", verdict, case, inputs, api))

    def call(self, method: str, *args: object, **kwargs: object) -> Any:
        """Call any other public method of the remote adapter (e.g. model builders)."""
        return self._call(method, *args, **kwargs)


def _has_fileno(stream: object) -> bool:
    try:
        stream.fileno()  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _serve(spec: str, in_fd: int, out_fd: int) -> None:
    from . import load

    adapter = load(spec)
    while True:
        try:
            method, args, kwargs = _recv(in_fd)
        except EOFError:
            return
        try:
            if method == "__info__":
                result: Any = {name: getattr(adapter, name) for name in _INFO}
            else:
                result = getattr(adapter, method)(*args, **kwargs)
            reply: tuple[str, Any] = ("ok", result)
        except BaseException as exc:  # sent back to the caller, who re-raises
            reply = ("err", exc)
        try:
            _send(out_fd, reply)
        except Exception:
            text = "".join(traceback.format_exception(reply[1])) if reply[0] == "err" else repr(reply[1])
            _send(out_fd, ("err", RemoteError(f"{spec}: {method} failed and its result cannot be sent back:\n{text}")))


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
