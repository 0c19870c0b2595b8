"""How loudly the job engine reports its progress (the manual's ``jobtracker.LOG``).

``fourtop.jobtracker.LOG`` reads and sets :data:`LOG` here, so ``jt.LOG = False`` quiets
every module of the engine.
"""

from __future__ import annotations

import logging

__all__ = ["LOG", "say"]

#: True logs the engine's progress at INFO level, False only at DEBUG.
LOG = True


def say(logger: logging.Logger, msg: str, *args: object) -> None:
    """Log ``msg`` at INFO level while :data:`LOG` is true, else at DEBUG."""
    logger.log(logging.INFO if LOG else logging.DEBUG, msg, *args)
