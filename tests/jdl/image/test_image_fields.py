"""Fields on the sky: validation, boxes, corners, and the overlap and containment tests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsrf_uws.jdl.image.fields import (
    MAX_FIELD_SIZE,
    Field,
    angular_distance,
    polygon_contains,
    tangent_plane,
)

from image_support import frame_wcs


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((10.0, 91.0, 1.0, 1.0), "dec 91.0 is outside -90..90"),
        ((10.0, -90.5, 1.0, 1.0), "dec -90.5 is outside"),
        ((10.0, 0.0, 0.0, 1.0), "width 0.0 degrees is not allowed"),
        ((10.0, 0.0, 1.0, -2.0), "height -2.0 degrees is not allowed"),
        ((10.0, 0.0, MAX_FIELD_SIZE + 0.1, 1.0), f"at most {MAX_FIELD_SIZE:g} degrees"),
        ((math.nan, 0.0, 1.0, 1.0), "ra must be a finite number"),
        ((10.0, math.inf, 1.0, 1.0), "dec must be a finite number"),
        ((10.0, 0.0, "wide", 1.0), "width must be a finite number"),
    ],
)
def test_invalid_fields_are_refused_precisely(arguments: tuple[float, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Field(*arguments)


def test_ra_is_normalised() -> None:
    assert Field(-10.0, 0.0, 1.0, 1.0).ra == 350.0
    assert Field(370.0, 0.0, 1.0, 1.0).ra == pytest.approx(10.0)
    assert Field(-1e-17, 0.0, 1.0, 1.0).ra == 0.0
    assert Field(10, 0, 1, 1) == Field(10.0, 0.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("box", "centre", "size"),
    [
        ((10.0, 12.0, -1.0, 1.0), (11.0, 0.0), (2.0, 2.0)),
        # Wrapping through RA 0: 359 -> 1 is two degrees of RA, centred on 0.
        ((359.0, 1.0, 40.0, 42.0), (0.0, 41.0), (2.0 * math.cos(math.radians(40.0)), 2.0)),
        ((350.0, 4.0, -60.0, -58.0), (357.0, -59.0), (14.0 * math.cos(math.radians(58.0)), 2.0)),
        ((100.0, 140.0, 80.0, 82.0), (120.0, 81.0), (40.0 * math.cos(math.radians(80.0)), 2.0)),
    ],
)
def test_from_box_holds_the_box(
    box: tuple[float, float, float, float],
    centre: tuple[float, float],
    size: tuple[float, float],
) -> None:
    field = Field.from_box(*box, label="b")
    assert (field.ra, field.dec) == pytest.approx(centre)
    assert field.label == "b"
    # Near the box's spans on the sky; wide boxes need extra height where parallels curve.
    assert field.width == pytest.approx(size[0], rel=0.02)
    assert size[1] <= field.height <= size[1] * 1.5
    # Every point of the box's outline is inside the field.
    ra_min, ra_max, dec_min, dec_max = box
    span = (ra_max - ra_min) % 360.0
    for fraction in np.linspace(0.0, 1.0, 41):
        for dec in (dec_min, dec_max, (dec_min + dec_max) / 2.0):
            assert field.contains(ra_min + span * fraction, dec)
    # And it is the smallest such field: a little smaller misses part of the outline.
    smaller = Field(field.ra, field.dec, field.width * 0.999, field.height * 0.999)
    assert not all(
        smaller.contains(ra_min + span * fraction, dec)
        for fraction in np.linspace(0.0, 1.0, 41)
        for dec in (dec_min, dec_max)
    )


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ((10.0, 10.0, 0.0, 1.0), "RA range 10.0..10.0 is empty"),
        ((10.0, 11.0, 1.0, 0.0), "dec range 1.0..0.0 is not allowed"),
        ((10.0, 11.0, 88.0, 90.0), "touches a pole"),
        ((0.0, 20.0, 0.0, 1.0), "width 20.0.* degrees is not allowed"),
        ((0.0, 120.0, 0.0, 1.0), "spans 120 degrees of RA"),
    ],
)
def test_invalid_boxes(box: tuple[float, float, float, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Field.from_box(*box)


@pytest.mark.parametrize(("ra", "dec"), [(150.1, 2.2), (0.0, 0.0), (359.9, -30.0), (80.0, 89.7)])
def test_corners_are_those_of_a_north_up_tan_image(ra: float, dec: float) -> None:
    field = Field(ra, dec, 0.6, 0.3)
    # A north-up TAN grid of 2x2 pixels, each as large as half the field: its outer corners
    # are the field's corners.
    half_x, half_y = (math.degrees(h) for h in field.half_extent)
    wcs = frame_wcs(ra, dec, side=2, scale=1.0)
    wcs.wcs.cd = np.array([[-half_x, 0.0], [0.0, half_y]])
    expected = wcs.calc_footprint(axes=(2, 2), center=False)
    corners = np.array(field.corners())
    # calc_footprint starts elsewhere in the cycle: compare as sets.
    distances = [
        min(float(angular_distance(c[0], c[1], e[0], e[1])) for e in expected) for c in corners
    ]
    assert max(distances) < 1e-6
    # South-east, south-west, north-west, north-east: east is +xi, north +eta.
    xi, eta, _ = tangent_plane(ra, dec, corners[:, 0], corners[:, 1])
    assert list(np.sign(xi)) == [1, -1, -1, 1]
    assert list(np.sign(eta)) == [-1, -1, 1, 1]
    assert field.radius == pytest.approx(
        float(angular_distance(ra, dec, corners[0][0], corners[0][1])), rel=1e-9
    )


def test_tangent_plane_round_trip_and_distance() -> None:
    rng = np.random.default_rng(1)
    ra0, dec0 = 200.0, -45.0
    ra = ra0 + rng.uniform(-3.0, 3.0, 50)
    dec = dec0 + rng.uniform(-3.0, 3.0, 50)
    xi, eta, cos_c = tangent_plane(ra0, dec0, ra, dec)
    assert np.allclose(np.degrees(np.arccos(cos_c)), angular_distance(ra0, dec0, ra, dec))
    assert np.allclose(
        np.degrees(np.arctan(np.hypot(xi, eta))), angular_distance(ra0, dec0, ra, dec)
    )
    # East is +xi, north is +eta.
    east, north, _ = tangent_plane(ra0, dec0, np.array([ra0 + 1.0]), np.array([dec0 + 0.0]))
    assert east[0] > 0 and abs(north[0]) < 0.01
    assert angular_distance(0.0, 89.0, 180.0, 89.0) == pytest.approx(2.0)


def test_overlaps_and_contains_at_the_edges() -> None:
    field = Field(0.0, 0.0, 2.0, 2.0)  # edges at +-1 degree on the axes
    square = ((1.5, -0.5), (2.5, -0.5), (2.5, 0.5), (1.5, 0.5))
    assert not field.overlaps(square)
    assert field.overlaps(tuple((ra - 0.6, dec) for ra, dec in square))
    # Sharing only an edge is not overlapping.
    touching = ((1.0, -0.5), (2.0, -0.5), (2.0, 0.5), (1.0, 0.5))
    assert not field.overlaps(touching)
    # Wholly inside, and wholly around.
    assert field.overlaps(((359.9, -0.1), (0.1, -0.1), (0.1, 0.1), (359.9, 0.1)))
    assert field.overlaps(((355.0, -5.0), (5.0, -5.0), (5.0, 5.0), (355.0, 5.0)))
    # Far away, even on the other side of the sky.
    assert not field.overlaps(((179.0, -1.0), (181.0, -1.0), (181.0, 1.0), (179.0, 1.0)))
    assert field.contains(0.999, 0.0) and not field.contains(1.001, 0.0)
    assert field.contains(359.001, 0.999) and not field.contains(180.0, 0.0)
    assert polygon_contains(square, 2.0, 0.0) and not polygon_contains(square, 1.4, 0.0)
    # Either winding.
    assert polygon_contains(square[::-1], 2.0, 0.0)


def test_overlaps_refuses_non_polygons() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        Field(0.0, 0.0, 1.0, 1.0).overlaps(((0.0, 0.0), (1.0, 1.0)))
