"""A small decoder-only transformer with random weights and a slotted KV cache.

Llama-shaped (RMSNorm, rotary positions, grouped attention heads, SwiGLU MLP), built from
a config, never trained: no weights are downloaded. Plain PyTorch, so it runs under any
torch from 1.13 (Debian 12) to 2.x (the GPU machine's), on CUDA or on the CPU.

The KV cache holds one row ("slot") per running request, each max_len positions long; the
last slot is scratch, written by the padding entries of a CUDA-graph batch. Prefill runs a
batch of new prompts (right-padded to the longest) and writes their keys and values into
their slots; decode runs one token for each running request at its own position and
attends over its slot up to that position. Both return the next token of each request
(greedy), as a device tensor: the caller copies it to the host, which is the step's
blocking wait.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class Config:
    def __init__(self, vocab=8192, hidden=512, layers=4, heads=8, kv_heads=None, ffn=None,
                 max_len=512, slots=17):
        if hidden % heads:
            raise ValueError(f"hidden {hidden} is not a multiple of heads {heads}")
        self.vocab, self.hidden, self.layers, self.heads = vocab, hidden, layers, heads
        self.kv_heads = kv_heads or heads
        if heads % self.kv_heads:
            raise ValueError(f"heads {heads} is not a multiple of kv heads {self.kv_heads}")
        self.head_dim = hidden // heads
        if self.head_dim % 2:
            raise ValueError(f"head size {self.head_dim} is odd: rotary positions need an even one")
        self.ffn = ffn or 4 * hidden
        self.max_len, self.slots = max_len, slots

    def params(self):
        kv = self.kv_heads * self.head_dim
        per_layer = self.hidden * (self.hidden + 2 * kv) + self.hidden * self.hidden + 3 * self.hidden * self.ffn + 2 * self.hidden
        return 2 * self.vocab * self.hidden + self.layers * per_layer + self.hidden


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.to(x.dtype) * self.weight


def rotate(x, cos, sin):
    """Rotary positions on x [..., T, heads, head_dim] with cos/sin [..., T, 1, head_dim/2]."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


def attention(q, k, v, mask):
    """q [B,H,Tq,D], k/v [B,H,Tk,D], mask [B,1,Tq,Tk] bool (True: attend)."""
    if HAS_SDPA:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.matmul(torch.softmax(scores.float(), dim=-1).to(q.dtype), v)


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        kv = cfg.kv_heads * cfg.head_dim
        self.attn_norm = RMSNorm(cfg.hidden)
        self.qkv = nn.Linear(cfg.hidden, cfg.hidden + 2 * kv, bias=False)
        self.out = nn.Linear(cfg.hidden, cfg.hidden, bias=False)
        self.mlp_norm = RMSNorm(cfg.hidden)
        self.gate_up = nn.Linear(cfg.hidden, 2 * cfg.ffn, bias=False)
        self.down = nn.Linear(cfg.ffn, cfg.hidden, bias=False)

    def forward(self, x, cos, sin, cache_k, cache_v, slots, positions, mask, decode):
        cfg = self.cfg
        b, t, _ = x.shape
        qkv = self.qkv(self.attn_norm(x))
        q, k, v = qkv.split([cfg.hidden, cfg.kv_heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim], dim=-1)
        q = rotate(q.view(b, t, cfg.heads, cfg.head_dim), cos, sin)
        k = rotate(k.view(b, t, cfg.kv_heads, cfg.head_dim), cos, sin)
        v = v.view(b, t, cfg.kv_heads, cfg.head_dim)
        # The cache is flat, [slots * max_len, kvH, D]: row slot * max_len + position.
        # index_copy_ writes without a host sync, so decode can be captured in a CUDA graph.
        if decode:
            rows = slots * cfg.max_len + positions
            cache_k.index_copy_(0, rows, k[:, 0])
            cache_v.index_copy_(0, rows, v[:, 0])
            shape = (cfg.slots, cfg.max_len, cfg.kv_heads, cfg.head_dim)
            k, v = cache_k.view(shape)[slots], cache_v.view(shape)[slots]  # [B, max_len, kvH, D]
        else:
            rows = (slots[:, None] * cfg.max_len + torch.arange(t, device=x.device)[None, :]).reshape(-1)
            cache_k.index_copy_(0, rows, k.reshape(b * t, cfg.kv_heads, cfg.head_dim))
            cache_v.index_copy_(0, rows, v.reshape(b * t, cfg.kv_heads, cfg.head_dim))
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if cfg.kv_heads != cfg.heads:
            rep = cfg.heads // cfg.kv_heads
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        a = attention(q, k, v, mask).transpose(1, 2).reshape(b, t, cfg.hidden)
        x = x + self.out(a)
        gate, up = self.gate_up(self.mlp_norm(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


class TinyLM(nn.Module):
    def __init__(self, cfg, device, dtype, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.hidden)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.layers))
        self.norm = RMSNorm(cfg.hidden)
        self.head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)
        self.to(device=device, dtype=dtype)
        self.eval()
        shape = (cfg.slots * cfg.max_len, cfg.kv_heads, cfg.head_dim)
        self.cache_k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.layers)]
        self.cache_v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.layers)]
        inv = 1.0 / (10000 ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim))
        ang = torch.outer(torch.arange(cfg.max_len, dtype=torch.float32), inv)
        self.cos = ang.cos().to(device=device, dtype=dtype)
        self.sin = ang.sin().to(device=device, dtype=dtype)
        self.positions = torch.arange(cfg.max_len, device=device)

    @property
    def scratch_slot(self):
        return self.cfg.slots - 1

    def _run(self, x, cos, sin, slots, positions, mask, decode):
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, self.cache_k[i], self.cache_v[i], slots, positions, mask, decode)
        return x

    @torch.no_grad()
    def prefill(self, tokens, lengths, slots):
        """tokens [B,P] (right-padded), lengths [B], slots [B], all on the device: the
        first generated token of each prompt [B]."""
        b, p = tokens.shape
        pos = self.positions[:p]
        cos, sin = self.cos[pos][None, :, None, :], self.sin[pos][None, :, None, :]
        mask = (pos[None, :] <= pos[:, None])[None, None].expand(b, 1, p, p)
        x = self._run(self.embed(tokens), cos, sin, slots, None, mask, decode=False)
        last = x[torch.arange(b, device=tokens.device), lengths - 1]
        return self.head(self.norm(last)).argmax(-1)

    @torch.no_grad()
    def decode(self, tokens, positions, slots):
        """tokens [B], positions [B] (where each token goes), slots [B]: the next token of
        each request [B]. Shapes are static for a given B (CUDA-graph capturable)."""
        cos = self.cos[positions][:, None, None, :]
        sin = self.sin[positions][:, None, None, :]
        mask = (self.positions[None, :] <= positions[:, None])[:, None, None, :]
        x = self._run(self.embed(tokens)[:, None, :], cos, sin, slots, positions, mask, decode=True)
        return self.head(self.norm(x[:, 0])).argmax(-1)
