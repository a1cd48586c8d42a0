"""The bench's load client: bounded, closed-loop, one process per simulated browser.

Each client is a forked process with its own cookie jar that sends one request, waits for the whole answer,
and sends the next, for a fixed time. Processes, not threads, so eight clients do not queue on one
interpreter lock and the figures are the server's, not the client's; raw sockets with pre-built request
bytes, so a request costs the client a few tens of microseconds. gunicorn's sync workers close every
connection after answering, so each request opens a new one (as a browser behind a proxy would).
"""

from __future__ import annotations

import multiprocessing
import re
import socket
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


@dataclass
class Result:
    """Every latency of one page, and the requests that failed."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    first_error: str = ""
    extra: dict[str, object] = field(default_factory=dict)  # what a row reports beyond latencies (progress events)

    def row(self) -> dict[str, float | int | str]:
        ordered = sorted(self.latencies) or [0.0]

        def pick(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

        row: dict[str, float | int | str] = {
            "name": self.name, "rps": round(len(self.latencies) / self.seconds, 1) if self.seconds else 0,
            "p50_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "errors": self.errors, "requests": len(self.latencies)}
        if self.first_error:
            row["first_error"] = self.first_error
        row.update(self.extra)  # type: ignore[arg-type]
        return row


class Client:
    """A minimal browser: one cookie jar, a new connection per request."""

    def __init__(self, port: int) -> None:
        self.port, self.cookie, self.last_location = port, "", ""

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, bytes]:
        data = urlencode(body, doseq=True).encode() if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", "Connection: close"]
        if self.cookie:
            head.append(f"Cookie: {self.cookie}")
        if body is not None:
            head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(data)}"]
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + data)
            chunks = []
            while chunk := sock.recv(262_144):
                chunks.append(chunk)
        raw = b"".join(chunks)
        header_block, _, payload = raw.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.lower(), value.strip()
            if name == "set-cookie" and value.startswith("rehab_session="):
                self.cookie = value.split(";", 1)[0]
            elif name == "location":
                self.last_location = value.removeprefix(f"http://127.0.0.1:{self.port}")
            elif name == "content-length":
                length = int(value)
                if len(payload) != length:
                    raise ConnectionError(f"short answer: {len(payload)} of {length} bytes")
        return status, payload

    def csrf(self, path: str) -> str:
        status, page = self.request("GET", path)
        match = CSRF.search(page)
        if status != 200 or not match:
            raise RuntimeError(f"no form at {path} (status {status})")
        return match.group(1).decode()

    def sign_in(self, email: str, password: str) -> None:
        token = self.csrf("/login")
        status, _ = self.request("POST", "/login", {"email": email, "password": password, "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"sign-in failed for {email}: {status}")


Step = Callable[[Client, int, int], bool]  # (client, client index, request number) -> succeeded


def _client_loop(client: Client, index: int, step: Step, start: float, stop: float, clients: int,
                 pipe) -> None:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    errors, first_error, n = 0, "", index
    while time.time() < start:
        time.sleep(0.001)
    while time.time() < stop:
        began = time.perf_counter()
        try:
            ok = step(client, index, n)
        except Exception:  # noqa: BLE001 (a failed request is counted, never fatal)
            ok, first_error = False, first_error or traceback.format_exc(limit=1).strip().splitlines()[-1]
        elapsed = time.perf_counter() - began
        if ok:
            latencies.append(elapsed)
        else:
            errors += 1
        n += clients
    pipe.send((latencies, errors, first_error))
    pipe.close()


def drive(name: str, clients: list[Client], step: Step, seconds: float) -> Result:
    """Run ``step`` from every client, each in its own process, for ``seconds``; keep every latency."""
    context = multiprocessing.get_context("fork")
    start = time.time() + 0.2  # every process begins together, after all have forked
    stop = start + seconds
    pipes, processes = [], []
    for index, client in enumerate(clients):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_client_loop, args=(client, index, step, start, stop, len(clients), sender))
        process.start()
        sender.close()
        pipes.append(receiver)
        processes.append(process)
    result = Result(name, seconds=seconds)
    for receiver, process in zip(pipes, processes, strict=True):
        latencies, errors, first_error = receiver.recv()
        process.join()
        result.latencies += latencies
        result.errors += errors
        result.first_error = result.first_error or first_error
    return result


def drive_groups(groups: list[tuple[str, list[Client], Step]], seconds: float) -> list[Result]:
    """Several groups of clients at once, each group with its own step and its own result (e.g. therapists
    opening patient pages while others print): every process begins together, as in ``drive``."""
    context = multiprocessing.get_context("fork")
    start = time.time() + 0.3
    stop = start + seconds
    running = []
    for name, clients, step in groups:
        for index, client in enumerate(clients):
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_client_loop,
                                      args=(client, index, step, start, stop, len(clients), sender))
            process.start()
            sender.close()
            running.append((name, receiver, process))
    results = {name: Result(name, seconds=seconds) for name, _, _ in groups}
    for name, receiver, process in running:
        latencies, errors, first_error = receiver.recv()
        process.join()
        result = results[name]
        result.latencies += latencies
        result.errors += errors
        result.first_error = result.first_error or first_error
    return list(results.values())
