"""The operator console in a real browser (issue 17, docs/console.md): Debian's Chromium driven
by Playwright against an embedded pipeline. The operator logs in through the embedded issuer;
the flow map shows what `memberflow status` says; a record the ingest DLQ rejected as
oversized becomes valid when ingest.max_record_bytes is raised, and its redrive from the
workbench applies the member; a record found by its Kafka partition and offset leads to its
raw line, which is the archive's line; no page shows personal data before a reveal.
"""
import gzip
import json
import os
import tempfile
import time

import pytest
from playwright.sync_api import expect, sync_playwright

from memberflow_e2e import Pipeline, assert_no_personal_data, decode, wait_for

CHROMIUM = os.environ.get("MEMBERFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECRET = "console-e2e-" + os.urandom(8).hex()
# Sized for a slow 1-core machine: the flow map samples every second and refreshes every 5 s.
WAIT_MS = 90_000

# A valid record whose value is larger than the first limit (1024 bytes): rejected as
# "oversized", valid once the limit is raised. Its names are in `lines` so that the personal
# data check covers them too.
REDRIVEN = "C0000001"
REDRIVEN_ID = "console-e2e-oversized"  # its message id (a Kafka header: an oversized value is not read)


def oversized_record():
    row = {"member_id": REDRIVEN, "first_name": "Quillonette", "last_name": "Vandermeerstraat",
           "middle_name": None, "suffix": None, "birth_date": "1979-03-14", "gender": "F",
           "email": "quillonette.v@example.org", "phone": "(515) 555-0142",
           "address_line1": "4411 Ostrander Lane", "address_line2": None, "city": "Ames",
           "state": "IA", "postal_code": "50010", "country": "US", "plan_id": "PPO-GOLD",
           "group_number": "G900", "subscriber_id": "S90001", "relationship": "self",
           "coverage_start": 19000, "coverage_end": None, "status": "A",
           "legacy_notes": "n" * 1200}  # an unknown field: ignored, but it makes the value big
    value = {"before": None, "after": row, "op": "c", "ts_ms": 1767225700000,
             "source": {"version": "2.7.0.Final", "connector": "postgresql", "name": "coresys",
                        "ts_ms": 1767225700000, "db": "core", "schema": "public", "table": "member",
                        "txId": 9001, "lsn": 900001}}
    return json.dumps({"key": {"member_id": REDRIVEN}, "value": value, "headers": {"id": REDRIVEN_ID}},
                      ensure_ascii=False)


def set_max_record_bytes(p, n):
    """The ingest validation rule this test changes: ingest.max_record_bytes in the config file."""
    text = open(p.config).read()
    lines = [line for line in text.splitlines() if not line.startswith("max_record_bytes")]
    i = lines.index("[ingest]")
    lines.insert(i + 1, f"max_record_bytes = {n}")
    with open(p.config, "w") as f:
        f.write("\n".join(lines) + "\n")


def archive_lines(p):
    """{(partition, offset): (object key, 1-based line, line text)} of the raw archive."""
    root = os.path.join(p.dir, "var", "objects")
    out = {}
    for d, _, names in os.walk(os.path.join(root, "raw")):
        for n in sorted(names):
            path = os.path.join(d, n)
            key = os.path.relpath(path, root)
            for i, line in enumerate(gzip.decompress(open(path, "rb").read()).decode().splitlines(), 1):
                rec = json.loads(line)
                out[(rec["partition"], rec["offset"])] = (key, i, line)
    return out


# Routing rules for the rules view: deletes go to another bus (no network, and nothing left
# waiting on a queue of its own).
RULES = {
    "targets": [{"name": "partner", "type": "bus", "bus": "partner"}],
    "rules": [{"name": "deletes", "targets": ["partner"], "inputPath": "$.detail",
               "pattern": {"detail-type": ["member.deleted"]}}],
}


@pytest.fixture
def pipeline(monkeypatch):
    monkeypatch.setenv("MEMBERFLOW_SECRET_OPERATOR_CLIENT_SECRET", SECRET)
    with tempfile.TemporaryDirectory(prefix="memberflow-console-") as tmp:
        rules = os.path.join(tmp, "rules.json")
        with open(rules, "w") as f:
            json.dump(RULES, f)
        p = Pipeline(tmp, ingest={"max_record_bytes": 1024}, console={"sample_ms": 1000},
                     bus={"rules_file": rules})
        yield p
        p.stop_all()


@pytest.fixture
def page():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        dist = os.environ.get("MEMBERFLOW_CONSOLE_DIST")
        if dist:  # front-end work: the page's files from scripts/build-console's OUTDIR, not the binary's
            def serve(route):
                name = route.request.url.split("?")[0].rsplit("/", 1)[-1]
                name = "index.html" if name == "console" else name
                route.fulfill(path=os.path.join(dist, name))
            context.route("**/console", serve)
            context.route("**/console/assets/*", serve)
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        browser.close()
        assert not errors, f"errors in the page: {errors}"


def page_text(page):
    """What the page shows, and its form values (inner_text leaves those out)."""
    values = page.eval_on_selector_all("input, textarea", "els => els.map(e => e.value).join('\\n')")
    return page.locator("body").inner_text() + "\n" + values


# WCAG 2.1 contrast (1.4.3, AA) of every visible text node's element against the first opaque
# background behind it: 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold).
CONTRAST_JS = """() => {
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const rgba = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const bgOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const bad = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || !el.offsetParent || el.closest('svg, canvas')) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || Number(st.opacity) === 0) continue;
    const fg = rgba(st.color), bg = bgOf(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) bad.push(`${el.tagName}.${el.className} "${n.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


def assert_contrast(page):
    bad = page.evaluate(CONTRAST_JS)
    assert not bad, f"text below WCAG AA contrast: {bad[:5]}"


def login(page, p):
    page.goto(f"http://127.0.0.1:{p.port}/console")
    expect(page.get_by_role("heading", name="Log in", exact=True)).to_be_visible()
    expect(page.get_by_label("Client id")).to_have_value("memberflow-operator")
    page.get_by_label("Client secret").fill("not the secret")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Login failed")
    page.get_by_label("Client secret").fill(SECRET)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Flow", exact=True)).to_be_visible()
    expect(page.locator("#session-who")).to_contain_text("memberflow-operator")
    # The token is in the page's memory only.
    stored = page.evaluate("() => JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage), document.cookie])")
    assert stored == '[[],[],""]', stored


def login_by_keyboard(page, p):
    """The login with the keyboard alone: Tab from the top of the page, type, Enter."""
    page.goto(f"http://127.0.0.1:{p.port}/console")
    expect(page.get_by_label("Client id")).to_have_value("memberflow-operator")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Client id")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Client secret")).to_be_focused()
    page.keyboard.type(SECRET)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Flow", exact=True)).to_be_focused()


def expect_figure(page, name, value):
    expect(page.locator(f'[data-figure="{name}"]')).to_have_attribute("data-value", str(value))


def test_console_in_a_browser(pipeline, page):
    p = pipeline
    started = time.monotonic()
    # Batch 1, under the 1024-byte limit: everything flows; the crafted record is dead-lettered
    # as oversized (and so are the generator's invalid records, each with its reason).
    gen = p.cli("generate", "--seed", "17", "--count", "600", "--members", "80").stdout.splitlines()
    lines = gen + [oversized_record()]
    p.cli("produce", "-", input="\n".join(lines) + "\n")
    p.cli("run", "--until-idle")
    dead = {d["attributes"]["messageId"]: d["attributes"]["reason"] for d in p.dlq("ingest")}
    assert dead.get(REDRIVEN_ID) == "oversized", dead

    # The rules change: ingest takes records up to 1 MiB from now on.
    set_max_record_bytes(p, 1 << 20)

    # Batch 2 is ingested but not synced (changes wait on the queue); batch 3 is not even
    # ingested (source lag). The API alone serves the console meanwhile: every figure holds still.
    b2 = p.cli("generate", "--seed", "18", "--count", "150", "--members", "80").stdout.splitlines()
    p.cli("produce", "-", input="\n".join(b2) + "\n")
    ingest = p.spawn("--stages", "ingest")
    wait_for(lambda: p.status()["source"]["lag"] == 0, 120, "ingest to take batch 2")
    assert p.stop(ingest) == 0
    b3 = p.cli("generate", "--seed", "19", "--count", "40", "--members", "80").stdout.splitlines()
    p.cli("produce", "-", input="\n".join(b3) + "\n")
    lines += b2 + b3
    api = p.start("--stages", "api")

    login(page, p)
    s = p.status()
    q = s["queues"]
    assert s["source"]["lag"] == len(b3) and q["changes"]["visible"] > 0, s
    both = lambda name: q[name]["visible"] + q[name]["inFlight"]  # noqa: E731
    expect(page.locator('[data-figure="source.records"]')).to_have_attribute("data-value", str(s["source"]["records"]))
    for name, value in [("source.records", s["source"]["records"]), ("source.lag", s["source"]["lag"]),
                        ("sync.depth", q["changes"]["visible"]), ("sync.inFlight", q["changes"]["inFlight"]),
                        ("route.depth", q["route"]["visible"]), ("lake.depth", q["lake"]["visible"]),
                        ("relay.outbox", s.get("outbox", 0)), ("ingest.dlq.depth", both("ingest-dlq")),
                        ("sync.dlq.depth", both("changes-dlq")), ("route.dlq.depth", both("route-dlq")),
                        ("lake.dlq.depth", both("lake-dlq"))]:
        expect_figure(page, name, value)
    # What is shown is what status says, formatted: 1,234 for 1234.
    expect(page.locator('[data-figure="source.records"]')).to_have_text(f'{s["source"]["records"]:,}')
    expect(page.locator('[data-figure="health"]')).to_contain_text("Needs attention")
    # A trend per node, drawn by uPlot.
    expect(page.locator('[data-node="source"] .chart canvas')).to_have_count(1)
    texts = [page_text(page)]

    # Every stage now, and the pipeline drains.
    assert p.stop(api) == 0
    run = p.start()
    wait_for(lambda: p.idle(len(lines)), 240, "the pipeline to drain")
    login_by_keyboard(page, p)  # a new page load: the token was in the old page's memory

    # The DLQ workbench: the oversized group, its entry masked, a dry run, then the redrive.
    page.get_by_role("link", name="DLQs", exact=True).click()
    expect(page.get_by_role("heading", name="DLQ workbench")).to_be_visible()
    expect(page.get_by_role("link", name="oversized")).to_be_visible()
    texts.append(page_text(page))
    assert_contrast(page)
    page.get_by_role("link", name="oversized").first.click()
    expect(page.get_by_role("heading", name="DLQ ingest: oversized")).to_be_visible()
    row = page.locator("tr[data-entry]", has_text=REDRIVEN_ID)
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Details").click()
    detail = page.locator("tr.detail-row:not([hidden])")
    expect(detail.locator("pre.body")).to_have_attribute("data-masked", "true")
    expect(detail).to_contain_text("Archive object")
    texts.append(page_text(page))
    assert_contrast(page)
    # An explicit reveal shows the entry's body (and is audited).
    detail.get_by_role("button", name="Reveal personal data").click()
    expect(detail.locator("pre.body")).to_have_attribute("data-masked", "false")
    expect(detail.locator("pre.body")).to_contain_text("Quillonette")
    detail.get_by_role("button", name="Redrive this entry…").click()
    page.get_by_label("Rate cap (entries per second)").fill("20")
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator('[data-redrive="dry-run"]')).to_contain_text("1 now valid")
    still = [d for d in p.dlq("ingest") if d["attributes"]["messageId"] == REDRIVEN_ID]
    assert len(still) == 1  # a dry run changes nothing
    page.get_by_role("button", name="Confirm redrive of 1").click()
    expect(page.locator('[data-redrive="done"]')).to_contain_text("redriven: 1")

    # The member is applied: through the API, and in the console's lineage.
    token = p.token("member:read")
    body = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(p.get(f"/member/{REDRIVEN}", token)),
                    120, "the redriven member to be applied")
    assert body["name"]["first"] == "Quillonette" and body["version"] == 1, body
    page.get_by_role("link", name="Member lookup").click()
    page.get_by_label("Member id", exact=True).fill(REDRIVEN)
    page.get_by_role("button", name="Find member").click()
    expect(page.get_by_role("heading", name=f"Member {REDRIVEN}")).to_be_visible()
    expect(page.locator('li.record[data-result="applied"]')).to_have_count(1)
    texts.append(page_text(page))
    assert_contrast(page)

    # A member found by its Kafka partition and offset: its lineage leads to the raw line,
    # masked, then revealed: the archive's line, byte for byte.
    today = int(time.time() // 86400)
    (part, off), (key, line_no, raw) = next(
        (po, v) for po, v in sorted(archive_lines(p).items())
        if "valueEncoding" not in json.loads(v[2]) and decode(json.loads(v[2]), today)[1] == "change")
    member = json.loads(raw)["key"]
    member = (json.loads(member) if isinstance(member, str) else member)["member_id"]
    page.get_by_label("Partition", exact=True).fill(str(part))
    page.get_by_label("Offset", exact=True).fill(str(off))
    page.get_by_role("button", name="Find record").click()
    expect(page.get_by_role("heading", name=f"Member {member}")).to_be_visible()
    found = page.locator(f'li.record[data-partition="{part}"][data-offset="{off}"]')
    expect(found).to_have_attribute("aria-current", "true")
    expect(found).to_contain_text(key)
    expect(found).to_contain_text(f"line {line_no}")
    found.get_by_role("button", name="Show raw line").click()
    masked = found.locator("pre.raw-line")
    expect(masked).to_have_attribute("data-masked", "true")
    texts.append(page_text(page))
    assert_contrast(page)
    assert masked.inner_text() != raw
    found.get_by_role("button", name="Reveal personal data").click()
    expect(found.locator('pre.raw-line[data-masked="false"]')).to_be_visible()
    assert found.locator("pre.raw-line").inner_text() == raw

    # The rules view and its tester (an event without personal data).
    page.get_by_role("link", name="Rules", exact=True).click()
    expect(page.get_by_role("heading", name="Rules", level=1)).to_be_visible()
    texts.append(page_text(page))
    assert_contrast(page)
    expect(page.locator('[data-rule-hits="deletes"]')).to_be_visible()
    page.get_by_label("Event (JSON)").fill(json.dumps({
        "specversion": "1.0", "id": "console-e2e", "source": "memberflow/member-api",
        "type": "member.deleted", "subject": "M0000001", "time": "2026-11-30T10:00:00Z",
        "data": {"memberId": "M0000001", "version": 9, "member": None}}))
    page.get_by_role("button", name="Test event").click()
    expect(page.locator("#rules-result-h")).to_have_text("1 rule matches")
    expect(page.locator('[data-rule="deletes"] pre')).to_contain_text('"subject": "M0000001"')
    # A member's last event: masked until revealed.
    page.get_by_label("Member id", exact=True).fill(REDRIVEN)
    page.get_by_role("button", name="Test member's last event").click()
    expect(page.locator("#rules-result-h")).to_have_text("No rule matches")
    page.locator(".rules-result summary").click()
    expect(page.locator(".rules-result details pre")).to_contain_text(REDRIVEN)
    texts.append(page_text(page))
    assert_contrast(page)

    # The audit log: the redrive and both reveals, by the operator.
    page.get_by_role("link", name="Audit log").click()
    expect(page.locator('tr[data-action="dlq.redrive"]')).to_contain_text("memberflow-operator")
    expect(page.locator('tr[data-action="dlq.reveal"]')).to_have_count(1)
    expect(page.locator('tr[data-action="archive.reveal"]')).to_have_count(1)
    texts.append(page_text(page))
    assert_contrast(page)

    # Before any reveal, no page showed personal data.
    assert_no_personal_data("\n".join(texts), lines)
    assert p.stop(run) == 0
    print(f"console e2e: {time.monotonic() - started:.1f} s")
