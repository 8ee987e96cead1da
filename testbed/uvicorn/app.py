"""inferprobe testbed: the OpenAI-compatible API server as a FastAPI app under uvicorn.

This is `testbed engine --frontend uvicorn`: the stack vLLM serves with (FastAPI, uvicorn,
uvloop), so the socket behaviour inferprobe sees is the real one. Like vLLM's API server
it spawns the engine core as its child (`testbed engine-core --connect SOCKET ...`) and
talks to it over a unix socket, one JSON testbed/proto message a line. It writes the same
ground-truth request lines as the Go front end (testbed/truth): arrival is taken in the
protocol's data_received (right after uvloop's read), each token's time right after the
write that carried its chunk. uvloop does not write on transport.write(): it queues the
bytes and flushes every queued stream with one write/writev at the end of the current
batch of ready callbacks, so a response's pieces sent together leave together. A time
taken in a later callback is late by the writes of every other connection in that flush
and by whatever the loop runs before that callback (measured: the client had the first
token before such a stamp for 201 of 431 streams, by up to 4 ms). So each connection's
transport is wrapped (Writer): the pieces of one response event are held and handed to
uvloop together, with its write buffer limit at zero so that uvloop's own fast path
makes the write(2)/writev(2) right there, and the time is taken as it returns. The
pieces still leave as they would under uvloop (headers, the chat role chunk and the
first token in one writev; the last token, the usage chunk, [DONE] and the terminating
chunk in one), each stamped by its own syscall. A thread preempted on its way back from
the syscall reads the clock late: the time it spent waiting to run (the kernel's
per-thread run-queue time) is taken off. A client's close is stamped in eof_received,
right after the read that saw it.

Run with Debian's /usr/bin/python3 (python3-fastapi, python3-uvicorn, python3-uvloop):
    app.py --host H --port P --model M --max-model-len N [--truth FILE]
           --testbed PATH -- [engine-core flags]
It prints "testbed serving http://HOST:PORT pid=PID" on stdout once the core is ready.
"""

import argparse
import asyncio
import ctypes
import gc
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time

import h11
import uvicorn
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from uvicorn.protocols.http.h11_impl import H11Protocol


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def _open_schedstat():
    try:
        fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        os.pread(fd, 128, 0)
        return fd
    except OSError:  # a kernel without CONFIG_SCHED_INFO
        return None


_SCHEDSTAT = None


def runqueue_ns():
    """The time the calling thread has spent runnable but not running (the second field
    of /proc/thread-self/schedstat, which the kernel updates as the thread gets a CPU
    back): its growth across a syscall and the clock read after it is how long the thread
    was preempted in between, and the truth leaves it out (measured on this machine: a
    stamp later than the syscall by more than 0.5 ms had the thread waiting on a run queue
    for as long, 7 of 9 cases, to within 0.25 ms). 0 when the kernel does not say. Only the
    event loop's thread calls it."""
    global _SCHEDSTAT
    if _SCHEDSTAT is None:
        fd = _open_schedstat()
        _SCHEDSTAT = -1 if fd is None else fd
    if _SCHEDSTAT < 0:
        return 0
    return int(os.pread(_SCHEDSTAT, 128, 0).split()[1])


class Writer:
    """A connection's transport as uvicorn and the app see it. Writes pass through to
    uvloop's transport unchanged, except between hold() and flush(): those are gathered
    and flush() hands them to uvloop in one writelines() with the write buffer limit at
    zero, so that uvloop writes them right away (one write(2), or one writev(2) for
    several pieces: its fast path) instead of at the end of the loop's batch, and returns
    the time right after. Everything else (reads, flow control, close) is the
    transport's."""

    def __init__(self, transport):
        self._t = transport
        self._held = None
        self._flushed_ns = None  # the time of a flush that close() made

    def __getattr__(self, name):
        return getattr(self._t, name)

    def write(self, data):
        if self._held is None:
            self._t.write(data)
        elif data:
            self._held.append(bytes(data))

    def writelines(self, bufs):
        for b in bufs:
            self.write(b)

    def hold(self):
        """Gather writes until flush()."""
        if self._held is None:
            self._held = []
            self._flushed_ns = None

    def flush(self):
        """Writes what was held now and returns the time right after the syscall, or None
        when uvloop could not write it all then (the peer is slow to read, or the
        connection is closing: uvloop buffers the rest or drops it)."""
        held, self._held = self._held, None
        if not held:
            return self._flushed_ns
        t = self._t
        if t.is_closing():
            return None
        low, high = t.get_write_buffer_limits()
        t.set_write_buffer_limits(high=0, low=0)
        collecting = gc.isenabled()
        gc.disable()  # no collection between the syscall and the time taken after it
        try:
            w0 = runqueue_ns()
            before = now_ns()
            t.writelines(held)
            ts = now_ns()
            # Less the time the thread then waited to run again (preempted on its way
            # back from the kernel), but never before the call.
            ts = max(ts - (runqueue_ns() - w0), before)
        finally:
            if collecting:
                gc.enable()
            if not t.is_closing():
                t.set_write_buffer_limits(high=high, low=low)
        return ts if t.get_write_buffer_size() == 0 else None

    def close(self):
        if self._held:
            self._flushed_ns = self.flush()
        self._t.close()

    def write_eof(self):
        if self._held:
            self._flushed_ns = self.flush()
        self._t.write_eof()


async def written(writer):
    """Flushes what the writer holds and returns the time of the write: right after its
    syscall, or, when uvloop had to buffer some of it, once its buffer has drained."""
    ts = writer.flush()
    while ts is None:
        if writer.is_closing() or writer.get_write_buffer_size() == 0:
            return now_ns()
        await asyncio.sleep(0)
    return ts


def hold(scope):
    """Starts gathering the writes of the request's connection (Writer.hold) and returns
    its writer."""
    wr = scope[WRITER_KEY]
    wr.hold()
    return wr


ARRIVAL_KEY = "inferprobe.arrival_ns"
CYCLE_KEY = "inferprobe.cycle"
WRITER_KEY = "inferprobe.writer"


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, stamping each request's scope with its arrival (the time
    of the read that brought the first bytes of its request line) and its uvicorn cycle,
    whose `disconnected` says synchronously whether the client is gone (uvicorn then drops
    sends silently) and on which connection_lost leaves the time it was seen."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._mark = None  # the read that began the next request, not yet parsed
        self._last = 0

    def connection_made(self, transport):
        super().connection_made(Writer(transport))

    def data_received(self, data):
        t = now_ns()
        self._last = t
        if self._mark is None and self.conn.their_state in (h11.IDLE, h11.DONE):
            self._mark = t
        super().data_received(data)

    def handle_events(self):
        before = self.scope
        super().handle_events()
        if self.scope is not None and self.scope is not before:
            self.scope[ARRIVAL_KEY] = self._mark if self._mark is not None else self._last
            self.scope[CYCLE_KEY] = self.cycle
            self.scope[WRITER_KEY] = self.transport
            self._mark = None

    def eof_received(self):
        # uvloop calls this right after the read that returned end of file; it closes
        # the transport after, and connection_lost runs in a later batch of callbacks.
        self._eof = now_ns()
        return super().eof_received()

    def connection_lost(self, exc):
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.inferprobe_gone_ns = getattr(self, "_eof", None) or now_ns()
        super().connection_lost(exc)


# --- the wire format (the same bytes as testbed/frontend) ---------------------------

def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


ERROR_TYPES = {400: "BadRequestError", 404: "NotFoundError", 405: "MethodNotAllowedError",
               413: "RequestEntityTooLargeError", 429: "RateLimitError"}


def error_obj(status, msg):
    typ = ERROR_TYPES.get(status, "InternalServerError" if status >= 500 else "BadRequestError")
    return {"object": "error", "message": msg, "type": typ, "param": None, "code": status}


class APIError(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status, self.msg = status, msg


def context_length_error(max_len, prompt, completion):
    if completion <= 0:
        return APIError(400, f"This model's maximum context length is {max_len} tokens. However, your "
                             f"request has {prompt} input tokens. Please reduce the length of the input messages.")
    return APIError(400, f"This model's maximum context length is {max_len} tokens. However, you requested "
                         f"{prompt + completion} tokens ({prompt} in the messages, {completion} in the completion). "
                         f"Please reduce the length of the messages or completion.")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def count_prompt(prompt):
    if prompt is None:
        raise APIError(400, "prompt is required")
    if isinstance(prompt, str):
        return len(prompt.split())
    if isinstance(prompt, list) and all(is_int(x) for x in prompt):
        return len(prompt)
    if isinstance(prompt, list) and all(isinstance(x, str) for x in prompt):
        if len(prompt) != 1:
            raise APIError(400, f"only one prompt per request is supported, got {len(prompt)}")
        return len(prompt[0].split())
    raise APIError(400, "prompt must be a string or a list of token ids")


def count_messages(msgs):
    if not msgs or not isinstance(msgs, list):
        raise APIError(400, "messages is required")
    n = 0
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not m.get("role"):
            raise APIError(400, f"messages[{i}].role is required")
        c = m.get("content")
        if isinstance(c, str):
            n += len(c.split())
        elif isinstance(c, list):
            n += sum(len(p.get("text", "").split()) for p in c if isinstance(p, dict) and p.get("type") == "text")
        else:
            raise APIError(400, f"messages[{i}].content must be a string or a list of parts")
    return n


def parse_completion(body, chat, model, max_model_len):
    """Validates a request as vLLM's API server does; returns (stream, include_usage,
    prompt_tokens, max_tokens) or raises APIError."""
    try:
        req = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise APIError(400, f"invalid JSON body: {e}")
    if not isinstance(req, dict):
        raise APIError(400, "invalid JSON body: not an object")
    if req.get("model") not in (None, "", model):
        raise APIError(404, f"The model `{req['model']}` does not exist.")
    if req.get("n") not in (None, 1):
        raise APIError(400, f"n must be 1 in this testbed, got {req['n']}.")
    stream = bool(req.get("stream", False))
    include_usage = False
    opts = req.get("stream_options")
    if opts is not None:
        if not stream:
            raise APIError(400, "Stream options can only be defined when `stream=True`.")
        include_usage = bool(isinstance(opts, dict) and opts.get("include_usage"))
    if req.get("prompt_tokens") is not None:
        if not is_int(req["prompt_tokens"]):
            raise APIError(400, "prompt_tokens must be an integer")
        prompt = req["prompt_tokens"]
    elif chat:
        prompt = count_messages(req.get("messages"))
    else:
        prompt = count_prompt(req.get("prompt"))
    if prompt < 1:
        raise APIError(400, f"the prompt must have at least 1 token, got {prompt}")
    max_tokens = req.get("max_tokens")
    if chat and req.get("max_completion_tokens") is not None:
        max_tokens = req["max_completion_tokens"]
    if max_tokens is not None:
        if not is_int(max_tokens):
            raise APIError(400, "max_tokens must be an integer")
        if max_tokens < 1:
            raise APIError(400, f"max_tokens must be at least 1, got {max_tokens}.")
        if prompt + max_tokens > max_model_len:
            raise context_length_error(max_model_len, prompt, max_tokens)
    else:
        if prompt >= max_model_len:
            raise context_length_error(max_model_len, prompt, 0)
        max_tokens = max_model_len - prompt
    return stream, include_usage, prompt, max_tokens


class Chunks:
    """The chunks and bodies of one completion, in vLLM's (OpenAI's) format."""

    def __init__(self, rid, chat, model, usage):
        self.id, self.chat, self.model, self.usage = rid, chat, model, usage
        self.created = int(time.time())

    def head(self, full=False):
        obj = "chat.completion" if self.chat and full else "chat.completion.chunk" if self.chat else "text_completion"
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def token(self, text, reason):
        d = self.head()
        if self.chat:
            d["choices"] = [{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": reason}]
        else:
            d["choices"] = [{"index": 0, "text": text, "logprobs": None, "finish_reason": reason, "stop_reason": None}]
        if self.usage:
            d["usage"] = None
        return sse(d)

    def role(self):
        d = self.head()
        d["choices"] = [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                         "finish_reason": None}]
        if self.usage:
            d["usage"] = None
        return sse(d)

    def usage_chunk(self, prompt, completion):
        d = self.head()
        d["choices"] = []
        d["usage"] = usage(prompt, completion)
        return sse(d)

    def full(self, text, reason, prompt, completion):
        d = self.head(full=True)
        if self.chat:
            d["choices"] = [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                             "finish_reason": reason}]
        else:
            d["choices"] = [{"index": 0, "text": text, "logprobs": None, "finish_reason": reason,
                             "stop_reason": None}]
        d["usage"] = usage(prompt, completion)
        return dumps(d)


def usage(prompt, completion):
    return {"prompt_tokens": prompt, "total_tokens": prompt + completion, "completion_tokens": completion}


def sse(obj):
    return b"data: " + dumps(obj) + b"\n\n"


DONE = b"data: [DONE]\n\n"


# --- ground truth ----------------------------------------------------------------------

class Truth:
    """Appends request lines to the truth file: O_APPEND, one write(2) per line."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else None

    def write(self, rec):
        if self.fd is None:
            return
        rec = {k: v for k, v in rec.items() if v not in (None, "", [], 0) or k in ALWAYS}
        os.write(self.fd, dumps(rec) + b"\n")


# Fields written even when zero or empty (as the Go struct does, without omitempty).
ALWAYS = {"kind", "id", "frontend", "pid", "method", "path", "stream", "arrival_ns", "end_ns",
          "prompt_tokens", "completion_tokens", "status", "class", "prefill_step"}


def class_of(status, msg):
    if status == 429:
        return "rate_limited"
    if 400 <= status < 500:
        return "context_length" if "maximum context length" in (msg or "") else "bad_request"
    if status >= 500:
        return "server_error"
    return "ok"


# --- the engine core -------------------------------------------------------------------

class CoreClient:
    """The engine core process and the proto stream to it."""

    def __init__(self, testbed, args, on_dead):
        self.testbed, self.args, self.on_dead = testbed, args, on_dead
        self.queues = {}
        self.dead = None
        self.proc = None
        self.writer = None

    async def start(self, timeout=60):
        d = tempfile.mkdtemp(prefix="testbed-core-")
        path = os.path.join(d, "core.sock")
        loop = asyncio.get_running_loop()
        connected = loop.create_future()

        def on_conn(r, w):
            if not connected.done():
                connected.set_result((r, w))

        server = await asyncio.start_unix_server(on_conn, path=path)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.testbed, "engine-core", "--connect", path, *self.args, preexec_fn=die_with_parent)
            exited = asyncio.ensure_future(self.proc.wait())
            done, _ = await asyncio.wait({connected, exited}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if connected not in done:
                if exited in done:
                    raise RuntimeError(f"engine core exited with {self.proc.returncode} before connecting")
                raise RuntimeError(f"engine core did not connect within {timeout}s")
            exited.cancel()
        finally:
            server.close()
            shutil.rmtree(d, ignore_errors=True)
        self.reader, self.writer = connected.result()
        self.task = asyncio.create_task(self.read_loop())

    def register(self, rid):
        if rid in self.queues:
            return None
        q = asyncio.Queue()
        self.queues[rid] = q
        if self.dead:
            q.put_nowait(("fail", 500, self.dead))
        return q

    def unregister(self, rid):
        self.queues.pop(rid, None)

    def send(self, msg):
        if self.dead or self.writer is None or self.writer.is_closing():
            return
        self.writer.write(dumps(msg) + b"\n")

    async def read_loop(self):
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                m = json.loads(line)
                op = m.get("op")
                if op == "step":
                    st = m["step"]
                    for t in st.get("tokens") or []:
                        q = self.queues.get(t["id"])
                        if q is not None:
                            q.put_nowait(("token", t, st["index"]))
                elif op in ("reject", "fail"):
                    q = self.queues.get(m.get("id"))
                    if q is not None:
                        q.put_nowait((op, m.get("status", 0), m.get("error", "")))
        except Exception as e:  # a broken stream is the core going away
            print(f"testbed uvicorn: reading from the engine core: {e!r}", file=sys.stderr)
        self.dead = "engine core stopped"
        for q in self.queues.values():
            q.put_nowait(("fail", 500, self.dead))
        self.on_dead()

    async def close(self, grace=5):
        if self.writer is not None:
            self.writer.close()
        if self.proc is not None and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def die_with_parent():
    """In the child: SIGKILL when the API server dies (prctl PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


# --- responses -------------------------------------------------------------------------

class Timed(Response):
    """An ASGI response that times its own sends and writes the request's truth line."""

    def __init__(self, app, rec):
        self.app, self.rec = app, rec
        self.background = None

    def gone(self, scope):
        """The client's close, if it came before the response was complete: its time."""
        cycle = scope.get(CYCLE_KEY)
        if cycle is not None and cycle.disconnected:
            return getattr(cycle, "inferprobe_gone_ns", None) or now_ns()
        return None

    def finish(self, status, msg="", cls=None):
        r = self.rec
        r["status"] = status
        if msg:
            r["error"] = msg
        r["class"] = cls or class_of(status, msg)
        self.app.state.truth.write(r)


class Whole(Timed):
    """A whole response (status, headers, body) as uvicorn writes it."""

    def __init__(self, app, rec, status, body, ctype=b"application/json", msg=""):
        super().__init__(app, rec)
        self.status, self.body, self.ctype, self.msg = status, body, ctype, msg

    async def __call__(self, scope, receive, send):
        headers = [(b"content-length", str(len(self.body)).encode())]
        if self.ctype:
            headers.append((b"content-type", self.ctype))
        wr = hold(scope)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
        self.rec["end_ns"] = await written(wr)
        gone = self.gone(scope)
        if gone is not None:  # uvicorn dropped the response: nothing reached the client
            self.rec["end_ns"] = gone
            self.rec["completion_tokens"] = 0
            self.finish(0, self.msg, cls="aborted")
            return
        if self.status == 200 and self.rec.get("path") in COMPLETION_PATHS:
            self.rec["first_token_ns"] = self.rec["end_ns"]
        self.finish(self.status, self.msg)


def error_response(app, rec, status, msg):
    return Whole(app, rec, status, dumps(error_obj(status, msg)), msg=msg)


class Gone(Timed):
    """The client went away before a response could start: nothing to send."""

    async def __call__(self, scope, receive, send):
        self.finish(self.rec.get("status", 0), cls="aborted")


class Stream(Timed):
    """A streamed completion: status and headers, (chat: the role chunk,) one chunk per
    token, the usage chunk, [DONE]."""

    def __init__(self, app, rec, work, first):
        super().__init__(app, rec)
        self.work, self.first = work, first

    async def __call__(self, scope, receive, send):
        try:
            await self.run(scope, send)
        finally:
            self.work.close()

    def aborted(self):
        self.rec["end_ns"] = self.work.gone_ns()
        self.finish(200, cls="aborted")

    async def run(self, scope, send):
        w, rec = self.work, self.rec
        # The head (and the chat role chunk) leave with the first token or error, as they
        # do under uvloop when sent in one batch; the last token with the usage chunk,
        # [DONE] and the terminating chunk.
        wr = hold(scope)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream; charset=utf-8")]})
        rec["status"] = 200
        if w.chunks.chat:
            await send({"type": "http.response.body", "body": w.chunks.role(), "more_body": True})
        ev = self.first
        while True:
            if ev == GONE or w.is_gone():
                await written(wr)  # nothing held reaches a client that is gone
                w.abort()
                return self.aborted()
            if ev[0] != "token":
                msg = ev[2] or "the request failed in the engine"
                await send({"type": "http.response.body", "more_body": True,
                            "body": sse({"error": error_obj(ev[1] or 500, msg)})})
                await send({"type": "http.response.body", "body": DONE, "more_body": False})
                rec["end_ns"] = await written(wr)
                if w.is_gone():
                    return self.aborted()
                return self.finish(200, msg, cls="server_error")
            t = ev[1]
            finished = bool(t.get("finished"))
            reason = t.get("reason") if finished else None
            await send({"type": "http.response.body", "body": w.chunks.token(t.get("text", ""), reason),
                        "more_body": True})
            if finished:
                if w.chunks.usage:
                    await send({"type": "http.response.body", "more_body": True,
                                "body": w.chunks.usage_chunk(rec["prompt_tokens"], rec["completion_tokens"] + 1)})
                await send({"type": "http.response.body", "body": DONE, "more_body": False})
            ts = await written(wr)
            if w.is_gone():  # the client went before (or at) the write
                if not finished:
                    w.abort()
                return self.aborted()
            w.took(t, ev[2])
            rec["token_ns"].append(ts)
            rec.setdefault("first_token_ns", ts)
            if finished:
                rec["finish_reason"] = reason
                rec["end_ns"] = ts
                return self.finish(200)
            ev = await w.next()
            wr = hold(scope)


GONE = "gone"


class Work:
    """One completion in the core: its event queue, and a watch for the client's close."""

    def __init__(self, core, rec, queue, scope, receive, chunks):
        self.core, self.rec, self.q, self.chunks = core, rec, queue, chunks
        self.cycle = scope.get(CYCLE_KEY)
        self.gone = asyncio.Event()
        self.closed = False
        self.watch = asyncio.create_task(self._watch(receive))

    async def _watch(self, receive):
        # After the body, receive() returns http.disconnect when the client goes (or when
        # the response completes, which is not a close).
        while True:
            m = await receive()
            if m["type"] == "http.disconnect":
                if self.is_gone():
                    self.gone.set()
                return

    def is_gone(self):
        return self.cycle is not None and self.cycle.disconnected

    def gone_ns(self):
        return getattr(self.cycle, "inferprobe_gone_ns", None) or now_ns()

    async def next(self):
        """The next core event, or GONE once the client has closed."""
        if self.is_gone():
            return GONE
        if not self.q.empty():
            return self.q.get_nowait()
        get = asyncio.ensure_future(self.q.get())
        gone = asyncio.ensure_future(self.gone.wait())
        done, _ = await asyncio.wait({get, gone}, return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            gone.cancel()
            return get.result()
        get.cancel()
        return GONE

    def took(self, t, step):
        r = self.rec
        r["completion_tokens"] += 1
        if t.get("index") == 0:
            r["first_scheduled_ns"] = t.get("scheduled_ns", 0)
            r["prefill_start_ns"] = t.get("prefill_start_ns", 0)
            r["prefill_step"] = step

    def abort(self):
        self.core.send({"op": "abort", "id": self.rec["id"]})

    def close(self):
        if not self.closed:
            self.closed = True
            self.watch.cancel()
            self.core.unregister(self.rec["id"])


COMPLETION_PATHS = ("/v1/completions", "/v1/chat/completions")
# --- the app ---------------------------------------------------------------------------

def new_rec(request):
    return {"kind": "request", "id": "req-" + secrets.token_hex(16), "frontend": "uvicorn", "pid": os.getpid(),
            "method": request.method, "path": request.url.path, "stream": False,
            "arrival_ns": request.scope.get(ARRIVAL_KEY) or now_ns(), "end_ns": 0,
            "prompt_tokens": 0, "completion_tokens": 0, "status": 0, "class": ""}


async def completion(request, chat):
    app = request.app
    st = app.state
    rec = new_rec(request)
    hdr = request.headers.get("x-request-id")
    rec["id"] = ("chatcmpl-" if chat else "cmpl-") + (hdr or secrets.token_hex(16))
    if hdr:
        rec["request_id"] = hdr
    body = await request.body()
    try:
        stream, include_usage, prompt, max_tokens = parse_completion(body, chat, st.model, st.max_model_len)
    except APIError as e:
        return error_response(app, rec, e.status, e.msg)
    rec.update(stream=stream, prompt_tokens=prompt, max_tokens=max_tokens, token_ns=[])
    q = st.core.register(rec["id"])
    if q is None:
        return error_response(app, rec, 400, f"request id {rec['id']} is already in flight")
    w = Work(st.core, rec, q, request.scope, request.receive, Chunks(rec["id"], chat, st.model, include_usage))
    handed_off = False
    try:
        if w.is_gone():  # the client left before its request was read to the end
            rec["end_ns"] = w.gone_ns()
            return Gone(app, rec)
        st.core.send({"op": "add", "id": rec["id"], "add": {
            "id": rec["id"], "prompt_tokens": prompt, "max_tokens": max_tokens, "arrival_ns": rec["arrival_ns"]}})
        ev = await w.next()
        if ev == GONE:
            w.abort()
            rec["end_ns"] = w.gone_ns()
            return Gone(app, rec)
        if ev[0] == "reject":
            return error_response(app, rec, ev[1] or 429, ev[2])
        if ev[0] == "fail":
            return error_response(app, rec, ev[1] or 500, ev[2])
        if stream:
            handed_off = True
            return Stream(app, rec, w, ev)
        text = []
        while True:
            if ev == GONE:
                w.abort()
                rec["end_ns"] = w.gone_ns()
                rec["completion_tokens"] = 0
                return Gone(app, rec)
            if ev[0] != "token":
                rec["completion_tokens"] = 0
                return error_response(app, rec, ev[1] or 500, ev[2])
            t = ev[1]
            w.took(t, ev[2])
            text.append(t.get("text", ""))
            if t.get("finished"):
                rec["finish_reason"] = t.get("reason")
                return Whole(app, rec, 200, w.chunks.full("".join(text), t.get("reason"), prompt,
                                                          rec["completion_tokens"]))
            ev = await w.next()
    finally:
        if not handed_off:
            w.close()


def build_app(model, max_model_len, truth_path, testbed, core_args):
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    st = app.state
    st.model, st.max_model_len, st.truth = model, max_model_len, Truth(truth_path)
    st.stopping = False
    st.core_dead = False
    st.started = int(time.time())

    def on_dead():
        if not st.stopping:
            print("testbed uvicorn: the engine core stopped", file=sys.stderr)
            st.core_dead = True
            st.server.should_exit = True

    st.core = CoreClient(testbed, core_args, on_dead)

    @app.on_event("startup")
    async def startup():
        await st.core.start()
        # What exists now lives as long as the server: keep it out of the collector's
        # generations, so that a collection (which may run between a syscall and the
        # truth time taken after it) stays short.
        gc.collect()
        gc.freeze()
        host, port = st.sock.getsockname()[:2]
        if ":" in host:
            host = f"[{host}]"
        print(f"testbed serving http://{host}:{port} pid={os.getpid()}", flush=True)

    @app.on_event("shutdown")
    async def shutdown():
        st.stopping = True
        await st.core.close()

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await completion(request, chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        return await completion(request, chat=True)

    @app.get("/health")
    async def health(request: Request):
        return Whole(app, new_rec(request), 200, b"", ctype=None)

    @app.get("/v1/models")
    async def models(request: Request):
        return Whole(app, new_rec(request), 200, dumps({"object": "list", "data": [{
            "id": model, "object": "model", "created": st.started, "owned_by": "vllm", "root": model,
            "parent": None, "max_model_len": max_model_len, "permission": []}]}))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        return error_response(app, new_rec(request), exc.status_code, str(exc.detail))

    return app


def main(argv):
    if "--" in argv:
        i = argv.index("--")
        argv, core_args = argv[:i], argv[i + 1:]
    else:
        core_args = []
    p = argparse.ArgumentParser(description="testbed API server on uvicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default="testbed")
    p.add_argument("--max-model-len", type=int, default=4096)
    p.add_argument("--truth", default="")
    p.add_argument("--testbed", required=True, help="the testbed binary, run as `TESTBED engine-core --connect ...`")
    a = p.parse_args(argv)
    if a.max_model_len < 2:
        p.error(f"--max-model-len {a.max_model_len} is below 2")
    app = build_app(a.model, a.max_model_len, a.truth, a.testbed, core_args)
    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(2048)
    app.state.sock = sock
    config = uvicorn.Config(app, http=TimedH11Protocol, loop="uvloop", lifespan="on", log_level="warning",
                            access_log=False, timeout_keep_alive=75, backlog=2048)
    server = uvicorn.Server(config)
    app.state.server = server
    server.run(sockets=[sock])
    if app.state.core_dead:
        return 1
    if not server.started:
        return 3  # startup failed (the core did not come up): uvicorn logged why
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
