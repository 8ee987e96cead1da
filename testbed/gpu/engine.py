"""The engine thread: continuous batching over TinyLM, one GPU step at a time.

A simple scheduler like vLLM V0's: requests wait in a FIFO; each iteration admits waiting
requests while the batch has room (--max-batch) and the prefill token budget allows, and
runs one step: a prefill step of the newly admitted requests if there are any, else one
batched decode step of every running request. Every step ends with a device-to-host copy
of the sampled tokens (`.tolist()`: cuMemcpyDtoHAsync and cuStreamSynchronize in the
driver), or with --sync event a non-blocking copy into pinned memory and
cuEventSynchronize: the blocking wait inferprobe ends its steps at. Inputs go up with
non-blocking copies from pinned memory, so no other wait falls inside a step.

Each step's ground truth (testbed/truth's step line) is taken in this thread: start just
before the forward pass (after the inputs were queued), end right after the wait
returned. Tokens go to the event loop once per step, through call_soon_threadsafe.
"""

import collections
import queue
import threading
import time
import traceback

import torch


def now_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class Work:
    """One admitted request, as the engine sees it."""

    def __init__(self, rid, prompt, max_tokens, loop, deliver):
        self.id, self.prompt, self.max_tokens = rid, prompt, max_tokens
        # deliver(token, step_index, done, error=None) runs on loop
        self.loop, self.deliver = loop, deliver
        self.slot = None
        self.pos = 0  # where the next decode token goes
        self.last = None  # the last token generated
        self.generated = 0
        self.cancelled = False
        self.scheduled_ns = 0
        self.prefill_start_ns = 0
        self.prefill_step = None


class Staging:
    """Pinned host buffers and their device twins for a step's inputs: the host side is
    filled in Python, the device side written by a non-blocking copy. A buffer is reused
    only after the step that read it has ended in its blocking wait."""

    NAMES = ("tokens", "lengths", "positions", "slots")

    def __init__(self, device, size):
        self.device = device
        self.cuda = device.type == "cuda"
        self.host, self.dev = {}, {}
        if self.cuda:  # allocated up front: no cudaHostAlloc inside a served step
            for name in self.NAMES:
                self.host[name] = torch.empty(size, dtype=torch.long, pin_memory=True)
                self.dev[name] = torch.empty(size, dtype=torch.long, device=device)

    def put(self, name, values, shape=None):
        n = len(values)
        if not self.cuda:
            t = torch.tensor(values, dtype=torch.long)
            return t.view(shape) if shape else t
        h, d = self.host[name][:n], self.dev[name][:n]
        h.copy_(torch.tensor(values, dtype=torch.long))
        d.copy_(h, non_blocking=True)
        return d.view(shape) if shape else d


class Graphs:
    """CUDA graphs of the decode step, one per padded batch size (vLLM's capture sizes)."""

    def __init__(self, model, max_batch):
        self.model = model
        self.sizes = sorted({min(s, max_batch) for s in (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128) if s <= max_batch} | {max_batch})
        dev = model.cos.device
        n = self.sizes[-1]
        self.tokens = torch.zeros(n, dtype=torch.long, device=dev)
        self.positions = torch.zeros(n, dtype=torch.long, device=dev)
        self.slots = torch.full((n,), model.scratch_slot, dtype=torch.long, device=dev)
        self.graphs, self.outs = {}, {}
        pool = None
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                for b in self.sizes:
                    model.decode(self.tokens[:b], self.positions[:b], self.slots[:b])
        torch.cuda.current_stream().wait_stream(side)
        for b in reversed(self.sizes):
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g, pool=pool):
                self.outs[b] = model.decode(self.tokens[:b], self.positions[:b], self.slots[:b])
            pool = g.pool()
            self.graphs[b] = g
        torch.cuda.synchronize()

    def run(self, tokens, positions, slots):
        b = tokens.shape[0]
        size = next(s for s in self.sizes if s >= b)
        self.tokens[:b].copy_(tokens)
        self.positions[:b].copy_(positions)
        self.slots[:b].copy_(slots)
        if size > b:
            self.tokens[b:size].zero_()
            self.positions[b:size].zero_()
            self.slots[b:size].fill_(self.model.scratch_slot)
        self.graphs[size].replay()
        return self.outs[size][:b]


class Engine(threading.Thread):
    def __init__(self, model, device, max_batch, prefill_budget, sync, truth, graphs=None):
        super().__init__(name="engine", daemon=True)
        self.model, self.device = model, device
        self.max_batch, self.prefill_budget, self.sync = max_batch, prefill_budget, sync
        self.truth, self.graphs = truth, graphs
        self.inbox = queue.SimpleQueue()
        self.waiting = collections.deque()
        self.running = []
        self.free = list(range(model.scratch_slot))[::-1]  # the scratch slot is never handed out
        self.staging = Staging(device, max(model.cfg.max_len * max_batch, prefill_budget, 1))
        self.index = 0
        self.stopping = False
        self.pid = None
        self.tid = 0
        self.steps = self.tokens = 0
        if sync == "event" and device.type == "cuda":
            self.host_out = torch.empty(max_batch, dtype=torch.long, pin_memory=True)
            self.event = torch.cuda.Event()

    def submit(self, work):
        self.inbox.put(work)

    def stop(self):
        self.stopping = True
        self.inbox.put(None)

    def run(self):
        import os
        self.pid, self.tid = os.getpid(), threading.get_native_id()
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        while not self.stopping:
            self.take(block=not self.running and not self.waiting)
            self.running = [w for w in self.running if not self.drop_if_cancelled(w)]
            self.waiting = collections.deque(w for w in self.waiting if not w.cancelled)
            new = self.admit()
            kind, batch = ("prefill", new) if new else ("decode", list(self.running))
            if not batch:
                continue
            try:
                self.step(kind, batch)
            except Exception as e:  # a failed step fails its requests, not the server
                traceback.print_exc()
                self.fail(batch, f"{kind} step failed: {e}")

    def take(self, block):
        try:
            w = self.inbox.get(timeout=0.5) if block else self.inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            if w is not None:
                self.waiting.append(w)
            try:
                w = self.inbox.get_nowait()
            except queue.Empty:
                return

    def fail(self, batch, msg):
        ids = {w.id for w in batch}
        self.running = [w for w in self.running if w.id not in ids]
        for w in batch:
            if w.slot is not None:
                self.free.append(w.slot)
                w.slot = None
            w.loop.call_soon_threadsafe(w.deliver, None, None, True, msg)

    def drop_if_cancelled(self, w):
        if w.cancelled:
            self.free.append(w.slot)
        return w.cancelled

    def admit(self):
        new, budget = [], 0
        while self.waiting and len(self.running) + len(new) < self.max_batch and self.free:
            w = self.waiting[0]
            if new and budget + len(w.prompt) > self.prefill_budget:
                break
            self.waiting.popleft()
            w.slot = self.free.pop()
            w.scheduled_ns = now_ns()
            budget += len(w.prompt)
            new.append(w)
        return new

    def forward(self, kind, batch):
        st = self.staging
        if kind == "prefill":
            p = max(len(w.prompt) for w in batch)
            flat = []
            for w in batch:
                flat.extend(w.prompt + [0] * (p - len(w.prompt)))
            tokens = st.put("tokens", flat, (len(batch), p))
            lengths = st.put("lengths", [len(w.prompt) for w in batch])
            slots = st.put("slots", [w.slot for w in batch])
            start = now_ns()
            return start, self.model.prefill(tokens, lengths, slots)
        tokens = st.put("tokens", [w.last for w in batch])
        positions = st.put("positions", [w.pos for w in batch])
        slots = st.put("slots", [w.slot for w in batch])
        start = now_ns()
        if self.graphs is not None:
            return start, self.graphs.run(tokens, positions, slots)
        return start, self.model.decode(tokens, positions, slots)

    def wait(self, out):
        """The step's blocking wait: the sampled tokens to the host."""
        if self.sync == "event" and self.device.type == "cuda":
            n = out.shape[0]
            self.host_out[:n].copy_(out, non_blocking=True)
            self.event.record()
            self.event.synchronize()
            return self.host_out[:n].tolist()
        return out.tolist()

    def step(self, kind, batch):
        idx = self.index
        self.index += 1
        start, out = self.forward(kind, batch)
        toks = self.wait(out)
        end = now_ns()
        self.steps += 1
        self.tokens += len(batch)
        done_ids, items = [], []
        for w, t in zip(batch, toks):
            if kind == "prefill":
                w.prefill_start_ns, w.prefill_step = start, idx
                w.pos = len(w.prompt)
                self.running.append(w)
            else:
                w.pos += 1
            w.last = t
            w.generated += 1
            done = w.generated >= w.max_tokens or w.pos >= self.model.cfg.max_len
            if done:
                done_ids.append(w.id)
            items.append((w, t, done))
        if done_ids:
            gone = set(done_ids)
            for w in self.running:
                if w.id in gone:
                    self.free.append(w.slot)
            self.running = [w for w in self.running if w.id not in gone]
        prompt = sum(len(w.prompt) for w in batch) if kind == "prefill" else 0
        self.truth.write({"kind": "step", "index": idx, "start_ns": start, "end_ns": end, "step_kind": kind,
                          "requests": [w.id for w in batch], "batch_size": len(batch),
                          "tokens": prompt if kind == "prefill" else len(batch),
                          "prefill_tokens": prompt, "decode_tokens": 0 if kind == "prefill" else len(batch),
                          "graph_launches": 1 if kind == "decode" and self.graphs else 0,
                          "pid": self.pid, "tid": self.tid})
        by_loop = collections.defaultdict(list)
        for w, t, done in items:
            by_loop[w.loop].append((w, t, idx, done))
        for loop, its in by_loop.items():
            loop.call_soon_threadsafe(_deliver_all, its)


def _deliver_all(items):
    for w, t, idx, done in items:
        w.deliver(t, idx, done)
