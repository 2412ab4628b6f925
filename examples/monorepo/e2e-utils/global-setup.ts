import type { FullConfig } from '@playwright/test';

/** Runs once before every project: says which target the suite is about to test. */
export default async function globalSetup(config: FullConfig): Promise<void> {
  console.log(`[global-setup] testing ${config.projects[0]?.use.baseURL} as ${process.env.E2E_USER_NAME}`);
}
