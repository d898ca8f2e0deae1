"""SYNTHETIC hourly gas-consumption series with six features (seeded, reproducible).

No public copy of the six-feature gas-consumption series the course exercises were written
for could be found, so the course ships this generated stand-in instead. It is NOT measured
data: it is produced by ``generate_gas_series`` below from simple physical rules plus seeded
noise, so that the usual forecasting patterns are there to find (daily and weekly rhythm,
heating demand that rises as it gets colder, weather that persists for hours).

The shipped file ``data/fixtures/gas_series.csv`` is exactly
``generate_gas_series(seed=DEFAULT_SEED)`` written with ``write_csv``; regenerate it with
``python -m data.gas_series``.

Index: ``timestamp``, hourly, local standard time without daylight saving,
2021-01-01 00:00 to 2022-12-31 23:00 (17,520 rows).

Columns (all floats):

==========================  =======  ==========================================================
column                      unit     meaning
==========================  =======  ==========================================================
``gas_consumption_m3``      m³/h     gas drawn by a small district heating network in the hour
``temperature_c``           °C       outdoor air temperature
``relative_humidity_pct``   %        outdoor relative humidity, 0-100
``wind_speed_ms``           m/s      mean wind speed in the hour
``solar_irradiance_wm2``    W/m²     global horizontal irradiance (0 at night)
``pressure_hpa``            hPa      air pressure at sea level
==========================  =======  ==========================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import FIXTURES

DEFAULT_SEED = 20210101
CSV_PATH = FIXTURES / "gas_series.csv"
COLUMNS = {
    "gas_consumption_m3": "m³/h, gas drawn by a small district heating network",
    "temperature_c": "°C, outdoor air temperature",
    "relative_humidity_pct": "%, outdoor relative humidity",
    "wind_speed_ms": "m/s, mean wind speed",
    "solar_irradiance_wm2": "W/m², global horizontal irradiance",
    "pressure_hpa": "hPa, sea-level air pressure",
}
DECIMALS = 2  # the CSV keeps two decimals; generate_gas_series rounds the same way


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    """Autoregressive noise: today's weather anomaly persists into the next hours."""
    shocks = rng.normal(0.0, sigma, n)
    out = np.empty(n)
    out[0] = shocks[0] / np.sqrt(1 - phi**2)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + shocks[i]
    return out


def generate_gas_series(seed: int = DEFAULT_SEED, start: str = "2021-01-01", periods: int = 17_520):
    """Generate the synthetic series (a pandas DataFrame, see the module docstring)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=periods, freq="h", name="timestamp")
    hour = index.hour.to_numpy()
    doy = index.day_of_year.to_numpy()
    weekend = index.day_of_week.to_numpy() >= 5
    season = np.cos(2 * np.pi * (doy - 15) / 365.25)  # +1 mid-January, -1 mid-July

    # Weather. Temperature: seasonal mean, warmest mid-afternoon, multi-day anomalies.
    temperature = 10 - 9 * season + 4 * np.sin(2 * np.pi * (hour - 9) / 24) + _ar1(rng, periods, 0.98, 0.45)
    cloud = 1 / (1 + np.exp(-_ar1(rng, periods, 0.95, 0.5)))  # 0 clear .. 1 overcast
    # Sun elevation proxy: daylight longer and higher in summer (~50° N).
    day_length = 12 - 4 * season
    elevation = np.sin(np.pi * (hour + 0.5 - (12 - day_length / 2)) / day_length)
    clear_sky = np.clip(elevation, 0, None) * (550 - 300 * season)
    solar = clear_sky * (1 - 0.75 * cloud)
    humidity = np.clip(72 + 12 * season - 2.0 * (temperature - (10 - 9 * season)) + 15 * (cloud - 0.5)
                       + _ar1(rng, periods, 0.9, 2.0), 15, 100)
    wind = np.abs(3.5 + 1.0 * season + _ar1(rng, periods, 0.93, 0.7))
    pressure = 1013 + _ar1(rng, periods, 0.995, 0.35) - 4 * (cloud - 0.5)

    # Demand: heating below 16 °C (more with wind), daily occupancy peaks, less on weekends.
    heating_degrees = np.clip(16 - temperature, 0, None)
    occupancy = (0.6 + 0.5 * np.exp(-((hour - 7.5) ** 2) / 3) + 0.4 * np.exp(-((hour - 19) ** 2) / 6)
                 - 0.25 * np.exp(-((hour - 2.5) ** 2) / 4))  # night setback
    occupancy = occupancy * np.where(weekend, 0.85, 1.0)
    gas = (20 + 7.5 * heating_degrees * (1 + 0.04 * wind)) * occupancy - 0.015 * solar
    gas = np.clip(gas * (1 + _ar1(rng, periods, 0.7, 0.03)) + rng.normal(0, 1.5, periods), 0, None)

    frame = pd.DataFrame(
        {
            "gas_consumption_m3": gas,
            "temperature_c": temperature,
            "relative_humidity_pct": humidity,
            "wind_speed_ms": wind,
            "solar_irradiance_wm2": solar,
            "pressure_hpa": pressure,
        },
        index=index,
    )
    return frame.round(DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0 so the CSV round-trips


def write_csv(frame, path: Path = CSV_PATH) -> None:
    frame.to_csv(path, float_format=f"%.{DECIMALS}f", date_format="%Y-%m-%dT%H:%M", lineterminator="\n")


def load_gas_series():
    """The shipped SYNTHETIC series: hourly DatetimeIndex, the six columns of ``COLUMNS``."""
    import pandas as pd

    frame = pd.read_csv(CSV_PATH, index_col="timestamp", parse_dates=["timestamp"])
    frame.index.freq = "h"
    return frame.astype("float64")


if __name__ == "__main__":
    write_csv(generate_gas_series())
    print(f"wrote {CSV_PATH}")
