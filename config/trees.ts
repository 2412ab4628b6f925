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
 * Names are stable: a tree found by the first glob is `plugin:<name>`, one found by a later glob
 * `plugin:<name>/<the glob after the name>` (plugins/x/tests/acceptance: plugin:x/tests/acceptance),
 * whether or not the plugin has another tree, so a plugin that gains a second tree never renames
 * its first (a `--project` filter or a dashboard keeps working). runner/trees.py names them alike.
 */
export function pluginTrees(workspace: string, raw: string): Tree[] {
  const trees: Tree[] = [];
  raw
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean)
    .forEach((glob, index) => {
      const star = checkGlob(glob);
      const parts = glob.split('/');
      const parent = path.resolve(workspace, ...parts.slice(0, star));
      if (!fs.existsSync(parent)) return;
      const suffix = parts.slice(star + 1).join('/');
      for (const entry of fs.readdirSync(parent, { withFileTypes: true })) {
        if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
        const dir = path.join(parent, entry.name, ...parts.slice(star + 1));
        if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) continue;
        // A later glob ending in the plugin's name (`extra/*`) is told apart by its parent.
        const part = suffix || parts.slice(0, star).join('/');
        trees.push({ name: index === 0 ? `plugin:${entry.name}` : `plugin:${entry.name}/${part}`, dir });
      }
    });
  // The same directory reached by two globs is one tree, under the first glob's name.
  const unique = new Map<string, Tree>();
  for (const tree of trees) if (!unique.has(tree.dir)) unique.set(tree.dir, tree);
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
