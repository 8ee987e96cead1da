"""The completions API of the GPU testbed: OpenAI's wire format over the engine, and each
request's ground-truth line (server.py's docstring says when each time is taken)."""

import asyncio
import json
import os
import secrets
import time

from aiohttp import web

import engine as eng

now_ns = eng.now_ns


def class_of(status, msg=""):
    if status == 429:
        return "rate_limited"
    if 400 <= status < 500:
        return "context_length" if "maximum context length" in msg else "bad_request"
    if status >= 500:
        return "server_error"
    return "ok"


WORDS = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zu", "pe", "do", "fa", "gi", "ho", "ju", "ba")


def text_of(token):
    return " " + WORDS[token % 16] + WORDS[(token // 16) % 16] + WORDS[(token // 256) % 16]


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def sse(obj):
    return b"data: " + dumps(obj) + b"\n\n"


DONE = b"data: [DONE]\n\n"


class API:
    def __init__(self, args, engine, model_name):
        self.args, self.engine, self.model_name = args, engine, model_name
        self.truth = engine.truth
        self.pid = os.getpid()
        self.ready = False

    def record(self, request, rid, stream):
        return {"kind": "request", "id": rid, "frontend": "aiohttp", "pid": self.pid,
                "method": request.method, "path": request.path, "stream": stream,
                "arrival_ns": request["arrival_ns"], "end_ns": 0, "prompt_tokens": 0,
                "completion_tokens": 0, "status": 0, "class": "ok", "prefill_step": None}

    async def health(self, request):
        return web.json_response({"ready": self.ready}, status=200 if self.ready else 503)

    async def models(self, request):
        return web.json_response({"object": "list", "data": [{"id": self.model_name, "object": "model"}]})

    async def whole(self, request, rec, status, body, msg=""):
        resp = web.Response(status=status, body=body, content_type="application/json")
        await resp.prepare(request)
        await resp.write_eof()
        rec["end_ns"] = now_ns()
        rec["status"], rec["class"] = status, class_of(status, msg)
        if msg:
            rec["error"] = msg
        if status == 200:
            rec["first_token_ns"] = rec["end_ns"]
        self.truth.write(rec)
        return resp

    async def error(self, request, rec, status, msg):
        body = dumps({"object": "error", "message": msg, "type": "BadRequestError", "param": None, "code": status})
        return await self.whole(request, rec, status, body, msg)

    def parse(self, body):
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            ids = [b for b in prompt.encode()]
        elif isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
            ids = [t % self.engine.model.cfg.vocab for t in prompt]
        else:
            raise ValueError("prompt must be a non-empty string or a list of token ids")
        if not ids:
            raise ValueError("prompt is empty")
        max_tokens = body.get("max_tokens", 16)
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError("max_tokens must be a positive integer")
        opts = body.get("stream_options") or {}
        return ids, max_tokens, bool(body.get("stream")), bool(opts.get("include_usage"))

    async def completions(self, request):
        rid = "cmpl-" + secrets.token_hex(12)
        rec = self.record(request, rid, False)
        try:
            body = json.loads(await request.read())
            ids, max_tokens, stream, usage = self.parse(body)
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            return await self.error(request, rec, 400, str(e))
        rec["stream"], rec["prompt_tokens"], rec["max_tokens"] = stream, len(ids), max_tokens
        limit = self.engine.model.cfg.max_len
        if len(ids) + max_tokens > limit:
            return await self.error(request, rec, 400, f"This model's maximum context length is {limit} tokens. "
                                    f"However, you requested {len(ids) + max_tokens} tokens ({len(ids)} in the "
                                    f"prompt, {max_tokens} for the completion).")
        q = asyncio.Queue()
        work = eng.Work(rid, ids, max_tokens, asyncio.get_running_loop(),
                        lambda t, idx, done, err=None: q.put_nowait((t, idx, done, err)))
        self.engine.submit(work)
        try:
            if stream:
                return await self.stream(request, rec, work, q, usage)
            return await self.collect(request, rec, work, q)
        except (ConnectionError, asyncio.CancelledError):
            work.cancelled = True
            rec["end_ns"], rec["class"], rec["status"] = now_ns(), "aborted", rec["status"] or 200
            self.truth.write(rec)
            raise

    def chunk(self, rec, text, finish=None):
        return {"id": rec["id"], "object": "text_completion", "created": int(time.time()), "model": self.model_name,
                "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}

    def took(self, rec, work):
        rec["first_scheduled_ns"] = work.scheduled_ns
        rec["prefill_start_ns"] = work.prefill_start_ns
        rec["prefill_step"] = work.prefill_step

    async def collect(self, request, rec, work, q):
        tokens = []
        while True:
            t, idx, done, err = await q.get()
            if err:
                return await self.error_500(request, rec, err)
            tokens.append(t)
            if done:
                break
        self.took(rec, work)
        rec["completion_tokens"] = len(tokens)
        rec["finish_reason"] = "length"
        n = rec["prompt_tokens"]
        body = self.chunk(rec, "".join(text_of(t) for t in tokens), "length")
        body["usage"] = {"prompt_tokens": n, "completion_tokens": len(tokens), "total_tokens": n + len(tokens)}
        return await self.whole(request, rec, 200, dumps(body))

    async def error_500(self, request, rec, msg):
        body = dumps({"object": "error", "message": msg, "type": "InternalServerError", "param": None, "code": 500})
        return await self.whole(request, rec, 500, body, msg)

    async def stream(self, request, rec, work, q, usage):
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        resp.enable_chunked_encoding()
        t, idx, done, err = await q.get()
        if err:
            return await self.error_500(request, rec, err)
        await resp.prepare(request)
        rec["status"], rec["token_ns"] = 200, []
        while True:
            await resp.write(sse(self.chunk(rec, text_of(t), "length" if done else None)))
            ts = now_ns()
            rec["token_ns"].append(ts)
            rec.setdefault("first_token_ns", ts)
            if done:
                break
            t, idx, done, err = await q.get()
            if err:  # an error event inside the 200 stream, then [DONE]
                await resp.write(sse({"error": {"object": "error", "message": err, "code": 500}}))
                await resp.write_eof(DONE)
                rec["end_ns"], rec["class"], rec["error"] = now_ns(), "server_error", err
                self.truth.write(rec)
                return resp
        self.took(rec, work)
        n, m = rec["prompt_tokens"], len(rec["token_ns"])
        rec["completion_tokens"], rec["finish_reason"] = m, "length"
        if usage:
            last = self.chunk(rec, "")
            last["choices"] = []
            last["usage"] = {"prompt_tokens": n, "completion_tokens": m, "total_tokens": n + m}
            await resp.write(sse(last))
        await resp.write_eof(DONE)
        rec["end_ns"] = now_ns()
        self.truth.write(rec)
        return resp
