"""The names of the files a job folder holds, besides each job's own files.

A job ``NAME`` has ``NAME.job`` (its submit description), ``NAME.out`` (its result),
``NAME.err`` and ``NAME.log`` (its HTCondor-format event log, :mod:`fourtop.jobs.eventlog`).
The folder ``F`` has its spec ``F/F.jtd`` (:mod:`fourtop.jobs.specfile`); compacted, it is
the spec alone, ``F.jtd`` beside where the folder was.
"""

from __future__ import annotations

__all__ = ["JOB_FILES", "KEPT_FILES", "LOCK_FILE", "SETTINGS_FILE", "SPEC_SUFFIX", "VARLIST_FILE"]

#: the suffix of a spec file
SPEC_SUFFIX = ".jtd"
#: the variable list of a folder's jobs, written next to them (read by ``run-job -l``)
VARLIST_FILE = "fourtop-varlist.txt"
#: held while a process changes which jobs run or exist (submit, resubmit, compaction)
LOCK_FILE = ".fourtop.lock"
#: the training settings of a folder's first submission (written by ``fourtop submit``)
SETTINGS_FILE = "fourtop-submit.json"
#: small files of a job folder that a compacted spec keeps (and ``extract_failed`` restores)
KEPT_FILES = (VARLIST_FILE, SETTINGS_FILE)
#: the suffixes of one job's files
JOB_FILES = (".job", ".out", ".err", ".log")
