"""Shared helpers of the accuracy scripts in this folder: Wilson intervals and age bands
(the same bands as `vouch face eval-age`). Standard library only."""
import math

BANDS = ["0-12", "13-17", "18-25", "26-40", "41-60", "61+"]


def wilson(k, n, z=1.96):
    """95% Wilson interval of k successes in n, as [low, high] rounded to 4 places."""
    if n == 0:
        return [None, None]
    p = k / n
    d = 1 + z * z / n
    c = p + z * z / (2 * n)
    r = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [max(0.0, round((c - r) / d, 4)), round((c + r) / d, 4)]


def band(age):
    """The age band of a true age."""
    if age <= 12:
        return "0-12"
    if age < 18:
        return "13-17"
    if age <= 25:
        return "18-25"
    if age <= 40:
        return "26-40"
    if age <= 60:
        return "41-60"
    return "61+"
