"""Fetching an article by URL for a user: public addresses only, pinned, bounded in size, time and redirects."""

from __future__ import annotations

import ipaddress
import socket
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .article import MAX_ARTICLE_BYTES
from .errors import ArticleError

if TYPE_CHECKING:
    import httpx

MAX_FETCH_BYTES = MAX_ARTICLE_BYTES
MAX_URL_CHARS = 2_000
USER_AGENT = "article-assistant/0.1 (+offline QA)"
ACCEPT = (
    "text/html, application/pdf, application/vnd.openxmlformats-officedocument.wordprocessingml.document, "
    "text/plain, text/markdown"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PORTS = {"http": 80, "https": 443}
_ENCODINGS = frozenset({"identity", "gzip", "x-gzip", "deflate"})


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched page: its bytes, the final URL after redirects, and its media type ("" if the server sent none)."""

    data: bytes
    url: str
    content_type: str


class FetchError(ArticleError):
    """The page cannot be fetched (bad URL, private address, too large, too slow, server error)."""


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"could not find the host {host}: check the URL for typos") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _allowed(address: str, allow_private: bool) -> bool:
    if allow_private:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    checked: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address can carry an IPv4 one that the network routes to: mapped (::ffff:a.b.c.d), 6to4, Teredo.
        if ip.ipv4_mapped:
            checked = [ip.ipv4_mapped]
        checked += [v4 for v4 in (ip.sixtofour, ip.teredo and ip.teredo[1]) if v4]
    # is_global alone lets multicast through (224.0.0.0/4 and ff0e::/16 count as global), hence the other tests.
    return all(
        a.is_global and not (a.is_multicast or a.is_reserved or a.is_private or a.is_loopback or a.is_link_local)
        for a in checked
    )


def _addresses(host: str, port: int, allow_private: bool) -> list[str]:
    # The one seam the tests replace: every address the host resolves to, each vetted; any bad one refuses the host
    # (a name that resolves to one public and one private address could be connected either way).
    addresses = _resolve(host, port)
    for address in addresses:
        if not _allowed(address, allow_private):
            where = f"{host} is" if address == host else f"{host} is at {address},"
            raise FetchError(f"{where} a private, local or reserved address: only public web pages can be fetched")
    return addresses


def _parse(url: str) -> httpx.URL:
    import httpx

    if len(url) > MAX_URL_CHARS:
        raise FetchError(f"the URL is {len(url):,} characters long; the limit is {MAX_URL_CHARS:,}: give a shorter one")
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise FetchError(f"{url[:200]!r} is not a valid URL ({exc}): check it") from exc
    if parsed.scheme not in _PORTS:
        raise FetchError("only http:// and https:// URLs can be fetched: give the article's web address")
    if parsed.userinfo:
        raise FetchError("URLs with a user name or password (user:pass@) are not fetched: remove that part")
    if not parsed.host:
        raise FetchError(f"{url[:200]!r} has no host: give a full address such as https://example.com/article")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise FetchError(f"{url[:200]!r} has an invalid port {parsed.port}: check the URL")
    return parsed.copy_with(fragment=None)  # the fragment is never sent, and would hide a redirect loop


def _failure(exc: Exception, host: str, port: int, timeout: float) -> FetchError:
    import ssl

    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"{host} did not answer within {timeout:g} s: try again later")
    causes = []
    while exc is not None and len(causes) < 10:
        causes.append(exc)
        exc = exc.__cause__ or exc.__context__
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return FetchError(f"{host} refused the connection on port {port}: check the URL's port, or try again later")
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return FetchError(f"could not make a secure connection to {host} ({causes[0]}): check the URL")
    if isinstance(causes[0], httpx.ConnectError):
        return FetchError(f"could not connect to {host} ({causes[0]}): check the URL, or try again later")
    return FetchError(f"{host} sent a response that could not be read ({causes[0]}): try again later")


def _read(response: httpx.Response, max_bytes: int, deadline: float, host: str, timeout: float) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in _ENCODINGS:
        raise FetchError(f"{host} sent the page encoded as {encoding!r}, which cannot be read: try another address")
    # Inflated here rather than by httpx: its decoders inflate each network chunk whole (64 KB of gzip can be 64 MB,
    # layered encodings far more) before a caller can count a byte; zlib's max_length keeps memory within max_bytes.
    inflate = None if encoding == "identity" else zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
    raw_deflate = False
    body = bytearray()
    for chunk in response.iter_raw():
        if time.monotonic() > deadline:
            raise FetchError(f"{host} did not answer within {timeout:g} s: try again later")
        while chunk:
            if inflate is None:
                piece, chunk = chunk, b""
            else:
                try:
                    piece = inflate.decompress(chunk, max_bytes + 1 - len(body))
                except zlib.error as exc:
                    if encoding == "deflate" and not body and not raw_deflate:  # some servers send raw deflate
                        inflate, raw_deflate = zlib.decompressobj(-zlib.MAX_WBITS), True
                        continue
                    raise FetchError(f"{host} sent damaged compressed data ({exc}): try again later") from exc
                chunk = inflate.unconsumed_tail
            body += piece
            if len(body) > max_bytes:
                raise FetchError(f"the page is over {max_bytes:,} bytes: save the part you need to a file instead")
    return bytes(body)


def _exchange(target: httpx.URL, address: str, max_bytes: int, deadline: float, timeout: float) -> Fetched | str:
    import httpx

    host = target.raw_host.decode("ascii")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise httpx.ConnectTimeout("deadline passed")
    # Pinned: the socket goes to the vetted IP while the Host header, and for https the SNI name and the name the
    # certificate must match (httpcore's "sni_hostname" extension), stay the original host, so DNS cannot answer
    # differently between check and connect (rebinding). This keeps to httpx's public API, where a custom transport
    # or network backend would be more code. A new client per hop: no pooled connection, verified for another host's
    # certificate, is reused; trust_env=False: no proxy from the environment, which would resolve the name itself.
    headers = {"Host": target.netloc.decode("ascii"), "User-Agent": USER_AGENT, "Accept": ACCEPT,
               "Accept-Encoding": "gzip, deflate"}  # fmt: skip
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=remaining) as client:
        request = client.build_request("GET", target.copy_with(host=address), headers=headers, extensions=extensions)
        response = client.send(request, stream=True)
        try:
            status = response.status_code
            if status in _REDIRECTS:
                location = response.headers.get("location", "").strip()
                if not location:
                    raise FetchError(f"{target} redirects ({status}) without saying where: try another address")
                return str(target.join(location))  # joined on the URL as asked, not on the IP
            if not 200 <= status < 300:
                reason = response.reason_phrase or httpx.codes.get_reason_phrase(status)
                raise FetchError(f"the server answered {status} {reason} for {target}: check the URL")
            length = response.headers.get("content-length", "").strip()
            if length.isdigit() and int(length) > max_bytes:
                raise FetchError(f"the page is over {max_bytes:,} bytes: save the part you need to a file instead")
            data = _read(response, max_bytes, deadline, host, timeout)
            if not data:
                raise FetchError(f"the page at {target} is empty: check the URL")
            media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
            return Fetched(data, str(target), media)
        finally:
            response.close()  # before reading to the end too: the connection is dropped, not reused


def fetch(
    url: str,
    *,
    allow_private: bool = False,
    max_bytes: int = MAX_FETCH_BYTES,
    timeout: float = 10.0,
    max_redirects: int = 5,
) -> Fetched:
    """Fetch the page at `url` for a user, refusing what a server should not fetch on a user's behalf.

    Only http(s) URLs whose host resolves to public addresses only (`allow_private` is an operator's flag, for tests
    against a local server), at most `max_redirects` redirects (each hop checked like the first), `max_bytes` decoded
    bytes and about `timeout` seconds in all. Every refusal and failure is a FetchError with a one-line message.
    """
    # httpx is imported here, not with the module: it costs about 0.1 s, and the CLI's question path never fetches.
    import httpx

    deadline = time.monotonic() + timeout
    target = _parse(url)
    seen = {str(target)}
    for _ in range(max_redirects + 1):
        host = target.raw_host.decode("ascii")
        port = target.port or _PORTS[target.scheme]
        error: Exception | None = None
        for address in _addresses(host, port, allow_private):
            try:
                result = _exchange(target, address, max_bytes, deadline, timeout)
                break
            except httpx.ConnectError as exc:  # another of the host's addresses may answer
                error = exc
            except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
                raise _failure(exc, host, port, timeout) from exc
        else:
            raise _failure(error or OSError("no address"), host, port, timeout) from error
        if isinstance(result, Fetched):
            return result
        target = _parse(result)
        if str(target) in seen:
            raise FetchError(f"{url[:200]} redirects in a loop (back to {target}): give the address a browser ends at")
        seen.add(str(target))
    raise FetchError(f"{url[:200]} redirected more than {max_redirects} times: give the article's final address")
