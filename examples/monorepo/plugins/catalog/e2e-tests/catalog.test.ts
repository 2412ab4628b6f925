import { expect, test } from './fixtures';

test.describe('catalog', () => {
  test('lists the entities', async ({ catalogPage }) => {
    await expect(catalogPage.heading).toHaveText('My Company Catalog');
    await expect(catalogPage.rows).toHaveCount(3);
  });

  test('filters by name', async ({ catalogPage }) => {
    await catalogPage.filterBy('pay');
    await expect(catalogPage.rows).toHaveCount(1);
    await expect(catalogPage.rows.first()).toContainText('payments');
  });

  test('shows the logo', async ({ catalogPage }) => {
    await expect(catalogPage.logo).toHaveScreenshot('logo.png');
  });
});
