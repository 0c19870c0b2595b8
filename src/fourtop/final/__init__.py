"""``fourtop final``: k-fold training of the chosen network on the final-training split.

Modules: :mod:`~fourtop.final.model` (a final folder read back: the card, the fold models,
scoring), :mod:`~fourtop.final.source` (where the variables and hyperparameters come from),
:mod:`~fourtop.final.fold` (training one fold and writing its files), :mod:`~fourtop.final.task`
(the task kind ``final-fold``), :mod:`~fourtop.final.card` (the model card, summary and plots)
and :mod:`~fourtop.final.workflow` (the whole command).
"""
