"""Which job runs where: payloads read and checked, the pipelines and their samples, the
queue and the plan that matches it to them."""
