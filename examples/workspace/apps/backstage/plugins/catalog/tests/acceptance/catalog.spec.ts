import { expect, test } from '@playwright/test';

test.describe('catalog plugin', () => {
  test.beforeEach(async ({ page }) => {
    await page.goto('/catalog.html');
  });

  test('lists the components', async ({ page }) => {
    await expect(page.locator('#components tr')).toHaveCount(3);
  });

  test('filter narrows the list', async ({ page }) => {
    await page.getByPlaceholder('Filter components').fill('check');
    await expect(page.locator('#components tr:visible')).toHaveCount(1);
    await expect(page.locator('#components tr:visible')).toContainText('checkout');
  });

  test('component page shows kind and owner', async ({ page }) => {
    await page.getByRole('link', { name: 'payments' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('payments');
    await expect(page.getByTestId('kind')).toHaveText('service');
    await expect(page.getByTestId('owner')).toHaveText('team-a');
  });
});
