"""The moto server, with one correction that makes its SQS FIFO queues keep AWS's order.

moto 5 counts a message group as busy while any of its received messages is still listed as
pending, even one whose visibility timeout has expired. When several messages of one group
expire together (a consumer received them and then lost its connection), moto therefore
skips the oldest while it looks at it and delivers a later one first. AWS delivers the
group's oldest message first (the same defect was fixed in LocalStack, issue 4287). The
pipeline's per-member order depends on that guarantee, so the emulator it is tested against
must keep it: a group here is busy only while one of its received messages is still
invisible."""
import sys

from moto.server import main
from moto.sqs import models


def _busy_groups(queue):
    return {m.group_id for m in queue._pending_messages if m.group_id is not None and not m.visible}


models.Queue.pending_message_groups = property(_busy_groups)

if __name__ == "__main__":
    sys.exit(main())
