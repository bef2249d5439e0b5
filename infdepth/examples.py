"""Example user models for :mod:`infdepth.param` and the depth coord check (docs/user_models.md).

* :class:`ModelA` -- Models A1 (one-layer blocks) and A2 (two-layer blocks) of docs/theory.md
  s2, s5 as plain ``nn.Module`` s: ``h_0 = U x``, ``h_l = h_{l-1} + W_l phi(h_{l-1})`` (A1) or
  ``h_{l-1} + W2_l phi(W1_l phi(h_{l-1}))`` (A2), ``f = v . phi(h_L)``; every scale factor comes
  from the parameterization's multipliers, so under a preset they are the engine's networks.
* :class:`MLPResNet` -- a pre-activation MLP-block ResNet (optionally pre-LN), hidden width
  ``expansion * width``.
* :class:`PreLNTransformer` -- a small pre-LN transformer (attention with ``1/d_head`` scores,
  MLP), mean-pooled readout; :func:`sequence_task` a tiny synthetic regression task for it.

Models hold no biases and their norms no gains, so every parameter has a derived exponent.
"""

from __future__ import annotations

import torch
from torch import nn

from .numerics.activations import phi as _phi


class _Act(nn.Module):
    def __init__(self, act: str):
        super().__init__()
        self.act = act

    def forward(self, x):
        return _phi(self.act, x)


class OneLayerBlock(nn.Module):
    def __init__(self, n: int, act: str):
        super().__init__()
        self.act = _Act(act)
        self.W = nn.Linear(n, n, bias=False)

    def forward(self, h):
        return h + self.W(self.act(h))


class TwoLayerBlock(nn.Module):
    def __init__(self, n: int, act: str, hidden: int | None = None, norm: bool = False):
        super().__init__()
        self.norm = nn.LayerNorm(n, elementwise_affine=False) if norm else nn.Identity()
        self.act = _Act(act)
        self.W1 = nn.Linear(n, hidden or n, bias=False)
        self.W2 = nn.Linear(hidden or n, n, bias=False)

    def forward(self, h):
        return h + self.W2(self.act(self.W1(self.act(self.norm(h)))))


class ModelA(nn.Module):
    """Model A1 (``block="one_layer"``) or A2 (``"two_layer"``) of docs/theory.md s2, s5."""

    def __init__(self, d_in: int, width: int, depth: int, *, block: str = "one_layer",
                 act: str = "tanh", readout: str = "phi"):
        super().__init__()
        self.act, self.readout_kind = act, readout
        self.U = nn.Linear(d_in, width, bias=False)
        make = {"one_layer": lambda: OneLayerBlock(width, act),
                "two_layer": lambda: TwoLayerBlock(width, act)}[block]
        self.blocks = nn.ModuleList(make() for _ in range(depth))
        self.v = nn.Linear(width, 1, bias=False)

    def forward(self, x):
        h = self.U(x)
        for b in self.blocks:
            h = b(h)
        r = _phi(self.act, h) if self.readout_kind == "phi" else h
        return self.v(r).squeeze(-1)


class MLPResNet(nn.Module):
    """Pre-activation MLP-block ResNet: ``h + W2 phi(W1 phi(norm(h)))``; ``norm=True`` puts a
    gain-free LayerNorm at the start of each branch (pre-LN)."""

    def __init__(self, d_in: int, width: int, depth: int, *, d_out: int = 1,
                 expansion: int = 1, act: str = "relu", norm: bool = False):
        super().__init__()
        self.act = act
        self.embed = nn.Linear(d_in, width, bias=False)
        self.blocks = nn.ModuleList(TwoLayerBlock(width, act, expansion * width, norm)
                                    for _ in range(depth))
        self.head = nn.Linear(width, d_out, bias=False)

    def forward(self, x):
        h = self.embed(x)
        for b in self.blocks:
            h = b(h)
        return self.head(_phi(self.act, h)).squeeze(-1)


class Attention(nn.Module):
    def __init__(self, n: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(n, n, bias=False)
        self.k = nn.Linear(n, n, bias=False)
        self.v = nn.Linear(n, n, bias=False)
        self.o = nn.Linear(n, n, bias=False)

    def forward(self, x):
        B, T, n = x.shape
        H = self.heads
        split = lambda t: t.view(B, T, H, n // H).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / (n // H), dim=-1)   # muP: 1/d_head
        return self.o((att @ v).transpose(1, 2).reshape(B, T, n))


class MLP(nn.Module):
    def __init__(self, n: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(n, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, n, bias=False)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class TransformerBlock(nn.Module):
    def __init__(self, n: int, heads: int, expansion: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(n, elementwise_affine=False)
        self.attn = Attention(n, heads)
        self.ln2 = nn.LayerNorm(n, elementwise_affine=False)
        self.mlp = MLP(n, expansion * n)

    def forward(self, h):
        h = h + self.attn(self.ln1(h))
        return h + self.mlp(self.ln2(h))


class PreLNTransformer(nn.Module):
    """Pre-LN transformer on sequences ``(B, T, d_in)``: linear token embedding, ``depth``
    blocks (attention + MLP, two residual branches each), final LayerNorm, mean over tokens,
    linear readout."""

    def __init__(self, d_in: int, width: int, depth: int, *, heads: int = 2, expansion: int = 2,
                 d_out: int = 1):
        super().__init__()
        self.embed = nn.Linear(d_in, width, bias=False)
        self.blocks = nn.ModuleList(TransformerBlock(width, heads, expansion)
                                    for _ in range(depth))
        self.ln_f = nn.LayerNorm(width, elementwise_affine=False)
        self.head = nn.Linear(width, d_out, bias=False)

    def forward(self, x):
        h = self.embed(x)
        for b in self.blocks:
            h = b(h)
        return self.head(self.ln_f(h).mean(1)).squeeze(-1)


def sequence_task(n_examples: int = 16, T: int = 6, d_in: int = 4, seed: int = 0):
    """``(X, y)``: random token sequences and a fixed target (the sign-balanced mean over tokens
    of a random tanh feature plus one pairwise token interaction), float64."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n_examples, T, d_in, generator=g, dtype=torch.float64)
    a = torch.randn(d_in, generator=g, dtype=torch.float64)
    y = torch.tanh(X @ a).mean(1) + (X[:, 0] * X[:, -1]).sum(-1) / d_in
    return X, (y - y.mean()) / y.std()


def vector_task(n_examples: int = 16, d_in: int = 4, seed: int = 0):
    """``(X, y)``: Gaussian inputs and a tanh teacher target, float64."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n_examples, d_in, generator=g, dtype=torch.float64)
    a = torch.randn(d_in, generator=g, dtype=torch.float64)
    y = torch.tanh(X @ a)
    return X, (y - y.mean()) / y.std()
