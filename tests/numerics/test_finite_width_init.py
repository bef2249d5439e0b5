"""Batched finite-width Monte Carlo at init vs autograd, vs the recursion, and purity."""

import numpy as np
import pytest
import torch

import infdepth.numerics.finite_width_init as fwi
from infdepth.numerics.inputs import input_covariance, input_matrix
from infdepth.numerics.kernel_recursion import depth_recursion
from infdepth.seeding import generator, record_draws

X = input_matrix()


def _plain_network(act_fn, n, L, seed):
    """One seed, plain torch + autograd: g_0 = n d f / d h_0 with f = v . phi(h_L) / n."""
    g = generator("a1_init", 0, seed)
    d = X.shape[1]
    U = torch.randn(n, d, generator=g, dtype=torch.float64)
    Ws = [torch.randn(n, n, generator=g, dtype=torch.float64) for _ in range(L)]
    v = torch.randn(n, 1, generator=g, dtype=torch.float64)
    h0 = (U @ torch.as_tensor(X).T / d ** 0.5).requires_grad_(True)
    h = h0
    for W in Ws:
        h = h + (n * L) ** -0.5 * W @ act_fn(h)
    f = (v * act_fn(h)).sum(0) / n   # one output per input
    (grad,) = torch.autograd.grad(f.sum(), h0)
    feat = act_fn(h).detach()
    return feat.T @ feat / n, ((n * grad) ** 2).mean(0)


@pytest.mark.parametrize("act,fn", [("tanh", torch.tanh), ("relu", torch.relu),
                                    ("linear", lambda x: x)])
def test_matches_autograd_per_seed(act, fn):
    n, L = 12, 3
    res = fwi.sample_init_moments(act, X, n, L, range(3))
    for s in range(3):
        K, G = _plain_network(fn, n, L, s)
        np.testing.assert_allclose(res.output[s], K.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(res.grad[s], G.numpy(), rtol=1e-10)


def test_seed_purity_and_chunking(monkeypatch):
    full = fwi.sample_init_moments("erf", X, 16, 2, range(6))
    part = fwi.sample_init_moments("erf", X, 16, 2, [3, 4])
    np.testing.assert_array_equal(full.output[3:5], part.output)
    monkeypatch.setattr(fwi, "CHUNK_BYTES", 1)  # one seed per chunk
    chunked = fwi.sample_init_moments("erf", X, 16, 2, range(6))
    np.testing.assert_array_equal(full.grad, chunked.grad)


def test_linear_statistics_are_unbiased():
    """Linear phi: E[h_L^T h_L / n] equals the recursion exactly at any width (no 1/n bias)."""
    n, L, S = 8, 3, 4000
    res = fwi.sample_init_moments("linear", X, n, L, range(S))
    ref = depth_recursion("linear", input_covariance(), L)
    mean, se = res.output.mean(0), res.output.std(0) / np.sqrt(S)
    assert np.all(np.abs(mean - ref.output) < 4.5 * se)


def test_tanh_kernel_converges_to_recursion():
    """Stated tolerance: |mean - limit| <= 0.5/n (bias, measured c ~ 0.26) + 4.5 standard errors."""
    n, L, S = 64, 4, 600
    res = fwi.sample_init_moments("tanh", X, n, L, range(S))
    ref = depth_recursion("tanh", input_covariance(), L)
    mean, se = res.output.mean(0), res.output.std(0) / np.sqrt(S)
    assert np.all(np.abs(mean - ref.output) <= 0.5 / n * np.abs(ref.output) + 4.5 * se)


def test_float32_runs_and_agrees():
    r64 = fwi.sample_init_moments("tanh", X, 16, 2, range(2))
    r32 = fwi.sample_init_moments("tanh", X, 16, 2, range(2), dtype=torch.float32)
    np.testing.assert_allclose(r32.output, r64.output, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs,msg", [({"n": 0}, "width n must be a positive integer"),
                                        ({"L": -1}, "depth L must be a positive integer"),
                                        ({"act": "gelu"}, "allowed: relu, tanh, erf, linear")])
def test_bad_input(kwargs, msg):
    args = {"act": "tanh", "n": 8, "L": 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        fwi.sample_init_moments(args["act"], X, args["n"], args["L"], range(1))


def test_bad_rng_device():
    with pytest.raises(ValueError, match="rng_device 'gpu'; allowed: cpu, native"):
        fwi.sample_init_moments("tanh", X, 8, 2, range(1), rng_device="gpu")


#: float32 against the float64 CPU run: the float32 rounding of the same weights, 1e-4 relative
#: (as the CPU float32 test above)
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_on_device_matches_cpu(device, dtype, tol):
    """The draws are made on the CPU and moved (rng_device="cpu"): every device computes from
    the CPU run's weights."""
    ref = fwi.sample_init_moments("tanh", X, 24, 3, range(5))
    out = fwi.sample_init_moments("tanh", X, 24, 3, range(5), device=device, dtype=dtype)
    for got, want in ((out.output, ref.output), (out.sigma, ref.sigma), (out.grad, ref.grad)):
        assert np.linalg.norm(got - want) / np.linalg.norm(want) < tol


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_native_draws_match_statistically():
    """Draws on the GPU's own generator (other numbers): the law is the same."""
    res = fwi.sample_init_moments("tanh", X, 64, 4, range(400), device="cuda",
                                  rng_device="native")
    ref = depth_recursion("tanh", input_covariance(), 4)
    mean, se = res.output.mean(0), res.output.std(0) / np.sqrt(400)
    assert np.all(np.abs(mean - ref.output) <= 0.5 / 64 * np.abs(ref.output) + 4.5 * se)


def test_init_moments_on_several_activations_draw_once():
    x = input_matrix()
    single = {a: fwi.sample_init_moments(a, x, 12, 3, range(4)) for a in ("tanh", "relu")}
    with record_draws() as drawn:
        both = fwi.sample_init_moments_by_act(("tanh", "relu", "tanh"), x, 12, 3, range(4))
    assert list(both) == ["tanh", "relu"]
    assert sorted(k[2] for k in drawn) == [0, 1, 2, 3] and set(drawn.values()) == {1}
    for a in single:
        for f in ("sigma", "output", "grad"):
            np.testing.assert_array_equal(getattr(both[a], f), getattr(single[a], f))
    with pytest.raises(ValueError, match="at least one activation"):
        fwi.sample_init_moments_by_act((), x, 12, 3, range(4))


def test_weights_drawn_on_parallel_threads_are_the_sequential_weights():
    """Seeds of a chunk are drawn side by side on torch's threads (infdepth.seeding.draw_each)
    when each seed's weights are large enough: the same bits as one thread."""
    n, L = 64, 4            # (L n^2 + ...) numbers per seed: above the parallel threshold
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fwi._draw_chunk([5, 0, 3], n, L, X.shape[1], 0, "cpu")
        torch.set_num_threads(2)
        two = fwi._draw_chunk([5, 0, 3], n, L, X.shape[1], 0, "cpu")
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(one, two))
    g = generator("a1_init", 0, 3)
    torch.randn(n, X.shape[1], generator=g, dtype=torch.float64)
    assert torch.equal(two[1][0, 2], torch.randn(n, n, generator=g, dtype=torch.float64))


def test_weights_drawn_into_a_reused_buffer_are_the_fresh_weights():
    """A chunk drawn into a shared buffer (after a larger chunk, over stale numbers) holds the
    numbers of one drawn into tensors of its own, in contiguous 64-byte aligned tensors; a point
    whose chunks share one buffer gives the statistics of one chunk per seed."""
    n, L, d = 5, 3, X.shape[1]
    store = torch.full((sum(fwi._chunk_sizes(4, n, L, d)),), float("nan"), dtype=torch.float64)
    fwi._draw_chunk([9, 8, 7, 6], n, L, d, 0, "cpu", store)
    got = fwi._draw_chunk([5, 0, 3], n, L, d, 0, "cpu", store)
    want = fwi._draw_chunk([5, 0, 3], n, L, d, 0, "cpu")
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.stride() == b.stride() and torch.equal(a, b)
        assert a.data_ptr() % 64 == 0 and a.untyped_storage().data_ptr() == store.data_ptr()


def test_chunks_sharing_a_buffer_give_the_statistics_of_separate_chunks(monkeypatch):
    one = {}
    monkeypatch.setattr(fwi, "CHUNK_BYTES", 1)               # one seed per chunk
    for s in range(5):
        r = fwi.sample_init_moments_by_act(("tanh", "relu"), X, 6, 2, [s])
        for a, res in r.items():
            one.setdefault(a, []).append(res)
    monkeypatch.setattr(fwi, "CHUNK_BYTES", 2 * 3 * 6 * 6 * 8)  # chunks of 2, 2 and 1 seeds
    both = fwi.sample_init_moments_by_act(("tanh", "relu"), X, 6, 2, range(5))
    for a in both:
        for f in ("sigma", "output", "grad"):
            np.testing.assert_array_equal(getattr(both[a], f),
                                          np.concatenate([getattr(r, f) for r in one[a]]))
