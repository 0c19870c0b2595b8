"""The three statistically independent splits of every sample, and what each is for.

A dataset configuration names one ntuple file per sample and split (``{split}`` in the
file pattern takes the number); each step of an analysis trains on its own split, so no
step's choice is tuned on the events another step is judged on.

Example:
    >>> Split.OPTIMIZATION, int(Split.FINAL), Split(0).name
    (<Split.OPTIMIZATION: 1>, 2, 'IMPORTANCE')
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Split"]


class Split(IntEnum):
    """Which split of the samples a step reads (the number in the file names)."""

    #: variable importance: the seed and subseed trainings of ``fourtop submit``
    IMPORTANCE = 0
    #: hyperparameter optimization (``fourtop hyperopt``)
    OPTIMIZATION = 1
    #: the final classifier (k-fold training) and its evaluation
    FINAL = 2
