"""fetch(): real sockets on 127.0.0.1 only; public hosts are simulated by replacing the module's address check."""

from __future__ import annotations

import contextlib
import datetime
import gzip
import socket
import ssl
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant import fetch as fetch_module
from assistant.errors import ArticleError
from assistant.fetch import MAX_FETCH_BYTES, Fetched, FetchError, fetch

HTML = b"<html><head><title>Storm</title></head><body><p>A storm hit the coast on Monday.</p></body></html>"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
BOMB_SIZE = 50_000_000
STREAM_CAP = 64_000_000  # the endless responses stop here if the client never hangs up


def _gzip_bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1_000_000)
    return b"".join(packer.compress(block) for _ in range(BOMB_SIZE // len(block))) + packer.flush()


class Site:
    """Two threaded HTTP servers on 127.0.0.1 (the second for cross-port redirects) and what they saw."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.requests: list[dict[str, str]] = []
        self.release = threading.Event()  # lets the slow and endless handlers finish at teardown
        self.streamed: dict[str, int] = {}
        self.stream_done = threading.Event()
        self.bomb = _gzip_bomb() if tls is None else b""
        self.servers = [self._start(tls) for _ in range(2 if tls is None else 1)]
        self.port, self.other_port = self.servers[0].server_address[1], self.servers[-1].server_address[1]

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def _start(self, tls: ssl.SSLContext | None) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def close(self) -> None:
        self.release.set()
        for server in self.servers:
            server.shutdown()
            server.server_close()


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep pytest's output clean
            pass

        def reply(self, body: bytes, status: int = 200, content_type: str | None = "text/html; charset=UTF-8",
                  **headers: str) -> None:  # fmt: skip
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def redirect(self, location: str, status: int = 302) -> None:
            self.reply(b"", status, None, Location=location)

        def endless(self, name: str, chunked: bool) -> None:
            self.close_connection = True
            sent, block = 0, b"x" * 65536
            try:
                while sent < STREAM_CAP and not site.release.is_set():
                    if chunked:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                        sent += len(block)
                    else:  # one byte at a time, never letting a single read time out
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        sent += 1
                        site.release.wait(0.05)
            except OSError:
                pass
            site.streamed[name] = sent
            site.stream_done.set()

        def do_GET(self):
            site.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            path = self.path
            if path == "/page":
                self.reply(HTML)
            elif path == "/doc.pdf":
                self.reply(PDF, content_type="application/pdf")
            elif path == "/no-type":
                self.reply(b"plain bytes", content_type=None)
            elif path == "/r1":
                self.redirect("/r2", 301)
            elif path == "/r2":
                self.redirect(f"http://127.0.0.1:{site.port}/page", 307)
            elif path == "/other-port":
                self.redirect(f"http://127.0.0.1:{site.other_port}/doc.pdf")
            elif path == "/loop":
                self.redirect("/loop2")
            elif path == "/loop2":
                self.redirect("/loop#again")
            elif path.startswith("/hops/"):
                left = int(path.rsplit("/", 1)[1])
                self.redirect(f"/hops/{left - 1}" if left > 1 else "/page", 303)  # n redirects
            elif path == "/to-loopback":
                self.redirect(f"http://127.0.0.1:{site.port}/page")
            elif path == "/to-metadata":
                self.redirect("http://169.254.169.254/latest/meta-data/")
            elif path == "/to-file":
                self.redirect("file:///etc/passwd")
            elif path == "/missing":
                self.reply(b"<p>no such page</p>", 404)
            elif path == "/empty":
                self.reply(b"")
            elif path == "/big-length":
                self.send_response(200)
                self.send_header("Content-Length", "20000000")
                self.end_headers()
                self.close_connection = True
            elif path == "/chunked":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.endless("chunked", chunked=True)
            elif path == "/drip":
                self.send_response(200)
                self.end_headers()
                self.endless("drip", chunked=False)
            elif path == "/bomb":
                self.reply(site.bomb, Content_Encoding="gzip")
            elif path == "/gzip-page":
                self.reply(gzip.compress(HTML), Content_Encoding="gzip")
            elif path == "/raw-deflate":
                packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
                self.reply(packer.compress(HTML) + packer.flush(), Content_Encoding="deflate")
            elif path == "/brotli":
                self.reply(b"\x0b\x02\x80hello\x03", Content_Encoding="br")
            elif path == "/slow":
                site.release.wait(10)
                with contextlib.suppress(OSError):
                    self.reply(HTML)
            else:
                self.reply(b"unknown route", 500)

    return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


@pytest.fixture
def public_test(monkeypatch):
    """`public.test` counts as public and resolves to 127.0.0.1; every other host is checked as usual."""
    vet = fetch_module._addresses
    monkeypatch.setattr(fetch_module, "_addresses", lambda host, port, allow_private: (
        ["127.0.0.1"] if host == "public.test" else vet(host, port, allow_private)))  # fmt: skip


@pytest.fixture
def no_connect(monkeypatch):
    """Any TCP connection attempt fails the test: refusals must happen before one."""

    def refuse(*args, **kwargs):
        pytest.fail(f"fetch tried to connect: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _error(url: str, **kwargs) -> str:
    with pytest.raises(FetchError) as info:
        fetch(url, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_api_shape():
    assert issubclass(FetchError, ArticleError)
    assert MAX_FETCH_BYTES == 10_000_000


def test_fetches_a_local_page_when_allowed(site):
    got = fetch(site.url("/page"), allow_private=True)
    assert got == Fetched(HTML, site.url("/page"), "text/html")
    seen = site.requests[-1]
    assert seen["user-agent"] == "article-assistant/0.1 (+offline QA)"
    assert "application/pdf" in seen["accept"] and "text/markdown" in seen["accept"] and "text/html" in seen["accept"]
    assert seen["accept-encoding"] == "gzip, deflate"


def test_content_types(site):
    assert fetch(site.url("/doc.pdf"), allow_private=True).content_type == "application/pdf"
    assert fetch(site.url("/no-type"), allow_private=True).content_type == ""


@pytest.mark.parametrize("path", ["/gzip-page", "/raw-deflate"])
def test_compressed_pages_are_decoded(site, path):
    assert fetch(site.url(path), allow_private=True).data == HTML


def test_unknown_content_encoding_is_refused(site):
    assert "encoded as 'br'" in _error(site.url("/brotli"), allow_private=True)


def test_redirect_chain_gives_the_final_url(site):
    assert fetch(site.url("/r1"), allow_private=True) == Fetched(HTML, site.url("/page"), "text/html")


def test_redirect_to_another_port(site):
    got = fetch(site.url("/other-port"), allow_private=True)
    assert got.url == f"http://127.0.0.1:{site.other_port}/doc.pdf" and got.data == PDF


def test_redirect_loop_is_refused(site):
    assert "redirects in a loop" in _error(site.url("/loop"), allow_private=True)


def test_too_many_redirects(site):
    assert fetch(site.url("/hops/5"), allow_private=True, max_redirects=5).data == HTML
    assert "redirected more than 5 times" in _error(site.url("/hops/6"), allow_private=True, max_redirects=5)
    assert "more than 0 times" in _error(site.url("/r1"), allow_private=True, max_redirects=0)


def test_error_status(site):
    url = site.url("/missing")
    assert _error(url, allow_private=True).startswith(f"the server answered 404 Not Found for {url}")


def test_empty_body(site):
    assert "is empty" in _error(site.url("/empty"), allow_private=True)


def test_content_length_over_the_limit(site):
    assert "the page is over 10,000,000 bytes" in _error(site.url("/big-length"), allow_private=True)


def test_chunked_body_stops_at_the_limit(site):
    site.stream_done.clear()
    assert "the page is over 10,000 bytes" in _error(site.url("/chunked"), allow_private=True, max_bytes=10_000)
    assert site.stream_done.wait(10)
    assert site.streamed["chunked"] < STREAM_CAP  # the client hung up; it did not read to the end


def test_gzip_bomb_stops_early_within_bounded_memory(site):
    assert len(site.bomb) < 200_000  # 50 MB of zeros
    tracemalloc.start()
    try:
        message = _error(site.url("/bomb"), allow_private=True, max_bytes=1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "the page is over 1,000,000 bytes" in message
    assert peak < 8_000_000  # decoding everything, or a whole network chunk, would take tens of MB


def test_slow_server_times_out(site):
    assert _error(site.url("/slow"), allow_private=True, timeout=0.5) == (
        "127.0.0.1 did not answer within 0.5 s: try again later")  # fmt: skip


def test_total_time_is_bounded_even_when_bytes_keep_coming(site):
    assert "did not answer within 0.5 s" in _error(site.url("/drip"), allow_private=True, timeout=0.5)


def test_connection_refused_names_the_host():
    with socket.socket() as closed:  # bound but not listening: connecting is refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        message = _error(f"http://127.0.0.1:{port}/", allow_private=True)
    assert message == f"127.0.0.1 refused the connection on port {port}: check the URL's port, or try again later"


def test_unknown_host_names_the_host(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    assert _error("https://no-such-host.example/a") == "could not find the host no-such-host.example: check the URL for typos"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/page", "http://localhost:{port}/page", "http://[::1]:{port}/page",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://0.0.0.0/", "http://[::]/",
    "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://224.0.0.1/", "http://[fe80::1]/",
    "http://[fd00::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://2130706433/",
    "http://0x7f.1/", "https://127.1/",
])  # fmt: skip
def test_private_addresses_are_refused_without_connecting(site, no_connect, url):
    message = _error(url.format(port=site.port))
    assert "a private, local or reserved address: only public web pages can be fetched" in message


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://example.com/a.txt", "javascript:alert(1)", "data:text/html,<p>hi</p>",
    "gopher://example.com/", "//example.com/a", "example.com/a",
])  # fmt: skip
def test_other_schemes_are_refused(no_connect, url):
    assert _error(url, allow_private=True) == (
        "only http:// and https:// URLs can be fetched: give the article's web address")  # fmt: skip


@pytest.mark.parametrize(("url", "words"), [
    ("http://user:pass@example.com/", "user name or password"),
    ("http:///nothing", "has no host"),
    ("http://example.com:99999/", "invalid port"),
    ("http://[::1/", "not a valid URL"),
    ("http://example.com/" + "a" * 2_000, "the limit is 2,000"),
])  # fmt: skip
def test_malformed_urls_are_refused(no_connect, url, words):
    assert words in _error(url, allow_private=True)


@pytest.mark.parametrize(("address", "allowed"), [
    ("8.8.8.8", True), ("2606:4700::1111", True), ("::ffff:8.8.8.8", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.31.0.1", False), ("192.168.0.1", False), ("100.64.0.1", False),
    ("169.254.169.254", False), ("224.0.0.251", False), ("239.1.1.1", False), ("240.0.0.1", False),
    ("255.255.255.255", False), ("0.0.0.0", False), ("::", False), ("::1", False), ("fe80::1", False),
    ("fc00::1", False), ("ff0e::1", False), ("::ffff:10.0.0.1", False), ("2002:7f00:1::", False),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", False), ("not an address", False),
])  # fmt: skip
def test_address_classes(address, allowed):
    assert fetch_module._allowed(address, allow_private=False) is allowed
    assert fetch_module._allowed(address, allow_private=True)


def test_public_host_is_pinned_to_the_checked_address(site, public_test, monkeypatch):
    lookup = socket.getaddrinfo

    def resolve(host, *args, **kwargs):  # a second lookup of the name is where DNS rebinding would strike
        assert host != "public.test", "public.test was resolved again after the check"
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    got = fetch(site.url("/page", host="public.test"))
    assert got.url == site.url("/page", host="public.test") and got.data == HTML
    assert site.requests[-1]["host"] == f"public.test:{site.port}"


@pytest.mark.parametrize("path", ["/to-loopback", "/to-metadata"])
def test_public_host_redirecting_to_a_private_address_is_refused(site, public_test, path):
    message = _error(site.url(path, host="public.test"))
    assert "a private, local or reserved address" in message
    assert site.requests[-1]["path"] == path  # the private target was never asked


def test_public_host_redirecting_to_loopback_is_followed_when_allowed(site, public_test):
    assert fetch(site.url("/to-loopback", host="public.test"), allow_private=True).url == site.url("/page")


def test_redirect_to_another_scheme_is_refused(site):
    assert "only http:// and https://" in _error(site.url("/to-file"), allow_private=True)


def test_httpx_is_not_imported_with_the_module():
    import subprocess
    import sys

    code = "import sys, assistant.fetch; print('httpx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


# https: a test CA signs a certificate for public.test; the server on 127.0.0.1 records the SNI name it is sent.


def _certificates(tmp: Path, name: str) -> tuple[Path, Path, Path]:
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))  # fmt: skip
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("test CA", ca_key, "test CA", ca_key, ca=True)
    leaf = certificate(name, key, "test CA", ca_key, ca=False)
    paths = tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return paths


@pytest.fixture(params=["public.test", "other.test"])
def tls_site(request, tmp_path, monkeypatch) -> Iterator[tuple[Site, list[str]]]:
    ca, leaf, key = _certificates(tmp_path, request.param)
    import certifi

    monkeypatch.setattr(certifi, "where", lambda: str(ca))  # httpx's default context trusts only the test CA
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf, key)
    names: list[str] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    s = Site(tls=context)
    yield s, names
    s.close()


def test_https_is_pinned_with_the_original_host_for_sni_and_verification(tls_site, public_test, request):
    site, names = tls_site
    url = site.url("/page", host="public.test", scheme="https")
    if request.node.callspec.params["tls_site"] == "public.test":
        assert fetch(url) == Fetched(HTML, url, "text/html")
        assert site.requests[-1]["host"] == f"public.test:{site.port}"
    else:  # a certificate for another name is refused although the IP is the one connected to
        assert "could not make a secure connection to public.test" in _error(url)
    assert names and set(names) == {"public.test"}
