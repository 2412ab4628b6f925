"""Runner overhead on a Backstage app: `verification-runner run` vs bare Playwright, own config.

The yarn 4 Backstage-shaped repository of the tests (tests/helpers/backstage_repo.py: an app and
a plugin with `e2e-tests`, create-app's own root `playwright.config.ts`, projects from the real
generateProjects()) is cloned and installed once, as bench/install.py's baseline does. Both
sides then run in that checkout against the same target on 127.0.0.1: bare Playwright with the
workspace's own config, as the app's CI runs it (`CI=true playwright test`: create-app's config
then starts no webServer, `yarn start app`, and targets PLAYWRIGHT_URL; its 2 retries cost
nothing, the tests pass; the binary `npx` would pick, from this repository's node_modules: the
fixture does not depend on Playwright), and `verification-runner run` with TESTS_WORKSPACE on
it, which takes the same config.

Two suites in that checkout:
- `fixture`: the tests' own two specs, which open no browser: almost all of their time is
  start-up, so runner - bare is the runner's fixed cost (the interpreter, settings, attempt
  lock, verdict and reports), printed in seconds.
- `browser`: the specs a create-app app and its plugins have, the way Backstage writes them:
  each opens the app in Chromium, clicks and waits for text (create-app's
  `packages/app/e2e-tests/app.test.ts`: the welcome page, Enter, "My Company Catalog"), 3 in
  the app and 2 in the plugin, against a static copy of those pages. Target: ratio <= 1.05.
  generateProjects() asks for `channel: 'chrome'`, which this machine does not have: bare
  Playwright runs `playwright.bare.config.ts`, the app's config with its projects on the
  Chromium and the flags the runner uses instead (the runner replaces `channel` itself,
  docs/workspace-config.md), so both launch the same browser.

Rounds alternate, the best of each side counts (the machine is noisy), in wall time and in CPU
time (user + system of every process waited for), which other jobs on the machine move less.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.install import _baseline as clone_and_install
from bench.install import served_app
from tests.helpers.backstage_repo import GLOB
from tests.test_readiness import Response, http_server

REPO = Path(__file__).resolve().parents[1]
CONFIG_USED = "workspace config playwright.config.ts"  # the runner took the app's own
ROUNDS = int(os.environ.get("BENCH_BACKSTAGE_ROUNDS", "3"))
CHROMIUM = os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium")
BARE_CONFIG = "playwright.bare.config.ts"  # the browser suite's bare side: this Chromium
# What playwright.config.ts gives Chromium here (chromiumArgs(), as root).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-gpu",
]

WELCOME = b"""<!doctype html><title>Backstage</title>
<main id="root"><h1>Welcome</h1><button onclick="enter()">Enter</button></main>
<script>
function enter() {
  setTimeout(() => {
    document.getElementById('root').innerHTML =
      '<h1>My Company Catalog</h1><nav><a href="/catalog">Catalog</a> ' +
      '<a href="/hello">Hello</a> <a href="/settings">Settings</a></nav>';
  }, 50);
}
</script>
"""


def _page(title: str, body: str) -> bytes:
    return f"<!doctype html><title>{title}</title><main><h1>{title}</h1>{body}</main>".encode()


PAGES = {
    "/": WELCOME,
    "/catalog": _page("My Company Catalog", "<table><tr><td>example-website</td></tr></table>"),
    "/settings": _page("Settings", "<p>Guest</p>"),
    "/hello": _page("Hello", "<p>Hello from the plugin</p>"),
}

APP_SPECS = {
    "app.test.ts": """import { test, expect } from '@playwright/test';

test('App should render the welcome page', async ({ page }) => {
  await page.goto('/');
  const enterButton = page.getByRole('button', { name: 'Enter' });
  await expect(enterButton).toBeVisible();
  await enterButton.click();
  await expect(page.getByText('My Company Catalog')).toBeVisible();
});
""",
    "catalog.test.ts": """import { test, expect } from '@playwright/test';

test('the catalog lists the example website', async ({ page }) => {
  await page.goto('/catalog');
  await expect(page.getByRole('heading', { name: 'My Company Catalog' })).toBeVisible();
  await expect(page.getByText('example-website')).toBeVisible();
});
""",
    "settings.test.ts": """import { test, expect } from '@playwright/test';

test('settings show the guest', async ({ page }) => {
  await page.goto('/settings');
  await expect(page.getByText('Guest')).toBeVisible();
});
""",
}

PLUGIN_SPECS = {
    "hello.test.ts": """import { test, expect } from '@playwright/test';

test('hello plugin page renders', async ({ page }) => {
  await page.goto('/hello');
  await expect(page.getByText('Hello from the plugin')).toBeVisible();
});

test('hello plugin is reachable from the welcome page', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Enter' }).click();
  await page.getByRole('link', { name: 'Hello' }).click();
  await expect(page.getByText('Hello from the plugin')).toBeVisible();
});
""",
}


def _site(path: str, _headers: Mapping[str, str]) -> Response:
    return 200, {"Content-Type": "text/html"}, PAGES.get(path.partition("?")[0], PAGES["/"])


def _browser_suite(fixture: Path, work: Path) -> None:
    """`work`: a copy of the installed checkout `fixture` with create-app style browser specs,
    its projects on this machine's Chromium (see the module's docstring)."""
    subprocess.run(["cp", "-a", str(fixture), str(work)], check=True)
    trees = {"packages/app/e2e-tests": APP_SPECS, "plugins/hello/e2e-tests": PLUGIN_SPECS}
    for tree, specs in trees.items():
        for old in (work / tree).iterdir():
            old.unlink()
        for name, text in specs.items():
            (work / tree / name).write_text(text, encoding="utf-8")
    (work / BARE_CONFIG).write_text(
        "import { defineConfig } from '@playwright/test';\n"
        "import base from './playwright.config';\n\n"
        "export default defineConfig({\n"
        "  ...base,\n"
        "  projects: (base.projects ?? []).map((project) => ({\n"
        "    ...project,\n"
        f"    use: {{ ...project.use, channel: undefined, launchOptions: {{ executablePath: "
        f"{CHROMIUM!r}, args: {CHROMIUM_ARGS!r} }} }},\n"
        "  })),\n"
        "});\n",
        encoding="utf-8",
    )


# Bare Playwright under a subreaper that waits for every descendant, as the runner does (it is
# one, runner/processes/reaper.py): Chromium's helper processes outlive the browser process and
# are reparented, so without this their CPU time would count on the runner's side only.
REAPED = """
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
code = subprocess.call(sys.argv[1:])
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
sys.exit(code)
"""


def _timed(argv: list[str], cwd: Path, env: dict[str, str], *expect: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system of every process it waited for) of `argv`: CPU
    time hardly moves when other jobs load the machine, wall time does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or not all(line in done.stdout for line in expect):
        output = done.stdout[-3000:] + done.stderr[-3000:]
        raise SystemExit(f"{argv[:2]} failed ({done.returncode}):\n{output}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


@dataclass
class Best:
    """The best wall and the best CPU time seen for one side."""

    wall: float = float("inf")
    cpu: float = float("inf")

    def add(self, measured: tuple[float, float]) -> None:
        self.wall, self.cpu = min(self.wall, measured[0]), min(self.cpu, measured[1])


def _compare(
    work: Path, target: str, tests: int, artifacts: Path, base: dict[str, str]
) -> tuple[Best, Best]:
    """Best of ROUNDS for bare Playwright and the runner on the checkout `work`."""
    bare_env = {
        **base,
        "NODE_PATH": str(REPO / "node_modules"),
        "PLAYWRIGHT_URL": target,
        "CI": "true",
    }
    bare_argv = [sys.executable, "-c", REAPED, str(REPO / "node_modules/.bin/playwright"), "test"]
    if (work / BARE_CONFIG).exists():
        bare_argv += ["--config", BARE_CONFIG]
    runner_env = {
        **base,
        "BASE_URL": target,
        "TESTS_WORKSPACE": str(work),
        "CENTRAL_TESTS_DIR": "packages/app/e2e-tests",
        "PLUGIN_TESTS_GLOB": GLOB,
    }
    runner_argv = [sys.executable, "-m", "runner", "run"]
    bare, runner = Best(), Best()
    for n in range(ROUNDS):
        bare.add(_timed(bare_argv, work, bare_env, f"{tests} passed"))
        runner_env["ARTIFACT_ROOT"] = str(artifacts / f"{work.name}-{n}")
        runner.add(_timed(runner_argv, REPO, runner_env, f"all {tests} tests passed", CONFIG_USED))
    return bare, runner


def _line(bare: float, runner: float) -> str:
    return f"bare {bare:.2f}s, runner {runner:.2f}s, ratio {runner / bare:.3f}"


def run(say: Callable[[str], None]) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    for name in ("BASE_URL", "TESTS_WORKSPACE", "TESTS_REPO", "CI"):
        base.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="vr-bench-backstage-") as folder:
        tmp = Path(folder)
        fixture = tmp / "checkout" / "app"
        with served_app(tmp) as (url, registry_url):
            clone_and_install(url, registry_url, tmp / "cache", fixture)
        browser = tmp / "checkout" / "browser"
        _browser_suite(fixture, browser)
        with http_server(_site) as target:
            bare0, runner0 = _compare(fixture, target, 2, tmp / "artifacts", base)
            bare, runner = _compare(browser, target, 5, tmp / "artifacts", base)
    say(
        f"  fixture suite (2 specs, no browser: start-up only), best of {ROUNDS}: "
        f"wall {_line(bare0.wall, runner0.wall)}; CPU {_line(bare0.cpu, runner0.cpu)}"
    )
    say(
        f"  the runner's fixed cost: wall {runner0.wall - bare0.wall:.2f}s, "
        f"CPU {runner0.cpu - bare0.cpu:.2f}s (no target)"
    )
    say(
        f"  browser suite (5 create-app style specs in Chromium, own playwright.config.ts), "
        f"best of {ROUNDS}: wall {_line(bare.wall, runner.wall)} (target <= 1.05); "
        f"CPU {_line(bare.cpu, runner.cpu)}"
    )
    # What the browser specs add over the start-up, on each side: the runner's effect on the
    # tests themselves (its config, reporters and trace settings), without the fixed cost.
    say(
        "  per-test work (browser suite - fixture suite): "
        f"wall {_line(bare.wall - bare0.wall, runner.wall - runner0.wall)}; "
        f"CPU {_line(bare.cpu - bare0.cpu, runner.cpu - runner0.cpu)}"
    )
