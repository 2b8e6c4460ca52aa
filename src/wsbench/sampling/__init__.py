"""wsbench.sampling: path samplers for super-net training (Random-NAS, Random-A, FairNAS, pro-rata)."""

from wsbench.sampling.samplers import (
    SAMPLERS,
    FairNAS,
    ProRata,
    RandomA,
    RandomNAS,
    Sampler,
    SamplerError,
    make_sampler,
)
from wsbench.spaces.base import permuted_choices

__all__ = ["SAMPLERS", "FairNAS", "ProRata", "RandomA", "RandomNAS", "Sampler", "SamplerError", "make_sampler",
           "permuted_choices"]
