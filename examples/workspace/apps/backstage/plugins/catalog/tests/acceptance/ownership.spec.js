const { expect, test } = require('@playwright/test');

test('every component has an owner', async ({ page }) => {
  await page.goto('/catalog.html');
  const owners = await page.locator('#components tr td:nth-child(3)').allTextContents();
  expect(owners.length).toBeGreaterThan(0);
  for (const owner of owners) expect(owner).toMatch(/^team-/);
});
