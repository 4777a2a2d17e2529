"""Atomic checkpoints (harness.checkpoint)."""

from pathlib import Path

import pytest
import torch

from harness.checkpoint import load_checkpoint, resume_modules, save_checkpoint


def test_round_trip_and_resume(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    path = save_checkpoint(
        tmp_path / "sub" / "ck.pt",
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": 7},
    )
    other = torch.nn.Linear(3, 2)
    other_opt = torch.optim.Adam(other.parameters())
    step = resume_modules(load_checkpoint(path), model=other, optimizer=other_opt)
    assert step == 7
    assert torch.equal(other.weight, model.weight)
    assert other_opt.state_dict()["state"][0]["step"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["ck.pt"]  # no temporary file left


def test_missing_is_none_and_overwrite_keeps_one_file(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    assert load_checkpoint(path) is None
    assert resume_modules(None, model=torch.nn.Linear(1, 1)) == 0
    save_checkpoint(path, {"step": 1})
    save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path) == {"step": 2}


def test_errors(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        load_checkpoint(path)
    save_checkpoint(path, {"step": 1})
    with pytest.raises(ValueError, match="no entry 'model'"):
        resume_modules(load_checkpoint(path), model=torch.nn.Linear(1, 1))
