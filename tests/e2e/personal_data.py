"""The checks that a member's personal data is nowhere it must not be: in logs (no test may
find a generated name, birth date, e-mail, phone or street in them), and, after `memberflow
erase`, in any file, object, message or row (tests/e2e/test_erase.py,
test_distributed_park_erase.py). Split from memberflow_e2e.py, which re-exports them."""
import datetime
import gzip
import json
import os
import re

# The oracle's helpers (memberflow_e2e) are imported where they are used: memberflow_e2e
# re-exports this module, and either may be imported first.


def assert_no_personal_data(text, lines):
    """None of the generated names, birth dates, e-mails, phones or street lines of `lines`
    (raw records) is in `text` (logs), as a whole word."""
    import re
    values = set()
    for line in lines:
        try:
            value = json.loads(line).get("value")
        except (ValueError, AttributeError):
            continue  # the generator's malformed records
        if not isinstance(value, dict):
            continue
        value = value.get("payload", value) if isinstance(value.get("payload"), dict) else value
        for row in (value.get("after"), value.get("before")):
            if not isinstance(row, dict):
                continue
            for field in ("first_name", "middle_name", "last_name", "birth_date", "email", "phone", "address_line1"):
                v = row.get(field)
                if isinstance(v, str) and len(v.strip()) >= 3:
                    values.add(v.strip())
                    if field == "phone":
                        values.add("+" + "".join(c for c in v if c.isdigit()))
    assert len(values) > 100
    leaked = sorted(v for v in values if re.search(r"(?<![\w@.+-])" + re.escape(v) + r"(?![\w@.-])", text))
    assert not leaked, f"personal data in logs: {leaked[:5]}"


# ---- erasure (issue 18): what an erased member's data looks like, and where it is found -------

PERSONAL = ("first_name", "middle_name", "last_name", "birth_date", "email", "phone",
            "address_line1")


def rows_of(rec):
    """(key member id, [rows]) of a produced line."""
    from memberflow_e2e import unwrap
    key = unwrap(rec.get("key"))
    key_id = key.get("member_id") if isinstance(key, dict) else None
    value = rec.get("value")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    env = unwrap(value) if isinstance(value, dict) else None
    rows = []
    if isinstance(env, dict):
        rows = [r for r in (env.get("after"), env.get("before")) if isinstance(r, dict)]
    return key_id, rows


def values_of(row):
    """The personal values of a row, in the forms memberflow may store them."""
    from memberflow_e2e import EPOCH
    out = set()
    for field in PERSONAL:
        v = row.get(field)
        if isinstance(v, int) and field == "birth_date":
            out.add((EPOCH + datetime.timedelta(days=v)).isoformat())
        elif isinstance(v, str) and len(v.strip()) >= 3:
            out.add(v.strip())
            if field == "phone":
                digits = "".join(c for c in v if c.isdigit())
                out.add("+" + digits)
                if len(digits) == 10:
                    out.add("+1" + digits)
    return out


def personal_values(lines, member):
    """The member's values that no other member's records hold (those may stay)."""
    mine, others = set(), set()
    for line in lines:
        key_id, rows = rows_of(json.loads(line))
        for row in rows:
            of_member = key_id == member or row.get("member_id") == member
            (mine if of_member else others).update(values_of(row))
    return mine - others


def record_counts(lines):
    """member id -> how many produced lines name it (key or row)."""
    counts = {}
    for line in lines:
        key_id, rows = rows_of(json.loads(line))
        for m in {key_id, *(r.get("member_id") for r in rows)} - {None}:
            counts[m] = counts.get(m, 0) + 1
    return counts


def leaks_in(items, values):
    """(name, value) for every value found, as a whole word, in the (name, bytes) `items`; a name
    ending in .gz is decompressed first."""
    import gzip
    import re
    pattern = re.compile("|".join(r"(?<![\w@.+-])" + re.escape(v) + r"(?![\w@.-])"
                                  for v in sorted(values, key=len, reverse=True)))
    found = []
    for name, data in items:
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        found += [(name, m.group(0)) for m in pattern.finditer(data)]
    return found


def files_under(root):
    """(path relative to root, bytes) of every file under root."""
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            with open(path, "rb") as f:
                yield os.path.relpath(path, root), f.read()


def leaks(var, values):
    """(file, value) for every value found, as a whole word, in any file under var."""
    return leaks_in(files_under(var), values)


def canonical_personal_values(lines, member):
    """The member's personal values as its events carry them (DESIGN.md §3.3: names, birthDate,
    e-mail, phone as +1..., address line 1), from the oracle's view of `lines`, without the values
    another member's events carry too."""
    from memberflow_e2e import expected_state
    mine, others = set(), set()

    def collect(m, _version, _op, _mid, _seq, content):
        if content is None:
            return
        values = {content["name"]["first"], content["name"]["middle"], content["name"]["last"],
                  content["birthDate"], content["contact"]["email"], content["contact"]["phone"],
                  content["address"]["line1"]}
        (mine if m == member else others).update(v for v in values if v and len(v) >= 3)

    expected_state(lines, on_change=collect)
    return mine - others
