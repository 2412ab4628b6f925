import type { Locator, Page } from '@playwright/test';

/** The catalog page, as the tests see it. */
export class CatalogPage {
  readonly heading: Locator;
  readonly logo: Locator;
  readonly filter: Locator;
  readonly rows: Locator;

  constructor(readonly page: Page) {
    this.heading = page.getByRole('heading', { level: 1 });
    this.logo = page.getByTestId('logo');
    this.filter = page.getByLabel('Filter');
    this.rows = page.locator('#entities tr:not([hidden])');
  }

  async goto(): Promise<void> {
    await this.page.goto('/catalog.html');
  }

  async filterBy(text: string): Promise<void> {
    await this.filter.fill(text);
  }
}
