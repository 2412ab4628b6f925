import fs from 'node:fs';
import path from 'node:path';
import { expect, test as setup } from '@example/e2e-testing';
import { STORAGE_STATE } from '@e2e/state';

setup('sign in as the test user', async ({ page, user }) => {
  await page.goto('/login.html');
  await page.getByLabel('Name').fill(user.name);
  await page.getByRole('button', { name: 'Enter' }).click();
  await expect(page.getByTestId('session')).toHaveText(`Signed in as ${user.name}`);
  fs.mkdirSync(path.dirname(STORAGE_STATE), { recursive: true });
  await page.context().storageState({ path: STORAGE_STATE });
});
