"""Following a replica's log on the gateway's event loop. The compute backends give a blocking
iterator of lines (a file read on the local backend, the Kubernetes API's stream); it is read by
a thread of its own, which hands each line to the loop and waits while the caller is behind (at
most QUEUED lines are held). When the caller leaves, the thread stops at the next line or when
the replica ends."""

import asyncio
import threading

QUEUED = 1000
_END = object()


class Follower:
    def __init__(self, lines, loop: asyncio.AbstractEventLoop):
        self.lines = lines
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUED)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, name="gateway-log-follower", daemon=True)

    def start(self) -> "Follower":
        self.thread.start()
        return self

    def _put(self, item) -> bool:
        """Hands an item to the loop, waiting for room; False once the caller has left."""
        while not self.stopped.is_set():
            try:
                asyncio.run_coroutine_threadsafe(asyncio.wait_for(self.queue.put(item), 1), self.loop).result()
                return True
            except TimeoutError:
                continue
            except RuntimeError:  # the loop is closed: the gateway is stopping
                return False
        return False

    def _read(self) -> None:
        failure = None
        try:
            for line in self.lines:
                if not self._put(line):
                    break
        except Exception as exc:  # the backend broke off; the caller is told in the stream
            failure = exc
        finally:
            close = getattr(self.lines, "close", None)
            if close is not None:
                close()
            self._put(failure or _END)

    async def __aiter__(self):
        while True:
            item = await self.queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def stop(self) -> None:
        self.stopped.set()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()
