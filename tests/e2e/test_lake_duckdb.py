"""The lake, read by what its users read it with (issue 18 item 4): the embedded pipeline runs
on a generated stream, then DuckDB loads `objects/lake/member-events/dt=*/hr=*/*.ndjson.gz`
with Hive partitioning, as an analyst would, and the result must agree with the oracle
(memberflow_e2e.expected_state, which shares no code with the C++):

(a) the number of events, each event id once;
(b) the history of one member (the one with the most changes, a delete among them when the
    stream has one) ordered by data.version: its versions, types, source sequences and member
    bodies, with `time` never going backwards; and every member's versions are 1..N;
(c) the `dt` (DATE) and `hr` (INTEGER) partition columns are present on every event, agree
    with its `time` in UTC, and with the folder the event was read from.

`erased_member_absent` below is the lake's check for `memberflow erase` (issue 18 item 3).
"""
import json
import os
import tempfile

import duckdb

from memberflow_e2e import Pipeline, expected_state, produce_generated

SEED, COUNT, MEMBERS = 44, 2000, 200

LAKE_GLOB = "objects/lake/member-events/dt=*/hr=*/*.ndjson.gz"

# The top-level and data fields of a lake event (DESIGN.md §3.4), as docs/lake.md declares them
# for Athena and Snowflake.
EVENT_COLUMNS = ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"]
DATA_FIELDS = ["member", "version", "sourceSequence", "changedFields", "lineage"]
MEMBER_FIELDS = ["memberId", "name", "birthDate", "gender", "contact", "address", "coverage", "status"]


def connect(data_dir):
    """A DuckDB connection with two views over the lake under `data_dir`:
    `lake`, one typed row per event (the fields inferred from every line) plus the `dt` and
    `hr` partition columns and the object's `filename`; and `lake_lines`, each line as it is,
    one JSON value (`json`) whatever its shape, plus `dt`, `hr` and `filename`."""
    glob = os.path.join(data_dir, LAKE_GLOB).replace("'", "''")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    hive = "hive_partitioning = true, hive_types = {'dt': 'DATE', 'hr': 'INTEGER'}, filename = true"
    con.execute(f"CREATE VIEW lake AS SELECT * FROM read_json('{glob}', format = 'newline_delimited', "
                f"sample_size = -1, {hive})")
    con.execute(f"CREATE VIEW lake_lines AS SELECT * FROM read_ndjson_objects('{glob}', {hive})")
    return con


def member_history(con, member_id):
    """(version, type, sourceSequence, member as JSON or None) of one member's events, by version."""
    rows = con.execute(
        "SELECT data.version, type, data.sourceSequence, to_json(data.member) FROM lake "
        "WHERE subject = ? ORDER BY data.version", [member_id]).fetchall()
    return [(v, t, s, json.loads(m) if m is not None else None) for v, t, s, m in rows]


def erased_member_absent(con, member_id, values):
    """The lake's part of the erasure check (issue 18 item 3), for the test of
    `memberflow erase --member <member_id>`; `con` is connect(data_dir) made after the erase,
    `values` that member's personal values as they appear in events (canonical form, e.g. the
    phone as +1..., dates as YYYY-MM-DD). Asserts that:
    - no line of the lake about the member (its subject, or naming its id anywhere) holds any
      of `values`, in any field, read as JSON whatever the redacted lines look like;
    - the lake still loads as typed rows with its partitions (the rewritten objects replaced
      the old ones) and still has the member's events (the fact of them is kept);
    - the `member.erased` event is in the lake once, so downstream readers erase too.
    The other members' histories are the caller's to compare (member_history before/after)."""
    assert values, "no values to look for"
    lines = con.execute(
        "SELECT filename, json::VARCHAR FROM lake_lines "
        "WHERE json->>'subject' = ? OR contains(json::VARCHAR, ?)", [member_id, member_id]).fetchall()
    assert lines, f"no lake line names {member_id}"

    def strings(v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            for k, x in v.items():
                yield k
                yield from strings(x)
        elif isinstance(v, list):
            for x in v:
                yield from strings(x)

    leaked = sorted({(os.path.basename(f), value) for f, text in lines for s in strings(json.loads(text))
                     for value in values if value in s})
    assert not leaked, f"{member_id}'s data still in the lake: {leaked[:5]}"
    kept = con.execute("SELECT count(*) FROM lake WHERE subject = ? AND dt IS NOT NULL AND hr IS NOT NULL",
                       [member_id]).fetchone()[0]
    assert kept > 0, f"{member_id}'s events are gone from the typed lake"
    erased = con.execute("SELECT count(*) FROM lake WHERE subject = ? AND type = 'member.erased'",
                         [member_id]).fetchone()[0]
    assert erased == 1, f"{erased} member.erased events for {member_id} in the lake"


def test_duckdb_reads_the_lake():
    with tempfile.TemporaryDirectory(prefix="memberflow-lake-duckdb-") as tmp:
        p = Pipeline(tmp)
        try:
            lines = produce_generated(p, SEED, COUNT, MEMBERS)
            p.cli("run", "--until-idle")
        finally:
            p.stop_all()

        history = {}  # member -> [(version, type, sequence, content)] in the oracle's order
        members, _, events = expected_state(
            lines, on_change=lambda m, v, op, _mid, seq, content: history.setdefault(m, []).append(
                (v, f"member.{op}", seq, content)))
        assert events > 0 and len(history) > 1

        con = connect(os.path.join(tmp, "var"))
        columns = [r[0] for r in con.execute("DESCRIBE lake").fetchall()]
        assert columns[:len(EVENT_COLUMNS)] == EVENT_COLUMNS, columns
        assert {"dt", "hr", "filename"} <= set(columns), columns
        data = json.loads(con.execute("SELECT to_json(data) FROM lake WHERE data.member IS NOT NULL "
                                      "LIMIT 1").fetchone()[0])
        assert list(data) == DATA_FIELDS and list(data["member"]) == MEMBER_FIELDS, data

        # (a) the event count, each event once.
        count, ids = con.execute("SELECT count(*), count(DISTINCT id) FROM lake").fetchone()
        assert count == events, f"DuckDB reads {count} events, the oracle expects {events}"
        assert ids == count, f"{count - ids} event ids twice"

        # (b) one member's history, ordered by version: the member with the most events,
        # preferring one that was deleted (and so has every event type).
        mid = max(history, key=lambda m: (any(t == "member.deleted" for _, t, _, _ in history[m]),
                                          len(history[m]), m))
        want = history[mid]
        assert len(want) >= 3, (mid, want)
        got = member_history(con, mid)
        assert [g[:3] for g in got] == [w[:3] for w in want], f"{mid}: lake {[g[:3] for g in got]}\n" \
                                                             f"oracle {[w[:3] for w in want]}"
        assert [g[3] for g in got] == [w[3] for w in want], f"{mid}: member bodies differ"
        times = [t for (t,) in con.execute("SELECT time FROM lake WHERE subject = ? ORDER BY data.version",
                                           [mid]).fetchall()]
        assert times == sorted(times), f"{mid}: time goes backwards in version order {times}"
        # ... and every member's versions are 1..N, N as the oracle counts them.
        per_member = dict(con.execute(
            "SELECT subject, count(*) FROM lake GROUP BY subject "
            "HAVING min(data.version) = 1 AND max(data.version) = count(*) "
            "AND count(DISTINCT data.version) = count(*)").fetchall())
        assert per_member == {m: st["version"] for m, st in members.items() if st["version"]}

        # (c) the partition columns: present on every event, equal to the event's time in UTC
        # and to the folders of the object it was read from.
        parts = con.execute("SELECT DISTINCT dt, hr FROM lake ORDER BY ALL").fetchall()
        assert parts and all(dt is not None and hr is not None for dt, hr in parts), parts
        wrong = con.execute("""
            SELECT id, time, dt, hr, filename FROM (
              SELECT *, CAST(time AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS utc FROM lake)
            WHERE dt IS NULL OR hr IS NULL OR hr NOT BETWEEN 0 AND 23
               OR dt <> CAST(utc AS DATE) OR hr <> hour(utc)
               OR NOT contains(filename, '/dt=' || strftime(dt, '%Y-%m-%d') || '/hr=' || lpad(hr::VARCHAR, 2, '0') || '/')
            LIMIT 5""").fetchall()
        assert not wrong, f"events whose dt/hr disagree with their time or folder: {wrong}"
        by_time = con.execute("""
            SELECT count(DISTINCT (CAST(utc AS DATE), hour(utc))) FROM (
              SELECT CAST(time AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS utc FROM lake)""").fetchone()[0]
        assert by_time == len(parts), (by_time, parts)

        # The schemaless view reads the same lines (what erased_member_absent reads).
        assert con.execute("SELECT count(*) FROM lake_lines").fetchone()[0] == events
