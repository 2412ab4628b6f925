/**
 * Playwright configuration for the verification runner.
 *
 * Generic: it knows nothing about Backstage beyond the default tree names. Everything comes from
 * the environment (names fixed in docs/contract.md, Playwright section):
 *
 *   TESTS_WORKSPACE      workspace root                          (default: current directory)
 *   CENTRAL_TESTS_DIR    central tree, relative to the workspace (default: apps/backstage/tests/acceptance)
 *   PLUGIN_TESTS_GLOB    plugin trees, comma-separated; one `*` = plugin name (default: apps/backstage/plugins/*\/tests/acceptance)
 *   TEST_MATCH           spec globs, comma-separated             (default: *.spec.* and *.test.* in ts/js/mjs/cjs)
 *   WORKSPACE_CONFIG     the workspace's own settings, layered under these (default: verification.config.*,
 *                        else playwright.config.*, when present; `none` = none); config/workspace.ts,
 *                        docs/workspace-config.md
 *   BASE_URL             target; unset = serve LOCAL_SITE_DIR with python3 -m http.server
 *   LOCAL_SITE_DIR       static site for local runs              (default: <workspace>/verification-site)
 *   LOCAL_SITE_PORT      port of that server on 127.0.0.1        (default: 4173)
 *   VR_SUITE             kargo = leave out tests tagged @local, never write snapshots; local = run them (default: local)
 *   VR_RETRIES           retries per failing test                (default: 0)
 *   BROWSER_EXECUTABLE   Chromium to use when Playwright's own is not installed (default: /usr/bin/chromium)
 *   TEST_RESULTS_DIR     Playwright outputDir (traces, screenshots) (default: ./test-results)
 *   PLAYWRIGHT_JUNIT_OUTPUT_NAME, PLAYWRIGHT_HTML_OUTPUT_DIR, PLAYWRIGHT_JSON_OUTPUT_NAME,
 *   PLAYWRIGHT_BLOB_OUTPUT_FILE
 *                        each one, when set, adds that file reporter
 *
 * Reads only the environment and the file system; no network.
 */
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { defineConfig, type PlaywrightTestConfig } from '@playwright/test';
import { chromium } from 'playwright-core';
import { pluginTrees, testMatch, unmatchedTestFiles, type Tree } from './config/trees';
import { combinedGrepInvert, findWorkspaceConfig, layeredUse, loadLayer } from './config/workspace';

const env = process.env;
const repoNodeModules = path.join(__dirname, 'node_modules');
// `playwright test --list` loads the specs but neither launches a browser nor starts the
// webServer (docs/platform-facts.md, Playwright section), so listing must work without either.
const listing = process.argv.includes('--list');

const workspace = path.resolve(env.TESTS_WORKSPACE || process.cwd());
const centralDir = path.resolve(workspace, env.CENTRAL_TESTS_DIR || 'apps/backstage/tests/acceptance');
const pluginGlob = env.PLUGIN_TESTS_GLOB || 'apps/backstage/plugins/*/tests/acceptance';
const TEST_MATCH = testMatch(env.TEST_MATCH);
const kargo = env.VR_SUITE === 'kargo';
/** The key of a project's metadata that says whether it is a test tree or a setup project. */
const TREE_METADATA = 'verification-runner';
// Playwright loads this config in its main process and again in every worker: say things once.
const mainProcess = env.TEST_WORKER_INDEX === undefined;

/**
 * Specs in a workspace outside this repository (a mounted volume, a temporary directory) cannot
 * find `@playwright/test`: Node resolves a bare import from the spec's own directory upwards
 * (docs/platform-facts.md, Playwright section). Adding our node_modules to NODE_PATH fixes it for .ts
 * and CommonJS specs. Doing it here, and re-reading NODE_PATH in this process, makes a bare
 * `npx playwright test` work as well as the runner; worker processes inherit the variable.
 * NODE_PATH comes after any node_modules next to the spec, so pinPlaywrightCopy() below decides
 * which @playwright/test a spec gets.
 */
function addRepoNodeModulesToNodePath(): void {
  const entries = (env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  if (entries.includes(repoNodeModules)) return;
  env.NODE_PATH = [...entries, repoNodeModules].join(path.delimiter);
  // Module._initPaths re-reads NODE_PATH; it is not in @types/node but has been stable since Node 0.x.
  (Module as unknown as { _initPaths: () => void })._initPaths();
}

/**
 * The runner's pinned Playwright wins. A workspace that ships its own @playwright/test would load
 * a second copy next to ours, and Playwright aborts the whole run ("Requiring @playwright/test
 * second time"; docs/platform-facts.md, Playwright section). So these packages always resolve from this
 * repository, whatever a spec's own node_modules holds.
 */
const PINNED_PACKAGES = /^(@playwright\/test|playwright|playwright-core)(\/.*)?$/;

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: { paths?: string[] }) => string;

function pinPlaywrightCopy(): void {
  // Module._resolveFilename is how CommonJS (and Playwright's transpiled .ts) resolve a request;
  // not in @types/node, stable for years, and what Playwright's own tsconfig-paths hook wraps.
  const cjs = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = cjs._resolveFilename;
  cjs._resolveFilename = function (this: unknown, request, parent, isMain, options) {
    // options.paths set = an explicit require.resolve(…, { paths }): leave it alone.
    if (!options?.paths && PINNED_PACKAGES.test(request)) {
      return original.call(this, request, parent, isMain, { paths: [__dirname] });
    }
    return original.call(this, request, parent, isMain, options);
  };
}

/**
 * ES module specs (.mjs) ignore NODE_PATH. This resolve hook retries a bare specifier that
 * failed from the spec's location as if it were imported from this repository, which is what
 * NODE_PATH does for CommonJS, and resolves PINNED_PACKAGES from this repository first.
 * Registered in every process that loads this config (the runner process and each worker);
 * `module.register` needs Node >= 20.6.
 */
const ESM_FALLBACK_HOOK = `
let fallbackParentURL;
export async function initialize(data) { fallbackParentURL = data.parentURL; }
export async function resolve(specifier, context, nextResolve) {
  if (${PINNED_PACKAGES}.test(specifier)) {
    return nextResolve(specifier, { ...context, parentURL: fallbackParentURL });
  }
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const bare = !/^(\\.|\\/|[a-z][a-z0-9+.-]*:)/i.test(specifier);
    if (!bare || error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return nextResolve(specifier, { ...context, parentURL: fallbackParentURL });
  }
}
`;

function registerEsmFallback(): void {
  const parentURL = pathToFileURL(path.join(__dirname, 'package.json')).href;
  Module.register(`data:text/javascript,${encodeURIComponent(ESM_FALLBACK_HOOK)}`, { data: { parentURL } });
}

/**
 * Playwright's own Chromium when it is installed (the official Playwright image, or a machine
 * that ran `npx playwright install`), else BROWSER_EXECUTABLE, else Debian's /usr/bin/chromium.
 */
function browserExecutable(): string | undefined {
  const candidates = [chromium.executablePath(), env.BROWSER_EXECUTABLE, '/usr/bin/chromium'];
  const found = candidates.find((candidate) => candidate && fs.existsSync(candidate));
  if (found || listing) return found;
  throw new Error(
    `No browser found: looked for ${candidates.filter(Boolean).join(', ')}. ` +
      'Install Debian\'s Chromium (apt-get install chromium, or run scripts/setup-node.sh), ' +
      'set BROWSER_EXECUTABLE to a Chromium binary, or run in the official Playwright image ' +
      '(mcr.microsoft.com/playwright, same version as @playwright/test).',
  );
}

function isRootOrContainer(): boolean {
  return (
    process.getuid?.() === 0 ||
    fs.existsSync('/.dockerenv') ||
    fs.existsSync('/run/.containerenv') ||
    Boolean(env.KUBERNETES_SERVICE_HOST)
  );
}

function chromiumArgs(): string[] {
  const args = [
    // No network here but the target: without these Chromium keeps dialling Google services
    // and the log fills with refused connections.
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--disable-gpu',
  ];
  // Chromium's sandbox needs user namespaces, which root and most containers do not get.
  if (isRootOrContainer()) args.unshift('--no-sandbox');
  return args;
}

function retries(): number {
  const raw = env.VR_RETRIES || '0';
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`VR_RETRIES must be a whole number >= 0, got "${raw}"`);
  return value;
}

function suiteGrepInvert(): RegExp | undefined {
  const suite = env.VR_SUITE || 'local';
  if (suite === 'local') return undefined;
  // Project-level grepInvert and the CLI's --grep-invert are separate filters in Playwright 1.65
  // (a test must pass both), so `--grep-invert X` on the command line still leaves out @local.
  if (suite === 'kargo') return /@local\b/;
  throw new Error(`VR_SUITE must be "kargo" or "local", got "${suite}"`);
}

function reporters(): NonNullable<PlaywrightTestConfig['reporter']> {
  const list: NonNullable<PlaywrightTestConfig['reporter']> = [['list']];
  if (env.VR_DISCOVERY_FILE) {
    // The runner's discovery: the tests per project, listed at the start of the real run.
    list.unshift([path.join(__dirname, 'reporters', 'discovery-reporter.cjs'), { outputFile: path.resolve(env.VR_DISCOVERY_FILE) }]);
  }
  if (env.PLAYWRIGHT_JUNIT_OUTPUT_NAME) {
    // includeRetries (1.59+): a flaky test gets <flakyFailure> children instead of passing silently.
    list.push(['junit', { outputFile: path.resolve(env.PLAYWRIGHT_JUNIT_OUTPUT_NAME), includeRetries: true }]);
  }
  if (env.PLAYWRIGHT_HTML_OUTPUT_DIR) {
    list.push(['html', { outputFolder: path.resolve(env.PLAYWRIGHT_HTML_OUTPUT_DIR), open: 'never' }]);
  }
  if (env.PLAYWRIGHT_BLOB_OUTPUT_FILE) {
    // A shard's blob report (the runner sets it when SHARD_COUNT > 1); `merge-reports` turns
    // every shard's blob into one JUnit and one HTML report. outputFile, not outputDir: the
    // blob reporter empties its outputDir first, outputFile leaves the attempt's files alone.
    list.push(['blob', { outputFile: path.resolve(env.PLAYWRIGHT_BLOB_OUTPUT_FILE) }]);
  }
  if (env.PLAYWRIGHT_JSON_OUTPUT_NAME) {
    // The JSON report is what marks a test "flaky" (passed on a retry).
    list.push(['json', { outputFile: path.resolve(env.PLAYWRIGHT_JSON_OUTPUT_NAME) }]);
  }
  return list;
}

function localWebServer(): { baseURL: string; webServer?: PlaywrightTestConfig['webServer'] } {
  if (env.BASE_URL) return { baseURL: env.BASE_URL };
  const port = Number(env.LOCAL_SITE_PORT || '4173');
  // Not `site/`: Backstage's .gitignore ignores it (TechDocs output), so a suite's site there
  // would never be committed, and a TechDocs build would be served as the target.
  const siteDir = path.resolve(workspace, env.LOCAL_SITE_DIR || 'verification-site');
  if (!listing && !fs.existsSync(siteDir)) {
    throw new Error(`BASE_URL is unset and LOCAL_SITE_DIR ${siteDir} does not exist: set one of them`);
  }
  const baseURL = `http://127.0.0.1:${port}`;
  return {
    baseURL,
    webServer: {
      command: `python3 -m http.server ${port} --bind 127.0.0.1 --directory '${siteDir.replace(/'/g, "'\\''")}'`,
      url: `${baseURL}/`,
      // A stale server on the port would serve another site: fail instead of reusing it.
      reuseExistingServer: false,
      // http.server logs every request on stderr; Playwright itself reports a server that fails
      // to start (exit code) or a port already taken.
      stdout: 'ignore',
      stderr: 'ignore',
      timeout: 30_000,
    },
  };
}

/**
 * Keys the runner owns, applied last whatever else sets them: a verification always runs the
 * whole suite (a stray test.only would narrow it to one test and pass), and a Kargo run compares
 * against the committed snapshots, never writing a missing one into the workspace (the retry
 * would then pass against it) nor skipping the comparison. The runner refuses the command-line
 * options that would override these (runner/playwright.py, check_arguments).
 */
function runnerOwned(): Pick<PlaywrightTestConfig, 'forbidOnly' | 'updateSnapshots' | 'ignoreSnapshots'> {
  return { forbidOnly: true, ...(kargo ? { updateSnapshots: 'none', ignoreSnapshots: false } : {}) };
}

function warn(line: string): void {
  if (mainProcess) process.stderr.write(`[verification-runner] WARNING: ${line}\n`);
}

addRepoNodeModulesToNodePath();
pinPlaywrightCopy();
registerEsmFallback();
const executablePath = browserExecutable();
const target = localWebServer();
// The central tree reached by a plugin glob too (packages/*/e2e-tests with packages/app/e2e-tests
// central, a Backstage app's layout) is the central tree only: each spec runs once.
const trees: Tree[] = [
  { name: 'central', dir: centralDir },
  ...pluginTrees(workspace, pluginGlob).filter((tree) => path.resolve(tree.dir) !== centralDir),
];
const layer = loadLayer(workspace, findWorkspaceConfig(workspace, env.WORKSPACE_CONFIG), { trees, kargo });
layer.warnings.forEach(warn);
const unmatched = unmatchedTestFiles(
  workspace,
  trees,
  TEST_MATCH,
  layer.setupProjects.flatMap((p) => (p.testMatch === undefined ? [] : Array.isArray(p.testMatch) ? p.testMatch : [p.testMatch])),
);
if (unmatched.length) {
  warn(`${unmatched.length} file(s) look like tests but match no TEST_MATCH glob (${TEST_MATCH.join(', ')}) and will not run: ${unmatched.join(', ')}`);
}

// What the runner decides, applied last (docs/workspace-config.md): the browser and the target.
const runnerUse = {
  baseURL: target.baseURL,
  browserName: 'chromium' as const,
  launchOptions: { executablePath, args: chromiumArgs() },
};
const defaultUse = { headless: true, screenshot: 'only-on-failure' as const, trace: 'retain-on-failure' as const };
const localRule = suiteGrepInvert();
const topUse = { ...defaultUse, ...layer.config.use };

export default defineConfig({
  // The workspace's settings first (use, expect, timeouts, globalSetup, workers, snapshot paths).
  ...layer.config,
  // Every project sets its own testDir; this one is the root that reports show paths relative to.
  testDir: workspace,
  testMatch: TEST_MATCH,
  outputDir: path.resolve(env.TEST_RESULTS_DIR || 'test-results'),
  retries: retries(),
  grepInvert: combinedGrepInvert(layer.config.grepInvert, localRule),
  reporter: reporters(),
  webServer: target.webServer,
  use: layeredUse(topUse, runnerUse),
  projects: [
    ...layer.setupProjects.map((project) => ({
      ...project,
      metadata: { ...project.metadata, [TREE_METADATA]: { role: 'setup' } },
      grepInvert: combinedGrepInvert(project.grepInvert ?? layer.config.grepInvert, localRule),
      use: layeredUse({ ...topUse, ...project.use }, runnerUse),
    })),
    ...trees.map((tree) => {
      // A workspace project whose testDir is this tree is the tree (its name, use, timeout,
      // expect); the others get the runner's name and the workspace's one main project's settings.
      const own = layer.treeProjects.get(tree.dir);
      const settings = own ?? layer.treeSettings;
      return {
        ...settings,
        name: own?.name ?? tree.name,
        testDir: tree.dir,
        testMatch: TEST_MATCH,
        grepInvert: combinedGrepInvert(settings.grepInvert ?? layer.config.grepInvert, localRule),
        dependencies: layer.dependencies,
        use: layeredUse({ ...topUse, ...settings.use }, runnerUse),
        // How the runner tells a test tree from a setup project in what Playwright reports
        // (reporters/discovery-reporter.cjs): setup tests never count as verification.
        metadata: { ...settings.metadata, [TREE_METADATA]: { role: 'tree', tree: tree.dir, treeName: tree.name } },
      };
    }),
  ],
  ...runnerOwned(),
});
