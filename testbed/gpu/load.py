"""A small load generator for OpenAI-style completion servers (asyncio + aiohttp).

    load.py --url http://127.0.0.1:8000 [--rate R] [--concurrency C] [--count N | --duration S]
            [--prompt-tokens MIN:MAX] [--output-tokens MIN:MAX] [--stream-fraction F]
            [--usage-fraction F] [--seed S] [--json FILE]

Arrivals are Poisson at --rate requests/s (0: closed loop, each of --concurrency workers
sends its next request when the last ends); at most --concurrency are in flight. Prompts
are ASCII strings, one token per byte on the GPU testbed; lengths are drawn uniformly from
the ranges. Streamed requests ask for usage in the last chunk with probability
--usage-fraction. It prints a summary (requests, errors, tokens/s, client-side TTFT and
TPOT) and with --json writes it as JSON.
"""

import argparse
import asyncio
import json
import random
import sys
import time

import aiohttp

ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def span(s):
    lo, _, hi = s.partition(":")
    lo, hi = int(lo), int(hi or lo)
    if lo < 1 or hi < lo:
        raise argparse.ArgumentTypeError(f"range {s!r}: want MIN:MAX with 1 <= MIN <= MAX")
    return lo, hi


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--path", default="/v1/completions")
    p.add_argument("--model", default="tinylm")
    p.add_argument("--rate", type=float, default=0.0, help="requests/s, Poisson (0: closed loop)")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight, at most")
    p.add_argument("--count", type=int, default=0, help="requests to send (0: until --duration)")
    p.add_argument("--duration", type=float, default=0.0, help="seconds to send for (0: until --count)")
    p.add_argument("--prompt-tokens", type=span, default=(16, 128))
    p.add_argument("--output-tokens", type=span, default=(8, 64))
    p.add_argument("--stream-fraction", type=float, default=1.0)
    p.add_argument("--usage-fraction", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request, at most")
    p.add_argument("--json", default="", help="write the summary here as JSON")
    a = p.parse_args(argv)
    if a.count <= 0 and a.duration <= 0:
        p.error("give --count or --duration")
    if a.concurrency < 1 or a.rate < 0:
        p.error("--concurrency must be positive and --rate not negative")
    return a


class Stats:
    def __init__(self):
        self.sent = self.ok = self.failed = self.tokens = self.chunks = 0
        self.status = {}
        self.ttft, self.tpot, self.e2e = [], [], []
        self.errors = []


async def one(session, args, rng, stats):
    plen = rng.randint(*args.prompt_tokens)
    olen = rng.randint(*args.output_tokens)
    stream = rng.random() < args.stream_fraction
    body = {"model": args.model, "prompt": "".join(rng.choice(ALPHABET) for _ in range(plen)),
            "max_tokens": olen, "stream": stream}
    if stream and rng.random() < args.usage_fraction:
        body["stream_options"] = {"include_usage": True}
    stats.sent += 1
    t0 = time.monotonic()
    first = last = None
    tokens = 0
    try:
        async with session.post(args.url + args.path, json=body) as resp:
            stats.status[resp.status] = stats.status.get(resp.status, 0) + 1
            if resp.status != 200:
                await resp.read()
                stats.failed += 1
                return
            if stream:
                usage = None
                async for raw in resp.content:
                    line = raw.strip()
                    if not line.startswith(b"data: "):
                        continue
                    data = line[6:]
                    if data == b"[DONE]":
                        break
                    obj = json.loads(data)
                    if obj.get("usage"):
                        usage = obj["usage"]["completion_tokens"]
                    if any(c.get("text") for c in obj.get("choices", [])):
                        now = time.monotonic()
                        first = first or now
                        last = now
                        tokens += 1
                        stats.chunks += 1
                if usage is not None and usage != tokens:
                    stats.errors.append(f"usage says {usage} tokens, {tokens} content chunks came")
            else:
                obj = await resp.json()
                tokens = obj["usage"]["completion_tokens"]
                first = last = time.monotonic()
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError) as e:
        stats.failed += 1
        if len(stats.errors) < 10:
            stats.errors.append(f"{type(e).__name__}: {e}")
        return
    end = time.monotonic()
    stats.ok += 1
    stats.tokens += tokens
    stats.e2e.append(end - t0)
    if stream and first is not None:
        stats.ttft.append(first - t0)
        if tokens > 1:
            stats.tpot.append((last - first) / (tokens - 1))


def pct(v, p):
    if not v:
        return None
    s = sorted(v)
    return s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]


async def run(args):
    rng = random.Random(args.seed)
    stats = Stats()
    limit = asyncio.Semaphore(args.concurrency)
    conn = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    start = time.monotonic()
    deadline = start + args.duration if args.duration > 0 else None

    def more():
        if args.count and stats.sent >= args.count:
            return False
        return deadline is None or time.monotonic() < deadline

    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        tasks = set()

        async def guarded():
            try:
                await one(session, args, rng, stats)
            finally:
                limit.release()

        while more():
            await limit.acquire()
            if not more():
                limit.release()
                break
            t = asyncio.ensure_future(guarded())
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            if args.rate > 0:
                await asyncio.sleep(rng.expovariate(args.rate))
        if tasks:
            await asyncio.gather(*tasks)
    elapsed = time.monotonic() - start
    return summary(args, stats, elapsed)


def summary(args, s, elapsed):
    ms = lambda v: None if v is None else round(v * 1e3, 3)  # noqa: E731
    return {"url": args.url, "rate": args.rate, "concurrency": args.concurrency, "elapsed_s": round(elapsed, 3),
            "sent": s.sent, "ok": s.ok, "failed": s.failed, "status": {str(k): v for k, v in sorted(s.status.items())},
            "completion_tokens": s.tokens, "tokens_per_s": round(s.tokens / elapsed, 1) if elapsed > 0 else 0,
            "requests_per_s": round(s.ok / elapsed, 2) if elapsed > 0 else 0,
            "ttft_p50_ms": ms(pct(s.ttft, .5)), "ttft_p95_ms": ms(pct(s.ttft, .95)),
            "tpot_p50_ms": ms(pct(s.tpot, .5)), "tpot_p95_ms": ms(pct(s.tpot, .95)),
            "e2e_p50_ms": ms(pct(s.e2e, .5)), "errors": s.errors[:10]}


def main(argv):
    args = parse_args(argv)
    out = asyncio.run(run(args))
    print(f"load: {out['ok']} ok, {out['failed']} failed of {out['sent']} in {out['elapsed_s']} s; "
          f"{out['completion_tokens']} tokens, {out['tokens_per_s']} tokens/s, {out['requests_per_s']} requests/s; "
          f"TTFT p50 {out['ttft_p50_ms']} ms p95 {out['ttft_p95_ms']} ms; TPOT p50 {out['tpot_p50_ms']} ms; "
          f"statuses {out['status']}", flush=True)
    for e in out["errors"]:
        print("load error:", e, file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0 if out["ok"] > 0 and not out["errors"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
