/**
 * The test trees of a workspace and which files in them are specs.
 *
 * Reads nothing but its arguments and the file system; playwright.config.ts passes the
 * environment in (TEST_MATCH, CENTRAL_TESTS_DIR, PLUGIN_TESTS_GLOB; docs/contract.md).
 */
import fs from 'node:fs';
import path from 'node:path';
// Playwright's own file matcher (an exported entry of the pinned package), so "would this file
// run?" is answered exactly as `playwright test` answers it: globs without `**/` get it prepended.
// No type declarations ship for it, hence the typed require.
const { createFileMatcher } = require('playwright/lib/util') as {
  createFileMatcher: (patterns: (string | RegExp)[]) => (file: string) => boolean;
};

/** Backstage's `*.test.ts` and Playwright's `*.spec.ts`, in the extensions the runner loads. */
export const DEFAULT_TEST_MATCH = ['**/*.spec.{ts,js,mjs,cjs}', '**/*.test.{ts,js,mjs,cjs}'];

/** A name that says "I am a test" whether or not TEST_MATCH agrees. */
const LOOKS_LIKE_TEST = /\.(spec|test|e2e|setup|teardown)\.[cm]?[jt]sx?$/i;

export interface Tree {
  /** Playwright project name: `central`, `plugin:<name>`. */
  name: string;
  dir: string;
}

/** TEST_MATCH: comma-separated globs; empty or unset = the default. */
export function testMatch(raw: string | undefined): string[] {
  const globs = (raw || '')
    .split(',')
    .map((glob) => glob.trim())
    .filter(Boolean);
  return globs.length ? globs : DEFAULT_TEST_MATCH;
}

function checkGlob(glob: string): number {
  const parts = glob.split('/');
  const star = parts.indexOf('*');
  if (star === -1 || parts.filter((p) => p.includes('*')).length !== 1) {
    throw new Error(`PLUGIN_TESTS_GLOB: each glob must hold exactly one "*" as a whole path segment, got "${glob}"`);
  }
  return star;
}

/**
 * Every PLUGIN_TESTS_GLOB (comma-separated) expanded to the plugin directories that exist.
 * A plugin found by two globs (plugins/x/e2e-tests and plugins/x/tests/acceptance) gets one
 * project per tree, told apart by the part of the glob after the plugin's name.
 */
export function pluginTrees(workspace: string, raw: string): Tree[] {
  const found: { plugin: string; suffix: string; dir: string }[] = [];
  for (const glob of raw.split(',').map((g) => g.trim()).filter(Boolean)) {
    const star = checkGlob(glob);
    const parts = glob.split('/');
    const parent = path.resolve(workspace, ...parts.slice(0, star));
    if (!fs.existsSync(parent)) continue;
    const suffix = parts.slice(star + 1).join('/');
    for (const entry of fs.readdirSync(parent, { withFileTypes: true })) {
      if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
      const dir = path.join(parent, entry.name, ...parts.slice(star + 1));
      if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) found.push({ plugin: entry.name, suffix, dir });
    }
  }
  const count = new Map<string, number>();
  for (const tree of found) count.set(tree.plugin, (count.get(tree.plugin) || 0) + 1);
  const trees = found.map((tree) => ({
    name: count.get(tree.plugin)! > 1 ? `plugin:${tree.plugin}/${tree.suffix}` : `plugin:${tree.plugin}`,
    dir: tree.dir,
  }));
  // The same directory reached by two globs is one tree.
  const unique = new Map(trees.map((tree) => [tree.dir, tree]));
  return [...unique.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function* walk(dir: string): Generator<string> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    // Playwright never looks into node_modules; dot directories hold tool state (.auth, .git).
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

/**
 * Files inside the trees whose names look like tests but that no project would load: a suite
 * written as `*.e2e.ts`, or `*.test.ts` under a TEST_MATCH of `*.spec.ts`, would otherwise be
 * skipped without a word. `extra` are the globs or patterns of the workspace's setup projects.
 */
export function unmatchedTestFiles(
  workspace: string,
  trees: Tree[],
  globs: string[],
  extra: (string | RegExp)[],
): string[] {
  const matches = createFileMatcher([...globs, ...extra]);
  const unmatched = new Set<string>();
  for (const tree of trees) {
    for (const file of walk(tree.dir)) {
      if (LOOKS_LIKE_TEST.test(path.basename(file)) && !matches(file)) unmatched.add(path.relative(workspace, file));
    }
  }
  return [...unmatched].sort();
}
