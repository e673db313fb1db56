"""What a stored variable is for (kernel, bias, BatchNorm gamma, ...), learnt from its names or its layer.

A role with a constant initializer decides a verdict at any size: Keras, tf_keras and TF1 start every
bias, BatchNorm beta and moving mean at exactly 0, and every BatchNorm gamma and moving variance at
exactly 1, unless the layer was configured otherwise. Values that are not exactly that constant have moved.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

from ckptdiff.artifact import Artifact, Group, LayerRecord, TensorEntry


class Role(enum.StrEnum):
    """The part a variable plays in its layer."""

    KERNEL = "kernel"
    RECURRENT_KERNEL = "recurrent_kernel"
    DEPTHWISE_KERNEL = "depthwise_kernel"
    POINTWISE_KERNEL = "pointwise_kernel"
    EMBEDDINGS = "embeddings"
    BIAS = "bias"
    GAMMA = "gamma"
    BETA = "beta"
    MOVING_MEAN = "moving_mean"
    MOVING_VARIANCE = "moving_variance"


ROLE_CONSTANTS: dict[Role, float] = {
    Role.BIAS: 0.0,
    Role.GAMMA: 1.0,
    Role.BETA: 0.0,
    Role.MOVING_MEAN: 0.0,
    Role.MOVING_VARIANCE: 1.0,
}
"""The default initial value of each constant-initialised role (Keras 3, tf_keras and TF1/slim alike)."""

NON_TRAINABLE_ROLES = (Role.MOVING_MEAN, Role.MOVING_VARIANCE)
"""Roles no optimizer updates: BatchNorm's moving statistics follow the batches, not gradients."""

_NAMES: dict[str, Role] = {
    "kernel": Role.KERNEL,
    "weights": Role.KERNEL,  # TF1 slim / tf.contrib.layers
    "recurrent_kernel": Role.RECURRENT_KERNEL,
    "depthwise_kernel": Role.DEPTHWISE_KERNEL,
    "depthwise_weights": Role.DEPTHWISE_KERNEL,
    "pointwise_kernel": Role.POINTWISE_KERNEL,
    "pointwise_weights": Role.POINTWISE_KERNEL,
    "embeddings": Role.EMBEDDINGS,
    "bias": Role.BIAS,
    "biases": Role.BIAS,
    "gamma": Role.GAMMA,
    "beta": Role.BETA,
    "moving_mean": Role.MOVING_MEAN,
    "moving_variance": Role.MOVING_VARIANCE,
}

_KERAS3_VARS: dict[str, tuple[Role, ...]] = {
    "dense": (Role.KERNEL, Role.BIAS),
    "einsum_dense": (Role.KERNEL, Role.BIAS),
    "conv1d": (Role.KERNEL, Role.BIAS),
    "conv2d": (Role.KERNEL, Role.BIAS),
    "conv3d": (Role.KERNEL, Role.BIAS),
    "conv1d_transpose": (Role.KERNEL, Role.BIAS),
    "conv2d_transpose": (Role.KERNEL, Role.BIAS),
    "conv3d_transpose": (Role.KERNEL, Role.BIAS),
    "depthwise_conv2d": (Role.KERNEL, Role.BIAS),
    "separable_conv2d": (Role.DEPTHWISE_KERNEL, Role.POINTWISE_KERNEL, Role.BIAS),
    "embedding": (Role.EMBEDDINGS,),
    "batch_normalization": (Role.GAMMA, Role.BETA, Role.MOVING_MEAN, Role.MOVING_VARIANCE),
    "layer_normalization": (Role.GAMMA, Role.BETA),
}
"""Keras 3 layer (snake-case class) -> the roles of its `vars/N`, in the order its build() creates them,
with every optional variable present (use_bias, center, scale). Fewer stored vars than roles is resolved
below only where the order still decides (see _keras3_roles)."""

_SUFFIX = re.compile(r"_\d+$")
_VARS_KEY = re.compile(r"^(?P<layer>.+)/vars/(?P<index>\d+)$")
_TF2_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def role_from_name(name: str) -> Role | None:
    """The role a variable's name or key spells (`dense/bias:0`, `.../gamma/.ATTRIBUTES/VARIABLE_VALUE`)."""
    name = name.removesuffix(_TF2_SUFFIX)
    last = name.rsplit("/", 1)[-1].split(":", 1)[0].lstrip("_")
    return _NAMES.get(last)


def _layer_class(record: LayerRecord) -> str:
    if record.class_name:
        from ckptdiff.formats.keras3_layout import to_snake_case

        return to_snake_case(record.class_name)
    return _SUFFIX.sub("", record.name.rsplit("/", 1)[-1])


def _keras3_roles(stem: str, count: int) -> tuple[Role | None, ...]:
    roles = _KERAS3_VARS.get(stem)
    if roles is None:
        return (None,) * count
    if count == len(roles):
        return roles
    if stem == "batch_normalization" and count in (2, 3):  # center/scale off: the moving stats stay last
        return (None,) * (count - 2) + (Role.MOVING_MEAN, Role.MOVING_VARIANCE)
    if count == len(roles) - 1 and roles[-1] == Role.BIAS:  # use_bias=False
        return roles[:-1]
    return (None,) * count


def artifact_roles(artifact: Artifact, entries: Sequence[TensorEntry]) -> list[Role | None]:
    """The role of each entry (None where neither its names nor its layer say), model variables only."""
    by_vars: dict[str, Role | None] = {}
    for record in artifact.layers or ():
        vars_keys = [k for k in record.weight_keys if _VARS_KEY.match(k)]
        if vars_keys:
            by_vars.update(zip(vars_keys, _keras3_roles(_layer_class(record), len(vars_keys))))
    roles: list[Role | None] = []
    for entry in entries:
        role = None
        if entry.group == Group.MODEL:
            role = by_vars.get(entry.key)
            names = dict.fromkeys((entry.model_path, *entry.paths, entry.key)) if entry.paths else (entry.key,)
            for name in names:
                if role is not None:
                    break
                role = role_from_name(name)
        roles.append(role)
    return roles
