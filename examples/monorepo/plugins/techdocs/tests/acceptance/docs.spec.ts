import { expect, test } from '@playwright/test';

// A plugin that still keeps its tests in tests/acceptance: a second PLUGIN_TESTS_GLOB finds it.
test('the docs page links back home', async ({ page }) => {
  await page.goto('/docs.html');
  await expect(page.getByRole('link', { name: 'Getting started' })).toHaveAttribute('href', '/index.html');
});
