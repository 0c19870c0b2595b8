"""``fourtop explain``: what the final networks use, beside what retraining measured.

:mod:`~fourtop.explain.methods` (permutation importance and attributions on the held-out
events), :mod:`~fourtop.explain.compare` (ranks, rank correlations, the reasons for the
largest disagreements), :mod:`~fourtop.explain.outputs` (files and plots) and
:mod:`~fourtop.explain.workflow` (the command as a library call).
"""
