"""What one prefill step and one decode step of TinyLM run, as torch.profiler (CUPTI) sees
it: kernels executed, copies, and the CUDA runtime and driver calls made, by name. It is
the reference for inferprobe's launch counts: if the profiler sees K kernels in a decode
step and inferprobe counts far fewer launches, the launches do not reach the libcuda
symbols inferprobe probes. Runs in its own process (server.py --count-kernels), so CUPTI
never sits in the server inferprobe records.
"""

import collections
import json
import os
import tempfile

import torch
from torch.profiler import ProfilerActivity, profile


def _trace(fn, cuda):
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts) as prof:
        fn()
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        prof.export_chrome_trace(path)
        with open(path) as f:
            data = json.load(f)
        events = data.get("traceEvents", []) if isinstance(data, dict) else data  # old torch: a bare list
    finally:
        os.unlink(path)
    cats = collections.Counter()
    calls = collections.Counter()
    kernels = collections.Counter()
    for e in events:
        if e.get("ph") != "X":
            continue
        cat = e.get("cat", "")
        cats[cat] += 1
        if cat in ("cuda_runtime", "cuda_driver"):
            calls[e.get("name", "")] += 1
        elif cat == "kernel":
            kernels[e.get("name", "")] += 1
    return {"kernels": cats.get("kernel", 0), "memcpy": cats.get("gpu_memcpy", 0), "memset": cats.get("gpu_memset", 0),
            "calls": dict(calls.most_common()), "top_kernels": dict(kernels.most_common(10))}


def run(model, device, max_batch):
    cuda = device.type == "cuda"
    b = max(1, min(4, max_batch))
    p = min(64, model.cfg.max_len // 2)
    toks = torch.randint(0, model.cfg.vocab, (b, p), device=device)
    lens = torch.full((b,), p, dtype=torch.long, device=device)
    slots = torch.arange(b, device=device)

    def prefill():
        model.prefill(toks, lens, slots).tolist()

    def decode():
        model.decode(toks[:, 0], lens, slots).tolist()

    for _ in range(2):
        prefill()
        decode()
    return {"batch": b, "prompt": p, "device": str(device), "torch": torch.__version__,
            "prefill": _trace(prefill, cuda), "decode": _trace(decode, cuda)}
