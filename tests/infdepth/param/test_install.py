"""Installing a parameterization on a user model (infdepth/param)."""

import math

import pytest
import torch
from torch import nn

from infdepth.examples import MLPResNet, ModelA, PreLNTransformer
from infdepth.param import BranchMultiplierError, RoleError, infer_roles, parameterize

X = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def test_roles_inferred_for_the_examples():
    r = infer_roles(PreLNTransformer(4, 8, 2))
    assert r["embed.weight"].role == "input" and r["head.weight"].role == "readout"
    assert r["blocks.1.attn.q.weight"].role == "branch_in"
    assert r["blocks.1.attn.o.weight"].role == "branch_out"
    assert r["blocks.0.mlp.fc2.weight"].pattern == "blocks.*.mlp.fc2"
    assert r["blocks.0.mlp.fc2.weight"].block == 0
    assert infer_roles(ModelA(4, 8, 3))["blocks.2.W.weight"].role == "hidden"


def test_multipliers_and_lrs_are_the_presets():
    """Against the monomials evaluated by hand: depth-muP, n = 16, L = 4."""
    m = ModelA(4, 16, 4, block="two_layer").double()
    pm = parameterize(m, "depth_mup", example_input=X)
    rep = pm.report().set_index("parameter")
    assert rep.loc["U.weight", "multiplier_requested"] == pytest.approx(1 / 2)       # 1/sqrt(d)
    assert rep.loc["blocks.0.W1.weight", "multiplier_requested"] == pytest.approx(16 ** -0.5)
    assert rep.loc["blocks.0.W2.weight", "multiplier_requested"] == pytest.approx(
        4 ** -0.5 * 16 ** -0.5)
    assert rep.loc["v.weight", "multiplier_requested"] == pytest.approx(1 / 16)
    # achieved, measured where each output lands (the block's increment, the stream entering
    # the first block, the output): equal to the requested ones in this norm-free model
    lands = rep["role"] != "branch_in"
    assert (rep.loc[lands, "multiplier_achieved"]
            - rep.loc[lands, "multiplier_requested"]).abs().max() < 1e-9
    assert rep.loc[~lands, "multiplier_achieved"].isna().all()      # acts through phi: no ratio
    assert rep.loc["blocks.3.W2.weight", "lr_sgd"] == pytest.approx(16)
    assert rep.loc["blocks.3.W2.weight", "lr_adam"] == pytest.approx(16 ** -0.5 * 4 ** -0.5)
    assert rep.loc["blocks.0.W1.weight", "std_achieved"] == pytest.approx(1.0, abs=0.15)


def test_lr_factors_are_one_at_the_base_shape():
    m = MLPResNet(4, 16, 8).double()
    pm = parameterize(m, "completep", base_width=16, base_depth=8)
    for opt in ("sgd", "adam"):
        assert all(math.isclose(f, 1.0) for f in pm.lr_factors(opt).values())
    pm2 = parameterize(MLPResNet(4, 32, 16).double(), "completep", base_width=16, base_depth=8)
    f = pm2.lr_factors("sgd")
    assert f["blocks.0.W1.weight"] == pytest.approx(2 * 2)      # n L: both doubled
    assert pm2.lr_factors("adam")["blocks.0.W1.weight"] == pytest.approx(2 ** -0.5)


def test_optimizer_groups():
    pm = parameterize(ModelA(4, 8, 2).double(), "mup")
    opt = pm.optimizer(0.1, "adamw", weight_decay=0.0)
    assert isinstance(opt, torch.optim.AdamW)
    assert {g["name"] for g in opt.param_groups} == {n for n, _ in pm.model.named_parameters()}


class _PostLN(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.W = nn.Linear(n, n, bias=False)
        self.ln = nn.LayerNorm(n, elementwise_affine=False)

    def forward(self, h):
        return self.ln(h + self.W(torch.tanh(h)))


class _BranchEndsInNorm(_PostLN):
    def forward(self, h):
        return h + self.ln(self.W(torch.tanh(h)))


@pytest.mark.parametrize("block", [_PostLN, _BranchEndsInNorm])
def test_normalized_away_multiplier_is_an_error(block):
    model = nn.Sequential()
    model.inp = nn.Linear(4, 8, bias=False)
    model.blocks = nn.ModuleList(block(8) for _ in range(3))
    model.out = nn.Linear(8, 1, bias=False)
    model.forward = lambda x: model.out(_run(model.blocks, model.inp(x)))
    with pytest.raises(BranchMultiplierError, match="normalizes away"):
        parameterize(model.double(), "depth_mup", example_input=X)


def _run(blocks, h):
    for b in blocks:
        h = b(h)
    return h


def test_parameter_without_role_is_named():
    m = ModelA(4, 8, 2)
    m.scale = nn.Parameter(torch.ones(3))
    with pytest.raises(RoleError, match="'scale' has no role"):
        parameterize(m, "completep")
    pm = parameterize(ModelA(4, 8, 2), "completep", roles={"blocks.*.W": "hidden"})
    assert pm.roles["blocks.0.W.weight"].role == "hidden"


def test_state_dict_round_trip_keeps_multipliers(tmp_path):
    """Parameterize, train one step, save; a fresh model parameterized the same way and loaded
    gives the same multipliers and outputs; loading into another depth's parameterization of
    the same shapes is refused."""
    torch.manual_seed(0)
    m = MLPResNet(4, 16, 4).double()
    pm = parameterize(m, "completep", example_input=X)
    opt = pm.optimizer(0.1, "sgd")
    loss = m(X).square().mean()
    loss.backward()
    opt.step()
    torch.save(m.state_dict(), tmp_path / "m.pt")
    fresh = MLPResNet(4, 16, 4).double()
    pf = parameterize(fresh, "completep")
    pf.load_state_dict(torch.load(tmp_path / "m.pt"))
    assert pf.installed() == pytest.approx(pm.installed())
    assert torch.allclose(fresh(X), m(X))
    other = parameterize(MLPResNet(4, 16, 4).double(), "completep", depth=8)
    with pytest.raises(ValueError, match="multipliers differ"):
        other.load_state_dict(torch.load(tmp_path / "m.pt"))


class _NormedEmbedding(nn.Module):
    """Model A with a LayerNorm right after its input layer, which undoes the input
    multiplier."""

    def __init__(self, d, n, L):
        super().__init__()
        self.inner = MLPResNet(d, n, L)
        self.ln = nn.LayerNorm(n, elementwise_affine=False)

    def forward(self, x):
        m = self.inner
        h = self.ln(m.embed(x))
        for b in m.blocks:
            h = b(h)
        return m.head(torch.relu(h)).squeeze(-1)


def test_achieved_multiplier_is_measured_not_read_back():
    """A norm after the input layer undoes its multiplier: the achieved input multiplier is 1,
    not the requested 1/sqrt(d) * m_U; the blocks' and readout's still match."""
    m = _NormedEmbedding(4, 16, 3).double()
    pm = parameterize(m, "depth_mup", example_input=X)
    rep = pm.report().set_index("parameter")
    emb = rep.loc["inner.embed.weight"]
    assert emb["multiplier_requested"] == pytest.approx(0.5)
    assert emb["multiplier_installed"] == pytest.approx(0.5)
    assert emb["multiplier_achieved"] == pytest.approx(1.0, abs=1e-3)
    w2 = rep.loc["inner.blocks.0.W2.weight"]
    assert w2["multiplier_achieved"] == pytest.approx(w2["multiplier_requested"], rel=1e-9)
    head = rep.loc["inner.head.weight"]
    assert head["multiplier_achieved"] == pytest.approx(head["multiplier_requested"], rel=1e-9)
