"""The initializer families of Keras 3, Keras 2 (tf_keras) and TF1 as distributions over a tensor's values."""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

TRUNCATION_STD_FACTOR = 0.87962566103423978
"""Std of a standard normal truncated to [-2, 2]; Keras divides by it so VarianceScaling keeps its variance."""
TRUNCATION_Z = 2.0
"""TensorFlow, JAX and Keras truncate normals at two (pre-truncation) standard deviations."""

KIND_UNIFORM = "uniform"
KIND_NORMAL = "normal"
KIND_TRUNCATED = "truncated_normal"
KIND_ORTHOGONAL = "orthogonal"
KIND_CONSTANT = "constant"
KIND_IDENTITY = "identity"
RANDOM_KINDS = (KIND_UNIFORM, KIND_NORMAL, KIND_TRUNCATED, KIND_ORTHOGONAL)
DETERMINISTIC_KINDS = (KIND_CONSTANT, KIND_IDENTITY)

_NAMED_VARIANCE_SCALING: dict[tuple[float, str, str], str] = {
    (1.0, "fan_avg", KIND_UNIFORM): "glorot_uniform",
    (1.0, "fan_avg", KIND_TRUNCATED): "glorot_normal",
    (2.0, "fan_in", KIND_UNIFORM): "he_uniform",
    (2.0, "fan_in", KIND_TRUNCATED): "he_normal",
    (1.0, "fan_in", KIND_UNIFORM): "lecun_uniform",
    (1.0, "fan_in", KIND_TRUNCATED): "lecun_normal",
}
"""The named Keras initializers that are VarianceScaling presets: (scale, mode, distribution) -> name."""

LEGACY_TRUNCATED = "legacy_truncated_normal"
"""Keras < 2.2.5 VarianceScaling(distribution="normal"): truncated normal with std before truncation sqrt(scale/n)."""

_CATALOGUE_VARIANCE_SCALING: tuple[tuple[float, str, str], ...] = (
    (1.0, "fan_avg", "uniform"),
    (1.0, "fan_avg", "truncated_normal"),
    (2.0, "fan_in", "uniform"),
    (2.0, "fan_in", "truncated_normal"),
    (1.0, "fan_in", "uniform"),
    (1.0, "fan_in", "truncated_normal"),
    (2.0, "fan_out", "truncated_normal"),
    (2.0, "fan_out", "uniform"),
    (1.0, "fan_out", "uniform"),
    (1.0, "fan_out", "truncated_normal"),
    (1.0 / 3.0, "fan_in", "uniform"),
    (1.0, "fan_avg", LEGACY_TRUNCATED),
    (2.0, "fan_in", LEGACY_TRUNCATED),
    (1.0, "fan_in", LEGACY_TRUNCATED),
)
"""VarianceScaling settings tried when the initializer is unknown: the Keras presets first, then the
fan_out modes (Kaiming fan_out), scale 1/3 fan_in uniform (TF-Slim / PyTorch-style layers) and the
Keras < 2.2.5 normals (truncated at 2 * sqrt(scale / n), so 0.88x the std).

Untruncated normals whose scale comes from the fans (`variance_scaling(distribution="untruncated_normal")`)
are deliberately absent: trained weights settle into Gaussians of about that scale (He init works because
of it), and with no bound to stay inside, a trained kernel can match them perfectly. They are tested
only when the live model says it was configured with one."""

_CATALOGUE_FIXED: tuple[tuple[str, float, float], ...] = (
    (KIND_UNIFORM, 0.0, 0.05),
    (KIND_NORMAL, 0.0, 0.05),
    (KIND_TRUNCATED, 0.0, 0.05),
    (KIND_TRUNCATED, 0.0, 0.02),
    (KIND_NORMAL, 0.0, 0.02),
    (KIND_NORMAL, 0.0, 0.01),
    (KIND_TRUNCATED, 0.0, 0.01),
    (KIND_UNIFORM, 0.0, 0.1),
    (KIND_NORMAL, 0.0, 0.1),
    (KIND_TRUNCATED, 0.0, 0.1),
    (KIND_UNIFORM, 0.5, 0.5),
    (KIND_UNIFORM, 0.0, 1.0),
    (KIND_NORMAL, 0.0, 1.0),
    (KIND_TRUNCATED, 0.0, 1.0),
)
"""Initializers with a fixed scale: Keras' RandomUniform/RandomNormal/TruncatedNormal defaults (0.05),
BERT/GPT-style 0.02 and 0.01, and TF1's defaults (random_uniform_initializer is U(0, 1),
random_normal_initializer and truncated_normal_initializer have stddev 1)."""


INITIALIZER_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "kernel": ("kernel_initializer", "depthwise_initializer"),  # Keras 3 DepthwiseConv2D calls its weight kernel
    "recurrent_kernel": ("recurrent_initializer",),
    "depthwise_kernel": ("depthwise_initializer",),
    "pointwise_kernel": ("pointwise_initializer",),
    "bias": ("bias_initializer",),
    "embeddings": ("embeddings_initializer",),
    "gamma": ("gamma_initializer",),
    "beta": ("beta_initializer",),
    "moving_mean": ("moving_mean_initializer",),
    "moving_variance": ("moving_variance_initializer",),
}
"""Keras weight name -> the layer (or cell, or EinsumDense) attributes holding its initializer, first found wins.
`recurrent_kernel` is configured by `recurrent_initializer`, not `recurrent_kernel_initializer`."""


@dataclass(frozen=True)
class InitFamily:
    """One initializer as the distribution of every value of a tensor of a given shape."""

    name: str
    """What it is called in a verdict: `glorot_uniform`, `truncated_normal(0.02)`, `orthogonal`, ..."""
    kind: str
    """One of RANDOM_KINDS or DETERMINISTIC_KINDS."""
    loc: float = 0.0
    """Mean (uniform: centre of the interval; constant: the value)."""
    scale: float = 0.0
    """uniform: half-width; normal: std; truncated_normal: std before truncation; orthogonal/identity: gain."""
    fans: tuple[int, int] | None = None
    """(fan_in, fan_out) the scale was computed from, for the evidence."""

    @property
    def lower(self) -> float | None:
        """Smallest value the family can produce, None when unbounded."""
        if self.kind == KIND_UNIFORM:
            return self.loc - self.scale
        if self.kind == KIND_TRUNCATED:
            return self.loc - TRUNCATION_Z * self.scale
        return None

    @property
    def upper(self) -> float | None:
        """Largest value the family can produce, None when unbounded."""
        if self.kind == KIND_UNIFORM:
            return self.loc + self.scale
        if self.kind == KIND_TRUNCATED:
            return self.loc + TRUNCATION_Z * self.scale
        return None

    @property
    def std(self) -> float:
        """Standard deviation of one value (orthogonal: of one entry of the matrix view)."""
        if self.kind == KIND_UNIFORM:
            return self.scale / math.sqrt(3.0)
        if self.kind == KIND_TRUNCATED:
            return self.scale * TRUNCATION_STD_FACTOR
        return self.scale

    def standard_moments(self) -> tuple[float, float, float]:
        """(beta4, beta6, beta8): standardised even moments, for the kurtosis test."""
        if self.kind == KIND_UNIFORM:
            return 1.8, 27.0 / 7.0, 9.0
        if self.kind == KIND_TRUNCATED:
            return _truncated_moments()
        return 3.0, 15.0, 105.0

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The family's cumulative distribution function at x (random kinds except orthogonal)."""
        z = (np.asarray(x, dtype=np.float64) - self.loc) / self.scale
        if self.kind == KIND_UNIFORM:
            return np.clip((z + 1.0) / 2.0, 0.0, 1.0)
        if self.kind == KIND_TRUNCATED:
            lo = normal_cdf(np.array(-TRUNCATION_Z))
            return np.clip((normal_cdf(z) - lo) / (1.0 - 2.0 * lo), 0.0, 1.0)
        return normal_cdf(z)

    def density_at_bound(self) -> float:
        """Density just inside the bounds (bounded kinds), to judge how close the extremes must come."""
        if self.kind == KIND_UNIFORM:
            return 1.0 / (2.0 * self.scale)
        phi = math.exp(-0.5 * TRUNCATION_Z**2) / math.sqrt(2.0 * math.pi)
        mass = 1.0 - 2.0 * float(normal_cdf(np.array(-TRUNCATION_Z)))
        return phi / (mass * self.scale)


_erf = np.frompyfunc(math.erf, 1, 1)


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF, elementwise (numpy has no erf; math.erf is exact enough and fast for 4096 values)."""
    return 0.5 * (1.0 + np.asarray(_erf(np.asarray(z, dtype=np.float64) / math.sqrt(2.0)), dtype=np.float64))


def normal_sf(z: float) -> float:
    """Upper tail of the standard normal, accurate far out."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@functools.cache
def _truncated_moments() -> tuple[float, float, float]:
    """Standardised 4th, 6th and 8th moments of a normal cut at 2 sigma (computed once, on first use)."""
    z = np.linspace(-TRUNCATION_Z, TRUNCATION_Z, 200001)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    m2 = float((w * z**2).sum())
    return (
        float((w * z**4).sum()) / m2**2,
        float((w * z**6).sum()) / m2**3,
        float((w * z**8).sum()) / m2**4,
    )


def compute_fans(
    shape: tuple[int, ...],
    input_axes: list[int] | None = None,
    output_axes: list[int] | None = None,
) -> tuple[int, int]:
    """(fan_in, fan_out) exactly as Keras 3 `compute_fans` (and tf_keras / TF1 `_compute_fans`) computes them.

    Args:
        shape: the tensor's shape; conv kernels are (*receptive_field, in_channels, out_channels).
        input_axes: EinsumDense's input axes (Keras 3 passes them for MultiHeadAttention kernels).
        output_axes: EinsumDense's output axes.

    Returns:
        The fans.
    """
    if input_axes is not None and output_axes is not None:
        return (
            int(np.prod([shape[a] for a in input_axes], dtype=np.int64)),
            int(np.prod([shape[a] for a in output_axes], dtype=np.int64)),
        )
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive = int(np.prod(shape[:-2], dtype=np.int64))
    return int(shape[-2]) * receptive, int(shape[-1]) * receptive


def candidate_fans(shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """Every (fan_in, fan_out) Keras may have used for this shape.

    Conv fans always; for 3-D kernels also the two EinsumDense splits Keras 3 uses for
    MultiHeadAttention (query (d, heads, key_dim) is fan_in d; output (heads, key_dim, d) is fan_out d).
    """
    fans = [compute_fans(shape)]
    if len(shape) == 3:
        for split in (1, 2):
            fans.append((int(np.prod(shape[:split])), int(np.prod(shape[split:]))))
    return list(dict.fromkeys(fans))


def variance_scaling_family(
    scale: float, mode: str, distribution: str, fans: tuple[int, int], name: str | None = None
) -> InitFamily:
    """The VarianceScaling distribution for fans, as Keras computes it (fans floored at 1)."""
    fan_in, fan_out = fans
    if mode == "fan_in":
        n = max(1.0, fan_in)
    elif mode == "fan_out":
        n = max(1.0, fan_out)
    else:
        n = max(1.0, (fan_in + fan_out) / 2.0)
    variance = scale / n
    kind = _distribution_kind(distribution)
    if name is None:
        name = _NAMED_VARIANCE_SCALING.get((float(scale), mode, kind)) or (
            f"variance_scaling({_fmt(scale)},{mode},{'untruncated_normal' if kind == KIND_NORMAL else kind})"
        )
    if distribution == LEGACY_TRUNCATED:
        legacy = _NAMED_VARIANCE_SCALING.get((float(scale), mode, KIND_TRUNCATED))
        name = f"{legacy or name}(keras<2.2.5)"
        return InitFamily(name, KIND_TRUNCATED, 0.0, math.sqrt(variance), fans)
    if kind == KIND_UNIFORM:
        return InitFamily(name, kind, 0.0, math.sqrt(3.0 * variance), fans)
    if kind == KIND_TRUNCATED:
        return InitFamily(name, kind, 0.0, math.sqrt(variance) / TRUNCATION_STD_FACTOR, fans)
    return InitFamily(name, kind, 0.0, math.sqrt(variance), fans)


def _distribution_kind(distribution: str) -> str:
    # Keras 2 and TF1 accept "normal" as the old spelling of "truncated_normal".
    d = distribution.lower()
    if d in ("truncated_normal", "normal"):
        return KIND_TRUNCATED
    if d == "untruncated_normal":
        return KIND_NORMAL
    return KIND_UNIFORM


def fixed_family(kind: str, loc: float, scale: float) -> InitFamily:
    """RandomUniform / RandomNormal / TruncatedNormal with explicit parameters, named like Keras' config."""
    if kind == KIND_UNIFORM:
        name = f"random_uniform({_fmt(loc - scale)},{_fmt(loc + scale)})"
    else:
        prefix = "random_normal" if kind == KIND_NORMAL else "truncated_normal"
        name = f"{prefix}({_fmt(scale)})" if loc == 0 else f"{prefix}({_fmt(loc)},{_fmt(scale)})"
    return InitFamily(name, kind, float(loc), float(scale))


def orthogonal_family(shape: tuple[int, ...], gain: float = 1.0) -> InitFamily | None:
    """Keras' Orthogonal: the (prod(shape[:-1]), shape[-1]) view has orthonormal rows or columns times gain."""
    if len(shape) < 2:
        return None
    rows = int(np.prod(shape[:-1], dtype=np.int64))
    name = "orthogonal" if gain == 1.0 else f"orthogonal(gain={_fmt(gain)})"
    # Each entry of an orthonormal m x n (m >= n) matrix has variance 1/m.
    return InitFamily(name, KIND_ORTHOGONAL, 0.0, abs(gain) / math.sqrt(max(rows, shape[-1])))


def catalogue(shape: tuple[int, ...]) -> list[InitFamily]:
    """Every common initializer family for a tensor of this shape, the most common first, duplicates removed."""
    families: list[InitFamily] = []
    for fans in candidate_fans(shape):
        for scale, mode, distribution in _CATALOGUE_VARIANCE_SCALING:
            families.append(variance_scaling_family(scale, mode, distribution, fans))
    families.extend(fixed_family(kind, loc, scale) for kind, loc, scale in _CATALOGUE_FIXED)
    ortho = orthogonal_family(shape)
    if ortho is not None:
        families.append(ortho)
    seen: set[tuple[str, float, float]] = set()
    unique = []
    for family in families:
        key = (family.kind, round(family.loc, 12), round(family.scale, 12))
        if key not in seen:
            seen.add(key)
            unique.append(family)
    return unique


def unbounded_fan_families(shape: tuple[int, ...]) -> list[InitFamily]:
    """The untruncated VarianceScaling normals left out of the catalogue (see _CATALOGUE_VARIANCE_SCALING)."""
    families = [
        variance_scaling_family(scale, mode, "untruncated_normal", fans)
        for fans in candidate_fans(shape)
        for scale, mode in ((1.0, "fan_avg"), (2.0, "fan_in"), (1.0, "fan_in"), (2.0, "fan_out"))
    ]
    return list({round(f.scale, 12): f for f in reversed(families)}.values())[::-1]


def _cfg(config: dict[str, Any], key: str, default: Any) -> Any:
    value = config.get(key, default)
    if isinstance(value, dict) and "config" in value:  # a serialised scalar tensor / numpy value
        value = value["config"].get("value", default)
    return default if value is None else value


def _fmt(x: float) -> str:
    return f"{x:.6g}"


_PRESETS: dict[str, tuple[float, str, str]] = {name: key for key, name in _NAMED_VARIANCE_SCALING.items()}


def _parse_variance_scaling(name: str, config: dict[str, Any], shape: tuple[int, ...]) -> list[InitFamily]:
    if name in _PRESETS:
        scale, mode, distribution = _PRESETS[name]
    else:
        scale = float(_cfg(config, "scale", 1.0))
        mode = str(_cfg(config, "mode", "fan_in"))
        distribution = str(_cfg(config, "distribution", "truncated_normal"))
    input_axes, output_axes = config.get("input_axes"), config.get("output_axes")
    if input_axes is not None and output_axes is not None:
        fans_list = [compute_fans(shape, input_axes, output_axes)]
    else:
        fans_list = candidate_fans(shape)
    return [variance_scaling_family(scale, mode, distribution, fans) for fans in fans_list]


_ALIASES: dict[str, str] = {
    "zeros": "zeros",
    "zero": "zeros",
    "zeros_initializer": "zeros",
    "ones": "ones",
    "one": "ones",
    "ones_initializer": "ones",
    "constant": "constant",
    "constant_initializer": "constant",
    "randomuniform": "random_uniform",
    "random_uniform": "random_uniform",
    "uniform": "random_uniform",
    "random_uniform_initializer": "tf1_random_uniform",
    "randomnormal": "random_normal",
    "random_normal": "random_normal",
    "normal": "random_normal",
    "random_normal_initializer": "tf1_random_normal",
    "truncatednormal": "truncated_normal",
    "truncated_normal": "truncated_normal",
    "truncated_normal_initializer": "tf1_truncated_normal",
    "variancescaling": "variance_scaling",
    "variance_scaling": "variance_scaling",
    "variance_scaling_initializer": "variance_scaling",
    "glorotuniform": "glorot_uniform",
    "glorot_uniform": "glorot_uniform",
    "glorot_uniform_initializer": "glorot_uniform",
    "xavier_uniform": "glorot_uniform",
    "glorotnormal": "glorot_normal",
    "glorot_normal": "glorot_normal",
    "glorot_normal_initializer": "glorot_normal",
    "xavier_normal": "glorot_normal",
    "heuniform": "he_uniform",
    "he_uniform": "he_uniform",
    "henormal": "he_normal",
    "he_normal": "he_normal",
    "lecununiform": "lecun_uniform",
    "lecun_uniform": "lecun_uniform",
    "lecunnormal": "lecun_normal",
    "lecun_normal": "lecun_normal",
    "orthogonal": "orthogonal",
    "orthogonalinitializer": "orthogonal",
    "orthogonal_initializer": "orthogonal",
    "identity": "identity",
    "identityinitializer": "identity",
    "identity_initializer": "identity",
}


def parse_initializer(initializer: dict[str, Any] | str, shape: tuple[int, ...]) -> list[InitFamily] | None:
    """The families a serialised Keras / TF1 initializer draws from for this shape.

    Args:
        initializer: `{"class_name": ..., "config": {...}}` as Keras serialises it, or a Keras
            identifier string (`"glorot_uniform"`).
        shape: the tensor's shape (for the fans).

    Returns:
        One family, or one per plausible fan split (3-D kernels without EinsumDense axes);
        None when the initializer is not one this module knows.
    """
    config: dict[str, Any]
    if isinstance(initializer, str):
        class_name, config = initializer, {}
    else:
        class_name = str(initializer.get("class_name", ""))
        config = initializer.get("config") or {}
    key = _ALIASES.get(class_name.lower())
    if key is None:
        return None
    if key == "zeros":
        return [InitFamily("zeros", KIND_CONSTANT, 0.0)]
    if key == "ones":
        return [InitFamily("ones", KIND_CONSTANT, 1.0)]
    if key == "constant":
        value = _cfg(config, "value", 0.0)
        if not isinstance(value, (int, float, np.integer, np.floating)):
            return None
        return [constant_family(float(value))]
    if key == "identity":
        gain = float(_cfg(config, "gain", 1.0))
        return [InitFamily("identity" if gain == 1.0 else f"identity(gain={_fmt(gain)})", KIND_IDENTITY, 0.0, gain)]
    if key == "orthogonal":
        family = orthogonal_family(shape, float(_cfg(config, "gain", 1.0)))
        return None if family is None else [family]
    if key in ("random_uniform", "tf1_random_uniform"):
        lo = float(_cfg(config, "minval", -0.05 if key == "random_uniform" else 0.0))
        # TF1's RandomUniform records maxval=None, meaning 1 for floats.
        tf1_default = key == "tf1_random_uniform" or ("maxval" in config and config["maxval"] is None)
        hi = float(_cfg(config, "maxval", 1.0 if tf1_default else 0.05))
        return [fixed_family(KIND_UNIFORM, (lo + hi) / 2.0, (hi - lo) / 2.0)]
    if key in ("random_normal", "truncated_normal", "tf1_random_normal", "tf1_truncated_normal"):
        default_std = 1.0 if key.startswith("tf1_") else 0.05
        kind = KIND_NORMAL if key.endswith("random_normal") else KIND_TRUNCATED
        return [fixed_family(kind, float(_cfg(config, "mean", 0.0)), float(_cfg(config, "stddev", default_std)))]
    return _parse_variance_scaling(key, config, shape)


def constant_name(value: float) -> str:
    """`zeros`, `ones` or `constant(value)`: the name of constant_family(value)."""
    if value == 0.0:
        return "zeros"
    if value == 1.0:
        return "ones"
    return f"constant({_fmt(value)})"


def constant_family(value: float) -> InitFamily:
    """Zeros, Ones or Constant(value)."""
    if value == 0.0:
        return InitFamily("zeros", KIND_CONSTANT, 0.0)
    if value == 1.0:
        return InitFamily("ones", KIND_CONSTANT, 1.0)
    return InitFamily(constant_name(value), KIND_CONSTANT, value)


@functools.lru_cache(maxsize=4096)
def is_round_constant(value: float) -> bool:
    """True for constants people configure (0, 1, -1, 0.1, 0.01, 1e-3, 0.5, 2, ...), not for a value training left.

    A value counts as round when it has at most two significant decimal digits once stored as float32.
    """
    if value == 0.0 or not math.isfinite(value):
        return value == 0.0
    v32 = _as_float32(value)
    if v32 == 0.0:  # a value below float32's range, stored as zero
        return True
    if v32.is_integer() and abs(v32) < _FLOAT32_EXACT_INTEGERS:
        # Every integer below 2**24 is a float32, so rounding to two digits gives v32 back exactly when v32 has at
        # most two significant digits (tests/stats/test_initializers.py checks this against the general rule).
        digits = abs(int(v32))
        while digits % 10 == 0:
            digits //= 10
        return digits < 100
    for digits in (1, 2):
        rounded = float(f"{v32:.{digits}g}")
        if _as_float32(rounded) == v32:
            return True
    return False


_FLOAT32 = struct.Struct("<f")
_FLOAT32_EXACT_INTEGERS = float(1 << 24)


def _as_float32(value: float) -> float:
    """float(np.float32(value)) at a third of its cost: round to the nearest float32, inf beyond its range."""
    try:
        return float(_FLOAT32.unpack(_FLOAT32.pack(value))[0])
    except OverflowError:
        return math.copysign(math.inf, value)
