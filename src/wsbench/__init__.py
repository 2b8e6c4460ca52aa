"""wsbench: build, train and judge weight-sharing NAS super-nets fairly on real tabular benchmarks."""

__version__ = "0.1.0"


def judge(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Judge scores of architectures against a ground-truth table: ``wsbench.judge(archs, scores, table="nb201",
    metric="cifar10_test_200ep")`` returns a ``JudgeResult`` (see ``wsbench.evaluate.judge.judge``)."""
    from wsbench.evaluate.judge import judge as _judge

    return _judge(*args, **kwargs)
