"""Every environment variable fourtop reads or sets, named in one place.

Example:
    >>> CONFIG_ENV, DATA_ENV, CACHE_ENV
    ('FOURTOP_CONFIG', 'FOURTOP_DATA', 'FOURTOP_CACHE')
"""

from __future__ import annotations

__all__ = [
    "CACHE_ENV",
    "CI_ENV",
    "CONFIG_ENV",
    "DATA_ENV",
    "OMP_THREADS_ENV",
    "SLURM_ARRAY_JOB_ENV",
    "SLURM_ARRAY_TASK_ENV",
    "XDG_CACHE_ENV",
    "XDG_DATA_ENV",
]

#: the dataset configuration used when no ``--config`` is given
CONFIG_ENV = "FOURTOP_CONFIG"
#: the folder of the default samples (``fourtop generate`` writes there)
DATA_ENV = "FOURTOP_DATA"
#: the folder of cached selected arrays
CACHE_ENV = "FOURTOP_CACHE"
#: the XDG base folders the defaults of DATA_ENV and CACHE_ENV fall back on
XDG_DATA_ENV = "XDG_DATA_HOME"
XDG_CACHE_ENV = "XDG_CACHE_HOME"
#: set by CI systems: progress is printed as plain lines, never as a live bar
CI_ENV = "CI"
#: threads of a local worker's numerical libraries (set for each worker process)
OMP_THREADS_ENV = "OMP_NUM_THREADS"
#: what SLURM tells an array task: its index, and the array's job id
SLURM_ARRAY_TASK_ENV = "SLURM_ARRAY_TASK_ID"
SLURM_ARRAY_JOB_ENV = "SLURM_ARRAY_JOB_ID"
