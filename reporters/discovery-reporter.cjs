// Lists the tests that will run, per project, before the first one starts, and writes them to
// VR_DISCOVERY_FILE for the runner. Being a reporter of the real run, discovery costs no
// second Playwright start (no `--list` pass) on the critical path.
// CommonJS on purpose: Playwright loads it without transpiling.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function realpath(dir) {
  try {
    return fs.realpathSync(dir);
  } catch {
    return dir;
  }
}

class DiscoveryReporter {
  constructor(options = {}) {
    this.outputFile = options.outputFile || process.env.VR_DISCOVERY_FILE;
    this.report = { total: 0, projects: {}, tests: [], errors: [], status: 'not started' };
  }

  printsToStdio() {
    return false;
  }

  onBegin(config, suite) {
    const root = config.rootDir;
    const tests = suite.allTests().map((test) => ({
      project: test.parent.project()?.name ?? '',
      file: path.relative(root, test.location.file),
      line: test.location.line,
      title: test.titlePath().slice(3).join(' › '),
      tags: test.tags,
    }));
    const perProject = {};
    for (const test of tests) perProject[test.project] = (perProject[test.project] || 0) + 1;
    // Which projects are test trees and which are setup projects, from the metadata
    // playwright.config.ts gives each (every configured project, whether or not a filter left
    // it any test): setup tests never count as verification, and every tree must run a test.
    const roles = config.projects.map((p) => ({ name: p.name, ...((p.metadata || {})['verification-runner'] || {}) }));
    const trees = roles
      .filter((r) => r.role === 'tree')
      .map((r) => ({ project: r.name, dir: realpath(r.tree), discovered: perProject[r.name] || 0 }));
    const setup = roles.filter((r) => r.role === 'setup').map((r) => r.name);
    const lines = [`[discovery] ${tests.length} test(s) will run: ` +
      (Object.entries(perProject).map(([p, n]) => `${p} ${n}`).join(', ') || 'none')];
    for (const test of tests) lines.push(`[discovery]   [${test.project}] ${test.file}:${test.line} › ${test.title}`);
    process.stdout.write(lines.join('\n') + '\n');
    this.report = { ...this.report, total: tests.length, projects: perProject, trees, setup, tests, status: 'running' };
    this.write();
  }

  // Errors outside any test: a spec that fails to load, "No tests found", a webServer that
  // does not start. The runner tells "no tests" from "broken" with them.
  onError(error) {
    const text = error.message || error.value || String(error);
    this.report.errors.push(text.split('\n')[0].slice(0, 2000));
  }

  onEnd(result) {
    this.report.status = result.status;
    this.write();
  }

  write() {
    if (!this.outputFile) return;
    const tmp = `${this.outputFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.report, null, 2));
    fs.renameSync(tmp, this.outputFile);
  }
}

module.exports = DiscoveryReporter;
