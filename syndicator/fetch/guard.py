"""Where a request may go: the private-address guard.

:class:`Reach` says where one source's fetches may go (local files only under its own folder;
with ``public_only``, no hop to a loopback, private, link-local or metadata address);
:func:`check_target` refuses such addresses for outgoing notifications unless they are
allowed. :func:`is_private_address` is the one judge of an address for both.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from syndicator.errors import FetchError


@dataclass(frozen=True, slots=True)
class Reach:
    """Where the fetches of one source may go.

    ``local_root``: local files (``file:`` URLs and paths) are read only inside this folder, and
    only for a source that is itself a local file; None (the default) refuses every local file,
    so that nothing reached over the network can name a local path. ``public_only``: every
    hop of every request (redirects included) must go to a public address; loopback, private,
    link-local (the cloud metadata address among them) and other special addresses are refused
    (``[security] allow_private_sources``)."""

    local_root: Path | None = None
    public_only: bool = False


ANYWHERE = Reach()

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_private_address(address: IPAddress) -> bool:
    """Whether an address is anything but a public unicast one: loopback, private, link-local
    (169.254.169.254, the metadata service of the clouds, is one), shared, reserved,
    unspecified or multicast. An IPv4 address mapped into IPv6 is judged as itself."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (symbolic links resolved) is ``root`` or lies under it."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):  # a loop of links, a name the OS refuses
        return False


PRIVATE_REFUSED = "refused: the target resolves to a private or loopback address"


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a target (webhook, WebSub callback) whose host is, or resolves to, a loopback,
    private, link-local or otherwise non-public address, unless private targets are allowed."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and url.isprintable()
    except ValueError:
        usable = False
    if not usable or " " in url:
        raise FetchError(url, "not an http(s) URL")
    if allow_private:
        return
    host = parts.hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError as e:
            raise FetchError(url, "connection failed: host name not resolved") from e
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if is_private_address(address):
            raise FetchError(url, PRIVATE_REFUSED)
