"""Running jobs: the job host processes, the progress they report, their outputs and
snapshots."""
