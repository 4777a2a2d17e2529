"""Run by tests/core/test_threads.py in a fresh process: ``python _threads_probe.py OUT [N]``
computes solutions and gradients whose linear systems exceed 150 unknowns, after
``torch.set_num_threads(N)`` when N is given, and saves them to OUT."""

import sys

import torch

if len(sys.argv) > 2:
    torch.set_num_threads(int(sys.argv[2]))

import sparselayers.functional as SF  # noqa: E402

g = torch.Generator().manual_seed(0)
out = {}
# Ridge: normal equations of size m = 200 (m <= n) and n = 180 (m > n), batched.
F = torch.randn(3, 300, 200, generator=g, dtype=torch.float64)
Y = torch.randn(3, 300, 2, generator=g, dtype=torch.float64)
out["ridge"] = SF.ridge(F, Y, 0.05).weights
wide = torch.randn(3, 180, 400, generator=g, dtype=torch.float64)
out["ridge_wide"] = SF.ridge(wide, Y[:, :180], 0.05).weights
# Lasso: ~180 active features at a small λ; the implicit backward solves on the support.
F = torch.randn(3, 400, 220, generator=g, dtype=torch.float64, requires_grad=True)
y = torch.randn(3, 400, generator=g, dtype=torch.float64)
w = SF.group_lasso(F, y, 0.002, relative=True, tol=1e-10).weights
w.square().sum().backward()
out["lasso"], out["lasso_grad"] = w.detach(), F.grad
# SVM head, 15-shot 5-way: the dual's face system has n·k = 375 unknowns.
labels = torch.arange(5).repeat_interleave(15).expand(2, 75)
F = torch.randn(2, 75, 64, generator=g, dtype=torch.float64, requires_grad=True)
W = SF.group_lasso_svm_dual(F, labels, 0.0, 1.0, num_classes=5, tol=1e-10, max_iter=20_000).weights
W.square().sum().backward()
out["svm"], out["svm_grad"] = W.detach(), F.grad
torch.save(out, sys.argv[1])
