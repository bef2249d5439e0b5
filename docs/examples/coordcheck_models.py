"""Model factories and data for the worked coord-check example (docs/user_models.md)."""

from infdepth.examples import MLPResNet, PreLNTransformer, sequence_task, vector_task


def mlp(depth, width):
    return MLPResNet(4, width, depth, act="tanh")


def mlp_relu(depth, width):
    return MLPResNet(4, width, depth, act="relu")


def mlp_data():
    return vector_task(16, 4)


def transformer(depth, width):
    return PreLNTransformer(4, width, depth, heads=2, expansion=2)


def transformer_data():
    return sequence_task(16, 6, 4)
