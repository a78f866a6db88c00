"""The anytime-valid test behind a rollout's decisions: a one-sided mixture SPRT.

mSPRT (Johari, Pekelis & Walsh, "Always valid inference", 2017) on the difference
``d`` of two means, under the normal approximation with the plug-in variance ``v`` of
the estimate ``d_hat``. Cumulative two-sample means give ``S = d_hat / v`` a Brownian
path in information time ``I = 1 / v`` with drift ``d``, whatever share each side
gets at each moment (Cov(d_hat_t, d_hat_u) = v_u for t before u), so the weights
may change between steps without breaking validity.

One-sided: to test ``H0: d <= theta0`` against ``d > theta0`` the likelihood ratio
``exp(l * Z - l**2 * I / 2)`` (``Z = (d_hat - theta0) * I``) is mixed over
``l = d - theta0`` with a half-normal of scale ``tau`` on ``l > 0``:

    L = 2 / sqrt(1 + tau**2 * I) * exp(Z**2 / (2 * a)) * Phi(Z / sqrt(a)),  a = I + 1/tau**2

Each component is a supermartingale under every ``d <= theta0``, so by Ville's
inequality P(L ever >= 1/alpha) <= alpha: ``p = min(1, 1/L)`` may be read after every
signal, and acting the first time it falls below alpha keeps the error rate at alpha.
Where ``Z`` is large the half-normal doubles the two-sided mixture's evidence (the
one-sided test's usual factor of two); where it is negative ``L`` falls below 1.

The matching confidence sequence is the set of ``theta0`` not rejected; its one-sided
bound clears a margin exactly when the test at that margin rejects, so decisions use
the p-value and :func:`upper_bound` / :func:`lower_bound` are for reporting.
"""

from __future__ import annotations

import math

_SQRT2 = math.sqrt(2.0)


def _log_phi(x: float) -> float:
    """log of the standard normal CDF, finite far into the lower tail."""
    if x > -30.0:
        return math.log(0.5 * math.erfc(-x / _SQRT2))
    # Mills ratio: Phi(x) ~ phi(x) / -x for x << 0 (erfc underflows near -38).
    return -0.5 * x * x - math.log(-x) - 0.5 * math.log(2.0 * math.pi)


def p_greater(d_hat: float, v: float, theta0: float, tau: float) -> float:
    """Always-valid p-value for ``d > theta0`` (``H0: d <= theta0``), from the estimate
    ``d_hat`` and its variance ``v`` (> 0); ``tau`` is the mixture's scale."""
    info = 1.0 / v
    z = (d_hat - theta0) * info
    a = info + 1.0 / (tau * tau)
    log_lr = (
        math.log(2.0)
        - 0.5 * math.log1p(tau * tau * info)
        + z * z / (2.0 * a)
        + _log_phi(z / math.sqrt(a))
    )
    return 1.0 if log_lr <= 0.0 else math.exp(-log_lr)


def p_less(d_hat: float, v: float, theta0: float, tau: float) -> float:
    """Always-valid p-value for ``d < theta0`` (``H0: d >= theta0``)."""
    return p_greater(-d_hat, v, -theta0, tau)


def upper_bound(d_hat: float, v: float, alpha: float, tau: float) -> float:
    """The confidence sequence's upper bound at level ``alpha``: the smallest ``theta0``
    that ``p_less`` rejects (to 0.1% of the two-sided radius)."""
    # p_less(d_hat) >= 1/2 and the two-sided mixture's radius bounds the answer above.
    radius = math.sqrt(
        2.0
        * v
        * (1.0 + v / (tau * tau))
        * (math.log(1.0 / alpha) + 0.5 * math.log1p(tau * tau / v))
    )
    low, high = d_hat, d_hat + radius
    while high - low > 1e-3 * radius:
        mid = 0.5 * (low + high)
        if p_less(d_hat, v, mid, tau) <= alpha:
            high = mid
        else:
            low = mid
    return high


def lower_bound(d_hat: float, v: float, alpha: float, tau: float) -> float:
    """The confidence sequence's lower bound at level ``alpha``."""
    return -upper_bound(-d_hat, v, alpha, tau)
