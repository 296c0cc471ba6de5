"""A real browser on calrep's web page: Debian's Chromium, headless, driven
by Selenium through Debian's chromedriver.

Reads a JSON job on stdin:
  base        the front end's URL (http://127.0.0.1:PORT)
  user, password
  zone        the browser's own time zone (TZ of the browser process)
  javascript  whether the browser runs scripts
  choose_zone a zone to pick in the page's form (for a browser without
              scripts), or null
  pages       [{"name": ..., "path": "/web/c/...?view=week&date=..."}]
  width, height   the window (a phone is 390 x 844)
  screenshots a directory to save one PNG per page in, or null

Signs in through the form as a person would, reads each page as rendered
(days, events, the times shown), checks what a person relies on (no
sideways scrolling, every field labelled, one h1), signs out, and prints
what it saw as JSON on stdout.
"""

import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

READ_PAGE = """
const text = (root, sel) => { const n = root.querySelector(sel); return n ? n.textContent.trim() : null; };
const events = (root) => Array.from(root.querySelectorAll('li.event')).map(li => ({
  uid: li.dataset.uid, start: li.dataset.start, end: li.dataset.end,
  when: text(li, '.when'), what: text(li, '.what'), own: text(li, '.own'),
  start_shown: (li.querySelector('.when time') || {}).dateTime || null,
}));
const days = Array.from(document.querySelectorAll('section.day, td.day')).map(d => ({
  date: d.dataset.date, events: events(d),
}));
const calendars = Array.from(document.querySelectorAll('section.calendar')).map(s => ({
  title: text(s, 'h2'), banner: text(s, '.banner'), events: events(s),
}));
const fields = Array.from(document.querySelectorAll('input, select'))
  .filter(f => f.type !== 'hidden');
return {
  url: location.href,
  title: document.title,
  lang: document.documentElement.lang,
  h1: Array.from(document.querySelectorAll('h1')).map(h => h.textContent.trim()),
  banner: text(document, 'main > .banner'),
  zone_now: text(document, '.zone-now'),
  days: days,
  calendars: calendars,
  unlabelled: fields.filter(f => f.labels.length === 0).map(f => f.name),
  sideways: document.documentElement.scrollWidth > window.innerWidth,
  scroll_width: document.documentElement.scrollWidth,
  inner_width: window.innerWidth,
};
"""


def browser(job):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--no-first-run", "--lang=en-GB",
                 f"--window-size={job['width']},{job['height']}"):
        options.add_argument(flag)
    if not job["javascript"]:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    env = dict(os.environ, TZ=job["zone"])
    service = Service(executable_path="/usr/bin/chromedriver", env=env)
    return webdriver.Chrome(service=service, options=options)


def main():
    job = json.load(sys.stdin)
    base = job["base"].rstrip("/")
    out = {"pages": {}}
    driver = browser(job)
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(base + "/web/")
        out["first_url"] = driver.current_url
        out["sign_in_page"] = driver.execute_script(READ_PAGE)
        driver.find_element(By.ID, "name").send_keys(job["user"])
        driver.find_element(By.ID, "password").send_keys(job["password"])
        driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
        wait.until(lambda d: "/web/signin" not in d.current_url)
        if job["javascript"]:
            # zone.js fills in the browser's zone once.
            wait.until(lambda d: "tz=" in d.current_url)
        elif job.get("choose_zone"):
            Select(driver.find_element(By.ID, "tz")).select_by_visible_text(job["choose_zone"])
            driver.find_element(By.CSS_SELECTOR, "form.zone button").click()
            wait.until(lambda d: "tz=" in d.current_url)
        out["overview"] = driver.execute_script(READ_PAGE)
        for page in job["pages"]:
            driver.get(base + page["path"])
            seen = driver.execute_script(READ_PAGE)
            if job.get("screenshots"):
                name = f"{page['name']}-{job['width']}.png"
                driver.save_screenshot(os.path.join(job["screenshots"], name))
            out["pages"][page["name"]] = seen
        driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
        wait.until(lambda d: "/web/signin" in d.current_url)
        driver.get(base + job["pages"][0]["path"] if job["pages"] else base + "/web/")
        out["after_sign_out"] = driver.current_url
    finally:
        driver.quit()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
