"""wsbench.train: the super-net training protocol P_ws (loop, optimisers, schedule, checkpoints, run directory)."""

from wsbench.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from wsbench.train.loop import TrainingDiverged, train_supernet
from wsbench.train.optim import CosineSchedule, RMSpropTF, build_optimizer, build_schedule
from wsbench.train.run import RunDir
from wsbench.train.setup import Components, build_components

__all__ = ["CheckpointError", "Components", "CosineSchedule", "RMSpropTF", "RunDir", "TrainingDiverged",
           "build_components", "build_optimizer", "build_schedule", "load_checkpoint", "save_checkpoint",
           "train_supernet"]
