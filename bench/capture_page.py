#!/usr/bin/env python3
"""Times the capture page in headless Chromium (called by bench/capture.sh).

For each round: a deeplink of the example KYC workflow is created over the API, Chromium opens
it, and the page's own performance marks give
  - open: from navigation start to the first step painted and ready for input
    (performance.mark "idv-ready:ONBOARDING"), and
  - submit: from the click on ONBOARDING's button (mark "idv-submit:ONBOARDING") to the next
    step painted ("idv-ready:PERSONAL_DETAILS").
The floor, measured the same way in the same run: the page opened without a link (it shows
its "bad link" notice after loading the same HTML, CSS and JS, with no API call).
Prints JSON: {"open": [...ms], "submit": [...ms], "floor": [...ms]}.
Usage: capture_page.py BASE_URL API_KEY WORKFLOW_ID ROUNDS CHROMEDRIVER
"""
import json
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Driver:
    def __init__(self, chromedriver):
        self.port = free_port()
        self.proc = subprocess.Popen([chromedriver, f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            try:
                self.call("GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=360,640",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "args": args,
            "mobileEmulation": {"deviceMetrics": {"width": 360, "height": 640, "pixelRatio": 2}}}}}}
        self.session = self.call("POST", "/session", caps)["value"]["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(e.read().decode()) from None

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})["value"]

    def wait(self, expr, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            v = self.js(f"return {expr};")
            if v:
                return v
            time.sleep(0.005)
        raise RuntimeError(f"timed out waiting for {expr}")

    def quit(self):
        try:
            self.s("DELETE", "")
        finally:
            self.proc.kill()


def mark(name):
    return f'(performance.getEntriesByName("{name}")[0] || {{}}).startTime'


def main():
    base, key, workflow, rounds, chromedriver = sys.argv[1:6]
    d = Driver(chromedriver)
    out = {"open": [], "submit": [], "floor": []}
    try:
        for i in range(int(rounds) + 1):  # the first round warms the browser and is dropped
            d.go(base + "/mobile")
            floor = d.wait(mark("idv-notice:badLinkTitle"))
            req = urllib.request.Request(
                f"{base}/api/v1/deeplink?workflowId={workflow}", data=b'{"locale": "en-us"}', method="POST",
                headers={"authorization": f"ApiKey {key}", "content-type": "application/json"})
            with urllib.request.urlopen(req) as r:
                url = json.loads(r.read())["url"]
            d.go(url)
            opened = d.wait(mark("idv-ready:ONBOARDING"))
            d.js('document.querySelector("main button.primary").click();')
            ready = d.wait(mark("idv-ready:PERSONAL_DETAILS"))
            submitted = d.js(f"return {mark('idv-submit:ONBOARDING')};")
            # The page keeps the link in the tab's storage (a reload resumes): forget it, so
            # the next floor run opens the page without a link again.
            d.js("sessionStorage.clear();")
            if i > 0:
                out["open"].append(round(opened, 1))
                out["submit"].append(round(ready - submitted, 1))
                out["floor"].append(round(floor, 1))
    finally:
        d.quit()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
