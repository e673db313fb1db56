"""Classify a stored tensor as model weight, optimizer state or bookkeeping, from its key alone."""

from __future__ import annotations

import re

from ckptdiff.artifact import Group

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

_BOOKKEEPING = re.compile(
    r"^(_CHECKPOINTABLE_OBJECT_GRAPH"
    r"|save_counter(/.*)?"
    r"|global_step"
    r"|.*/\.ATTRIBUTES/OBJECT_CONFIG_JSON"
    r"|keras_api/.*"
    r")$"
)
# TF1 optimizer slot suffixes (Adam, Momentum, RMSProp, Adagrad, Ftrl, Adadelta) and hyper-variables.
_OPTIMIZER_TF1 = re.compile(
    r"(^|/)(beta1_power|beta2_power|learning_rate|iterations|decay|rho|momentum)$"
    r"|/(Adam|Adam_1|Momentum|RMSProp|RMSProp_1|Adagrad|AdagradDA|Ftrl|Ftrl_1|Adadelta|Adadelta_1|Nadam|Nadam_1)$"
)


def classify_key(key: str) -> Group:
    """Return the group of a checkpoint key (TF1 names, TF2 object keys, H5 paths).

    Args:
        key: the storage key.

    Returns:
        `bookkeeping` for the object graph, save counters and global steps; `optimizer` for
        slot variables, optimizer hyper-variables and anything under an `optimizer` root;
        `model` otherwise. Readers that know better (an object graph that also reaches the tensor
        from the model) override this.
    """
    if _BOOKKEEPING.match(key):
        return Group.BOOKKEEPING
    if ".OPTIMIZER_SLOT" in key:
        return Group.OPTIMIZER
    first = key.split("/", 1)[0]
    if first in ("optimizer", "optimizer_weights", "training_config"):
        return Group.OPTIMIZER
    if _OPTIMIZER_TF1.search(key):
        return Group.OPTIMIZER
    return Group.MODEL
