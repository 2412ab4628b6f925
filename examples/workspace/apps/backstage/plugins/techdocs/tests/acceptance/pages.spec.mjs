// An ES module spec: the config resolves @playwright/test for it even when the workspace lives
// outside the runner's repository (ES modules ignore NODE_PATH).
import { expect, test } from '@playwright/test';

test('every document page links back to the portal', async ({ page }) => {
  for (const doc of ['getting-started', 'deploying']) {
    await page.goto(`/docs/${doc}.html`);
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home' })).toBeVisible();
  }
});
