"""Results come home (DESIGN §9): the tomato that ran a job for another puts the job's
datagram and archive into the `tomato_results` object store; the job's home takes them out
into the folder `ketchup submit` asked for, then deletes them there. While the home is
down, they wait in the store. A snapshot asked for from another tomato travels the same
way, into the folder `ketchup snapshot` ran in."""

from __future__ import annotations

from pathlib import Path

import anyio

from ...jobspec import Place
from .link import Link

RESULTS = "tomato_results"


async def send(link: Link, prefix: str, paths: list[str] | tuple[str, ...]) -> list[str]:
    """Put the files at `paths` into the store as `prefix/NAME`; returns their names."""
    store = await link.objects(RESULTS)
    names = []
    for path in paths:
        name = f"{prefix}/{Path(path).name}"
        await store.put(name, await anyio.Path(path).read_bytes())
        names.append(name)
    return names


async def waiting(link: Link, names: list[str]) -> bool:
    """Whether any of the results `names` is still in the store (its home has not taken it)."""
    from nats.js.errors import ObjectNotFoundError

    store = await link.objects(RESULTS)
    for name in names:
        try:
            await store.get_info(name)
        except ObjectNotFoundError:
            continue
        return True
    return False


async def fetch(link: Link, names: list[str], place: Place) -> list[str]:
    """Write the files `names` of the store into `place`'s folder (each whole, or not at
    all), then delete them there; returns the paths written."""
    store = await link.objects(RESULTS)
    folder = anyio.Path(place.folder)
    await folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        target = folder / name.rpartition("/")[2]
        partial = folder / f".{target.name}.part"
        await partial.write_bytes((await store.get(name)).data)
        await partial.replace(target)
        written.append(str(target))
    for name in names:
        await store.delete(name)
    return written
