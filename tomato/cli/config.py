"""Which configuration a command means: `-t` (the current folder), `--config DIR`, or the user's."""

from __future__ import annotations

from pathlib import Path


def config_dirs(test_mode: bool, config: Path | None) -> tuple[Path, Path | None]:
    """(config dir, data dir); the data dir is None when everything lives beside settings."""
    if test_mode:
        return Path.cwd(), None
    if config is not None:
        return config, None
    import platformdirs

    return (Path(platformdirs.user_config_dir("tomato", appauthor=False)),
            Path(platformdirs.user_data_dir("tomato", appauthor=False)))


def start_command(test_mode: bool, config: Path | None) -> str:
    """The command that starts the service these options talk to."""
    if test_mode:
        return "tomato -t"
    return f"tomato --config {config}" if config is not None else "tomato"
