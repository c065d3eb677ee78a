"""The web console (GET /console) in a real browser: Debian's headless chromium driven through chromedriver by
selenium, against the session's `knify serve`. A laptop window (1366x900) walks the operator's day — sign in, a job
submitted through the API appears without a reload, its transcript streams in, artifacts open in the viewer,
continue / cancel / cleanup, the chart, sandboxes, knaps — and a phone (390x844) checks every view fits.

Every wait is on a DOM condition (WebDriverWait), never a fixed sleep. Screenshots of each view go to
.knify/blackbox/screenshots/ (git-ignored); the last test fails when the console's files changed since someone last
looked at them (console_review.py records that).
"""

from __future__ import annotations

import json
import secrets
import shutil

import pytest

from console_review import SCREENSHOTS, console_hash, recorded_hash
from knify_api import CREATED_JOBS, Client, describe
from knify_server import knaps_token

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as error:  # a venv made before selenium joined requirements.txt
    pytest.fail(f"selenium is not installed in the black-box venv ({error}); "
                "run .knify/venv/bin/pip install -r Tests/blackbox/requirements.txt", pytrace=False)

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
if not CHROMIUM or not CHROMEDRIVER:
    pytest.fail("Debian's chromium and chromium-driver are needed (make deps installs them: "
                "apt-get install -y chromium chromium-driver)", pytrace=False)

LAPTOP = (1366, 900)
PHONE = (390, 844)
# Agent output the console must show as text: the offline agent's first message repeats the prompt's first line.
HOSTILE = "Say hi <script>alert('agent')</script><img src=x onerror=alert(2)>"
FIRST_PROMPT = f"""{HOSTILE}
@@sleep 8
@@write out.json
{{"a": 1, "list": [1, 2], "nested": {{"ok": true}}}}
@@end
@@write notes.py
def hello():
    return "hi"
@@end
@@run printf '\\000\\001\\002\\377' > blob.bin
@@run echo '<script>alert(1)</script>'
"""
# What the tests pass on to the ones after them (they run in file order, like the operator's day).
STATE: dict = {}


class Console:
    """A browser on the console, with waits on DOM conditions and screenshots."""

    def __init__(self, driver, base_url: str, label: str):
        self.driver = driver
        self.base_url = base_url
        self.label = label

    def wait(self, condition, timeout: float = 30, message: str = ""):
        try:
            # Views re-render as they poll: an element found a moment ago may be gone, so look again.
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=[StaleElementReferenceException]).until(lambda d: condition(), message)
        except TimeoutException:
            self.shot(f"FAILED-{self.label}")
            raise

    def find(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def one(self, css: str, timeout: float = 30):
        return self.wait(lambda: (self.find(css) or [None])[0], timeout, f"no element {css}")

    def text(self, css: str) -> str:
        for _ in range(5):
            try:
                return " ".join(el.text for el in self.find(css))
            except StaleElementReferenceException:
                continue
        return ""

    def click(self, css: str, timeout: float = 30):
        def attempt():
            found = self.find(css)
            if not found:
                return False
            found[0].click()
            return True
        self.wait(attempt, timeout, f"could not click {css}")

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def go(self, route: str):
        """A console route (#/…): a hash change in the same document, as a click on a link would make."""
        self.js("location.hash = arguments[0]", route)

    def shot(self, name: str):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    def login(self, key: str):
        field = self.one("#api-key")
        field.clear()
        field.send_keys(key)
        self.one("form.login button[type=submit]").click()

    def sign_in(self, key: str):
        self.driver.get(self.base_url + "/console")
        self.login(key)
        self.one(".topbar")

    def assert_no_overflow(self, where: str):
        widths = self.js("return [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[2] and widths[1] <= widths[2], f"{where}: the page is wider than the screen {widths}"

    def assert_inside(self, css: str, where: str):
        for el in self.find(css):
            if not el.is_displayed():
                continue
            right = self.js("return arguments[0].getBoundingClientRect().right", el)
            assert right <= self.js("return window.innerWidth") + 0.5, f"{where}: {css} sticks out ({right}px)"

    def assert_clean_log(self):
        """No script error and no CSP violation (failed API replies, which tests provoke, are not errors)."""
        problems = [entry["message"] for entry in self.driver.get_log("browser")
                    if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]]
        assert not problems, f"browser console ({self.label}): {problems}"

    def assert_no_alert(self):
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return
        text = alert.text
        alert.dismiss()
        raise AssertionError(f"agent output ran as script: an alert said {text!r}")


def make_driver(size, mobile: bool):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: the suite runs as root, where Chromium's own sandbox cannot start.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-extensions",
                "--lang=en-US", "--force-color-profile=srgb", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    if mobile:
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": size[0], "height": size[1], "pixelRatio": 2.0, "touch": True},
            "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def laptop(server):
    if SCREENSHOTS.exists():
        for old in SCREENSHOTS.glob("*.png"):
            old.unlink()
    driver = make_driver(LAPTOP, mobile=False)
    yield Console(driver, server.base_url, "laptop")
    driver.quit()


@pytest.fixture(scope="module")
def phone(server):
    driver = make_driver(PHONE, mobile=True)
    yield Console(driver, server.base_url, "phone")
    driver.quit()


def need(*names):
    missing = [name for name in names if name not in STATE]
    if missing:
        pytest.skip(f"an earlier console test did not get far enough ({', '.join(missing)})")
    return [STATE[name] for name in names]


# -- the laptop's day -------------------------------------------------------------------------------------------------
def test_sign_in_refuses_bad_keys_and_keeps_the_key_out_of_urls(laptop, keys):
    laptop.driver.get(laptop.base_url + "/console")
    laptop.one("#api-key")
    laptop.shot("01-login")
    laptop.login("not-a-key")
    laptop.wait(lambda: "not a Knify API key" in laptop.text("form.login .error"))
    laptop.login("knify_live_" + secrets.token_hex(16))
    laptop.wait(lambda: "Unknown or revoked" in laptop.text("form.login .error"))
    assert laptop.js("return sessionStorage.length") == 0

    key = keys["admin"]["api_key"]
    laptop.login(key)
    laptop.one(".topbar")
    assert [a.text for a in laptop.find("nav.tabs a")] == ["Jobs", "Sandboxes", "Knaps"]
    assert laptop.js("return sessionStorage.getItem('knify.apiKey')") == key
    assert laptop.js("return localStorage.length") == 0
    assert key not in laptop.driver.current_url
    laptop.one("table.jobs tbody tr")
    laptop.assert_clean_log()


def test_a_job_submitted_through_the_api_appears_without_reload_and_its_transcript_streams_in(laptop, admin):
    laptop.go("#/jobs")
    laptop.one("table.jobs tbody tr")
    laptop.js("window.__sameDocument = 'yes'")
    job_id = admin.create_job({"job_type": "cursor_task", "prompt": FIRST_PROMPT, "model": "sonnet-4.5"})
    row = f'tr[data-job="{job_id}"]'
    laptop.one(row, timeout=30)
    assert laptop.js("return window.__sameDocument") == "yes", "the list reloaded the page"
    laptop.wait(lambda: "sonnet-4.5" in laptop.text(row) and "cursor_task" in laptop.text(row))
    laptop.shot("02-jobs-new-row")

    laptop.click(f"{row} a")
    laptop.one(f'.job-page[data-job="{job_id}"]')
    # The agent's first message arrives while it still works (it sleeps 8 s before any tool call, longer than
    # the list takes to show the job): streamed, not loaded.
    laptop.wait(lambda: "Working on:" in laptop.text(".ev-agent") and laptop.text(".title-row .badge") == "running",
                timeout=90)
    seen_live = {"tools": len(laptop.find(".ev-tool")), "stream": laptop.text(".stream-state"),
                 "ended": len(laptop.find(".ev-end"))}
    laptop.shot("03-job-streaming")
    assert seen_live == {"tools": 0, "stream": "live", "ended": 0}, seen_live

    laptop.one(".ev-end", timeout=90)
    laptop.wait(lambda: laptop.text(".title-row .badge") == "completed")
    assert len(laptop.find(".ev-tool")) == 4
    assert laptop.text(".ev-tool .badge").split() == ["success"] * 4
    write = laptop.find('.ev-tool[data-tool="write_file"]')[0]
    assert "out.json" in write.find_element(By.CSS_SELECTOR, ".tool-params").text
    thinking = laptop.one("details.ev-thinking")
    assert thinking.get_attribute("open") is None and not thinking.find_element(By.CSS_SELECTOR, ".text").is_displayed()
    stages = [li.get_attribute("data-stage") for li in laptop.find("ol.timeline li")]
    assert stages[0] == "queued" and stages[-1] == "completed", stages
    for stage in ("sandbox_created", "agent_started", "artifacts_collected", "sandbox_paused"):
        assert stage in stages, stages
    assert "Turn finished" in laptop.text(".ev-result")
    laptop.js("document.querySelector('.transcript-box').scrollTop = 0")
    laptop.shot("04-job-finished")
    STATE["job"] = job_id
    laptop.assert_clean_log()


def test_agent_output_with_script_tags_is_shown_as_text(laptop):
    need("job")
    laptop.assert_no_alert()
    assert HOSTILE in laptop.text(".ev-user"), "the prompt is shown as written"
    assert f"Working on: {HOSTILE}" in laptop.text(".ev-agent")
    shell = laptop.find('.ev-tool[data-tool="run_shell_command"]')[-1]
    assert "<script>alert(1)</script>" in shell.find_element(By.CSS_SELECTOR, ".tool-result").text
    assert laptop.find(".transcript script, .transcript img, .job-page script") == []
    assert laptop.js("return document.scripts.length") == 1, "only the console's own module script"
    laptop.assert_no_alert()


def test_artifacts_open_in_the_viewer_json_pretty_printed_code_with_lines_binaries_for_download(laptop):
    (job_id,) = need("job")
    names = [b.get_attribute("data-path") for b in laptop.find("button.artifact")]
    assert sorted(names) == ["blob.bin", "notes.py", "out.json"], names

    laptop.click('button.artifact[data-path="out.json"]')
    laptop.one("dialog.viewer[open] pre.json")
    assert laptop.text("dialog.viewer pre.json") == json.dumps({"a": 1, "list": [1, 2], "nested": {"ok": True}}, indent=2)
    assert laptop.text("dialog.viewer .viewer-head .muted").startswith("JSON")
    download = laptop.one("dialog.viewer a.button")
    assert download.get_attribute("href").startswith("blob:") and download.get_attribute("download") == "out.json"
    laptop.shot("05-artifact-json")
    laptop.one("dialog.viewer button.close").click()
    laptop.wait(lambda: not laptop.find("dialog.viewer[open]"))

    laptop.click('button.artifact[data-path="notes.py"]')
    laptop.wait(lambda: [li.text for li in laptop.find("dialog.viewer[open] ol.code li")] == ["def hello():", '    return "hi"'])
    laptop.shot("06-artifact-code")
    laptop.one("dialog.viewer button.close").click()

    laptop.click('button.artifact[data-path="blob.bin"]')
    laptop.wait(lambda: laptop.text("dialog.viewer[open] pre.hex").startswith("00000000  00 01 02 ff"))
    assert laptop.one("dialog.viewer a.button").get_attribute("download") == "blob.bin"
    laptop.shot("07-artifact-binary")
    laptop.one("dialog.viewer button.close").click()
    laptop.wait(lambda: not laptop.find("dialog.viewer[open]"))
    laptop.assert_clean_log()


def test_continue_sends_a_follow_up_and_shows_the_new_turn(laptop):
    (parent,) = need("job")
    laptop.one('button[data-action="continue"]').click()
    prompt = laptop.one("form.continue-form textarea")
    assert prompt.is_displayed()
    prompt.send_keys("Now read it back\n@@run cat out.json")
    laptop.shot("08-continue-form")
    laptop.one("form.continue-form button[type=submit]").click()
    laptop.wait(lambda: (laptop.find(".job-page") or [None])[0] is not None
                and laptop.find(".job-page")[0].get_attribute("data-job") != parent)
    child = laptop.find(".job-page")[0].get_attribute("data-job")
    CREATED_JOBS.append(child)
    laptop.wait(lambda: "Resuming session" in laptop.text(".ev-agent"), timeout=90)
    laptop.one(".ev-end", timeout=90)
    laptop.wait(lambda: laptop.text(".title-row .badge") == "completed")
    assert parent in laptop.text("dl.meta"), "the new turn links its parent"
    assert '"a": 1' in laptop.text(".ev-tool .tool-result"), "same sandbox: the parent's file is there"
    laptop.shot("09-continued-turn")
    STATE["child"] = child
    laptop.assert_clean_log()


def test_cancel_and_cleanup_buttons_ask_once_more_then_act(laptop, admin):
    job_id = admin.create_job({"job_type": "claude_task", "prompt": "Wait for a while\n@@sleep 120"})
    laptop.go(f"#/jobs/{job_id}")
    laptop.wait(lambda: laptop.text(".title-row .badge") == "running", timeout=90)
    cancel = laptop.one('button[data-action="cancel"]')
    assert cancel.is_enabled()
    assert not laptop.one('button[data-action="continue"]').is_enabled(), "a running job cannot be continued"
    cancel.click()
    laptop.wait(lambda: cancel.text == "Really cancel?")
    laptop.shot("10-cancel-armed")
    cancel.click()
    laptop.wait(lambda: laptop.text(".title-row .badge") == "cancelled", timeout=60)
    assert admin.job(job_id)["status"] == "cancelled"

    cleanup = laptop.one('button[data-action="cleanup"]')
    laptop.wait(lambda: cleanup.is_enabled())
    cleanup.click()
    laptop.wait(lambda: "Really" in cleanup.text)
    cleanup.click()
    laptop.wait(lambda: laptop.find("dl.meta .badge.sandbox-cleaned"), timeout=60)
    assert admin.job(job_id)["sandbox_state"] == "cleaned"
    assert not laptop.one('button[data-action="continue"]').is_enabled()
    assert not laptop.one('button[data-action="cleanup"]').is_enabled()
    laptop.shot("11-cancelled-and-cleaned")
    STATE["cancelled"] = job_id
    laptop.assert_clean_log()


def test_the_jobs_page_charts_outcomes_and_durations_and_filters(laptop):
    need("job", "cancelled")
    laptop.click('nav.tabs a[data-tab="jobs"]')
    laptop.wait(lambda: len(laptop.find(".chart svg.chart-svg")) == 2)
    laptop.wait(lambda: laptop.find("svg.chart-svg rect.bar.fill-cancelled") and laptop.find("svg.chart-svg circle.dot.fill-completed"))
    assert int(laptop.one(".chart").get_attribute("data-jobs")) >= 3
    legend = laptop.text(".chart-summary")
    assert "completed" in legend and "cancelled" in legend and "median" in legend, legend
    laptop.shot("12-jobs-with-chart")

    # Server-side status filter, then the page's text filter.
    laptop.one('select[name="status"] option[value="cancelled"]').click()
    laptop.wait(lambda: laptop.find(f'tr[data-job="{STATE["cancelled"]}"]')
                and all(r.get_attribute("data-status") == "cancelled" for r in laptop.find("tr.job-row")))
    assert "status=cancelled" in laptop.driver.current_url
    laptop.one('select[name="status"] option[value=""]').click()
    search = laptop.one('input[name="q"]')
    search.send_keys(STATE["job"])
    laptop.wait(lambda: [r.get_attribute("data-job") for r in laptop.find("tr.job-row")] == [STATE["job"]])
    search.clear()
    search.send_keys(" ")  # an input event with an empty filter
    laptop.wait(lambda: len(laptop.find("tr.job-row")) >= 3)
    laptop.assert_clean_log()


def test_the_sandboxes_view_lists_state_policy_and_idle_time(laptop, admin):
    (child,) = need("child")
    sandbox = admin.job(child)["sandbox_id"]
    laptop.click('nav.tabs a[data-tab="sandboxes"]')
    row = f'tr[data-sandbox="{sandbox}"]'
    laptop.one(f'{row}[data-state="paused"] meter')
    laptop.wait(lambda: "default" in laptop.text(row) and "of 30m" in laptop.text(row), message=laptop.text(row))
    laptop.shot("13-sandboxes")
    laptop.assert_clean_log()


def test_the_knaps_view_shows_owner_type_next_run_and_runs_that_link_to_their_jobs(laptop, server):
    client = server.create_client("console-knaps", "alice", org="acme")
    token = knaps_token(server.base_url, client)["access_token"]
    knaps = Client(server.base_url, token, "knaps-alice")
    created = knaps.post("/api/studio/knap-tools", json={
        "name": "Console digest <script>alert('knap')</script>", "visibility": "acme", "timezone": "Europe/Berlin",
        "tool_metadata": {"action_description": "Summarise the week", "schedule_description": "every Monday at 9am"}})
    assert created.status_code == 201, describe(created)
    uuid = created.json()["uuid"]
    ran = knaps.post("/api/knap-tools/run", json={"knap_uuid": uuid, "stream_updates": False,
                                                  "messages": [{"role": "user", "content": "Go\n@@write digest.md\nok\n@@end"}]})
    assert ran.status_code == 200, describe(ran)
    job_id = ran.json()["job_id"]
    CREATED_JOBS.append(job_id)

    laptop.click('nav.tabs a[data-tab="knaps"]')
    row = f'tr[data-knap="{uuid}"]'
    laptop.one(row)
    expected = ["Console digest <script>alert('knap')</script>", "alice", "scheduled", "every Monday at 9am"]
    laptop.wait(lambda: all(part in laptop.text(row) for part in expected), message=laptop.text(row))
    assert laptop.text(f'{row} td[data-label="Next run"]').startswith("in ")
    laptop.click(f'{row} button[data-action="runs"]')
    laptop.one(f'tr[data-run] a[href="#/jobs/{job_id}"]')
    laptop.wait(lambda: "completed" in laptop.text("tr[data-run]"))
    laptop.shot("14-knaps-with-runs")
    laptop.click(f'tr[data-run] a[href="#/jobs/{job_id}"]')
    laptop.one(f'.job-page[data-job="{job_id}"]')
    laptop.wait(lambda: laptop.text(".title-row .badge") == "completed")
    laptop.one(".ev-end", timeout=60)
    STATE["knap"] = uuid
    laptop.assert_no_alert()
    laptop.assert_clean_log()


def test_a_jobs_only_key_gets_no_admin_views_and_sign_out_forgets_the_key(laptop, tenant_client):
    tenant = tenant_client("console")
    laptop.one("button.logout").click()
    laptop.one("#api-key")
    assert laptop.js("return sessionStorage.length") == 0
    laptop.login(tenant.key)
    laptop.one(".topbar")
    assert [a.text for a in laptop.find("nav.tabs a")] == ["Jobs"]
    laptop.go("#/sandboxes")
    laptop.wait(lambda: "No jobs yet" in laptop.text("table.jobs tr.empty"))
    laptop.shot("15-jobs-only-key")
    laptop.one("button.logout").click()
    laptop.one("#api-key")
    assert laptop.js("return sessionStorage.length") == 0
    # Every request the console made carried the key in a header: no URL it loaded holds a key.
    urls = laptop.js("return performance.getEntriesByType('resource').map(e => e.name)")
    assert not [u for u in urls if "knify_live_" in u or "knify_test_" in u], urls
    laptop.assert_clean_log()


# -- the phone --------------------------------------------------------------------------------------------------------
def test_every_view_fits_a_phone(phone, keys):
    job, child = need("job", "child")
    phone.driver.get(phone.base_url + "/console")
    phone.one("#api-key")
    assert phone.js("return window.innerWidth") == PHONE[0]
    phone.assert_no_overflow("login")
    phone.shot("p1-login")
    phone.login(keys["admin"]["api_key"])

    phone.wait(lambda: len(phone.find(".chart svg.chart-svg")) == 2 and phone.find("tr.job-row"))
    phone.assert_no_overflow("jobs")
    phone.assert_inside("tr.job-row, .chart, .filters select, .filters input", "jobs")
    phone.shot("p2-jobs")

    phone.go(f"#/jobs/{job}")
    phone.one(".ev-end", timeout=60)
    phone.wait(lambda: phone.text(".title-row .badge") == "completed")
    phone.assert_no_overflow("job")
    phone.assert_inside(".actions button, .ev, pre.block, ol.timeline li", "job")
    phone.shot("p3-job")
    phone.js("document.querySelector('.ev-tool').scrollIntoView()")
    phone.shot("p4-job-transcript")
    phone.js("document.querySelector('.artifact-list').scrollIntoView()")
    phone.click('button.artifact[data-path="out.json"]')
    phone.one("dialog.viewer[open] pre.json")
    phone.assert_no_overflow("artifact viewer")
    phone.assert_inside("dialog.viewer .viewer-head button, dialog.viewer a.button", "artifact viewer")
    phone.shot("p5-artifact")
    phone.one("dialog.viewer button.close").click()

    phone.go(f"#/jobs/{child}")
    phone.one('button[data-action="continue"]').click()
    phone.one("form.continue-form textarea")
    phone.assert_no_overflow("continue form")
    phone.shot("p6-continue-form")

    phone.go("#/sandboxes")
    phone.one("tr[data-sandbox]")
    phone.assert_no_overflow("sandboxes")
    phone.shot("p7-sandboxes")

    phone.go("#/knaps")
    if "knap" in STATE:
        phone.click(f'tr[data-knap="{STATE["knap"]}"] button[data-action="runs"]')
        phone.one("tr[data-run]")
    else:
        phone.one("table.cards tbody tr")
    phone.assert_no_overflow("knaps")
    phone.shot("p8-knaps")
    phone.assert_clean_log()


def test_the_screenshots_of_this_console_were_looked_at():
    """The console's look is checked by a person: when its files change, look at the screenshots this module just
    saved, then record it with `python3 Tests/blackbox/console_review.py --record "what you saw"`."""
    assert list(SCREENSHOTS.glob("*.png")), "no screenshots were saved"
    assert recorded_hash() == console_hash(), (
        f"the console changed since its screenshots were last looked at: look at {SCREENSHOTS}/*.png, then run "
        "python3 Tests/blackbox/console_review.py --record \"what you saw\"")
