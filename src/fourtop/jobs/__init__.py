"""The job engine: what a job is, where its files live, how it runs and is tracked.

Each module holds one thing, named for it:

- :mod:`~fourtop.jobs.seed`: ``Seed``, the variables a job trains on;
  :mod:`~fourtop.jobs.draw`: drawing seeds (correlated groups);
  :mod:`~fourtop.jobs.names`: importance job names.
- :mod:`~fourtop.jobs.job`: ``Job``; :mod:`~fourtop.jobs.folder`: ``JobFolder``;
  :mod:`~fourtop.jobs.importing`, :mod:`~fourtop.jobs.compaction`: its import and compaction;
  :mod:`~fourtop.jobs.lock`: its lock; :mod:`~fourtop.jobs.layout`: its file names.
- :mod:`~fourtop.jobs.specfile`: the ``.jtd`` spec file (SQLite);
  :mod:`~fourtop.jobs.eventlog`: the HTCondor-format job event logs every backend writes.
- :mod:`~fourtop.jobs.tasks`: task kinds by name (what a backend runs);
  :mod:`~fourtop.jobs.execute`: what a node runs for an importance job or seed family;
  :mod:`~fourtop.jobs.jobfiles`: writing a job's files, and closing those of a dead process.
- :mod:`~fourtop.jobs.summary`: what ``fourtop folders`` shows of a folder.
- The submission library (above the backends): :mod:`~fourtop.jobs.requests` (what is
  asked, how it reports), :mod:`~fourtop.jobs.settings` (a folder's submission settings),
  :mod:`~fourtop.jobs.running` (job files, run and retry), :mod:`~fourtop.jobs.submission`
  (create a folder, draw seeds, submit) and :mod:`~fourtop.jobs.resubmission` (``-r``).

:mod:`fourtop.jobtracker` is the original manual's facade over this package.
"""
