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
"""
import sys

from moto.core.utils import unix_time
from moto.server import main
from moto.sqs import models

_original_receive = models.SQSBackend.receive_message


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
