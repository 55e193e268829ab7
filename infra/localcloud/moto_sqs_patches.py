"""moto's SQS in the local cloud's moto child: a message added wakes one waiting receive, not every one.

moto 5.2.5 keeps a queue's waiting receives (long polls) on one `threading.Condition`; `Queue.add_message`
calls `notify_all()` for each message added, so every receive waiting on the queue wakes, scans the queue,
finds the message taken by the first, and waits again: with the forward mapping's 20 pollers, twenty wakes
and scans for every rating queued (a thundering herd; issue 15 item 6). Here each message added wakes one
(ten added, ten at most), and a waiting receive's check for messages stops at the first visible one instead
of listing them all.

Long-poll semantics, visibility timeouts and receive counts are moto's own: the receive loop is untouched. A
waiting receive still looks again every second (moto's wait is in one-second steps), which is how a message
whose visibility timeout or delay ends is found, as before. One race is closed: a receive woken for a
message just as its own wait ends returns empty without taking it; it hands the wake on to the next waiting
receive, so the message is not left waiting for someone's next one-second look.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

log = logging.getLogger("hcp.localcloud")


class WakeOnePerMessage(threading.Condition):
    """A queue's condition whose `notify_all` wakes one waiter: in moto 5.2.5 only `Queue.add_message` calls
    it, once for each message it appends (checked by `wake_one_receive_per_message`, or left as moto ships)."""

    def notify_all(self) -> None:
        self.notify(1)


def _any_visible(queue: Any, now: float) -> bool:
    """Whether a receive would find a message: moto's `Queue.messages` (visible and not delayed), truthiness
    only, stopping at the first."""
    return any(now > m.visible_at and not now < m.delayed_until for m in queue._messages)


def wake_one_receive_per_message() -> bool:
    """Applied once per process (the moto child, `infra.localcloud.motoserver`); True when moto is patched. A moto
    whose queue does not look like 5.2.5's (the condition called elsewhere, another wait) is left as it ships."""
    import moto.sqs.models as models
    from moto.core.utils import unix_time_millis

    queue, backend = models.Queue, models.SQSBackend
    if getattr(queue, "_hcp_wake_one", False):
        return True
    shaped = (
        "notify_all" in queue.add_message.__code__.co_names
        and "wait_for" in queue.wait_for_messages.__code__.co_names
        and "Condition" in queue.__init__.__code__.co_names
        and models.Condition is threading.Condition
    )
    if not shaped:
        log.warning("moto's SQS queue is not shaped as in 5.2.5: its waiting receives are left as moto wakes them")
        return False

    def wait_for_messages(self: Any, timeout: int) -> None:
        with self._messages_lock:
            self._messages_lock.wait_for(lambda: _any_visible(self, unix_time_millis()), timeout=timeout)

    original_receive = backend.receive_message

    @functools.wraps(original_receive)
    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int, *args: Any,
                        **kwargs: Any) -> Any:  # fmt: skip
        result = original_receive(self, queue_name, count, wait_seconds_timeout, *args, **kwargs)
        if not result and wait_seconds_timeout:  # a long poll ended empty: what it may have been woken for, handed on
            waiting = self.get_queue(queue_name)
            with waiting._messages_lock:
                if _any_visible(waiting, unix_time_millis()):
                    waiting._messages_lock.notify(1)
        return result

    models.Condition = WakeOnePerMessage  # type: ignore[misc]  # queues created from now on
    queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]
    backend.receive_message = receive_message  # type: ignore[method-assign]
    queue._hcp_wake_one = True  # type: ignore[attr-defined]
    return True


def apply() -> None:
    """Every SQS patch of this module (the moto child's one line)."""
    wake_one_receive_per_message()
