"""A small OpenAI-compatible upstream stand-in on loopback, and uvicorn in a thread.

``FakeOpenAI`` is a raw asyncio HTTP/1.1 server (keep-alive, JSON and chunked
server-sent events) so it costs little CPU under load: the gateway's tests use it
as the upstream, and ``benchmarks/serve_load.py`` as the fixed-latency model.
It answers deterministically from the request:

* chat: ``Echo: <last user text>``; a JSON object when ``response_format`` asks for
  JSON; a ``tool_calls`` answer when tools are offered and the question mentions
  the weather (streamed in fragments, as OpenAI does); usage from word counts;
* completions: ``Echo: <prompt>``; embeddings: 8-d vectors from a hash;
* ``fail_with``: statuses to answer the next calls with (an OpenAI error body);
* ``numbered``: a question message holding ``[1] q1`` ... ``[n] qn`` lines (the
  gateway's grouped call) is answered ``[1] Echo: q1`` ... one line each
  (``numbered="drop"``: the last answer left out, so the split fails).

Every request is counted by path and kept (headers and body) for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return str(content or "")


class FakeOpenAI:
    """An OpenAI-compatible server with a fixed latency.

    Args:
        latency_s: time before each answer (a stream's first chunk).
        chunk_delay_s: time between a stream's chunks.
        host: loopback address to bind.
    """

    def __init__(
        self, *, latency_s: float = 0.0, chunk_delay_s: float = 0.0, host: str = "127.0.0.1"
    ) -> None:
        self.latency_s = latency_s
        self.chunk_delay_s = chunk_delay_s
        self.host = host
        self.port = 0
        self.calls: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.fail_with: list[int] = []
        self.numbered: bool | str = False
        self.keep_requests = True
        self.batch_lines: list[tuple[str, str]] = []  # (a job's endpoint, a line's url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def total(self) -> int:
        with self._lock:
            return sum(v for k, v in self.calls.items() if k not in ("/v1/models", "/stats"))

    # -- running ------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(
                asyncio.start_server(self._connection, self.host, 0, backlog=4096)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def serve_forever(self, port: int = 0) -> None:
        """Run in the current loop (the benchmark's upstream process)."""
        server = await asyncio.start_server(self._connection, self.host, port, backlog=4096)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            await server.serve_forever()

    # -- HTTP ---------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(length) if length else b""
                await self._respond(method, target.split("?")[0], headers, raw, writer)
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        raw: bytes,
        writer: asyncio.StreamWriter,
    ) -> None:
        multipart = headers.get("content-type", "").startswith("multipart/")
        body = json.loads(raw) if raw and not multipart else {}
        with self._lock:
            self.calls[path] += 1
            if self.keep_requests:
                self.requests.append({"path": path, "headers": headers, "body": body})
            failing = self.fail_with.pop(0) if self.fail_with and path.startswith("/v1/c") else None
        if path == "/v1/models":
            await self._json(writer, 200, {"object": "list", "data": []})
            return
        if path == "/stats":  # for a benchmark in another process
            await self._json(writer, 200, {"calls": self.total})
            return
        if path.startswith(("/v1/files", "/v1/batches")):
            await self._batch_api(method, path, headers, raw, writer)
            return
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if failing is not None:
            error = {
                "error": {
                    "message": f"fake upstream failure {failing}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }
            await self._json(writer, failing, error)
            return
        if path == "/v1/chat/completions":
            result = self.chat(body)
        elif path == "/v1/completions":
            result = self.completion(body)
        elif path == "/v1/embeddings":
            await self._json(writer, 200, self.embeddings(body))
            return
        elif path == "/v1/responses":
            result = self.responses(body)
            if body.get("stream"):
                await self._events(writer, self.response_events(result))
            else:
                await self._json(writer, 200, result)
            return
        else:
            await self._json(writer, 404, {"error": {"message": f"no route {path}"}})
            return
        if body.get("stream"):
            await self._stream(writer, result, body, chat=path == "/v1/chat/completions")
        else:
            await self._json(writer, 200, result)

    async def _json(self, writer: asyncio.StreamWriter, status: int, data: Any) -> None:
        payload = json.dumps(data).encode()
        writer.write(
            f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\nContent-Type: application/json"
            f"\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        result: dict[str, Any],
        body: dict[str, Any],
        *,
        chat: bool,
    ) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        usage = (body.get("stream_options") or {}).get("include_usage")
        chunks = self.chat_chunks(result) if chat else self.completion_chunks(result)
        if usage:
            chunks.append({**self._head(result), "choices": [], "usage": result["usage"]})
        for i, chunk in enumerate(chunks):
            if i and self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
            writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            await writer.drain()
        done = b"data: [DONE]\n\n"
        writer.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
        await writer.drain()

    async def _events(self, writer: asyncio.StreamWriter, events: list[dict[str, Any]]) -> None:
        """Typed server-sent events, as the Responses API sends them (no [DONE])."""
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for i, event in enumerate(events):
            if i and self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            data = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    def response_events(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        message = result["output"][0]
        text = message["content"][0]["text"]
        where = {"item_id": message["id"], "output_index": 0, "content_index": 0}
        empty = {"type": "output_text", "text": "", "annotations": []}
        events: list[dict[str, Any]] = [
            {
                "type": "response.created",
                "response": {**result, "status": "in_progress", "output": [], "usage": None},
            },
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**message, "status": "in_progress", "content": []},
            },
            {"type": "response.content_part.added", **where, "part": empty},
        ]
        words = text.split(" ")
        events += [
            {
                "type": "response.output_text.delta",
                **where,
                "delta": w + (" " if i < len(words) - 1 else ""),
            }
            for i, w in enumerate(words)
        ]
        events += [
            {"type": "response.output_text.done", **where, "text": text},
            {"type": "response.content_part.done", **where, "part": message["content"][0]},
            {"type": "response.output_item.done", "output_index": 0, "item": message},
            {
                "type": f"response.{'completed' if result['status'] == 'completed' else 'incomplete'}",
                "response": result,
            },
        ]
        return [{**e, "sequence_number": n} for n, e in enumerate(events)]

    # -- the Batch API (files, batches) ----------------------------------------------------

    async def _batch_api(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        raw: bytes,
        writer: asyncio.StreamWriter,
    ) -> None:
        """OpenAI's Batch API: a job is done ``batch_delay_s`` after it is created; a
        line whose question contains FAIL answers 400."""
        files: dict[str, bytes] = self.__dict__.setdefault("files", {})
        batches: dict[str, dict[str, Any]] = self.__dict__.setdefault("batches", {})
        if method == "POST" and path == "/v1/files":
            boundary = headers["content-type"].split("boundary=")[1].encode()
            part = next(p for p in raw.split(b"--" + boundary) if b'name="file"' in p)
            content = part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
            file_id = f"file-{len(files) + 1}"
            files[file_id] = content
            await self._json(writer, 200, {"id": file_id, "object": "file", "purpose": "batch"})
        elif method == "POST" and path == "/v1/batches":
            request = json.loads(raw)
            out, errors = [], []
            for line in files[request["input_file_id"]].decode().splitlines():
                item = json.loads(line)
                self.batch_lines.append((request["endpoint"], item["url"]))
                if "FAIL" in json.dumps(item["body"].get("messages", item["body"].get("input"))):
                    error = {
                        "error": {"message": "this line failed", "type": "invalid_request_error"}
                    }
                    errors.append(
                        {
                            "custom_id": item["custom_id"],
                            "error": None,
                            "response": {"status_code": 400, "body": error},
                        }
                    )
                else:
                    out.append(
                        {
                            "custom_id": item["custom_id"],
                            "error": None,
                            "response": {
                                "status_code": 200,
                                "body": (
                                    self.responses(item["body"])
                                    if item["url"] == "/v1/responses"
                                    else self.chat(item["body"])
                                ),
                            },
                        }
                    )
            batch_id = f"batch-{len(batches) + 1}"
            files[f"{batch_id}-out"] = "\n".join(json.dumps(x) for x in out).encode()
            files[f"{batch_id}-err"] = "\n".join(json.dumps(x) for x in errors).encode()
            batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "status": "in_progress",
                "endpoint": request["endpoint"],
                "lines": len(out) + len(errors),
                "done_at": time.monotonic() + getattr(self, "batch_delay_s", 0.0),
            }
            await self._json(
                writer, 200, {k: v for k, v in batches[batch_id].items() if k != "done_at"}
            )
        elif method == "GET" and path.startswith("/v1/batches/"):
            batch = dict(batches[path.rsplit("/", 1)[1]])
            if time.monotonic() >= batch.pop("done_at"):
                batch.update(
                    status="completed",
                    output_file_id=f"{batch['id']}-out",
                    error_file_id=f"{batch['id']}-err",
                )
            await self._json(writer, 200, batch)
        elif method == "GET" and path.endswith("/content"):
            content = files[path.split("/")[3]]
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/jsonl\r\n"
                + f"Content-Length: {len(content)}\r\n\r\n".encode()
                + content
            )
            await writer.drain()
        else:
            await self._json(writer, 404, {"error": {"message": f"no route {method} {path}"}})

    # -- answers --------------------------------------------------------------------------

    def _head(self, result: dict[str, Any]) -> dict[str, Any]:
        obj = (
            "chat.completion.chunk" if result["object"] == "chat.completion" else "text_completion"
        )
        return {
            "id": result["id"],
            "object": obj,
            "created": result["created"],
            "model": result["model"],
        }

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        question = next(
            (_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        fmt = (body.get("response_format") or {}).get("type")
        message: dict[str, Any] = {"role": "assistant", "content": f"Echo: {question}"}
        numbered = re.findall(r"(?m)^\[(\d+)\] (.*)$", question) if self.numbered else []
        if numbered:
            if self.numbered == "drop":
                numbered = numbered[:-1]
            message["content"] = "\n".join(f"[{i}] Echo: {q}" for i, q in numbered)
        finish = "stop"
        if (
            body.get("tools")
            and body.get("tool_choice") != "none"
            and "weather" in question.lower()
        ):
            name = body["tools"][0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_fake_1",
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps({"city": "Paris"})},
                    }
                ],
            }
            finish = "tool_calls"
        elif fmt in ("json_object", "json_schema"):
            message["content"] = json.dumps({"answer": "Echo", "question": question})
        prompt = sum(_words(_text(m.get("content"))) for m in messages)
        completion = _words(message["content"] or json.dumps(message.get("tool_calls")))
        return {
            "id": f"chatcmpl-fake-{hashlib.sha1(json.dumps(body).encode()).hexdigest()[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }

    def responses(self, body: dict[str, Any]) -> dict[str, Any]:
        """A Responses API answer: the chat answer to the same conversation."""
        given = body.get("input")
        items = [{"role": "user", "content": given}] if isinstance(given, str) else given or []
        messages = [
            {"role": i.get("role", "user"), "content": _text(i.get("content"))}
            for i in items
            if isinstance(i, dict)
        ]
        chat = self.chat({"model": body.get("model"), "messages": messages})
        text = chat["choices"][0]["message"]["content"]
        usage = chat["usage"]
        cap = body.get("max_output_tokens")
        cut = isinstance(cap, int) and usage["completion_tokens"] > cap
        if cut:
            text = " ".join(text.split()[:cap])
        digest = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
        return {
            "id": f"resp_fake_{digest}",
            "object": "response",
            "created_at": int(time.time()),
            "model": body.get("model", "fake"),
            "status": "incomplete" if cut else "completed",
            "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
            "output": [
                {
                    "type": "message",
                    "id": f"msg_fake_{digest}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            "usage": {
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": _words(text),
                "total_tokens": usage["prompt_tokens"] + _words(text),
            },
        }

    def chat_chunks(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        head = self._head(result)
        choice = result["choices"][0]
        message = choice["message"]

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                **head,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }

        out = [chunk({"role": "assistant", "content": ""})]
        if message.get("content"):
            words = message["content"].split(" ")
            out += [
                chunk({"content": w + (" " if i < len(words) - 1 else "")})
                for i, w in enumerate(words)
            ]
        for i, call in enumerate(message.get("tool_calls") or ()):
            args = call["function"]["arguments"]
            out.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["function"]["name"], "arguments": ""},
                            }
                        ]
                    }
                )
            )
            half = len(args) // 2
            for part in (args[:half], args[half:]):
                out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
        out.append(chunk({}, choice["finish_reason"]))
        return out

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt")
        text = f"Echo: {prompt if isinstance(prompt, str) else json.dumps(prompt)}"
        return {
            "id": "cmpl-fake",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": _words(str(prompt)),
                "completion_tokens": _words(text),
                "total_tokens": _words(str(prompt)) + _words(text),
            },
        }

    def completion_chunks(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        head = self._head(result)
        words = result["choices"][0]["text"].split(" ")
        out = [
            {
                **head,
                "choices": [
                    {
                        "index": 0,
                        "text": w + (" " if i < len(words) - 1 else ""),
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
            }
            for i, w in enumerate(words)
        ]
        out.append(
            {
                **head,
                "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}],
            }
        )
        return out

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        data = []
        for i, item in enumerate(items):
            digest = hashlib.sha256(str(item).encode()).digest()
            data.append(
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": [round(b / 255, 4) for b in digest[:8]],
                }
            )
        tokens = sum(_words(str(x)) for x in items)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def uvicorn_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread; yields its ``/v1`` URL
    once it accepts connections, and stops it on exit."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
