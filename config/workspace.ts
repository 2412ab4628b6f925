/**
 * The workspace's own Playwright settings, layered under the runner's.
 *
 * The test author writes `verification.config.ts` (or .js, .mjs, .cjs) at the workspace root, or
 * points WORKSPACE_CONFIG at another file such as the workspace's own `playwright.config.ts`.
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

const CANDIDATES = ['verification.config.ts', 'verification.config.js', 'verification.config.mjs', 'verification.config.cjs'];

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

export interface Layer {
  /** The file, relative to the workspace, for messages; undefined = no workspace config. */
  file?: string;
  /** Top-level settings the runner leaves to the workspace, paths resolved. */
  config: PlaywrightTestConfig;
  /** The workspace's setup (and teardown) projects, as Playwright will run them. */
  setupProjects: Project[];
  /** What every tree project depends on: the setup projects (not their teardowns). */
  dependencies: string[];
  /** Settings of the workspace's one main project, applied to every tree project. */
  treeSettings: Project;
  warnings: string[];
}

const EMPTY: Layer = { config: {}, setupProjects: [], dependencies: [], treeSettings: {}, warnings: [] };

/** WORKSPACE_CONFIG: unset = the first `verification.config.*` that exists; `none` = none. */
export function findWorkspaceConfig(workspace: string, raw: string | undefined): string | undefined {
  if (raw === 'none') return undefined;
  if (raw) {
    const file = path.resolve(workspace, raw);
    if (!fs.existsSync(file)) throw new Error(`WORKSPACE_CONFIG=${raw}: no such file in ${workspace}`);
    return file;
  }
  return CANDIDATES.map((name) => path.join(workspace, name)).find((file) => fs.existsSync(file));
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

/** Drop the keys in `owned` from `object`, with one warning line per key that was set. */
function withoutOwned<T extends object>(object: T, owned: Record<string, string>, where: string, warnings: string[]): T {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (key in owned) {
      if (value !== undefined) warnings.push(`${where} sets ${key}, which the runner owns (${owned[key]}): ignored`);
    } else {
      kept[key] = value;
    }
  }
  return kept as T;
}

function withoutOwnedUse(use: PlaywrightTestConfig['use'], where: string, warnings: string[]): PlaywrightTestConfig['use'] {
  if (!use) return use;
  const kept = withoutOwned(use, RUNNER_OWNED_USE, `${where} use`, warnings);
  if (kept.launchOptions?.executablePath) {
    warnings.push(`${where} use sets launchOptions.executablePath, which the runner owns (BROWSER_EXECUTABLE): ignored`);
    kept.launchOptions = { ...kept.launchOptions, executablePath: undefined };
  }
  return kept;
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

/**
 * Split the workspace's projects. Projects that others depend on (and their teardowns) are
 * setup projects: they run as they are, before every tree. The rest describe "the tests" in
 * a plain Playwright config; the runner's trees replace them, and the settings of a single
 * such project (its `use`, timeouts, expect) carry over to every tree. A verification config
 * that nobody depends on lists only setup projects.
 */
function splitProjects(projects: Project[], where: string, warnings: string[]): { setup: Project[]; main: Project[] } {
  const dependedOn = new Set(projects.flatMap((p) => p.dependencies || []));
  if (dependedOn.size === 0) return { setup: projects, main: [] };
  const teardowns = new Set(projects.filter((p) => dependedOn.has(p.name || '')).map((p) => p.teardown).filter(Boolean));
  const isSetup = (p: Project) => dependedOn.has(p.name || '') || teardowns.has(p.name);
  const main = projects.filter((p) => !isSetup(p));
  if (main.length > 1) {
    warnings.push(
      `${where} has ${main.length} test projects (${main.map((p) => p.name).join(', ')}): the runner runs one project per test tree, ` +
        'so only top-level settings apply; move shared use/expect/timeout to the top level',
    );
  }
  return { setup: projects.filter(isSetup), main };
}

/** A Kargo run never writes a missing or changed baseline: the retry would pass on it. */
const KARGO_OWNED: Record<string, string> = {
  updateSnapshots: "'none' in Kargo runs",
  ignoreSnapshots: 'false in Kargo runs: the comparisons always run',
};

export function loadLayer(
  workspace: string,
  file: string | undefined,
  { treeNames, kargo }: { treeNames: string[]; kargo: boolean },
): Layer {
  if (!file) return EMPTY;
  const where = path.relative(workspace, file) || file;
  const dir = path.dirname(file);
  const warnings: string[] = [];
  const raw = resolvePaths(dir, load(file));
  const owned = kargo ? { ...RUNNER_OWNED, ...KARGO_OWNED } : RUNNER_OWNED;
  const { projects = [], use, ...rest } = withoutOwned(raw, owned, where, warnings);
  const config: PlaywrightTestConfig = { ...rest, use: withoutOwnedUse(use, where, warnings) };
  const { setup, main } = splitProjects(projects, where, warnings);

  const topTestDir = raw.testDir ? path.resolve(dir, raw.testDir) : dir;
  const setupProjects = setup.map((project) => {
    const name = project.name || '';
    if (!name || treeNames.includes(name)) {
      throw new Error(`${where}: every setup project needs a name other than the runner's tree projects (${treeNames.join(', ')}), got "${name}"`);
    }
    const kept = withoutOwned(project, RUNNER_OWNED_PROJECT, `${where} project ${name}`, warnings);
    return {
      ...(resolvePaths(dir, kept as PlaywrightTestConfig) as Project),
      testDir: project.testDir ? path.resolve(dir, project.testDir) : topTestDir,
      use: withoutOwnedUse(project.use, `${where} project ${name}`, warnings),
    };
  });
  const teardowns = new Set(setup.map((p) => p.teardown).filter(Boolean));
  let treeSettings: Project = {};
  if (main.length === 1) {
    const { name, dependencies, teardown, testDir, testMatch, testIgnore, ...settings } = withoutOwned(
      main[0],
      RUNNER_OWNED_PROJECT,
      `${where} project ${main[0].name}`,
      warnings,
    );
    void [name, dependencies, teardown, testDir, testMatch, testIgnore]; // the trees decide these
    treeSettings = {
      ...settings,
      snapshotPathTemplate: resolveTemplate(dir, settings.snapshotPathTemplate),
      use: withoutOwnedUse(settings.use, `${where} project ${main[0].name}`, warnings),
    };
  }
  return {
    file: where,
    config,
    setupProjects,
    dependencies: setupProjects.map((p) => p.name!).filter((name) => !teardowns.has(name)),
    treeSettings,
    warnings,
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
