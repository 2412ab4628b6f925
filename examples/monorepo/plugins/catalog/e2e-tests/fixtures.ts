import { test as base } from '@example/e2e-testing';
import { CatalogPage } from '@e2e/pages/CatalogPage';

export { expect } from '@example/e2e-testing';

/** `catalogPage`: the catalog, already open. */
export const test = base.extend<{ catalogPage: CatalogPage }>({
  catalogPage: async ({ page }, use) => {
    const catalog = new CatalogPage(page);
    await catalog.goto();
    await use(catalog);
  },
});
