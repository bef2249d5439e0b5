"""Finite-network training engine for the [NFD] ResNets (docs/theory.md s2, s4, s5).

Batched over an ensemble of seeds, hand-written backward pass with three backward modes
(``reused``, ``independent``, ``coupling_removed``), low-rank storage of the SGD updates.

    from infdepth.numerics.engine import A1Config, train_a1
    cfg = A1Config(n=256, L=16, K=10, eta=0.5, parameterization="depth_mup", act="tanh",
                   mode="reused", n_seeds=8)
    res = train_a1(cfg, X_train, y_train, X_eval)     # tensors; res.to_frame() is tidy

Activations come from the numerics registry (``infdepth.numerics.activations``; ``phi``,
``dphi`` and ``ACTIVATION_NAMES`` are re-exported here). Modules: ``rng`` (seeding scheme),
``lowrank`` (W^0 + low-rank updates, backward modes), ``decomposition`` (reused-weight
coupling, docs/theory.md s4), ``blocks`` (block types: one-layer, two-layer), ``model_a1`` (config,
model, passes), ``training`` (K-step loop, records).
"""

from ..activations import ACTIVATION_NAMES, dphi, phi
from .blocks import BLOCK_NAMES, BLOCK_TYPES, BlockType, OneLayerBlock, TwoLayerBlock
from .decomposition import COUPLING_DEFINITIONS
from .lowrank import BACKWARD_MODES, LowRankStack
from .model_a1 import BATCHINGS, READOUTS, A1Config, A1Model
from .rng import engine_stream
from .training import A1Result, train_a1, train_a1_shared

__all__ = [
    "A1Config", "A1Model", "A1Result", "train_a1", "train_a1_shared", "BlockType", "OneLayerBlock", "TwoLayerBlock",
    "LowRankStack", "ACTIVATION_NAMES", "BACKWARD_MODES", "BLOCK_NAMES", "BLOCK_TYPES",
    "BATCHINGS", "READOUTS", "COUPLING_DEFINITIONS", "phi", "dphi", "engine_stream",
]
