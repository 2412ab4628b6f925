/**
 * The workspace's own Playwright settings, layered under the runner's.
 *
 * The test author writes `verification.config.ts` (or .js, .mjs, .cjs) at the workspace root;
 * without one the workspace's own `playwright.config.*` is used as it is (a Backstage app's, whose
 * projects come from generateProjects()); WORKSPACE_CONFIG names another file, or `none`.
 * Its default export is an ordinary Playwright config. What it may set and what the runner
 * always decides is the table in docs/workspace-config.md; this module is that table in code.
 *
 * Paths in the file mean what they mean in a Playwright config next to it: relative to the
 * file's directory (globalSetup, snapshotPathTemplate, a project's testDir), while Playwright
 * would otherwise resolve them against the runner's config in PLAYWRIGHT_HOME.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PlaywrightTestConfig, Project } from '@playwright/test';

const EXTENSIONS = ['ts', 'js', 'mjs', 'cjs'];
/** Found without a setting, in this order: a file written for the runner, else the workspace's
 * own Playwright config (Backstage's root playwright.config.ts), used as it is. */
const CANDIDATES = [...EXTENSIONS.map((ext) => `verification.config.${ext}`), ...EXTENSIONS.map((ext) => `playwright.config.${ext}`)];
/** The runner's own config, which a workspace that is this repository must not load under itself. */
const RUNNER_CONFIG = path.resolve(__dirname, '..', 'playwright.config.ts');

/** Top-level keys the runner decides, and where the reader sets them instead. */
const RUNNER_OWNED: Record<string, string> = {
  reporter: 'the JUnit, JSON, HTML and discovery reports the verdict is read from',
  outputDir: "the attempt's test-results/",
  retries: 'PLAYWRIGHT_RETRIES',
  forbidOnly: 'always true: a focused test would narrow the suite',
  testDir: 'CENTRAL_TESTS_DIR and PLUGIN_TESTS_GLOB',
  testMatch: 'TEST_MATCH',
  webServer: 'BASE_URL, or LOCAL_SITE_DIR when it is unset',
  shard: 'SHARD_COUNT',
  failOnFlakyTests: 'FLAKY_POLICY',
};

/** Keys of `use` the runner decides. */
const RUNNER_OWNED_USE: Record<string, string> = {
  baseURL: 'BASE_URL',
  browserName: "the image's Chromium",
  channel: "the image's Chromium",
  defaultBrowserType: "the image's Chromium",
};

/** A project's keys the runner decides (the trees are its projects). */
const RUNNER_OWNED_PROJECT: Record<string, string> = {
  outputDir: RUNNER_OWNED.outputDir,
  retries: RUNNER_OWNED.retries,
};
/** What a project that is a test tree may not change: which files are the tree's specs. */
const RUNNER_OWNED_TREE_PROJECT: Record<string, string> = {
  ...RUNNER_OWNED_PROJECT,
  testMatch: RUNNER_OWNED.testMatch,
};

/** A test tree the runner checked: its project name and directory (config/trees.ts). */
export interface TreeDir {
  name: string;
  dir: string;
}

export interface Layer {
  /** The file, relative to the workspace, for messages; undefined = no workspace config. */
  file?: string;
  /** Top-level settings the runner leaves to the workspace, paths resolved. */
  config: PlaywrightTestConfig;
  /** The workspace's setup (and teardown) projects, as Playwright will run them. */
  setupProjects: Project[];
  /** What every tree project depends on: the setup projects (not their teardowns). */
  dependencies: string[];
  /** Settings of the workspace's one main project, applied to every tree it does not cover. */
  treeSettings: Project;
  /** Workspace projects whose testDir is a test tree, by that tree's directory: the tree runs
   * as that project (its name, use, timeout, expect), never as a second one. */
  treeProjects: Map<string, Project>;
  /** One line naming every runner-owned key the file sets (each key once), or none. */
  warnings: string[];
}

const EMPTY: Layer = { config: {}, setupProjects: [], dependencies: [], treeSettings: {}, treeProjects: new Map(), warnings: [] };

/** WORKSPACE_CONFIG: unset = the first of CANDIDATES that exists; `none` = none. */
export function findWorkspaceConfig(workspace: string, raw: string | undefined): string | undefined {
  if (raw === 'none') return undefined;
  if (raw) {
    const file = path.resolve(workspace, raw);
    if (!fs.existsSync(file)) throw new Error(`WORKSPACE_CONFIG=${raw}: no such file in ${workspace}`);
    return file;
  }
  return CANDIDATES.map((name) => path.join(workspace, name)).find((file) => fs.existsSync(file) && !sameFile(file, RUNNER_CONFIG));
}

function sameFile(a: string, b: string): boolean {
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}

function realDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

function resolveScript(dir: string, script: string): string {
  if (path.isAbsolute(script)) return script;
  if (script.startsWith('.')) return path.resolve(dir, script);
  try {
    return require.resolve(script, { paths: [dir] }); // a package's global setup
  } catch {
    return path.resolve(dir, script);
  }
}

function resolveScripts(dir: string, value: string | string[] | undefined): string | string[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.map((s) => resolveScript(dir, s)) : resolveScript(dir, value);
}

/** A path template that starts with a token (`{testDir}/...`) is already absolute. */
function resolveTemplate(dir: string, template: string | undefined): string | undefined {
  if (template === undefined || template.startsWith('{') || path.isAbsolute(template)) return template;
  return path.join(dir, template);
}

function resolvePaths(dir: string, config: PlaywrightTestConfig): PlaywrightTestConfig {
  const resolved = { ...config };
  if (config.globalSetup) resolved.globalSetup = resolveScripts(dir, config.globalSetup);
  if (config.globalTeardown) resolved.globalTeardown = resolveScripts(dir, config.globalTeardown);
  if (config.snapshotPathTemplate) resolved.snapshotPathTemplate = resolveTemplate(dir, config.snapshotPathTemplate);
  if (config.snapshotDir) resolved.snapshotDir = path.resolve(dir, config.snapshotDir);
  if (config.tsconfig) resolved.tsconfig = path.resolve(dir, config.tsconfig);
  if (config.expect?.toHaveScreenshot?.pathTemplate || config.expect?.toMatchAriaSnapshot?.pathTemplate) {
    const expect = { ...config.expect };
    for (const key of ['toHaveScreenshot', 'toMatchAriaSnapshot'] as const) {
      const options = expect[key];
      if (options?.pathTemplate) expect[key] = { ...options, pathTemplate: resolveTemplate(dir, options.pathTemplate) };
    }
    resolved.expect = expect;
  }
  return resolved;
}

/**
 * The runner-owned keys a file sets, each once with where it was set: a stock Backstage config
 * sets seven of them (reporter, retries, forbidOnly, webServer, outputDir, use.baseURL and a
 * `channel` in every generated project), which is one warning line, not seven.
 */
class Owned {
  private readonly keys = new Map<string, { why: string; where: Set<string> }>();

  note(key: string, why: string, where: string | undefined): void {
    const entry = this.keys.get(key) ?? { why, where: new Set<string>() };
    if (where) entry.where.add(where);
    this.keys.set(key, entry);
  }

  /** Drop the keys in `owned` from `object`, noting each one that was set. */
  without<T extends object>(object: T, owned: Record<string, string>, where: { prefix?: string; project?: string }): T {
    const kept: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(object)) {
      if (key in owned) {
        if (value !== undefined) this.note(`${where.prefix ?? ''}${key}`, owned[key], where.project);
      } else {
        kept[key] = value;
      }
    }
    return kept as T;
  }

  withoutUse(use: PlaywrightTestConfig['use'], project?: string): PlaywrightTestConfig['use'] {
    if (!use) return use;
    const kept = this.without(use, RUNNER_OWNED_USE, { prefix: 'use.', project });
    if (kept.launchOptions?.executablePath) {
      this.note('use.launchOptions.executablePath', 'BROWSER_EXECUTABLE', project);
      kept.launchOptions = { ...kept.launchOptions, executablePath: undefined };
    }
    return kept;
  }

  line(file: string): string[] {
    if (!this.keys.size) return [];
    const items = [...this.keys].map(([key, { why, where }]) => {
      const places = where.size ? `; project${where.size > 1 ? 's' : ''} ${[...where].join(', ')}` : '';
      return `${key} (${why}${places})`;
    });
    const [only] = items;
    return [
      items.length === 1
        ? `${file} sets ${only.replace(' (', ', which the runner owns (')}: ignored`
        : `${file} sets ${items.length} keys the runner owns, ignored (docs/workspace-config.md): ${items.join(', ')}`,
    ];
  }
}

function load(file: string): PlaywrightTestConfig {
  let loaded: unknown;
  try {
    // Loaded while Playwright's TypeScript transform is installed (it loads this config the
    // same way), so a .ts file, its imports and the workspace's tsconfig paths all work.
    loaded = require(file);
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`the workspace config ${file} does not load: ${message}`);
  }
  const config = (loaded as { default?: unknown })?.default ?? loaded;
  if (!config || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error(`the workspace config ${file} must export a Playwright config object (export default defineConfig({...}))`);
  }
  return config as PlaywrightTestConfig;
}

/** A Kargo run never writes a missing or changed baseline: the retry would pass on it. */
const KARGO_OWNED: Record<string, string> = {
  updateSnapshots: "'none' in Kargo runs",
  ignoreSnapshots: 'false in Kargo runs: the comparisons always run',
};

/**
 * The workspace's projects, read as Playwright reads them:
 * - setup projects: those another project depends on, and their teardowns. They run as written,
 *   before every tree. In a `verification.config.*` where nobody depends on anything every
 *   project is one (that file is written for the runner, whose trees are the test projects).
 * - tree projects: a project whose testDir is one of the test trees IS that tree: its name
 *   (generateProjects() names it after the package), use, timeout and expect, run once.
 * - the rest: not run. When no project is a tree and one is left, its settings carry over to
 *   every tree (a plain config's `chromium` project); otherwise a warning names them.
 */
function splitProjects(
  projects: Project[],
  { written, dirOf, trees }: { written: boolean; dirOf: (p: Project) => string; trees: TreeDir[] },
): { setup: Project[]; covering: Map<string, Project>; rest: Project[] } {
  const dependedOn = new Set(projects.flatMap((p) => p.dependencies || []));
  // A project named as another's teardown runs after it, like a setup project.
  const teardowns = new Set(projects.map((p) => p.teardown).filter(Boolean));
  const isSetup = (p: Project) => (written && dependedOn.size === 0) || dependedOn.has(p.name || '') || teardowns.has(p.name);
  const treeDirs = new Map(trees.map((t) => [realDir(t.dir), t.dir]));
  const covering = new Map<string, Project>();
  const rest: Project[] = [];
  for (const project of projects.filter((p) => !isSetup(p))) {
    const tree = treeDirs.get(realDir(dirOf(project)));
    if (tree !== undefined && !covering.has(tree)) covering.set(tree, project);
    else rest.push(project);
  }
  return { setup: projects.filter(isSetup), covering, rest };
}

export function loadLayer(
  workspace: string,
  file: string | undefined,
  { trees, kargo }: { trees: TreeDir[]; kargo: boolean },
): Layer {
  if (!file) return EMPTY;
  const where = path.relative(workspace, file) || file;
  const dir = path.dirname(file);
  const owned = new Owned();
  const warnings: string[] = [];
  const raw = resolvePaths(dir, load(file));
  const ownedTop = kargo ? { ...RUNNER_OWNED, ...KARGO_OWNED } : RUNNER_OWNED;
  const { projects = [], use, ...rest } = owned.without(raw, ownedTop, {});
  const config: PlaywrightTestConfig = { ...rest, use: owned.withoutUse(use) };
  const topTestDir = raw.testDir ? path.resolve(dir, raw.testDir) : dir;
  const dirOf = (project: Project) => (project.testDir ? path.resolve(dir, project.testDir) : topTestDir);
  const written = /^verification\.config\.[cm]?[jt]s$/.test(path.basename(file));
  const split = splitProjects(projects, { written, dirOf, trees });

  const treeNames = new Map(trees.map((t) => [t.dir, t.name]));
  const setupProjects = split.setup.map((project) => {
    const name = project.name || '';
    if (!name || [...treeNames.values()].includes(name)) {
      throw new Error(`${where}: every setup project needs a name other than the runner's tree projects (${[...treeNames.values()].join(', ')}), got "${name}"`);
    }
    const kept = owned.without(project, RUNNER_OWNED_PROJECT, { project: name });
    return {
      ...(resolvePaths(dir, kept as PlaywrightTestConfig) as Project),
      testDir: dirOf(project),
      use: owned.withoutUse(project.use, name),
    };
  });
  const teardowns = new Set(split.setup.map((p) => p.teardown).filter(Boolean));

  const treeProjects = new Map<string, Project>();
  for (const [tree, project] of split.covering) {
    const name = project.name || treeNames.get(tree)!;
    const { dependencies, testDir, ...settings } = owned.without(project, RUNNER_OWNED_TREE_PROJECT, { project: name });
    void [dependencies, testDir]; // the tree is the directory; every tree depends on the setup projects
    treeProjects.set(tree, {
      ...settings,
      name,
      snapshotPathTemplate: resolveTemplate(dir, settings.snapshotPathTemplate),
      use: owned.withoutUse(settings.use, name),
    });
  }

  let treeSettings: Project = {};
  if (split.covering.size === 0 && split.rest.length === 1) {
    const lender = split.rest[0];
    const { name, dependencies, teardown, testDir, testMatch, testIgnore, ...settings } = owned.without(
      lender,
      RUNNER_OWNED_PROJECT,
      { project: lender.name },
    );
    void [name, dependencies, teardown, testDir, testMatch, testIgnore]; // the trees decide these
    treeSettings = {
      ...settings,
      snapshotPathTemplate: resolveTemplate(dir, settings.snapshotPathTemplate),
      use: owned.withoutUse(settings.use, lender.name),
    };
  } else if (split.rest.length) {
    warnings.push(
      `${where}: project${split.rest.length > 1 ? 's' : ''} ${split.rest.map((p) => `${p.name} (testDir ${path.relative(workspace, dirOf(p)) || '.'})`).join(', ')} ` +
        `${split.rest.length > 1 ? 'are' : 'is'} no test tree (CENTRAL_TESTS_DIR, PLUGIN_TESTS_GLOB) and nobody depends on ${split.rest.length > 1 ? 'them' : 'it'}: not run`,
    );
  }
  const names = [...setupProjects.map((p) => p.name!), ...trees.map((t) => treeProjects.get(t.dir)?.name ?? t.name)];
  const twice = names.filter((name, i) => names.indexOf(name) !== i);
  if (twice.length) {
    throw new Error(`${where}: two projects would be named ${twice[0]} (the workspace's project names and the runner's tree names must differ)`);
  }
  return {
    file: where,
    config,
    setupProjects,
    dependencies: setupProjects.map((p) => p.name!).filter((name) => !teardowns.has(name)),
    treeSettings,
    treeProjects,
    warnings: [...owned.line(where), ...warnings],
  };
}

/** The `use` a project ends up with: the workspace's, then what the runner owns on top. */
export function layeredUse(
  workspaceUse: PlaywrightTestConfig['use'],
  runnerUse: NonNullable<PlaywrightTestConfig['use']>,
): PlaywrightTestConfig['use'] {
  const theirs = workspaceUse || {};
  return {
    ...theirs,
    ...runnerUse,
    launchOptions: {
      ...theirs.launchOptions,
      ...runnerUse.launchOptions,
      args: [...(runnerUse.launchOptions?.args || []), ...(theirs.launchOptions?.args || [])],
    },
  };
}

/** grep/grepInvert of the workspace combined with the runner's (a test must pass both). */
export function combinedGrepInvert(
  theirs: PlaywrightTestConfig['grepInvert'],
  ours: RegExp | undefined,
): PlaywrightTestConfig['grepInvert'] {
  const list = [...(Array.isArray(theirs) ? theirs : theirs ? [theirs] : []), ...(ours ? [ours] : [])];
  return list.length ? list : undefined;
}
