#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The live page in headless Chromium: loads URL, waits until the
destination REMOTE shows USED ports and the strip shows the reserved
port RESERVED, prints what it found as one JSON line; then, after a line
on standard input, waits until the same destination shows USED2 without
a reload (refreshed in place), prints a second line with the browser's
console messages, and saves a screenshot to SHOT.

  page.py URL REMOTE USED USED2 RESERVED SHOT PROFILE_DIR
"""
import json
import sys

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def row(driver, remote, used):
    rows = driver.find_elements(
        By.CSS_SELECTOR, 'tr[data-remote="%s"][data-used="%s"]' % (remote, used))
    return rows[0] if rows else None


def main():
    url, remote, used, used2, reserved, shot, profile = sys.argv[1:8]
    opts = Options()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile, "--window-size=1200,1000"):
        opts.add_argument(arg)
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                              options=opts)
    out = {}
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 20)
        try:
            r = wait.until(lambda d: row(d, remote, used))
            out["row"] = r.text
        except TimeoutException:
            out["row"] = None
        for strip in ("full", "zoom"):
            out["reserved_" + strip] = len(driver.find_elements(
                By.CSS_SELECTOR,
                'svg.%s rect.reserved[data-port="%s"]' % (strip, reserved)))
        out["risks"] = [e.get_attribute("data-port") for e in
                        driver.find_elements(By.CSS_SELECTOR,
                                             "svg.full rect.risk")]
        out["history"] = [e.text for e in driver.find_elements(
            By.CSS_SELECTOR, ".strip .history")]
        out["status"] = driver.find_element(By.ID, "status").text
        out["title"] = driver.title
        print(json.dumps(out), flush=True)
        sys.stdin.readline()
        start = driver.execute_script("return performance.timeOrigin")
        try:
            r = wait.until(lambda d: row(d, remote, used2))
            out["row2"] = r.text
        except TimeoutException:
            out["row2"] = None
        out["same_document"] = driver.execute_script(
            "return performance.timeOrigin") == start
        out["console"] = [{"level": e["level"], "message": e["message"]}
                          for e in driver.get_log("browser")]
        driver.save_screenshot(shot)
        print(json.dumps(out), flush=True)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
