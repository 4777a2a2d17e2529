import pytest
import torch

from harness.data import ProceduralShapes, SceneConfig, render, render_layers, shapes3d_grid

BASE = torch.tensor([[0.3, 0.6, 0.0, 1.0, 0.0, 0.0]])


def _with(column: int, value: float) -> torch.Tensor:
    factors = BASE.clone()
    factors[0, column] = value
    return factors


def test_render_shape_range_and_determinism():
    factors = shapes3d_grid().values_at(torch.arange(0, 480_000, 40_000))
    images = render(factors)
    assert images.shape == (12, 3, 64, 64) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert torch.equal(images, render(factors))
    # Batching does not change an image.
    assert torch.allclose(images[3:4], render(factors[3:4]), atol=1e-6)


def test_layers_partition_the_image():
    layers = render_layers(BASE[:, 3:])
    coverage = (layers > 0).float()
    # Floor at the bottom, wall at the top, object in the middle.
    assert coverage[0, 0, -1].mean() == 1 and coverage[0, 1, 0].mean() == 1
    assert coverage[0, 2, 32].sum() > 0 and coverage[0, 2, :, :8].sum() == 0


@pytest.mark.parametrize(
    ("column", "value", "surface"),
    [(0, 0.8, 0), (1, 0.1, 1), (2, 0.5, 2)],
    ids=["floor_hue", "wall_hue", "object_hue"],
)
def test_each_hue_changes_only_its_surface(column, value, surface):
    layers = render_layers(BASE[:, 3:])[0]
    changed = (render(_with(column, value)) - render(BASE)).abs().sum(1)[0] > 1e-6
    assert changed.any()
    assert not changed[layers[surface] == 0].any()


@pytest.mark.parametrize(
    ("column", "value"), [(3, 1.25), (4, 2.0), (4, 3.0)], ids=["scale", "sphere", "capsule"]
)
def test_scale_and_shape_change_the_object(column, value):
    before = render_layers(BASE[:, 3:])[0, 2] > 0
    after = render_layers(_with(column, value)[:, 3:])[0, 2] > 0
    assert (before != after).sum() > 20


def test_orientation_turns_the_view():
    before, after = render_layers(BASE[:, 3:])[0], render_layers(_with(5, 30.0)[:, 3:])[0]
    floor_wall_edge = (before[0] > 0) != (after[0] > 0)
    assert floor_wall_edge.sum() > 20
    # A cube shows another face: the object's shading changes.
    assert (before[2] - after[2]).abs().max() > 0.05


def test_procedural_dataset_equals_render():
    config = SceneConfig(image_size=16, supersample=1)
    source = ProceduralShapes(scene=config)
    index = torch.tensor([[0, 123_457], [479_999, 250_000]])
    images = source.images(index)
    assert images.shape == (2, 2, 3, 16, 16)
    expected = render(source.grid.values_at(index.reshape(-1)), config).reshape(2, 2, 3, 16, 16)
    assert torch.allclose(images, expected, atol=1e-6)
    with pytest.raises(ValueError, match="index"):
        source.images(torch.tensor([480_000]))


def test_render_rejects_bad_factors():
    with pytest.raises(ValueError, match="factors"):
        render(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="factors"):
        render(torch.full((1, 6), float("nan")))
    with pytest.raises(ValueError, match="supersample"):
        SceneConfig(supersample=0)
