"""Shipped fixtures: the synthetic gas series, the photos, file sizes, and the book page."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import data
from data import gas_series

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "data" / "fixtures"


@pytest.fixture(scope="module")
def series():
    return data.load_gas_series()


def test_gas_series_layout(series):
    assert list(series.columns) == list(gas_series.COLUMNS)
    assert len(series.columns) == 6
    assert isinstance(series.index, pd.DatetimeIndex) and series.index.name == "timestamp"
    assert series.index.freq == pd.tseries.frequencies.to_offset("h")
    assert len(series) == 17_520 and series.index[0] == pd.Timestamp("2021-01-01 00:00")
    assert (np.diff(series.index.to_numpy()) == np.timedelta64(1, "h")).all()
    assert not series.isna().any().any()
    assert all(series.dtypes == np.float64)


def test_gas_series_values_are_plausible(series):
    assert series["gas_consumption_m3"].min() >= 0
    assert series["relative_humidity_pct"].between(0, 100).all()
    assert (series["solar_irradiance_wm2"] >= 0).all() and (series["wind_speed_ms"] >= 0).all()
    assert series["pressure_hpa"].between(950, 1060).all()
    night = series.index.hour.isin([0, 1, 2, 3, 22, 23])
    assert (series.loc[night, "solar_irradiance_wm2"] == 0).all()
    # The pattern students should find: colder hours need more gas.
    assert series["gas_consumption_m3"].corr(series["temperature_c"]) < -0.5


def test_regenerating_with_the_seed_equals_the_shipped_csv(series, tmp_path):
    regenerated = gas_series.generate_gas_series(seed=gas_series.DEFAULT_SEED)
    pd.testing.assert_frame_equal(regenerated, series, check_freq=False)
    gas_series.write_csv(regenerated, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == gas_series.CSV_PATH.read_bytes()
    other = gas_series.generate_gas_series(seed=1, periods=200)
    assert not np.allclose(other.to_numpy(), series.iloc[:200].to_numpy())
    assert gas_series.generate_gas_series(seed=1, periods=200).equals(other)


def test_gas_series_is_documented_as_synthetic():
    doc = gas_series.__doc__
    assert "SYNTHETIC" in doc and "python -m data.gas_series" in doc
    for column in gas_series.COLUMNS:
        assert column in doc, column
    for unit in ("m³/h", "°C", "%", "m/s", "W/m²", "hPa"):
        assert unit in doc
    page = (ROOT / "book" / "data.md").read_text()
    assert "synthetic" in page.lower()


@pytest.mark.parametrize("name", data.PHOTOS)
def test_photos(name):
    grey = data.load_photo(name)
    colour = data.load_photo(name, grayscale=False)
    assert grey.shape == (256, 256) and grey.dtype == np.uint8
    assert colour.shape == (256, 256, 3) and colour.dtype == np.uint8
    assert 20 < grey.mean() < 235 and grey.std() > 20


def test_astronaut_is_rgb_and_default():
    assert np.array_equal(data.load_photo(), data.load_photo("astronaut"))
    rgb = data.load_photo("astronaut", grayscale=False).astype(float)
    # Her orange NASA suit makes the image redder than blue overall (a BGR mix-up flips this).
    assert rgb[..., 0].mean() > rgb[..., 2].mean()
    with pytest.raises(ValueError, match="astronaut"):
        data.load_photo("lena")


def test_fixture_checksums_and_provenance():
    readme = (FIXTURES / "README.md").read_text()
    listed = dict((name, sha) for sha, name in re.findall(r"^([0-9a-f]{64})\s+(\S+)$", readme, re.M))
    assert set(listed) == {"astronaut.png", "camera.png"}
    for name, sha in listed.items():
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == sha
    for word in ("public domain", "CC0", "NASA", "SYNTHETIC"):
        assert word in readme


def test_no_data_file_over_2mb():
    sizes = {p: p.stat().st_size for p in (ROOT / "data").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert sizes and max(sizes.values()) < 2_000_000, max(sizes, key=sizes.get)
