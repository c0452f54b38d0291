"""The `tomato` service process: the supervisor actor (queue, pipelines, matching, state),
the processes it supervises (devices, jobs, output servers), and take-over after a crash."""
