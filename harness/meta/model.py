"""The meta-learner: a backbone embedding support and query images, then a head (Problem 7)."""

from __future__ import annotations

import torch
from torch import nn

from harness.data.fewshot import EpisodeBatch
from harness.meta.heads import HeadOutput, MetaHead


class MetaLearner(nn.Module):
    """``backbone`` features of each episode's images, then ``head``.

    Each episode goes through the backbone on its own, so batch-norm statistics are per episode
    (as in the paper's per-task batch norm, Appendix D.2) and do not depend on which episodes
    share a process: one process and a DDP job with the same global batch compute the same loss.
    """

    def __init__(self, backbone: nn.Module, head: MetaHead) -> None:
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, batch: EpisodeBatch) -> HeadOutput:
        """`EpisodeBatch` of B episodes -> head output with logits (B, N*Q, N)."""
        ns = batch.support.shape[1]
        features = [
            self.backbone(torch.cat([s, q]))
            for s, q in zip(batch.support, batch.query, strict=True)
        ]
        stacked = torch.stack(features)  # (B, n_support + n_query, m)
        return self.head(stacked[:, :ns], batch.support_labels, stacked[:, ns:])
