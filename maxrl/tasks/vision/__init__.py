"""Classification as sampling-based RL: the paper's ImageNet experiment and an offline CPU version.

A classifier's softmax is a policy over labels; sampling N labels per image and rewarding the true one turns
cross-entropy training into RL, where the exact maximum-likelihood gradient is known. Entry points:
``python -m maxrl.tasks.vision.train`` (one run) and ``python -m maxrl.tasks.vision.compare`` (all
objectives, a table and plots). See docs/vision.md.
"""
