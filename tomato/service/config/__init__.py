"""What the service is told: settings.toml and the devices file, read and checked."""
