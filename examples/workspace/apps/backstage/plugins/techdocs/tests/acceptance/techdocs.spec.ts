import { expect, test } from '@playwright/test';

test.describe('techdocs plugin', () => {
  test('index lists the documents', async ({ page }) => {
    await page.goto('/techdocs.html');
    await expect(page.locator('#docs li')).toHaveCount(2);
  });

  test('search finds a document', async ({ page }) => {
    await page.goto('/techdocs.html');
    await page.getByLabel('Search docs').fill('kargo');
    await expect(page.locator('#docs li:visible')).toHaveText(['Deploying with Kargo']);
  });

  test('search says when nothing matches', async ({ page }) => {
    await page.goto('/techdocs.html');
    await page.getByLabel('Search docs').fill('zzz');
    await expect(page.getByText('No documents match.')).toBeVisible();
  });

  test('document has a working table of contents', async ({ page }) => {
    await page.goto('/docs/deploying.html');
    await page.getByRole('navigation', { name: 'Table of contents' }).getByRole('link', { name: 'Verify' }).click();
    await expect(page).toHaveURL(/#verify$/);
  });
});
