"""inferprobe GPU testbed: a streaming OpenAI-style completions server on aiohttp over a
small random-weight transformer (model.py) with continuous batching (engine.py).

    server.py [--host H] [--port P] [--layers N] [--hidden N] [--max-batch N]
              [--device cuda|cpu|auto] [--truth FILE] [--cuda-graphs] [--sync copy|event]
    server.py --count-kernels [model flags]   # one prefill and one decode step under
                                              # torch.profiler: kernels and runtime calls

POST /v1/completions takes {"prompt": str or [int], "max_tokens": N, "stream": bool,
"stream_options": {"include_usage": bool}}; a prompt string is tokenized one token per
UTF-8 byte. Streams are SSE chunks in OpenAI's format, one write per token, then the usage
chunk (when asked) and `data: [DONE]` in the write that ends the chunked body. GET /health
answers once the model is warm. It prints "gpu testbed serving http://HOST:PORT pid=PID"
when it is ready.

Ground truth (--truth), the line format of testbed/truth, CLOCK_MONOTONIC ns:
- request: arrival_ns is stamped in the aiohttp protocol's data_received for the read
  whose bytes begin the request line, right after the event loop's recv() returned (the
  read inferprobe calls the arrival; the stamp is some 10-50 us after that syscall
  returns: the selector loop's dispatch). token_ns holds the time right after each
  content chunk's write returned (asyncio's selector transport sends inside write() when
  its buffer is empty, so the stamp follows the send syscall by the GIL hand-back only),
  end_ns the time after the write that ended the response. first_token_ns is token_ns[0]
  for streams and end_ns for whole responses (testbed/truth's convention).
  prefill_start_ns and prefill_step name the request's prefill step.
- step: start just before the forward pass, end right after the blocking wait returned
  (engine.py).
The engine thread and the event loop share the GIL; the switch interval is lowered to
0.2 ms so a stamp waits little for it.
"""

import argparse
import asyncio
import collections
import json
import os
import re
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from aiohttp import web, web_protocol, web_server  # noqa: E402

import api as api_  # noqa: E402
import engine as eng  # noqa: E402
import model as mdl  # noqa: E402

now_ns = eng.now_ns
REQUEST_LINE = re.compile(rb"^[A-Z]{3,7} /")


# --- arrival stamping ----------------------------------------------------------------

class TimedHandler(web_protocol.RequestHandler):
    """aiohttp's protocol, keeping the time of each read that begins a request line (a
    FIFO: one connection's requests are handled in order) and of the latest read."""

    def data_received(self, data):
        t = now_ns()
        starts = self.__dict__.setdefault("ip_starts", collections.deque())
        if REQUEST_LINE.match(data):
            starts.append(t)
        self.__dict__["ip_last"] = t
        return super().data_received(data)


ARRIVAL_SOURCE = "data_received"
if getattr(web_server, "RequestHandler", None) is web_protocol.RequestHandler:
    web_server.RequestHandler = TimedHandler
else:
    ARRIVAL_SOURCE = "handler"


@web.middleware
async def arrival(request, handler):
    proto = getattr(request, "protocol", None) or getattr(request, "_protocol", None)
    starts = getattr(proto, "__dict__", {}).get("ip_starts")
    if starts:
        request["arrival_ns"] = starts.popleft()
    else:
        request["arrival_ns"] = getattr(proto, "__dict__", {}).get("ip_last") or now_ns()
    return await handler(request)


# --- ground truth ----------------------------------------------------------------------

class Truth:
    """Appends JSON lines, each in one write(2) on an O_APPEND descriptor."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else None
        self.lock = threading.Lock()

    def write(self, obj):
        if self.fd is None:
            return
        line = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        with self.lock:
            os.write(self.fd, line)


# --- setup -----------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0: any free port")
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--max-model-len", type=int, default=1024, help="prompt plus completion tokens, at most")
    p.add_argument("--max-batch", type=int, default=32, help="requests in one decode step, at most")
    p.add_argument("--max-prefill-tokens", type=int, default=4096, help="prompt tokens in one prefill step, at most")
    p.add_argument("--device", default="auto", help="cuda, cuda:N, cpu or auto (cuda when available)")
    p.add_argument("--dtype", default="auto", help="bfloat16, float16, float32 or auto (bfloat16 on cuda)")
    p.add_argument("--truth", default="", help="append ground-truth lines (testbed/truth format) to this file")
    p.add_argument("--cuda-graphs", action="store_true", help="decode steps replay CUDA graphs (as vLLM does)")
    p.add_argument("--sync", choices=("copy", "event"), default="copy",
                   help="the step's wait: copy (.tolist(): cuStreamSynchronize) or event (cuEventSynchronize)")
    p.add_argument("--count-kernels", action="store_true",
                   help="profile one prefill and one decode step, print what ran as JSON, exit")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    a = p.parse_args(argv)
    if a.max_batch < 1 or a.layers < 1 or a.max_model_len < 8:
        p.error("--max-batch and --layers must be positive and --max-model-len at least 8")
    return a


def build(args):
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    dtype = {"auto": torch.bfloat16 if device.type == "cuda" else torch.float32, "bfloat16": torch.bfloat16,
             "float16": torch.float16, "float32": torch.float32}[args.dtype]
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = mdl.Config(vocab=args.vocab, hidden=args.hidden, layers=args.layers, heads=args.heads,
                     max_len=args.max_model_len, slots=args.max_batch + 1)
    return mdl.TinyLM(cfg, device, dtype), device, dtype


def warm(model, device, max_batch):
    """Every shape class once, so allocator growth and lazy module loads happen before
    serving (a server inferprobe attaches to has long been warm)."""
    p = min(64, model.cfg.max_len // 2)
    for b in sorted({1, 2, max_batch}):
        toks = torch.randint(0, model.cfg.vocab, (b, p), device=device)
        lens = torch.full((b,), p, dtype=torch.long, device=device)
        slots = torch.arange(b, device=device) % model.scratch_slot
        model.prefill(toks, lens, slots).tolist()
        model.decode(toks[:, 0], lens, slots).tolist()


def main(argv):
    args = parse_args(argv)
    sys.setswitchinterval(0.0002)
    model, device, dtype = build(args)
    if args.count_kernels:
        import profile_steps
        print(json.dumps(profile_steps.run(model, device, args.max_batch)), flush=True)
        return 0
    warm(model, device, args.max_batch)
    graphs, graph_error = None, ""
    if args.cuda_graphs:
        if device.type != "cuda":
            print("--cuda-graphs needs a cuda device", file=sys.stderr)
            return 2
        try:
            graphs = eng.Graphs(model, args.max_batch)
        except Exception as e:  # serve eagerly, and say so in the info line
            graph_error = f"{type(e).__name__}: {e}"
            print("cuda graph capture failed, decoding eagerly: " + graph_error, file=sys.stderr, flush=True)
            torch.cuda.synchronize()
    truth = Truth(args.truth)
    engine = eng.Engine(model, device, args.max_batch, args.max_prefill_tokens, args.sync, truth, graphs)
    engine.start()
    name = f"tinylm-{args.layers}x{args.hidden}"
    api = api_.API(args, engine, name)
    app = web.Application(middlewares=[arrival], client_max_size=1 << 22)
    app.add_routes([web.get("/health", api.health), web.get("/v1/models", api.models),
                    web.post("/v1/completions", api.completions)])
    return asyncio.run(serve(app, api, args, device, dtype, model, graphs, graph_error))


async def serve(app, api, args, device, dtype, model, graphs, graph_error):
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    site = web.SockSite(runner, sock)
    await site.start()
    port = sock.getsockname()[1]
    api.ready = True
    info = {"pid": os.getpid(), "port": port, "device": str(device), "dtype": str(dtype).replace("torch.", ""),
            "params": model.cfg.params(), "layers": args.layers, "hidden": args.hidden, "max_batch": args.max_batch,
            "cuda_graphs": graphs is not None, "graph_sizes": graphs.sizes if graphs else [],
            "graph_error": graph_error, "sync": args.sync, "arrival": ARRIVAL_SOURCE,
            "torch": torch.__version__, "sdpa": mdl.HAS_SDPA}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    print("gpu testbed info " + json.dumps(info), flush=True)
    print(f"gpu testbed serving http://{args.host}:{port} pid={os.getpid()}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    api.engine.stop()
    await runner.cleanup()
    print(f"gpu testbed stopped: {api.engine.steps} steps, {api.engine.tokens} tokens", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
