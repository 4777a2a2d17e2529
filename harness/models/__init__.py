"""Neural networks of the harness."""

from harness.models.backbones import Conv4, DropBlock, ResNet12, backbone
from harness.models.encoder import ConvEncoder, TaskBatchNorm

__all__ = ["Conv4", "ConvEncoder", "DropBlock", "ResNet12", "TaskBatchNorm", "backbone"]
