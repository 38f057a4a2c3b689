"""`ActorCriticWorker`: the actor, rollout, reference and critic in one process per device
(``critic.colocate=true``, the default), so PPO with a critic needs one worker group and one pool.

The two roles share nothing but the process: the critic's state lives under ``self.critic`` and its
methods have names of their own, so the two classes combine without overriding each other.
"""

from __future__ import annotations

from omegaconf import DictConfig

from maxrl.workers.actor_rollout_ref_worker import ActorRolloutRefWorker
from maxrl.workers.critic_worker import CriticWorker

__all__ = ["ActorCriticWorker"]


class ActorCriticWorker(ActorRolloutRefWorker, CriticWorker):
    def __init__(self, config: DictConfig):
        ActorRolloutRefWorker.__init__(self, config)
        CriticWorker.__init__(self, config)
