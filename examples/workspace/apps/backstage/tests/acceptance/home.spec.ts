import { expect, test } from '@playwright/test';

test.describe('home page', () => {
  test.beforeEach(async ({ page }) => {
    await page.goto('/');
  });

  test('shows the portal title', async ({ page }) => {
    await expect(page).toHaveTitle(/Example Portal/);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome to the Example Portal');
  });

  test('should have Events link', async ({ page }) => {
    const events = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Events' });
    await expect(events).toBeVisible();
    await events.click();
    await expect(page).toHaveURL(/\/events\.html$/);
  });

  test('shows a version', async ({ page }) => {
    await expect(page.getByTestId('version')).toHaveText(/^\d+\.\d+\.\d+$/);
  });
});
