"""Model factory and data for the worked depth-transfer example (docs/user_models.md)."""

from infdepth.examples import MLPResNet, vector_task


def mlp(depth, width):
    return MLPResNet(4, width, depth)          # relu, two-layer blocks, no norm


def mlp_data():
    return vector_task(32, 4)
