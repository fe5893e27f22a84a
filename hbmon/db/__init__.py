"""The SQLite database shared by the exporter and the alerter: setup, models, migrations."""
