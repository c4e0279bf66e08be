"""The moto server, with SQS FIFO receives that keep AWS's per-group order.

moto 5 decides whether a message group is busy from a snapshot of its pending (received, not
deleted) messages, refreshed as it meets expired ones. Two consequences, both seen in our
tests: when several received messages of a group expire together, moto skips the oldest and
delivers a later one first; and a message that expires *while* a receive is scanning the queue
can let a later message of its group through although the scan already passed it. AWS delivers
a group strictly in order (LocalStack had the same defect, issue 4287), and the pipeline's
per-member order depends on it. So this receive scans each FIFO queue in send order and, once
it meets a message of a group it cannot deliver (in flight or delayed), delivers nothing later
of that group in the same scan. Standard queues and everything else are moto's own code.

moto's SQS is also quadratic in a queue's length, so a test that fills a queue and waits with a
deadline would pass or fail with the machine's speed. Every send computes the queue's attribute
dict, which counts visible, delayed and in-flight messages by asking each message whether it is
visible and delayed, and each question builds two datetimes (moto.core.utils.unix_time: utcnow
and utcfromtimestamp(0)). 1,000 FIFO messages sent in batches of 10 took 85 s on a fresh machine.
The patches below keep moto's semantics and make each of those checks a float comparison
against one clock reading per scan:
- SQS's clock (`unix_time_millis` as the sqs module sees it) reads time.time() instead of
  building datetimes; a datetime argument still goes to moto's own function.
- Message.visible and Message.delayed compare against that clock.
- Queue.messages and the three approximate counts read the clock once per scan.
- The attribute dict turns each attribute's name into a field name with a regex-heavy
  camelcase_to_underscores, twice per send: the sqs module's reference is memoised.
- A send reads the attribute dict only for ContentBasedDeduplication, so while a send runs the
  three counts are not computed (they are read as 0 there and nowhere else). The same holds
  while EventBridge sends an event to a FIFO queue target: it reads that attribute first.
- A receive checks each message's retention period through get_queue_attributes, which builds
  the whole dict with its three counts: the check reads the queue's field instead.
What remains linear per send (the FIFO dedup scan) and per delete costs well under a
microsecond per message in the queue.

EventBridge: for every event and every target of a matching rule, moto builds the target's
input with jsonpath_ng's `parse` on each of its ten default input paths, and every call to
`parse` generates the jsonpath grammar's LALR tables again (ply's yacc). That was 59% of the
server's CPU in the distributed soak (bench/soak --distributed), which moto held at about 15
changes/s. Parsed paths are immutable, so `parse` is memoised per path string.

Per request, after that: werkzeug logged every request line to moto.out (18% of the CPU left),
and moto listed its own package directory (an isdir per service) to route each request (7%).
Requests are no longer logged (warnings and errors still are); the directory is listed once.
"""
import functools
import logging
import sys
import threading
import time

import jsonpath_ng.ext
from moto import backends
from moto.core.utils import unix_time
from moto.events import models as events_models
from moto.server import main
from moto.sqs import models

# moto.events.utils imports `parse` from jsonpath_ng.ext inside the function, at each call.
jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)
logging.getLogger("werkzeug").setLevel(logging.WARNING)
_moto_modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _moto_modules

_original_receive = models.SQSBackend.receive_message
_original_millis = models.unix_time_millis


def _millis(dt=None):
    return time.time() * 1000.0 if dt is None else _original_millis(dt)


models.unix_time_millis = _millis
models.camelcase_to_underscores = functools.lru_cache(maxsize=512)(models.camelcase_to_underscores)
models.Message.visible = property(lambda m: time.time() * 1000.0 > m.visible_at)
models.Message.delayed = property(lambda m: time.time() * 1000.0 < m.delayed_until)


def _deliverable(queue):
    now = time.time() * 1000.0
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


_sending = threading.local()


def _count(predicate):
    def count(queue):
        if getattr(_sending, "active", False):
            return 0
        now = time.time() * 1000.0
        return sum(1 for m in queue._messages if predicate(m, now))
    return property(count)


models.Queue.messages = property(_deliverable)
models.Queue.approximate_number_of_messages = _count(
    lambda m, now: now > m.visible_at and not now < m.delayed_until)
models.Queue.approximate_number_of_messages_delayed = _count(lambda m, now: now < m.delayed_until)
models.Queue.approximate_number_of_messages_not_visible = _count(lambda m, now: not now > m.visible_at)


def _without_counts(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        outer = getattr(_sending, "active", False)
        _sending.active = True
        try:
            return method(*args, **kwargs)
        finally:
            _sending.active = outer
    return wrapper


for _name in ("send_message", "send_message_batch"):
    setattr(models.SQSBackend, _name, _without_counts(getattr(models.SQSBackend, _name)))
# EventBridge reads a FIFO target queue's ContentBasedDeduplication (through the whole
# attribute dict, with its three counts) before every event it sends there.
events_models.Rule._send_to_sqs_queue = _without_counts(events_models.Rule._send_to_sqs_queue)


def _retained(self, queue_name, message):
    retention = int(self.get_queue(queue_name).message_retention_period)
    return retention + message.sent_timestamp / 1000 > time.time()


models.SQSBackend.is_message_valid_based_on_retention_period = _retained


def _fifo_receive(self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None):
    queue = self.get_queue(queue_name)
    if not queue.fifo_queue:
        return _original_receive(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                                 message_attribute_names)
    if message_attribute_names is None:
        message_attribute_names = []
    result = []
    polling_end = unix_time() + wait_seconds_timeout
    while True:
        blocked = set()  # groups with an undeliverable message earlier in this scan
        to_dlq = []
        for message in list(queue._messages):
            group = message.group_id
            if group in blocked:
                continue
            if not message.visible or message.delayed:
                blocked.add(group)
                continue
            queue.pending_messages.discard(message)  # an expired receive: it is deliverable again
            if (queue.dead_letter_queue is not None and queue.redrive_policy
                    and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]):
                to_dlq.append(message)
                blocked.add(group)  # what follows it waits until it has moved
                continue
            if not self.is_message_valid_based_on_retention_period(queue_name, message):
                blocked.add(group)
                continue
            queue.pending_messages.add(message)
            message.mark_received(visibility_timeout=visibility_timeout)
            copy = models.deepcopy(message)
            models._filter_message_attributes(copy, message_attribute_names)
            result.append(copy)
            if len(result) >= count:
                break
        for message in to_dlq:
            queue._messages.remove(message)
            queue.dead_letter_queue.add_message(message)
        if result or not wait_seconds_timeout or unix_time() > polling_end:
            return result
        queue.wait_for_messages(1)


models.SQSBackend.receive_message = _fifo_receive

if __name__ == "__main__":
    sys.exit(main())
