"""The alerter: tails the exporter's database, debounces, and delivers alerts and heartbeats."""
