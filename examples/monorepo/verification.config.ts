/**
 * This workspace's Playwright settings. verification-runner layers them under its own and
 * applies the keys it owns last (docs/workspace-config.md in the runner's repository).
 */
import fs from 'node:fs';
import path from 'node:path';
import { defineConfig } from '@playwright/test';
import { STORAGE_STATE } from './e2e-utils/state';

// Local values (see .env); in the Job the same names come from the environment.
const dotenv = path.join(__dirname, '.env');
if (fs.existsSync(dotenv)) process.loadEnvFile(dotenv);

export default defineConfig({
  // Copied from a plain Playwright config: the runner owns retries (PLAYWRIGHT_RETRIES), so it
  // ignores this line and says so in one warning.
  retries: process.env.CI ? 2 : 0,
  timeout: 30_000,
  expect: { timeout: 7_500 },
  globalSetup: './e2e-utils/global-setup.ts',
  // Baselines next to the tests, one folder per spec file.
  snapshotPathTemplate: '{testDir}/__screenshots__/{testFilePath}/{arg}{ext}',
  use: {
    locale: 'de-DE',
    viewport: { width: 1280, height: 800 },
    extraHTTPHeaders: { 'X-E2E-Suite': 'example-monorepo' },
    storageState: STORAGE_STATE,
  },
  projects: [
    {
      // Signs in once; every test tree runs after it with the saved state.
      name: 'setup',
      testDir: './packages/app/e2e-tests',
      testMatch: /.*\.setup\.ts/,
      use: { storageState: { cookies: [], origins: [] } },
    },
  ],
});
