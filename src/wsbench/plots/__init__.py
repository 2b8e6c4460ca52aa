"""Every figure of wsbench, in one home (matplotlib, imported only when a figure is drawn).

``scatter``: a run's proxy-vs-ground-truth scatter (written by training after each evaluation); ``regret``: regret
curves of searches (written by search sessions); ``figures``: the report's figures (bias scatter coloured by a
structural property, rank disorder, sampler coverage, metric and training curves, study pairs). The package sits
below training and search, which draw figures as they run, and above evaluation and sampling, whose results the
figures show; ``wsbench.report`` composes them into documents.
"""
