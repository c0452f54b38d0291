"""A job process (`python -m tomato.job`): runs one job at a time from its JobSpec, appends
the raw data as it arrives, and reports progress to the service."""
