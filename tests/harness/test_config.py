"""The config idiom: one flag per dataclass field, only given flags override the preset."""

import argparse
from dataclasses import dataclass

import pytest

from harness.config import add_config_arguments, config_overrides, config_to_dict


@dataclass(frozen=True)
class Example:
    steps: int = 10
    lr: float = 1e-3
    name: str = "a"
    shuffle: bool = True
    eval_points: int | None = 50
    lams: tuple[float, ...] = (0.0, 0.1)


def parse(*argv: str) -> dict:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Example, skip=("name",))
    return config_overrides(parser.parse_args(list(argv)), Example, skip=("name",))


def test_only_given_flags_override() -> None:
    assert parse() == {}
    given = parse("--steps", "3", "--lr", "0.5", "--no-shuffle", "--lams", "1", "2")
    assert given == {"steps": 3, "lr": 0.5, "shuffle": False, "lams": (1.0, 2.0)}
    assert parse("--eval-points", "none") == {"eval_points": None}
    assert parse("--eval-points", "7") == {"eval_points": 7}


def test_bad_values_and_skipped_fields_are_refused(capsys) -> None:
    with pytest.raises(SystemExit):
        parse("--steps", "many")
    assert "--steps" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("--name", "b")  # skipped: not a flag


def test_config_record_is_json_ready() -> None:
    assert config_to_dict(Example()) == {
        "steps": 10,
        "lr": 1e-3,
        "name": "a",
        "shuffle": True,
        "eval_points": 50,
        "lams": [0.0, 0.1],
    }
