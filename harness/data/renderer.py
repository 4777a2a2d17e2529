"""A procedural, batched ray caster of 3D Shapes scenes (paper Appendix D.2.1).

The scene mirrors 3D Shapes (Burgess & Kim, 2018): a floor (the plane y = 0), a wall behind the
object (the plane z = ``wall_distance``) and one object standing on the floor at the origin. The
six factors (`harness.data.factors`) set the floor, wall and object hues, the object's scale and
shape (cube, cylinder, sphere, capsule), and the orientation: here the azimuth, in degrees, of
the camera around the vertical axis through the object. Turning the camera rather than only the
object is a deliberate choice: it keeps the orientation visible for the three shapes that are
symmetric about the vertical axis (the floor/wall edge tilts and the light falls differently),
so that every factor is identifiable from every image.

Every pixel casts a ray (``supersample``² rays per pixel, averaged for anti-aliasing) which is
intersected analytically with the floor, the wall and the object; the nearest hit is shaded with
a Lambertian model under one directional light, and floor and wall points whose ray towards the
light meets the object lie in the object's shadow. Everything is elementwise torch on the device
of the input, so rendering is deterministic and batched on CPU or GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as nnf

_INF = float("inf")


@dataclass(frozen=True)
class SceneConfig:
    """Camera, geometry and materials of the scene (defaults give 3D Shapes-like framing).

    Attributes:
        image_size: output height = width, in pixels.
        supersample: rays per pixel along each axis (anti-aliasing); cost grows as its square.
        camera_distance: distance from the camera to its target point above the object.
        camera_elevation_deg: angle of the view direction below the horizontal.
        target_height: height of the point the camera looks at.
        field_of_view_deg: vertical (= horizontal) field of view.
        wall_distance: z of the wall plane behind the object.
        light_direction: direction towards the directional light (normalised internally).
        ambient: ambient light level in [0, 1]; diffuse light is ``1 - ambient``.
        surface_saturation: HSV saturation of floor and wall.
        object_saturation: HSV saturation of the object.
    """

    image_size: int = 64
    supersample: int = 2
    camera_distance: float = 4.6
    camera_elevation_deg: float = 13.0
    target_height: float = 0.75
    field_of_view_deg: float = 33.0
    wall_distance: float = 2.6
    light_direction: tuple[float, float, float] = (-0.45, 1.0, -0.65)
    ambient: float = 0.45
    surface_saturation: float = 0.7
    object_saturation: float = 0.85

    def __post_init__(self) -> None:
        if self.image_size < 1:
            raise ValueError(f"image_size must be >= 1, got {self.image_size}")
        if self.supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {self.supersample}")
        if not 0.0 <= self.ambient <= 1.0:
            raise ValueError(f"ambient must lie in [0, 1], got {self.ambient}")


def hsv_to_rgb(hue: torch.Tensor, saturation: float, value: float = 1.0) -> torch.Tensor:
    """HSV colours (hue in [0, 1), shape (...,)) -> RGB in [0, 1], shape (..., 3)."""
    n = torch.tensor([5.0, 3.0, 1.0], dtype=hue.dtype, device=hue.device)
    k = torch.remainder(n + hue[..., None] * 6.0, 6.0)
    ramp = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return value - value * saturation * ramp


SURFACES: tuple[str, ...] = ("floor", "wall", "object")


def render(
    factors: torch.Tensor,
    config: SceneConfig | None = None,
    chunk_size: int = 32,
) -> torch.Tensor:
    """Render scenes from raw factor values.

    Args:
        factors: (B, 6) values in `FACTOR_NAMES` order: hues in [0, 1), scale (object size,
            ~0.75-1.25), shape code (0 cube, 1 cylinder, 2 sphere, 3 capsule), orientation in
            degrees. Any float dtype and device; rendering happens on that device.
        config: scene settings; `SceneConfig()` by default.
        chunk_size: images ray-cast at once (peak memory ~ 10 MB per scene at supersample 2).

    Returns:
        Images (B, 3, image_size, image_size), float32, values in [0, 1].
    """
    config = config or SceneConfig()
    _check_factors(factors, 6)
    layers = render_layers(factors[:, 3:], config, chunk_size)
    return composite(layers, factors[:, :3], config)


def render_layers(
    geometry: torch.Tensor,
    config: SceneConfig | None = None,
    chunk_size: int = 32,
) -> torch.Tensor:
    """Ray-cast the geometry of scenes, leaving the colours out.

    The image of a scene is linear in the colours of its three surfaces:
    ``image[c, y, x] = sum_s layers[s, y, x] * rgb[s, c]`` where ``layers[s]`` is the fraction of
    pixel (y, x) covered by surface s times its shading, averaged over the supersampled rays. So
    the 480 geometries of the 3D Shapes grid (8 scales x 4 shapes x 15 orientations) can be
    ray-cast once and any image composited from them exactly (see `composite`).

    Args:
        geometry: (B, 3) raw values of (scale, shape code, orientation in degrees).
        config: scene settings; `SceneConfig()` by default.
        chunk_size: scenes ray-cast at once.

    Returns:
        Layers (B, 3, image_size, image_size), float32: floor, wall, object (`SURFACES`).
    """
    config = config or SceneConfig()
    _check_factors(geometry, 3)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    geometry = geometry.to(torch.float32)
    size = config.image_size
    if geometry.shape[0] == 0:
        return geometry.new_zeros(0, len(SURFACES), size, size)
    return torch.cat([_layers_chunk(g, config) for g in geometry.split(chunk_size)])


def composite(
    layers: torch.Tensor, hues: torch.Tensor, config: SceneConfig | None = None
) -> torch.Tensor:
    """Colour geometry layers (B, 3, H, W) with hues (B, 3) of floor, wall, object.

    Returns images (B, 3, H, W) in [0, 1], in the dtype of ``layers``.
    """
    config = config or SceneConfig()
    _check_factors(hues, 3)
    if layers.ndim != 4 or layers.shape[:2] != (hues.shape[0], len(SURFACES)):
        raise ValueError(
            f"layers: expected shape ({hues.shape[0]}, 3, H, W), got {tuple(layers.shape)}"
        )
    hues = hues.to(device=layers.device, dtype=layers.dtype)
    rgb = torch.stack(
        [
            hsv_to_rgb(hues[:, 0], config.surface_saturation),
            hsv_to_rgb(hues[:, 1], config.surface_saturation),
            hsv_to_rgb(hues[:, 2], config.object_saturation),
        ],
        dim=1,
    )  # (B, surface, channel)
    return torch.einsum("bshw,bsc->bchw", layers, rgb).clamp(0.0, 1.0)


def _check_factors(values: torch.Tensor, width: int) -> None:
    if values.ndim != 2 or values.shape[-1] != width:
        raise ValueError(f"factors: expected shape (B, {width}), got {tuple(values.shape)}")
    if not torch.is_floating_point(values) or not torch.isfinite(values).all():
        raise ValueError("factors: expected finite floating-point values")


def _layers_chunk(geometry: torch.Tensor, cfg: SceneConfig) -> torch.Tensor:
    device = geometry.device
    scale, shape = geometry[:, 0], geometry[:, 1]
    res = cfg.image_size * cfg.supersample
    origin, directions = _camera_rays(geometry[:, 2], res, cfg)  # (B, 3), (B, P, 3)
    light = torch.tensor(cfg.light_direction, device=device)
    light = light / light.norm()

    # Floor (y = 0) and wall (z = wall_distance): plane intersections.
    dy, dz = directions[..., 1], directions[..., 2]
    t_floor = torch.where(dy < 0, -origin[:, 1:2] / dy.clamp(max=-1e-9), _INF)
    t_wall = torch.where(dz > 0, (cfg.wall_distance - origin[:, 2:3]) / dz.clamp(min=1e-9), _INF)
    t_object, normal = _intersect_objects(origin, directions, scale, shape)

    # Shadows: a floor/wall point is shadowed when its ray towards the light meets the object.
    t_plane = torch.minimum(t_floor, t_wall)
    points = origin[:, None, :] + t_plane.clamp(max=1e3)[..., None] * directions
    shadow_dirs = light.expand_as(directions)
    t_shadow, _ = _intersect_objects(points + 1e-3 * light, shadow_dirs, scale, shape)
    lit = torch.isinf(t_shadow).to(directions.dtype)

    diffuse = 1.0 - cfg.ambient
    on_object = t_object < t_plane
    on_floor = ~on_object & (t_floor < t_wall)
    on_wall = ~on_object & ~on_floor
    layers = torch.stack(
        [
            on_floor * (cfg.ambient + diffuse * lit * light[1].clamp(min=0)),
            on_wall * (cfg.ambient + diffuse * lit * (-light[2]).clamp(min=0)),
            on_object * (cfg.ambient + diffuse * (normal @ light).clamp(min=0)),
        ],
        dim=1,
    )  # (B, surface, P)
    layers = layers.reshape(-1, len(SURFACES), res, res)
    if cfg.supersample > 1:
        layers = nnf.avg_pool2d(layers, cfg.supersample)
    return layers.contiguous()


def _camera_rays(
    orientation_deg: torch.Tensor, res: int, cfg: SceneConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Camera origins (B, 3) and unit ray directions (B, res*res, 3), rows top to bottom."""
    device = orientation_deg.device
    azimuth = torch.deg2rad(orientation_deg)
    elevation = math.radians(cfg.camera_elevation_deg)
    # Forward (view) direction: towards +z (the wall), tilted down, turned by the azimuth.
    forward = torch.stack(
        [
            torch.sin(azimuth) * math.cos(elevation),
            torch.full_like(azimuth, -math.sin(elevation)),
            torch.cos(azimuth) * math.cos(elevation),
        ],
        dim=-1,
    )
    up_world = torch.tensor([0.0, 1.0, 0.0], device=device).expand_as(forward)
    right = torch.linalg.cross(up_world, forward)
    right = right / right.norm(dim=-1, keepdim=True)
    up = torch.linalg.cross(forward, right)
    target = torch.tensor([0.0, cfg.target_height, 0.0], device=device)
    origin = target - cfg.camera_distance * forward

    half = math.tan(math.radians(cfg.field_of_view_deg) / 2)
    coords = (torch.arange(res, device=device, dtype=torch.float32) + 0.5) / res * 2 - 1
    sy, sx = torch.meshgrid(-coords * half, coords * half, indexing="ij")
    screen = torch.stack([sx, sy, torch.ones_like(sx)], dim=-1).reshape(-1, 3)  # (P, 3)
    basis = torch.stack([right, up, forward], dim=1)  # (B, 3, 3), rows = camera axes
    directions = screen @ basis  # (B, P, 3)
    return origin, directions / directions.norm(dim=-1, keepdim=True)


def _intersect_objects(
    origin: torch.Tensor,
    directions: torch.Tensor,
    scale: torch.Tensor,
    shape: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest positive hit of each ray with its image's object.

    Args:
        origin: ray origins, (B, 3) shared by an image's rays or (B, P, 3) per ray.
        directions: unit directions (B, P, 3).
        scale: (B,) object scales; shape: (B,) shape codes 0-3.

    Returns:
        Distances t (B, P), ``inf`` on a miss, and unit normals (B, P, 3) at the hit.
    """
    t = torch.full(directions.shape[:2], _INF, device=directions.device)
    normal = torch.zeros_like(directions)
    origin = origin.expand_as(directions) if origin.ndim == 3 else origin[:, None, :]
    code = shape.round().long()
    for k, intersect in enumerate(_SHAPES):
        rows = torch.nonzero(code == k).squeeze(-1)
        if rows.numel() == 0:
            continue
        o = origin[rows].expand(-1, directions.shape[1], -1)
        t_k, n_k = intersect(o, directions[rows], scale[rows, None])
        t[rows] = t_k
        normal[rows] = n_k
    return t, normal


def _nearest(*hits: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Elementwise nearest of several (t, normal) candidate hits."""
    t, normal = hits[0]
    for t_k, n_k in hits[1:]:
        closer = t_k < t
        t = torch.where(closer, t_k, t)
        normal = torch.where(closer[..., None], n_k, normal)
    return t, normal


def _sphere(
    o: torch.Tensor, d: torch.Tensor, center_y: torch.Tensor, radius: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sphere centred at (0, center_y, 0); center_y and radius broadcast to (B, P)."""
    oc = o - torch.stack(
        [torch.zeros_like(center_y), center_y, torch.zeros_like(center_y)], -1
    ).expand_as(o)
    b = (oc * d).sum(-1)
    disc = b * b - (oc * oc).sum(-1) + radius * radius
    t = -b - disc.clamp(min=0).sqrt()
    t = torch.where((disc >= 0) & (t > 0), t, _INF)
    normal = (oc + t.clamp(max=1e3)[..., None] * d) / radius[..., None]
    return t, normal


def _cylinder_side(
    o: torch.Tensor,
    d: torch.Tensor,
    radius: torch.Tensor,
    y_low: torch.Tensor,
    y_high: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Side of the vertical cylinder x² + z² = radius², y in [y_low, y_high]."""
    a = d[..., 0] ** 2 + d[..., 2] ** 2
    b = o[..., 0] * d[..., 0] + o[..., 2] * d[..., 2]
    c = o[..., 0] ** 2 + o[..., 2] ** 2 - radius**2
    disc = b * b - a * c
    t = (-b - disc.clamp(min=0).sqrt()) / a.clamp(min=1e-12)
    y = o[..., 1] + t * d[..., 1]
    t = torch.where((disc >= 0) & (t > 0) & (y >= y_low) & (y <= y_high), t, _INF)
    p = o + t.clamp(max=1e3)[..., None] * d
    normal = torch.stack([p[..., 0], torch.zeros_like(t), p[..., 2]], -1) / radius[..., None]
    return t, normal


def _cube(
    o: torch.Tensor, d: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Axis-aligned cube of side 0.9·scale standing on the floor (slab method)."""
    a = (0.45 * scale).expand(d.shape[:2])
    zero = torch.zeros_like(a)
    low = torch.stack([-a, zero, -a], -1)
    high = torch.stack([a, 2 * a, a], -1)
    inv = 1.0 / torch.where(d.abs() < 1e-9, torch.full_like(d, 1e-9), d)
    t1, t2 = (low - o) * inv, (high - o) * inv
    t_near, t_far = torch.minimum(t1, t2), torch.maximum(t1, t2)
    t_enter, axis = t_near.max(-1)
    t_exit = t_far.min(-1).values
    t = torch.where((t_enter <= t_exit) & (t_enter > 0), t_enter, _INF)
    normal = -torch.sign(d) * nnf.one_hot(axis, 3).to(d.dtype)
    return t, normal


def _cylinder(
    o: torch.Tensor, d: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vertical cylinder of radius 0.45·scale and height 0.9·scale, with its top cap."""
    radius = (0.45 * scale).expand(d.shape[:2])
    height = 2 * radius
    side = _cylinder_side(o, d, radius, torch.zeros_like(radius), height)
    t_cap = (height - o[..., 1]) / torch.where(d[..., 1] < 0, d[..., 1], -1e-9)
    p = o + t_cap.clamp(min=0, max=1e3)[..., None] * d
    inside = p[..., 0] ** 2 + p[..., 2] ** 2 <= radius**2
    t_cap = torch.where((d[..., 1] < 0) & (t_cap > 0) & inside, t_cap, _INF)
    cap_normal = torch.zeros_like(d)
    cap_normal[..., 1] = 1.0
    return _nearest(side, (t_cap, cap_normal))


def _sphere_shape(
    o: torch.Tensor, d: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sphere of radius 0.5·scale resting on the floor."""
    radius = (0.5 * scale).expand(d.shape[:2])
    return _sphere(o, d, radius, radius)


def _capsule(
    o: torch.Tensor, d: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Upright capsule of radius 0.32·scale and total height 1.2·scale."""
    radius = (0.32 * scale).expand(d.shape[:2])
    top = 1.2 * scale.expand(d.shape[:2]) - radius
    return _nearest(
        _cylinder_side(o, d, radius, radius, top),
        _sphere(o, d, radius, radius),
        _sphere(o, d, top, radius),
    )


_SHAPES = (_cube, _cylinder, _sphere_shape, _capsule)
