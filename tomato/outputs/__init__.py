"""The output process: a job's datagram (yadg → NetCDF) and archive (zip).

It runs apart (`python -m tomato.outputs`), so that yadg's imports and its per-cell work
never touch the service, the CLI, or a job's data collection.
"""
