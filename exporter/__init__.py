"""heartbeat-exporter: probes services on a wall-clock grid, stores cycles, serves /metrics."""
