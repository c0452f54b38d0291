"""What the service keeps: the state database (jobs, pipelines, a log), its schema, the
records that wait for room on a full disk, and the check of it all at start."""
