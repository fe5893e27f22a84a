"""History that stays small: hourly and daily rollups of the raw checks."""
