"""The folder page in a real browser: Debian's Chromium driven by Playwright for Python.

Uses the page as a person would: opens the listing, uploads two files through the file input
and one by a drop, watches them appear, opens a subfolder, downloads a file and compares its
bytes, deletes one, makes a folder, sorts, reads the server's error text, and checks that
names with HTML in them render as text. Any console error fails the test it happens in (the
few a test provokes on purpose are named there). Screenshots of the listing at 1280x800 and
390x844 go to target/browser/ for a person to look at.

Run by tests/browser/run.sh (which builds the server and installs what is missing). A plain
script, no test framework: it prints one line per test and closes with 'N passed, N failed'.
"""

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(os.environ.get("HTTP_SERVER_BIN", ROOT / "target" / "debug" / "http-server"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "target" / "browser"
# How long any single wait may take before the test fails (ms).
TIMEOUT_MS = 10_000

HOSTILE = [
    "<img src=x onerror=alert(1)>.txt",
    "\"quote'd\"",
    "a b%20c",
    "日本語.txt",
    "#hash?.txt",
]


class Server:
    """The real binary on a free port, over a fresh folder."""

    def __init__(self, args=()):
        self.credentials = None
        self.dir = Path(tempfile.mkdtemp(prefix="http-server-browser-"))
        self.proc = subprocess.Popen(
            [str(SERVER), "--directory", str(self.dir), "--port", "0", "--quiet", *args],
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 10
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            match = re.search(r"listening on ([0-9.]+):(\d+)", line)
            if match:
                self.base = f"http://{match.group(1)}:{match.group(2)}"
                break
        else:
            raise RuntimeError(f"server did not start: {line!r}")
        # Keep reading its log so that a full pipe never blocks it.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        subprocess.run(["rm", "-rf", str(self.dir)], check=False)


class Watch:
    """Console errors, uncaught exceptions and dialogs of one page."""

    def __init__(self, page, allowed=()):
        self.problems = []
        # What confirms asked, and the answer the next prompt gets (None: a prompt is a problem).
        self.asked = []
        self.answer = None
        self.allowed = [re.compile(a) for a in allowed]
        page.on("console", self.on_console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("dialog", self.on_dialog)

    def on_console(self, msg):
        if msg.type != "error" or any(a.search(msg.text) for a in self.allowed):
            return
        url = (msg.location or {}).get("url", "")
        # (A user's file shown on its own makes Chromium ask for /favicon.ico: the server
        # answers 204, so that is no error either.)
        self.problems.append(f"console error: {msg.text} ({url})")

    def on_dialog(self, dialog):
        if dialog.type == "confirm":
            self.asked.append(dialog.message)
            dialog.accept()
        elif dialog.type == "prompt" and self.answer is not None:
            self.asked.append(dialog.message)
            dialog.accept(self.answer)
        else:
            # An alert would mean a name ran as script.
            self.problems.append(f"unexpected {dialog.type}: {dialog.message}")
            dialog.dismiss()

    def check(self):
        assert not self.problems, "; ".join(self.problems)


def names_in_table(page):
    return page.locator("#rows tr[data-name]").evaluate_all(
        "rows => rows.map(r => r.dataset.name)"
    )


def row(page, name):
    """The table row of the entry called `name` (a CSS string, escaped)."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return page.locator(f'#rows tr[data-name="{quoted}"]')


def test_uploads_by_input_and_drop_appear(ctx, srv):
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(srv.base + "/files/")
    expect(page.locator("#rows tr.empty")).to_have_count(1)
    page.set_input_files(
        "#file-input",
        [
            {"name": "one.txt", "mimeType": "text/plain", "buffer": b"first file\n"},
            {"name": "two words.bin", "mimeType": "application/octet-stream", "buffer": bytes(range(256)) * 40},
        ],
    )
    expect(page.locator("#uploads li.done")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(row(page, "one.txt")).to_have_count(1)
    expect(row(page, "two words.bin")).to_have_count(1)
    for bar in page.locator("#uploads progress").all():
        assert bar.get_attribute("value") == "100", "every progress bar at 100%"
    dropped = page.evaluate_handle(
        """() => {
            const dt = new DataTransfer();
            dt.items.add(new File(["dropped bytes"], "dropped.txt", { type: "text/plain" }));
            return dt;
        }"""
    )
    page.dispatch_event("body", "dragenter", {"dataTransfer": dropped})
    expect(page.locator("#drop-overlay")).to_be_visible()
    page.dispatch_event("body", "drop", {"dataTransfer": dropped})
    expect(page.locator("#drop-overlay")).to_be_hidden()
    expect(row(page, "dropped.txt")).to_have_count(1, timeout=TIMEOUT_MS)
    assert (srv.dir / "one.txt").read_bytes() == b"first file\n"
    assert (srv.dir / "two words.bin").read_bytes() == bytes(range(256)) * 40
    assert (srv.dir / "dropped.txt").read_bytes() == b"dropped bytes"
    assert names_in_table(page) == ["dropped.txt", "one.txt", "two words.bin"]
    watch.check()


def test_an_upload_onto_a_taken_name_asks_before_it_replaces(ctx, srv):
    (srv.dir / "same.txt").write_bytes(b"the old one\n")
    (srv.dir / "taken").mkdir()
    page = ctx.new_page()
    # The PUTs that find the name taken are refused with 412 on purpose; Chromium logs that.
    watch = Watch(page, allowed=[r"status of 412"])
    page.goto(srv.base + "/files/")
    page.set_input_files(
        "#file-input", [{"name": "same.txt", "mimeType": "text/plain", "buffer": b"the new one\n"}]
    )
    item = page.locator("#uploads li.exists")
    expect(item).to_have_count(1, timeout=TIMEOUT_MS)
    expect(item.locator(".status")).to_have_text("a file has that name already")
    assert (srv.dir / "same.txt").read_bytes() == b"the old one\n", "not replaced unasked"
    suffix = "-auth" if srv.credentials else ""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"replace-asked{suffix}.png"))
    # Someone else changes the file before the click: Replace must not throw that away unasked.
    (srv.dir / "same.txt").write_bytes(b"changed by someone else\n")
    item.get_by_role("button", name="Replace").click()
    expect(item.locator(".status")).to_have_text("the file there changed meanwhile")
    assert (srv.dir / "same.txt").read_bytes() == b"changed by someone else\n"
    item.get_by_role("button", name="Replace").click()
    done = page.locator("#uploads li.done")
    expect(done).to_have_count(1, timeout=TIMEOUT_MS)
    expect(done.locator(".status")).to_have_text("replaced")
    expect(done.get_by_role("button", name="Replace")).to_have_count(0)
    assert (srv.dir / "same.txt").read_bytes() == b"the new one\n"
    expect(row(page, "same.txt")).to_have_attribute("data-size", "12")
    page.screenshot(path=str(SHOTS / f"replace-done{suffix}.png"))
    # A folder's name is not offered for replacing.
    page.set_input_files(
        "#file-input", [{"name": "taken", "mimeType": "text/plain", "buffer": b"x"}]
    )
    refused = page.locator("#uploads li.failed")
    expect(refused).to_have_count(1, timeout=TIMEOUT_MS)
    expect(refused.locator(".status")).to_have_text("failed: a folder has that name")
    expect(refused.get_by_role("button", name="Replace")).to_have_count(0)
    assert (srv.dir / "taken").is_dir()
    watch.check()


def test_opens_a_subfolder_and_downloads_a_file(ctx, srv):
    (srv.dir / "docs" / "deeper").mkdir(parents=True)
    data = os.urandom(50_000)
    (srv.dir / "docs" / "report.bin").write_bytes(data)
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(srv.base + "/files/")
    page.get_by_role("link", name="docs/").click()
    expect(page).to_have_url(srv.base + "/files/docs/")
    expect(page.locator(".crumbs [aria-current=page]")).to_have_text("docs")
    assert names_in_table(page) == ["deeper", "report.bin"]
    with page.expect_download() as info:
        row(page, "report.bin").get_by_role("link", name="Download report.bin").click()
    download = info.value
    assert download.suggested_filename == "report.bin"
    assert Path(download.path()).read_bytes() == data, "downloaded bytes differ"
    page.locator(".crumbs a", has_text="files").click()
    expect(page).to_have_url(srv.base + "/files/")
    watch.check()


def test_deletes_a_file_and_shows_the_servers_error_text(ctx, srv):
    (srv.dir / "keep").mkdir()
    (srv.dir / "keep" / "inside.txt").write_text("x")
    (srv.dir / "empty").mkdir()
    (srv.dir / "gone.txt").write_text("bye")
    (srv.dir / "locked").mkdir()
    (srv.dir / "locked" / "x").write_text("x")
    page = ctx.new_page()
    # The server's own refusal is provoked on purpose below; Chromium logs its status.
    watch = Watch(page, allowed=[r"status of 409"])
    page.goto(srv.base + "/files/")
    row(page, "gone.txt").get_by_role("button", name="Delete gone.txt").click()
    expect(row(page, "gone.txt")).to_have_count(0, timeout=TIMEOUT_MS)
    assert not (srv.dir / "gone.txt").exists()
    # A folder with something in it: the page says how much before it asks, then it all goes.
    row(page, "keep").get_by_role("button", name="Delete keep").click()
    expect(row(page, "keep")).to_have_count(0, timeout=TIMEOUT_MS)
    assert watch.asked[-1] == "Delete the folder \u201ckeep\u201d and the 1 entry in it?", watch.asked
    assert not (srv.dir / "keep").exists()
    # An empty one is asked about plainly.
    row(page, "empty").get_by_role("button", name="Delete empty").click()
    expect(row(page, "empty")).to_have_count(0, timeout=TIMEOUT_MS)
    assert watch.asked[-1] == "Delete \u201cempty\u201d?", watch.asked
    assert not (srv.dir / "empty").exists()
    # The server's own words when it refuses (a read-only server, say): here a 409 made up.
    page.route("**/files/locked/", lambda route: route.fulfill(
        status=409, body="conflict: made up for the test\n") if route.request.method == "DELETE"
        else route.continue_())
    row(page, "locked").get_by_role("button", name="Delete locked").click()
    expect(page.locator("#error")).to_contain_text("conflict: made up for the test")
    assert (srv.dir / "locked" / "x").exists()
    watch.check()


def test_renames_and_moves_with_move(ctx, srv):
    (srv.dir / "a.txt").write_text("a")
    (srv.dir / "taken.txt").write_text("t")
    (srv.dir / "sub").mkdir()
    page = ctx.new_page()
    watch = Watch(page, allowed=[r"status of 412"])
    page.goto(srv.base + "/files/")
    expect(page.locator("#mount")).to_have_text(
        "Mount these files as a drive (WebDAV): " + srv.base + "/files/")
    watch.answer = "b c.txt"
    row(page, "a.txt").get_by_role("button", name="Rename a.txt").click()
    expect(row(page, "b c.txt")).to_have_count(1, timeout=TIMEOUT_MS)
    assert (srv.dir / "b c.txt").read_text() == "a" and not (srv.dir / "a.txt").exists()
    # Never over something that is there.
    watch.answer = "taken.txt"
    row(page, "b c.txt").get_by_role("button", name="Rename b c.txt").click()
    expect(page.locator("#error")).to_contain_text("something has that name already")
    assert (srv.dir / "taken.txt").read_text() == "t"
    # Into a folder.
    watch.answer = "sub/moved.txt"
    row(page, "b c.txt").get_by_role("button", name="Rename b c.txt").click()
    expect(row(page, "b c.txt")).to_have_count(0, timeout=TIMEOUT_MS)
    assert (srv.dir / "sub" / "moved.txt").read_text() == "a"
    watch.check()


def test_makes_a_folder(ctx, srv):
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(srv.base + "/files/")
    page.fill("#folder-name", "new folder")
    page.get_by_role("button", name="New folder").click()
    expect(row(page, "new folder")).to_have_count(1, timeout=TIMEOUT_MS)
    assert (srv.dir / "new folder").is_dir()
    page.get_by_role("link", name="new folder/").click()
    expect(page).to_have_url(srv.base + "/files/new%20folder/")
    watch.check()


def test_names_with_html_render_as_text_and_their_links_work(ctx, srv):
    for name in HOSTILE:
        (srv.dir / name).write_text("content of " + name)
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(srv.base + "/files/")
    assert page.locator("#rows img").count() == 0, "a name became markup"
    assert sorted(names_in_table(page)) == sorted(HOSTILE)
    for name in HOSTILE:
        link = page.get_by_role("link", name=name, exact=True)
        expect(link).to_have_text(name)
        href = link.get_attribute("href")
        got = page.request.get(srv.base + href)
        assert got.text() == "content of " + name, f"{href} gave {got.text()!r}"
        if name.endswith(".txt"):
            # Shown in the browser (text/plain); the others are downloads (no known type).
            link.click()
            expect(page.locator("body")).to_have_text("content of " + name)
            page.go_back()
    watch.check()


def test_uploaded_pages_cannot_run_script(ctx, srv):
    (srv.dir / "evil.html").write_text(
        "<title>evil</title><script>document.title = 'pwned'; alert(1)</script><p>static</p>"
    )
    page = ctx.new_page()
    # The sandbox blocking the script is the point, and Chromium reports it as an error.
    watch = Watch(page, allowed=[r"Blocked script execution", r"sandboxed"])
    page.goto(srv.base + "/files/evil.html")
    expect(page.locator("p")).to_have_text("static")
    assert page.title() == "evil", "the uploaded page's script ran"
    watch.check()


def test_sorts_by_column(ctx, srv):
    (srv.dir / "dir").mkdir()
    (srv.dir / "b-small").write_bytes(b"x")
    (srv.dir / "a-large").write_bytes(b"x" * 5000)
    (srv.dir / "c-mid").write_bytes(b"x" * 100)
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(srv.base + "/files/")
    assert names_in_table(page) == ["dir", "a-large", "b-small", "c-mid"]
    page.locator("th[data-key=size] button").click()
    assert names_in_table(page) == ["dir", "b-small", "c-mid", "a-large"]
    expect(page.locator("th[data-key=size]")).to_have_attribute("aria-sort", "ascending")
    page.locator("th[data-key=size] button").click()
    assert names_in_table(page) == ["dir", "a-large", "c-mid", "b-small"]
    page.locator("th[data-key=name] button").click()
    assert names_in_table(page) == ["dir", "a-large", "b-small", "c-mid"]
    watch.check()


def test_hides_write_controls_when_the_listing_says_so(ctx, srv):
    (srv.dir / "f.txt").write_text("x")
    page = ctx.new_page()
    watch = Watch(page)

    def read_only(route):
        response = route.fetch()
        body = response.text().replace('data-can-write="true"', 'data-can-write="false"')
        route.fulfill(response=response, body=body)

    page.route(srv.base + "/files/", read_only)
    page.goto(srv.base + "/files/")
    expect(row(page, "f.txt")).to_have_count(1)
    expect(page.get_by_text("Upload files")).to_be_hidden()
    expect(page.locator("#new-folder")).to_be_hidden()
    expect(page.get_by_role("button", name="Delete f.txt")).to_be_hidden()
    expect(page.get_by_role("link", name="Download f.txt")).to_be_visible()
    watch.check()


def test_screenshots(ctx, srv):
    (srv.dir / "Photos").mkdir()
    (srv.dir / "Projects").mkdir()
    (srv.dir / "notes.txt").write_text("remember the milk\n" * 20)
    (srv.dir / "report-2026.pdf").write_bytes(b"%PDF" + b"0" * 240_000)
    (srv.dir / "holiday video.mp4").write_bytes(b"\0" * 3_500_000)
    (srv.dir / "日本語.txt").write_text("こんにちは")
    (srv.dir / "<img src=x onerror=alert(1)>.txt").write_text("just text")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in [(1280, 800), (390, 844)]:
        sized = ctx.browser.new_context(
            viewport={"width": width, "height": height}, http_credentials=srv.credentials
        )
        page = sized.new_page()
        watch = Watch(page)
        page.goto(srv.base + "/files/")
        page.set_input_files(
            "#file-input", [{"name": "upload.txt", "mimeType": "text/plain", "buffer": b"hello\n"}]
        )
        expect(page.locator("#uploads li.done")).to_have_count(1, timeout=TIMEOUT_MS)
        page.screenshot(path=str(SHOTS / f"listing-{width}x{height}.png"))
        (srv.dir / "upload.txt").unlink()
        watch.check()
        sized.close()


def test_a_missing_file_shows_a_page_with_a_way_back(ctx, srv):
    (srv.dir / "sub").mkdir()
    page = ctx.new_page()
    # The 404 itself is logged by Chromium as a failed load: that is the point of the page.
    watch = Watch(page, allowed=[r"404"])
    response = page.goto(srv.base + "/files/sub/missing.txt")
    assert response.status == 404, response.status
    expect(page.get_by_role("heading", name="404 Not Found")).to_be_visible()
    page.screenshot(path=str(SHOTS / "error-404.png"))
    page.get_by_role("link", name="Go to /files/sub/").click()
    expect(page).to_have_url(srv.base + "/files/sub/")
    watch.check()


def test_an_upload_can_be_cancelled_and_leaves_nothing(ctx, srv):
    (srv.dir / "big.bin").write_bytes(b"the old file")
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(srv.base + "/files/")
    # Slow the upload down to 200 KB/s, so that it is still going when Cancel is clicked.
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200_000,
    })
    page.set_input_files("#file-input", files=[{
        "name": "new.bin", "mimeType": "application/octet-stream", "buffer": os.urandom(4_000_000),
    }])
    item = page.locator("#uploads li", has_text="new.bin")
    # Speed and time left show while it goes.
    expect(item.locator(".status")).to_contain_text(re.compile(r"/s .* left"), timeout=TIMEOUT_MS)
    deadline = time.monotonic() + 10
    while not any(p.name.startswith(".http-server-upload-") for p in srv.dir.iterdir()):
        assert time.monotonic() < deadline, "the upload never started on the server"
        time.sleep(0.02)
    item.get_by_role("button", name="Cancel the upload of new.bin").click()
    expect(item.locator(".status")).to_have_text("cancelled")
    # The server removes its temporary file as soon as the client has gone.
    deadline = time.monotonic() + 10
    while any(p.name.startswith(".http-server-upload-") for p in srv.dir.iterdir()):
        assert time.monotonic() < deadline, "the temporary file stayed"
        time.sleep(0.02)
    assert not (srv.dir / "new.bin").exists()
    assert (srv.dir / "big.bin").read_bytes() == b"the old file"
    watch.check()


def test_searches_without_reloading_and_downloads_the_folder(ctx, srv):
    (srv.dir / "docs" / "old").mkdir(parents=True)
    (srv.dir / "docs" / "Report.txt").write_text("r")
    (srv.dir / "docs" / "old" / "report-2020.txt").write_text("old")
    (srv.dir / "notes.txt").write_text("n")
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(srv.base + "/files/")
    page.evaluate("window.notReloaded = true")
    page.fill("#q", "REPORT")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#count")).to_have_text("2 matches")
    assert sorted(names_in_table(page)) == ["docs/Report.txt", "docs/old/report-2020.txt"]
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    expect(page).to_have_url(srv.base + "/files/?q=REPORT")
    page.get_by_role("link", name="docs/old/report-2020.txt", exact=True).click()
    expect(page).to_have_url(srv.base + "/files/docs/old/report-2020.txt")
    page.goto(srv.base + "/files/docs/")
    with page.expect_download() as info:
        page.locator(".archive").get_by_role("link", name="zip").click()
    download = info.value
    assert download.suggested_filename == "docs.zip", download.suggested_filename
    import zipfile
    with zipfile.ZipFile(download.path()) as z:
        assert z.testzip() is None
        assert sorted(z.namelist()) == ["docs/", "docs/Report.txt", "docs/old/",
                                        "docs/old/report-2020.txt"], z.namelist()
        assert z.read("docs/old/report-2020.txt") == b"old"
    watch.check()


def test_start_page_links_the_files(ctx, srv):
    page = ctx.new_page()
    watch = Watch(page)
    page.goto(srv.base + "/")
    page.get_by_role("link", name="Browse the files").click()
    expect(page).to_have_url(srv.base + "/files/")
    watch.check()


def test_without_credentials_the_page_is_refused(browser):
    """With users, a browser that cannot answer the Basic prompt gets the 401."""
    srv = Server(["--auth", "alice:secret"])
    ctx = browser.new_context()
    try:
        # What the server answers...
        response = ctx.request.get(srv.base + "/files/")
        assert response.status == 401, response.status
        assert response.headers["www-authenticate"] == 'Basic realm="http-server", charset="UTF-8"'
        # ...and what the browser makes of it with nobody to type a password: it gives up.
        page = ctx.new_page()
        try:
            page.goto(srv.base + "/files/")
            raise AssertionError("the page loaded without credentials")
        except PlaywrightError as e:
            assert "ERR_INVALID_AUTH_CREDENTIALS" in str(e), e
    finally:
        ctx.close()
        srv.stop()


def test_times_are_local_with_utc_in_the_tooltip(browser):
    srv = Server()
    path = srv.dir / "f.txt"
    path.write_text("x")
    os.utime(path, (1_700_000_000, 1_700_000_000))  # 2023-11-14 22:13:20 UTC
    ctx = browser.new_context(timezone_id="Asia/Tokyo", locale="en-US")
    try:
        page = ctx.new_page()
        watch = Watch(page)
        page.goto(srv.base + "/files/")
        when = row(page, "f.txt").locator("time")
        expect(when).to_have_attribute("title", "2023-11-14 22:13 UTC")
        expect(when).to_contain_text("Nov 15, 2023")
        expect(when).to_contain_text("7:13")
        expect(page.locator("th.mtime button")).to_have_text("Modified")
        watch.check()
    finally:
        ctx.close()
        srv.stop()


def test_on_a_phone_the_actions_hide_behind_one_button(browser):
    srv = Server()
    (srv.dir / "notes.txt").write_text("x")
    (srv.dir / "sub").mkdir()
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = ctx.new_page()
        watch = Watch(page)
        page.goto(srv.base + "/files/")
        notes = row(page, "notes.txt")
        expect(notes.get_by_role("button", name="Delete notes.txt")).to_be_hidden()
        expect(notes.get_by_role("link", name="Download notes.txt")).to_be_hidden()
        notes.get_by_label("Actions for notes.txt").click()
        items = notes.locator(".items > *")
        expect(items).to_have_count(3)
        expect(items.first).to_have_text("Download")
        expect(items.last).to_have_text("Delete")
        expect(notes.get_by_role("button", name="Delete notes.txt")).to_be_visible()
        # A folder's menu opens it first, and deletes last.
        sub = row(page, "sub")
        sub.get_by_label("Actions for sub").click()
        expect(sub.locator(".items > *").first).to_have_text("Open")
        # One menu open at a time.
        expect(notes.get_by_role("button", name="Delete notes.txt")).to_be_hidden()
        page.screenshot(path=str(SHOTS / "phone-menu-390x844.png"))
        # Wide again: the actions are in the row, the menu buttons gone.
        page.set_viewport_size({"width": 1280, "height": 800})
        expect(notes.get_by_label("Actions for notes.txt")).to_be_hidden()
        expect(notes.get_by_role("link", name="Download notes.txt")).to_be_visible()
        expect(sub.get_by_role("link", name="Open sub")).to_be_hidden()
        watch.check()
    finally:
        ctx.close()
        srv.stop()


def test_a_reader_sees_no_write_controls(browser):
    srv = Server(["--auth-read", "bob:reader"])
    (srv.dir / "f.txt").write_text("x")
    ctx = browser.new_context(http_credentials={"username": "bob", "password": "reader"})
    try:
        page = ctx.new_page()
        watch = Watch(page, allowed=[r"403"])
        page.goto(srv.base + "/files/")
        expect(row(page, "f.txt")).to_have_count(1)
        expect(page.get_by_text("Upload files")).to_be_hidden()
        expect(page.locator("#new-folder")).to_be_hidden()
        expect(page.get_by_role("button", name="Delete f.txt")).to_be_hidden()
        # And the server refuses what the page would not offer.
        status = page.evaluate(
            "async () => (await fetch('/files/f.txt', {method: 'DELETE'})).status"
        )
        assert status == 403, status
        watch.check()
        assert (srv.dir / "f.txt").exists()
    finally:
        ctx.close()
        srv.stop()


def test_logging_in_from_the_page_shows_the_write_controls(browser):
    srv = Server(["--auth", "alice:secret", "--anonymous", "read"])
    ctx = browser.new_context(http_credentials={"username": "alice", "password": "secret"})
    try:
        page = ctx.new_page()
        watch = Watch(page)
        page.goto(srv.base + "/files/")
        expect(page.get_by_text("Upload files")).to_be_hidden()
        page.get_by_role("link", name="Log in to change files").click()
        expect(page).to_have_url(srv.base + "/files/")
        expect(page.get_by_text("Upload files")).to_be_visible()
        expect(page.get_by_role("link", name="Log in to change files")).to_have_count(0)
        watch.check()
    finally:
        ctx.close()
        srv.stop()


def test_another_site_cannot_write_through_the_browser(browser):
    """A page on another origin (a second server, another port) posts to this one, which lets
    anonymous clients write (the default on loopback): a no-cors text/plain POST needs no
    preflight, so only the server can refuse it. Then the same with a logged-in visitor."""
    for args, credentials in [
        ([], None),
        (["--auth", "alice:secret"], {"username": "alice", "password": "secret"}),
    ]:
        target = Server(args)
        evil = Server()
        ctx = browser.new_context(http_credentials=credentials)
        try:
            page = ctx.new_page()
            # The visitor has the target open (and logged in, where it has users).
            page.goto(target.base + "/files/")
            # A document of the other origin without the listing page's CSP (which allows
            # connections to its own origin only): the attacker's page is its own.
            page.goto(evil.base + "/echo/evil")
            page.evaluate(
                """async (url) => {
                    try {
                        await fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include',
                                          body: 'pwned', headers: {'Content-Type': 'text/plain'}});
                    } catch (e) {}
                }""",
                target.base + "/files/pwned.txt",
            )
            time.sleep(0.3)
            assert not (target.dir / "pwned.txt").exists(), f"a cross-site POST was stored {args}"
        finally:
            ctx.close()
            target.stop()
            evil.stop()


# Run once each, with their own servers and contexts.
ACCESS_TESTS = [
    test_without_credentials_the_page_is_refused,
    test_a_reader_sees_no_write_controls,
    test_logging_in_from_the_page_shows_the_write_controls,
    test_another_site_cannot_write_through_the_browser,
    test_times_are_local_with_utc_in_the_tooltip,
    test_on_a_phone_the_actions_hide_behind_one_button,
]

TESTS = [
    test_uploads_by_input_and_drop_appear,
    test_an_upload_onto_a_taken_name_asks_before_it_replaces,
    test_opens_a_subfolder_and_downloads_a_file,
    test_deletes_a_file_and_shows_the_servers_error_text,
    test_makes_a_folder,
    test_names_with_html_render_as_text_and_their_links_work,
    test_uploaded_pages_cannot_run_script,
    test_sorts_by_column,
    test_hides_write_controls_when_the_listing_says_so,
    test_screenshots,
    test_start_page_links_the_files,
    test_a_missing_file_shows_a_page_with_a_way_back,
    test_an_upload_can_be_cancelled_and_leaves_nothing,
    test_searches_without_reloading_and_downloads_the_folder,
    test_renames_and_moves_with_move,
]


def run(name, body):
    try:
        body()
        print(f"test {name} ... ok", flush=True)
        return True
    except Exception:
        print(f"test {name} ... FAILED", flush=True)
        traceback.print_exc()
        return False


def main():
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        # Every page test twice: as today (no users), and with a user who logs in through the
        # browser's Basic prompt (Playwright answers it with http_credentials).
        modes = [
            ("", [], None),
            (" [--auth]", ["--auth", "alice:secret"], {"username": "alice", "password": "secret"}),
        ]
        for label, args, credentials in modes:
            for test in TESTS:
                def body(test=test, args=args, credentials=credentials):
                    srv = Server(args)
                    srv.credentials = credentials
                    ctx = browser.new_context(accept_downloads=True, http_credentials=credentials)
                    ctx.set_default_timeout(TIMEOUT_MS)
                    try:
                        test(ctx, srv)
                    finally:
                        ctx.close()
                        srv.stop()
                results.append(run(test.__name__ + label, body))
        for test in ACCESS_TESTS:
            results.append(run(test.__name__, lambda test=test: test(browser)))
        browser.close()
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
