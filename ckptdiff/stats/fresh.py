"""Per-tensor verdict: do these values look freshly initialised, trained, or can the numbers not tell?

In order: non-finite values (`inconclusive`, match `nonfinite`); equality with the live model's own
initial value; exact patterns (constants, identity, the LSTM forget-gate bias); then, for float tensors
of at least MIN_VALUES values, the families the tensor could come from (the configured one alone when
the live model names it, else the catalogue of Keras 3, Keras 2 and TF1 families) and a random-matrix
test of the matrix view that needs no family at all. See ckptdiff/stats/fit.py for the tests.

Score: a number in [0, 1], the strength of the evidence for the verdict.
  1.0        exact: equal to the model's own initial value; or (trained) values the configured
             deterministic initializer cannot produce;
  0.99       an exact pattern: a constant, an identity matrix, the LSTM forget bias;
  0.5 - 0.99 statistical. `fresh`: 1 - u/2, where u < 1 is the worst test's statistic as a fraction of its
             rejection limit (0.99 = every test far inside its limit; orthogonal inits score near 0.95
             because the Gram test is exact). `trained`: 1 - 1/(2u), where u > 1 is the decisive failed
             statistic over its limit (u = 2 gives 0.75, a spectral outlier 10x the limit 0.95);
  0.0        inconclusive.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ckptdiff.artifact import TensorEntry
from ckptdiff.records import quick_init
from ckptdiff.stats.bounds import (
    BASIS_BOUNDS,
    BASIS_DISTRIBUTION,
    BASIS_SPECTRAL,
    describe_exclusions,
    exclude_all,
    survivors,
)
from ckptdiff.stats.fit import (
    FitCheck,
    TensorValues,
    describe_fit,
    fit_family,
    relative_eps,
    screen_family,
    spectral_check,
)
from ckptdiff.stats.initializers import (
    KIND_CONSTANT,
    KIND_IDENTITY,
    KIND_NORMAL,
    KIND_ORTHOGONAL,
    KIND_TRUNCATED,
    KIND_UNIFORM,
    TRUNCATION_STD_FACTOR,
    InitFamily,
    catalogue,
    constant_name,
    is_round_constant,
    orthogonal_family,
    parse_initializer,
    unbounded_fan_families,
)
from ckptdiff.stats.moments import FiniteStats, TensorStats
from ckptdiff.stats.roles import ROLE_CONSTANTS, Role
from ckptdiff.stats.sampling import read_all, read_flat
from ckptdiff.stats.spectral import MP_MIN_SIDE


class Verdict(enum.StrEnum):
    """Whether a tensor's values look freshly initialised."""

    FRESH = "fresh"
    TRAINED = "trained"
    INCONCLUSIVE = "inconclusive"


VERDICT_FRESH = Verdict.FRESH
VERDICT_TRAINED = Verdict.TRAINED
VERDICT_INCONCLUSIVE = Verdict.INCONCLUSIVE
VERDICTS = tuple(Verdict)
MATCH_NONFINITE = "nonfinite"
MATCH_LIVE_VALUE = "live_initial_value"
MATCH_LSTM_BIAS = "zeros_with_unit_forget_bias"

BASIS_CONSTANT = "constant"
BASIS_INITIALIZER_CONFIG = "initializer-config"
BASIS_FRESH_VALUE = "fresh-value"
BASIS_OPTIMIZER_SLOTS = "optimizer-slots"
BASIS_HISTORY = "history"
BASES = (
    BASIS_CONSTANT,
    BASIS_BOUNDS,
    BASIS_DISTRIBUTION,
    BASIS_SPECTRAL,
    BASIS_INITIALIZER_CONFIG,
    BASIS_FRESH_VALUE,
    BASIS_OPTIMIZER_SLOTS,
    BASIS_HISTORY,
)
"""Every kind of evidence a verdict can rest on, as the `basis` list names them."""
EXACT_BASES = (BASIS_FRESH_VALUE, BASIS_CONSTANT)
"""Verdicts resting on these are exact facts about the values: testimony adds to them, never overturns them."""

MIN_VALUES = 512
"""Fewer values than this (exact patterns aside) give `inconclusive`: the tests have too little power. At 256 a
256-value kernel trained 32 SGD steps (8% relative change) still passed as glorot_normal
(sample_checkpoints/diff/frozen)."""
SCORE_EXACT = 1.0
SCORE_PATTERN = 0.99
BOUNDED_MIN_VALUES = 256
"""From this many values a bounded family (uniform, truncated normal) every test passes, extremes reaching its
bounds included, is called fresh below MIN_VALUES (bench-detect: no trained tensor of 256..511 values passes)."""
TRAINED_MIN_U = 1.5
"""A family missed by less than this (in units of the limit) leaves `inconclusive`, not `trained`."""
REINITIALISED = (
    ", yet its values are a fresh draw: re-initialised after it was trained (a restore that skipped it?),"
    " or trained too little to leave its initial distribution"
)
"""Appended to the testimony of updates when the values say `fresh`: the gate keeps failing on random weights."""
TESTIMONY_MIN_VALUES = 1024
"""From this many values a fit to a fresh draw outweighs testimony of updates (bench-detect, values alone, on
tensors of >= 1,024 values: 570 fresh calls, 1 of them of a trained tensor). Below it a lightly trained kernel passes as
fresh too (sample_checkpoints: 256 values after 32 SGD steps in diff/frozen, 512 after 16 Adam steps in
history/stop_gradient), so the verdict is `inconclusive`."""
TOO_SMALL_TO_TELL = (
    ", yet its values fit a fresh draw: too few values to tell one re-initialised after training from one"
    " trained a little"
)
EQUAL_ATOL = 1e-7
"""Absolute tolerance of the comparison with the live model's initial value."""


@dataclass(frozen=True)
class InitVerdict:
    """Whether one tensor's values look freshly initialised."""

    verdict: Verdict
    """`fresh`, `trained` or `inconclusive`."""
    match: str | None
    """What the values look like: `zeros`, `glorot_uniform`, `truncated_normal(0.02)`, `orthogonal`,
    `nonfinite`, `uniform(-0.07,0.07)` (an i.i.d. shape no known family explains), ...; None when nothing fits."""
    score: float
    """Strength of the evidence for the verdict, in [0, 1] (see the module docstring)."""
    evidence: str
    """One short sentence with the numbers the verdict rests on."""
    basis: tuple[str, ...] = ()
    """What decided it, drawn from BASES (empty for `inconclusive`)."""

    def with_evidence(self, verdict: Verdict, score: float, basis: str, sentence: str) -> InitVerdict:
        """This verdict changed by further evidence (optimizer slots, history): its basis and sentence appended."""
        bases = self.basis + ((basis,) if basis not in self.basis else ())
        return InitVerdict(verdict, self.match, score, f"{self.evidence}; {sentence}", bases)

    def with_testimony(self, updated: bool | None, basis: str, sentence: str, size: int) -> InitVerdict:
        """This verdict with what the run says of the variable (of `size` values): updated (True), never updated
        (False), or only a remark (None). Testimony decides what the values left open. It never overturns an
        exact fact about the values (their initial constant, the model's own fresh value), nor a fit to a fresh
        draw from TESTIMONY_MIN_VALUES values (a variable re-initialised after it was trained holds random
        weights); a smaller fit against updates is `inconclusive`. A trained variable never updated was trained
        before, then frozen."""
        if self.match == MATCH_NONFINITE:
            return self
        if updated is None:
            return InitVerdict(self.verdict, self.match, self.score, f"{self.evidence}; {sentence}", self.basis)
        exact = any(b in self.basis for b in EXACT_BASES)
        if updated and self.verdict == VERDICT_FRESH and (exact or size >= TESTIMONY_MIN_VALUES):
            return self.with_evidence(self.verdict, self.score, basis, sentence + REINITIALISED)
        if updated and self.verdict == VERDICT_FRESH:
            return self.with_evidence(VERDICT_INCONCLUSIVE, 0.0, basis, sentence + TOO_SMALL_TO_TELL)
        if updated and self.verdict != VERDICT_TRAINED and not exact:
            return self.with_evidence(VERDICT_TRAINED, SCORE_PATTERN, basis, sentence)
        if not updated and self.verdict == VERDICT_INCONCLUSIVE:
            return self.with_evidence(VERDICT_FRESH, SCORE_PATTERN, basis, sentence)
        if not updated and self.verdict == VERDICT_TRAINED:
            sentence += " (trained before, then frozen?)"
        return self.with_evidence(self.verdict, self.score, basis, sentence)


quick_init(InitVerdict)


def _inconclusive(match: str | None, evidence: str) -> InitVerdict:
    return InitVerdict(VERDICT_INCONCLUSIVE, match, 0.0, evidence)


def _checks_basis(checks: list[FitCheck], *extra: str) -> tuple[str, ...]:
    kinds = {BASIS_SPECTRAL if c.kind in ("spectrum", "gram") else BASIS_DISTRIBUTION for c in checks}
    return tuple(b for b in (*extra, BASIS_DISTRIBUTION, BASIS_SPECTRAL) if b in kinds or b in extra)


def _fresh_score(checks: list[FitCheck]) -> float:
    return round(min(SCORE_PATTERN, 1.0 - 0.5 * max((c.u for c in checks), default=0.0)), 3)


def _trained_score(u: float) -> float:
    return round(min(SCORE_PATTERN, 1.0 - 0.5 / max(u, 1.0)), 3)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def assess_init(
    entry: TensorEntry,
    stats: TensorStats | None,
    *,
    initializer: dict[str, Any] | str | None = None,
    fresh: np.ndarray | None = None,
    role: Role | None = None,
    seed: int = 0,
) -> InitVerdict:
    """Judge whether a tensor holds freshly initialised values.

    Args:
        entry: the stored tensor; values are sampled through its source (a few thousand values and a
            submatrix of at most 512x512), never loaded whole unless the tensor is small.
        stats: its statistics from the one streaming pass (`compute_stats`); None for non-numeric tensors.
        initializer: the configured initializer for this variable (from the live model, or the config the
            artifact carries), serialised (`{"class_name": "GlorotUniform", "config": {...}}`, or a Keras
            identifier string). When given and understood, the values are tested against it alone.
        fresh: the live model's own initial value for this variable; equality is the strongest evidence.
        role: what the variable is for (ckptdiff.stats.roles); a constant-initialised role decides at any size.
        seed: seed of the deterministic samples.

    Returns:
        The verdict, what the values look like, a score, one sentence of evidence and its basis.
    """
    if stats is None or stats.count == 0:
        return _inconclusive(None, "no numeric values to judge")
    if stats.nonfinite:
        return _inconclusive(
            MATCH_NONFINITE, f"{stats.nan_count} NaN and {stats.inf_count} infinite values among {stats.count}"
        )
    configured = parse_initializer(initializer, entry.shape) if initializer is not None else None
    config_basis = (BASIS_INITIALIZER_CONFIG,) if configured else ()
    stats = stats.finite()  # every value is finite from here on
    if fresh is not None and _equals_fresh(entry, fresh, stats):
        match = configured[0].name if configured else MATCH_LIVE_VALUE
        return InitVerdict(
            VERDICT_FRESH, match, SCORE_EXACT, "equals the model's own freshly initialised value", (BASIS_FRESH_VALUE,)
        )
    if stats.count == 1:
        return _inconclusive(None, f"a single value ({_fmt(stats.min)}) says nothing")
    role_constant = _role_constant(role, configured)
    if stats.min == stats.max:
        return _judge_constant(float(stats.min), stats.count, configured, relative_eps(entry.dtype), role_constant)
    deterministic = configured[0] if configured and configured[0].kind in (KIND_CONSTANT, KIND_IDENTITY) else None
    values = TensorValues(entry, stats, seed)
    pattern = _judge_patterns(values, deterministic)
    if pattern is not None:
        return pattern
    if deterministic is not None:
        return InitVerdict(
            VERDICT_TRAINED,
            None,
            SCORE_EXACT,
            f"values span {_fmt(stats.min)}..{_fmt(stats.max)}, "
            f"which the configured {deterministic.name} cannot produce",
            config_basis,
        )
    if role_constant is not None:
        return InitVerdict(
            VERDICT_TRAINED,
            None,
            SCORE_EXACT,
            f"a {str(role).replace('_', ' ')} starts at exactly {role_constant:g}; "
            f"these {stats.count} values span {_fmt(stats.min)}..{_fmt(stats.max)}",
            (BASIS_CONSTANT,),
        )
    if not math.isfinite(stats.std or 0.0):
        return _inconclusive(None, f"values up to {_fmt(max(-stats.min, stats.max))} overflow the moments")
    if not (entry.dtype.startswith("float") or entry.dtype == "bfloat16"):
        return _inconclusive(None, f"{entry.dtype} values are not drawn by an initializer")
    random_configured = [f for f in configured or [] if f.kind not in (KIND_CONSTANT, KIND_IDENTITY)]
    if stats.count < MIN_VALUES:
        return _judge_small(values, random_configured)
    if random_configured:
        return _judge_configured(values, random_configured)
    return _judge_catalogue(values)


def _role_constant(role: Role | None, configured: list[InitFamily] | None) -> float | None:
    """The constant a role starts at, unless the configured initializer says otherwise."""
    if role is None or role not in ROLE_CONSTANTS:
        return None
    if configured:
        first = configured[0]
        return first.loc if first.kind == KIND_CONSTANT else None
    return ROLE_CONSTANTS[role]


def _judge_small(values: TensorValues, configured: list[InitFamily]) -> InitVerdict:
    """Too few values to call fresh; enough to prove trained when no plausible family can produce them."""
    shape, n = values.entry.shape, values.n
    families = configured or catalogue(shape) + unbounded_fan_families(shape)
    found = exclude_all(families, values)
    if found is not None:
        text, basis = describe_exclusions(found, n)
        if configured:
            text = text.replace("no initializer can", f"the configured {configured[0].name} cannot", 1)
            basis = (BASIS_INITIALIZER_CONFIG, *basis)
        score = SCORE_EXACT if set(basis) <= {BASIS_BOUNDS, BASIS_INITIALIZER_CONFIG} else SCORE_PATTERN
        return InitVerdict(VERDICT_TRAINED, None, score, text, basis)
    alive = survivors(families, values)
    if n >= BOUNDED_MIN_VALUES:
        for family in alive:
            fixed_normal = family.kind == KIND_NORMAL and family.fans is None
            if (family.lower is None and not fixed_normal) or family.kind == KIND_ORTHOGONAL:
                continue
            fitted = fit_family(family, values)
            spectrum = values.spectrum(family.loc) if fixed_normal else None
            if fixed_normal and (spectrum is None or spectrum.rows < MP_MIN_SIDE):
                continue  # an unbounded normal is called fresh only with a full spectrum to back it
            if fitted is not None and all(c.passed for c in fitted[0]):
                checks, name = fitted
                basis = _checks_basis(checks, *((BASIS_INITIALIZER_CONFIG,) if configured else ()))
                return InitVerdict(
                    VERDICT_FRESH, name, _fresh_score(checks), describe_fit(family, name, checks, values), basis
                )
    names = ", ".join(f.name for f in alive[:2]) + (f" and {len(alive) - 2} more" if len(alive) > 2 else "")
    return _inconclusive(alive[0].name, f"only {n} values: too few to call fresh, and {names} could still produce them")


SMALL_EXTREMES = 64
"""Up to this many values, extremes are taken over a Python list: two numpy reductions cost 5 us, paid once per
variable of a 100,000-variable check."""


def _extremes(flat: np.ndarray) -> tuple[float, float]:
    """(min, max) of a non-empty float array; NaN for both when a value is not finite (then nothing is rejected)."""
    if flat.size > SMALL_EXTREMES:
        return float(flat.min()), float(flat.max())
    values = flat.tolist()
    if not math.isfinite(sum(values)):  # a NaN, an infinity, or an overflowing sum: reject nothing
        return math.nan, math.nan
    return float(min(values)), float(max(values))


def _equals_fresh(entry: TensorEntry, fresh: np.ndarray, stats: FiniteStats | None = None) -> bool:
    """The stored values equal the live model's fresh value, element by element within the tolerance.

    With the stored tensor's (finite) statistics, extremes that cannot match reject without reading it: a
    value close to each stored value within the tolerance puts fresh's extremes within it of the stored ones.
    """
    flat = np.asarray(fresh).reshape(-1)
    if flat.size != entry.size:
        return False
    rtol = max(1e-7, relative_eps(entry.dtype))
    if stats is not None and flat.size and flat.dtype.kind == "f":
        low, high = _extremes(flat)
        if math.isfinite(low) and math.isfinite(high):
            slack = 2 * (EQUAL_ATOL + rtol * max(abs(low), abs(high), abs(stats.min), abs(stats.max)))
            if abs(stats.min - low) > slack or abs(stats.max - high) > slack:
                return False
    start = 0
    for chunk in entry.iter_chunks():
        a = np.asarray(chunk).astype(np.float64)
        b = flat[start : start + a.size].astype(np.float64)
        start += a.size
        # np.isclose(a, b, rtol, EQUAL_ATOL) in three ufunc calls (isclose's own Python costs 40 us a call, paid once
        # per variable of a 100,000-variable check): close within the tolerance where b is finite, else equal.
        with np.errstate(invalid="ignore", over="ignore"):
            close = (a == b) | ((np.abs(a - b) <= EQUAL_ATOL + rtol * np.abs(b)) & np.isfinite(b))
        if not close.all():
            return False
    return start == flat.size


def _judge_constant(
    value: float, count: int, configured: list[InitFamily] | None, rel_eps: float, role_constant: float | None
) -> InitVerdict:
    expected = configured[0] if configured else None
    if expected is not None and expected.kind == KIND_CONSTANT and abs(expected.loc - value) <= rel_eps * abs(value):
        evidence = f"all {count} values are {_fmt(value)}, as {expected.name} gives"
        return InitVerdict(
            VERDICT_FRESH, expected.name, SCORE_PATTERN, evidence, (BASIS_CONSTANT, BASIS_INITIALIZER_CONFIG)
        )
    name = constant_name(value)
    if role_constant is not None and value == role_constant:
        return InitVerdict(
            VERDICT_FRESH,
            name,
            SCORE_PATTERN,
            f"all {count} values are {_fmt(value)}, its role's initial value",
            (BASIS_CONSTANT,),
        )
    if is_round_constant(value):
        note = f" (configured: {expected.name})" if expected is not None else ""
        return InitVerdict(
            VERDICT_FRESH, name, SCORE_PATTERN, f"all {count} values are {_fmt(value)}{note}", (BASIS_CONSTANT,)
        )
    if role_constant is not None:
        return InitVerdict(
            VERDICT_TRAINED,
            None,
            SCORE_EXACT,
            f"all {count} values are {value:.7g}; this role starts at exactly {role_constant:g}",
            (BASIS_CONSTANT,),
        )
    return _inconclusive(name, f"all {count} values are {value:.7g}, not a constant an initializer is usually given")


def _judge_patterns(values: TensorValues, deterministic: InitFamily | None) -> InitVerdict | None:
    """Identity matrices and the LSTM bias with unit_forget_bias: exact patterns, judged at any size."""
    entry, stats = values.entry, values.stats
    shape, n = entry.shape, stats.count
    zeros = round((stats.zero_fraction or 0.0) * n)
    if len(shape) == 2 and min(shape) >= 2 and zeros == n - min(shape) and min(stats.min, stats.max) <= 0.0:
        gain = stats.max if stats.min == 0.0 else stats.min
        diag = read_flat(entry, np.arange(min(shape), dtype=np.int64) * (shape[1] + 1))
        wanted = deterministic is None or (deterministic.kind == KIND_IDENTITY and deterministic.scale == gain)
        if wanted and np.all(diag == gain):
            name = "identity" if gain == 1.0 else f"identity(gain={_fmt(gain)})"
            return InitVerdict(
                VERDICT_FRESH, name, SCORE_PATTERN, f"{gain:g} on the diagonal and 0 elsewhere", (BASIS_CONSTANT,)
            )
    # LSTM(unit_forget_bias=True) overrides its bias initializer (zeros by default) with this pattern.
    lstm_ok = deterministic is None or deterministic.name == "zeros"
    zeros_and_ones = stats.min == 0.0 and stats.max == 1.0 and zeros == 3 * n // 4
    if len(shape) == 1 and n % 4 == 0 and n >= 8 and zeros_and_ones and lstm_ok:
        units = n // 4
        expected = np.zeros(n)
        expected[units : 2 * units] = 1.0
        if np.array_equal(read_all(entry), expected):
            return InitVerdict(
                VERDICT_FRESH,
                MATCH_LSTM_BIAS,
                SCORE_PATTERN,
                f"zeros with ones in the forget-gate quarter ({units} units), as LSTM(unit_forget_bias=True) starts",
                (BASIS_CONSTANT,),
            )
    return None


def _judge_configured(values: TensorValues, families: list[InitFamily]) -> InitVerdict:
    """The live model names the initializer: the values are its output or they are not."""
    failure: FitCheck | None = None
    for family in families:  # one family, or one per plausible fan split of a 3-D kernel
        fitted = fit_family(family, values)
        if fitted is None:
            continue
        checks, name = fitted
        failed = [c for c in checks if not c.passed]
        if not failed and family.kind == KIND_NORMAL and family.fans is not None:
            return _judge_untruncated(values, family, checks, name)
        if not failed:
            return InitVerdict(
                VERDICT_FRESH,
                name,
                _fresh_score(checks),
                describe_fit(family, name, checks, values),
                _checks_basis(checks, BASIS_INITIALIZER_CONFIG),
            )
        worst = max(failed, key=lambda c: c.u)
        failure = worst if failure is None or worst.u < failure.u else failure
    name = families[0].name
    spectral = spectral_check(values, values.stats.mean)
    if spectral is not None and not spectral.passed:
        return InitVerdict(
            VERDICT_TRAINED,
            None,
            _trained_score(spectral.u),
            f"not {name}: {spectral.text}",
            (BASIS_INITIALIZER_CONFIG, BASIS_SPECTRAL),
        )
    if failure is None:
        return _inconclusive(None, f"the configured {name} cannot be tested at shape {values.entry.shape}")
    if failure.u < TRAINED_MIN_U:
        return _inconclusive(None, f"a near miss of the configured {name}: {failure.text}")
    return InitVerdict(
        VERDICT_TRAINED,
        None,
        _trained_score(failure.u),
        f"not the configured {name}: {failure.text}",
        (BASIS_INITIALIZER_CONFIG, BASIS_DISTRIBUTION),
    )


TIGHT_VARIANCE_Z = 1.5
"""A configured fan-scaled untruncated normal is called fresh only when the variance is within this many standard
errors of the configured one (and the spectrum is i.i.d.); 87% of fresh tensors are. Chosen on bench-detect's
labelled set among 1.0, 1.5, 2.0, 2.5 and 3.0: recall(fresh) in `check` 0.9811, 0.9863, 0.9897, 0.9914, 0.9914
against 4, 4, 5, 6, 6 trained tensors called fresh (2 of them before this rule), measured 2026-12-02."""


def _judge_untruncated(values: TensorValues, family: InitFamily, checks: list[FitCheck], name: str) -> InitVerdict:
    """Every test of a configured fan-scaled untruncated normal passed. That is what trained weights look like too
    (in bench-detect, 64x128 kernels moved 15-20% passed it with an i.i.d. spectrum), so fresh needs more: the
    spectrum tested, and the variance within TIGHT_VARIANCE_Z standard errors of the configured scale."""
    text = describe_fit(family, name, checks, values)
    ratio = (values.stats.std / family.std) ** 2
    z = abs(ratio - 1.0) / math.sqrt(2.0 / values.n)  # the sample variance of n normal values: se sqrt(2/n)
    spectral = any(c.kind == "spectrum" for c in checks)
    if spectral and z <= TIGHT_VARIANCE_Z:
        tight = FitCheck(z / TIGHT_VARIANCE_Z, f"variance {ratio:.4f}x the configured one ({z:.2f} standard errors)")
        return InitVerdict(
            VERDICT_FRESH,
            name,
            _fresh_score([*checks, tight]),
            f"{text}, variance {z:.2f} standard errors from the configured scale",
            _checks_basis(checks, BASIS_INITIALIZER_CONFIG),
        )
    why = "no spectrum to test" if not spectral else f"variance {z:.2f} standard errors from the configured scale"
    return _inconclusive(name, f"{text}, but trained weights settle into the same Gaussian ({why})")


def _judge_catalogue(values: TensorValues) -> InitVerdict:
    """No initializer known: try every common family, then orthogonality, then the spectrum alone."""
    shape = values.entry.shape
    weak: InitVerdict | None = None
    for family in catalogue(shape):
        if family.kind == KIND_ORTHOGONAL:
            continue
        fitted = fit_family(family, values)
        if fitted is None or not all(c.passed for c in fitted[0]):
            continue
        checks, name = fitted
        evidence = describe_fit(family, name, checks, values)
        spectrum = values.spectrum(family.loc)
        if family.kind == KIND_NORMAL and (spectrum is None or spectrum.rows < MP_MIN_SIDE):
            # With no bound to stay inside, a trained vector (a BatchNorm moving mean) or a skinny matrix
            # (a classifier head) can look like any normal; only a full spectrum could tell.
            weak = weak or _inconclusive(name, evidence + ", but an unbounded normal without a full spectrum")
            continue
        return InitVerdict(VERDICT_FRESH, name, _fresh_score(checks), evidence, _checks_basis(checks))
    ortho = orthogonal_family(shape)
    if ortho is not None:
        fitted = fit_family(InitFamily(ortho.name, KIND_ORTHOGONAL, 0.0, values.stats.std), values, free_gain=True)
        if fitted is not None and all(c.passed for c in fitted[0]):
            checks, name = fitted
            return InitVerdict(
                VERDICT_FRESH, name, _fresh_score(checks), describe_fit(ortho, name, checks, values), (BASIS_SPECTRAL,)
            )
    if weak is not None:
        return weak
    spectral = spectral_check(values, values.stats.mean)
    if spectral is not None and not spectral.passed:
        return InitVerdict(VERDICT_TRAINED, None, _trained_score(spectral.u), spectral.text, (BASIS_SPECTRAL,))
    return _judge_unknown(values, spectral)


def _generic_families(values: TensorValues) -> list[InitFamily]:
    """Uniform, truncated and plain normal fitted to the tensor's own range and moments."""
    s = values.stats
    mid, half = (s.max + s.min) / 2.0, (s.max - s.min) / 2.0
    return [
        InitFamily(f"uniform({_fmt(s.min)},{_fmt(s.max)})", KIND_UNIFORM, mid, half),
        InitFamily(f"truncated_normal({_fmt(s.std / TRUNCATION_STD_FACTOR)})", KIND_TRUNCATED, mid, half / 2.0),
        InitFamily(f"normal({_fmt(s.std)})", KIND_NORMAL, s.mean, s.std),
    ]


def _unbounded_lookalike(values: TensorValues) -> InitFamily | None:
    for family in unbounded_fan_families(values.entry.shape):
        if all(c.passed for c in screen_family(family, values)):
            return family
    return None


def _judge_unknown(values: TensorValues, spectral: FitCheck | None) -> InitVerdict:
    """No known family fits: an i.i.d. shape at an unknown scale is inconclusive, anything else trained."""
    closest: FitCheck | None = None
    std = _fmt(values.stats.std)
    for family in _generic_families(values):
        fitted = fit_family(family, values)
        checks = fitted[0] if fitted is not None else []
        worst = max(checks, key=lambda c: c.u if c.u == c.u else math.inf)  # NaN counts as a failure
        if all(c.passed for c in checks):
            extra = f", {spectral.text}" if spectral is not None else ""
            lookalike = _unbounded_lookalike(values) if family.kind == KIND_NORMAL else None
            if lookalike is not None:
                return _inconclusive(
                    lookalike.name,
                    f"i.i.d. normal with std {std} as {lookalike.name} gives, "
                    f"but trained weights settle into the same Gaussian{extra}",
                )
            kind = family.kind.replace("_", " ")
            return _inconclusive(
                family.name, f"an i.i.d. {kind} shape (std {std}) at a scale no known initializer gives{extra}"
            )
        if closest is None or worst.u < closest.u:
            closest = worst
    assert closest is not None
    if closest.u < TRAINED_MIN_U:
        shape = values.entry.shape
        found = exclude_all(catalogue(shape) + unbounded_fan_families(shape), values)
        if found is not None:
            text, basis = describe_exclusions(found, values.n)
            return InitVerdict(VERDICT_TRAINED, None, SCORE_PATTERN, f"{text} (and no i.i.d. shape fits well)", basis)
        return _inconclusive(None, f"close to an i.i.d. shape but no known initializer (std {std}; {closest.text})")
    return InitVerdict(
        VERDICT_TRAINED,
        None,
        _trained_score(closest.u),
        f"fits no initializer family and no i.i.d. shape (std {std}; closest: {closest.text})",
        (BASIS_DISTRIBUTION,),
    )


__all__ = [
    "InitVerdict",
    "assess_init",
    "VERDICT_FRESH",
    "VERDICT_TRAINED",
    "VERDICT_INCONCLUSIVE",
    "VERDICTS",
    "MATCH_NONFINITE",
    "MIN_VALUES",
    "BASES",
]
