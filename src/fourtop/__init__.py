"""fourtop: variable importance and hyperparameter optimization for TTTT classifiers.

The public library of the original tool lives in :mod:`fourtop.jobtracker`; every
error the library raises derives from :class:`fourtop.errors.FourtopError`.
"""

from fourtop.errors import FourtopError

__all__ = ["FourtopError", "__version__"]
__version__ = "0.1.0"
