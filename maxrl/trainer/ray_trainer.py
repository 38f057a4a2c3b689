"""The step loop: generate -> reward (repeated in rounds by dynamic sampling until the batch holds enough
groups with signal, `maxrl.trainer.dynamic_sampling`) -> old log-probs -> reference -> advantage -> update ->
checkpoint -> validate -> log, each phase a short method timed as ``timing_s/<phase>``. The old-log-prob pass is
skipped when the update can supply them itself, exactly (`maxrl.trainer.old_log_probs`).

The loop is algorithm-blind: the estimator is looked up by name, declares the extra inputs it needs
(`maxrl.trainer.extra_inputs`) and receives the whole ``algorithm`` section as knobs. Two declared inputs
add phases: critic ``values`` add ``values`` (before the advantage) and ``update_critic`` (before the
actor's update, which waits ``trainer.critic_warmup`` steps); greedy ``reward_baselines`` add ``gen_max``
(one greedy response per prompt, scored). Heavy work runs in one `WorkerGroup` of `ActorRolloutRefWorker`s
(with a critic, `ActorCriticWorker`s, or a second group of `CriticWorker`s); the driver only moves
batches, scores and logs. With ``actor_rollout_ref.rollout.placement=separate`` a group of `RolloutWorker`s
samples instead, fed through `maxrl.trainer.async_rollout.RolloutPipeline` (``trainer.async.max_staleness``
steps ahead; docs/async.md), and the trainer's weights are sent to it after each update
(``timing_s/weight_sync``).

Determinism: the rollout of step s on rank r draws from a seed fixed by (``trainer.seed``, s, r, and the
round after the first), epoch e shuffles with ``data.seed + e``, and a checkpoint holds everything else
(weights, optimizer, scheduler, loader position, KL coefficient, driver RNG), so a run resumed from step k
repeats the uninterrupted run's steps k+1, k+2, ... exactly on CPU.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from maxrl.agents.metrics import episode_metrics
from maxrl.agents.records import episode_records, write_episodes
from maxrl.algorithms import build_kl_controller, compute_advantage, get_advantage_spec
from maxrl.config.checks import as_list, validation_ks
from maxrl.config.choices import CRITIC_VALUES, GREEDY_BASELINES
from maxrl.data.batch import Batch
from maxrl.data.loader import build_dataloader
from maxrl.rewards.overlong import OverlongBuffer
from maxrl.trainer.async_rollout import RolloutPipeline
from maxrl.trainer.balance import balanced_layout, tokens_per_rank
from maxrl.trainer.checkpoint import HF_DIR, CheckpointManager
from maxrl.trainer.dynamic_sampling import FilterGroups, GroupCollector, Round, all_generated
from maxrl.trainer.extra_inputs import gather_extra_inputs
from maxrl.trainer.greedy_baseline import greedy_baselines, per_sample
from maxrl.trainer.kl_reward import kl_penalized_rewards
from maxrl.trainer.metrics import (
    balance_metrics,
    compute_data_metrics,
    pass_rate_metrics,
    rollout_mismatch_metrics,
    throughput_metrics,
    timed,
    timing_metrics,
)
from maxrl.trainer.old_log_probs import old_log_prob_pass
from maxrl.trainer.scoring import Scored, decode_prompts, score_batch, with_overlong_penalty, write_samples
from maxrl.trainer.tracking import Tracker
from maxrl.trainer.val_metrics import success_of
from maxrl.trainer.validation import validate
from maxrl.workers.batch_sizes import resolve_batch_sizes, update_order
from maxrl.workers.critic_sizes import resolve_critic_batch_sizes

logger = logging.getLogger(__name__)


def prompts_per_round(config: DictConfig) -> tuple[str, int]:
    """The key and value of the prompts drawn per generation round: ``data.gen_batch_size`` when set (dynamic
    sampling), else ``data.train_batch_size``."""
    if config.data.gen_batch_size is not None:
        return "data.gen_batch_size", int(config.data.gen_batch_size)
    return "data.train_batch_size", int(config.data.train_batch_size)


def steps_per_epoch(config: DictConfig, num_train_prompts: int) -> int:
    """Data-loader batches (generation rounds) in one pass over the data (the last partial batch is dropped):
    the training steps per epoch without dynamic sampling, an upper bound with it."""
    key, size = prompts_per_round(config)
    steps = num_train_prompts // size
    if steps == 0:
        raise ValueError(f"{key}={size} exceeds the {num_train_prompts} training prompts; lower {key} or add data")
    return steps


def total_training_steps(config: DictConfig, num_train_prompts: int) -> int:
    """``trainer.total_training_steps`` if set, else ``trainer.total_epochs`` passes over the data."""
    if config.trainer.total_training_steps is not None:
        return int(config.trainer.total_training_steps)
    return steps_per_epoch(config, num_train_prompts) * int(config.trainer.total_epochs)


def _rng_states() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _set_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])


class RayPPOTrainer:
    """Drives one run: owns the data order, the tracker and the checkpoints; the workers own the model."""

    def __init__(self, config: DictConfig, tokenizer, worker_group, reward_manager, train_dataset, val_dataset=None,
                 critic_group=None, rollout_group=None):
        self.config = config
        self.tokenizer = tokenizer
        self.workers = worker_group
        self.reward_manager = reward_manager
        self.train_dataset = train_dataset
        self.val_dataset = val_dataset
        self.run_dir = Path(config.trainer.default_local_dir)
        self.batch_sizes = resolve_batch_sizes(config, worker_group.world_size)
        self.total_steps = total_training_steps(config, len(train_dataset)) if train_dataset is not None else 0
        self.checkpoints = CheckpointManager(
            self.run_dir, config.trainer.max_actor_ckpt_to_keep, config.trainer.max_critic_ckpt_to_keep
        )
        needs = get_advantage_spec(config.algorithm.adv_estimator).extra_inputs
        self.critic = critic_group if CRITIC_VALUES in needs else None  # the group that holds the critic
        if CRITIC_VALUES in needs and critic_group is None:
            raise ValueError(f"algorithm.adv_estimator={config.algorithm.adv_estimator} needs a critic worker group")
        self.critic_sizes = resolve_critic_batch_sizes(config, critic_group.world_size) if self.critic else None
        self.greedy_baseline = GREEDY_BASELINES in needs
        self._layout_order = np.arange(0)
        self.algorithm_knobs = OmegaConf.to_container(config.algorithm, resolve=True)
        self.kl_ctrl = build_kl_controller(config.algorithm.kl_ctrl) if config.algorithm.use_kl_in_reward else None
        self.use_reference = bool(config.actor_rollout_ref.actor.use_kl_loss or config.algorithm.use_kl_in_reward)
        self.recompute_old_log_prob, why = old_log_prob_pass(config, self.batch_sizes)
        logger.info("old-log-prob pass %s: %s", "on" if self.recompute_old_log_prob else "skipped", why)
        self.val_ks = validation_ks(config)
        self.multi_turn = config.actor_rollout_ref.rollout.multi_turn
        self.group_size = int(config.actor_rollout_ref.rollout.n)
        self.collector = GroupCollector(
            FilterGroups.from_config(config.algorithm.filter_groups), self.group_size, int(config.data.train_batch_size)
        )
        self.overlong = OverlongBuffer.from_config(config)
        self.pipeline = None  # with a rollout group: it samples, steps ahead of the update
        if rollout_group is not None:
            max_staleness = int(config.trainer["async"].max_staleness)  # "async" is a Python keyword
            self.pipeline = RolloutPipeline(rollout_group, worker_group, max_staleness)
        self.sampler = worker_group if rollout_group is None else rollout_group  # the group that generates
        self.global_step = 0
        self.epoch = 0
        self.batches_in_epoch = 0
        self.tracker: Tracker | None = None
        self._wandb_run_id: str | None = None

    # ------------------------------------------------------------------ the run
    def fit(self) -> dict[str, float]:
        """Train to ``total_steps`` (validating and checkpointing on the way); return the last step's metrics."""
        self._restore()
        if self.pipeline is not None:  # the rollout group starts from the trainer's (possibly restored) weights
            self.pipeline.sync_weights(self.global_step)
        trainer_cfg = self.config.trainer
        self.tracker = Tracker(
            as_list(trainer_cfg.logger), self.run_dir, trainer_cfg.project_name, trainer_cfg.experiment_name,
            OmegaConf.to_container(self.config, resolve=True), self.total_steps, self.global_step, self._wandb_run_id,
        )
        metrics: dict[str, float] = {}
        try:
            fresh_start = self.global_step == 0
            if self.val_dataset is not None and (trainer_cfg.val_only or (trainer_cfg.val_before_train and fresh_start)):
                timings: dict[str, float] = {}
                with timed("testing", timings):
                    metrics = self._validate()
                self.tracker.log(metrics | {"timing_s/testing": timings["testing"]}, self.global_step)
            if trainer_cfg.val_only:
                return metrics
            while self.global_step < self.total_steps:
                metrics = self.step()
            if self.pipeline is not None:
                self.pipeline.close()
        finally:
            self.tracker.close()
        return metrics

    def step(self) -> dict[str, float]:
        """One training step; logs and returns its metrics."""
        timings: dict[str, float] = {}
        metrics: dict[str, float] = {}
        with timed("step", timings):
            self.global_step += 1
            is_last = self.global_step >= self.total_steps
            prompts, batch, rollout_metrics, reward_metrics = self._collect(timings)
            if self.greedy_baseline:
                with timed("gen_max", timings):
                    baselines = greedy_baselines(
                        self.sampler, prompts, self.tokenizer, self.reward_manager, self.global_step
                    )
            batch, layout_metrics = self._layout(batch)
            if self.greedy_baseline:
                batch = batch.union(Batch({GREEDY_BASELINES: per_sample(batch["uid"], baselines)}))
            log_prob_metrics: dict[str, float] = {}
            if self.recompute_old_log_prob:
                with timed("old_log_prob", timings):
                    batch, log_prob_metrics = self._old_log_prob(batch)
            if self.use_reference:
                with timed("ref", timings):
                    batch = self._ref_log_prob(batch)
            if self.critic is not None:
                with timed("values", timings):
                    batch = batch.union(self.critic.compute_values(batch))
            with timed("adv", timings):
                batch, adv_metrics = self._advantage(batch)
            critic_metrics: dict[str, float] = {}
            if self.critic is not None:
                with timed("update_critic", timings):
                    critic_metrics = self._update_critic(batch)
            actor_metrics: dict[str, float] = {}
            if self.global_step > int(self.config.trainer.critic_warmup):
                with timed("update_actor", timings):
                    actor_metrics = self._update_actor(batch)
            if self.pipeline is not None:
                with timed("weight_sync", timings):
                    self.pipeline.sync_weights(self.global_step)
            if self.config.trainer.save_freq > 0 and (is_last or self._due(self.config.trainer.save_freq)):
                with timed("save_checkpoint", timings):  # before validating: a crash there loses no training
                    self._save()
            last_validation = is_last and self.config.trainer.val_on_last_step
            if self.val_dataset is not None and (last_validation or self._due(self.config.trainer.test_freq)):
                with timed("testing", timings):
                    metrics |= self._validate()
            with timed("log", timings):
                metrics |= rollout_metrics | layout_metrics | reward_metrics | log_prob_metrics | adv_metrics
                metrics |= critic_metrics | actor_metrics
                metrics |= compute_data_metrics(batch, int(self.config.data.max_response_length))
                metrics |= {"training/global_step": self.global_step, "training/epoch": self.epoch}
        num_tokens = int(batch["attention_mask"].sum())
        num_response_tokens = int(batch["response_mask"].sum())
        metrics |= timing_metrics(timings, num_response_tokens, num_tokens)
        metrics |= throughput_metrics(
            timings["step"], timings["gen"], num_response_tokens, num_tokens, self.workers.world_size
        )
        self.tracker.log(metrics, self.global_step)
        return metrics

    def _due(self, frequency: int) -> bool:
        return frequency > 0 and self.global_step % frequency == 0

    # ------------------------------------------------------------------ data order
    def _start_epoch(self, epoch: int, loader_state: dict | None = None, batches_done: int = 0) -> None:
        """Epoch `epoch` shuffles with ``data.seed + epoch``; a loader state resumes it mid-way."""
        data = self.config.data
        self.epoch = epoch
        self._train_loader = build_dataloader(
            self.train_dataset, data, batch_size=prompts_per_round(self.config)[1], shuffle=bool(data.shuffle),
            seed=int(data.seed) + epoch, drop_last=True,
        )
        if loader_state is not None:
            self._train_loader.load_state_dict(loader_state)
        self._train_iter = iter(self._train_loader)
        self.batches_in_epoch = batches_done

    def _next_prompts(self, step: int, first: int = 0) -> Batch:
        """One round of prompts of training step `step`, next in the data order, with uids ``<step>-<i>``
        numbered from `first` (a step's later rounds continue the numbering)."""
        try:
            batch_dict = next(self._train_iter)
        except StopIteration:
            self._start_epoch(self.epoch + 1)
            batch_dict = next(self._train_iter)
        self.batches_in_epoch += 1
        prompts = Batch.from_dict(batch_dict)
        uid = np.array([f"{step}-{first + i}" for i in range(len(prompts))], dtype=object)
        return prompts.union(Batch(non_tensors={"uid": uid}))

    # ------------------------------------------------------------------ phases
    def _collect(self, timings: dict[str, float]) -> tuple[Batch, Batch, dict[str, float], dict[str, float]]:
        """Generate (``timing_s/gen``) and score (``timing_s/reward``) rounds of prompts until the step's batch
        is full (`maxrl.trainer.dynamic_sampling`: one round, kept whole, without filtering); return the kept
        prompts and samples, the rollout's metrics and the reward metrics of every generated sample."""
        rollout_metrics: dict[str, float] = {}

        def draw(gen_round: int) -> Round:
            with timed("gen", timings):
                prompts, samples, metrics = self._generate(gen_round)
            if gen_round == 0:
                rollout_metrics.update(metrics)
            with timed("reward", timings):
                scored = self._score(samples)
            return Round(prompts, samples.union(Batch({"token_level_scores": scored.token_level_scores})), scored)

        rounds, prompts, batch, census = self.collector.collect(draw)
        with timed("reward", timings):
            reward_metrics = self._reward_metrics(*all_generated(rounds))
        if self.pipeline is not None:  # the versions of the kept samples
            rollout_metrics |= self.pipeline.staleness_metrics(self.global_step, batch)
        return prompts, batch, rollout_metrics, reward_metrics | census.metrics()

    def _generate(self, gen_round: int) -> tuple[Batch, Batch, dict[str, float]]:
        """Round `gen_round` of the step's prompts and their ``rollout.n`` samples per prompt (drawn from the
        seed of (trainer.seed, step, rank[, round])) and the rollout's ``rollout/*`` values from the batch's
        meta (e.g. the weight-sync check's gap); with a rollout group, from the pipeline, with its ``async/*``
        metrics (round 0 was drawn ahead; later rounds are drawn now, by the rollout group's newest version)."""
        step = self.global_step
        if self.pipeline is not None and gen_round == 0:
            prompts, batch, metrics = self.pipeline.take(step, self.total_steps, self._next_prompts)
        else:
            prompts = self._next_prompts(step, first=gen_round * prompts_per_round(self.config)[1])
            sampler = self.workers if self.pipeline is None else self.pipeline
            batch, metrics = sampler.generate_sequences(prompts, validate=False, step=step, gen_round=gen_round), {}
        rollout = {key: float(value) for key, value in batch.meta.items() if key.startswith("rollout/")}
        return prompts, batch, rollout | metrics

    def _layout(self, batch: Batch) -> tuple[Batch, dict[str, float]]:
        """Order rows for the update phase (rank r holds slice r of every mini-batch), balanced if asked."""
        ranks = self.workers.dp_size
        mini_batch = self.batch_sizes.mini_batch_samples
        lengths = batch["attention_mask"].sum(dim=-1).numpy()
        to_ranks = update_order(len(batch), mini_batch, ranks).numpy()
        if self.config.trainer.balance_batch:
            order = balanced_layout(lengths, mini_batch, ranks)[to_ranks]
        else:
            order = to_ranks
        metrics = balance_metrics(tokens_per_rank(lengths[to_ranks], ranks), tokens_per_rank(lengths[order], ranks))
        self._layout_order = order
        return batch.reorder(order), metrics

    def _score(self, batch: Batch) -> Scored:
        """The reward manager's verdict on `batch`, with the overlong penalty when the config asks for it."""
        scored = score_batch(batch, self.tokenizer, self.reward_manager, self.multi_turn.turn_rewards)
        return scored if self.overlong is None else with_overlong_penalty(batch, scored, self.overlong)

    def _reward_metrics(self, batch: Batch, scored: Scored) -> dict[str, float]:
        """Pass rates, the scorer's extras and counters over every sample generated in the step; the samples'
        files (``trainer.rollout_data_dir``, multi-turn episodes) written."""
        success = success_of(scored.scores, scored.extras)
        metrics = pass_rate_metrics(batch["uid"], batch["data_source"], success, "train") | scored.metrics
        for name, values in scored.extras.items():
            values = np.asarray(values)
            if values.dtype.kind in "biuf":
                metrics[f"reward_extra/{name}/mean"] = float(values.astype(np.float64).mean())
        if self.config.trainer.rollout_data_dir:
            path = Path(self.config.trainer.rollout_data_dir) / f"step_{self.global_step}.jsonl"
            write_samples(path, decode_prompts(batch, self.tokenizer), scored, batch["uid"])
        if self.multi_turn.enable:  # for the rollout viewer (python -m maxrl.agents.viewer)
            write_episodes(self.run_dir, self.global_step, episode_records(batch, self.tokenizer, scored.scores))
        return metrics | episode_metrics(batch)

    def _old_log_prob(self, batch: Batch) -> tuple[Batch, dict[str, float]]:
        """The trainer's log-probs of the sampled tokens (the PPO ratio's denominator) and their gap to the
        sampler's. (``actor/entropy`` comes from the update's forward, over the same tokens.)"""
        batch = batch.union(self.workers.compute_log_prob(batch))
        if "rollout_log_probs" not in batch:
            return batch, {}
        gap = rollout_mismatch_metrics(batch["rollout_log_probs"], batch["old_log_probs"], batch["response_mask"])
        return batch, gap

    def _ref_log_prob(self, batch: Batch) -> Batch:
        return batch.union(self.workers.compute_ref_log_prob(batch))

    def _advantage(self, batch: Batch) -> tuple[Batch, dict[str, float]]:
        rewards, metrics = batch["token_level_scores"], {}
        if self.kl_ctrl is not None:
            rewards, metrics = kl_penalized_rewards(
                rewards, batch["old_log_probs"], batch["ref_log_prob"], batch["response_mask"],
                self.config.algorithm.kl_penalty, self.kl_ctrl,
            )
        name = self.config.algorithm.adv_estimator
        inputs = gather_extra_inputs(get_advantage_spec(name).extra_inputs, batch)
        advantages, returns = compute_advantage(
            name, rewards, batch["response_mask"], batch["uid"],
            **{**self.algorithm_knobs, **inputs, "group_size": self.group_size},
        )
        fields = {"token_level_rewards": rewards, "advantages": advantages, "returns": returns}
        return batch.union(Batch(fields)), metrics

    def _update_critic(self, batch: Batch) -> dict[str, float]:
        """The critic's step; its mini-batches are those of the generation order when their size or the
        critic's ranks differ from the actor's layout."""
        samples, ranks = self.critic_sizes.mini_batch_samples, self.critic.dp_size
        if samples != self.batch_sizes.mini_batch_samples or ranks != self.workers.dp_size:
            in_generation_order = np.argsort(self._layout_order)
            batch = batch.reorder(in_generation_order[update_order(len(batch), samples, ranks).numpy()])
        return dict(self.critic.update_critic(batch)[0])

    def _update_actor(self, batch: Batch) -> dict[str, float]:
        return dict(self.workers.update_actor(batch)[0])

    def _validate(self) -> dict[str, float]:
        data = self.config.data
        loader = build_dataloader(
            self.val_dataset, data, batch_size=int(data.val_batch_size or len(self.val_dataset)), shuffle=False,
            seed=int(data.seed), drop_last=False,
        )
        return validate(
            self.sampler, loader, self.tokenizer, self.reward_manager, self.val_ks, self.global_step, self.run_dir,
            log_generations=int(self.config.trainer.log_val_generations),
        )

    # ------------------------------------------------------------------ checkpoints
    def _save(self) -> None:
        def save_actor(actor_dir: Path) -> None:
            self.workers.save_checkpoint(str(actor_dir))
            self.workers.export_hf(str(actor_dir / HF_DIR))

        trainer_state = {
            "global_step": self.global_step,
            "epoch": self.epoch,
            "batches_in_epoch": self.batches_in_epoch,
            "rng": _rng_states(),
            "kl_coef": None if self.kl_ctrl is None else self.kl_ctrl.value,
            "wandb_run_id": self.tracker.wandb_run_id if self.tracker is not None else None,
        }
        if self.pipeline is not None:  # samples drawn for later steps, with the loader already past them
            trainer_state["in_flight"] = self.pipeline.state()
        self.checkpoints.save(
            self.global_step, save_actor, self._train_loader.state_dict(), trainer_state, save_critic=self._critic_io("save")
        )

    def _critic_io(self, action: str):
        """The critic's ``save`` / ``load`` of a checkpoint folder, or None without a critic."""
        if self.critic is None:
            return None
        method = getattr(self.critic, f"{action}_critic_checkpoint")
        return lambda critic_dir: method(str(critic_dir))

    def _restore(self) -> None:
        """Load the checkpoint chosen by ``trainer.resume_mode``, or start epoch 0 afresh."""
        trainer_cfg = self.config.trainer
        step_dir = self.checkpoints.resume_dir(trainer_cfg.resume_mode, trainer_cfg.resume_from_path)
        if step_dir is None:
            if self.train_dataset is not None:
                self._start_epoch(0)
            return
        logger.info("resuming from %s", step_dir)
        loader_state, state = CheckpointManager.load(
            step_dir, lambda actor_dir: self.workers.load_checkpoint(str(actor_dir)), self._critic_io("load")
        )
        self.global_step = int(state["global_step"])
        if self.train_dataset is not None:  # (a validation-only run needs just the weights)
            if state["batches_in_epoch"] >= steps_per_epoch(self.config, len(self.train_dataset)):
                self._start_epoch(int(state["epoch"]) + 1)  # saved exactly at the end of an epoch
            else:
                self._start_epoch(int(state["epoch"]), loader_state, int(state["batches_in_epoch"]))
        _set_rng_states(state["rng"])
        if self.kl_ctrl is not None and state["kl_coef"] is not None:
            self.kl_ctrl.value = float(state["kl_coef"])
        self._wandb_run_id = state["wandb_run_id"]
        in_flight = state.get("in_flight", [])  # checkpoints written before the async pipeline have none
        if self.pipeline is not None:
            self.pipeline.load_state(in_flight)
        elif in_flight and not self.config.trainer.val_only:  # their prompts are behind the saved loader position: they would be skipped
            raise ValueError(
                f"{step_dir} holds samples drawn ahead for steps {[entry['step'] for entry in in_flight]} by a run with "
                "actor_rollout_ref.rollout.placement=separate; resume it with that placement"
            )
